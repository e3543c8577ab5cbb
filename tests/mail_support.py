"""Helpers for the mail tests: a real SMTP server on loopback, and readers for what arrives."""

import email
import socket
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


@dataclass
class Received:
    """One message as the SMTP server took it: envelope and the exact bytes."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=policy.default)


class SmtpSink:
    """An aiosmtpd server on 127.0.0.1 that keeps every message, or answers with ``replies``.

    Like a real receiving server it can refuse single recipients at RCPT: ``greylist`` maps an
    address to how many times it is answered ``450 4.2.0 Greylisted`` before it is accepted,
    and addresses in ``unknown`` are answered ``550 5.1.1`` every time. Addresses compare
    case-insensitively; ``rcpt_replies`` logs each RCPT and the answer it got.
    """

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.received: list[Received] = []
        # Answers to give to the next DATA commands instead of accepting, e.g. "451 4.3.0 busy".
        self.replies: list[str] = []
        self.greylist: dict[str, int] = {}
        self.unknown: set[str] = set()
        self.rcpt_replies: list[tuple[str, str]] = []
        self.controller: Controller | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        mailbox = address.lower()
        greylisted = next(
            (key for key, times in self.greylist.items() if key.lower() == mailbox and times > 0),
            None,
        )
        if mailbox in {key.lower() for key in self.unknown}:
            reply = f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        elif greylisted is not None:
            self.greylist[greylisted] -= 1
            reply = "450 4.2.0 Greylisted, please try again later"
        else:
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(rcpt_options)
            reply = "250 2.1.5 OK"
        self.rcpt_replies.append((address, reply))
        return reply

    async def handle_DATA(self, server, session, envelope):
        if self.replies:
            return self.replies.pop(0)
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 2.0.0 OK"

    def copies_for(self, address: str) -> list[Received]:
        """The messages that arrived for ``address``'s mailbox (one per copy delivered)."""
        mailbox = address.lower()
        return [
            received
            for received in self.received
            if mailbox in (recipient.lower() for recipient in received.rcpt_tos)
        ]

    def start(self) -> "SmtpSink":
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def mime_tree(message: EmailMessage) -> list[str]:
    """Each part's content type, indented by depth, in order."""
    lines: list[str] = []

    def walk(part: EmailMessage, depth: int) -> None:
        lines.append("  " * depth + part.get_content_type())
        if part.is_multipart():
            for child in part.iter_parts():
                walk(child, depth + 1)

    walk(message, 0)
    return lines


def calendar_parts(message: EmailMessage) -> list[EmailMessage]:
    return [part for part in message.walk() if part.get_content_type() == "text/calendar"]


def invite_bytes(message: EmailMessage) -> bytes:
    """The calendar sent with ``message``, after checking both parts carry the same bytes."""
    inline, attached = calendar_parts(message)
    assert inline.get_payload(decode=True) == attached.get_payload(decode=True)
    return inline.get_payload(decode=True)
