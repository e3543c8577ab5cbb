"""The secret address of the staff calendar feed, and staff's email drafts."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from training.extensions import UTCDateTime, db, utcnow


class CalendarFeed(db.Model):
    """The feed's token, kept only as its SHA-256; rotating replaces the row."""

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_members.id", ondelete="SET NULL")
    )


class EmailDraft(db.Model):
    """Staff's message to organizations as previewed. The preview is a page of its own (a GET
    of the draft), so Back after sending opens it again, saying it was sent, instead of asking
    to send the form again."""

    __tablename__ = "email_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_member_id: Mapped[int] = mapped_column(
        ForeignKey("staff_members.id", ondelete="CASCADE"), index=True
    )
    # The sessions ticked, as comma-separated ids.
    session_ids: Mapped[str] = mapped_column(Text)
    is_waitlist_included: Mapped[bool] = mapped_column(default=False)
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def chosen_ids(self) -> list[int]:
        return [int(value) for value in self.session_ids.split(",") if value.isdigit()]
