"""The staff calendar feed: a secret, rotatable iCalendar address of every session."""

import re
from datetime import timedelta

import pytest
from conftest import PASSWORD, page_text
from icalendar import Calendar
from sqlalchemy import select

from training.audit.models import AuditEvent
from training.booking.models import TrainingSession
from training.extensions import db, utcnow
from training.rosters.models import CalendarFeed
from training.rosters.services import SessionDetails, cancel_session, update_session
from training.staff.services import create_staff

FEED_URL = re.compile(r"https://training\.example\.org(/feeds/sessions/[\w\-]+\.ics)")


def create_feed(client) -> str:
    """Ask for a new feed address and return its path, as shown once on the page."""
    response = client.post("/staff/calendar-feed")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    match = FEED_URL.search(page_text(response))
    assert match, page_text(response)
    return match.group(1)


def test_the_feed_lists_every_session_with_status_facilitators_and_link(
    app, staff_client, make_program, make_session
):
    booked = make_session(meeting_url="https://meet.example.org/abc", dial_in="+1 555 0100")
    cancelled = make_session(starts_in=timedelta(days=6))
    other_program_session = make_session(program_id=make_program(name="Second Program"))
    with app.app_context():
        robin = create_staff("robin@cmadocs.example.org", PASSWORD, "facilitator", name="Robin")
        robin.sessions.append(db.session.get(TrainingSession, booked))
        cancel_session(
            db.session.get(TrainingSession, cancelled), "Facilitator ill", now=utcnow(), actor=None
        )
        db.session.commit()
        starts_at = db.session.get(TrainingSession, booked).starts_at
    path = create_feed(staff_client)

    response = app.test_client().get(path)  # calendar apps do not sign in
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    calendar = Calendar.from_ical(response.get_data())
    assert calendar["METHOD"] == "PUBLISH"
    events = {str(event["UID"]): event for event in calendar.walk("VEVENT")}
    assert set(events) == {
        f"session-{session_id}@training-desk.localhost"
        for session_id in (booked, cancelled, other_program_session)
    }
    event = events[f"session-{booked}@training-desk.localhost"]
    assert event["STATUS"] == "CONFIRMED"
    assert event.decoded("DTSTART") == starts_at
    assert str(event["LOCATION"]) == "https://meet.example.org/abc"
    # The URL is the roster, whether or not a meeting link is set (that is the LOCATION).
    assert str(event["URL"]) == f"https://training.example.org/staff/sessions/{booked}"
    description = str(event["DESCRIPTION"])
    assert "Facilitators: Robin" in description
    assert "Dial-in: +1 555 0100" in description
    assert f"Roster: https://training.example.org/staff/sessions/{booked}" in description
    gone = events[f"session-{cancelled}@training-desk.localhost"]
    assert str(gone["URL"]) == f"https://training.example.org/staff/sessions/{cancelled}"
    assert gone["STATUS"] == "CANCELLED"
    assert str(gone["SUMMARY"]).startswith("Cancelled: ")
    assert "CANCELLED: Facilitator ill" in str(gone["DESCRIPTION"])
    assert "Second Program" in str(
        events[f"session-{other_program_session}@training-desk.localhost"]["SUMMARY"]
    )


def test_rotating_the_feed_makes_the_old_address_not_found(app, staff_client, make_session):
    make_session()
    old = create_feed(staff_client)
    new = create_feed(staff_client)
    assert old != new
    visitor = app.test_client()
    assert visitor.get(old).status_code == 404
    assert visitor.get(new).status_code == 200
    with app.app_context():
        stored = db.session.scalars(select(CalendarFeed.token_hash)).all()
    token = new.removeprefix("/feeds/sessions/").removesuffix(".ics")
    assert len(stored) == 1
    assert token not in stored[0]


def test_the_address_is_shown_only_when_created(staff_client):
    first = page_text(staff_client.get("/staff/calendar-feed"))
    assert "There is no feed address yet." in first
    path = create_feed(staff_client)
    later = page_text(staff_client.get("/staff/calendar-feed"))
    assert path not in later
    assert "The current address was created" in later
    assert "by pat@cmadocs.example.org" in later


@pytest.mark.parametrize("token", ["nope", "x" * 200])
def test_an_unknown_feed_address_is_not_found(client, token):
    assert client.get(f"/feeds/sessions/{token}.ics").status_code == 404


def test_rotating_is_recorded_in_the_audit_log(app, staff_client):
    create_feed(staff_client)
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "calendar_feed.rotated")
        ).one()
        assert event.actor == "pat@cmadocs.example.org"


def feed_event(app, path: str, session_id: int):
    calendar = Calendar.from_ical(app.test_client().get(path).get_data())
    [event] = [
        e for e in calendar.walk("VEVENT") if str(e["UID"]).startswith(f"session-{session_id}@")
    ]
    return event


def test_the_feed_raises_a_sessions_sequence_with_each_change_a_calendar_shows(
    app, staff_client, make_session
):
    session_id = make_session(seats=1, meeting_url="https://meet.example.org/abc")
    path = create_feed(staff_client)
    assert feed_event(app, path, session_id)["SEQUENCE"] == 0
    assert "Booked: 0 of 1 seat\n" in str(feed_event(app, path, session_id)["DESCRIPTION"])

    def change(**fields) -> None:
        with app.app_context():
            session = db.session.get(TrainingSession, session_id)
            details = {
                "starts_at": session.starts_at,
                "ends_at": session.ends_at,
                "seats": session.seats,
                "meeting_url": session.meeting_url,
            }
            update_session(session, SessionDetails(**details | fields), now=utcnow(), actor=None)
            db.session.commit()

    change(seats=3)  # seats are no part of the event's time or joining details
    assert feed_event(app, path, session_id)["SEQUENCE"] == 0
    change(meeting_url="https://meet.example.org/new")
    assert feed_event(app, path, session_id)["SEQUENCE"] == 1
    with app.app_context():
        session = db.session.get(TrainingSession, session_id)
        later = (session.starts_at + timedelta(hours=1), session.ends_at + timedelta(hours=1))
    change(starts_at=later[0], ends_at=later[1])
    assert feed_event(app, path, session_id)["SEQUENCE"] == 2
    with app.app_context():
        cancel_session(db.session.get(TrainingSession, session_id), "Ill", now=utcnow(), actor=None)
        db.session.commit()
    event = feed_event(app, path, session_id)
    assert event["SEQUENCE"] == 3 and event["STATUS"] == "CANCELLED"
