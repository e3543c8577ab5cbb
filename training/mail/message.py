"""The MIME message for an outbox row: pure code, no app needed."""

import re
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

# CRLF line ends and RFC 2047 words for non-ASCII headers: the bytes an SMTP server expects.
WIRE_POLICY = policy.SMTP
INVITE_FILENAME = "invite.ics"

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


@dataclass(frozen=True)
class Envelope:
    """What a message says and to whom, as the outbox row keeps it."""

    message_id: str
    date: datetime
    sender: str
    recipients: tuple[str, ...]
    subject: str
    text_body: str
    html_body: str | None = None
    reply_to: str | None = None
    calendar: bytes | None = None
    calendar_method: str | None = None


def header_text(value: str) -> str:
    """``value`` on one line: CR, LF and other control characters become single spaces."""
    return " ".join(_CONTROL_CHARACTERS.sub(" ", value).split())


def address(value: str) -> Address:
    """``"Name <user@example.org>"`` or a bare address as a header-safe ``Address``."""
    name, addr_spec = parseaddr(header_text(value))
    if not addr_spec or "@" not in addr_spec:
        raise ValueError("not an email address")
    return Address(display_name=name, addr_spec=addr_spec)


def build_message(envelope: Envelope) -> EmailMessage:
    """The message as RFC 6047 and mail clients want it.

    multipart/mixed > multipart/alternative > text/plain, text/html, text/calendar (method=),
    then the same calendar bytes as an ``invite.ics`` attachment. Without a calendar it is
    just the multipart/alternative.
    """
    if (envelope.calendar is None) != (envelope.calendar_method is None):
        raise ValueError("a calendar needs its method, and a method its calendar")
    message = EmailMessage(policy=WIRE_POLICY)
    message["Message-ID"] = envelope.message_id
    message["Date"] = format_datetime(envelope.date)
    message["From"] = address(envelope.sender)
    message["To"] = [address(recipient) for recipient in envelope.recipients]
    if envelope.reply_to:
        message["Reply-To"] = address(envelope.reply_to)
    message["Subject"] = header_text(envelope.subject)
    message.set_content(envelope.text_body, cte="quoted-printable")
    if envelope.html_body is not None:
        message.add_alternative(envelope.html_body, subtype="html", cte="quoted-printable")
    if envelope.calendar is not None:
        params = {"charset": "UTF-8", "method": envelope.calendar_method}
        message.add_alternative(
            envelope.calendar, maintype="text", subtype="calendar", params=params
        )
        message.add_attachment(
            envelope.calendar,
            maintype="text",
            subtype="calendar",
            filename=INVITE_FILENAME,
            params={**params, "name": INVITE_FILENAME},
        )
    for part in message.iter_parts():
        _drop_nested_mime_version(part)
    return message


def _drop_nested_mime_version(part: EmailMessage) -> None:
    # EmailMessage stamps MIME-Version on every part it makes; RFC 2045 wants it only on top.
    del part["MIME-Version"]
    for child in part.iter_parts():
        _drop_nested_mime_version(child)


def to_bytes(message: EmailMessage) -> bytes:
    """The message exactly as it goes over SMTP or into an ``.eml`` file."""
    return message.as_bytes(policy=WIRE_POLICY)
