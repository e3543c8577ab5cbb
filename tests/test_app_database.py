"""SQLite: reads never wait for a writer, writes take the lock up front, the journal is WAL."""

import io
import sqlite3
import threading

import pytest
from conftest import ended_within, manage_token, signup_form
from sqlalchemy import select, text

from training.booking.models import Program, Signup
from training.database import ReadThenWriteWarning, deferred_transactions
from training.extensions import db
from training.sandbox import downloads, rules

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def database_file(app) -> str:
    with app.app_context():
        return db.engine.url.database


def test_a_file_database_keeps_a_write_ahead_log_synced_at_checkpoints(app):
    with app.app_context():
        pragmas = {
            name: db.session.execute(text(f"PRAGMA {name}")).scalar()
            for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
        }
    # synchronous 1 is NORMAL; the busy timeout is SQLITE_BUSY_TIMEOUT_MS.
    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": 1,
        "busy_timeout": 10000,
        "foreign_keys": 1,
    }


def test_pages_and_the_health_check_answer_while_another_process_holds_the_write_lock(
    app, client, make_session
):
    make_session()
    writer = sqlite3.connect(database_file(app), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE programs SET name = name || ' (renamed)'")
    try:
        health = client.get("/healthz")
        home = client.get("/")
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert health.status_code == 200 and health.get_json()["database"] == "ok"
    assert home.status_code == 200
    assert "(renamed)" not in home.get_data(as_text=True)  # not committed, so not seen


def test_a_signup_waits_for_the_write_lock_instead_of_failing(app, client, make_session):
    session_id = make_session()
    writer = sqlite3.connect(database_file(app), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    answers = []
    poster = threading.Thread(
        target=lambda: answers.append(client.post("/signup", data=signup_form(session_id)))
    )
    poster.start()
    still_waiting = not ended_within(poster, 0.5)
    writer.execute("COMMIT")
    writer.close()
    poster.join()
    assert still_waiting
    assert answers[0].status_code == 303
    assert answers[0].headers["Location"].endswith("/confirmation")


def test_a_transaction_begun_for_reading_that_writes_after_reading_is_reported(app):
    with app.app_context(), deferred_transactions():
        program = db.session.scalars(select(Program)).first()
        assert program is None
        db.session.execute(text("SELECT 1"))
        with pytest.warns(ReadThenWriteWarning, match="wrote after reading"):
            db.session.execute(text("DELETE FROM programs"))
        db.session.rollback()


def test_a_transaction_begun_for_reading_may_write_first(app):
    with app.app_context(), deferred_transactions():
        db.session.execute(text("DELETE FROM programs"))
        db.session.execute(text("SELECT 1"))
        db.session.execute(text("DELETE FROM programs"))
        db.session.commit()


@pytest.mark.usefixtures("frozen_clock")
@pytest.mark.parametrize("who", ["organization", "staff"])
def test_others_can_write_while_a_findings_download_is_being_sent(
    app, client, make_session, sign_in_as, who
):
    token = manage_token(client.post("/signup", data=signup_form(make_session())))
    client.post(f"/manage/{token}/sandbox/activities/example")
    # 1,500 learners completed the activity on a day no calendar has: a finding each, more
    # than one batch of the download's reads.
    bad_date = {rules.RECORD_ACTION: "Add", rules.COMPLETION_DATE: "13/45/2026"}
    rows = [[bad_date.get(header, "") for header in rules.REQUIRED_HEADERS]] * 1500
    uploaded = client.post(
        f"/manage/{token}/sandbox/uploads",
        data={"learner_file": (io.BytesIO(downloads.template_text(",", rows=rows)), "l.csv")},
        content_type="multipart/form-data",
    )
    address = f"{uploaded.headers['Location']}/findings.csv"
    if who == "staff":  # the staff's copy notes itself in the audit log first
        with app.app_context():
            signup_id = db.session.scalars(select(Signup.id)).one()
        sign_in_as("staff")
        address = f"/staff/sandbox/{signup_id}/attempts/{address.split('/')[-2]}/findings.csv"
    download = client.get(address, buffered=False)
    lines = iter(download.response)
    assert next(lines).startswith("\ufeffrow,column,severity,code,message".encode())
    next(lines)  # the findings are being read
    other_process = sqlite3.connect(database_file(app), isolation_level=None, timeout=0.5)
    try:
        other_process.execute("BEGIN IMMEDIATE")  # "database is locked" while the lock is held
        other_process.execute("ROLLBACK")
    finally:
        other_process.close()
    rest = b"".join(lines)
    download.close()
    assert rest.count(b"\r\n") >= 1500
