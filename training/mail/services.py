"""Queueing email: render the templates and write the outbox row in the caller's transaction."""

import uuid
from email.utils import parseaddr

from flask import current_app, render_template

from training.booking.models import Signup
from training.extensions import db
from training.mail.models import OutboxMessage


def public_url(endpoint: str, **values) -> str:
    """An absolute link for emails, built from ``PUBLIC_URL``, never from a request's Host."""
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return current_app.config["PUBLIC_URL"].rstrip("/") + path


def queue_email(
    kind: str, recipients: list[str], subject: str, signup: Signup | None = None, **context
) -> OutboxMessage:
    """Render ``mail/<kind>.txt`` and add it to the outbox; the caller's commit sends it."""
    sender_domain = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1].rpartition("@")[2]
    message = OutboxMessage(
        kind=kind,
        signup=signup,
        recipients=list(dict.fromkeys(recipients)),
        subject=subject,
        text_body=render_template(f"mail/{kind}.txt", signup=signup, **context),
        message_id=f"<{uuid.uuid4().hex}@{sender_domain or 'localhost'}>",
    )
    db.session.add(message)
    return message
