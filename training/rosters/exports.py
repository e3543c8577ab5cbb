"""Rosters as CSV and XLSX files that no spreadsheet will run as formulas."""

from collections.abc import Iterable, Sequence
from zoneinfo import ZoneInfo

from training.booking.display import (
    export_attendees,
    format_export_moment,
    format_export_session,
)
from training.booking.models import (
    SIGNUP_CONFIRMED,
    SIGNUP_STATUS_LABELS,
    SIGNUP_WAITLISTED,
    Signup,
)
from training.booking.services import closed_waitlist_figure
from training.rosters.services import Roster
from training.spreadsheets import csv_bytes, xlsx_bytes

COLUMNS = (
    "Organization",
    "Provider ID",
    "Contact name",
    "Contact email",
    "Contact phone",
    "Attendees",
    "Status",
    "Session date",
    "Signed up",
    "Attested",
    "Staff notes",
)


def roster_rows(roster: Roster) -> list[list[str | None]]:
    """One row per organization booked, then the waitlist in order (once the session has begun,
    those that waited for it, no longer in line)."""
    session = roster.session
    zone = session.program.zone
    when = format_export_session(session.starts_at, session.ends_at, zone)
    booked = SIGNUP_STATUS_LABELS[SIGNUP_CONFIRMED].lower()
    rows = [_row(signup, booked, when, zone) for signup in roster.booked]
    if roster.has_begun:
        waited = f"waited (the session {roster.timing_said}: no seat)"
        rows += [_row(signup, waited, when, zone) for signup in roster.waitlist]
    else:
        waitlisted = SIGNUP_STATUS_LABELS[SIGNUP_WAITLISTED].lower()
        # Its own place, then (closed by the cutoff) the waitlist's count as staff read it.
        figure = closed_waitlist_figure(len(roster.waitlist))
        closed = f"; waitlist {figure[:1].lower()}{figure[1:]}" if roster.is_waitlist_closed else ""
        rows += [
            _row(signup, f"{waitlisted} (number {place} in line){closed}", when, zone)
            for place, signup in enumerate(roster.waitlist, start=1)
        ]
    return rows


def _row(signup: Signup, status: str, when: str, zone: ZoneInfo) -> list[str | None]:
    return [
        signup.organization_name,
        signup.provider_id,
        signup.contact_name,
        signup.contact_email,
        signup.contact_phone,
        export_attendees(signup.attendee_mailboxes),
        status,
        when,
        format_export_moment(signup.created_at, zone),
        format_export_moment(signup.attested_at, zone),
        signup.staff_notes,
    ]


def to_csv(rows: Iterable[Sequence[object]]) -> bytes:
    """The roster as CSV, every cell neutralized (see training.spreadsheets)."""
    return csv_bytes(COLUMNS, rows)


def to_xlsx(rows: Iterable[Sequence[object]], *, title: str) -> bytes:
    """The roster as an XLSX sheet of text cells, never a formula."""
    return xlsx_bytes(COLUMNS, rows, title=title)
