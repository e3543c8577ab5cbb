"""The organization's sandbox records: as the judge asks about them while it reads a file, and
as an attempt writes them (its findings, and its accepted rows' changes, in batches)."""

import hashlib
from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update

from training.extensions import db, utcnow
from training.sandbox import judge
from training.sandbox.models import SandboxFinding, SandboxRecord


def _digest(parts: Iterable[object]) -> str:
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()


def record_digest(key: judge.RecordKey) -> str:
    """The indexed form of a record key."""
    return _digest((*key.learner, key.activity_id, key.completion_date.isoformat(), key.board))


def learner_digest(learner: judge.LearnerKey) -> str:
    """The indexed form of a learner key."""
    return _digest(learner)


def _key64(digest: str) -> int:
    """The first 64 bits of a hex digest, as an int: what HeldRecords keeps of each key."""
    return int(digest[:16], 16)


class HeldRecords:
    """The organization's sandbox records as they were before the file being judged, read
    once in one query (two 64-bit numbers a record) so judging asks the database nothing.

    Records a file adds stay pending until the file is judged, so they are not seen here: the
    judge itself compares rows within one file. Keys are SHA-256 prefixes: two different
    records share one with a chance of about 1 in 10**10 for 50,000 rows against 40,000
    records.
    """

    def __init__(self, signup_id: int):
        self.record_keys: set[int] = set()
        self.completions: set[int] = set()
        rows = db.session.execute(
            select(SandboxRecord.record_key, SandboxRecord.learner_key, SandboxRecord.activity_id)
            .where(SandboxRecord.signup_id == signup_id, SandboxRecord.is_pending.is_(False))
            .execution_options(yield_per=10_000)
        )
        for record_key, learner_key, activity_id in rows:
            self.record_keys.add(_key64(record_key))
            self.completions.add(_key64(_digest((learner_key, activity_id))))

    def __len__(self) -> int:
        return len(self.record_keys)

    def find(self, key: judge.RecordKey) -> bool:
        """True when the sandbox holds a record with this key."""
        return bool(self.record_keys) and _key64(record_digest(key)) in self.record_keys

    def has_completion(self, learner: judge.LearnerKey, activity_id: str) -> bool:
        """True when the sandbox holds any record of this learner for this activity."""
        if not self.completions:
            return False
        return _key64(_digest((learner_digest(learner), activity_id))) in self.completions


class RecordWriter:
    """Keeps an attempt's findings and accepted rows' changes, and writes them in batches: one
    executemany a kind of statement (every row with the same keys, so none is split), the
    rows' changes in row order."""

    def __init__(self, attempt_id: int, signup_id: int):
        self.attempt_id = attempt_id
        self.signup_id = signup_id
        self.findings: list[dict[str, Any]] = []
        # Runs of ("add", record rows) and ("delete", record digests), in row order.
        self.changes: list[tuple[str, list[dict[str, Any]]]] = []

    def add_findings(self, findings: Iterable[judge.Finding], *, of_file: bool = False) -> None:
        """Keep ``findings`` to write (``of_file``: about the file as a whole)."""
        self.findings.extend(
            {
                "attempt_id": self.attempt_id,
                "is_file_level": of_file,
                "row": finding.row,
                "column": finding.column[:100],
                "severity": finding.severity,
                "code": finding.code,
                "message": finding.message,
            }
            for finding in findings
        )

    def _run(self, kind: str) -> list[dict[str, Any]]:
        if not self.changes or self.changes[-1][0] != kind:
            self.changes.append((kind, []))
        return self.changes[-1][1]

    def apply(self, result: judge.RowResult) -> None:
        """Keep an accepted row's change: add a pending record, or delete one."""
        record = result.record
        if record is None:  # a learner checked, not reported: nothing to keep
            return
        key = judge.record_key(record)
        if result.action == "Delete":
            self._run("delete").append({"digest": record_digest(key)})
            return
        self._run("add").append(
            {
                "signup_id": self.signup_id,
                "activity_id": record.activity_id,
                "completion_date": record.completion_date,
                "first_name": record.first_name,
                "last_name": record.last_name,
                "birth_month": record.birth_month,
                "birth_day": record.birth_day,
                "state": record.state,
                "license_or_npi": record.license_or_npi,
                "board": record.board,
                "board_id": record.board_id,
                "cme_credits": record.cme_credits,
                "board_credits": record.board_credits,
                "credit_awards": [[kind, str(credits)] for kind, credits in record.credit_awards],
                "record_key": record_digest(key),
                "learner_key": learner_digest(key.learner),
                "added_by_attempt_id": self.attempt_id,
                "is_pending": True,
                "deleting_attempt_id": None,
                "created_at": utcnow(),
            }
        )

    def write(self) -> None:
        """Write what is kept: the findings, then the rows' changes in row order."""
        if self.findings:
            db.session.execute(insert(SandboxFinding.__table__), self.findings)
        for kind, rows in self.changes:
            if kind == "add":
                db.session.execute(insert(SandboxRecord.__table__), rows)
            else:
                self._delete(rows)
        self.findings, self.changes = [], []

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
