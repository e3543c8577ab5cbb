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


def staff_change(app, staff_id, session_id, *, inside_cutoff_confirmed=False, **changes):
    with app.app_context():
        from training.staff.models import StaffMember

        session = db.session.get(TrainingSession, session_id)
        actor = db.session.get(StaffMember, staff_id)
        result = services.update_session(
            session,
            details_of(session, **changes),
            now=utcnow(),
            actor=actor,
            inside_cutoff_confirmed=inside_cutoff_confirmed,
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
    assert told.booked == 2
    assert outbox(app)[-2:] == [("session_changed", "REQUEST"), ("session_changed", "REQUEST")]
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "session.updated")
        ).one()
        assert event.actor == "pat@cmadocs.example.org"
        assert event.details["changes"]["meeting_url"] == [None, "https://meet.example.org/abc"]


def test_changing_only_the_seats_sends_no_invite(app, make_session, staff_id):
    session_id = make_session()
    assert staff_change(app, staff_id, session_id, seats=10).booked == 0
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
    assert staff_change(app, staff_id, session_id, seats=2).promoted == 1
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
    assert told.booked == 2
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
    # North Clinic, on its alternate; the cancellation emails follow, saying where each stands.
    assert kinds[-3:] == [("booking_confirmed", "REQUEST"), *[("session_cancelled", "CANCEL")] * 2]
    assert "Change your date" in client.get(f"/manage/{with_alternate}").get_data(as_text=True)


def test_cancelling_needs_a_reason(app, make_session, staff_id):
    session_id = make_session()
    with app.app_context(), pytest.raises(services.BookingError, match="Say why"):
        services.cancel_session(
            db.session.get(TrainingSession, session_id), "  ", now=utcnow(), actor=None
        )


def moved_to(session_id, app, starts_in: timedelta) -> dict:
    """The ``staff_change`` columns that move the session to ``starts_in`` from now."""
    starts_at = utcnow().replace(second=0, microsecond=0) + starts_in
    return {"starts_at": starts_at, "ends_at": starts_at + timedelta(minutes=90)}


def statuses(app) -> dict[str, tuple[str, int | None]]:
    with app.app_context():
        return {
            signup.organization_name: (signup.status, signup.session_id)
            for signup in db.session.scalars(select(Signup))
        }


def test_organizations_waiting_for_a_moved_session_are_emailed_its_new_time(
    app, client, make_session, staff_id
):
    session_id = make_session(seats=1)
    client.post("/signup", data=signup_form(session_id, organization_name="North Clinic"))
    client.post("/signup", data=signup_form(session_id, organization_name="South Clinic"))

    told = staff_change(app, staff_id, session_id, **moved_to(session_id, app, timedelta(days=5)))

    assert (told.booked, told.waiting) == (1, 1)
    with app.app_context():
        session = db.session.get(TrainingSession, session_id)
        email = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "waitlist_session_moved")
        ).one()
        assert "South Clinic" in email.subject
        assert f"Now: {session.when}" in email.text_body
        assert "number 1 in line" in email.text_body
        assert "leave the waitlist" in email.text_body
        assert "/manage/" in email.text_body
        # Its footer offers what a waitlist place can do, not a change of a booked date.
        assert "choose other dates, or leave the waitlist:" in email.text_body
        assert "Change your date" not in email.text_body
        assert "Choose other dates or leave the waitlist</a>" in email.html_body


def test_an_organization_booked_by_a_move_with_more_seats_is_not_told_it_waits(
    app, client, make_session, staff_id
):
    session_id = make_session(seats=1)
    for name in ("North Clinic", "South Clinic", "West Clinic"):
        client.post("/signup", data=signup_form(session_id, organization_name=name))

    told = staff_change(
        app, staff_id, session_id, seats=2, **moved_to(session_id, app, timedelta(days=5))
    )

    assert (told.booked, told.waiting, told.promoted) == (1, 1, 1)
    with app.app_context():
        moved = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "waitlist_session_moved")
        ).one()
        assert "West Clinic" in moved.subject
        assert "number 1 in line" in moved.text_body  # South Clinic, ahead of it, was booked
        [promoted] = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.subject.startswith("A seat opened up"))
        ).all()
        assert "South Clinic" in promoted.subject


def test_a_seat_freed_inside_the_change_cutoff_is_not_given_to_the_waitlist(
    app, client, make_session, staff_id, time_machine
):
    session_id = make_session(seats=1, starts_in=timedelta(hours=23))
    # Both signed up the day before, when the session was still outside the cutoff (a full
    # date inside it has no waitlist to join).
    time_machine.move_to(utcnow() - timedelta(hours=6), tick=False)
    holder = manage_token(
        client.post("/signup", data=signup_form(session_id, organization_name="North Clinic"))
    )
    client.post("/signup", data=signup_form(session_id, organization_name="South Clinic"))
    time_machine.move_to(utcnow() + timedelta(hours=6), tick=False)
    assert statuses(app)["South Clinic"] == ("waitlisted", None)

    client.post(f"/manage/{holder}/cancel", data={"confirm": "y"})
    staff_change(app, staff_id, session_id, seats=3)

    assert statuses(app)["South Clinic"] == ("waitlisted", None)
    with app.app_context():
        assert db.session.get(TrainingSession, session_id).seats_booked == 0
        subjects = db.session.scalars(select(OutboxMessage.subject)).all()
    assert not any(subject.startswith("A seat opened up") for subject in subjects)


def test_a_session_moved_inside_the_change_cutoff_books_no_one_from_its_waitlist(
    app, client, make_session, staff_id
):
    session_id = make_session(seats=1)
    client.post("/signup", data=signup_form(session_id, organization_name="North Clinic"))
    client.post("/signup", data=signup_form(session_id, organization_name="South Clinic"))

    staff_change(
        app,
        staff_id,
        session_id,
        seats=2,
        inside_cutoff_confirmed=True,
        **moved_to(session_id, app, timedelta(hours=23)),
    )

    assert statuses(app)["South Clinic"] == ("waitlisted", None)
    with app.app_context():
        email = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "waitlist_session_moved")
        ).one()
    assert "no seat will come from its waitlist automatically" in email.text_body
    # Nothing to leave: it is told where it stands, not to "leave the waitlist".
    assert "leave the waitlist" not in email.text_body.split("Questions?")[0]
    assert "Your manage link below shows where you stand now" in email.text_body


def test_cancelling_a_session_books_no_one_on_an_alternate_inside_the_change_cutoff(
    app, client, make_session, staff_id
):
    doomed = make_session()
    soon = make_session(starts_in=timedelta(hours=20))
    client.post(
        "/signup",
        data=signup_form(doomed, organization_name="North Clinic", second_choice=soon),
    )
    with app.app_context():
        from training.staff.models import StaffMember

        services.cancel_session(
            db.session.get(TrainingSession, doomed),
            "The facilitator is ill.",
            now=utcnow(),
            actor=db.session.get(StaffMember, staff_id),
        )
        db.session.commit()
        soon_when = db.session.get(TrainingSession, soon).when
        email = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "session_cancelled")
        ).one()

    assert statuses(app)["North Clinic"] == ("waitlisted", None)
    assert f"{soon_when} starts within 24 hours, so we do not book you on it" in email.text_body


def session_update_bodies(app) -> list[str]:
    with app.app_context():
        return db.session.scalars(
            select(OutboxMessage.text_body).where(OutboxMessage.kind == "session_changed")
        ).all()


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda app, sid: moved_to(sid, app, timedelta(hours=20)), id="moved"),
        pytest.param(lambda app, sid: {"meeting_url": "https://meet.example.org/x"}, id="link"),
    ],
)
def test_a_session_update_inside_the_cutoff_offers_only_seeing_or_cancelling(
    app, client, make_session, staff_id, change
):
    starts_in = timedelta(days=3) if change(app, 0).get("starts_at") else timedelta(hours=20)
    session_id = make_session(starts_in=starts_in)
    client.post("/signup", data=signup_form(session_id))

    staff_change(app, staff_id, session_id, inside_cutoff_confirmed=True, **change(app, session_id))

    [body] = session_update_bodies(app)
    assert "Change your date" not in body
    assert "can no longer be changed here" in " ".join(body.split())
