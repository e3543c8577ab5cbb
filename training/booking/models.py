"""Programs, their sessions, and the organizations that sign up for them."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Select,
    String,
    Text,
    or_,
    select,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import Mapped, mapped_column, relationship

from training.booking.display import counted, format_session_when, format_session_when_dated
from training.extensions import IDS_NEVER_REUSED, UTCDateTime, db, utcnow
from training.mail.services import mailbox_key

SIGNUP_CONFIRMED = "confirmed"
SIGNUP_WAITLISTED = "waitlisted"
SIGNUP_CANCELLED = "cancelled"
# What every page and export calls a signup's status: one word each, shared.
SIGNUP_STATUS_LABELS = {
    SIGNUP_CONFIRMED: "Booked",
    SIGNUP_WAITLISTED: "Waitlisted",
    SIGNUP_CANCELLED: "Cancelled",
}
# Waitlisted with no chosen date still to come.
WAITS_FOR_NO_DATE_LABEL = "Not waiting for any date"
SESSION_SCHEDULED = "scheduled"
SESSION_CANCELLED = "cancelled"
# Where a session is in time (``TrainingSession.timing``), and how every staff page says it.
TIMING_UPCOMING, TIMING_UNDER_WAY, TIMING_ENDED = "upcoming", "under_way", "ended"
TIMING_LABELS = {
    TIMING_UPCOMING: "Upcoming",
    TIMING_UNDER_WAY: "Under way",
    TIMING_ENDED: "Ended",
}
# The same, said after "the session" or "this session", where a page or email says why it
# can no longer be booked or give a seat: "Past" and "taken place" only once it has ended.
TIMING_SAID = {
    TIMING_UPCOMING: "is ahead",
    TIMING_UNDER_WAY: "is under way",
    TIMING_ENDED: "has taken place",
}
# Staff of an organization who may be listed to attend, besides its contact.
MAX_ATTENDEES = 5

# Staff may book an organization a second time only with a recorded reason (override_reason);
# such signups stand outside the one-per-organization indexes.
_ACTIVE_SIGNUP = text("status <> 'cancelled' AND override_reason IS NULL")
_ACTIVE_PROVIDER = text(
    "status <> 'cancelled' AND override_reason IS NULL AND provider_id IS NOT NULL"
)


class Program(db.Model):
    """A training program: its session window, signup dates, time zone and challenge deadlines."""

    __tablename__ = "programs"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    timezone: Mapped[str] = mapped_column(String(64))
    window_starts_on: Mapped[date]
    window_ends_on: Mapped[date]
    signup_opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    signup_closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    staff_email: Mapped[str] = mapped_column(String(254))
    accme_challenge_due_on: Mapped[date]
    cma_challenge_due_on: Mapped[date]
    # The first day challenge entries count; None: the day signups opened.
    challenges_start_on: Mapped[date | None]
    attestation_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    sessions: Mapped[list["TrainingSession"]] = relationship(
        back_populates="program", order_by="TrainingSession.starts_at"
    )

    @property
    def zone(self) -> ZoneInfo:
        """The program's time zone."""
        return ZoneInfo(self.timezone)

    def session_when(self, starts_at: datetime, ends_at: datetime) -> str:
        """A session's date and times as people read them: ``"Tue, Nov 28, 10:00–11:30 AM
        PT"``, with the year (``"Tue, Jan 5, 2027, 10:00–11:30 AM PT"``) where it is not the
        year the program's window starts in, so a date in another year never reads as that
        one's."""
        zone = self.zone
        if starts_at.astimezone(zone).year == self.window_starts_on.year:
            return format_session_when(starts_at, ends_at, zone)
        return format_session_when_dated(starts_at, ends_at, zone)

    def today(self, now: datetime) -> date:
        """The date on the program's wall clocks at ``now`` (a timezone-aware moment)."""
        return now.astimezone(self.zone).date()

    def latest_date(self, now: datetime) -> date:
        """The latest date that is already today somewhere in the US at ``now``.

        Organizations report from every US zone: east of the program's zone (and in Guam, 18
        hours ahead of California) the next day begins first, so a date is "in the future"
        only after the program's date and the day after.
        """
        return self.today(now) + timedelta(days=1)

    def signup_state(self, now: datetime) -> str:
        """``"not_open"``, ``"open"`` or ``"closed"`` at ``now``."""
        if now < self.signup_opens_at:
            return "not_open"
        if now >= self.signup_closes_at:
            return "closed"
        return "open"


# Longer than this is a typo (02:30 for 12:30), not a session: saving it would email every
# organization booked an invite for the wrong times.
MAX_SESSION_LENGTH = timedelta(hours=8)


def session_length_problem(starts_at: datetime, ends_at: datetime) -> str | None:
    """Why a session from ``starts_at`` to ``ends_at`` cannot be, naming its length: it ends
    at or before its start, or lasts longer than ``MAX_SESSION_LENGTH``; None when it can.
    The one rule the session form, the rosters services and the seed data follow."""
    if ends_at <= starts_at:
        return "The session must end after it starts."
    length = ends_at - starts_at
    if length > MAX_SESSION_LENGTH:
        hours = MAX_SESSION_LENGTH // timedelta(hours=1)
        return (
            f"The session would last {_length_said(length)}, and a session lasts at most "
            f"{hours} hours: check the start and end times (AM or PM?)."
        )
    return None


def _length_said(length: timedelta) -> str:
    """``length`` as people say it: "10 hours 15 minutes", "9 hours", "1 hour 5 minutes"."""
    hours, minutes = divmod(int(length.total_seconds()) // 60, 60)
    parts = [f"{hours} hour{'s' if hours != 1 else ''}"] if hours else []
    if minutes:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " ".join(parts)


class TrainingSession(db.Model):
    """One small-group session of a program: its time, seats and joining details."""

    __tablename__ = "training_sessions"
    __table_args__ = (
        CheckConstraint("seats >= 0", name="seats_not_negative"),
        CheckConstraint(
            "seats_booked >= 0 AND seats_booked <= seats", name="seats_booked_within_capacity"
        ),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("status IN ('scheduled', 'cancelled')", name="status_known"),
        IDS_NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seats: Mapped[int]
    # Kept by conditional UPDATEs in the booking services so the database refuses a 9th seat.
    seats_booked: Mapped[int] = mapped_column(default=0)
    meeting_url: Mapped[str | None] = mapped_column(String(500))
    dial_in: Mapped[str | None] = mapped_column(String(200))
    passcode: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default=SESSION_SCHEDULED)
    cancellation_reason: Mapped[str | None] = mapped_column(Text)
    # Raised each time its times or joining details change or it is cancelled, as every
    # booking's ``Signup.invite_sequence`` is: the staff calendar feed's SEQUENCE for it.
    sequence: Mapped[int] = mapped_column(default=0, server_default="0")
    # Set when a facilitator first starts its live walkthrough (in the check-in window, which
    # may be before ``starts_at``): from then the session has begun (``has_started``).
    walkthrough_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    program: Mapped[Program] = relationship(back_populates="sessions")

    @property
    def seats_left(self) -> int:
        return max(self.seats - self.seats_booked, 0)

    @property
    def seats_left_label(self) -> str:
        """Its free seats as every date list says them: "1 seat left", "5 seats left"."""
        return f"{counted(self.seats_left, 'seat')} left"

    @property
    def is_full(self) -> bool:
        return self.seats_left == 0

    @property
    def is_cancelled(self) -> bool:
        return self.status == SESSION_CANCELLED

    @hybrid_method
    def has_started(self, now: datetime) -> bool:
        """Whether it has begun at ``now``: its start has come, or its live walkthrough was
        started (early, in the check-in window). The one rule for "has begun", in Python and
        in queries."""
        return now >= self.starts_at or self.walkthrough_started_at is not None

    @has_started.expression
    def has_started(cls, now: datetime):
        return or_(cls.starts_at <= now, cls.walkthrough_started_at.is_not(None))

    @property
    def began_at(self) -> datetime:
        """When it began, or will: its start, or the moment its live walkthrough was started
        if that came first (``has_started``), so "your session started …" names that moment."""
        started = self.walkthrough_started_at
        return started if started is not None and started < self.starts_at else self.starts_at

    def has_ended(self, now: datetime) -> bool:
        """Whether its scheduled end has passed at ``now``: only then has it "taken place" (a
        walkthrough started early, or run over, does not move it)."""
        return now >= self.ends_at

    def timing(self, now: datetime) -> str:
        """Where the session is in time at ``now``: upcoming (not begun, ``has_started``),
        under way (begun, before its scheduled end) or ended (``has_ended``). The one rule
        every page, email and export that says so follows; the live console's own state
        (started, ended by the facilitator) is told apart from it."""
        if self.has_ended(now):
            return TIMING_ENDED
        return TIMING_UNDER_WAY if self.has_started(now) else TIMING_UPCOMING

    def timing_label(self, now: datetime) -> str:
        """``timing`` as staff read it ("Upcoming", "Under way", "Ended"), or "Cancelled"."""
        return "Cancelled" if self.is_cancelled else TIMING_LABELS[self.timing(now)]

    def timing_said(self, now: datetime) -> str:
        """``timing`` said after "the session": "is ahead", "is under way", "has taken place"."""
        return TIMING_SAID[self.timing(now)]

    def is_bookable(self, now: datetime) -> bool:
        """Scheduled, and not started at ``now``."""
        return not self.is_cancelled and not self.has_started(now)

    def lacks_meeting_link(self, now: datetime, within_hours: float) -> bool:
        """Scheduled, not started at ``now``, starting within ``within_hours``, and with no
        meeting link yet: staff are warned, and the emails say plainly it is not set."""
        return (
            self.is_bookable(now)
            and not self.meeting_url
            and self.starts_at - now <= timedelta(hours=within_hours)
        )

    def changes_close_at(self, cutoff_hours: int) -> datetime:
        """When an organization may no longer change its booking: ``cutoff_hours`` before the
        start."""
        return self.starts_at - timedelta(hours=cutoff_hours)

    @property
    def when(self) -> str:
        """Its date and times as people read them: ``"Tue, Nov 28, 10:00–11:30 AM PT"``, the
        year added where ``Program.session_when`` adds it."""
        return self.program.session_when(self.starts_at, self.ends_at)

    @property
    def when_dated(self) -> str:
        """``when`` with the year, as staff's lists show it: ``"Tue, Nov 28, 2026, 10:00–11:30
        AM PT"``."""
        return format_session_when_dated(self.starts_at, self.ends_at, self.program.zone)

    @property
    def joining_lines(self) -> list[str]:
        """How to join, as lines of an invite or a feed: "Join: …", "Passcode: …",
        "Dial-in: …", in the order every email and page gives them (the passcode goes with the
        meeting link, and is said once even when there is a dial-in too)."""
        details = (
            ("Join", self.meeting_url),
            ("Passcode", self.passcode),
            ("Dial-in", self.dial_in),
        )
        return [f"{label}: {value}" for label, value in details if value]

    @property
    def local_starts_at(self) -> datetime:
        """Its start on the program's wall clocks."""
        return self.starts_at.astimezone(self.program.zone)

    @property
    def local_ends_at(self) -> datetime:
        """Its end on the program's wall clocks."""
        return self.ends_at.astimezone(self.program.zone)


class Signup(db.Model):
    """An organization's signup for a program: contacts, attestation, and a seat or waitlist
    place."""

    __tablename__ = "signups"
    __table_args__ = (
        CheckConstraint(
            "(status = 'confirmed' AND session_id IS NOT NULL)"
            " OR (status = 'waitlisted' AND session_id IS NULL)"
            " OR status = 'cancelled'",
            name="status_matches_session",
        ),
        # One active signup per organization per program, whatever the race.
        Index(
            "uq_signups_active_organization",
            "program_id",
            "organization_key",
            unique=True,
            sqlite_where=_ACTIVE_SIGNUP,
            postgresql_where=_ACTIVE_SIGNUP,
        ),
        Index(
            "uq_signups_active_provider",
            "program_id",
            "provider_id",
            unique=True,
            sqlite_where=_ACTIVE_PROVIDER,
            postgresql_where=_ACTIVE_PROVIDER,
        ),
        IDS_NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("training_sessions.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    organization_name: Mapped[str] = mapped_column(String(200))
    organization_key: Mapped[str] = mapped_column(String(200))
    provider_id: Mapped[str | None] = mapped_column(String(7))
    contact_name: Mapped[str] = mapped_column(String(120))
    contact_email: Mapped[str] = mapped_column(String(254))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    attestation_text: Mapped[str] = mapped_column(Text)
    attested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submission_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Goes up with every change sent to calendars, whichever session the invite is for.
    invite_sequence: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    link_resent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    staff_notes: Mapped[str | None] = mapped_column(Text)
    override_reason: Mapped[str | None] = mapped_column(Text)

    program: Mapped[Program] = relationship()
    session: Mapped[TrainingSession | None] = relationship()
    attendees: Mapped[list["Attendee"]] = relationship(
        back_populates="signup", order_by="Attendee.position", cascade="all, delete-orphan"
    )
    choices: Mapped[list["SignupChoice"]] = relationship(
        back_populates="signup", order_by="SignupChoice.rank", cascade="all, delete-orphan"
    )

    @property
    def is_confirmed(self) -> bool:
        return self.status == SIGNUP_CONFIRMED

    @property
    def place(self) -> str:
        """Where it stands, as a page about it asked: ``"booked:<session id>"``,
        ``"waitlisted"`` or ``"cancelled"``."""
        return f"booked:{self.session_id}" if self.is_confirmed else self.status

    @property
    def is_waitlisted(self) -> bool:
        return self.status == SIGNUP_WAITLISTED

    @property
    def is_cancelled(self) -> bool:
        return self.status == SIGNUP_CANCELLED

    @property
    def mailboxes(self) -> list[tuple[str, str]]:
        """Everyone the organization's emails and invites go to, one ``(name, email)`` pair per
        mailbox: the contact first, under its name, then the attendees in their order, each
        named by its address.

        Addresses are compared case-insensitively (``mailbox_key``): an attendee who is the
        contact, or is listed twice, is one recipient and one ATTENDEE, spelled as first given.
        """
        found: dict[str, tuple[str, str]] = {}
        people = [(self.contact_name, self.contact_email)]
        people += [(attendee.email, attendee.email) for attendee in self.attendees]
        for name, email in people:
            found.setdefault(mailbox_key(email), (name or email, email))
        return list(found.values())

    @property
    def attendee_mailboxes(self) -> list[str]:
        """The attendees as the invite lists them beside the contact (``mailboxes``): one
        address per mailbox, none that is the contact's own. What pages and exports show as
        who is attending."""
        return [email for _name, email in self.mailboxes[1:]]

    @property
    def recipients(self) -> list[str]:
        """The addresses of ``mailboxes``: who every email about the booking goes to."""
        return [email for _name, email in self.mailboxes]

    @property
    def chosen_sessions(self) -> list[TrainingSession]:
        """The dates it asked for, first choice first."""
        return [choice.session for choice in self.choices]

    @property
    def lost_its_dates_to_cancellation(self) -> bool:
        """Waitlisted with no chosen date left: staff cancelled the session it was booked on
        or waiting for (a cancelled session's choices are dropped; a signup always starts with
        a chosen date)."""
        return self.is_waitlisted and not self.choices


class SignupChoice(db.Model):
    """A ranked date an organization asked for: its first choice, then waitlist alternates.

    While the organization waits, it stands in that date's line from ``joined_at``: first
    come, first served (``waitlist_line``).
    """

    __tablename__ = "signup_choices"
    __table_args__ = (
        CheckConstraint("rank BETWEEN 1 AND 3", name="rank_range"),
        Index("uq_signup_choices_signup_session", "signup_id", "session_id", unique=True),
    )

    signup_id: Mapped[int] = mapped_column(
        ForeignKey("signups.id", ondelete="CASCADE"), primary_key=True
    )
    rank: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    session_id: Mapped[int] = mapped_column(ForeignKey("training_sessions.id"), index=True)
    # When the organization joined this date's line: at signup, on joining the waitlist from
    # its manage link, or when staff cancelled the session it was booked on; kept while
    # nothing changes (taking it off another date, undoing a merge).
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    signup: Mapped[Signup] = relationship(back_populates="choices")
    session: Mapped[TrainingSession] = relationship()


def waitlist_line(session_id: int) -> Select:
    """The organizations waiting for session ``session_id``, in line order: first come, first
    served by when each joined this date's line (``SignupChoice.joined_at``; the earlier
    signup first at the same moment). The one order of the roster, the "number N in line"
    of pages and emails, and who gets a freed seat (``promote_waitlist``)."""
    return (
        select(Signup)
        .join(SignupChoice, SignupChoice.signup_id == Signup.id)
        .where(SignupChoice.session_id == session_id, Signup.status == SIGNUP_WAITLISTED)
        .order_by(SignupChoice.joined_at, Signup.id)
    )


class Attendee(db.Model):
    """A staff member of the organization who will attend the session."""

    __tablename__ = "attendees"
    __table_args__ = (Index("uq_attendees_signup_email", "signup_id", "email", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    signup_id: Mapped[int] = mapped_column(ForeignKey("signups.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    position: Mapped[int]

    signup: Mapped[Signup] = relationship(back_populates="attendees")


class ManageLink(db.Model):
    """A manage link's token, kept only as its SHA-256 so a database leak reveals no link,
    until it is revoked."""

    __tablename__ = "manage_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    signup_id: Mapped[int] = mapped_column(ForeignKey("signups.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when someone left the booking: the link then opens nothing, and says why.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    signup: Mapped[Signup] = relationship()
