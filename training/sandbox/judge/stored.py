"""What the worker stores of a judgement: findings and record changes as plain rows (dicts for
one executemany each), in parts of a given number of data rows, with the record keys' digests.

A batch of one-line rows (``judge.batches``) gives its rows' stored values straight from its
columns and verdicts, without a RowResult, Finding or LearnerRecord per row; every other row is
turned from its RowResult here, so both give the same values (tests compare them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from training.sandbox.judge.findings import Finding
from training.sandbox.judge.records import LearnerRecord, RecordKey, record_key
from training.sandbox.judge.register import LearnerKey

# A finding's column as stored (the column holds 100 characters).
COLUMN_MAX_LENGTH = 100

# A record change: ("add", the record's values) or ("delete", {"digest": its record key}).
Change = tuple[str, dict[str, Any]]


def key_digest(parts: Iterable[object]) -> str:
    """The indexed form of a key: SHA-256 of its parts joined, in hex."""
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()


def record_digest(key: RecordKey) -> str:
    """The indexed form of a record key."""
    return key_digest((*key.learner, key.activity_id, key.completion_date.isoformat(), key.board))


def learner_digest(learner: LearnerKey) -> str:
    """The indexed form of a learner key."""
    return key_digest(learner)


def finding_row(finding: Finding, *, of_file: bool = False) -> dict[str, Any]:
    """A finding as stored (``of_file``: about the file as a whole)."""
    return {
        "is_file_level": of_file,
        "row": finding.row,
        "column": finding.column[:COLUMN_MAX_LENGTH],
        "severity": finding.severity,
        "code": finding.code,
        "message": finding.message,
    }


def record_row(
    record: LearnerRecord, learner: LearnerKey, completion_date: date, board_key: str
) -> dict[str, Any]:
    """An added record's values as stored, with its record and learner keys' digests."""
    values = record.__dict__.copy()
    values["credit_awards"] = credit_awards_row(record.credit_awards)
    first, last, month, day = learner
    day_text = completion_date.isoformat()
    values["record_key"] = key_digest((first, last, month, day, record.activity_id, day_text,
                                       board_key))  # fmt: skip
    values["learner_key"] = key_digest(learner)
    return values


def change_of(action: str, record: LearnerRecord | None) -> Change | None:
    """An accepted row's change: add its record, or delete the record it names; None for a
    learner checked and not reported."""
    if record is None:
        return None
    key = record_key(record)
    if action == "Delete":
        return "delete", {"digest": record_digest(key)}
    return "add", record_row(record, key.learner, key.completion_date, key.board)


def credit_awards_row(awards: tuple[tuple[str, Decimal], ...]) -> list[list[str]]:
    """Credits by credit type as stored (JSON: the credits as text)."""
    return [[kind, str(credits)] for kind, credits in awards]


class StoredPart:
    """The findings and record changes (runs of one kind, in row order) of a run of rows."""

    __slots__ = ("changes", "findings", "rows_judged", "whole")

    def __init__(self, rows_judged: int) -> None:
        self.rows_judged = rows_judged  # data rows judged up to the end of this part
        self.whole = False  # ends where a part of the full size ends (not the file's end)
        self.findings: list[dict[str, Any]] = []
        self.changes: list[tuple[str, list[dict[str, Any]]]] = []

    def add_change(self, change: Change) -> None:
        """Keep a change after the earlier ones."""
        kind, values = change
        changes = self.changes
        if not changes or changes[-1][0] != kind:
            changes.append((kind, []))
        changes[-1][1].append(values)
