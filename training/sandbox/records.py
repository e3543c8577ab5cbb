"""The organization's sandbox records: as the judge asks about them while it reads a file, and
as an attempt writes them (its findings, and its accepted rows' changes, in batches)."""

import heapq
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from itertools import repeat
from typing import Any

from sqlalchemy import Table, bindparam, delete, select, update

from training.extensions import db, utcnow
from training.sandbox import judge
from training.sandbox.models import SandboxFinding, SandboxRecord


def _key64(digest: str) -> int:
    """The first 64 bits of a hex digest, as an int: what HeldRecords keeps of each key."""
    return int(digest[:16], 16)


class HeldRecords:
    """The organization's sandbox records as they were before the file being judged, read
    once in one query so judging asks the database nothing: two 64-bit numbers a record, in
    sorted arrays (8 bytes a key, where a set of ints takes about 70), so that an organization
    holding a million records costs the worker 16 MB.

    Records a file adds stay pending until the file is judged, so they are not seen here: the
    judge itself compares rows within one file. Keys are SHA-256 prefixes: two different
    records share one with a chance of about 1 in 10**10 for 50,000 rows against 40,000
    records.
    """

    def __init__(self, signup_id: int):
        record_keys: list[array] = []
        completions: list[array] = []
        rows = db.session.execute(
            select(SandboxRecord.record_key, SandboxRecord.learner_key, SandboxRecord.activity_id)
            .where(SandboxRecord.signup_id == signup_id, SandboxRecord.is_pending.is_(False))
            .execution_options(yield_per=_HELD_PAGE_ROWS)
        )
        # Each page's keys are sorted as they come (a list of ints a page at a time), then the
        # pages merged: a sorted list of them all would hold every key as an int at once.
        for page in rows.partitions():
            record_keys.append(array("Q", sorted(_key64(record_key) for record_key, _, _ in page)))
            completions.append(
                array(
                    "Q",
                    sorted(
                        _key64(judge.key_digest((learner_key, activity_id)))
                        for _, learner_key, activity_id in page
                    ),
                )
            )
        self.record_keys = _merged(record_keys)
        self.completions = _merged(completions)

    def __len__(self) -> int:
        return len(self.record_keys)

    def held_keys(self) -> tuple[array, array]:
        """Every key held, for the judge to look a whole batch of rows up at once: the records'
        keys and the completions' (each the first 64 bits of its SHA-256 digest), sorted."""
        return self.record_keys, self.completions

    def find(self, key: judge.RecordKey) -> bool:
        """True when the sandbox holds a record with this key."""
        return bool(self.record_keys) and _holds(self.record_keys, _key64(judge.record_digest(key)))

    def has_completion(self, learner: judge.LearnerKey, activity_id: str) -> bool:
        """True when the sandbox holds any record of this learner for this activity."""
        if not self.completions:
            return False
        completion = judge.key_digest((judge.learner_digest(learner), activity_id))
        return _holds(self.completions, _key64(completion))


# HeldRecords reads the records this many at a time.
_HELD_PAGE_ROWS = 10_000


def _merged(runs: list[array]) -> array:
    """Sorted arrays merged into one, sorted."""
    if len(runs) == 1:
        return runs[0]
    return array("Q", heapq.merge(*runs))


def _holds(keys: array, key: int) -> bool:
    """Whether the sorted array holds the key."""
    at = bisect_left(keys, key)
    return at < len(keys) and keys[at] == key


class RecordWriter:
    """Keeps an attempt's findings and accepted rows' changes, and writes them in batches: one
    executemany a kind of statement, the rows' changes in row order. Rows are kept as columns
    (``judge.Columns``) and handed to the driver as a tuple a row (``insert_columns``)."""

    def __init__(self, attempt_id: int, signup_id: int):
        self.attempt_id = attempt_id
        self.signup_id = signup_id
        self.findings = judge.Columns(judge.FINDING_FIELDS)
        # Runs of ("add", record columns) and ("delete", digest columns), in row order.
        self.changes: list[tuple[str, judge.Columns]] = []

    def add_findings(self, findings: Iterable[judge.Finding], *, of_file: bool = False) -> None:
        """Keep ``findings`` to write (``of_file``: about the file as a whole)."""
        for finding in findings:
            self.findings.append(judge.finding_row(finding, of_file=of_file))

    def apply(self, result: judge.RowResult) -> None:
        """Keep an accepted row's change: add a pending record, or delete one."""
        change = judge.change_of(result.action, result.record)
        if change is not None:
            kind, values = change
            fields = judge.RECORD_FIELDS if kind == "add" else judge.DIGEST_FIELDS
            self._keep(kind, judge.Columns(fields, [[value] for value in values]))

    def take(self, part: judge.StoredPart) -> None:
        """Keep a judged part's findings and changes (see ``FileJudgement.stored``)."""
        self.findings.extend(part.findings)
        for kind, columns in part.changes:
            self._keep(kind, columns)

    def _keep(self, kind: str, columns: judge.Columns) -> None:
        if self.changes and self.changes[-1][0] == kind:
            self.changes[-1][1].extend(columns)
        else:
            self.changes.append((kind, columns))

    def write(self) -> None:
        """Write what is kept: the findings, then the rows' changes in row order."""
        if len(self.findings):
            insert_columns(SandboxFinding.__table__, self.findings, {"attempt_id": self.attempt_id})
        pending = {
            "signup_id": self.signup_id,
            "added_by_attempt_id": self.attempt_id,
            "is_pending": True,
            "deleting_attempt_id": None,
            "created_at": utcnow(),
        }
        for kind, columns in self.changes:
            if kind == "add":
                insert_columns(SandboxRecord.__table__, columns, pending)
            else:
                self._delete([{"digest": digest} for (digest,) in columns.rows()])
        self.findings, self.changes = judge.Columns(judge.FINDING_FIELDS), []

    def _delete(self, digests: list[dict[str, Any]]) -> None:
        """A record this same file added goes at once; one held from before is marked, and goes
        when the file is done. Both statements run for every digest: a record the file added
        cannot also be held unmarked (its Add would have been a duplicate)."""
        records = SandboxRecord.__table__
        same_record = (records.c.signup_id == self.signup_id) & (
            records.c.record_key == bindparam("digest")
        )
        db.session.execute(
            delete(records).where(
                same_record,
                records.c.is_pending.is_(True),
                records.c.added_by_attempt_id == self.attempt_id,
            ),
            digests,
        )
        db.session.execute(
            update(records)
            .where(
                same_record,
                records.c.is_pending.is_(False),
                records.c.deleting_attempt_id.is_(None),
            )
            .values(deleting_attempt_id=self.attempt_id),
            digests,
        )


# A DBAPI's placeholder for a positional parameter, by its paramstyle (psycopg takes both %s
# and %(name)s).
_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def insert_columns(table: Table, rows: judge.Columns, same: dict[str, Any]) -> None:
    """Insert rows given as columns, with the values in ``same`` on every row, in one
    executemany with a tuple a row: SQLAlchemy's Core insert takes a dict a row and makes
    another of its own, and a part of a large file holds a few thousand rows. Each column's
    values are converted as SQLAlchemy converts them for its type (dates and credits on
    SQLite, JSON, UTC times), a column at a time."""
    connection = db.session.connection()
    dialect = connection.dialect
    preparer = dialect.identifier_preparer
    names = [*same, *rows.fields]
    table_name = preparer.format_table(table)
    column_names = ", ".join(preparer.quote(name) for name in names)
    placeholders = ", ".join([_PLACEHOLDERS[dialect.paramstyle]] * len(names))
    # The table's own names, quoted by the dialect, and placeholders: no value is in the text.
    statement = f"INSERT INTO {table_name} ({column_names}) VALUES ({placeholders})"  # noqa: S608
    count = len(rows)
    columns = []
    for name, values in zip(names, [*([value] for value in same.values()), *rows.lists],
                            strict=True):  # fmt: skip
        convert = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if convert is not None:
            values = list(map(convert, values))
        columns.append(repeat(values[0], count) if name in same else values)
    connection.exec_driver_sql(statement, list(zip(*columns, strict=True)))
