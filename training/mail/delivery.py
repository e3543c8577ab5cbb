"""The outbox worker: claim due messages, send them over SMTP (or to .eml files), record how.

A batch of messages is claimed and committed before any goes out (a claim must be visible to
other workers first); each message's bytes were built when it was queued, so the worker only
sends them, one batch over one connection, and writes the outcomes of every
``MAIL_RECORD_EVERY`` messages in one short transaction: a crash can send again at most the
messages sent since the last write. Outcomes are kept
per recipient: a server may take a message for some recipients and refuse it, for now or for
good, for others; only those refused for now are sent it again, later.
"""

import os
import re
import smtplib
import ssl
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.utils import parseaddr
from functools import cached_property
from pathlib import Path
from types import SimpleNamespace

from flask import current_app
from psycopg.types.array import ListBinaryDumper, ListDumper
from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Integer,
    Select,
    String,
    Table,
    Text,
    Update,
    and_,
    any_,
    bindparam,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import SQLAlchemyError

from training.extensions import UTCDateTime, db, utcnow
from training.mail.addresses import UndeliverableAddress, ascii_address, envelope_address
from training.mail.message import Envelope, build_message, to_bytes
from training.mail.models import (
    HAND_WRITTEN_KINDS,
    MAIL_FAILED,
    MAIL_RETRYING,
    MAIL_SENDING,
    MAIL_SENT,
    MAIL_WAITING,
    OutboxMessage,
    OutboxMessageBytes,
    OutboxRecipient,
    summary_status,
)
from training.workers import loop as worker_loop
from training.workers.services import MAIL_WORKER

# How often a watching worker runs the periodic jobs it was given (reminders that came due).
PERIODIC_JOB_SECONDS = 60

# An address with nothing around it for parseaddr to take off (no display name, comment,
# quotes, angle brackets or white space).
_BARE_ADDRESS = re.compile(r'[^\s<>()",;:\\\[\]@]+@[^\s<>()",;:\\\[\]@]+')
# What SMTP's DATA doubles (RFC 5321 4.5.2), as smtplib finds it.
_LINE_STARTING_WITH_A_DOT = re.compile(rb"(?m)^\.")

# A job the worker runs now and then: given the time, it queues what is due, and flushes.
PeriodicJob = Callable[[datetime], object]


class DeliveryError(Exception):
    """Sending failed for every recipient tried; ``permanent`` says whether trying again could
    ever help."""

    def __init__(self, message: str, *, permanent: bool = False, connection: bool = False):
        super().__init__(message)
        self.permanent = permanent
        # The connection itself failed: every other message waiting for it would fail too.
        self.connection = connection


@dataclass
class DeliveryReport:
    """What became of the messages one delivery run took (by the status each was left in), and
    of the recipients it tried."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    recipients_sent: int = 0
    recipients_retrying: int = 0
    recipients_failed: int = 0

    @property
    def total(self) -> int:
        """Messages the run took, whatever became of them."""
        return self.sent + self.retrying + self.failed


@dataclass(frozen=True)
class ClaimedRecipient:
    """A recipient a claim sends the message to: its row, its address, its tries so far."""

    id: int
    address: str
    attempts: int

    @cached_property
    def mailbox(self) -> str:
        """The bare address, as RCPT TO takes it (its domain in ASCII); raises
        ``UndeliverableAddress`` for one mail cannot carry."""
        if self.address.isascii() and _BARE_ADDRESS.fullmatch(self.address):
            return self.address  # what parseaddr would give, at a hundredth of its cost
        return envelope_address(parseaddr(self.address)[1] or self.address)


@dataclass(frozen=True)
class Claim:
    """A message this worker holds, copied out of the session so no transaction stays open:
    ``recipients`` are those due now, ``others`` the states of the rest of its recipients
    (``(id, status, next_attempt_at, last_error)``, which no one changes while the claim holds),
    ``data`` its bytes as sent, or None with ``error`` saying why it cannot be built."""

    id: int
    kind: str
    token: str
    attempts: int
    recipients: tuple[ClaimedRecipient, ...]
    others: tuple[tuple[int, str, datetime, str | None], ...]
    data: bytes | None
    error: str | None = None


# What became of one recipient: its status, and the reply or error when it has not the message.
Outcome = tuple[str, str | None]


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
        """Hand the message to the server for the claim's recipients; returns those it refused
        at RCPT, ``{mailbox: (code, reply)}``. Raises ``DeliveryError`` when the whole message
        was refused (at MAIL FROM or DATA) or the connection failed."""
        if self.connection is None:
            self.connection = self._connect()
        mailboxes = [recipient.mailbox for recipient in claim.recipients]
        try:
            return _sendmail(self.connection, sender, mailboxes, data)
        except smtplib.SMTPRecipientsRefused as error:
            # Every recipient refused, each with its own reply; smtplib has reset the session.
            return dict(error.recipients)
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
        except (UnicodeError, ValueError) as error:
            # Something in this message smtplib cannot write: it fails alone, and the next
            # message starts on a new connection (this one may be mid-transaction).
            self.close()
            raise DeliveryError(f"cannot be sent: {error}", permanent=True) from error

    def close(self) -> None:
        """Say goodbye to the server (or just drop the connection)."""
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


def _sendmail(connection: smtplib.SMTP, sender: str, mailboxes: list[str], data: bytes) -> dict:
    """``connection.sendmail(sender, mailboxes, data)``, the same exchange, replies and
    exceptions, for addresses already bare: smtplib parses every address again (``quoteaddr``,
    about 10 µs each, four an email) and runs a regular expression over the whole message to
    double a dot starting a line (about 80 µs for 12 KB), where looking for one is a fifth of
    that and a built message rarely has one. Per email, on the path every send waits on."""
    connection.ehlo_or_helo_if_needed()
    size = f" SIZE={len(data)}" if connection.does_esmtp and connection.has_extn("size") else ""
    connection.putcmd("mail", f"FROM:{_path(sender)}{size}")
    code, reply = connection.getreply()
    if code != 250:
        _end_refused(connection, code)
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    refused = {}
    for mailbox in mailboxes:
        connection.putcmd("rcpt", f"TO:{_path(mailbox)}")
        code, reply = connection.getreply()
        if code not in (250, 251):
            refused[mailbox] = (code, reply)
        if code == 421:
            connection.close()
            raise smtplib.SMTPRecipientsRefused(refused)
    if len(refused) == len(mailboxes):
        _reset(connection)
        raise smtplib.SMTPRecipientsRefused(refused)
    connection.putcmd("data")
    code, reply = connection.getreply()
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    if data.startswith(b".") or b"\n." in data:
        data = _LINE_STARTING_WITH_A_DOT.sub(b"..", data)
    connection.send(data + b".\r\n" if data.endswith(b"\r\n") else data + b"\r\n.\r\n")
    code, reply = connection.getreply()
    if code != 250:
        _end_refused(connection, code)
        raise smtplib.SMTPDataError(code, reply)
    return refused


def _end_refused(connection: smtplib.SMTP, code: int) -> None:
    """After a refused MAIL FROM or message, as smtplib does: a server closing (421) is closed
    here too; any other refusal resets the transaction."""
    if code == 421:
        connection.close()
    else:
        _reset(connection)


def _reset(connection: smtplib.SMTP) -> None:
    """RSET, as smtplib does after a refusal, whatever the server then says."""
    with suppress(smtplib.SMTPServerDisconnected):
        connection.rset()


def _path(address: str) -> str:
    """``address`` as MAIL FROM and RCPT TO write it, ``<user@domain>``: what smtplib's
    ``quoteaddr`` makes of it, without parsing a bare address again."""
    if _BARE_ADDRESS.fullmatch(address):
        return f"<{address}>"
    return smtplib.quoteaddr(address)


class FileTransport:
    """The embedded default: each message becomes ``<instance>/mail/<id>-<kind>.eml``."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def send(self, claim: Claim, sender: str, data: bytes) -> dict:
        """Write the message to its .eml file, atomically; no recipient is ever refused."""
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
    """Send every outbox message due now, batch by batch, and return what became of them.

    Each batch is claimed in one transaction and sent over the one connection; outcomes are
    written ``MAIL_RECORD_EVERY`` messages at a time (``_record``), so a worker that dies
    between two writes has sent at most that many messages it did not record: they are sent
    again, once its lease lapses. The run keeps one database connection, committing on it, so
    no transaction pays for a pool checkout and its ping.
    """
    config = current_app.config
    transport = transport or make_transport(config)
    batch_size = batch_size or int(config["MAIL_BATCH_SIZE"])
    record_every = max(int(config["MAIL_RECORD_EVERY"]), 1)
    report = DeliveryReport()
    try:
        with (
            db.engine.connect() as connection,
            _outcomes_without_flush(connection),
            _arrays_in_binary(connection),
        ):
            while batch := claim_due(now(), batch_size, connection=connection):
                _send_batch(batch, transport, now, report, record_every, connection)
    finally:
        transport.close()
    return report


@contextmanager
def _outcomes_without_flush(connection: Connection) -> Iterator[None]:
    """On PostgreSQL, let the run's commits return before the WAL reaches the disk (20-50 ms
    each on a busy one), except the claims' (``claim_due`` asks for a flush): a claim's commit
    flushes every outcome written before it. So a crash of the worker loses nothing it
    committed, and only a crash of the database server itself can lose outcomes, those of the
    batch in hand. The setting is the connection's; it is reset before the pool takes it back.
    """
    if connection.dialect.name != "postgresql":
        yield
        return
    connection.exec_driver_sql("SET synchronous_commit TO OFF")
    connection.commit()
    try:
        yield
    finally:
        try:
            connection.rollback()
            connection.exec_driver_sql("RESET synchronous_commit")
            connection.commit()
        except SQLAlchemyError:
            connection.invalidate()  # never back in the pool with the setting


@contextmanager
def _arrays_in_binary(connection: Connection) -> Iterator[None]:
    """On PostgreSQL, send the run's array parameters (the held ids, each group's outcomes a
    column) in binary: psycopg writes a list as text by default, element by element in Python
    (about 1 ms of CPU a group of 25 outcomes, three times the binary's). Every array here is
    of one type, cast by its statement, which binary needs. The text default is back before
    the pool takes the connection back."""
    if connection.dialect.name != "postgresql":
        yield
        return
    adapters = connection.connection.dbapi_connection.adapters
    # The last registered of a type's dumpers is the one ``%s`` parameters use.
    adapters.register_dumper(list, ListBinaryDumper)
    try:
        yield
    finally:
        adapters.register_dumper(list, ListDumper)


# The claim's statements, built once: SQLAlchemy caches each one's SQL by its structure, and a
# statement built anew for every claim pays for working that structure out again.
_messages = OutboxMessage.__table__
_recipients = OutboxRecipient.__table__
_DUE = or_(
    and_(_messages.c.status.in_(MAIL_WAITING), _messages.c.next_attempt_at <= bindparam("now")),
    and_(_messages.c.status == MAIL_SENDING, _messages.c.lease_expires_at <= bindparam("now")),
)
_CLAIM_MESSAGES = (
    update(_messages)
    .where(
        _messages.c.id.in_(
            select(_messages.c.id)
            .where(_DUE)
            .order_by(_messages.c.next_attempt_at, _messages.c.id)
            .limit(bindparam("limit", type_=Integer))
            # PostgreSQL workers pass each other's rows instead of queueing behind them
            # (SQLite, one writer at a time, has no row locks: it renders nothing).
            .with_for_update(skip_locked=True)
        ),
        _DUE,
    )
    .values(
        status=MAIL_SENDING,
        claim_token=bindparam("token"),
        lease_expires_at=bindparam("lease_expires_at"),
        attempts=_messages.c.attempts + 1,
    )
    .returning(_messages.c.id, _messages.c.kind, _messages.c.attempts)
)


@dataclass(frozen=True)
class _HeldStatements:
    """The claim's statements on the messages it holds, whose ids are its parameter ``held``."""

    recipients: Select
    stored_bytes: Select


def _held_statements(is_held: Callable[[Column], ColumnElement[bool]]) -> _HeldStatements:
    """The claim's statements on the held messages, ``is_held`` telling a message id held."""
    return _HeldStatements(
        # Read, not written: the message's claim holds its recipients too (``claim_due``).
        recipients=select(
            _recipients.c.id,
            _recipients.c.outbox_message_id,
            _recipients.c.address,
            _recipients.c.status,
            _recipients.c.attempts,
            _recipients.c.next_attempt_at,
            _recipients.c.last_error,
        )
        .where(is_held(_recipients.c.outbox_message_id))
        .order_by(_recipients.c.id),
        stored_bytes=select(OutboxMessageBytes.outbox_message_id, OutboxMessageBytes.data).where(
            is_held(OutboxMessageBytes.outbox_message_id)
        ),
    )


# The held ids are one parameter: on PostgreSQL an array, so each statement's text (and the plan
# the server prepared for it) is the same whatever their number; elsewhere (SQLite has no
# arrays) a list that SQLAlchemy expands into ``IN (?, ?, ...)`` at each execution.
_HELD_ON_POSTGRESQL = _held_statements(
    lambda column: column == any_(bindparam("held", type_=ARRAY(Integer)))
)
_HELD_ELSEWHERE = _held_statements(lambda column: column.in_(bindparam("held", expanding=True)))


def claim_due(now: datetime, limit: int, *, connection: Connection | None = None) -> list[Claim]:
    """Take up to ``limit`` due messages, with their recipients due, for this worker alone, and
    commit the claim (on ``connection``, or one of its own); returns them with their bytes,
    built here for rows queued without.

    The conditional UPDATE re-checks each row's status, so of two workers racing for a row only
    one matches it (PostgreSQL re-reads a row another transaction just changed; SQLite runs
    one writer at a time). ``SKIP LOCKED`` lets PostgreSQL workers pass each other's rows
    instead of queueing behind them. The message's claim holds its recipients too: no other
    worker reads them while it holds, so they are only read here (those due are the claim's)
    and written once, with their outcome, by ``_record`` while the claim is still this
    worker's; a recipient already sent the message is never sent it again. A claim whose
    worker died lapses when its lease does; its recipients, left as they were, are then
    claimed again with the message. Three statements (four on PostgreSQL) and one commit a
    batch, whatever its size.
    """
    if connection is None:
        with db.engine.connect() as own:
            return claim_due(now, limit, connection=own)
    token = uuid.uuid4().hex
    lease = timedelta(seconds=float(current_app.config["MAIL_LEASE_SECONDS"]))
    postgresql = connection.dialect.name == "postgresql"
    if postgresql:
        # Durable, whatever the run's setting: a claim must survive the server's crash, and
        # its commit flushes the outcomes written before it.
        connection.exec_driver_sql("SET LOCAL synchronous_commit TO ON")
    messages = connection.execute(
        _CLAIM_MESSAGES,
        {"now": now, "limit": limit, "token": token, "lease_expires_at": now + lease},
    ).all()
    if not messages:
        connection.rollback()
        return []
    # The ids the claim returned, not a look-up by token: no index to keep up on every write.
    held = {"held": [message.id for message in messages]}
    statements = _HELD_ON_POSTGRESQL if postgresql else _HELD_ELSEWHERE
    # Each held message's recipients due now, and the states of the others (sent, failed, or
    # due later; most messages have none).
    claimed: dict[int, list[ClaimedRecipient]] = {}
    others: dict[int, list[tuple[int, str, datetime, str | None]]] = {}
    for recipient in connection.execute(statements.recipients, held):
        if _is_due(recipient, now):
            claimed.setdefault(recipient.outbox_message_id, []).append(
                ClaimedRecipient(recipient.id, recipient.address, recipient.attempts + 1)
            )
        else:
            others.setdefault(recipient.outbox_message_id, []).append(
                (recipient.id, recipient.status, recipient.next_attempt_at, recipient.last_error)
            )
    stored = _stored_bytes(connection, statements, held)
    # Hold no transaction while talking to SMTP (on SQLite it would be the write lock), nor
    # while building the few rows queued without their bytes.
    connection.commit()
    built = _build_missing([message.id for message in messages if message.id not in stored])
    claims = []
    for message in sorted(messages):
        data, error = stored.get(message.id), None
        if data is None:
            data, error = built[message.id]
        claims.append(
            Claim(
                id=message.id,
                kind=message.kind,
                token=token,
                attempts=message.attempts,
                recipients=tuple(claimed.get(message.id, ())),
                others=tuple(others.get(message.id, ())),
                data=data,
                error=error,
            )
        )
    return claims


def _is_due(recipient, now: datetime) -> bool:
    """Whether a held message's recipient is to be sent it now: waiting and due, or left
    ``sending`` by a worker of before claims lived on the message alone (whether it got
    through is unknown)."""
    if recipient.status in MAIL_WAITING:
        return recipient.next_attempt_at <= now
    return recipient.status == MAIL_SENDING


# The held messages' stored bytes on PostgreSQL, for a cursor of psycopg's own (``_stored_bytes``).
_STORED_BYTES_ON_POSTGRESQL = (
    "SELECT outbox_message_id, data FROM outbox_message_bytes"
    " WHERE outbox_message_id = ANY(%s::integer[])"
)


def _stored_bytes(
    connection: Connection, statements: _HeldStatements, held: dict
) -> dict[int, bytes]:
    """The held messages' stored bytes, by message id.

    On PostgreSQL they are read in binary, through psycopg's own cursor: SQLAlchemy asks for
    text, and ``bytea`` as text is hex, twice the bytes for the server to write and the worker
    to read back (about 0.02 s of CPU for 500 confirmations). Same connection, same transaction.
    """
    if connection.dialect.name != "postgresql":
        return dict(connection.execute(statements.stored_bytes, held).all())
    with connection.connection.dbapi_connection.cursor() as cursor:
        cursor.execute(_STORED_BYTES_ON_POSTGRESQL, (held["held"],), binary=True)
        return dict(cursor.fetchall())


def _build_missing(ids: list[int]) -> dict[int, tuple[bytes | None, str | None]]:
    """The bytes of held messages queued without them (before they were built at queue time,
    or not buildable), or None and the reason one cannot be built, by message id."""
    if not ids:
        return {}
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    built: dict[int, tuple[bytes | None, str | None]] = {}
    for message in db.session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids))):
        try:
            built[message.id] = (wire_bytes(message, sender), None)
        except ValueError as error:  # a row that cannot become a message never will
            built[message.id] = (None, str(error))
    db.session.rollback()
    return built


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
        is_auto_generated=message.kind not in HAND_WRITTEN_KINDS,
    )


def wire_bytes(message: OutboxMessage, sender: str) -> bytes:
    """The outbox row as the bytes that go over SMTP (about 4 ms for a confirmation with its
    invite); raises ``ValueError`` when the row cannot become a message (an address that is
    not one)."""
    return to_bytes(build_message(envelope_for(message, sender)))


@dataclass
class _Outcomes:
    """Outcomes sent but not yet written: the recipients' and the messages' new values, as
    ``executemany`` parameters, and the log lines to write once they are committed."""

    recipients: list[dict]
    messages: list[dict]
    logs: list[tuple]


# What an outcome sets in a message's row, kept only while the row's claim is still ours; the
# names of ``_Outcomes``' parameters, with their types. A recipient's outcome names its message
# (``b_message``) instead of a token of its own: it is kept only while its message's claim is.
_MESSAGE_OUTCOME = {
    "b_id": Integer(),
    "b_token": String(),
    "b_status": String(),
    "b_error": Text(),
    "b_sent_at": UTCDateTime(),
    "b_next": UTCDateTime(),
}
_RECIPIENT_OUTCOME = {**_MESSAGE_OUTCOME, "b_message": Integer()}


def _recording(table: Table, outcome, still_held: ColumnElement[bool], **values) -> Update:
    """The UPDATE writing outcomes to ``table``'s rows from ``outcome``'s columns (bound
    parameters, or the columns of a list of outcomes) where ``still_held``, releasing their
    claims."""
    return (
        update(table)
        .where(table.c.id == outcome.b_id, still_held)
        .values(
            status=outcome.b_status,
            claim_token=None,
            last_error=outcome.b_error,
            # None keeps what the row holds.
            sent_at=func.coalesce(outcome.b_sent_at, table.c.sent_at),
            next_attempt_at=func.coalesce(outcome.b_next, table.c.next_attempt_at),
            **values,
        )
    )


def _one_outcome(fields: dict) -> SimpleNamespace:
    """One outcome a parameter set, for ``executemany``: SQLite runs it in process, row by
    row."""
    return SimpleNamespace(**{name: bindparam(name, type_=type_) for name, type_ in fields.items()})


_ONE_RECIPIENT = _one_outcome(_RECIPIENT_OUTCOME)
_ONE_MESSAGE = _one_outcome(_MESSAGE_OUTCOME)
# Recipients first, while their message still holds the token the message's UPDATE releases.
_RECORD_RECIPIENT = _recording(
    _recipients,
    _ONE_RECIPIENT,
    select(_messages.c.id)
    .where(
        _messages.c.id == _recipients.c.outbox_message_id,
        _messages.c.claim_token == _ONE_RECIPIENT.b_token,
    )
    .exists(),
    attempts=_recipients.c.attempts + 1,
)
_RECORD_MESSAGE = _recording(
    _messages, _ONE_MESSAGE, _messages.c.claim_token == _ONE_MESSAGE.b_token, lease_expires_at=None
)


def _outcome_rows(fields: dict, name: str):
    """A group's outcomes as one array a column (parameters ``<name>_<field>``), for a
    statement joined to them all: PostgreSQL would otherwise run (and answer) one UPDATE a
    row."""
    return (
        func.unnest(
            *(bindparam(f"{name}_{field}", type_=ARRAY(type_)) for field, type_ in fields.items())
        )
        .table_valued(*fields)
        .render_derived(name=name)
        .c
    )


# On PostgreSQL a group's outcomes are one statement, one round trip: the messages' UPDATE, as
# a data-modifying CTE, releases the claims still ours (locking those rows, so no other worker
# claims them meanwhile), and the recipients' UPDATE writes the recipients of those it
# released, and no others.
_MESSAGE_OUTCOMES = _outcome_rows(_MESSAGE_OUTCOME, "message_outcome")
_RELEASED = (
    _recording(
        _messages,
        _MESSAGE_OUTCOMES,
        _messages.c.claim_token == _MESSAGE_OUTCOMES.b_token,
        lease_expires_at=None,
    )
    .returning(_messages.c.id)
    .cte("released")
)
# The recipients' outcomes need no token here: ``released`` holds only the claims still ours.
_RECIPIENT_OUTCOME_JOINED = {
    field: type_ for field, type_ in _RECIPIENT_OUTCOME.items() if field != "b_token"
}
_RECIPIENT_OUTCOMES = _outcome_rows(_RECIPIENT_OUTCOME_JOINED, "recipient_outcome")
_RECORD_AT_ONCE = _recording(
    _recipients,
    _RECIPIENT_OUTCOMES,
    and_(
        _recipients.c.outbox_message_id == _RELEASED.c.id,
        _RELEASED.c.id == _RECIPIENT_OUTCOMES.b_message,
    ),
    attempts=_recipients.c.attempts + 1,
)


def _send_batch(
    batch: list[Claim],
    transport: SmtpTransport | FileTransport,
    now: Callable[[], datetime],
    report: DeliveryReport,
    record_every: int,
    connection: Connection,
) -> None:
    envelope_sender = ascii_address(current_app.config["MAIL_DEFAULT_SENDER"])
    outage: DeliveryError | None = None
    pending = _Outcomes([], [], [])
    for claim in batch:
        if len(pending.messages) >= record_every:
            _record(pending, connection)
            pending = _Outcomes([], [], [])
        if outage is not None or not claim.recipients:
            _settle(claim, _all_failed(claim, outage), now(), report, pending)
            continue
        if claim.data is None:
            failure = DeliveryError(claim.error or "cannot be built", permanent=True)
            _settle(claim, _all_failed(claim, failure), now(), report, pending)
            continue
        # Each address mail cannot carry fails alone, untried; the rest are sent.
        unreachable = _unreachable(claim)
        sending = claim
        if unreachable:
            sending = replace(
                claim, recipients=tuple(r for r in claim.recipients if r.id not in unreachable)
            )
        if not sending.recipients:
            _settle(claim, unreachable, now(), report, pending)
            continue
        try:
            refused = transport.send(sending, envelope_sender, claim.data)
        except DeliveryError as error:
            _settle(claim, {**_all_failed(sending, error), **unreachable}, now(), report, pending)
            if error.connection:
                outage = error
            continue
        refused = {mailbox.lower(): reply for mailbox, reply in refused.items()}
        outcomes: dict[int, Outcome] = dict(unreachable)
        for recipient in sending.recipients:
            reply = refused and refused.get(recipient.mailbox.lower())
            if not reply:
                outcomes[recipient.id] = (MAIL_SENT, None)
            else:
                code, text = reply
                permanent = 500 <= code < 600
                outcomes[recipient.id] = (
                    MAIL_FAILED if permanent else MAIL_RETRYING,
                    f"{code} {_text(text)}",
                )
        _settle(claim, outcomes, now(), report, pending)
    _record(pending, connection)


def _unreachable(claim: Claim) -> dict[int, Outcome]:
    """The claim's recipients mail cannot carry (``envelope_address``), each failed with why."""
    failed: dict[int, Outcome] = {}
    for recipient in claim.recipients:
        try:
            recipient.mailbox  # noqa: B018 (the check is the conversion)
        except UndeliverableAddress as error:
            failed[recipient.id] = (MAIL_FAILED, str(error))
    return failed


def _all_failed(claim: Claim, error: DeliveryError | None) -> dict[int, Outcome]:
    """The same failure for every recipient the claim tried (or, without an error, none)."""
    if error is None:
        return {}
    status = MAIL_FAILED if error.permanent else MAIL_RETRYING
    return {recipient.id: (status, str(error)) for recipient in claim.recipients}


def _settle(
    claim: Claim,
    outcomes: dict[int, Outcome],
    now: datetime,
    report: DeliveryReport,
    pending: _Outcomes,
) -> None:
    """Work out each claimed recipient's new state, then the message's from all its recipients
    (``summary_status``, the others as claimed), and add them to ``pending`` for ``_record``.

    A recipient refused for now waits ``retry_delay`` after its own attempts, or fails for good
    after ``MAIL_MAX_ATTEMPTS``.
    """
    config = current_app.config
    max_attempts = int(config["MAIL_MAX_ATTEMPTS"])
    states = list(claim.others)
    for recipient in claim.recipients:
        status, error = outcomes.get(recipient.id, (MAIL_RETRYING, "not tried"))
        sent_at = next_attempt_at = None
        if status == MAIL_SENT:
            sent_at = now
            report.recipients_sent += 1
        elif status == MAIL_RETRYING and recipient.attempts >= max_attempts:
            status, error = MAIL_FAILED, f"gave up after {recipient.attempts} attempts: {error}"
            report.recipients_failed += 1
        elif status == MAIL_RETRYING:
            next_attempt_at = now + retry_delay(recipient.attempts, config)
            report.recipients_retrying += 1
        else:
            report.recipients_failed += 1
        pending.recipients.append(
            {
                "b_id": recipient.id,
                "b_message": claim.id,
                "b_token": claim.token,
                "b_status": status,
                "b_error": error,
                "b_sent_at": sent_at,
                "b_next": next_attempt_at,
            }
        )
        states.append((recipient.id, status, next_attempt_at, error))
    states.sort()
    status = summary_status(state for _, state, _, _ in states)
    waiting = [when for _, state, when, _ in states if state in MAIL_WAITING and when is not None]
    # The distinct replies of the recipients without the message, for the message as a whole.
    errors = dict.fromkeys(error for _, state, _, error in states if state != MAIL_SENT)
    pending.messages.append(
        {
            "b_id": claim.id,
            "b_token": claim.token,
            "b_status": status,
            "b_error": "; ".join(error for error in errors if error) or None,
            "b_sent_at": now if status == MAIL_SENT else None,
            "b_next": min(waiting) if waiting else None,
        }
    )
    if status == MAIL_SENT:
        report.sent += 1
    elif status == MAIL_FAILED:
        report.failed += 1
    else:
        report.retrying += 1
    counts = {
        state: sum(1 for row in states if row[1] == state)
        for state in (MAIL_SENT, MAIL_RETRYING, MAIL_FAILED)
    }
    pending.logs.append(
        (
            status,
            claim.id,
            claim.kind,
            status,
            claim.attempts,
            counts[MAIL_SENT],
            len(states),
            counts[MAIL_RETRYING],
            counts[MAIL_FAILED],
        )
    )


def _record(pending: _Outcomes, connection: Connection) -> None:
    """Write the pending outcomes and release their claims, in one transaction (on SQLite an
    ``executemany`` for the recipients, then one for the messages; on PostgreSQL one statement
    joined to them all); then log each message.

    Every write is conditional on the message's claim token, so a worker whose lease lapsed
    cannot overwrite what the worker that took over recorded.
    """
    if not pending.messages:
        return
    if connection.dialect.name == "postgresql":
        connection.execute(
            _RECORD_AT_ONCE,
            {
                **_columns(pending.messages, _MESSAGE_OUTCOME, "message_outcome"),
                **_columns(pending.recipients, _RECIPIENT_OUTCOME_JOINED, "recipient_outcome"),
            },
        )
    else:
        if pending.recipients:
            connection.execute(_RECORD_RECIPIENT, pending.recipients)
        connection.execute(_RECORD_MESSAGE, pending.messages)
    connection.commit()
    for status, *arguments in pending.logs:
        # Counts only: addresses and replies (which name them) stay out of the logs.
        log = current_app.logger.info if status == MAIL_SENT else current_app.logger.warning
        log(
            "mail %s (%s) %s after attempt %d: %d of %d recipients sent, %d retrying, %d failed",
            *arguments,
        )


def _columns(outcomes: list[dict], fields: dict, name: str) -> dict[str, list]:
    """Outcomes as one list a parameter, for ``_outcome_rows(fields, name)``."""
    return {f"{name}_{field}": [outcome[field] for outcome in outcomes] for field in fields}


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def watch(
    interval: float,
    *,
    should_stop: Callable[[], bool],
    on_report: Callable[[DeliveryReport], None] = lambda report: None,
    periodic: Sequence[PeriodicJob] = (),
) -> None:
    """Deliver due email every ``interval`` seconds, and run the ``periodic`` jobs (the
    features' reminders, handed in by the command) every minute, committing after them;
    surviving a locked database or a mail server gone away (``training.workers.loop``)."""
    next_periodic_run = 0.0

    def deliver_round() -> None:
        nonlocal next_periodic_run
        if periodic and time.monotonic() >= next_periodic_run:
            for job in periodic:
                job(utcnow())
            db.session.commit()
            next_periodic_run = time.monotonic() + PERIODIC_JOB_SECONDS
        report = deliver_due()
        if report.total:
            on_report(report)

    worker_loop.run(MAIL_WORKER, deliver_round, interval=interval, should_stop=should_stop)
