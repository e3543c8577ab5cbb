"""The staff calendar feed: every session as an iCalendar subscription (pure code)."""

from dataclasses import dataclass
from datetime import datetime

from icalendar import Calendar, Event

from training.booking.ical import PRODID


@dataclass(frozen=True)
class FeedEvent:
    """One session as the feed shows it, taken from the database by the caller."""

    uid: str
    starts_at: datetime
    ends_at: datetime
    summary: str
    description: str
    is_cancelled: bool
    sequence: int
    roster_url: str
    meeting_url: str | None = None


def build_feed(events: list[FeedEvent], *, name: str, stamp: datetime) -> bytes:
    """A PUBLISH calendar with one VEVENT per session, times in UTC. Each event's SEQUENCE is
    its session's (raised with every change of time, joining details or status, as the
    bookings' invites are); its URL is always the session's roster, the page staff act from,
    and the meeting link is its LOCATION (and in its DESCRIPTION with the other joining
    details)."""
    calendar = Calendar()
    calendar.prodid = PRODID
    calendar.version = "2.0"
    calendar.method = "PUBLISH"
    calendar.calendar_name = name
    for item in events:
        event = Event()
        event.uid = item.uid
        event.sequence = item.sequence
        event.stamp = stamp
        event.start = item.starts_at
        event.end = item.ends_at
        event.summary = item.summary
        event.description = item.description
        event.status = "CANCELLED" if item.is_cancelled else "CONFIRMED"
        event.url = item.roster_url
        if item.meeting_url:
            event.location = item.meeting_url
        calendar.add_component(event)
    return calendar.to_ical()
