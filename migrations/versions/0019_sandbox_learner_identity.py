"""sandbox record keys tell learners apart by their identifiers, not only names and birthday

Revision ID: 0019_sandbox_learner_identity
Revises: 0018_walkthrough_started
Create Date: 2026-12-01 16:30:00

Each sandbox record's record_key and learner_key digests are worked out again from its stored
columns with the key rule of this revision (a copy: the judge's ``learner_key`` may change
later): folded names, birthday and now the identifiers the learner was reported under (NPI, or
licensing state and license; the board ID when a board is given). Downgrading works them out
again without the identifiers.
"""

import hashlib

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0019_sandbox_learner_identity"
down_revision = "0018_walkthrough_started"
branch_labels = None
depends_on = None

_NPI_DIGITS = 10
_BATCH = 5_000


def _name_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def _license_key(license_number: str) -> str:
    return "".join(license_number.replace("-", " ").split()).upper()


def _identity(state, license_or_npi, board, board_id) -> str:
    parts = []
    if license_or_npi:
        if len(license_or_npi) == _NPI_DIGITS and license_or_npi.isdigit():
            parts.append(license_or_npi)
        else:
            parts.append(f"{state or ''}:{_license_key(license_or_npi)}")
    if board and board_id:
        parts.append(f"{board}#{board_id}")
    return " ".join(parts)


def _digest(parts) -> str:
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()


def _rekey(*, with_identity: bool) -> None:
    connection = op.get_bind()
    records = connection.execute(
        sa.text(
            "SELECT id, activity_id, completion_date, first_name, last_name, birth_month, "
            "birth_day, state, license_or_npi, board, board_id FROM sandbox_records ORDER BY id"
        )
    ).all()
    changes = []
    for record in records:
        learner = (_name_key(record.first_name), _name_key(record.last_name),
                   record.birth_month, record.birth_day)  # fmt: skip
        if with_identity:
            learner += (
                _identity(record.state, record.license_or_npi, record.board, record.board_id),
            )
        completion = record.completion_date
        day = completion if isinstance(completion, str) else completion.isoformat()
        changes.append(
            {
                "id": record.id,
                "record_key": _digest((*learner, record.activity_id, day[:10], record.board or "")),
                "learner_key": _digest(learner),
            }
        )
    update = sa.text(
        "UPDATE sandbox_records SET record_key = :record_key, learner_key = :learner_key "
        "WHERE id = :id"
    )
    for start in range(0, len(changes), _BATCH):
        connection.execute(update, changes[start : start + _BATCH])


def upgrade():
    _rekey(with_identity=True)


def downgrade():
    _rekey(with_identity=False)
