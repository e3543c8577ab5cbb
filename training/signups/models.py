"""Staff decisions on pairs of signups that may be the same organization."""

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from training.booking.models import Signup
from training.extensions import IDS_NEVER_REUSED, UTCDateTime, db, utcnow

DECISION_DISMISSED = "dismissed"
DECISION_MERGED = "merged"


class DuplicateReview(db.Model):
    """One pair, reviewed once: ``first_signup_id`` is always the lower id."""

    __tablename__ = "duplicate_reviews"
    __table_args__ = (
        CheckConstraint("first_signup_id < second_signup_id", name="pair_ordered"),
        CheckConstraint("decision IN ('dismissed', 'merged')", name="decision_known"),
        Index("uq_duplicate_reviews_pair", "first_signup_id", "second_signup_id", unique=True),
        IDS_NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    first_signup_id: Mapped[int] = mapped_column(ForeignKey("signups.id", ondelete="CASCADE"))
    second_signup_id: Mapped[int] = mapped_column(ForeignKey("signups.id", ondelete="CASCADE"))
    decision: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_members.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A merge remembers what it changed, so it can be undone while both sessions are ahead:
    # which signup stayed, the other's status before it was cancelled, the attendees moved.
    kept_signup_id: Mapped[int | None] = mapped_column(ForeignKey("signups.id", ondelete="CASCADE"))
    dropped_status: Mapped[str | None] = mapped_column(String(20))
    moved_attendees: Mapped[list[str] | None] = mapped_column(JSON)

    first_signup: Mapped[Signup] = relationship(foreign_keys=[first_signup_id])
    second_signup: Mapped[Signup] = relationship(foreign_keys=[second_signup_id])

    @property
    def kept(self) -> Signup:
        """The signup a merge kept."""
        kept_first = self.kept_signup_id == self.first_signup_id
        return self.first_signup if kept_first else self.second_signup

    @property
    def dropped(self) -> Signup:
        """The signup a merge cancelled."""
        kept_first = self.kept_signup_id == self.first_signup_id
        return self.second_signup if kept_first else self.first_signup
