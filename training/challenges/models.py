"""Recorded PARS entries, challenge reminders sent, and drawings."""

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from training.booking.models import Program, Signup
from training.extensions import UTCDateTime, db, utcnow


class ChallengeEntry(db.Model):
    """Learners entered in PARS for one activity, as the organization (or staff) recorded it."""

    __tablename__ = "challenge_entries"
    __table_args__ = (
        CheckConstraint("learners > 0", name="learners_positive"),
        CheckConstraint("length(activity_id) = 9", name="activity_id_nine_digits"),
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


class ChallengeDrawing(db.Model):
    """A drawing among the eligible, with everything needed to run it again and check it."""

    __tablename__ = "challenge_drawings"

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

    program: Mapped[Program] = relationship()
