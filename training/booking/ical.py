"""Calendar invites (iCalendar bytes) for a booking: pure code, no app needed."""

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from icalendar import Calendar, Event, vCalAddress, vText

PRODID = "-//Training Desk//Training Desk 0.1//EN"
# A content line of this many octets or more is folded (RFC 5545 §3.1; icalendar's limit).
_FOLD_AT = 75
GOOGLE_CALENDAR_URL = "https://calendar.google.com/calendar/render"
OUTLOOK_CALENDAR_URLS = {
    "work": "https://outlook.office.com/calendar/0/deeplink/compose",
    "personal": "https://outlook.live.com/calendar/0/deeplink/compose",
}


@dataclass(frozen=True)
class InviteDetails:
    """Everything an invite says, taken from a booking by the caller."""

    uid: str
    sequence: int
    starts_at: datetime
    ends_at: datetime
    summary: str
    description: str
    organizer_email: str
    organizer_name: str
    attendees: tuple[tuple[str, str], ...]  # (name, email)
    meeting_url: str | None = None
    # How to join, as the session's ``joining_lines`` give them ("Join: …", "Passcode: …",
    # "Dial-in: …"): the same lines, in the same order, as the description, emails and pages.
    joining: tuple[str, ...] = ()


# What RFC 6868 would escape in a parameter value (a double quote as ^', a caret as ^^): many
# calendar programs and parsers (vobject, for one) do not decode it and show the escapes.
_ESCAPED_IN_PARAMETERS = str.maketrans({'"': "'", "^": None})


def common_name(name: str) -> str:
    """``name`` as a CN parameter every calendar reads as written: double quotes become single
    ones and carets are left out, so the value never needs RFC 6868's escapes."""
    return name.translate(_ESCAPED_IN_PARAMETERS)


def build_invite(
    details: InviteDetails, *, method: str, stamp: datetime, whole_event: bool = True
) -> bytes:
    """An iTIP REQUEST or CANCEL for one booked session, with times in UTC.

    A CANCEL with ``whole_event`` false withdraws the invitation of the attendees it lists
    (people taken off a booking that goes on): RFC 5546 §3.2.5 wants it without STATUS, which
    only a cancelled event carries. Raises ``ValueError`` for another method.
    """
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(f"unsupported iTIP method {method!r}")
    if not whole_event and method != "CANCEL":
        raise ValueError("only a CANCEL can withdraw some attendees")
    calendar = Calendar()
    calendar.prodid = PRODID
    calendar.version = "2.0"
    calendar.method = method

    event = Event()
    event.uid = details.uid
    event.sequence = details.sequence
    event.stamp = stamp
    event.start = details.starts_at
    event.end = details.ends_at
    event.summary = details.summary
    event.description = details.description
    if method == "REQUEST":
        event.status = "CONFIRMED"
    elif whole_event:
        event.status = "CANCELLED"
    if details.meeting_url:
        event.location = details.meeting_url
        event.url = details.meeting_url
    organizer = vCalAddress(f"mailto:{details.organizer_email}")
    organizer.params["CN"] = vText(common_name(details.organizer_name))
    event.organizer = organizer
    attendees = []
    for name, email in details.attendees:
        attendee = vCalAddress(f"mailto:{email}")
        attendee.params["CN"] = vText(common_name(name or email))
        attendee.params["RSVP"] = "FALSE"
        attendee.params["ROLE"] = "REQ-PARTICIPANT"
        attendees.append(attendee)
    event.attendees = attendees
    calendar.add_component(event)
    return _to_ical(calendar)


def _to_ical(calendar: Calendar) -> bytes:
    """``calendar.to_ical()``, byte for byte, with icalendar's folding only where it folds.

    icalendar folds each content line a character at a time, measuring each character's UTF-8
    length (its ``_foldline``); a line under 75 octets, most of an invite's, comes out of it as
    it went in (a tenth of the invite's time), so only a longer one is handed to it
    (``Contentline.to_ical``).
    """
    return b"".join(
        (encoded if len(encoded := line.encode()) < _FOLD_AT else line.to_ical()) + b"\r\n"
        for line in calendar.content_lines()
        if line
    )


def google_calendar_url(details: InviteDetails) -> str:
    """A link that opens Google Calendar's new-event page filled in with the session."""
    starts_at, ends_at = details.starts_at.astimezone(UTC), details.ends_at.astimezone(UTC)
    query = {
        "action": "TEMPLATE",
        "text": details.summary,
        "dates": f"{starts_at:%Y%m%dT%H%M%SZ}/{ends_at:%Y%m%dT%H%M%SZ}",
        "details": _link_description(details),
    }
    if details.meeting_url:
        query["location"] = details.meeting_url
    return f"{GOOGLE_CALENDAR_URL}?{urlencode(query)}"


def outlook_calendar_url(details: InviteDetails, *, account: str = "work") -> str:
    """A link that opens Outlook on the web's new-event form (``work`` or ``personal``)."""
    starts_at, ends_at = details.starts_at.astimezone(UTC), details.ends_at.astimezone(UTC)
    query = {
        "path": "/calendar/action/compose",
        "rru": "addevent",
        "subject": details.summary,
        "startdt": f"{starts_at:%Y-%m-%dT%H:%M:%SZ}",
        "enddt": f"{ends_at:%Y-%m-%dT%H:%M:%SZ}",
        "body": _link_description(details),
    }
    if details.meeting_url:
        query["location"] = details.meeting_url
    return f"{OUTLOOK_CALENDAR_URLS[account]}?{urlencode(query)}"


def _link_description(details: InviteDetails) -> str:
    # Links stay short enough to read in a plain-text email; the invite carries the rest.
    return "\n".join(details.joining) or details.summary
