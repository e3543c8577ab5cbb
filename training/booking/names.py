"""How organization names and provider IDs are compared: pure functions, no app needed."""

import re
import unicodedata

# Words that do not make a different organization when they end (or, for "the", start) a name.
LEGAL_SUFFIXES = frozenset(
    {
        "inc", "incorporated", "llc", "llp", "lp", "ltd", "limited", "corp", "corporation",
        "co", "company", "pc", "pllc", "pa", "plc", "foundation", "fdn",
    }
)  # fmt: skip
_WORD = re.compile(r"[^\W_]+")


def organization_key(name: str) -> str:
    """A key equal for names that differ only in case, accents, punctuation, spacing or suffix.

    >>> organization_key("Acme Health, Inc.") == organization_key("ACME  health LLC")
    True
    """
    folded = unicodedata.normalize("NFKD", name)
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch)).casefold()
    words = _WORD.findall(folded.replace("&", " and "))
    core = words[1:] if len(words) > 1 and words[0] == "the" else list(words)
    while len(core) > 1 and core[-1] in LEGAL_SUFFIXES:
        core.pop()
    return "".join(core)


def provider_id_digits(value: str) -> str:
    """The digits of an ACCME provider ID as people type it (spaces and dashes dropped)."""
    return re.sub(r"[\s\-.]", "", value)
