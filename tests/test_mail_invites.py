"""Invites as calendars read them: vobject, ical and a Radicale CalDAV server, not our code."""

import base64
import http.client
import re
import tempfile
import threading
from datetime import timedelta
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import vobject
from conftest import manage_token, signup_form
from ical.calendar_stream import IcsCalendarStream
from mail_support import invite_bytes
from sqlalchemy import func, select

from training.booking import services
from training.booking.models import Signup, TrainingSession
from training.booking.notices import send_session_update
from training.extensions import db, utcnow
from training.mail.delivery import deliver_due
from training.mail.models import OutboxMessage
from training.rosters.services import cancel_session

HOSTILE_NAME = (
    'Clínica "Ñandú"; Smith, Jones & Co.\r\nBcc: victim@example.org\r\nX-Evil: 1 🎉 مستشفى الأمل'
)


class Radicale:
    """A Radicale CalDAV server on loopback with one calendar, for PUT and GET."""

    def __init__(self, folder: str):
        from radicale import Application, config

        configuration = config.load()
        configuration.update(
            {
                "storage": {"filesystem_folder": folder},
                "auth": {"type": "none"},
                "rights": {"type": "owner_only"},
                "logging": {"level": "error"},
            },
            "test",
            privileged=True,
        )
        self.server = make_server(
            "127.0.0.1", 0, Application(configuration), handler_class=_QuietHandler
        )
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        assert self.request("MKCALENDAR", "/trainer/training/")[0] == 201

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.server.server_port, timeout=10)
        try:
            connection.request(
                method,
                path,
                body=body,
                headers={
                    "Authorization": "Basic " + base64.b64encode(b"trainer:secret").decode(),
                    "Content-Type": "text/calendar; charset=utf-8",
                },
            )
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def put(self, calendar: bytes) -> bytes:
        """Store an iTIP message as a calendar object (without METHOD) and read it back."""
        stored = re.sub(rb"^METHOD:[A-Z]+\r\n", b"", calendar, flags=re.M)
        uid = vobject.readOne(stored.decode()).vevent.uid.value
        path = f"/trainer/training/{uid.replace('@', '_at_')}.ics"
        status, body = self.request("PUT", path, stored)
        assert status in (201, 204), body
        status, body = self.request("GET", path)
        assert status == 200
        return body

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def radicale():
    with tempfile.TemporaryDirectory() as folder:
        server = Radicale(folder)
        yield server
        server.close()


def read_invite(calendar: bytes) -> dict:
    """The invite's facts as vobject (validating) and ical read them; both must agree."""
    text = calendar.decode()
    parsed = vobject.readOne(text, validate=True)
    events = [child for child in parsed.getChildren() if child.name == "VEVENT"]
    assert len(events) == 1
    event = events[0]
    assert len(event.contents["sequence"]) == 1
    other = IcsCalendarStream.calendar_from_ics(text)
    [other_event] = other.events
    facts = {
        "method": parsed.method.value,
        "uid": event.uid.value,
        "sequence": int(event.sequence.value),
        "status": event.status.value,
        "stamp": event.dtstamp.value,
        "start": event.dtstart.value,
        "end": event.dtend.value,
        "organizer": event.organizer.value,
        "attendees": sorted(attendee.value for attendee in event.contents["attendee"]),
        "description": event.description.value,
    }
    assert other.method == facts["method"]
    assert other_event.uid == facts["uid"]
    assert other_event.sequence == facts["sequence"]
    assert other_event.status.value == facts["status"]
    assert other_event.dtstart == facts["start"]
    assert other_event.dtstamp == facts["stamp"]
    return facts


def deliver(app, *, later=timedelta(0)):
    with app.app_context():
        return deliver_due(now=lambda: utcnow() + later)


def test_book_move_cancel_keeps_uid_raises_sequence_and_sends_the_right_method(
    app, client, make_session, smtp, radicale
):
    first = make_session(meeting_url="https://meet.example.org/first")
    second = make_session(starts_in=timedelta(days=5), meeting_url="https://meet.example.org/2")
    token = manage_token(client.post("/signup", data=signup_form(first)))
    deliver(app)
    response = client.post(f"/manage/{token}/date", data={"session_id": second})
    assert response.status_code == 303
    deliver(app)
    response = client.post(f"/manage/{token}/cancel", data={"confirm": "y"})
    assert response.status_code == 303
    deliver(app)

    subjects = [received.message["Subject"] for received in smtp.received]
    invites = [read_invite(invite_bytes(received.message)) for received in smtp.received]
    with app.app_context():
        signup_id = db.session.scalar(select(Signup.id))
    old_uid = f"signup-{signup_id}-session-{first}@training-desk.localhost"
    new_uid = f"signup-{signup_id}-session-{second}@training-desk.localhost"
    assert [(i["method"], i["uid"], i["sequence"], i["status"]) for i in invites] == [
        ("REQUEST", old_uid, 0, "CONFIRMED"),
        ("CANCEL", old_uid, 1, "CANCELLED"),
        ("REQUEST", new_uid, 1, "CONFIRMED"),
        ("CANCEL", new_uid, 2, "CANCELLED"),
    ]
    assert subjects[0].startswith("You're booked:")
    assert subjects[1].startswith("Cancelled:") and "moved to" in subjects[1]
    assert subjects[2].startswith("Your training date has changed:")
    assert subjects[3].startswith("Cancelled: your booking for ")
    assert subjects[3].endswith(" (Sierra Valley Medical Society)")
    stamps = [invite["stamp"] for invite in invites]
    assert stamps == sorted(stamps)
    # Each DTSTAMP is when its change was made: from the signup to the last email's queuing.
    with app.app_context():
        signed_up = db.session.scalar(select(Signup.created_at)).replace(microsecond=0)
        last_queued = db.session.scalar(select(func.max(OutboxMessage.created_at)))
    assert all(signed_up <= stamp <= last_queued for stamp in stamps)
    for received in smtp.received:
        method = re.search(rb"METHOD:(\w+)", invite_bytes(received.message)).group(1).decode()
        for part in received.message.walk():
            if part.get_content_type() == "text/calendar":
                assert part.get_param("method") == method
    for invite in invites:
        assert invite["organizer"] == "mailto:no-reply@training-desk.localhost"
        assert invite["attendees"] == [
            "mailto:ana.reyes@sierravalley.example.org",
            "mailto:kim@sierravalley.example.org",
            "mailto:lee@sierravalley.example.org",
        ]

    for received, invite in zip(smtp.received, invites, strict=True):
        stored = read_invite_without_method(radicale.put(invite_bytes(received.message)))
        assert (stored["uid"], stored["sequence"], stored["status"]) == (
            invite["uid"],
            invite["sequence"],
            invite["status"],
        )


def read_invite_without_method(calendar: bytes) -> dict:
    parsed = vobject.readOne(calendar.decode(), validate=True)
    assert "method" not in parsed.contents
    return {
        "uid": parsed.vevent.uid.value,
        "sequence": int(parsed.vevent.sequence.value),
        "status": parsed.vevent.status.value,
    }


def test_download_carries_the_uid_and_sequence_of_the_last_invite(app, client, make_session):
    first, second = make_session(), make_session(starts_in=timedelta(days=6))
    token = manage_token(client.post("/signup", data=signup_form(first)))
    client.post(f"/manage/{token}/date", data={"session_id": second})

    response = client.get(f"/manage/{token}/invite.ics")

    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    downloaded = read_invite(response.data)
    with app.app_context():
        last = db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.calendar_method == "REQUEST")
            .order_by(OutboxMessage.id.desc())
        ).first()
        sent = read_invite(last.calendar.encode())
    assert (downloaded["uid"], downloaded["sequence"]) == (sent["uid"], sent["sequence"])
    assert downloaded["sequence"] == 1


def test_staff_change_sends_a_request_with_the_next_sequence_to_everyone_booked(
    app, client, make_session, smtp
):
    session_id = make_session(meeting_url="https://meet.example.org/old")
    for number in range(2):
        client.post(
            "/signup",
            data=signup_form(
                session_id,
                organization_name=f"Clinic Number {number}",
                contact_email=f"contact{number}@example.org",
                attendee_emails="",
            ),
        )
    deliver(app)
    with app.app_context():
        session = db.session.get(TrainingSession, session_id)
        session.starts_at += timedelta(hours=1)
        session.ends_at += timedelta(hours=1)
        session.meeting_url = "https://meet.example.org/new"
        assert send_session_update(session, now=session.starts_at - timedelta(days=1)) == 2
        db.session.commit()
    deliver(app)

    before = [read_invite(invite_bytes(r.message)) for r in smtp.received[:2]]
    after = [read_invite(invite_bytes(r.message)) for r in smtp.received[2:]]
    assert [i["uid"] for i in after] == [i["uid"] for i in before]
    assert [i["sequence"] for i in after] == [i["sequence"] + 1 for i in before]
    assert {i["method"] for i in after} == {"REQUEST"}
    assert all(
        a["start"] == b["start"] + timedelta(hours=1) for a, b in zip(after, before, strict=True)
    )
    assert (
        "https://meet.example.org/new"
        in smtp.received[2].message.get_body(("plain",)).get_content()
    )
    assert smtp.received[2].message["Subject"].startswith("Updated: your training session")

    with app.app_context():
        session = db.session.get(TrainingSession, session_id)
        cancel_session(
            session, "Room flooded.", now=session.starts_at - timedelta(days=1), actor=None
        )
        db.session.commit()
    deliver(app)
    cancelled = [read_invite(invite_bytes(r.message)) for r in smtp.received[4:]]
    assert [(i["method"], i["sequence"]) for i in cancelled] == [("CANCEL", 2), ("CANCEL", 2)]


def test_hostile_organization_name_breaks_neither_headers_nor_invite(
    app, make_session, smtp, radicale
):
    session_id = make_session()
    with app.app_context():
        program = db.session.get(TrainingSession, session_id).program
        services.book_signup(
            program,
            services.SignupDetails(
                organization_name=HOSTILE_NAME,
                contact_name='Dr. "Quoted", Name; 🎉\r\nBcc: other@example.org',
                contact_email="contact@example.org",
            ),
            [db.session.get(TrainingSession, session_id)],
            submission_key="hostile",
            join_waitlist=False,
            now=utcnow(),
        )
        db.session.commit()
    deliver(app)

    [received] = smtp.received
    assert received.rcpt_tos == ["contact@example.org"]
    head = received.data.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in head.split(b"\r\n")) <= 998
    assert head.isascii()
    message = received.message
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert message["Subject"].endswith(
        '(Clínica "Ñandú"; Smith, Jones & Co. Bcc: victim@example.org X-Evil: 1 🎉 مستشفى الأمل)'
    )
    assert [str(to) for to in message["To"].addresses] == ["contact@example.org"]
    invite = read_invite(invite_bytes(message))
    assert HOSTILE_NAME.replace("\r\n", "\n") in invite["description"]
    assert invite["attendees"] == ["mailto:contact@example.org"]
    assert "🎉 مستشفى الأمل" in message.get_body(("html",)).get_content()
    assert "&#34;Ñandú&#34;" in message.get_body(("html",)).get_content()
    radicale.put(invite_bytes(message))


def test_waitlist_then_promotion_sends_the_invite_only_once_booked(app, client, make_session, smtp):
    session_id = make_session(seats=1)
    first = manage_token(client.post("/signup", data=signup_form(session_id)))
    client.post(
        "/signup",
        data=signup_form(
            session_id,
            organization_name="Valley Clinic",
            contact_email="pat@valley.example.org",
            attendee_emails="",
        ),
    )
    client.post(f"/manage/{first}/cancel", data={"confirm": "y"})
    deliver(app)

    kinds = [
        (
            r.message["Subject"].split(":")[0].split(" for ")[0],
            r.rcpt_tos[0],
            r.message.get_content_type(),
        )
        for r in smtp.received
    ]
    assert kinds == [
        ("You're booked", "ana.reyes@sierravalley.example.org", "multipart/mixed"),
        ("You're on the waitlist", "pat@valley.example.org", "multipart/alternative"),
        ("Cancelled", "ana.reyes@sierravalley.example.org", "multipart/mixed"),
        ("A seat opened up", "pat@valley.example.org", "multipart/mixed"),
    ]
    promoted = read_invite(invite_bytes(smtp.received[3].message))
    assert (promoted["method"], promoted["sequence"]) == ("REQUEST", 0)
    assert "A seat opened up" in smtp.received[3].message.get_body(("plain",)).get_content()
