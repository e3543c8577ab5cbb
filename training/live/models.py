"""Walkthrough steps, and the live state of a session and of each organization in it.

All live state is in the database, so every web process and host sees the same session.
"""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from training.booking.models import Signup, TrainingSession
from training.extensions import UTCDateTime, db, utcnow

CHECKIN_PRESENT = "present"
CHECKIN_LATE = "late"
CHECKIN_NO_SHOW = "no_show"
CHECKIN_LABELS = {
    CHECKIN_PRESENT: "Present",
    CHECKIN_LATE: "Joined late",
    CHECKIN_NO_SHOW: "No-show",
}
ATTENDED = (CHECKIN_PRESENT, CHECKIN_LATE)


class WalkthroughStep(db.Model):
    """One step of the guided upload: text for participants, notes for facilitators."""

    __tablename__ = "walkthrough_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    position: Mapped[int] = mapped_column(unique=True)
    title: Mapped[str] = mapped_column(String(200))
    participant_text: Mapped[str] = mapped_column(Text)
    facilitator_notes: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class LiveSession(db.Model):
    """A training session as it runs: the step on screen, the timer and the notes.

    ``version`` goes up with every change participants see; ``board_version`` with every
    change the facilitator's board shows (participants' flags included). Both make ETags.
    """

    __tablename__ = "live_sessions"

    session_id: Mapped[int] = mapped_column(
        ForeignKey("training_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    current_step_id: Mapped[int | None] = mapped_column(
        ForeignKey("walkthrough_steps.id", ondelete="SET NULL")
    )
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=0)
    board_version: Mapped[int] = mapped_column(default=0)
    notes: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    session: Mapped[TrainingSession] = relationship()
    current_step: Mapped[WalkthroughStep | None] = relationship()

    @property
    def is_running(self) -> bool:
        """Started and not ended."""
        return self.started_at is not None and self.ended_at is None


class LiveAttendance(db.Model):
    """One organization in a live session: its check-in and what it told the facilitator."""

    __tablename__ = "live_attendances"
    __table_args__ = (
        CheckConstraint(
            "checkin_status IS NULL OR checkin_status IN ('present', 'late', 'no_show')",
            name="checkin_status_known",
        ),
        Index("uq_live_attendances_session_signup", "session_id", "signup_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("live_sessions.session_id", ondelete="CASCADE")
    )
    signup_id: Mapped[int] = mapped_column(ForeignKey("signups.id", ondelete="CASCADE"), index=True)
    checkin_status: Mapped[str | None] = mapped_column(String(20))
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The step the organization last said it is on, and when it said it was done with it.
    reported_step_id: Mapped[int | None] = mapped_column(
        ForeignKey("walkthrough_steps.id", ondelete="SET NULL")
    )
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    help_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The step it last asked for help on, kept when it then pressed Done there and when the
    # help was cleared, so the board still says it needed help with that step.
    help_step_id: Mapped[int | None] = mapped_column(
        ForeignKey("walkthrough_steps.id", ondelete="SET NULL")
    )
    # When a facilitator last pressed "Mark helped" for it; cleared when it asks again. Its page
    # says so in place of "A facilitator knows you need help".
    helped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Goes up with every change the organization's own page shows (part of its ETag).
    revision: Mapped[int] = mapped_column(default=0)
    followup_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    signup: Mapped[Signup] = relationship()
    reported_step: Mapped[WalkthroughStep | None] = relationship(foreign_keys=[reported_step_id])

    @property
    def needs_help(self) -> bool:
        """Whether the organization asked for help and nobody has cleared it."""
        return self.help_requested_at is not None

    @property
    def was_helped(self) -> bool:
        """Whether a facilitator marked it helped and it has not asked again since."""
        return self.helped_at is not None and self.help_requested_at is None

    @property
    def needed_help_on_reported_step(self) -> bool:
        """Whether it asked for help on the step it last pressed (Done or "I need help")."""
        return self.help_step_id is not None and self.help_step_id == self.reported_step_id

    @property
    def has_attended(self) -> bool:
        """Checked in as present or joined late."""
        return self.checkin_status in ATTENDED

    @property
    def checkin_label(self) -> str:
        """The check-in as staff read it (“Present”...), or “Not checked in”."""
        return CHECKIN_LABELS.get(self.checkin_status or "", "Not checked in")
