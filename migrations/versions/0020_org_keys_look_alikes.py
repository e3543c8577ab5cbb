"""organization keys read look-alike letters (Cyrillic "Ѕ", dotless "ı", "Æ"), "St." and ", The"

Revision ID: 0020_org_keys_look_alikes
Revises: 0019_sandbox_learner_identity
Create Date: 2026-12-01 17:10:00

Each signup's organization_key is worked out again from its name with the rule of this revision
(a copy: the app's ``organization_key`` may change later): a letter or digit of another script
that Unicode's confusables pair with ASCII ones (from the pinned confusable_homoglyphs data)
reads as those, so Cyrillic "Ѕ" and "у", dotless "ı", "Æ" and "Ø" read as "s", "y", "i", "ae"
and "o"; "St." before a word reads as "Saint"; "The" at the end ("Group, The") is dropped. As
0016 did, a key is changed only where no other active signup of the same program already holds
the new one: two bookings that only now read as the same organization stay as they are, for
staff to merge from the duplicates page (the unique index on active signups would refuse the
change). Downgrading keeps the keys.
"""

import hashlib
import re
import unicodedata

import sqlalchemy as sa
from alembic import op
from confusable_homoglyphs.utils import load as load_homoglyph_data

# revision identifiers, used by Alembic.
revision = "0020_org_keys_look_alikes"
down_revision = "0019_sandbox_learner_identity"
branch_labels = None
depends_on = None

_SUFFIXES = frozenset(
    {
        "inc", "incorporated", "llc", "llp", "lp", "ltd", "limited", "corp", "corporation",
        "co", "company", "pc", "pllc", "pa", "plc", "foundation", "fdn",
    }
)  # fmt: skip
_WORD = re.compile(r"[^\W_]+")
_DOTTED = re.compile(r"(?<![^\W_])(?:[^\W\d_]\.)+[^\W\d_]\.?(?![^\W_])")


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()


def _look_alike_table() -> dict[int, str]:
    pairs: dict[str, list[str]] = {}
    for char, entries in load_homoglyph_data("confusables.json").items():
        if len(char) != 1 or not _WORD.fullmatch(char):
            continue
        key = _fold(char)
        if len(key) == 1 and not key.isascii():
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


def _key(name: str, look_alikes: dict[int, str]) -> str:
    folded = _fold(name).translate(look_alikes)
    folded = _DOTTED.sub(lambda dotted: dotted.group().replace(".", "") + " ", folded)
    core = _WORD.findall(folded.replace("&", " and "))
    if len(core) > 1 and core[0] == "the":
        core.pop(0)
    if len(core) > 1 and core[-1] == "the":
        core.pop()
    while len(core) > 1 and core[-1] in _SUFFIXES:
        core.pop()
        if len(core) > 1 and core[-1] == "and":
            core.pop()
    core = [
        "saint" if word == "st" and at < len(core) - 1 else word for at, word in enumerate(core)
    ]
    key = "".join(core)
    if len(key) > 200:
        digest = hashlib.sha256(key.encode()).hexdigest()
        key = key[: 200 - len(digest)] + digest
    return key


def upgrade():
    look_alikes = _look_alike_table()
    connection = op.get_bind()
    signups = connection.execute(
        sa.text(
            "SELECT id, program_id, organization_name, organization_key, status FROM signups "
            "ORDER BY id"
        )
    ).all()
    held = {(row.program_id, row.organization_key) for row in signups if row.status != "cancelled"}
    for row in signups:
        key = _key(row.organization_name, look_alikes)
        if key == row.organization_key:
            continue
        if row.status != "cancelled":
            if (row.program_id, key) in held:
                continue
            held.discard((row.program_id, row.organization_key))
            held.add((row.program_id, key))
        connection.execute(
            sa.text("UPDATE signups SET organization_key = :key WHERE id = :id"),
            {"key": key, "id": row.id},
        )


def downgrade():
    pass
