"""Staff scheduling: change a session's details, lower its seats, cancel it."""

from datetime import timedelta

import pytest
from conftest import manage_token, signup_form
from sqlalchemy import select

from training.audit.models import AuditEvent
from training.booking.models import Signup, TrainingSession
from training.extensions import db, utcnow
from training.mail.models import OutboxMessage
from training.rosters import services
from training.staff.services import create_staff

pytestmark = pytest.mark.clock


@pytest.fixture
def staff_id(app):
    with app.app_context():
        member = create_staff("pat@cmadocs.example.org", "correct horse battery", "staff")
        db.session.commit()
        return member.id


def details_of(session: TrainingSession, **changes) -> services.SessionDetails:
    values = {
        "starts_at": session.starts_at,
        "ends_at": session.ends_at,
        "seats": session.seats,
        "meeting_url": session.meeting_url,
        "dial_in": session.dial_in,
        "passcode": session.passcode,
    }
    values.update(changes)
    return services.SessionDetails(**values)


def staff_change(app, staff_id, session_id, **changes):
    with app.app_context():
        from training.staff.models import StaffMember

        session = db.session.get(TrainingSession, session_id)
        actor = db.session.get(StaffMember, staff_id)
        result = services.update_session(
            session, details_of(session, **changes), now=utcnow(), actor=actor
        )
        db.session.commit()
        return result


def outbox(app) -> list[tuple[str, str | None]]:
    with app.app_context():
        return [
            (message.kind, message.calendar_method)
            for message in db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        ]


def test_a_new_meeting_link_sends_everyone_booked_an_updated_invite(
    app, client, make_session, staff_id
):
    session_id = make_session()
    for name in ("North Clinic", "South Clinic"):
        client.post("/signup", data=signup_form(session_id, organization_name=name))
    told = staff_change(app, staff_id, session_id, meeting_url="https://meet.example.org/abc")
    assert told == 2
    assert outbox(app)[-2:] == [("session_changed", "REQUEST"), ("session_changed", "REQUEST")]
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "session.updated")
        ).one()
        assert event.actor == "pat@cmadocs.example.org"
        assert event.details["changes"]["meeting_url"] == [None, "https://meet.example.org/abc"]


def test_changing_only_the_seats_sends_no_invite(app, make_session, staff_id):
    session_id = make_session()
    assert staff_change(app, staff_id, session_id, seats=10) == 0
    assert outbox(app) == []


def test_a_change_of_seats_is_audited_with_the_number_before(app, make_session, staff_id):
    session_id = make_session(seats=8)
    staff_change(app, staff_id, session_id, seats=10)
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "session.updated")
        ).one()
        assert event.details["changes"] == {"seats": [8, 10]}


def test_seats_cannot_go_below_the_number_booked(app, client, make_session, staff_id):
    session_id = make_session(seats=3)
    for name in ("North Clinic", "South Clinic"):
        client.post("/signup", data=signup_form(session_id, organization_name=name))
    with pytest.raises(services.SeatsBelowBooked, match="2 organizations are booked"):
        staff_change(app, staff_id, session_id, seats=1)
    staff_change(app, staff_id, session_id, seats=2)
    with app.app_context():
        assert db.session.get(TrainingSession, session_id).seats == 2


def test_more_seats_go_to_the_waitlist_at_once(app, client, make_session, staff_id):
    session_id = make_session(seats=1)
    client.post("/signup", data=signup_form(session_id, organization_name="North Clinic"))
    client.post("/signup", data=signup_form(session_id, organization_name="South Clinic"))
    staff_change(app, staff_id, session_id, seats=2)
    with app.app_context():
        statuses = {s.organization_name: s.status for s in db.session.scalars(select(Signup))}
    assert statuses == {"North Clinic": "confirmed", "South Clinic": "confirmed"}


def test_cancelling_a_session_cancels_invites_and_books_alternates_with_seats(
    app, client, make_session, staff_id
):
    doomed = make_session()
    alternate = make_session(starts_in=timedelta(days=6))
    with_alternate = manage_token(
        client.post(
            "/signup",
            data=signup_form(doomed, organization_name="North Clinic", second_choice=alternate),
        )
    )
    client.post("/signup", data=signup_form(doomed, organization_name="South Clinic"))
    with app.app_context():
        from training.staff.models import StaffMember

        told = services.cancel_session(
            db.session.get(TrainingSession, doomed),
            "The facilitator is ill.",
            now=utcnow(),
            actor=db.session.get(StaffMember, staff_id),
        )
        db.session.commit()
    assert told == 2
    with app.app_context():
        signups = {s.organization_name: s for s in db.session.scalars(select(Signup))}
        assert (signups["North Clinic"].status, signups["North Clinic"].session_id) == (
            "confirmed",
            alternate,
        )
        assert (signups["South Clinic"].status, signups["South Clinic"].session_id) == (
            "waitlisted",
            None,
        )
        assert db.session.get(TrainingSession, doomed).seats_booked == 0
        cancel_email = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "session_cancelled")
        ).first()
        assert "Why: The facilitator is ill." in cancel_email.text_body
        assert "/manage/" in cancel_email.text_body
    kinds = outbox(app)
    assert kinds.count(("session_cancelled", "CANCEL")) == 2
    assert kinds[-1] == ("booking_confirmed", "REQUEST")  # North Clinic, on its alternate
    assert "Change your date" in client.get(f"/manage/{with_alternate}").get_data(as_text=True)


def test_cancelling_needs_a_reason(app, make_session, staff_id):
    session_id = make_session()
    with app.app_context(), pytest.raises(services.BookingError, match="Say why"):
        services.cancel_session(
            db.session.get(TrainingSession, session_id), "  ", now=utcnow(), actor=None
        )
