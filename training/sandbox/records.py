"""The organization's sandbox records: as the judge asks about them while it reads a file, and
as an attempt writes them (its findings, and its accepted rows' records, in batches)."""

import hashlib
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, exists, insert, select, update

from training.extensions import db, utcnow
from training.sandbox import judge
from training.sandbox.models import SandboxAttempt, SandboxFinding, SandboxRecord


def _digest(parts: Iterable[object]) -> str:
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()


def record_digest(key: judge.RecordKey) -> str:
    """The indexed form of a record key."""
    return _digest((*key.learner, key.activity_id, key.completion_date.isoformat(), key.board))


def learner_digest(learner: judge.LearnerKey) -> str:
    """The indexed form of a learner key."""
    return _digest(learner)


class DatabaseRecords:
    """The organization's sandbox records as they were before the file being judged.

    Records a file adds stay pending until the file is judged, so they are not seen here: the
    judge itself compares rows within one file.
    """

    def __init__(self, signup_id: int):
        self.signup_id = signup_id
        self.has_any = (
            db.session.scalar(
                select(SandboxRecord.id)
                .where(SandboxRecord.signup_id == signup_id, SandboxRecord.is_pending.is_(False))
                .limit(1)
            )
            is not None
        )

    def _exists(self, *conditions) -> bool:
        if not self.has_any:
            return False
        return bool(
            db.session.scalar(
                select(
                    exists().where(
                        SandboxRecord.signup_id == self.signup_id,
                        SandboxRecord.is_pending.is_(False),
                        *conditions,
                    )
                )
            )
        )

    def find(self, key: judge.RecordKey) -> bool:
        """True when the sandbox holds a record with this key."""
        return self._exists(SandboxRecord.record_key == record_digest(key))

    def has_completion(self, learner: judge.LearnerKey, activity_id: str) -> bool:
        """True when the sandbox holds any record of this learner for this activity."""
        return self._exists(
            SandboxRecord.learner_key == learner_digest(learner),
            SandboxRecord.activity_id == activity_id,
        )


class RecordWriter:
    """Writes an attempt's findings and accepted rows in batches, in row order."""

    def __init__(self, attempt: SandboxAttempt):
        self.attempt_id = attempt.id
        self.signup_id = attempt.signup_id
        self.findings: list[dict[str, Any]] = []
        self.records: list[dict[str, Any]] = []

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

    def apply(self, result: judge.RowResult) -> None:
        """Make an accepted row's change: add a pending record, or mark one for deletion."""
        record = result.record
        if record is None:  # a learner checked, not reported: nothing to keep
            return
        key = judge.record_key(record)
        if result.action == "Delete":
            self.flush()
            self._delete(record_digest(key))
            return
        self.records.append(
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
                "created_at": utcnow(),
            }
        )

    def _delete(self, digest: str) -> None:
        same_record = (SandboxRecord.signup_id == self.signup_id) & (
            SandboxRecord.record_key == digest
        )
        # A record this same file added a few rows up goes at once; others when the file is done.
        added_here = db.session.execute(
            delete(SandboxRecord).where(
                same_record,
                SandboxRecord.is_pending.is_(True),
                SandboxRecord.added_by_attempt_id == self.attempt_id,
            )
        ).rowcount
        if not added_here:
            db.session.execute(
                update(SandboxRecord)
                .where(
                    same_record,
                    SandboxRecord.is_pending.is_(False),
                    SandboxRecord.deleting_attempt_id.is_(None),
                )
                .values(deleting_attempt_id=self.attempt_id)
            )

    def flush(self) -> None:
        """Write what is kept, in two INSERTs."""
        if self.findings:
            db.session.execute(insert(SandboxFinding), self.findings)
            self.findings = []
        if self.records:
            db.session.execute(insert(SandboxRecord), self.records)
            self.records = []
