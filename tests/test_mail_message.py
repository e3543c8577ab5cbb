"""The MIME message and calendar links, built without an app."""

from dataclasses import replace
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from icalendar import Calendar
from mail_support import mime_tree

from training.booking.ical import (
    InviteDetails,
    build_invite,
    google_calendar_url,
    outlook_calendar_url,
)
from training.mail.message import Envelope, address, build_message, header_text, to_bytes

DETAILS = InviteDetails(
    uid="signup-1-session-2@training.example.org",
    sequence=3,
    starts_at=datetime(2026, 12, 1, 18, 0, tzinfo=UTC),
    ends_at=datetime(2026, 12, 1, 19, 30, tzinfo=UTC),
    summary="Learner Credit Reporting Training: training session",
    description="Join: https://meet.example.org/x\nDial-in: +1 555 0100",
    organizer_email="no-reply@training.example.org",
    organizer_name="Training Desk",
    attendees=(("Ana Reyes", "ana@example.org"),),
    meeting_url="https://meet.example.org/x",
    joining=("Join: https://meet.example.org/x", "Dial-in: +1 555 0100"),
)
# When the session was cancelled: the CANCEL invite's DTSTAMP, a week before it.
CANCELLED_AT = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)


def envelope(**overrides) -> Envelope:
    values = {
        "message_id": "<abc@training.example.org>",
        "date": datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
        "sender": "Training Desk <no-reply@training.example.org>",
        "recipients": ("ana@example.org",),
        "subject": "You're booked",
        "text_body": "Hello",
        "html_body": "<p>Hello</p>",
        "reply_to": "staff@training.example.org",
    }
    values.update(overrides)
    return Envelope(**values)


def arrived(built: Envelope) -> EmailMessage:
    """The message built from ``built`` as a mail client reads its bytes."""
    return message_from_bytes(to_bytes(build_message(built)), policy=policy.default)


def test_message_without_invite_is_text_and_html_alternatives():
    message = arrived(envelope())
    assert mime_tree(message) == ["multipart/alternative", "  text/plain", "  text/html"]
    assert message["MIME-Version"] == "1.0"
    assert all(part["MIME-Version"] is None for part in message.iter_parts())


def test_cancel_invite_is_labelled_cancel_in_both_calendar_parts():
    calendar = build_invite(DETAILS, method="CANCEL", stamp=CANCELLED_AT)
    message = arrived(envelope(calendar=calendar, calendar_method="CANCEL"))
    parts = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
    assert [part.get_param("method") for part in parts] == ["CANCEL", "CANCEL"]
    assert {part.get_payload(decode=True) for part in parts} == {calendar}


def test_bodies_in_any_script_and_the_invite_arrive_exactly_as_built():
    text = (
        "Hello Åsa Ødegaard,\n\n“Hôpital Genève” — 東京大学 🏥 …\n  indented, trailing \n-- \nTeam"
    )
    html = "<p>Åsa Ødegaard: “Hôpital Genève” — 東京大学 🏥 …</p>\n<p>" + "long line " * 30 + "</p>"
    calendar = build_invite(DETAILS, method="REQUEST", stamp=datetime(2026, 11, 25, 12, tzinfo=UTC))
    data = to_bytes(
        build_message(
            envelope(text_body=text, html_body=html, calendar=calendar, calendar_method="REQUEST")
        )
    )
    message = message_from_bytes(data, policy=policy.default)

    assert message.get_body(("plain",)).get_content().splitlines() == text.splitlines()
    assert message.get_body(("html",)).get_content().splitlines() == html.splitlines()
    parts = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
    assert [part.get_payload(decode=True) for part in parts] == [calendar, calendar]
    assert max(len(line) for line in data.split(b"\r\n")) <= 78
    assert b"\n" not in data.replace(b"\r\n", b"")


@pytest.mark.parametrize(
    "changes",
    [
        {},
        # "SUMMARY:" and the text: 74 octets stay one line, 75 are folded (RFC 5545 §3.1).
        {"summary": "s" * 66},
        {"summary": "s" * 67},
        {"summary": "s" * 64 + "é"},
        {"summary": "s" * 65 + "é"},
        {
            "description": 'Hôpital de Genève; salle 2, "B"\\ ' * 12,
            "attendees": (("Zoë Ångström", "zoe@example.org"), ("a" * 70, "a@example.org")),
        },
    ],
)
def test_invite_lines_are_folded_as_icalendar_writes_them(changes):
    calendar = build_invite(
        replace(DETAILS, **changes), method="REQUEST", stamp=datetime(2026, 11, 25, tzinfo=UTC)
    )
    assert calendar == Calendar.from_ical(calendar).to_ical()
    assert max(len(line) for line in calendar.split(b"\r\n")) <= 75


@pytest.mark.parametrize(
    "value",
    [
        "ana@example.org",
        "Ana Reyes <ana.reyes+training@mail.example.org>",
        "o'brien@example.org",
        "{weird}=|~^`#$%&*/?!_-@x-y.example",
        '"ana reyes"@example.org',
        "a@[192.0.2.1]",
    ],
)
def test_an_address_is_written_as_the_email_package_parses_it(value):
    written = address(value)
    parsed = Address(display_name=written.display_name, addr_spec=written.addr_spec)
    assert (written.username, written.domain, str(written)) == (
        parsed.username,
        parsed.domain,
        str(parsed),
    )


@given(
    st.lists(
        st.text("abcXYZ019!#$%&'*+/=?^_`{|}~-", min_size=1, max_size=8), min_size=1, max_size=3
    ),
    st.from_regex(r"[a-z0-9-]{1,10}(\.[a-z0-9-]{1,10}){0,2}", fullmatch=True),
)
def test_any_plain_address_is_written_as_the_email_package_parses_it(atoms, domain):
    written = address(f"{'.'.join(atoms)}@{domain}")
    parsed = Address(addr_spec=f"{'.'.join(atoms)}@{domain}")
    assert (written.username, written.domain, str(written)) == (
        parsed.username,
        parsed.domain,
        str(parsed),
    )


def test_boundaries_are_ones_no_part_can_contain():
    # The boundaries are not searched for in the parts: "=_" never occurs in quoted-printable
    # or base64 text (RFC 2045 6.7), so every leaf part must be one or the other.
    calendar = build_invite(DETAILS, method="REQUEST", stamp=datetime(2026, 11, 25, tzinfo=UTC))
    message = arrived(envelope(calendar=calendar, calendar_method="REQUEST"))
    multiparts = [part for part in message.walk() if part.is_multipart()]
    leaves = [part for part in message.walk() if not part.is_multipart()]
    assert [part.get_boundary()[:2] for part in multiparts] == ["=_", "=_"]
    assert len({part.get_boundary() for part in multiparts}) == 2
    assert {part["Content-Transfer-Encoding"] for part in leaves} == {
        "quoted-printable",
        "base64",
    }


def test_calendar_and_method_come_together():
    with pytest.raises(ValueError):
        build_message(envelope(calendar=b"BEGIN:VCALENDAR", calendar_method=None))


def test_line_breaks_in_header_text_never_start_a_new_header():
    raw = to_bytes(build_message(envelope(subject="Booked\r\nBcc: someone@example.org\n\tmore")))
    headers = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    assert b"Subject: Booked Bcc: someone@example.org more" in headers
    assert not any(line.startswith(b"Bcc") for line in headers)
    assert header_text("a\x00b\u2028c") == "a b c"


def test_google_link_fills_in_the_session_in_utc():
    query = parse_qs(urlsplit(google_calendar_url(DETAILS)).query)
    assert query["action"] == ["TEMPLATE"]
    assert query["dates"] == ["20261201T180000Z/20261201T193000Z"]
    assert query["location"] == ["https://meet.example.org/x"]
    assert query["details"] == ["Join: https://meet.example.org/x\nDial-in: +1 555 0100"]


def test_outlook_links_fill_in_the_session_for_work_and_personal_accounts():
    work = urlsplit(outlook_calendar_url(DETAILS, account="work"))
    personal = urlsplit(outlook_calendar_url(DETAILS, account="personal"))
    assert work.netloc == "outlook.office.com"
    assert personal.netloc == "outlook.live.com"
    query = parse_qs(work.query)
    assert query["startdt"] == ["2026-12-01T18:00:00Z"]
    assert query["enddt"] == ["2026-12-01T19:30:00Z"]
    assert query["subject"] == [DETAILS.summary]


def test_every_part_says_utf_8_and_only_the_invite_file_is_an_attachment():
    calendar = build_invite(DETAILS, method="REQUEST", stamp=datetime(2026, 11, 25, tzinfo=UTC))
    message = arrived(envelope(calendar=calendar, calendar_method="REQUEST"))
    leaves = [part for part in message.walk() if not part.is_multipart()]
    assert [part.get_content_type() for part in leaves] == [
        "text/plain",
        "text/html",
        "text/calendar",
        "text/calendar",
    ]
    assert {part.get_content_charset() for part in leaves} == {"utf-8"}
    assert [part.get_content_disposition() for part in leaves] == [None, None, None, "attachment"]
    assert [part.get_param("name") for part in leaves] == [None, None, None, "invite.ics"]
