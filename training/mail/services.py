"""Queueing email: render the templates and write the outbox row in the caller's transaction."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, lru_cache
from typing import Any

from flask import current_app, render_template
from sqlalchemy import LargeBinary, Select, String, bindparam, func, insert, select, true, update
from sqlalchemy.dialects.postgresql import ARRAY

from training.database import column_parameters
from training.extensions import db, utcnow
from training.mail.addresses import ascii_address, parsed_address
from training.mail.delivery import wire_bytes
from training.mail.models import (
    MAIL_FAILED,
    MAIL_QUEUED,
    MAIL_RETRYING,
    MAIL_SENDING,
    OutboxMessage,
    OutboxMessageBytes,
    OutboxRecipient,
)

SUBJECT_LENGTH = 300


def public_url(endpoint: str, **values) -> str:
    """An absolute link for emails, built from ``PUBLIC_URL``, never from a request's Host."""
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return current_app.config["PUBLIC_URL"].rstrip("/") + path


def mail_domain() -> str:
    """The domain of the sending address, in ASCII (its IDNA form, as the From line has it):
    Message-IDs and invite UIDs end with it, and neither may hold other characters."""
    return _domain_of(current_app.config["MAIL_DEFAULT_SENDER"])


@lru_cache(maxsize=16)
def _domain_of(sender: str) -> str:
    return ascii_address(sender).rpartition("@")[2] or "localhost"


# A signup's few addresses are compared a dozen times in its request (its recipients, the
# invite's attendees, the outbox's one row per mailbox): a pure function, remembered.
@lru_cache(maxsize=1024)
def mailbox_key(address: str) -> str:
    """How two spellings of one address compare: ``Jordan.Reyes@Example.org``,
    ``jordan.reyes@example.org`` and ``Jordan <jordan.reyes@example.org>`` are one mailbox
    (providers fold case; RFC 5321 allows them not to, but no one hands out addresses differing
    only in case). The one rule for every recipient list and invite."""
    return (parsed_address(address)[1] or address).strip().lower()


def one_per_mailbox(recipients: list[str]) -> list[str]:
    """``recipients`` with each mailbox once (``mailbox_key``), the first spelling kept, in
    order."""
    mailboxes: dict[str, str] = {}
    for recipient in recipients:
        mailboxes.setdefault(mailbox_key(recipient), recipient)
    return list(mailboxes.values())


def queue_email(
    kind: str,
    recipients: list[str],
    subject: str,
    signup: Any = None,
    *,
    calendar: str | None = None,
    method: str | None = None,
    reply_to: str | None = None,
    **context,
) -> int:
    """Render ``mail/<kind>.txt`` and ``.html``, add the email to the outbox and return its id.

    ``signup`` is the booking the email is about (its program's staff answer replies), or
    None. With ``calendar`` (iCalendar text, built by the feature that sends the invite), the
    row also carries its ``method`` (REQUEST or CANCEL). The message's bytes are built here
    (``OutboxMessageBytes``), so the worker only sends them. The rows are written at once, not
    left to the ORM's flush: the message, its bytes and its recipients by one statement on
    PostgreSQL (``_queue_statement``), three on SQLite, however many recipients; the caller's
    commit makes them visible to the worker.
    """
    if (calendar is None) != (method is None):
        raise ValueError("a calendar needs its method, and a method its calendar")
    context.update(signup=signup, method=method)
    if reply_to is None and signup is not None:
        reply_to = signup.program.staff_email
    if signup is not None and signup.id is None:
        db.session.flush()  # the message names the signup by its id
    if len(subject) > SUBJECT_LENGTH:
        subject = f"{subject[: SUBJECT_LENGTH - 1]}…"
    now = utcnow()
    values = {
        "kind": kind,
        "signup_id": signup.id if signup is not None else None,
        "recipients": one_per_mailbox(recipients),
        "reply_to": reply_to,
        "subject": subject,
        "text_body": render_template(f"mail/{kind}.txt", **context),
        "html_body": render_template(f"mail/{kind}.html", **context),
        "calendar": calendar,
        "calendar_method": method,
        "message_id": f"<{uuid.uuid4().hex}@{mail_domain()}>",
        "status": MAIL_QUEUED,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,  # the Date header of the bytes built below
    }
    # Built now, once, so the worker only sends it. A row that cannot be built is kept without
    # bytes: the worker fails it, with the reason, when it claims it.
    try:
        # ``wire_bytes`` reads an outbox row: this one is never added to the session (nor are
        # its deliveries made: they are written below).
        data = wire_bytes(
            OutboxMessage(**values, deliveries=[]), current_app.config["MAIL_DEFAULT_SENDER"]
        )
    except ValueError:
        data = None
    if db.session.get_bind().dialect.name == "postgresql":
        return db.session.execute(
            _queue_statement(with_bytes=data is not None),
            {
                **{
                    f"message_{column.key}": values.get(column.key)
                    for column in OutboxMessage.__table__.columns
                },
                "data": data,
                "addresses": values["recipients"],
            },
        ).scalar_one()
    messages = OutboxMessage.__table__
    message_id = db.session.execute(
        insert(messages).values(values).returning(messages.c.id)
    ).scalar_one()
    if data is not None:
        db.session.execute(
            insert(OutboxMessageBytes.__table__).values(outbox_message_id=message_id, data=data)
        )
    deliveries = [
        {
            "outbox_message_id": message_id,
            "address": recipient,
            "status": MAIL_QUEUED,
            "attempts": 0,
            "next_attempt_at": now,
        }
        for recipient in values["recipients"]
    ]
    if deliveries:
        db.session.execute(insert(OutboxRecipient.__table__), deliveries)
    return message_id


@cache
def _queue_statement(*, with_bytes: bool) -> Select:
    """PostgreSQL: an outbox message, its bytes (``with_bytes``) and a delivery row for each
    of its addresses, queued by one statement (data-modifying CTEs, the addresses passed as an
    array), answering the message's id. Built once, so its compiled form is cached."""
    messages = OutboxMessage.__table__
    recipients = OutboxRecipient.__table__
    new_message = (
        insert(messages)
        .values(column_parameters(messages, "message_"))
        .returning(messages.c.id)
        .cte("new_message")
    )
    addresses = (
        func.unnest(bindparam("addresses", type_=ARRAY(String)))
        .table_valued("address")
        .render_derived(name="addresses")
    )
    new_deliveries = insert(recipients).from_select(
        ["outbox_message_id", "address", "status", "attempts", "next_attempt_at"],
        select(
            new_message.c.id,
            addresses.c.address,
            bindparam("message_status", type_=messages.c.status.type),
            bindparam("message_attempts", type_=messages.c.attempts.type),
            bindparam("message_next_attempt_at", type_=messages.c.next_attempt_at.type),
        ).select_from(new_message.join(addresses, true())),
    )
    statement = select(new_message.c.id).add_cte(new_deliveries.cte("new_deliveries"))
    if with_bytes:
        new_bytes = insert(OutboxMessageBytes.__table__).from_select(
            ["outbox_message_id", "data"],
            select(new_message.c.id, bindparam("data", type_=LargeBinary)),
        )
        statement = statement.add_cte(new_bytes.cte("new_bytes"))
    return statement


def requeue_message(message: OutboxMessage) -> bool:
    """Send a failed or retrying message again now, as the same message, to the recipients who
    do not have it (those sent it are never sent it twice); False if it can't be."""
    now = utcnow()
    requeued = db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message.id,
            OutboxMessage.status.in_([MAIL_FAILED, MAIL_RETRYING]),
        )
        .values(status=MAIL_QUEUED, next_attempt_at=now, attempts=0)
        .execution_options(synchronize_session=False)
    ).rowcount
    if requeued == 1:
        db.session.execute(
            update(OutboxRecipient)
            .where(
                OutboxRecipient.outbox_message_id == message.id,
                OutboxRecipient.status.in_([MAIL_FAILED, MAIL_RETRYING]),
            )
            .values(status=MAIL_QUEUED, next_attempt_at=now, attempts=0)
            .execution_options(synchronize_session=False)
        )
    db.session.expire(message)
    return requeued == 1


@dataclass(frozen=True)
class HeldClaim:
    """Messages one worker claimed longer ago than a batch takes: it may have stopped, and
    they go out again once its lease lapses (``released_at``)."""

    messages: int
    claimed_at: datetime
    released_at: datetime


@dataclass(frozen=True)
class DeliveryFigures:
    """The outbox at a glance: messages and recipients by state, the servers' replies to the
    recipients waiting to retry and those failed, most frequent first, and the claims held
    longer than a batch takes, oldest first."""

    messages: dict[str, int]
    recipients: dict[str, int]
    retrying_because: list[tuple[str, int]]
    failed_because: list[tuple[str, int]]
    held_long: list[HeldClaim]

    @property
    def sending(self) -> int:
        """Messages claimed by a worker now."""
        return self.messages.get(MAIL_SENDING, 0)


def held_claims(now: datetime) -> list[HeldClaim]:
    """The messages being sent whose claim is older than ``MAIL_HELD_WARNING_SECONDS``, one
    entry a lease (a claim's batch shares it), oldest first."""
    config = current_app.config
    lease = timedelta(seconds=float(config["MAIL_LEASE_SECONDS"]))
    held_warning = timedelta(seconds=float(config["MAIL_HELD_WARNING_SECONDS"]))
    rows = db.session.execute(
        select(OutboxMessage.lease_expires_at, func.count())
        .where(
            OutboxMessage.status == MAIL_SENDING,
            OutboxMessage.lease_expires_at <= now + lease - held_warning,
        )
        .group_by(OutboxMessage.lease_expires_at)
        .order_by(OutboxMessage.lease_expires_at)
    ).all()
    return [HeldClaim(count, released_at - lease, released_at) for released_at, count in rows]


def delivery_figures(now: datetime, *, reasons: int = 5) -> DeliveryFigures:
    """Count the outbox's messages and recipients by state, with up to ``reasons`` distinct
    replies for the retrying and for the failed recipients, and the claims held longer than a
    batch takes at ``now`` (four queries)."""
    messages = dict(
        db.session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        ).all()
    )
    recipients = dict(
        db.session.execute(
            select(OutboxRecipient.status, func.count()).group_by(OutboxRecipient.status)
        ).all()
    )
    count = func.count().label("count")
    replies = db.session.execute(
        select(OutboxRecipient.status, OutboxRecipient.last_error, count)
        .where(OutboxRecipient.status.in_([MAIL_RETRYING, MAIL_FAILED]))
        .group_by(OutboxRecipient.status, OutboxRecipient.last_error)
        .order_by(count.desc(), OutboxRecipient.last_error)
    ).all()

    def because(status: str) -> list[tuple[str, int]]:
        found = [
            (error or "no reply recorded", n) for state, error, n in replies if state == status
        ]
        return found[:reasons]

    return DeliveryFigures(
        messages=messages,
        recipients=recipients,
        retrying_because=because(MAIL_RETRYING),
        failed_because=because(MAIL_FAILED),
        held_long=held_claims(now) if messages.get(MAIL_SENDING) else [],
    )
