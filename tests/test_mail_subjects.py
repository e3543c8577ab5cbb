"""Every booking email's subject names the organization, the same way, so a contact with
several bookings can tell them apart."""

from datetime import timedelta

import pytest
from conftest import manage_token, signup_form
from sqlalchemy import select

from training.booking.models import Signup, TrainingSession
from training.booking.notices import send_reminders, subject_for
from training.booking.services import resend_manage_link
from training.extensions import db, utcnow
from training.mail.models import OutboxMessage
from training.rosters import services as rosters
from training.staff.services import create_staff

pytestmark = pytest.mark.clock


def test_every_booking_email_subject_ends_with_the_organization_in_brackets(
    app, client, make_session
):
    session_id = make_session(seats=1)
    other_id = make_session(starts_in=timedelta(days=6))
    booked = manage_token(
        client.post("/signup", data=signup_form(session_id, organization_name="North Clinic"))
    )
    waiting = manage_token(
        client.post("/signup", data=signup_form(session_id, organization_name="South Clinic"))
    )
    client.post(f"/manage/{booked}/date", data={"session_id": other_id})  # South gets the seat
    with app.app_context():
        actor = create_staff("pat@cmadocs.example.org", "correct horse battery", "staff")
        session = db.session.get(TrainingSession, other_id)
        rosters.update_session(
            session,
            rosters.SessionDetails(
                starts_at=session.starts_at,
                ends_at=session.ends_at,
                seats=session.seats,
                meeting_url="https://meet.example.org/x",
            ),
            now=utcnow(),
            actor=actor,
        )
        send_reminders(session.starts_at - timedelta(hours=1))
        north = db.session.scalars(select(Signup).where(Signup.organization_name == "North Clinic"))
        resend_manage_link(north.one(), now=utcnow())
        db.session.commit()
    client.post(f"/manage/{booked}/cancel", data={"confirm": "y"})
    client.post(f"/manage/{waiting}/cancel", data={"confirm": "y"})
    full_id = make_session(seats=0, starts_in=timedelta(days=8))
    late = manage_token(
        client.post("/signup", data=signup_form(full_id, organization_name="Wait Only Ten"))
    )
    client.post(f"/manage/{late}/cancel", data={"confirm": "y"})

    with app.app_context():
        emails = db.session.execute(
            select(OutboxMessage.kind, OutboxMessage.subject, OutboxMessage.signup_id)
        ).all()
        names = {
            signup.id: signup.organization_name for signup in db.session.scalars(select(Signup))
        }

    kinds = {kind for kind, _subject, _signup in emails}
    assert {
        "booking_confirmed",
        "waitlisted",
        "date_released",
        "manage_link",
        "session_changed",
        "reminder",
        "cancelled",
    } <= kinds
    for kind, subject, signup_id in emails:
        assert subject.endswith(f" ({names[signup_id]})"), (kind, subject)
    subjects = [subject for _kind, subject, _signup in emails]
    assert "Cancelled: your place on the waitlist (Wait Only Ten)" in subjects


def test_a_subject_already_ending_with_the_organization_names_it_once():
    signup = Signup(organization_name="Coastal Health Partners")

    assert (
        subject_for(signup, "Your session details (Coastal Health Partners)")
        == "Your session details (Coastal Health Partners)"
    )
    assert (
        subject_for(signup, "Your session details")
        == "Your session details (Coastal Health Partners)"
    )
