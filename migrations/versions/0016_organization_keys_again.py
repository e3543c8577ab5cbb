"""organization keys read abbreviations written with periods (L.L.C.) and "& Co." as suffixes

Revision ID: 0016_organization_keys_again
Revises: 0015_sandbox_pars_files
Create Date: 2026-12-01 12:30:00

Each signup's organization_key is worked out again from its name with the rule of this revision
(a copy: the app's ``organization_key`` may change later). A key is changed only where no other
active signup of the same program already holds the new one: two bookings that only now read
as the same organization stay as they are, for staff to merge from the duplicates page (the
unique index on active signups would refuse the change). Downgrading keeps the keys.
"""

import hashlib
import re
import unicodedata

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0016_organization_keys_again"
down_revision = "0015_sandbox_pars_files"
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


def _key(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name)
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch)).casefold()
    folded = _DOTTED.sub(lambda dotted: dotted.group().replace(".", "") + " ", folded)
    words = _WORD.findall(folded.replace("&", " and "))
    core = words[1:] if len(words) > 1 and words[0] == "the" else list(words)
    while len(core) > 1 and core[-1] in _SUFFIXES:
        core.pop()
        if len(core) > 1 and core[-1] == "and":
            core.pop()
    key = "".join(core)
    if len(key) > 200:
        digest = hashlib.sha256(key.encode()).hexdigest()
        key = key[: 200 - len(digest)] + digest
    return key


def upgrade():
    connection = op.get_bind()
    signups = connection.execute(
        sa.text(
            "SELECT id, program_id, organization_name, organization_key, status FROM signups "
            "ORDER BY id"
        )
    ).all()
    held = {(row.program_id, row.organization_key) for row in signups if row.status != "cancelled"}
    for row in signups:
        key = _key(row.organization_name)
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
