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
    """An aiosmtpd server on 127.0.0.1 that keeps every message, or answers with ``replies``."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.received: list[Received] = []
        # Answers to give to the next DATA commands instead of accepting, e.g. "451 4.3.0 busy".
        self.replies: list[str] = []
        self.controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope):
        if self.replies:
            return self.replies.pop(0)
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 2.0.0 OK"

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
