"""Recorded PARS entries, challenge reminders sent (and their rounds), and drawings."""

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from training.booking.models import Program, Signup
from training.extensions import IDS_NEVER_REUSED, UTCDateTime, db, utcnow


class ChallengeEntry(db.Model):
    """Learners entered in PARS for one activity, as the organization (or staff) recorded it."""

    __tablename__ = "challenge_entries"
    __table_args__ = (
        CheckConstraint("learners > 0", name="learners_positive"),
        CheckConstraint("length(activity_id) = 9", name="activity_id_nine_digits"),
        IDS_NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    signup_id: Mapped[int] = mapped_column(ForeignKey("signups.id", ondelete="CASCADE"), index=True)
    activity_id: Mapped[str] = mapped_column(String(9))
    entered_on: Mapped[date]
    learners: Mapped[int]
    recorded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_members.id", ondelete="SET NULL")
    )
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_members.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    signup: Mapped[Signup] = relationship()

    @property
    def is_verified(self) -> bool:
        """Whether staff checked the entry in PARS."""
        return self.verified_at is not None


class ChallengeReminder(db.Model):
    """A reminder sent before a challenge deadline: at most one per organization and challenge."""

    __tablename__ = "challenge_reminders"
    __table_args__ = (
        Index("uq_challenge_reminders_signup_challenge", "signup_id", "challenge", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    signup_id: Mapped[int] = mapped_column(ForeignKey("signups.id", ondelete="CASCADE"))
    challenge: Mapped[str] = mapped_column(String(10))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChallengeReminderRound(db.Model):
    """The reminders for one program's challenge went out: the first run on or after the
    reminder day made this row, and later runs, finding it, send none.

    Organizations reminded in the round each have a ``ChallengeReminder``.
    """

    __tablename__ = "challenge_reminder_rounds"
    __table_args__ = (
        Index(
            "uq_challenge_reminder_rounds_program_challenge",
            "program_id",
            "challenge",
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"))
    challenge: Mapped[str] = mapped_column(String(10))
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime)


# A drawing made with no reason to draw again is the challenge's first; only one may exist.
_FIRST_DRAWING = text("redraw_reason IS NULL")


class ChallengeDrawing(db.Model):
    """A drawing among the eligible, with everything needed to run it again and check it.

    One official drawing per program and challenge: the latest. The first is drawn with no
    reason (the database holds one such drawing per challenge); an admin may draw again only
    with a ``redraw_reason``, which the page and the audit log show.
    """

    __tablename__ = "challenge_drawings"
    __table_args__ = (
        Index(
            "uq_challenge_drawings_first",
            "program_id",
            "challenge",
            unique=True,
            sqlite_where=_FIRST_DRAWING,
            postgresql_where=_FIRST_DRAWING,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    challenge: Mapped[str] = mapped_column(String(10))
    seed: Mapped[str] = mapped_column(String(40))
    eligible_signup_ids: Mapped[list[int]] = mapped_column(JSON)
    winner_signup_ids: Mapped[list[int]] = mapped_column(JSON)
    drawn_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    drawn_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_members.id", ondelete="SET NULL")
    )
    redraw_reason: Mapped[str | None] = mapped_column(Text)

    program: Mapped[Program] = relationship()
