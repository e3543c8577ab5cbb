"""A form's entries as previewed, kept for the preview's own page."""

import json
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from training.extensions import IDS_NEVER_REUSED, UTCDateTime, db, utcnow


class Draft(db.Model):
    """What a person entered on a form whose preview is a page of its own (a GET of the draft),
    so Back and Reload show the preview again instead of asking to send the form again.

    Each draft belongs to a staff member or to an organization (its signup), and only its
    owner sees it; ``kind`` says which form it is from.
    """

    __tablename__ = "drafts"
    __table_args__ = IDS_NEVER_REUSED  # an old preview's address never shows a newer draft

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    staff_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_members.id", ondelete="CASCADE"), index=True
    )
    signup_id: Mapped[int | None] = mapped_column(
        ForeignKey("signups.id", ondelete="CASCADE"), index=True
    )
    # The entries, as JSON: each flow says what it keeps.
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # When the form previewed was acted on (its page then says so).
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def content(self) -> dict:
        """The entries kept (an empty dict for a payload that is not a JSON object)."""
        try:
            content = json.loads(self.payload)
        except ValueError:
            return {}
        return content if isinstance(content, dict) else {}
