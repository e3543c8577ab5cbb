"""Sandbox rules: practice activities, judging an upload into findings and records, deleting.

Services flush and raise; the request or CLI command that called them commits. The one
exception is judging in the background worker, which commits its progress as it goes (see
``judge_attempt``'s ``on_progress``).
"""

import csv
import hashlib
import io
import tomllib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import IO, Any

from sqlalchemy import delete, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from training import PROJECT_ROOT
from training.booking.models import Signup
from training.extensions import db, utcnow
from training.sandbox import judge
from training.sandbox.models import (
    ATTEMPT_DONE,
    ATTEMPT_FAILED,
    ATTEMPT_JUDGING,
    ATTEMPT_QUEUED,
    SandboxActivity,
    SandboxActivityBoard,
    SandboxAttempt,
    SandboxFinding,
    SandboxRecord,
    SandboxUpload,
)

SEED = Path(PROJECT_ROOT) / "seed"
REGISTER_FILE = SEED / "fictional_register.csv"
EXAMPLE_ACTIVITY_FILE = SEED / "sandbox_example_activity.toml"
FINDINGS_PER_PAGE = 100
# Findings and records are written in batches of this many rows.
WRITE_BATCH_ROWS = 500


class SandboxError(Exception):
    """A sandbox rule refused the change; the message says why, in words for the person."""


class DuplicateActivity(SandboxError):
    def __init__(self, activity_id: str):
        super().__init__(
            f"Activity {activity_id} is already in your sandbox. Each activity ID can be "
            "entered once; remove the old one first to enter it again."
        )


@dataclass(frozen=True)
class BoardDetails:
    """A board an activity is registered with, as the activity form gives it."""

    board: str
    points: Decimal
    credit_types: tuple[str, ...]


@dataclass(frozen=True)
class ActivityDetails:
    """A practice activity as the organization describes it."""

    activity_id: str
    title: str
    start_date: date
    end_date: date
    max_cme_credits: Decimal | None
    boards: tuple[BoardDetails, ...] = ()


# --- Activities ------------------------------------------------------------------------------


def add_activity(signup: Signup, details: ActivityDetails) -> SandboxActivity:
    """Add a practice activity; an activity ID the organization entered before is refused."""
    taken = select(SandboxActivity.id).where(
        SandboxActivity.signup_id == signup.id,
        SandboxActivity.activity_id == details.activity_id,
    )
    if db.session.scalar(taken) is not None:
        raise DuplicateActivity(details.activity_id)
    activity = SandboxActivity(
        signup_id=signup.id,
        activity_id=details.activity_id,
        title=details.title,
        start_date=details.start_date,
        end_date=details.end_date,
        max_cme_credits=details.max_cme_credits,
        boards=[
            SandboxActivityBoard(
                board=board.board, points=board.points, credit_types=list(board.credit_types)
            )
            for board in details.boards
        ],
    )
    try:
        with db.session.begin_nested():
            db.session.add(activity)
    except IntegrityError:  # the same ID sent twice at once: the unique index decides
        raise DuplicateActivity(details.activity_id) from None
    return activity


def example_activity(today: date, path: Path = EXAMPLE_ACTIVITY_FILE) -> ActivityDetails:
    """The seeded example activity, its dates placed around ``today``."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return ActivityDetails(
        activity_id=data["activity_id"],
        title=data["title"],
        start_date=today - timedelta(days=int(data["starts_days_before"])),
        end_date=today + timedelta(days=int(data["ends_days_after"])),
        max_cme_credits=Decimal(data["max_cme_credits"]) if "max_cme_credits" in data else None,
        boards=tuple(
            BoardDetails(item["code"], Decimal(item["points"]), tuple(item["credit_types"]))
            for item in data.get("boards", ())
        ),
    )


def add_example_activity(signup: Signup, today: date) -> SandboxActivity:
    """Add the seeded example activity to the organization's sandbox."""
    return add_activity(signup, example_activity(today))


def remove_activity(activity: SandboxActivity) -> int:
    """Remove a practice activity and the sandbox records reported for it; returns how many."""
    removed = db.session.execute(
        delete(SandboxRecord).where(
            SandboxRecord.signup_id == activity.signup_id,
            SandboxRecord.activity_id == activity.activity_id,
        )
    ).rowcount
    db.session.delete(activity)
    db.session.flush()
    return removed


def activities_of(signup: Signup) -> list[SandboxActivity]:
    return list(
        db.session.scalars(
            select(SandboxActivity)
            .where(SandboxActivity.signup_id == signup.id)
            .order_by(SandboxActivity.activity_id)
        )
    )


def judge_activity(activity: SandboxActivity) -> judge.Activity:
    """A practice activity as the judge takes it."""
    return judge.Activity(
        activity_id=activity.activity_id,
        title=activity.title,
        start_date=activity.start_date,
        end_date=activity.end_date,
        max_cme_credits=activity.max_cme_credits,
        boards={
            board.board: judge.BoardRegistration(
                points=Decimal(board.points), credit_types=frozenset(board.credit_types)
            )
            for board in activity.boards
        },
    )


def judge_example_activity(today: date) -> judge.Activity:
    """The example activity as the judge takes it, for a practice file before any is entered."""
    details = example_activity(today)
    return judge.Activity(
        activity_id=details.activity_id,
        title=details.title,
        start_date=details.start_date,
        end_date=details.end_date,
        max_cme_credits=details.max_cme_credits,
        boards={
            board.board: judge.BoardRegistration(board.points, frozenset(board.credit_types))
            for board in details.boards
        },
    )


# --- The fictional register ------------------------------------------------------------------


def read_register_entries(path: Path = REGISTER_FILE) -> tuple[judge.RegisterEntry, ...]:
    """The fictional licensees and diplomates in the seed file."""
    with path.open(newline="", encoding="utf-8") as source:
        return tuple(
            judge.RegisterEntry(
                first_name=row["first_name"],
                last_name=row["last_name"],
                birth_month=int(row["birth_month"]),
                birth_day=int(row["birth_day"]),
                state=row["state"] or None,
                license_number=row["license_number"] or None,
                npi=row["npi"] or None,
                board=row["board"] or None,
                board_id=row["board_id"] or None,
            )
            for row in csv.DictReader(source)
        )


@cache
def register() -> judge.Register:
    """The fictional register, read once per process: it is data shipped with the code."""
    return judge.Register(read_register_entries())


# --- Records as the judge asks about them ----------------------------------------------------


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


# --- Uploads and attempts --------------------------------------------------------------------


def has_unfinished_attempt(signup: Signup) -> bool:
    return (
        db.session.scalar(
            select(SandboxAttempt.id)
            .where(
                SandboxAttempt.signup_id == signup.id,
                SandboxAttempt.status.in_([ATTEMPT_QUEUED, ATTEMPT_JUDGING]),
            )
            .limit(1)
        )
        is not None
    )


def count_lines(stream: IO[bytes]) -> int:
    """Line breaks in a text file, read in blocks; the stream is rewound."""
    lines = 0
    stream.seek(0)
    while block := stream.read(1 << 20):
        lines += block.count(b"\n")
    stream.seek(0)
    return lines


def start_attempt(
    signup: Signup,
    filename: str,
    stream: IO[bytes],
    size: int,
    *,
    inline_max_bytes: int,
    inline_max_rows: int,
    lease_seconds: float,
) -> tuple[SandboxAttempt, bool]:
    """Record an upload; returns the attempt and whether to judge it now, in the request.

    A large file, or any file while an earlier one is still waiting, is stored for the
    background worker, which judges one file per organization at a time and in order.
    """
    is_text = not filename.lower().endswith((".xlsx", ".xlsm", ".xls"))
    # Counting line breaks is quick, and lets the progress bar show a percentage.
    rows_expected = (max(count_lines(stream) - 1, 0) or None) if is_text else None
    inline = (
        size <= inline_max_bytes
        and (rows_expected or 0) <= inline_max_rows
        and not has_unfinished_attempt(signup)
    )
    attempt = SandboxAttempt(
        signup_id=signup.id,
        filename=filename[-255:] or "upload",
        size_bytes=size,
        status=ATTEMPT_QUEUED,
        rows_expected=rows_expected,
    )
    if inline:
        # Claimed by the request itself; should it die, the lease lapses and a worker marks
        # the attempt failed (its bytes were never stored).
        attempt.status = ATTEMPT_JUDGING
        attempt.claim_token = uuid.uuid4().hex
        attempt.lease_expires_at = utcnow() + timedelta(seconds=lease_seconds)
    db.session.add(attempt)
    db.session.flush()
    stream.seek(0)
    if not inline:
        db.session.add(SandboxUpload(attempt_id=attempt.id, content=stream.read()))
        db.session.flush()
    return attempt, inline


def judge_context(attempt: SandboxAttempt, today: date, max_bytes: int) -> judge.JudgeContext:
    """What the judge compares the attempt's rows against: its organization's sandbox."""
    activities = db.session.scalars(
        select(SandboxActivity).where(SandboxActivity.signup_id == attempt.signup_id)
    )
    return judge.JudgeContext(
        activities={activity.activity_id: judge_activity(activity) for activity in activities},
        register=register(),
        records=DatabaseRecords(attempt.signup_id),
        today=today,
        max_bytes=max_bytes,
    )


def reset_attempt(attempt: SandboxAttempt) -> None:
    """Undo what an earlier, unfinished run of this attempt wrote, before judging it again."""
    db.session.execute(delete(SandboxFinding).where(SandboxFinding.attempt_id == attempt.id))
    db.session.execute(
        delete(SandboxRecord).where(
            SandboxRecord.added_by_attempt_id == attempt.id, SandboxRecord.is_pending.is_(True)
        )
    )
    db.session.execute(
        update(SandboxRecord)
        .where(SandboxRecord.deleting_attempt_id == attempt.id)
        .values(deleting_attempt_id=None)
    )
    attempt.rows_judged = 0
    db.session.flush()


class _AttemptWriter:
    """Writes an attempt's findings and accepted rows in batches, in row order."""

    def __init__(self, attempt: SandboxAttempt):
        self.attempt_id = attempt.id
        self.signup_id = attempt.signup_id
        self.findings: list[dict[str, Any]] = []
        self.records: list[dict[str, Any]] = []

    def add_findings(self, findings: Iterable[judge.Finding], *, of_file: bool = False) -> None:
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
        if self.findings:
            db.session.execute(insert(SandboxFinding), self.findings)
            self.findings = []
        if self.records:
            db.session.execute(insert(SandboxRecord), self.records)
            self.records = []


def judge_attempt(
    attempt: SandboxAttempt,
    stream: IO[bytes],
    *,
    today: date,
    max_bytes: int,
    on_progress: Callable[[int], None] | None = None,
) -> judge.Summary:
    """Judge the attempt's file: store its findings, apply its accepted rows, and finish it.

    ``on_progress(rows_judged)`` is called after every batch of rows is written; the worker
    commits there so the page can follow along.
    """
    reset_attempt(attempt)
    attempt.status = ATTEMPT_JUDGING
    attempt.started_at = attempt.started_at or utcnow()
    summary = judge.Summary()
    writer = _AttemptWriter(attempt)
    rows = 0
    for item in judge.judge_file(
        stream, attempt.filename, judge_context(attempt, today, max_bytes)
    ):
        summary.add(item)
        if isinstance(item, judge.Finding):
            writer.add_findings([item], of_file=True)
            continue
        rows += 1
        writer.add_findings(item.findings)
        if item.accepted:
            writer.apply(item)
        if rows % WRITE_BATCH_ROWS == 0:
            writer.flush()
            if on_progress is not None:
                on_progress(rows)
    writer.flush()
    finish_attempt(attempt, summary)
    return summary


def finish_attempt(attempt: SandboxAttempt, summary: judge.Summary) -> None:
    """Make the attempt's changes final and keep its totals; the stored upload goes."""
    db.session.execute(delete(SandboxRecord).where(SandboxRecord.deleting_attempt_id == attempt.id))
    db.session.execute(
        update(SandboxRecord)
        .where(SandboxRecord.added_by_attempt_id == attempt.id, SandboxRecord.is_pending.is_(True))
        .values(is_pending=False)
    )
    db.session.execute(delete(SandboxUpload).where(SandboxUpload.attempt_id == attempt.id))
    attempt.status = ATTEMPT_DONE
    attempt.rows_read = summary.rows_read
    attempt.rows_judged = summary.rows_read
    attempt.rows_accepted = summary.accepted
    attempt.rows_rejected = summary.rejected
    attempt.error_count = summary.errors
    attempt.warning_count = summary.warnings
    attempt.counts_by_code = dict(sorted(summary.by_code.items()))
    attempt.claim_token = None
    attempt.lease_expires_at = None
    attempt.finished_at = utcnow()
    db.session.flush()


def fail_attempt(attempt: SandboxAttempt) -> None:
    """Give up on an attempt the judge could not finish; nothing it wrote is kept."""
    reset_attempt(attempt)
    db.session.execute(delete(SandboxUpload).where(SandboxUpload.attempt_id == attempt.id))
    attempt.status = ATTEMPT_FAILED
    attempt.claim_token = None
    attempt.lease_expires_at = None
    attempt.finished_at = utcnow()
    db.session.flush()


def upload_stream(attempt: SandboxAttempt) -> IO[bytes]:
    """The stored bytes of a queued attempt, as a file."""
    upload = db.session.get(SandboxUpload, attempt.id)
    if upload is None:
        raise SandboxError("The uploaded file is no longer stored; please upload it again.")
    return io.BytesIO(upload.content)


# --- Reading results -------------------------------------------------------------------------


def attempts_of(signup: Signup, limit: int = 50) -> list[SandboxAttempt]:
    return list(
        db.session.scalars(
            select(SandboxAttempt)
            .where(SandboxAttempt.signup_id == signup.id)
            .order_by(SandboxAttempt.id.desc())
            .limit(limit)
        )
    )


def attempt_of(signup: Signup, attempt_id: int) -> SandboxAttempt | None:
    """The organization's attempt with this id, or None (another organization's is None too)."""
    attempt = db.session.get(SandboxAttempt, attempt_id)
    return attempt if attempt is not None and attempt.signup_id == signup.id else None


@dataclass(frozen=True)
class FindingsPage:
    findings: list[SandboxFinding]
    total: int
    page: int
    pages: int


def findings_page(
    attempt: SandboxAttempt, *, code: str = "", severity: str = "", page: int = 1
) -> FindingsPage:
    """One page of the attempt's findings in row order, filtered by code and severity."""
    conditions = [SandboxFinding.attempt_id == attempt.id]
    if code:
        conditions.append(SandboxFinding.code == code)
    if severity:
        conditions.append(SandboxFinding.severity == severity)
    total = db.session.scalar(select(func.count()).select_from(SandboxFinding).where(*conditions))
    pages = max((total + FINDINGS_PER_PAGE - 1) // FINDINGS_PER_PAGE, 1)
    page = min(max(page, 1), pages)
    findings = db.session.scalars(
        select(SandboxFinding)
        .where(*conditions)
        .order_by(SandboxFinding.row.nulls_first(), SandboxFinding.id)
        .offset((page - 1) * FINDINGS_PER_PAGE)
        .limit(FINDINGS_PER_PAGE)
    )
    return FindingsPage(list(findings), total, page, pages)


def file_findings(attempt: SandboxAttempt) -> list[SandboxFinding]:
    """What the judge said about the file as a whole (why no row was judged, if none was)."""
    return list(
        db.session.scalars(
            select(SandboxFinding)
            .where(SandboxFinding.attempt_id == attempt.id, SandboxFinding.is_file_level)
            .order_by(SandboxFinding.id)
        )
    )


def all_findings(attempt: SandboxAttempt) -> Iterable[judge.Finding]:
    """Every finding of the attempt, in row order, read in batches."""
    query = (
        select(SandboxFinding)
        .where(SandboxFinding.attempt_id == attempt.id)
        .order_by(SandboxFinding.row.nulls_first(), SandboxFinding.id)
        .execution_options(yield_per=1000)
    )
    for finding in db.session.scalars(query):
        yield judge.Finding(
            finding.row, finding.column, finding.severity, finding.code, finding.message
        )


def record_counts(signup: Signup) -> dict[str, int]:
    """How many sandbox records the organization holds, by activity ID."""
    rows = db.session.execute(
        select(SandboxRecord.activity_id, func.count())
        .where(SandboxRecord.signup_id == signup.id, SandboxRecord.is_pending.is_(False))
        .group_by(SandboxRecord.activity_id)
    )
    return dict(rows.tuples().all())


# --- Deleting --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deleted:
    records: int
    attempts: int
    activities: int


def delete_sandbox_data(signup: Signup, *, include_activities: bool) -> Deleted:
    """Delete the organization's records, attempts, findings and stored uploads (and, if
    asked, its practice activities)."""
    records = db.session.execute(
        delete(SandboxRecord).where(SandboxRecord.signup_id == signup.id)
    ).rowcount
    attempt_ids = select(SandboxAttempt.id).where(SandboxAttempt.signup_id == signup.id)
    db.session.execute(delete(SandboxFinding).where(SandboxFinding.attempt_id.in_(attempt_ids)))
    db.session.execute(delete(SandboxUpload).where(SandboxUpload.attempt_id.in_(attempt_ids)))
    attempts = db.session.execute(
        delete(SandboxAttempt).where(SandboxAttempt.signup_id == signup.id)
    ).rowcount
    activities = 0
    if include_activities:
        for activity in activities_of(signup):
            db.session.delete(activity)
            activities += 1
    db.session.flush()
    return Deleted(records, attempts, activities)


def purge_expired(now: datetime, retention_days: int) -> Deleted:
    """Delete sandbox records, attempts, findings and stored uploads older than the retention."""
    cutoff = now - timedelta(days=retention_days)
    records = db.session.execute(
        delete(SandboxRecord).where(SandboxRecord.created_at < cutoff)
    ).rowcount
    old_attempts = select(SandboxAttempt.id).where(SandboxAttempt.created_at < cutoff)
    db.session.execute(delete(SandboxFinding).where(SandboxFinding.attempt_id.in_(old_attempts)))
    db.session.execute(delete(SandboxUpload).where(SandboxUpload.attempt_id.in_(old_attempts)))
    attempts = db.session.execute(
        delete(SandboxAttempt).where(SandboxAttempt.created_at < cutoff)
    ).rowcount
    db.session.flush()
    return Deleted(records, attempts, 0)
