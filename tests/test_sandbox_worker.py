"""While the sandbox worker judges a large upload, everyone else's pages, health checks and
signups go on; the judge's writes are a few batched statements, not one per row."""

import hashlib
import io
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from unittest.mock import patch

import pytest
from conftest import manage_token, signup_form
from sqlalchemy import event, insert, select

from training.booking.models import Signup
from training.extensions import db
from training.sandbox import attempts, downloads, judge, records, rules
from training.sandbox.models import (
    ATTEMPT_JUDGING,
    SandboxActivity,
    SandboxActivityBoard,
    SandboxAttempt,
    SandboxFinding,
    SandboxRecord,
)

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

BIN = Path(sys.executable).parent
PROJECT_ROOT = Path(__file__).resolve().parent.parent
UPLOAD_ROWS = 50_000
# As in the report: an organization re-uploading while holding 37,500 records.
HELD_RECORDS = 37_500


def large_file(rows: int) -> bytes:
    """A learner file of ``rows`` Add rows (dated 2020, so each gets a finding to write)."""
    columns = {
        rules.RECORD_ACTION: "Add",
        rules.ACTIVITY_ID: "200012345",
        rules.COMPLETION_DATE: "01/15/2020",
        rules.DATE_OF_BIRTH: "03/14",
        rules.LICENSING_STATE: "CA",
        rules.CME_CREDITS: "1",
    }
    return downloads.template_text(
        ",",
        rows=[
            [
                {
                    **columns,
                    rules.FIRST_NAME: f"Learner{n}",
                    rules.LAST_NAME: f"Family{n % 997}",
                    rules.LICENSE_OR_NPI: f"A{n}",
                }.get(header, "")
                for header in rules.REQUIRED_HEADERS
            ]
            for n in range(rows)
        ],
    )


def hold_records(signup_id: int, count: int) -> None:
    """Records the organization holds from earlier uploads, as the judge keeps them."""
    db.session.execute(
        insert(SandboxRecord.__table__),
        [
            {
                "signup_id": signup_id,
                "activity_id": "200012345",
                "completion_date": date(2020, 1, 15),
                "first_name": f"Held{n}",
                "last_name": "Family",
                "birth_month": 3,
                "birth_day": 14,
                "state": "CA",
                "license_or_npi": f"H{n}",
                "board": None,
                "board_id": None,
                "cme_credits": Decimal("1"),
                "board_credits": None,
                "credit_awards": [],
                "record_key": hashlib.sha256(f"record {n}".encode()).hexdigest(),
                "learner_key": hashlib.sha256(f"learner {n}".encode()).hexdigest(),
                "added_by_attempt_id": None,
                "is_pending": False,
                "deleting_attempt_id": None,
                "created_at": datetime(2020, 1, 15, tzinfo=UTC),
            }
            for n in range(count)
        ],
    )


def attempt_progress(path: str) -> tuple[str, int]:
    """The attempt's status and rows judged, read as another process would."""
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute("SELECT status, rows_judged FROM sandbox_attempts").fetchone()


def timed(request):
    started = time.perf_counter()
    response = request()
    return response, time.perf_counter() - started


def test_pages_health_checks_and_signups_go_on_while_a_large_upload_is_judged(
    app, client, make_session, database_url
):
    session_id = make_session(seats=50)
    token = manage_token(client.post("/signup", data=signup_form(session_id)))
    assert client.post(f"/manage/{token}/sandbox/activities/example").status_code == 303
    data = large_file(UPLOAD_ROWS)
    with app.app_context():
        hold_records(signup_id=1, count=HELD_RECORDS)
        attempts.start_attempt(
            db.session.get(Signup, 1),
            "learners.csv",
            io.BytesIO(data),
            len(data),
            inline_max_bytes=0,
            inline_max_rows=0,
            lease_seconds=300,
        )
        db.session.commit()
        path = db.engine.url.database
    environment = {
        **{key: value for key, value in os.environ.items() if not key.startswith("TRAINING_")},
        "TRAINING_SECRET_KEY": "test-secret-key",
        "TRAINING_INSTANCE_PATH": app.instance_path,
        "TRAINING_SQLALCHEMY_DATABASE_URI": database_url,
    }
    worker = subprocess.Popen(
        [BIN / "flask", "--app", "training", "sandbox", "work"],
        cwd=PROJECT_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while attempt_progress(path)[1] == 0 and worker.poll() is None:
            assert time.monotonic() < deadline, "the worker never started judging"
            time.sleep(0.01)

        health, health_seconds = timed(lambda: client.get("/healthz"))
        home, home_seconds = timed(lambda: client.get("/"))
        form = signup_form(session_id, organization_name="Harbor Clinic", contact_email="x@h.org")
        signup, signup_seconds = timed(lambda: client.post("/signup", data=form))
        status, rows_judged = attempt_progress(path)
    finally:
        output, _ = worker.communicate(timeout=300)

    # All three were answered while the file was still being judged...
    assert (status, rows_judged < UPLOAD_ROWS) == (ATTEMPT_JUDGING, True)
    assert health.status_code == 200
    assert home.status_code == 200
    assert signup.status_code == 303
    assert signup.headers["Location"].endswith("/confirmation")
    # ...each within well under a second (the judge holds the write lock only per batch).
    assert max(health_seconds, home_seconds, signup_seconds) < 1.0, (
        health_seconds,
        home_seconds,
        signup_seconds,
    )
    assert worker.returncode == 0, output
    assert "Judged 1 upload." in output
    with app.app_context():
        attempt = db.session.get(SandboxAttempt, 1)
        assert (attempt.status, attempt.rows_read) == ("done", UPLOAD_ROWS)


def test_the_worker_sets_polars_allocator_options_unless_its_environment_has_its_own(runner):
    with patch.dict(os.environ):
        os.environ.pop("_RJEM_MALLOC_CONF", None)
        assert runner.invoke(args=["sandbox", "work"]).output.startswith("Judged 0 uploads.")
        assert os.environ["_RJEM_MALLOC_CONF"] == "narenas:1"
        os.environ["_RJEM_MALLOC_CONF"] = "narenas:2,dirty_decay_ms:0"
        assert runner.invoke(args=["sandbox", "work"]).output.startswith("Judged 0 uploads.")
        assert os.environ["_RJEM_MALLOC_CONF"] == "narenas:2,dirty_decay_ms:0"


def test_records_are_written_in_one_statement_a_batch_whatever_cells_they_leave_empty(
    app, client, make_session
):
    """SQLAlchemy's bulk insert splits a batch where rows leave different cells empty (None);
    the judge's writer gives every row the same keys, so a batch is one executemany."""
    client.post("/signup", data=signup_form(make_session()))
    statements: list[str] = []

    def note(_connection, _cursor, statement, *_rest):
        statements.append(statement)

    with app.app_context():
        attempt = SandboxAttempt(signup_id=1, filename="learners.csv", size_bytes=1)
        db.session.add(attempt)
        db.session.flush()
        writer = records.RecordWriter(attempt.id, attempt.signup_id)
        for n in range(attempts.WRITE_BATCH_ROWS):
            board = "ABIM" if n % 2 else None
            record = judge.LearnerRecord(
                activity_id="200012345",
                completion_date=date(2025, 6, 1),
                first_name=f"Learner{n}",
                last_name="Family",
                birth_month=3,
                birth_day=14,
                state=None if n % 2 else "CA",
                license_or_npi=None if n % 2 else f"A{n}",
                board=board,
                board_id="123456" if board else None,
                cme_credits=None if n % 2 else Decimal("1"),
                board_credits=Decimal("2") if board else None,
            )
            writer.apply(judge.RowResult(n + 2, "Add", (), record, True))
        event.listen(db.engine, "before_cursor_execute", note)
        try:
            writer.write()
        finally:
            event.remove(db.engine, "before_cursor_execute", note)
        db.session.rollback()
    assert [s.split("(", 1)[0].strip() for s in statements] == ["INSERT INTO sandbox_records"]


def mixed_file(rows: int, shift: int) -> bytes:
    """One-line rows of a few hundred learners: Adds, duplicates, Deletes, credits that are
    wrong, boards with their credits, now and then a name outside ASCII (judged whole)."""
    boards = [
        ("ABIM", "123456", "2", "Medical Knowledge", "2"),
        ("ABS", "5", "8", "CME", "8"),
        ("", "", "", "", ""),
    ]
    lines = [",".join(rules.REQUIRED_HEADERS)]
    for n in range(shift, shift + rows):
        learner = n % 300
        lines.append(
            ",".join(
                [
                    "Delete" if n % 13 == 0 else "Add",
                    "200012345",
                    f"05/{n % 9 + 1:02d}/2025",
                    "Renée" if n % 97 == 0 else f"Learner{learner}",
                    "Family",
                    "03/14",
                    "CA",
                    f"A{learner}",
                    "1.3" if n % 11 == 0 else "1",
                    *boards[n % 3],
                ]
            )
        )
    return ("\n".join(lines) + "\n").encode()


def test_the_worker_stores_the_same_records_findings_and_totals_through_batches_as_row_by_row(
    app, client, make_session, monkeypatch
):
    """A re-upload against records held from a first one, judged in batches (several, and over
    several write batches): the records kept, the findings and the attempt's totals are those of
    the same upload judged by RowJudge alone."""
    client.post("/signup", data=signup_form(make_session()))
    today = date(2025, 6, 10)
    judge_file = judge.judge_file
    judgements = []

    def judged(data: bytes, *, fast_path: bool = True) -> tuple[list, list, tuple]:
        def judge_file_as_asked(*arguments, **options):
            judgements.append(judge_file(*arguments, **options, fast_path=fast_path))
            return judgements[-1]

        monkeypatch.setattr(judge, "judge_file", judge_file_as_asked)
        attempt = SandboxAttempt(signup_id=1, filename="learners.csv", size_bytes=len(data))
        db.session.add(attempt)
        db.session.flush()
        attempts.judge_attempt(attempt, io.BytesIO(data), today=today, max_bytes=1 << 30)
        kept = db.session.execute(select(SandboxRecord.__table__).order_by(SandboxRecord.id)).all()
        findings = db.session.execute(
            select(
                SandboxFinding.row,
                SandboxFinding.column,
                SandboxFinding.severity,
                SandboxFinding.code,
                SandboxFinding.message,
                SandboxFinding.is_file_level,
            ).order_by(SandboxFinding.id)
        ).all()
        db.session.refresh(attempt)
        totals = (
            attempt.status,
            attempt.rows_read,
            attempt.rows_accepted,
            attempt.rows_rejected,
            attempt.error_count,
            attempt.warning_count,
            attempt.counts_by_code,
        )
        records_kept = [
            {name: value for name, value in row._mapping.items() if name not in ("created_at",)}
            for row in kept
        ]
        return records_kept, findings, totals

    with app.app_context():
        db.session.add(
            SandboxActivity(
                signup_id=1,
                activity_id="200012345",
                title="Practice",
                start_date=date(2025, 1, 1),
                end_date=date(2025, 12, 31),
                max_cme_credits=Decimal(3),
                boards=[
                    SandboxActivityBoard(board="ABIM", points=Decimal(2),
                                         credit_types=["Medical Knowledge"]),
                    SandboxActivityBoard(board="ABS", points=Decimal(8), credit_types=["CME"]),
                ],
            )
        )  # fmt: skip
        judged(mixed_file(400, 0))
        db.session.commit()
        with patch.object(judge.batches, "_CHUNK", 8 * 1024):
            through_batches = judged(mixed_file(1_200, 150))
        db.session.rollback()
        row_by_row = judged(mixed_file(1_200, 150), fast_path=False)
        db.session.rollback()
    records_kept, findings, totals = through_batches
    assert 1_100 < judgements[1].batch_rows < 1_200  # a name outside ASCII: judged whole
    assert judgements[2].batch_rows == 0
    assert through_batches == row_by_row
    codes = {"DUPLICATE_ROW", "DELETE_NOT_FOUND", "CREDITS_NOT_QUARTER", "LATE_REPORT"}
    assert codes <= set(totals[-1])
    assert {finding.code for finding in findings} >= codes
    assert len(records_kept) > 400
