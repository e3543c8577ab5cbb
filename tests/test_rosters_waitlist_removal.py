"""The roster's "Remove from waitlist" takes an organization off that session's waitlist alone:
it keeps its places on its other dates, and only its last date's removal ends its signup."""

from datetime import UTC, datetime, timedelta

import pytest
from conftest import page_text, signup_form
from sqlalchemy import select

from training.audit.models import AuditEvent
from training.booking.models import Signup, TrainingSession
from training.extensions import db
from training.mail.models import OutboxMessage

pytestmark = pytest.mark.clock

MONDAY_MORNING = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def monday_morning(time_machine):
    time_machine.move_to(MONDAY_MORNING, tick=False)


@pytest.fixture
def omega(app, client, make_session) -> tuple[int, int, int]:
    """Omega Org waiting for two full dates (Dec 2, then Dec 4): its id and the two dates."""
    dec_2 = make_session(starts_in=timedelta(days=2), seats=0)
    dec_4 = make_session(starts_in=timedelta(days=4), seats=0)
    response = client.post(
        "/signup",
        data=signup_form(
            dec_2,
            second_choice=dec_4,
            organization_name="Omega Org",
            contact_email="oz@omega.example.org",
            attendee_emails="",
        ),
    )
    assert response.status_code == 303
    with app.app_context():
        signup_id = db.session.scalar(select(Signup.id))
    return signup_id, dec_2, dec_4


def whens(app, *session_ids) -> list[str]:
    with app.app_context():
        return [db.session.get(TrainingSession, id_).when for id_ in session_ids]


def remove(client, session_id: int, signup_id: int):
    return client.post(
        f"/staff/sessions/{session_id}/signups/{signup_id}/cancel?place=waiting",
        data={"reason": "They asked by phone"},
    )


def test_remove_from_waitlist_takes_the_organization_off_that_session_only(
    app, client, sign_in_as, omega
):
    signup_id, dec_2, dec_4 = omega
    dec_2_when, dec_4_when = whens(app, dec_2, dec_4)
    sign_in_as("staff")
    roster = page_text(client.get(f"/staff/sessions/{dec_2}"))
    assert (
        "Only this session's waitlist place: it stays on the waitlist for its other dates."
    ) in roster

    response = remove(client, dec_2, signup_id)
    assert response.status_code == 303
    text = page_text(client.get(response.headers["Location"]))
    assert (
        f"Took Omega Org off the waitlist for {dec_2_when}; it stays on the waitlist for "
        f"{dec_4_when}. They have been emailed."
    ) in text
    assert "Waitlist (0)" in text
    assert "Waitlist (1)" in page_text(client.get(f"/staff/sessions/{dec_4}"))

    with app.app_context():
        signup = db.session.get(Signup, signup_id)
        assert signup.status == "waitlisted"
        assert [(c.rank, c.session_id) for c in signup.choices] == [(1, dec_4)]
        kinds = db.session.scalars(
            select(OutboxMessage.kind).where(OutboxMessage.signup_id == signup_id)
        ).all()
        assert "cancelled" not in kinds
        [email] = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "waitlist_date_left")
        ).all()
        assert email.subject == (
            f"Waitlist update: you are off the waitlist for {dec_2_when} (Omega Org)"
        )
        body = " ".join(email.text_body.split())
        assert f"took Omega Org off the waitlist for {dec_2_when}" in body
        assert f"{dec_4_when}: number 1 in line" in body
        [event] = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "signup.waitlist_left")
        ).all()
        assert event.session_id == dec_2
        assert event.details["reason"] == "They asked by phone"
        assert event.details["still_waiting_for"] == [dec_4_when]
        assert not db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "signup.cancelled")
        )


def test_remove_from_waitlist_on_its_only_date_cancels_the_signup_and_says_so(
    app, client, sign_in_as, omega
):
    signup_id, dec_2, dec_4 = omega
    [dec_4_when] = whens(app, dec_4)
    sign_in_as("staff")
    remove(client, dec_2, signup_id)
    roster = page_text(client.get(f"/staff/sessions/{dec_4}"))
    assert "Its only date: this cancels its signup." in roster

    response = remove(client, dec_4, signup_id)
    text = page_text(client.get(response.headers["Location"]))
    assert (
        f"Cancelled Omega Org's signup: {dec_4_when} was its only date to wait for. They have "
        "been emailed."
    ) in text
    with app.app_context():
        assert db.session.get(Signup, signup_id).status == "cancelled"
        cancelled = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "signup.cancelled")
        )
        assert cancelled.session_id == dec_4
        assert cancelled.details["session"] == f"#{dec_4}, {dec_4_when}"
        # Its email says staff took it off its only date, and that the signup is cancelled.
        told = db.session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.kind == "cancelled", OutboxMessage.signup_id == signup_id
            )
        ).one()
    assert told.subject == f"Cancelled: your place on the waitlist for {dec_4_when} (Omega Org)"
    assert (
        f"The training staff took Omega Org off the waitlist for {dec_4_when}, the only date it "
        "was still waiting for, so its signup for the"
    ) in " ".join(told.text_body.split())
    assert "has left the waitlist" not in told.text_body
    assert told.text_body.count("eply to this email") == 1


def test_removing_one_date_keeps_the_others_in_the_order_the_organization_gave(
    app, client, make_session, sign_in_as
):
    # Ranked out of date order: Dec 6 first, then Dec 2, then Dec 4.
    dec_2 = make_session(starts_in=timedelta(days=2), seats=0)
    dec_4 = make_session(starts_in=timedelta(days=4), seats=0)
    dec_6 = make_session(starts_in=timedelta(days=6), seats=0)
    response = client.post(
        "/signup",
        data=signup_form(
            dec_6, second_choice=dec_2, third_choice=dec_4, organization_name="Omega Org"
        ),
    )
    token = response.headers["Location"].split("/")[2]
    sign_in_as("staff")

    with app.app_context():
        signup_id = db.session.scalar(select(Signup.id))
    assert remove(client, dec_2, signup_id).status_code == 303

    with app.app_context():
        signup = db.session.scalars(select(Signup)).one()
        assert [(c.rank, c.session_id) for c in signup.choices] == [(1, dec_6), (2, dec_4)]
    dec_4_when, dec_6_when = whens(app, dec_4, dec_6)
    text = page_text(client.get(f"/manage/{token}"))
    assert text.index(dec_6_when) < text.index(dec_4_when)


def test_notes_saved_on_a_roster_name_its_session_in_the_audit_log(app, client, sign_in_as, omega):
    signup_id, dec_2, _dec_4 = omega
    [dec_2_when] = whens(app, dec_2)
    sign_in_as("staff")

    client.post(
        f"/staff/sessions/{dec_2}/signups/{signup_id}/notes",
        data={"staff_notes": "Prefers mornings"},
    )

    with app.app_context():
        [event] = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "signup.notes_updated")
        ).all()
        assert (event.session_id, event.details["session"]) == (dec_2, f"#{dec_2}, {dec_2_when}")


def test_a_signup_staff_add_to_a_rosters_waitlist_names_that_session_in_the_audit_log(
    app, client, sign_in_as, omega
):
    _signup_id, dec_2, _dec_4 = omega
    sign_in_as("staff")

    response = client.post(
        f"/staff/sessions/{dec_2}/signups/new",
        data={
            **signup_form(dec_2, organization_name="Phoned Clinic", attendee_emails=""),
            "join_waitlist": "y",
        },
    )
    assert response.status_code == 303, page_text(response)

    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "signup.created",
                AuditEvent.organization_name == "Phoned Clinic",
            )
        ).one()
        assert event.details["status"] == "waitlisted"
        assert event.session_id == dec_2
