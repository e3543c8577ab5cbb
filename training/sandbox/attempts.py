"""An upload's life: recorded as an attempt, judged (in the request or by the worker) into
findings and records, then finished or failed; a remapped file is judged again as a new attempt.

Services flush and raise; the request or CLI command that called them commits. The one
exception is judging in the background worker, which commits its progress as it goes (see
``judge_attempt``'s ``on_progress``).
"""

import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import IO

from sqlalchemy import delete, select, update

from training.booking.models import Signup
from training.extensions import db, utcnow
from training.sandbox import judge, rules
from training.sandbox.columns import ColumnMap
from training.sandbox.models import (
    ATTEMPT_DONE,
    ATTEMPT_FAILED,
    ATTEMPT_JUDGING,
    ATTEMPT_QUEUED,
    SandboxActivity,
    SandboxAttempt,
    SandboxFinding,
    SandboxRecord,
    SandboxUpload,
)
from training.sandbox.records import HeldRecords, RecordWriter
from training.sandbox.services import (
    column_maps_of,
    judge_activity,
    pars_states,
    register,
    remember_column_map,
    upload_stream,
)

# Findings and records are written in batches of this many rows.
WRITE_BATCH_ROWS = 500


def has_unfinished_attempt(signup: Signup) -> bool:
    """Whether an upload of the organization is still waiting or being judged."""
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


def judge_context(
    attempt: SandboxAttempt, today: date, max_bytes: int, reporting_day: date | None = None
) -> judge.JudgeContext:
    """What the judge compares the attempt's rows against: its organization's sandbox, the
    column mappings it confirmed, and the state boards using PARS data (``today`` and
    ``reporting_day`` as JudgeContext has them)."""
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
        reporting_day=reporting_day,
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


def judge_attempt(
    attempt: SandboxAttempt,
    stream: IO[bytes],
    *,
    today: date,
    max_bytes: int,
    reporting_day: date | None = None,
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
    context = judge_context(attempt, today, max_bytes, reporting_day)
    attempt_id, filename, learners_only = attempt.id, attempt.filename, attempt.learners_only
    started_at = attempt.started_at or utcnow()
    writer = RecordWriter(attempt_id, attempt.signup_id)
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
    judgement = judge.judge_file(stream, filename, context, learners_only=learners_only)
    for part in judgement.stored(summary, WRITE_BATCH_ROWS):
        writer.take(part)
        writer.write()
        if part.whole and on_progress is not None:
            on_progress(part.rows_judged)
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
