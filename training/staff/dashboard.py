"""The console's home page for admins and staff: seats filled, signups per day, emails failing."""

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import contains_eager, joinedload

from training.booking.models import (
    SESSION_SCHEDULED,
    Signup,
    TrainingSession,
)
from training.booking.services import waitlist_lengths
from training.extensions import db
from training.mail.models import MAIL_FAILED, MAIL_RETRYING, OutboxRecipient
from training.mail.services import HeldClaim, delivery_figures

DASHBOARD_DAYS = 30
LATEST_FAILED_EMAILS = 10


@dataclass(frozen=True)
class SessionFigures:
    """An upcoming session's seats and waitlist, as the dashboard shows them."""

    session: TrainingSession
    waitlisted: int

    @property
    def percent_filled(self) -> float:
        """Seats booked as a percentage of the seats, to one decimal."""
        seats = self.session.seats
        return round(100 * self.session.seats_booked / seats, 1) if seats else 0.0


@dataclass(frozen=True)
class DayCount:
    """How many organizations signed up on one day (in the display zone)."""

    day: date
    signups: int


@dataclass(frozen=True)
class Dashboard:
    """The figures on the console's home page for admins and staff."""

    sessions: list[SessionFigures]
    # Upcoming sessions starting soon (``link_warning_hours``) with no meeting link yet.
    missing_links: list[TrainingSession]
    days: list[DayCount]
    # Recipients (not messages): a message can reach some and be refused for others.
    emails_failed: int
    emails_retrying: int
    # (the server's reply, how many recipients got it), most frequent first
    retrying_because: list[tuple[str, int]]
    latest_failed: list[OutboxRecipient]
    # Messages a worker holds now, and the claims held longer than a batch takes.
    emails_sending: int
    emails_held_long: list[HeldClaim]

    @property
    def busiest_day(self) -> int:
        """The most signups on one day of the period (for the chart's scale)."""
        return max((day.signups for day in self.days), default=0)

    @property
    def signups_in_period(self) -> int:
        """Signups over the whole period."""
        return sum(day.signups for day in self.days)


def figures(now: datetime, zone: ZoneInfo, *, link_warning_hours: float = 24) -> Dashboard:
    """Seats filled and waitlists of upcoming sessions, those starting within
    ``link_warning_hours`` with no meeting link, signups per day, emails failing."""
    sessions = db.session.scalars(
        select(TrainingSession)
        .options(joinedload(TrainingSession.program))
        # Upcoming as every page says it (``TrainingSession.timing``): not begun yet.
        .where(TrainingSession.status == SESSION_SCHEDULED, ~TrainingSession.has_started(now))
        .order_by(TrainingSession.starts_at, TrainingSession.id)
    ).all()
    waitlists = waitlist_lengths(now)
    today = now.astimezone(zone).date()
    first_day = today - timedelta(days=DASHBOARD_DAYS - 1)
    since = datetime.combine(first_day, time.min, tzinfo=zone).astimezone(UTC)
    per_day = Counter(
        created_at.astimezone(zone).date()
        for created_at in db.session.scalars(
            select(Signup.created_at).where(Signup.created_at >= since)
        )
    )
    mail = delivery_figures(now)
    latest_failed = db.session.scalars(
        select(OutboxRecipient)
        .join(OutboxRecipient.message)
        .options(contains_eager(OutboxRecipient.message))
        .where(OutboxRecipient.status == MAIL_FAILED)
        .order_by(OutboxRecipient.id.desc())
        .limit(LATEST_FAILED_EMAILS)
    ).all()
    return Dashboard(
        sessions=[SessionFigures(session, waitlists.get(session.id, 0)) for session in sessions],
        missing_links=[
            session for session in sessions if session.lacks_meeting_link(now, link_warning_hours)
        ],
        days=[
            DayCount(day, per_day[day])
            for day in (first_day + timedelta(days=offset) for offset in range(DASHBOARD_DAYS))
        ],
        emails_failed=mail.recipients.get(MAIL_FAILED, 0),
        emails_retrying=mail.recipients.get(MAIL_RETRYING, 0),
        retrying_because=mail.retrying_because,
        latest_failed=list(latest_failed),
        emails_sending=mail.sending,
        emails_held_long=mail.held_long,
    )
