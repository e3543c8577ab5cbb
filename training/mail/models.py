"""Outbox rows, one per email written with the change that caused it, each recipient's delivery
state, and reminders sent."""

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from training.extensions import IDS_NEVER_REUSED, UTCDateTime, db, utcnow

MAIL_QUEUED = "queued"
MAIL_SENDING = "sending"
MAIL_SENT = "sent"
MAIL_RETRYING = "retrying"
MAIL_FAILED = "failed"
# Recipients still to be sent the message: never tried yet, or refused for now.
MAIL_WAITING = (MAIL_QUEUED, MAIL_RETRYING)


def summary_status(recipient_statuses: Iterable[str]) -> str:
    """A message's status from its recipients' statuses (an outbox message's own ``status``).

    ``retrying`` while any recipient waits to retry (or was being sent by a worker that died);
    otherwise ``queued`` while any waits for its first try; otherwise ``failed`` if any was
    refused for good, even when the others have it; ``sent`` only when every recipient has it.
    A message without recipients can never be sent: ``failed``. (While a worker holds the
    message it is ``sending``, whatever its recipients say.)
    """
    statuses = set(recipient_statuses)
    if statuses & {MAIL_RETRYING, MAIL_SENDING}:
        return MAIL_RETRYING
    if MAIL_QUEUED in statuses:
        return MAIL_QUEUED
    if MAIL_FAILED in statuses or not statuses:
        return MAIL_FAILED
    return MAIL_SENT


# The kinds of email a person writes (staff's own message to organizations, ``rosters.outreach``):
# an out-of-office reply to one reaches that person, as it should. Every other kind is written
# by the program on its own and goes out with ``Auto-Submitted: auto-generated`` (RFC 3834).
HAND_WRITTEN_KINDS = frozenset({"staff_message"})


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
        # The worker's claim finds the due rows in this index, never reading a row's bodies
        # (on SQLite the columns after them sit in the same overflow pages); counts by status
        # use it too.
        Index("ix_outbox_messages_due", "status", "next_attempt_at", "lease_expires_at"),
        IDS_NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    signup_id: Mapped[int | None] = mapped_column(
        ForeignKey("signups.id", ondelete="SET NULL"), index=True
    )
    # Who the message is addressed to (its To header), as written; ``deliveries`` says, for
    # each, whether it has the message yet.
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
    status: Mapped[str] = mapped_column(String(20), default=MAIL_QUEUED)
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
    deliveries: Mapped[list["OutboxRecipient"]] = relationship(
        back_populates="message",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="OutboxRecipient.id",
    )
    # The message as it goes over SMTP, built when it was queued (None: not built, see
    # ``OutboxMessageBytes``); loaded only when asked for.
    wire: Mapped["OutboxMessageBytes | None"] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="select"
    )

    def __init__(self, **values):
        """A message with a delivery row for each of its ``recipients``, in the message's own
        state (a new message: queued), unless ``deliveries`` are given. Messages written
        before per-recipient delivery were migrated the same way."""
        super().__init__(**values)
        if "deliveries" not in values:
            state = {
                "status": self.status or MAIL_QUEUED,
                "attempts": self.attempts or 0,
                "last_error": self.last_error,
                "sent_at": self.sent_at,
            }
            if self.next_attempt_at is not None:
                state["next_attempt_at"] = self.next_attempt_at
            self.deliveries = [
                OutboxRecipient(address=recipient, **state)
                for recipient in dict.fromkeys(self.recipients or ())
            ]


class OutboxMessageBytes(db.Model):
    """An outbox message exactly as it goes over SMTP (``message.to_bytes``), built once when
    it is queued so the worker only sends it, and every retry is byte for byte the same.

    Kept beside the message rather than in it: the worker rewrites the message's row twice a
    delivery (its claim, its outcome), and on SQLite a row is rewritten whole, overflow pages
    included. A message without one (it could not be built, or was queued before these were
    kept) is built by the worker when it claims it.
    """

    __tablename__ = "outbox_message_bytes"

    outbox_message_id: Mapped[int] = mapped_column(
        ForeignKey("outbox_messages.id", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[bytes] = mapped_column(LargeBinary)


class OutboxRecipient(db.Model):
    """One recipient of an outbox message and whether it has the message: a server may take a
    message for some recipients and refuse it, for now (4xx) or for good (5xx), for others.

    Each is sent the message at most once: the message's claim holds its recipients, a worker
    sends to those due when it claimed the message and writes each once, with its outcome,
    while that claim is still its own; a sent recipient is never sent it again.
    """

    __tablename__ = "outbox_recipients"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'sending', 'sent', 'retrying', 'failed')", name="status_known"
        ),
        Index("uq_outbox_recipients_message_address", "outbox_message_id", "address", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_message_id: Mapped[int] = mapped_column(
        ForeignKey("outbox_messages.id", ondelete="CASCADE")
    )
    # As in the message's recipients: a bare address or "Name <address>".
    address: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(20), default=MAIL_QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Written by workers of before the message's claim held its recipients; now only cleared.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    # The server's reply (or what kept the message from reaching a server) at the last attempt.
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    message: Mapped[OutboxMessage] = relationship(back_populates="deliveries")


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
