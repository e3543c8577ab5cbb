"""Reminders before each session: on time, once, and never to cancelled bookings."""

from datetime import timedelta

import pytest
from conftest import manage_token, signup_form
from sqlalchemy import select

from training.booking.models import Signup, TrainingSession
from training.booking.notices import send_reminders
from training.extensions import db
from training.mail.models import OutboxMessage, Reminder

pytestmark = pytest.mark.clock


def reminders(app) -> list[OutboxMessage]:
    with app.app_context():
        rows = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "reminder").order_by(OutboxMessage.id)
        ).all()
        db.session.expunge_all()
        return rows


def remind_at(app, session_id, before: timedelta) -> int:
    with app.app_context():
        starts_at = db.session.get(TrainingSession, session_id).starts_at
        queued = send_reminders(starts_at - before)
        db.session.commit()
        return queued


def test_reminders_go_out_two_days_and_two_hours_before_and_only_once(app, client, make_session):
    session_id = make_session(starts_in=timedelta(days=5), meeting_url="https://meet.example.org/x")
    client.post("/signup", data=signup_form(session_id))

    assert remind_at(app, session_id, timedelta(days=3)) == 0
    assert remind_at(app, session_id, timedelta(hours=47)) == 1
    assert remind_at(app, session_id, timedelta(hours=46)) == 0
    assert remind_at(app, session_id, timedelta(hours=1, minutes=59)) == 1
    assert remind_at(app, session_id, timedelta(minutes=30)) == 0

    first, second = reminders(app)
    assert first.subject.startswith("Reminder: your training session")
    assert "in 2 days" in first.text_body
    assert "in 2 hours" in second.text_body
    assert "https://meet.example.org/x" in second.html_body
    assert "test the meeting link" in second.text_body
    assert len(first.recipients) == 3
    assert first.calendar is None


def test_cancelled_bookings_get_no_reminder(app, client, make_session):
    session_id = make_session(starts_in=timedelta(days=5))
    token = manage_token(client.post("/signup", data=signup_form(session_id)))
    client.post(f"/manage/{token}/cancel", data={"confirm": "y"})

    assert remind_at(app, session_id, timedelta(hours=47)) == 0
    assert reminders(app) == []


def test_a_late_booking_gets_only_the_nearest_reminder(app, client, make_session):
    session_id = make_session(starts_in=timedelta(days=5))
    client.post("/signup", data=signup_form(session_id))

    # The worker was down for two days: both reminders are due, only the nearest goes out.
    assert remind_at(app, session_id, timedelta(hours=1)) == 1
    assert remind_at(app, session_id, timedelta(minutes=10)) == 0
    [reminder] = reminders(app)
    assert "in 60 minutes" in reminder.text_body
    with app.app_context():
        assert sorted(db.session.scalars(select(Reminder.minutes_before))) == [120, 2880]


def test_a_booking_made_inside_the_window_is_not_reminded_at_once(app, client, make_session):
    session_id = make_session(starts_in=timedelta(hours=30))
    client.post("/signup", data=signup_form(session_id))

    assert remind_at(app, session_id, timedelta(hours=29)) == 0
    assert remind_at(app, session_id, timedelta(hours=2)) == 1


def test_reminder_hours_are_configurable(app, client, runner, make_session):
    app.config["MAIL_REMINDER_HOURS"] = [24]
    session_id = make_session(starts_in=timedelta(hours=23))
    with app.app_context():
        # Booked well before the reminder window opened.
        client.post("/signup", data=signup_form(session_id))
        signup = db.session.scalars(select(Signup)).one()
        signup.confirmed_at -= timedelta(days=2)
        db.session.commit()

    result = runner.invoke(args=["mail", "remind"])

    assert result.exit_code == 0, result.output
    assert "Queued 1 reminder." in result.output
    assert runner.invoke(args=["mail", "remind"]).output == "Queued 0 reminders.\n"


def test_the_two_hour_reminder_offers_only_seeing_or_cancelling_the_booking(
    app, client, make_session
):
    session_id = make_session(starts_in=timedelta(days=5), meeting_url="https://meet.example.org/x")
    client.post("/signup", data=signup_form(session_id))

    remind_at(app, session_id, timedelta(hours=47))
    remind_at(app, session_id, timedelta(hours=1, minutes=59))

    two_days, two_hours = reminders(app)
    assert "Change your date, update who is attending, or cancel:" in two_days.text_body
    assert "Change your date" not in two_hours.text_body
    assert "can no longer be changed here" in " ".join(two_hours.text_body.split())
    assert "See or cancel your booking" in two_hours.html_body
    assert "Change, update or cancel your booking" not in two_hours.html_body


def test_a_reminder_for_a_session_with_no_meeting_link_says_it_is_not_set_yet(
    app, client, make_session
):
    session_id = make_session(starts_in=timedelta(days=5))
    client.post("/signup", data=signup_form(session_id))

    remind_at(app, session_id, timedelta(hours=1, minutes=59))

    [reminder] = reminders(app)
    plain = " ".join(reminder.text_body.split())
    assert "Meeting link: not set yet. Watch your email for it" in plain
    assert "write to staff@training.example.org" in plain
    assert "we will email it before the session" not in plain
    assert "test the meeting link" not in plain
    assert "not set yet" in reminder.html_body
