"""Outbox rows, one per email written with the change that caused it, and reminders sent."""

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from training.extensions import UTCDateTime, db, utcnow

MAIL_QUEUED = "queued"
MAIL_SENDING = "sending"
MAIL_SENT = "sent"
MAIL_RETRYING = "retrying"
MAIL_FAILED = "failed"


class OutboxMessage(db.Model):
    """An email waiting to be sent, or sent: written in the transaction of the change that caused
    it."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'sending', 'sent', 'retrying', 'failed')", name="status_known"
        ),
        CheckConstraint(
            "calendar_method IS NULL OR calendar_method IN ('REQUEST', 'CANCEL')",
            name="calendar_method_known",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    signup_id: Mapped[int | None] = mapped_column(
        ForeignKey("signups.id", ondelete="SET NULL"), index=True
    )
    recipients: Mapped[list[str]] = mapped_column(JSON)
    reply_to: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    # The iCalendar text exactly as built (CRLF lines), sent in both calendar parts.
    calendar: Mapped[str | None] = mapped_column(Text)
    calendar_method: Mapped[str | None] = mapped_column(String(10))
    # One Message-ID for the row's whole life, so a retry is the same message.
    message_id: Mapped[str] = mapped_column(String(250), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=MAIL_QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A worker owns a row while it is "sending": the claim is its token, valid until the lease.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # The booking the email is about; the class is booking's, named so mail imports no feature.
    signup: Mapped["Signup | None"] = relationship("Signup")  # noqa: F821


class Reminder(db.Model):
    """A reminder due for one booking of one session start, recorded so it goes out once."""

    __tablename__ = "reminders"
    __table_args__ = (
        Index(
            "uq_reminders_once",
            "signup_id",
            "session_id",
            "session_starts_at",
            "minutes_before",
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    signup_id: Mapped[int] = mapped_column(ForeignKey("signups.id", ondelete="CASCADE"))
    session_id: Mapped[int] = mapped_column(ForeignKey("training_sessions.id", ondelete="CASCADE"))
    # A session moved to another time gets its reminders again.
    session_starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    minutes_before: Mapped[int]
    # None when the reminder was skipped because a closer one, or the booking itself, covered it.
    outbox_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox_messages.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
