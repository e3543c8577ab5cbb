"""The MIME message for an outbox row: pure code, no app needed."""

import quopri
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.charset import BASE64, QP, Charset
from email.header import Header
from email.headerregistry import Address
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.utils import format_datetime
from functools import lru_cache

from training.mail.addresses import UndeliverableAddress, envelope_address, parsed_address

# RFC 5322 2.1.1: lines of at most 78 characters.
LINE_LENGTH = 78
# The message is built under compat32: each header is kept as the string set, never parsed
# again. CRLF line ends: the bytes an SMTP server expects.
WIRE_POLICY = policy.compat32.clone(linesep="\r\n")


class _AsFolded(policy.Compat32):
    """Compat32, writing a header as this module folded it when its lines keep within 78
    characters (``set_header`` folds what it sets so), folding only a longer one (the
    invite attachment's Content-Type) as compat32 does. Compat32's own ``fold_binary`` builds
    an ``email.header.Header`` for every header of every part to fold it again (about a
    seventh of the CPU of a confirmation's bytes); the default policy's
    ``refold_source="long"`` would not, but parses each Content-Type read while writing
    through the header registry, which costs more than the folding saved."""

    def fold_binary(self, name: str, value: str) -> bytes:
        """``name: value``, with the line breaks already in ``value`` if they are enough and it
        is ASCII; anything else as compat32 writes it."""
        lines = value.splitlines() or [""]
        if (
            not value.isascii()
            or len(name) + 2 + len(lines[0]) > LINE_LENGTH
            or any(len(line) > LINE_LENGTH for line in lines[1:])
        ):
            return super().fold_binary(name, value)
        return f"{name}: {self.linesep.join(lines)}{self.linesep}".encode("ascii")


_WRITE_POLICY = _AsFolded(linesep="\r\n")


class _Utf8QuotedPrintable(Charset):
    """UTF-8 bodies as quoted-printable, encoded by ``quopri`` (C, via ``binascii``) rather than
    ``email.quoprimime``, which encodes character by character in Python (a third of the CPU
    of a confirmation's bytes). Decoded, the bodies are the same; a lone CR is kept as ``=0D``
    rather than turned into a line break."""

    def __init__(self):
        super().__init__("utf-8")
        self.body_encoding = QP

    def body_encode(self, string: bytes | str) -> str:
        """``string`` (a body's UTF-8 bytes) as quoted-printable text."""
        data = string.encode(self.output_charset) if isinstance(string, str) else string
        return quopri.encodestring(data).decode("ascii")


def _utf8(body_encoding: int) -> Charset:
    charset = Charset("utf-8")
    charset.body_encoding = body_encoding
    return charset


# Text and HTML quoted-printable (readable in a message's source), the invite base64 (its
# lines must reach the calendar exactly as built).
TEXT_CHARSET = _Utf8QuotedPrintable()
CALENDAR_CHARSET = _utf8(BASE64)
# Header text outside ASCII as base64 encoded words ("B"): measuring a "Q" word again for each
# character added, as ``email.header`` does, costs time that grows with the square of its length
# (a confirmation's subject holds the date's en dash: a fifth of its bytes' CPU).
HEADER_CHARSET = Charset("utf-8")
HEADER_CHARSET.header_encoding = BASE64
INVITE_FILENAME = "invite.ics"
UTF8 = "utf-8"
QP_ENCODING = "quoted-printable"
BASE64_ENCODING = "base64"

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
    # Written by the program on its own, not by a person: marked so (RFC 3834), so mail
    # programs send no out-of-office or other automatic reply back to it.
    is_auto_generated: bool = True


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
    return Header(text, HEADER_CHARSET, header_name=header_name).encode(linesep="\n").split("\n")


def address_field(field: str, addresses: Sequence[Address]) -> str:
    """The value of address header ``field`` (From, To, Reply-To) folded for ``set_header``: one
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


def set_header(message: Message, field: str, value: str | Sequence[Address]) -> None:
    """Set ``field`` to header text or addresses, folded here so that it decodes to exactly
    what was meant: non-ASCII text as encoded words (``encoded_words``), plain text at spaces,
    addresses on one line when they fit, else one a line (``address_field``)."""
    if isinstance(value, str):
        if needs_encoding(value):
            folded = "\n".join(encoded_words(value, header_name=field))
        else:
            # Folded at spaces only: a break straight after "Subject:" (Python 3.11's folder
            # made one) is read back by parsers with a leading space.
            folded = Header(value, header_name=field, maxlinelen=LINE_LENGTH).encode(
                splitchars=" ", linesep="\n"
            )
    elif any(needs_encoding(item.display_name) for item in value):
        folded = address_field(field, value)
    else:
        folded = ", ".join(str(item) for item in value)
        if len(field) + 2 + len(folded) > LINE_LENGTH:
            folded = address_field(field, value)
    message[field] = folded


# An addr_spec of dot-atoms (RFC 5322 §3.4.1) with an ASCII host name: nothing in it is quoted.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_ADDR_SPEC = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")


@lru_cache(maxsize=256)
def address(value: str) -> Address:
    """``"Name <user@example.org>"`` or a bare address as a header-safe ``Address``
    (remembered: the sender and the staff's reply-to address are the same in every email)."""
    name, addr_spec = parsed_address(header_text(value))
    if not addr_spec or "@" not in addr_spec:
        raise ValueError("not an email address")
    # The domain in ASCII (IDNA); an address that cannot travel raises UndeliverableAddress.
    addr_spec = envelope_address(addr_spec)
    if _PLAIN_ADDR_SPEC.fullmatch(addr_spec):
        # The email package's strict parse of such an address gives back its two halves as
        # they are (about 40 µs for each of a signup's new recipients).
        username, _, domain = addr_spec.rpartition("@")
        return Address(display_name=name, username=username, domain=domain)
    # Anything else (a quoted local part, a domain literal, an error to report) is parsed.
    return Address(display_name=name, addr_spec=addr_spec)


def _reachable(recipients: Sequence[str]) -> list[Address]:
    """``recipients`` as ``address`` makes them, less those mail cannot carry; what is no
    address at all still raises ``ValueError``. Each is parsed once (``address``, remembered)."""
    reachable = []
    for recipient in recipients:
        try:
            reachable.append(address(recipient))
        except UndeliverableAddress:
            continue
    return reachable


def build_message(envelope: Envelope) -> Message:
    """The message as RFC 6047 and mail clients want it.

    multipart/mixed > multipart/alternative > text/plain, text/html, text/calendar (method=),
    then the same calendar bytes as an ``invite.ics`` attachment. Without a calendar it is
    just the multipart/alternative.

    Built from the email package's ``Message`` classes under ``WIRE_POLICY`` (compat32 rules),
    each leaf's body encoded once (``_leaf_part``): headers are kept as the strings this module
    folded, never parsed through the header registry, which halves the CPU a confirmation with
    its invite takes to build with ``EmailMessage`` (issue 14 §5: it is built at queue time, in
    the signup's request).
    """
    if (envelope.calendar is None) != (envelope.calendar_method is None):
        raise ValueError("a calendar needs its method, and a method its calendar")
    alternative = MIMEMultipart("alternative", boundary=_new_boundary(), policy=WIRE_POLICY)
    alternative.attach(_text_part(envelope.text_body, "plain"))
    if envelope.html_body is not None:
        alternative.attach(_text_part(envelope.html_body, "html"))
    message = alternative
    if envelope.calendar is not None:
        # Encoded once: the inline part and the attachment carry the same base64 lines.
        calendar = CALENDAR_CHARSET.body_encode(envelope.calendar)
        method = envelope.calendar_method
        alternative.attach(_leaf_part("calendar", calendar, BASE64_ENCODING, method=method))
        attached = _leaf_part(
            "calendar", calendar, BASE64_ENCODING, method=method, name=INVITE_FILENAME
        )
        attached.add_header("Content-Disposition", "attachment", filename=INVITE_FILENAME)
        message = MIMEMultipart(
            "mixed", boundary=_new_boundary(), _subparts=[alternative, attached], policy=WIRE_POLICY
        )
    for part in message.walk():
        if part is not message:
            # Each MIME class stamps MIME-Version; RFC 2045 wants it only on top.
            del part["MIME-Version"]
    message["Message-ID"] = envelope.message_id
    message["Date"] = format_datetime(envelope.date)
    set_header(message, "From", [address(envelope.sender)])
    # A recipient mail cannot reach is left off the To line; the worker fails it alone.
    set_header(message, "To", _reachable(envelope.recipients) or [address(envelope.sender)])
    if envelope.reply_to:
        set_header(message, "Reply-To", [address(envelope.reply_to)])
    set_header(message, "Subject", header_text(envelope.subject))
    if envelope.is_auto_generated:
        message["Auto-Submitted"] = "auto-generated"
    return message


def _new_boundary() -> str:
    """A random multipart boundary that cannot occur in the parts: "=_" is never in
    quoted-printable or base64 text (RFC 2045 §6.7), every leaf part is one or the other and a
    nested multipart's boundary is another random value, so the parts need not be searched for
    it, as the email package does for a boundary of its own (a regular expression compiled for
    each). Short enough for its Content-Type line to keep within 78 characters."""
    return f"=_{uuid.uuid4().hex[:24]}"


def _text_part(text: str, subtype: str) -> Message:
    # Ending with a line break, as a text part should (templates drop their last one).
    ended = text if text.endswith("\n") else text + "\n"
    return _leaf_part(subtype, TEXT_CHARSET.body_encode(ended.encode()), QP_ENCODING)


def _leaf_part(subtype: str, encoded: str, encoding: str, **params: str) -> Message:
    """A ``text/<subtype>`` part in UTF-8 holding ``encoded``, its body already in the transfer
    ``encoding``, with the Content-Type's other ``params``: the headers ``MIMEText`` and
    ``set_param`` write, in one ``add_header`` each (``MIMEText`` sets the charset again
    through ``set_param``, which parses and rewrites the Content-Type it has just written, as
    each later ``set_param`` does; about a fifth of the CPU of a confirmation's bytes)."""
    part = Message(policy=WIRE_POLICY)
    part.add_header("Content-Type", f"text/{subtype}", charset=UTF8, **params)
    part["Content-Transfer-Encoding"] = encoding
    part.set_payload(encoded)
    return part


def to_bytes(message: Message) -> bytes:
    """The message exactly as it goes over SMTP or into an ``.eml`` file."""
    return message.as_bytes(policy=_WRITE_POLICY)
