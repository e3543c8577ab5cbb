"""The organization's sandbox records: as the judge asks about them while it reads a file, and
as an attempt writes them (its findings, and its accepted rows' changes, in batches)."""

from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update

from training.extensions import db, utcnow
from training.sandbox import judge
from training.sandbox.models import SandboxFinding, SandboxRecord


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
            self.completions.add(_key64(judge.key_digest((learner_key, activity_id))))

    def __len__(self) -> int:
        return len(self.record_keys)

    def held_keys(self) -> tuple[set[int], set[int]]:
        """Every key held, for the judge to look a whole batch of rows up at once: the records'
        keys and the completions' (each the first 64 bits of its SHA-256 digest)."""
        return self.record_keys, self.completions

    def find(self, key: judge.RecordKey) -> bool:
        """True when the sandbox holds a record with this key."""
        return bool(self.record_keys) and _key64(judge.record_digest(key)) in self.record_keys

    def has_completion(self, learner: judge.LearnerKey, activity_id: str) -> bool:
        """True when the sandbox holds any record of this learner for this activity."""
        if not self.completions:
            return False
        completion = judge.key_digest((judge.learner_digest(learner), activity_id))
        return _key64(completion) in self.completions


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
        attempt_id = self.attempt_id
        self.findings.extend(
            {**judge.finding_row(finding, of_file=of_file), "attempt_id": attempt_id}
            for finding in findings
        )

    def apply(self, result: judge.RowResult) -> None:
        """Keep an accepted row's change: add a pending record, or delete one."""
        change = judge.change_of(result.action, result.record)
        if change is not None:
            self._keep(change[0], [change[1]])

    def take(self, part: judge.StoredPart) -> None:
        """Keep a judged part's findings and changes (see ``FileJudgement.stored``)."""
        attempt_id = self.attempt_id
        for finding in part.findings:
            finding["attempt_id"] = attempt_id
        self.findings += part.findings
        for kind, rows in part.changes:
            self._keep(kind, rows)

    def _keep(self, kind: str, rows: list[dict[str, Any]]) -> None:
        if kind == "add":
            pending = {
                "signup_id": self.signup_id,
                "added_by_attempt_id": self.attempt_id,
                "is_pending": True,
                "deleting_attempt_id": None,
                "created_at": utcnow(),
            }
            for row in rows:
                row.update(pending)
        if self.changes and self.changes[-1][0] == kind:
            self.changes[-1][1].extend(rows)
        else:
            self.changes.append((kind, rows))

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
