"""Dates, times and sentences as people read them, dates in the program's own time zone."""

from collections.abc import Iterable
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo


def zone_abbreviation(moment: datetime) -> str:
    """The zone's everyday name: "PT" for both PST and PDT, as the program announces times."""
    name = moment.tzname() or ""
    if len(name) == 3 and name[1] in "SD" and name.endswith("T"):
        return name[0] + "T"
    return name


def _clock(moment: datetime) -> str:
    return f"{moment.hour % 12 or 12}:{moment:%M}"


def format_time_range(starts_at: datetime, ends_at: datetime, zone: ZoneInfo) -> str:
    """``"10:00–11:30 AM PT"``, or ``"11:30 AM–1:00 PM PT"`` across noon."""
    start, end = starts_at.astimezone(zone), ends_at.astimezone(zone)
    if f"{start:%p}" == f"{end:%p}":
        times = f"{_clock(start)}–{_clock(end)} {end:%p}"
    else:
        times = f"{_clock(start)} {start:%p}–{_clock(end)} {end:%p}"
    return f"{times} {zone_abbreviation(start)}"


# Every page and email with the session list names each date again: the same few sessions'
# words, remembered (a pure function of its arguments).
@lru_cache(maxsize=1024)
def format_session_when(starts_at: datetime, ends_at: datetime, zone: ZoneInfo) -> str:
    """``"Tue, Nov 28, 10:00–11:30 AM PT"``."""
    start = starts_at.astimezone(zone)
    return f"{start:%a, %b} {start.day}, {format_time_range(starts_at, ends_at, zone)}"


def format_session_when_dated(starts_at: datetime, ends_at: datetime, zone: ZoneInfo) -> str:
    """``"Tue, Nov 28, 2026, 10:00–11:30 AM PT"``: the year where a list spans programs or
    years (staff's lists), placed as ``format_moment`` places it."""
    start = starts_at.astimezone(zone)
    times = format_time_range(starts_at, ends_at, zone)
    return f"{start:%a, %b} {start.day}, {start.year}, {times}"


def format_long_date(moment: datetime, zone: ZoneInfo) -> str:
    """``"Tuesday, November 28, 2023"``."""
    local = moment.astimezone(zone)
    return f"{local:%A, %B} {local.day}, {local.year}"


def format_day(day: date) -> str:
    """A calendar date with no time or zone (a deadline, a window's end): ``"Friday,
    December 4, 2026"``, as ``format_long_date`` writes a session's day."""
    return f"{day:%A, %B} {day.day}, {day.year}"


def format_moment(moment: datetime, zone: ZoneInfo) -> str:
    """``"Mon, Nov 27, 2023, 10:00 AM PT"``."""
    local = moment.astimezone(zone)
    return f"{local:%a, %b} {local.day}, {local.year}, {_clock(local)} {local:%p} " + (
        zone_abbreviation(local)
    )


def format_export_moment(moment: datetime, zone: ZoneInfo) -> str:
    """A moment as staff downloads (rosters, all signups) write it, sortable in a spreadsheet:
    ``"2026-12-01 07:32 PT"``."""
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {zone_abbreviation(local)}"


def format_export_session(starts_at: datetime, ends_at: datetime, zone: ZoneInfo) -> str:
    """A session's date and times as staff downloads write them:
    ``"2026-12-01, 10:00–11:30 AM PT"``."""
    return f"{starts_at.astimezone(zone):%Y-%m-%d}, {format_time_range(starts_at, ends_at, zone)}"


def export_attendees(emails: Iterable[str]) -> str:
    """Attendee emails in one cell of a staff download, as an email program takes a list of
    recipients pasted in: ``"lee@example.org; kim@example.org"``."""
    return "; ".join(emails)


# What already ends a sentence: a name such as "Acme Inc." needs no second period.
_SENTENCE_ENDS = (".", "!", "?", "…")


def sentence(text: str) -> str:
    """``text`` ended as a sentence: a period added unless it already ends in one (or in
    "!", "?", "…"), so "Acme Inc." stays "Acme Inc." and "Acme" becomes "Acme."."""
    text = text.rstrip()
    return text if text.endswith(_SENTENCE_ENDS) else f"{text}."


def thousands(count: int) -> str:
    """A count as people read it, with thousands separators: "30,000"."""
    return f"{count:,}"


def counted(count: int, noun: str, plural: str = "") -> str:
    """A count and its noun, singular or plural as the count asks: "1 row", "30,000 rows",
    "2 learners"; ``plural`` for a noun that does not take an s ("1 entry", "2 entries")."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"


def of_seats(count: int, seats: int) -> str:
    """``count`` out of a session's ``seats``, the noun agreeing with the total: "1 of 1 seat",
    "0 of 1 seat", "3 of 8 seats"."""
    return f"{count:,} of {counted(seats, 'seat')}"


def possessive(name: str) -> str:
    """``name`` owning something, as people write it: "Acme Clinic's", but "Coastal Partners'"
    (a name ending in s takes the apostrophe alone)."""
    name = name.rstrip()
    return f"{name}'" if name.endswith(("s", "S")) else f"{name}'s"
