"""What the worker stores of a judgement: findings and record changes as columns (a list a
field, for one executemany each, with no dict or tuple kept a row), in parts of a given number
of data rows, with the record keys' digests.

A batch of one-line rows (``judge.batches``) gives its rows' stored values straight from its
columns and verdicts, without a RowResult, Finding or LearnerRecord per row; every other row is
turned from its RowResult here, so both give the same values (tests compare them).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from operator import attrgetter
from typing import Any

from training.sandbox.judge.findings import Finding
from training.sandbox.judge.records import LearnerRecord, RecordKey, record_key
from training.sandbox.judge.register import LearnerKey

# A finding's column as stored (the column holds 100 characters).
COLUMN_MAX_LENGTH = 100

# The fields of what is stored, in the order of each kind's columns.
FINDING_FIELDS = ("is_file_level", "row", "column", "severity", "code", "message")
_LEARNER_RECORD_FIELDS = tuple(field.name for field in dataclasses.fields(LearnerRecord))
RECORD_FIELDS = (*_LEARNER_RECORD_FIELDS, "record_key", "learner_key")
DIGEST_FIELDS = ("digest",)
_record_values = attrgetter(*_LEARNER_RECORD_FIELDS)

# A record change: ("add", the record's values in RECORD_FIELDS' order) or ("delete", (its
# record key's digest,)).
Change = tuple[str, tuple[Any, ...]]


class Columns:
    """Rows of one kind as a list a field (``fields``): what one executemany takes, made
    without a container a row. Rows appended one at a time (the row-by-row paths) are moved
    into the lists together, when the lists are next read."""

    __slots__ = ("_lists", "_rows", "fields")

    def __init__(self, fields: tuple[str, ...], lists: list[list[Any]] | None = None) -> None:
        self.fields = fields
        self._lists = lists if lists is not None else [[] for _field in fields]
        self._rows: list[Sequence[Any]] = []  # appended, not yet in the lists

    @property
    def lists(self) -> list[list[Any]]:
        """The values, a list a field."""
        if self._rows:
            for values, more in zip(self._lists, zip(*self._rows, strict=True), strict=True):
                values += more
            self._rows = []
        return self._lists

    def __len__(self) -> int:
        return len(self._lists[0]) + len(self._rows)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Columns):
            return NotImplemented
        return self.fields == other.fields and self.lists == other.lists

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Columns({self.fields!r}, {self.lists!r})"

    def append(self, row: Sequence[Any]) -> None:
        """Add one row's values (in the order of ``fields``)."""
        self._rows.append(row)

    def extend(self, other: Columns) -> None:
        """Add another's rows after these."""
        for values, more in zip(self.lists, other.lists, strict=True):
            values += more

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """The rows, a tuple each (made as they are read)."""
        return zip(*self.lists, strict=True)


def key_digest(parts: Iterable[object]) -> str:
    """The indexed form of a key: SHA-256 of its parts joined, in hex."""
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()


def record_digest(key: RecordKey) -> str:
    """The indexed form of a record key."""
    return key_digest((*key.learner, key.activity_id, key.completion_date.isoformat(), key.board))


def learner_digest(learner: LearnerKey) -> str:
    """The indexed form of a learner key."""
    return key_digest(learner)


def finding_row(finding: Finding, *, of_file: bool = False) -> tuple[Any, ...]:
    """A finding as stored, in FINDING_FIELDS' order (``of_file``: about the file as a
    whole)."""
    return (of_file, finding.row, finding.column[:COLUMN_MAX_LENGTH], finding.severity,
            finding.code, finding.message)  # fmt: skip


def record_row(
    record: LearnerRecord, learner: LearnerKey, completion_date: date, board_key: str
) -> tuple[Any, ...]:
    """An added record's values as stored (RECORD_FIELDS' order), with its record and learner
    keys' digests."""
    *values, awards = _record_values(record)
    day_text = completion_date.isoformat()
    record_hex = key_digest((*learner, record.activity_id, day_text, board_key))
    return (*values, credit_awards_row(awards), record_hex, key_digest(learner))


def change_of(action: str, record: LearnerRecord | None) -> Change | None:
    """An accepted row's change: add its record, or delete the record it names; None for a
    learner checked and not reported."""
    if record is None:
        return None
    key = record_key(record)
    if action == "Delete":
        return "delete", (record_digest(key),)
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
        self.findings = Columns(FINDING_FIELDS)
        # ("add", RECORD_FIELDS columns) and ("delete", DIGEST_FIELDS columns), in row order.
        self.changes: list[tuple[str, Columns]] = []

    def add_change(self, change: Change) -> None:
        """Keep a change after the earlier ones."""
        kind, values = change
        changes = self.changes
        if not changes or changes[-1][0] != kind:
            changes.append((kind, Columns(RECORD_FIELDS if kind == "add" else DIGEST_FIELDS)))
        changes[-1][1].append(values)

    def add_changes(self, kind: str, columns: Columns) -> None:
        """Keep a run of changes of one kind after the earlier ones."""
        changes = self.changes
        if changes and changes[-1][0] == kind:
            changes[-1][1].extend(columns)
        else:
            changes.append((kind, columns))
