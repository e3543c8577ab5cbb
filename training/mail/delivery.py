"""The outbox worker: claim due messages, send them over SMTP (or to .eml files), record how.

Each claim and each outcome is committed on its own: a claim must be visible to other workers
before the message goes out, and a sent message must never be claimed again.
"""

import os
import smtplib
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from pathlib import Path

from flask import current_app
from sqlalchemy import and_, or_, select, update

from training.challenges.services import send_due_challenge_reminders
from training.extensions import db, utcnow
from training.mail.message import Envelope, build_message, to_bytes
from training.mail.models import (
    MAIL_FAILED,
    MAIL_QUEUED,
    MAIL_RETRYING,
    MAIL_SENDING,
    MAIL_SENT,
    OutboxMessage,
)
from training.mail.notices import send_reminders
from training.workers import loop as worker_loop
from training.workers.services import MAIL_WORKER

# How often a watching worker looks for reminders that have come due.
REMINDER_CHECK_SECONDS = 60


class DeliveryError(Exception):
    """Sending failed; ``permanent`` says whether trying again could ever help."""

    def __init__(self, message: str, *, permanent: bool = False, connection: bool = False):
        super().__init__(message)
        self.permanent = permanent
        # The connection itself failed: every other message waiting for it would fail too.
        self.connection = connection


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.sent + self.retrying + self.failed


@dataclass(frozen=True)
class Claim:
    """A message this worker holds, copied out of the session so no transaction stays open."""

    id: int
    kind: str
    token: str
    attempts: int
    recipients: tuple[str, ...]
    envelope: Envelope


class SmtpTransport:
    """One SMTP connection, opened on the first message and reused for the rest."""

    def __init__(self, config: dict):
        self.host = config["MAIL_SERVER"]
        self.port = int(config.get("MAIL_PORT") or 0)
        self.username = config.get("MAIL_USERNAME")
        self.password = config.get("MAIL_PASSWORD")
        self.use_tls = bool(config.get("MAIL_USE_TLS"))
        self.use_ssl = bool(config.get("MAIL_USE_SSL"))
        self.timeout = float(config.get("MAIL_TIMEOUT", 30))
        self.connection: smtplib.SMTP | None = None

    def send(self, claim: Claim, sender: str, data: bytes) -> dict:
        """Hand the message to the server; returns the recipients it refused, if only some."""
        if self.connection is None:
            self.connection = self._connect()
        try:
            return self.connection.sendmail(sender, list(claim.recipients), data)
        except smtplib.SMTPRecipientsRefused as error:
            codes = sorted({code for code, _text in error.recipients.values()})
            raise DeliveryError(
                f"every recipient refused: {_describe(error.recipients)}",
                permanent=all(500 <= code < 600 for code in codes),
            ) from error
        except smtplib.SMTPResponseException as error:
            # A 5xx here judges this message; anything else may pass on the next try.
            if not 500 <= error.smtp_code < 600:
                self.close()
            raise DeliveryError(
                f"{error.smtp_code} {_text(error.smtp_error)}",
                permanent=500 <= error.smtp_code < 600,
            ) from error
        except (smtplib.SMTPException, OSError) as error:
            self.close()
            raise DeliveryError(f"{type(error).__name__}: {error}", connection=True) from error

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is None:
            return
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            connection.close()

    def _connect(self) -> smtplib.SMTP:
        try:
            if self.use_ssl:
                connection = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.use_tls:
                connection.starttls(context=ssl.create_default_context())
            if self.username:
                connection.login(self.username, self.password or "")
        except (smtplib.SMTPException, OSError) as error:
            # Refused, timed out, or a greeting or login the server turned down: a setting or
            # an outage, never this message's fault, so it is retried like any outage.
            raise DeliveryError(
                f"cannot reach {self.host}:{self.port}: {type(error).__name__}: {error}",
                connection=True,
            ) from error
        return connection


class FileTransport:
    """The embedded default: each message becomes ``<instance>/mail/<id>-<kind>.eml``."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def send(self, claim: Claim, sender: str, data: bytes) -> dict:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{claim.id:06d}-{claim.kind}.eml"
        partial = path.with_suffix(".eml.partial")
        try:
            partial.write_bytes(data)
            os.replace(partial, path)
        except OSError as error:
            raise DeliveryError(f"cannot write {path}: {error}", connection=True) from error
        return {}

    def close(self) -> None:
        pass


def make_transport(app_config: dict) -> SmtpTransport | FileTransport:
    """SMTP when ``MAIL_SERVER`` is set, otherwise ``.eml`` files under the instance folder."""
    if app_config.get("MAIL_SERVER"):
        return SmtpTransport(app_config)
    return FileTransport(Path(current_app.instance_path) / "mail")


def retry_delay(attempts: int, config: dict) -> timedelta:
    """Exponential back-off after ``attempts`` tries: base, 2×base, 4×base... up to the cap."""
    base = float(config["MAIL_RETRY_BASE_SECONDS"])
    cap = float(config["MAIL_RETRY_MAX_SECONDS"])
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), cap))


def deliver_due(
    *,
    now: Callable[[], datetime] = utcnow,
    transport: SmtpTransport | FileTransport | None = None,
    batch_size: int | None = None,
) -> DeliveryReport:
    """Send every outbox message due now, batch by batch, and return what became of them."""
    config = current_app.config
    transport = transport or make_transport(config)
    batch_size = batch_size or int(config["MAIL_BATCH_SIZE"])
    report = DeliveryReport()
    try:
        while batch := claim_due(now(), batch_size):
            _send_batch(batch, transport, now, report)
    finally:
        transport.close()
    return report


def claim_due(now: datetime, limit: int) -> list[Claim]:
    """Take up to ``limit`` due messages for this worker alone, and commit the claim.

    The conditional UPDATE re-checks each row's status, so of two workers racing for a row only
    one matches it (PostgreSQL re-reads a row another transaction just changed; SQLite runs
    one writer at a time). ``SKIP LOCKED`` lets PostgreSQL workers pass each other's rows
    instead of queueing behind them. A claim whose worker died lapses when its lease does.
    """
    token = uuid.uuid4().hex
    due = or_(
        and_(
            OutboxMessage.status.in_([MAIL_QUEUED, MAIL_RETRYING]),
            OutboxMessage.next_attempt_at <= now,
        ),
        and_(OutboxMessage.status == MAIL_SENDING, OutboxMessage.lease_expires_at <= now),
    )
    candidates = (
        select(OutboxMessage.id)
        .where(due)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    lease = timedelta(seconds=float(current_app.config["MAIL_LEASE_SECONDS"]))
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(candidates), due)
        .values(
            status=MAIL_SENDING,
            claim_token=token,
            lease_expires_at=now + lease,
            attempts=OutboxMessage.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    claims = [
        Claim(
            id=message.id,
            kind=message.kind,
            token=token,
            attempts=message.attempts,
            recipients=tuple(message.recipients),
            envelope=envelope_for(message, sender),
        )
        for message in db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.claim_token == token, OutboxMessage.status == MAIL_SENDING)
            .order_by(OutboxMessage.id)
        )
    ]
    # Hold no transaction while talking to SMTP: on SQLite it would be the write lock.
    db.session.commit()
    return claims


def envelope_for(message: OutboxMessage, sender: str) -> Envelope:
    """The outbox row as the message builder takes it."""
    return Envelope(
        message_id=message.message_id,
        date=message.created_at,
        sender=sender,
        recipients=tuple(message.recipients),
        subject=message.subject,
        text_body=message.text_body,
        html_body=message.html_body,
        reply_to=message.reply_to,
        calendar=message.calendar.encode() if message.calendar is not None else None,
        calendar_method=message.calendar_method,
    )


def _send_batch(
    batch: list[Claim],
    transport: SmtpTransport | FileTransport,
    now: Callable[[], datetime],
    report: DeliveryReport,
) -> None:
    envelope_sender = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1]
    outage: DeliveryError | None = None
    for claim in batch:
        if outage is not None:
            _record_failure(claim, outage, now(), report)
            continue
        try:
            data = to_bytes(build_message(claim.envelope))
        except ValueError as error:  # a row that cannot become a message never will
            _record_failure(claim, DeliveryError(str(error), permanent=True), now(), report)
            continue
        try:
            refused = transport.send(claim, envelope_sender, data)
        except DeliveryError as error:
            _record_failure(claim, error, now(), report)
            if error.connection:
                outage = error
            continue
        _finish(
            claim,
            status=MAIL_SENT,
            sent_at=now(),
            last_error=f"refused: {_describe(refused)}" if refused else None,
        )
        report.sent += 1
        current_app.logger.info(
            "mail %s sent (%s, %d recipients)", claim.id, claim.kind, len(claim.recipients)
        )


def _record_failure(
    claim: Claim, error: DeliveryError, now: datetime, report: DeliveryReport
) -> None:
    config = current_app.config
    gave_up = claim.attempts >= int(config["MAIL_MAX_ATTEMPTS"])
    if error.permanent or gave_up:
        reason = (
            str(error) if error.permanent else f"gave up after {claim.attempts} attempts: {error}"
        )
        _finish(claim, status=MAIL_FAILED, last_error=reason)
        report.failed += 1
        current_app.logger.warning(
            "mail %s failed for good after %d attempts", claim.id, claim.attempts
        )
        return
    delay = retry_delay(claim.attempts, config)
    _finish(claim, status=MAIL_RETRYING, next_attempt_at=now + delay, last_error=str(error))
    report.retrying += 1
    current_app.logger.warning(
        "mail %s not sent (attempt %d), retrying in %d s",
        claim.id,
        claim.attempts,
        delay.total_seconds(),
    )


def _finish(claim: Claim, **values) -> None:
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == claim.id, OutboxMessage.claim_token == claim.token)
        .values(claim_token=None, lease_expires_at=None, **values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _describe(refused: dict) -> str:
    return "; ".join(
        f"{recipient} {code} {_text(reply)}" for recipient, (code, reply) in refused.items()
    )


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def watch(
    interval: float,
    *,
    should_stop: Callable[[], bool],
    on_report: Callable[[DeliveryReport], None] = lambda report: None,
) -> None:
    """Deliver due email every ``interval`` seconds, and queue due reminders every minute,
    surviving a locked database or a mail server gone away (``training.workers.loop``)."""
    next_reminder_check = 0.0

    def deliver_round() -> None:
        nonlocal next_reminder_check
        if time.monotonic() >= next_reminder_check:
            send_reminders(utcnow())
            send_due_challenge_reminders(utcnow())
            db.session.commit()
            next_reminder_check = time.monotonic() + REMINDER_CHECK_SECONDS
        report = deliver_due()
        if report.total:
            on_report(report)

    worker_loop.run(MAIL_WORKER, deliver_round, interval=interval, should_stop=should_stop)
