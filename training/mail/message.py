"""The MIME message for an outbox row: pure code, no app needed."""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from training.mail.addresses import envelope_address, is_deliverable

# CRLF line ends and RFC 2047 words for non-ASCII headers: the bytes an SMTP server expects.
# Headers this module folds itself (``set_raw``) go out exactly as folded, never refolded.
WIRE_POLICY = policy.SMTP.clone(refold_source="none")
# RFC 5322 2.1.1: lines of at most 78 characters.
LINE_LENGTH = 78
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


def needs_encoding(text: str) -> bool:
    """Whether header text must go out as RFC 2047 encoded words: it has non-ASCII characters,
    or ASCII that a decoder would take for an encoded word (``=?``)."""
    return not text.isascii() or "=?" in text


def encoded_words(text: str, *, header_name: str | None = None) -> list[str]:
    """``text`` as UTF-8 encoded words (RFC 2047), folded into lines of at most 76 characters
    (the first counted after ``header_name: ``, continuation lines starting with a space).

    Decoding them (``email.header.decode_header``, or the email package's parser for
    unstructured headers) gives back exactly ``text``: each space is inside an encoded word, so
    the white space between words, which decoders drop, is never part of the text. Python
    3.11's own header folder loses or doubles spaces where it folds non-ASCII text ("Pacific
    Hôpital Genève" arrived as "Pacific  HôpitalGenève"), so this module folds such headers
    itself with ``email.header.Header``.
    """
    return Header(text, "utf-8", header_name=header_name).encode(linesep="\n").split("\n")


def address_field(field: str, addresses: Sequence[Address]) -> str:
    """The value of address header ``field`` (From, To, Reply-To) folded for ``set_raw``: one
    address per line, non-ASCII display names as encoded words (``encoded_words``), ASCII ones
    quoted where RFC 5322 wants it. Lines stay within 78 characters unless an address alone is
    longer."""
    lines: list[str] = []
    for index, item in enumerate(addresses):
        comma = "," if index < len(addresses) - 1 else ""
        if needs_encoding(item.display_name):
            words = encoded_words(item.display_name, header_name=field if index == 0 else None)
            words[0] = f"{field}: {words[0]}" if index == 0 else f" {words[0]}"
            angle = f"<{item.addr_spec}>{comma}"
            if len(words[-1]) + 1 + len(angle) <= LINE_LENGTH:
                words[-1] += f" {angle}"
            else:
                words.append(f" {angle}")
        else:
            words = [f"{field}: {item}{comma}" if index == 0 else f" {item}{comma}"]
        lines.extend(words)
    return "\n".join(lines).removeprefix(f"{field}: ")


def set_header(message: EmailMessage, field: str, value: str | Sequence[Address]) -> None:
    """Set ``field`` to header text or addresses so that it decodes to exactly what was meant:
    through the email package when it is plain ASCII, folded by ``encoded_words`` otherwise."""
    if isinstance(value, str):
        if needs_encoding(value):
            message.set_raw(field, "\n".join(encoded_words(value, header_name=field)))
        else:
            # Folded here, at spaces: Python 3.11's folder may break a 70-odd character value
            # straight after "Subject:", which parsers then read with a leading space.
            folded = Header(value, header_name=field, maxlinelen=LINE_LENGTH).encode(
                splitchars=" ", linesep="\n"
            )
            message.set_raw(field, folded)
    elif any(needs_encoding(item.display_name) for item in value):
        message.set_raw(field, address_field(field, value))
    else:
        message[field] = value


def address(value: str) -> Address:
    """``"Name <user@example.org>"`` or a bare address as a header-safe ``Address``."""
    name, addr_spec = parseaddr(header_text(value))
    if not addr_spec or "@" not in addr_spec:
        raise ValueError("not an email address")
    # The domain in ASCII (IDNA); an address that cannot travel raises UndeliverableAddress.
    return Address(display_name=name, addr_spec=envelope_address(addr_spec))


def _reachable(recipient: str) -> bool:
    """False for an address mail cannot carry; what is no address at all stays, for
    ``address`` to refuse."""
    addr_spec = parseaddr(header_text(recipient))[1]
    return not addr_spec or "@" not in addr_spec or is_deliverable(addr_spec)


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
    set_header(message, "From", [address(envelope.sender)])
    # A recipient mail cannot reach is left off the To line; the worker fails it alone.
    set_header(
        message,
        "To",
        [address(recipient) for recipient in envelope.recipients if _reachable(recipient)]
        or [address(envelope.sender)],
    )
    if envelope.reply_to:
        set_header(message, "Reply-To", [address(envelope.reply_to)])
    set_header(message, "Subject", header_text(envelope.subject))
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
