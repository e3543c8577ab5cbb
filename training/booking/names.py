"""How organization names and provider IDs are compared: pure functions, no app needed."""

import hashlib
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
# The longest key kept (the column's length); a longer one ends in its SHA-256 instead.
KEY_LENGTH = 200
# Single letters joined by periods (the last period may be left out): an abbreviation written
# with periods ("L.L.C.", "P.C", "U.S."), read as its letters.
_DOTTED = re.compile(r"(?<![^\W_])(?:[^\W\d_]\.)+[^\W\d_]\.?(?![^\W_])")


def organization_key(name: str) -> str:
    """A key equal for names that differ only in case, accents, punctuation, spacing or suffix
    (a legal suffix, written with periods or not: "L.L.C."; "& Co." and "and Company" too);
    at most ``KEY_LENGTH`` characters.

    >>> organization_key("Acme Health, Inc.") == organization_key("ACME  health LLC")
    True
    """
    folded = unicodedata.normalize("NFKD", name)
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch)).casefold()
    folded = _DOTTED.sub(lambda dotted: dotted.group().replace(".", "") + " ", folded)
    words = _WORD.findall(folded.replace("&", " and "))
    core = words[1:] if len(words) > 1 and words[0] == "the" else list(words)
    while len(core) > 1 and core[-1] in LEGAL_SUFFIXES:
        core.pop()
        if len(core) > 1 and core[-1] == "and":  # "& Co.", "and Company"
            core.pop()
    key = "".join(core)
    if len(key) > KEY_LENGTH:  # "&" read as "and", a ligature as its letters: a key can grow
        digest = hashlib.sha256(key.encode()).hexdigest()
        key = key[: KEY_LENGTH - len(digest)] + digest
    return key


def provider_id_digits(value: str) -> str:
    """The digits of an ACCME provider ID as people type it (spaces and dashes dropped)."""
    return re.sub(r"[\s\-.]", "", value)
