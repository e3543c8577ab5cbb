"""Addresses as SMTP carries them: the envelope's ``RCPT TO`` and the message's To header.

SMTP without the SMTPUTF8 extension (RFC 6531, which many servers lack and this app does not
use) carries ASCII only: a domain in another script travels in its IDNA form (RFC 5890,
``bücher.example`` as ``xn--bcher-kva.example``), and an address with letters outside ASCII
before the @ cannot be delivered at all. The one rule, for the message builder and the worker.
"""

from email.utils import parseaddr
from functools import lru_cache

import idna


class UndeliverableAddress(ValueError):
    """An address mail cannot be sent to without SMTPUTF8; the message says why, for staff."""


def envelope_address(address: str) -> str:
    """``address`` (a bare ``user@domain``) with its domain in ASCII, as RCPT TO takes it.

    Raises ``UndeliverableAddress`` when the part before the @ is not ASCII, or the domain is
    not a valid internationalized domain name (UTS #46 mapping, as browsers apply it).
    """
    local, at, domain = address.rpartition("@")
    if not at or not local:
        raise UndeliverableAddress(f"{address!r} is not an email address")
    if not local.isascii():
        raise UndeliverableAddress(
            f"{address} has letters outside ASCII before the @; mail to it needs SMTPUTF8, "
            "which is not used, so it cannot be sent"
        )
    if domain.isascii():
        return address
    try:
        ascii_domain = idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError as error:
        raise UndeliverableAddress(f"{address} has a domain mail cannot reach ({error})") from None
    return f"{local}@{ascii_domain}"


# Each of a signup's few addresses is parsed by each of its uses in the request (its mailbox key,
# the invite's ATTENDEE, the To line): a pure function of the text, parsed once for all of them.
@lru_cache(maxsize=1024)
def parsed_address(value: str) -> tuple[str, str]:
    """``email.utils.parseaddr(value)``, remembered: the display name and the bare address,
    or two empty strings for what is no address."""
    return parseaddr(value)


# A signup's invite names each of its addresses: a pure function of its string, remembered.
@lru_cache(maxsize=1024)
def ascii_address(value: str) -> str:
    """The address in ``value`` (bare, or ``"Name <user@domain>"`` like MAIL_DEFAULT_SENDER) as
    mail carries it, its domain in ASCII: for ``MAIL FROM``, the From line, the invite's
    ORGANIZER and ATTENDEEs. An address that cannot travel is left as written (no message
    from such a sender is built; such a recipient is failed with the reason)."""
    addr_spec = parsed_address(value)[1]
    try:
        return envelope_address(addr_spec)
    except UndeliverableAddress:
        return addr_spec
