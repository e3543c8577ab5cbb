"""The sandbox worker: claim a queued upload from the database, judge it, record the outcome;
and make the PARS-ready files organizations asked for, stored in the database for any host.

Uploads wait in the database, not in any one process, so any host's worker may judge them. A
claim is a conditional UPDATE committed before judging starts (the pattern of the mail
worker); progress is committed every batch of rows and renews the lease. A worker that dies
leaves its claim to lapse; the next one undoes the half-judged run and starts it over.
"""

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import IO

from flask import current_app
from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql import Select

from training.database import deferred_transactions
from training.extensions import db, utcnow
from training.sandbox import attempts, services
from training.sandbox.models import (
    ATTEMPT_JUDGING,
    ATTEMPT_QUEUED,
    FILE_BUILDING,
    FILE_FAILED,
    FILE_QUEUED,
    FILE_READY,
    SandboxAttempt,
    SandboxParsFile,
)
from training.workers import loop as worker_loop
from training.workers.services import SANDBOX_WORKER, note_seen


class LostClaim(Exception):
    """Another worker took the attempt (or file) over after this one's lease ran out."""


@dataclass(frozen=True)
class Claim:
    """An upload this worker holds: its id and the claim's token."""

    attempt_id: int
    token: str


def use_polars_allocator(options: str) -> None:
    """Have polars' allocator (jemalloc) take ``options`` when polars is first loaded in this
    process, unless the environment already gives it some (``_RJEM_MALLOC_CONF``)."""
    if options:
        os.environ.setdefault("_RJEM_MALLOC_CONF", options)


def _lease() -> timedelta:
    return timedelta(seconds=float(current_app.config["SANDBOX_LEASE_SECONDS"]))


def claim_next(now: datetime) -> Claim | None:
    """Take the oldest waiting upload of an organization no other worker is judging."""
    waiting = or_(
        SandboxAttempt.status == ATTEMPT_QUEUED,
        and_(SandboxAttempt.status == ATTEMPT_JUDGING, SandboxAttempt.lease_expires_at <= now),
    )
    busy = select(SandboxAttempt.signup_id).where(
        SandboxAttempt.status == ATTEMPT_JUDGING, SandboxAttempt.lease_expires_at > now
    )
    candidate = (
        select(SandboxAttempt.id)
        .where(waiting, SandboxAttempt.signup_id.not_in(busy))
        .order_by(SandboxAttempt.id)
        .limit(1)
    )
    claimed = _claim_first(
        SandboxAttempt,
        candidate,
        waiting,
        status=ATTEMPT_JUDGING,
        lease_expires_at=now + _lease(),
    )
    return Claim(*claimed) if claimed is not None else None


def _claim_first(model, candidate: Select, waiting, **claimed_values) -> tuple[int, str] | None:
    """Claim the first row ``candidate`` selects (its id) while it is still ``waiting``: one
    conditional UPDATE setting ``claimed_values`` and a new claim token, committed before the
    work starts (on PostgreSQL the row is read ``FOR UPDATE SKIP LOCKED``, so two workers pass
    each other by). Returns (id, token), or None when nothing waits or another worker won."""
    if db.session.get_bind().dialect.name == "postgresql":
        candidate = candidate.with_for_update(skip_locked=True)
    row_id = db.session.scalar(candidate)
    if row_id is None:
        db.session.commit()
        return None
    token = uuid.uuid4().hex
    won = db.session.execute(
        update(model)
        .where(model.id == row_id, waiting)
        .values(claim_token=token, **claimed_values)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return (row_id, token) if won == 1 else None


def judging_day(attempt: SandboxAttempt) -> date:
    """The judge's "today" for an upload: the latest date anywhere in the US when it was sent.

    A completion dated today in New York or Guam is not "in the future" for a California
    program (``Program.latest_date``), and a file judged later by the worker is judged as of
    its upload.
    """
    return attempt.signup.program.latest_date(attempt.created_at)


def reporting_day(attempt: SandboxAttempt) -> date:
    """The program's own date when the upload was sent: LATE_REPORT counts from it."""
    return attempt.signup.program.today(attempt.created_at)


def run_claim(claim: Claim) -> bool:
    """Judge a claimed attempt to the end; False when it failed or the claim was lost.

    The file and what its rows are judged against are read in a transaction that takes no
    lock; rows are judged outside any transaction; each batch of findings and records is
    written, with the progress and a renewed lease, in a short transaction of its own. A
    database error that may pass (``OperationalError``: "database is locked", a lost
    connection) hands the attempt back to the queue when it can and is raised, for the
    worker's loop to wait and try again; any other error fails the attempt.
    """

    def keep_going(rows_judged: int) -> None:
        renewed = db.session.execute(
            update(SandboxAttempt)
            .where(SandboxAttempt.id == claim.attempt_id, SandboxAttempt.claim_token == claim.token)
            .values(rows_judged=rows_judged, lease_expires_at=utcnow() + _lease())
            .execution_options(synchronize_session=False)
        ).rowcount
        if renewed != 1:
            raise LostClaim
        db.session.commit()

    try:
        with deferred_transactions():
            attempt = db.session.get(SandboxAttempt, claim.attempt_id)
            if attempt is None or attempt.claim_token != claim.token:
                db.session.rollback()
                return False
            with services.upload_copy(attempt.id) as upload:
                attempts.judge_attempt(
                    attempt,
                    upload,
                    today=judging_day(attempt),
                    reporting_day=reporting_day(attempt),
                    max_bytes=int(current_app.config["SANDBOX_MAX_UPLOAD_BYTES"]),
                    after_reading=db.session.commit,
                    on_progress=keep_going,
                )
            db.session.commit()
    except LostClaim:
        if _deleted_meanwhile(SandboxAttempt, claim.attempt_id, "sandbox attempt"):
            return False
        current_app.logger.warning(
            "sandbox attempt %s was taken over by another worker", claim.attempt_id
        )
        return False
    except OperationalError:
        db.session.rollback()
        release_claim(claim)
        raise
    except Exception as error:  # any bug must fail this attempt, not stop the worker
        record_failure(claim.attempt_id, error)
        return False
    current_app.logger.info("sandbox attempt %s judged", claim.attempt_id)
    return True


def release_claim(claim: Claim) -> None:
    """Put a claimed attempt back in the queue, to be judged again from the start; when the
    database cannot be reached for that either, the claim lapses with its lease."""
    try:
        db.session.execute(
            update(SandboxAttempt)
            .where(SandboxAttempt.id == claim.attempt_id, SandboxAttempt.claim_token == claim.token)
            .values(status=ATTEMPT_QUEUED, claim_token=None, lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    except OperationalError:
        db.session.rollback()
        current_app.logger.warning(
            "sandbox attempt %s left to its lease: the database could not be reached",
            claim.attempt_id,
        )


def judge_in_request(attempt: SandboxAttempt, stream: IO[bytes]) -> bool:
    """Judge a small upload while its person waits; False when the judge failed on it.

    Read and written as the worker does (a read without lock, short writes), so even the
    largest file judged in a request holds SQLite's write lock only batch by batch.
    """
    attempt_id = attempt.id  # the attempt expires at each commit below
    try:
        stream.seek(0)
        with deferred_transactions():
            attempts.judge_attempt(
                attempt,
                stream,
                today=judging_day(attempt),
                reporting_day=reporting_day(attempt),
                max_bytes=int(current_app.config["SANDBOX_MAX_UPLOAD_BYTES"]),
                after_reading=db.session.commit,
                on_progress=lambda _rows: db.session.commit(),
            )
            db.session.commit()
    except Exception as error:  # any bug must show as a failed attempt, never a 500
        record_failure(attempt_id, error)
        return False
    return True


def _deleted_meanwhile(model, row_id: int, what: str) -> bool:
    """Roll the work back; whether its row is gone, deleted with the organization's sandbox
    data (or by the purge) while it was worked on: said in an info log, as nothing failed."""
    db.session.rollback()
    if db.session.get(model, row_id) is not None:
        return False
    current_app.logger.info("%s %s was deleted while it was worked on; stopped", what, row_id)
    return True


def record_failure(attempt_id: int, error: Exception) -> None:
    """Mark an attempt failed and log the kind of error only: its text may hold learner data.
    An attempt deleted while it was judged (its rows' writes then fail) is not a failure."""
    if _deleted_meanwhile(SandboxAttempt, attempt_id, "sandbox attempt"):
        return
    current_app.logger.error(
        "sandbox attempt %s failed: %s (details withheld: they may hold learner data)",
        attempt_id,
        type(error).__name__,
    )
    attempt = db.session.get(SandboxAttempt, attempt_id)
    if attempt is not None:
        attempts.fail_attempt(attempt)
        db.session.commit()


def work(*, now: Callable[[], datetime] = utcnow) -> int:
    """Judge every waiting upload, one at a time; returns how many were judged."""
    judged = 0
    while (claim := claim_next(now())) is not None:
        judged += run_claim(claim)
        _note_seen(now())
    return judged


# --- PARS-ready files ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FileClaim:
    """A PARS-ready file this worker is making: its id and the claim's token."""

    file_id: int
    token: str


def claim_next_file(now: datetime) -> FileClaim | None:
    """Take the PARS-ready file asked for first that no other worker is making."""
    waiting = or_(
        SandboxParsFile.status == FILE_QUEUED,
        and_(SandboxParsFile.status == FILE_BUILDING, SandboxParsFile.lease_expires_at <= now),
    )
    candidate = (
        select(SandboxParsFile.id)
        .where(waiting)
        .order_by(SandboxParsFile.requested_at, SandboxParsFile.id)
        .limit(1)
    )
    claimed = _claim_first(
        SandboxParsFile,
        candidate,
        waiting,
        status=FILE_BUILDING,
        lease_expires_at=now + _lease(),
        rows_written=0,
    )
    return FileClaim(*claimed) if claimed is not None else None


def make_claimed_file(claim: FileClaim) -> bool:
    """Make a claimed PARS-ready file and store it; False when it failed or the claim was lost.

    The upload, its findings and the activities are read in a transaction that takes no lock,
    and the file is written meanwhile; progress (with a renewed lease) is written every
    PARS_FILE_PROGRESS_ROWS rows on a connection of its own, and the file in one short
    transaction at the end.
    """

    def keep_going(rows_written: int) -> None:
        with db.engine.begin() as connection:
            renewed = connection.execute(
                update(SandboxParsFile)
                .where(SandboxParsFile.id == claim.file_id, _holds(claim))
                .values(rows_written=rows_written, lease_expires_at=utcnow() + _lease())
            ).rowcount
        if renewed != 1:
            raise LostClaim

    try:
        with deferred_transactions():
            file = db.session.get(SandboxParsFile, claim.file_id)
            if file is None or file.claim_token != claim.token:
                db.session.rollback()
                return False
            attempt = db.session.get(SandboxAttempt, file.attempt_id)
            activities = services.pars_activities(attempt.signup_id)
            made_on, rows = file.made_on, attempt.rows_read
            body = services.make_pars_file(
                attempt,
                file.kind,
                activities,
                today=made_on,
                max_bytes=int(current_app.config["SANDBOX_MAX_UPLOAD_BYTES"]),
                on_progress=keep_going,
            )
            db.session.rollback()  # ends the read; the file is written in a transaction of its own
            stored = db.session.execute(
                update(SandboxParsFile)
                .where(SandboxParsFile.id == claim.file_id, _holds(claim))
                .values(
                    status=FILE_READY,
                    content=body,
                    inputs_key=services.pars_inputs_key(activities, made_on),
                    rows_written=rows,
                    claim_token=None,
                    lease_expires_at=None,
                    finished_at=utcnow(),
                )
                .execution_options(synchronize_session=False)
            ).rowcount
            if stored != 1:
                raise LostClaim
            db.session.commit()
    except LostClaim:
        if _deleted_meanwhile(SandboxParsFile, claim.file_id, "sandbox PARS-ready file"):
            return False
        current_app.logger.warning(
            "sandbox PARS-ready file %s was taken over by another worker", claim.file_id
        )
        return False
    except OperationalError:
        db.session.rollback()
        _release_file(claim)
        raise
    except Exception as error:  # the upload's file gone or unreadable, or a bug: fail this file
        _fail_file(claim, error)
        return False
    current_app.logger.info("sandbox PARS-ready file %s made", claim.file_id)
    return True


def _holds(claim: FileClaim):
    return SandboxParsFile.claim_token == claim.token


def _release_file(claim: FileClaim) -> None:
    """Put a claimed file back in the queue; if the database cannot be reached for that either,
    the claim lapses with its lease."""
    try:
        db.session.execute(
            update(SandboxParsFile)
            .where(SandboxParsFile.id == claim.file_id, _holds(claim))
            .values(status=FILE_QUEUED, claim_token=None, lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    except OperationalError:
        db.session.rollback()


def _fail_file(claim: FileClaim, error: Exception) -> None:
    """Mark a file failed, logging the kind of error only: its text may hold learner data; a
    file deleted while it was made (with its upload) is not a failure."""
    if _deleted_meanwhile(SandboxParsFile, claim.file_id, "sandbox PARS-ready file"):
        return
    current_app.logger.error(
        "sandbox PARS-ready file %s failed: %s (details withheld: they may hold learner data)",
        claim.file_id,
        type(error).__name__,
    )
    db.session.execute(
        update(SandboxParsFile)
        .where(SandboxParsFile.id == claim.file_id, _holds(claim))
        .values(status=FILE_FAILED, claim_token=None, lease_expires_at=None, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def make_files(*, now: Callable[[], datetime] = utcnow) -> int:
    """Make every PARS-ready file asked for, one at a time; returns how many were made."""
    made = 0
    while (claim := claim_next_file(now())) is not None:
        made += make_claimed_file(claim)
        _note_seen(now())
    return made


def _note_seen(now: datetime) -> None:
    """A heartbeat after each upload or file, so that a long queue worked through in one round
    does not look to staff and uploaders like a worker that stopped."""
    note_seen(SANDBOX_WORKER, now)
    db.session.commit()


def watch(
    interval: float,
    *,
    should_stop: Callable[[], bool],
    on_judged: Callable[[int], None] = lambda count: None,
) -> None:
    """Judge waiting uploads, then make the PARS-ready files asked for, every ``interval``
    seconds until ``should_stop()``, surviving a locked or unreachable database
    (``training.workers.loop``)."""

    def judge_round() -> None:
        judged = work()
        if judged:
            on_judged(judged)
        make_files()

    worker_loop.run(SANDBOX_WORKER, judge_round, interval=interval, should_stop=should_stop)
