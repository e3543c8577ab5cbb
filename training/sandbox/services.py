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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from itertools import islice
from pathlib import Path
from typing import IO, Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from training import PROJECT_ROOT
from training.audit.services import record as audit
from training.booking.models import Signup
from training.constraints import unique_or
from training.extensions import db, utcnow
from training.sandbox import judge, mapping, rules
from training.sandbox.columns import ColumnMap, header_key
from training.sandbox.models import (
    ATTEMPT_DONE,
    ATTEMPT_FAILED,
    ATTEMPT_JUDGING,
    ATTEMPT_QUEUED,
    ParsStateList,
    SandboxActivity,
    SandboxActivityBoard,
    SandboxAttempt,
    SandboxColumnMap,
    SandboxFinding,
    SandboxRecord,
    SandboxUpload,
)
from training.sandbox.readers import FileProblem
from training.staff.models import StaffMember

SEED = Path(PROJECT_ROOT) / "seed"
REGISTER_FILE = SEED / "fictional_register.csv"
EXAMPLE_ACTIVITY_FILE = SEED / "sandbox_example_activity.toml"
FINDINGS_PER_PAGE = 100
MAPPING_PREVIEW_ROWS = 5
# A header wider than this is not a learner list to map column by column.
MAPPING_MAX_COLUMNS = 100
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
    mode: str = rules.MODE_FULL,
    mapped_from: SandboxAttempt | None = None,
) -> tuple[SandboxAttempt, bool]:
    """Record an upload and keep its bytes; returns the attempt and whether to judge it now,
    in the request.

    A large file, or any file while an earlier one is still waiting, waits for the background
    worker, which judges one file per organization at a time and in order. The bytes stay
    (for mapping the columns and the PARS-ready file) until the organization deletes its
    sandbox data or the retention period ends.
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
        mode=mode,
        mapped_from_id=mapped_from.id if mapped_from is not None else None,
    )
    if inline:
        # Claimed by the request itself; should it die, the lease lapses and a worker judges
        # the stored bytes again.
        attempt.status = ATTEMPT_JUDGING
        attempt.claim_token = uuid.uuid4().hex
        attempt.lease_expires_at = utcnow() + timedelta(seconds=lease_seconds)
    db.session.add(attempt)
    db.session.flush()
    stream.seek(0)
    db.session.add(SandboxUpload(attempt_id=attempt.id, content=stream.read()))
    db.session.flush()
    stream.seek(0)
    return attempt, inline


def judge_context(attempt: SandboxAttempt, today: date, max_bytes: int) -> judge.JudgeContext:
    """What the judge compares the attempt's rows against: its organization's sandbox, the
    column mappings it confirmed, and the state boards using PARS data."""
    activities = db.session.scalars(
        select(SandboxActivity).where(SandboxActivity.signup_id == attempt.signup_id)
    )
    return judge.JudgeContext(
        activities={activity.activity_id: judge_activity(activity) for activity in activities},
        register=register(),
        records=HeldRecords(attempt.signup_id),
        today=today,
        max_bytes=max_bytes,
        pars_states=pars_states().states,
        column_maps=column_maps_of(attempt.signup_id),
    )


def reset_attempt(attempt_id: int) -> None:
    """Undo what an earlier, unfinished run of this attempt wrote, before judging it again.

    Its first statement writes, so on SQLite a transaction begun deferred takes the write lock
    here, waiting its turn.
    """
    db.session.execute(delete(SandboxFinding).where(SandboxFinding.attempt_id == attempt_id))
    db.session.execute(
        delete(SandboxRecord).where(
            SandboxRecord.added_by_attempt_id == attempt_id, SandboxRecord.is_pending.is_(True)
        )
    )
    db.session.execute(
        update(SandboxRecord)
        .where(SandboxRecord.deleting_attempt_id == attempt_id)
        .values(deleting_attempt_id=None)
    )
    db.session.execute(
        update(SandboxAttempt)
        .where(SandboxAttempt.id == attempt_id)
        .values(rows_judged=0)
        .execution_options(synchronize_session=False)
    )


class _AttemptWriter:
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


def judge_attempt(
    attempt: SandboxAttempt,
    stream: IO[bytes],
    *,
    today: date,
    max_bytes: int,
    after_reading: Callable[[], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> judge.Summary:
    """Judge the attempt's file: store its findings, apply its accepted rows, and finish it.

    Everything the rows are judged against is read first, once (the organization's
    activities, column mappings and record keys: ``HeldRecords``). Then ``after_reading()`` is
    called, before anything is written; the attempt is reset and ``on_progress(0)`` called;
    then, after every batch of WRITE_BATCH_ROWS rows is written, ``on_progress(rows_judged)``.
    The worker ends its read-only transaction at the first and commits at the others, so on
    SQLite the write lock is held only while a batch is written, never while rows are judged.
    ``attempt`` is only read before ``after_reading``: what follows writes by its id.
    """
    context = judge_context(attempt, today, max_bytes)
    attempt_id, filename, learners_only = attempt.id, attempt.filename, attempt.learners_only
    started_at = attempt.started_at or utcnow()
    writer = _AttemptWriter(attempt_id, attempt.signup_id)
    if after_reading is not None:
        after_reading()
    reset_attempt(attempt_id)
    db.session.execute(
        update(SandboxAttempt)
        .where(SandboxAttempt.id == attempt_id)
        .values(status=ATTEMPT_JUDGING, started_at=started_at)
        .execution_options(synchronize_session=False)
    )
    if on_progress is not None:
        on_progress(0)
    summary = judge.Summary()
    rows = 0
    judgement = judge.judge_file(stream, filename, context, learners_only=learners_only)
    for item in judgement:
        summary.add(item)
        if isinstance(item, judge.Finding):
            writer.add_findings([item], of_file=True)
            continue
        rows += 1
        writer.add_findings(item.findings)
        if item.accepted:
            writer.apply(item)
        if rows % WRITE_BATCH_ROWS == 0:
            writer.write()
            if on_progress is not None:
                on_progress(rows)
    writer.write()
    finish_attempt(attempt_id, summary, judgement.layout)
    return summary


def finish_attempt(
    attempt_id: int, summary: judge.Summary, layout: judge.FileLayout | None
) -> None:
    """Make the attempt's changes final and keep its totals and how its file was read."""
    db.session.execute(delete(SandboxRecord).where(SandboxRecord.deleting_attempt_id == attempt_id))
    db.session.execute(
        update(SandboxRecord)
        .where(SandboxRecord.added_by_attempt_id == attempt_id, SandboxRecord.is_pending.is_(True))
        .values(is_pending=False)
    )
    db.session.execute(
        update(SandboxAttempt)
        .where(SandboxAttempt.id == attempt_id)
        .values(
            status=ATTEMPT_DONE,
            rows_read=summary.rows_read,
            rows_judged=summary.rows_read,
            rows_accepted=summary.accepted,
            rows_rejected=summary.rejected,
            error_count=summary.errors,
            warning_count=summary.warnings,
            counts_by_code=dict(sorted(summary.by_code.items())),
            file_layout=layout.to_json() if layout is not None else None,
            column_map=(
                layout.column_map.to_json() if layout is not None and layout.column_map else None
            ),
            claim_token=None,
            lease_expires_at=None,
            finished_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )


def fail_attempt(attempt: SandboxAttempt) -> None:
    """Give up on an attempt the judge could not finish; nothing it wrote is kept."""
    reset_attempt(attempt.id)
    db.session.execute(delete(SandboxUpload).where(SandboxUpload.attempt_id == attempt.id))
    attempt.status = ATTEMPT_FAILED
    attempt.claim_token = None
    attempt.lease_expires_at = None
    attempt.finished_at = utcnow()
    db.session.flush()


def upload_stream(attempt: SandboxAttempt) -> IO[bytes]:
    """The stored bytes of an attempt's file, as a file; SandboxError when they are gone."""
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
    """Delete the organization's records, attempts, findings, stored uploads and column
    mappings (and, if asked, its practice activities)."""
    records = db.session.execute(
        delete(SandboxRecord).where(SandboxRecord.signup_id == signup.id)
    ).rowcount
    attempt_ids = select(SandboxAttempt.id).where(SandboxAttempt.signup_id == signup.id)
    db.session.execute(delete(SandboxFinding).where(SandboxFinding.attempt_id.in_(attempt_ids)))
    db.session.execute(delete(SandboxUpload).where(SandboxUpload.attempt_id.in_(attempt_ids)))
    attempts = db.session.execute(
        delete(SandboxAttempt).where(SandboxAttempt.signup_id == signup.id)
    ).rowcount
    # A header may be a learner row when a file had none: mappings go with the data.
    db.session.execute(delete(SandboxColumnMap).where(SandboxColumnMap.signup_id == signup.id))
    activities = 0
    if include_activities:
        for activity in activities_of(signup):
            db.session.delete(activity)
            activities += 1
    db.session.flush()
    return Deleted(records, attempts, activities)


def purge_expired(now: datetime, retention_days: int) -> Deleted:
    """Delete sandbox records, attempts, findings, stored uploads and column mappings older than
    the retention period."""
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
    db.session.execute(delete(SandboxColumnMap).where(SandboxColumnMap.updated_at < cutoff))
    db.session.flush()
    return Deleted(records, attempts, 0)


# --- Column mappings for the organization's own spreadsheet ------------------------------------


def column_maps_of(signup_id: int) -> tuple[ColumnMap, ...]:
    """The column mappings the organization confirmed, newest first."""
    rows = db.session.scalars(
        select(SandboxColumnMap.column_map)
        .where(SandboxColumnMap.signup_id == signup_id)
        .order_by(SandboxColumnMap.updated_at.desc(), SandboxColumnMap.id.desc())
    )
    return tuple(ColumnMap.from_json(data) for data in rows)


@dataclass(frozen=True)
class ColumnsToMap:
    """A file whose header is not the template's: its header, first rows and a proposal."""

    header_row: int
    header: tuple[str, ...]
    samples: list[tuple[int, tuple]]  # (row number, cells) of the first data rows
    proposals: list[mapping.Proposal]
    current: ColumnMap  # what the page starts from: the proposal, or the map in use

    @property
    def first_values(self) -> list[str]:
        """The first data row's values as text, column by column ("" past its end)."""
        cells = self.samples[0][1] if self.samples else ()
        return [
            judge.cell_text(cells[position]) if position < len(cells) else ""
            for position in range(len(self.header))
        ]


def can_map_columns(attempt: SandboxAttempt) -> bool:
    """Whether the attempt's file can be (re)mapped: judged, kept, and not the template's."""
    layout = attempt.file_layout or {}
    return (
        attempt.status == ATTEMPT_DONE
        and layout.get("columns") in ("", judge.MAPPED)
        and db.session.get(SandboxUpload, attempt.id) is not None
    )


def columns_to_map(attempt: SandboxAttempt, *, today: date, max_bytes: int) -> ColumnsToMap:
    """The header and first rows of the attempt's file, with a proposed mapping (known names
    first, then rapidfuzz); a map the organization confirmed for a header like it comes first.
    Raises SandboxError when the file is gone or cannot be read."""
    saved = column_maps_of(attempt.signup_id)
    context = judge.JudgeContext({}, judge.Register(), judge.NoRecords(), today, max_bytes)
    try:
        with judge.learner_rows(upload_stream(attempt), attempt.filename, context) as rows:
            layout = rows.layout
            samples = list(islice(rows.raw_rows, MAPPING_PREVIEW_ROWS))
    except FileProblem as problem:
        message = judge.make_finding(problem.code, None, **problem.params).message
        raise SandboxError(message) from None
    header = tuple(cell.strip() for cell in layout.header)
    if len(header) > MAPPING_MAX_COLUMNS:
        raise SandboxError(
            f"The file's header has {len(header)} columns; keep only the learner columns "
            f"(at most {MAPPING_MAX_COLUMNS}) and upload it again to match them to the template."
        )
    in_use = ColumnMap.from_json(attempt.column_map) if attempt.column_map else None
    proposals = mapping.propose(
        header,
        [cells for _, cells in samples],
        today=today,
        saved=in_use or _closest_saved(saved, header),
    )
    current = mapping.proposed_map(proposals, header)
    if in_use is not None:
        fixed = dict(in_use.fixed)
    elif attempt.learners_only:
        fixed = {}
    else:  # a file of completions with no action column holds Adds, of its only activity
        fixed = {rules.RECORD_ACTION: "Add"}
        activities = activities_of(attempt.signup)
        if len(activities) == 1:
            fixed[rules.ACTIVITY_ID] = activities[0].activity_id
    fixed = {
        column: value for column, value in fixed.items() if column not in current.targets.values()
    }
    current = ColumnMap(header, current.targets, fixed)
    return ColumnsToMap(layout.header_row or 1, header, samples, proposals, current)


def _closest_saved(saved: tuple[ColumnMap, ...], header: tuple[str, ...]) -> ColumnMap | None:
    """The saved map sharing the most column names with this header (none shared: None)."""
    keys = {header_key(cell) for cell in header if cell}
    best = max(saved, key=lambda m: len(keys & {header_key(c) for c in m.header}), default=None)
    if best is None or not keys & {header_key(cell) for cell in best.header}:
        return None
    return best


def remember_column_map(signup: Signup, column_map: ColumnMap) -> SandboxColumnMap:
    """Keep the organization's confirmed mapping for files with this header (replacing one it
    confirmed before for the same header)."""
    signature = column_map.signature
    held = select(SandboxColumnMap).where(
        SandboxColumnMap.signup_id == signup.id, SandboxColumnMap.header_signature == signature
    )
    saved = db.session.scalar(held)
    if saved is None:
        saved = SandboxColumnMap(
            signup_id=signup.id, header_signature=signature, column_map=column_map.to_json()
        )
        try:
            with unique_or({"uq_sandbox_column_maps_signup_header": _ConfirmedMeanwhile}):
                db.session.add(saved)
        except _ConfirmedMeanwhile:  # confirmed at the same moment by another request
            saved = db.session.scalars(held).one()
    saved.column_map = column_map.to_json()
    saved.updated_at = utcnow()
    db.session.flush()
    return saved


class _ConfirmedMeanwhile(Exception):
    """The same header's mapping was saved by another request at the same moment."""


def map_columns(
    attempt: SandboxAttempt,
    column_map: ColumnMap,
    *,
    inline_max_bytes: int,
    inline_max_rows: int,
    lease_seconds: float,
) -> tuple[SandboxAttempt, bool]:
    """Remember the confirmed mapping and judge the attempt's file again through it: a new
    attempt; returns it and whether to judge it now, in the request."""
    signup = attempt.signup
    remember_column_map(signup, column_map)
    stream = upload_stream(attempt)
    return start_attempt(
        signup,
        attempt.filename,
        stream,
        attempt.size_bytes,
        inline_max_bytes=inline_max_bytes,
        inline_max_rows=inline_max_rows,
        lease_seconds=lease_seconds,
        mode=attempt.mode,
        mapped_from=attempt,
    )


# --- The state boards using PARS data ----------------------------------------------------------


@dataclass(frozen=True)
class ParsStates:
    """The state boards using PARS data: the list, where it comes from, when it was checked."""

    states: frozenset[str]  # 2-letter codes
    source: str
    checked_on: date
    updated_by: str | None  # the staff member's email; None for the list shipped with the code
    updated_at: datetime | None


def pars_states() -> ParsStates:
    """The current list: staff's latest update, else the one in rules."""
    latest = db.session.scalar(
        select(ParsStateList).order_by(ParsStateList.created_at.desc(), ParsStateList.id.desc())
    )
    if latest is None:
        return ParsStates(
            rules.PARS_STATES, rules.PARS_STATES_SOURCE, rules.PARS_STATES_CHECKED_ON, None, None
        )
    member = db.session.get(StaffMember, latest.updated_by_id) if latest.updated_by_id else None
    return ParsStates(
        frozenset(latest.states),
        latest.source,
        latest.checked_on,
        member.email if member is not None else None,
        latest.created_at,
    )


def update_pars_states(
    states: Iterable[str], source: str, checked_on: date, *, actor
) -> ParsStateList:
    """Record a new check of the list (kept as history, audited); codes must be in rules.STATES."""
    codes = sorted(set(states))
    unknown = [code for code in codes if code not in rules.STATES]
    if unknown:
        raise SandboxError(f"Not a state, DC or territory code: {', '.join(unknown)}.")
    before = pars_states().states
    entry = ParsStateList(
        states=codes, source=source, checked_on=checked_on, updated_by_id=actor.id
    )
    db.session.add(entry)
    db.session.flush()
    audit(
        "sandbox.pars_states_updated",
        actor=actor,
        added=sorted(set(codes) - before) or None,
        removed=sorted(before - set(codes)) or None,
        checked_on=checked_on.isoformat(),
    )
    return entry


# --- The PARS-ready file -------------------------------------------------------------------------


@dataclass(frozen=True)
class JudgedRow:
    """A data row of a judged file, read again: accepted when it has no error finding."""

    row: int
    fields: judge.LearnerRow
    findings: list[SandboxFinding]  # the row's findings (errors first); none for most rows

    @property
    def accepted(self) -> bool:
        return not any(finding.severity == rules.ERROR for finding in self.findings)


def can_make_pars_file(attempt: SandboxAttempt) -> bool:
    """Whether a PARS-ready file can be made: the whole file judged, rows read, bytes kept."""
    return (
        attempt.status == ATTEMPT_DONE
        and not attempt.learners_only
        and attempt.rows_read > 0
        and db.session.get(SandboxUpload, attempt.id) is not None
    )


def judged_rows(attempt: SandboxAttempt, *, today: date, max_bytes: int) -> Iterator[JudgedRow]:
    """The attempt's data rows, read again from its file as the judge read them (same columns,
    same mapping), each with its findings; streamed, in row order."""
    column_maps = (ColumnMap.from_json(attempt.column_map),) if attempt.column_map else ()
    context = judge.JudgeContext(
        {}, judge.Register(), judge.NoRecords(), today, max_bytes, column_maps=column_maps
    )
    findings = db.session.scalars(
        select(SandboxFinding)
        .where(SandboxFinding.attempt_id == attempt.id, SandboxFinding.row.is_not(None))
        .order_by(SandboxFinding.row, SandboxFinding.id)
        .execution_options(yield_per=1000)
    )
    pending = next(iter_findings := iter(findings), None)
    try:
        with judge.learner_rows(upload_stream(attempt), attempt.filename, context) as rows:
            if rows.shaper is None:
                return
            for number, fields, _cells in rows:
                mine: list[SandboxFinding] = []
                while pending is not None and pending.row <= number:
                    if pending.row == number:
                        mine.append(pending)
                    pending = next(iter_findings, None)
                yield JudgedRow(number, fields, mine)
    except FileProblem as problem:
        message = judge.make_finding(problem.code, None, **problem.params).message
        raise SandboxError(message) from None
