"""How organization names and provider IDs are compared: pure functions, no app needed."""

import hashlib
import re
import unicodedata

from confusable_homoglyphs.utils import load as load_homoglyph_data

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


def _fold(text: str) -> str:
    """``text`` without accents or other marks, case-folded."""
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()


def _look_alike_table() -> dict[int, str]:
    """For ``str.translate``: each folded letter or digit outside ASCII that Unicode's
    confusables (UTS #39 ``confusables.txt``, as shipped by confusable_homoglyphs) pair with
    ASCII letters or digits, as those: Cyrillic "ѕ" and "у" as "s" and "y", dotless "ı" as "i",
    "æ" as "ae", "ø" as "o". The data pairs characters both ways; a letter paired only with
    other non-ASCII ones takes theirs, repeated until nothing changes, since chains exist
    (Cherokee "Ꮗ" pairs with Cyrillic "Ѡ", whose folded "ѡ" pairs with "w"). ASCII is left as
    it is ("m" is not read as "rn", nor "1" as "l"), and so is punctuation."""
    pairs: dict[str, list[str]] = {}
    for char, entries in load_homoglyph_data("confusables.json").items():
        if len(char) != 1 or not _WORD.fullmatch(char):
            continue
        key = _fold(char)
        if len(key) == 1 and not key.isascii():  # the folded letter's own pairs first
            looks = [_fold(entry["c"]) for entry in entries]
            pairs[key] = looks + pairs.get(key, []) if key == char else pairs.get(key, []) + looks
    table: dict[str, str] = {}
    while True:
        found = {}
        for char, looks in pairs.items():
            if char in table:
                continue
            for look in looks:
                look = "".join(table.get(ch, ch) for ch in "".join(_WORD.findall(look)))
                if look and look.isascii():
                    found[char] = look
                    break
        if not found:
            return {ord(char): look for char, look in table.items()}
        table.update(found)


_LOOK_ALIKES = _look_alike_table()


def organization_key(name: str) -> str:
    """A key equal for names that differ only in case, accents, letters of other scripts that
    look like Latin ones (Cyrillic "Ѕ" for "S", dotless "ı", "Æ" for "AE"), punctuation,
    spacing, "The" at either end ("Group, The"), "St." for "Saint" or a legal suffix (written
    with periods or not: "L.L.C."; "& Co." and "and Company" too); at most ``KEY_LENGTH``
    characters.

    >>> organization_key("Acme Health, Inc.") == organization_key("ACME  health LLC")
    True
    """
    folded = _fold(name)
    if not folded.isascii():  # most names are: skip the table
        folded = folded.translate(_LOOK_ALIKES)
    folded = _DOTTED.sub(lambda dotted: dotted.group().replace(".", "") + " ", folded)
    core = _WORD.findall(folded.replace("&", " and "))
    if len(core) > 1 and core[0] == "the":
        core.pop(0)
    if len(core) > 1 and core[-1] == "the":  # "Permanente Group, The"
        core.pop()
    while len(core) > 1 and core[-1] in LEGAL_SUFFIXES:
        core.pop()
        if len(core) > 1 and core[-1] == "and":  # "& Co.", "and Company"
            core.pop()
    # "St." before another word is "Saint" ("St. Agnes"); last, it may be a street.
    if "st" in core[:-1]:
        core = [
            "saint" if word == "st" and at < len(core) - 1 else word for at, word in enumerate(core)
        ]
    key = "".join(core)
    if len(key) > KEY_LENGTH:  # "&" read as "and", a ligature as its letters: a key can grow
        digest = hashlib.sha256(key.encode()).hexdigest()
        key = key[: KEY_LENGTH - len(digest)] + digest
    return key


def provider_id_digits(value: str) -> str:
    """The digits of an ACCME provider ID as people type it (spaces and dashes dropped)."""
    return re.sub(r"[\s\-.]", "", value)
