"""The background workers survive a locked database, wait it out, and leave a heartbeat that
`flask mail status` and the staff dashboard show."""

import io
import logging
import os
import socket
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import BrowserLikeClient, manage_token, page_text, signup_form
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from training.extensions import db, utcnow
from training.mail import delivery
from training.sandbox import downloads, tasks
from training.staff import services as staff_services
from training.workers.loop import pause_after
from training.workers.models import WorkerHeartbeat
from training.workers.services import note_seen


@pytest.fixture
def app(make_live_app):
    """The app on SQLite with a short busy timeout, so a held lock is met within a round."""
    app = make_live_app(
        WTF_CSRF_ENABLED=False, SQLITE_BUSY_TIMEOUT_MS=200, SANDBOX_INLINE_MAX_ROWS=0
    )
    app.test_client_class = BrowserLikeClient
    yield app
    with app.app_context():
        db.engine.dispose()


class HeldLock:
    """Another process's connection holding SQLite's write lock until ``release()``."""

    def __init__(self, app):
        with app.app_context():
            path = db.engine.url.database
        self.connection = sqlite3.connect(path, isolation_level=None)
        self.connection.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        if self.connection is not None:
            self.connection.execute("ROLLBACK")
            self.connection.close()
            self.connection = None


def release_after_the_first_round(lock: HeldLock, done: Callable[[], bool]) -> Callable[[], bool]:
    """A should_stop for the worker loop: release the lock once the first round has failed,
    stop once ``done()`` (or after ten looks, so a broken worker cannot hang the test)."""
    looks = []

    def should_stop() -> bool:
        looks.append(True)
        if len(looks) == 2:  # the first round has run, against the held lock
            lock.release()
        return done() or len(looks) > 10

    return should_stop


def queued_upload(client, session_id: int) -> str:
    token = manage_token(client.post("/signup", data=signup_form(session_id)))
    client.post(f"/manage/{token}/sandbox/activities/example")
    data = downloads.template_text(",", rows=[["Add", "200012345"]])
    response = client.post(
        f"/manage/{token}/sandbox/uploads",
        data={"learner_file": (io.BytesIO(data), "learners.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    return response.headers["Location"]


def test_the_sandbox_worker_waits_out_a_locked_database_then_judges_the_upload(
    app, client, make_session, caplog
):
    attempt_path = queued_upload(client, make_session())
    assert client.get(f"{attempt_path}/status").get_json()["status"] == "queued"
    judged: list[int] = []
    lock = HeldLock(app)
    caplog.set_level(logging.INFO, logger="training")
    try:
        with app.app_context():
            tasks.watch(
                0.05,
                should_stop=release_after_the_first_round(lock, lambda: bool(judged)),
                on_judged=judged.append,
            )
    finally:
        lock.release()

    assert judged == [1]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "sandbox worker: OperationalError: database is locked; trying again in 0.1 s"
    ]
    assert "sandbox worker: working again" in caplog.messages
    assert client.get(f"{attempt_path}/status").get_json()["status"] == "done"


def test_the_mail_worker_waits_out_a_locked_database_then_sends_the_email(
    app, client, make_session, caplog
):
    client.post("/signup", data=signup_form(make_session()))
    mail_folder = Path(app.instance_path) / "mail"
    lock = HeldLock(app)
    caplog.set_level(logging.WARNING, logger="training")
    try:
        with app.app_context():
            delivery.watch(
                0.05,
                should_stop=release_after_the_first_round(lock, mail_folder.exists),
            )
    finally:
        lock.release()

    assert [path.name for path in mail_folder.iterdir()] == ["000001-booking_confirmed.eml"]
    assert caplog.messages == [
        "mail worker: OperationalError: database is locked; trying again in 0.1 s"
    ]
    assert "ana.reyes" not in caplog.text  # the log holds no personal data


def test_a_judge_cut_off_by_the_database_hands_the_upload_back_to_the_queue(
    app, client, make_session, monkeypatch
):
    attempt_path = queued_upload(client, make_session())
    with app.app_context():
        claim = tasks.claim_next(utcnow())
    lock = HeldLock(app)

    def judge_while_locked(*_args, after_reading, **_options):
        after_reading()  # the file and the records are read: no lock needed for that
        try:
            tasks.attempts.reset_attempt(claim.attempt_id)  # the first write meets the lock...
        finally:
            lock.release()  # ...which is gone by the time the worker hands the upload back

    monkeypatch.setattr(tasks.attempts, "judge_attempt", judge_while_locked)
    with app.app_context(), pytest.raises(OperationalError):
        tasks.run_claim(claim)
    monkeypatch.undo()

    status = client.get(f"{attempt_path}/status").get_json()
    assert status["status"] == "queued"
    with app.app_context():
        assert tasks.work() == 1
    assert client.get(f"{attempt_path}/status").get_json()["status"] == "done"


def test_each_failure_in_a_row_doubles_the_pause_up_to_the_longest():
    assert [pause_after(failures, 5, 60) for failures in range(6)] == [5, 10, 20, 40, 60, 60]


def test_mail_status_says_when_each_worker_was_last_seen_and_flags_a_stale_one(app, runner):
    with app.app_context():
        note_seen("mail", utcnow() - timedelta(seconds=20))
        note_seen("sandbox", utcnow() - timedelta(minutes=40))
        db.session.commit()
    lines = runner.invoke(args=["mail", "status"]).output.splitlines()
    assert lines[0].startswith(
        f"mail worker on {socket.gethostname()} pid {os.getpid()}: last seen "
    )
    assert lines[0].endswith(" s ago)")
    assert "NOT RUNNING" not in lines[0]
    assert lines[1].startswith("sandbox worker on ")
    assert lines[1].endswith(
        "(40 min ago); NOT RUNNING? start it: flask --app training sandbox work --watch"
    )


def test_the_dashboard_shows_each_worker_and_warns_of_one_not_seen(app, client):
    with app.app_context():
        note_seen("mail", utcnow() - timedelta(seconds=30))
        note_seen("mail", utcnow() - timedelta(seconds=5))  # the latest round wins
        staff_services.create_staff(
            "pat@cmadocs.example.org", "correct horse battery staple", "staff"
        )
        db.session.commit()
        assert db.session.scalar(select(WorkerHeartbeat.name)) == "mail"
    client.post(
        "/staff/sign-in",
        data={"email": "pat@cmadocs.example.org", "password": "correct horse battery staple"},
    )
    text = page_text(client.get("/staff/"))
    workers = text.split("Background workers", 1)[1]
    assert "mail" in workers and "s ago) running" in workers
    assert (
        "sandbox never Not running? Start it with flask --app training sandbox work --watch"
        in workers
    )


def test_each_worker_process_has_its_row_and_one_killed_is_shown_stopped(app, client, runner):
    with app.app_context():
        note_seen("mail", utcnow() - timedelta(seconds=3), host="worker-a", pid=101)
        note_seen("mail", utcnow() - timedelta(minutes=6), host="worker-b", pid=202)
        staff_services.create_staff(
            "pat@cmadocs.example.org", "correct horse battery staple", "staff"
        )
        db.session.commit()

    lines = runner.invoke(args=["mail", "status"]).output.splitlines()

    assert lines[0].startswith("mail worker on worker-a pid 101: last seen ")
    assert "STOPPED" not in lines[0] and "NOT RUNNING" not in lines[0]
    assert lines[1].startswith("mail worker on worker-b pid 202: last seen ")
    assert lines[1].endswith("(6 min ago); STOPPED (another runs)")
    client.post(
        "/staff/sign-in",
        data={"email": "pat@cmadocs.example.org", "password": "correct horse battery staple"},
    )
    workers = page_text(client.get("/staff/")).split("Background workers", 1)[1]
    assert "mail on worker-a, pid 101" in workers and "s ago) running" in workers
    assert "mail on worker-b, pid 202" in workers
    assert "(6 min ago) stopped (another mail worker runs)" in workers


def test_a_kind_whose_every_process_stopped_says_to_start_one(app, runner):
    with app.app_context():
        note_seen("mail", utcnow() - timedelta(minutes=7), host="worker-a", pid=101)
        note_seen("mail", utcnow() - timedelta(minutes=6), host="worker-b", pid=202)
        db.session.commit()

    lines = runner.invoke(args=["mail", "status"]).output.splitlines()

    assert lines[0].startswith("mail worker on worker-b pid 202")
    assert lines[1].startswith("mail worker on worker-a pid 101")
    for line in lines[:2]:
        assert line.endswith("NOT RUNNING? start it: flask --app training mail deliver --watch")


def test_a_process_not_seen_for_a_day_is_dropped_from_the_list(app, runner):
    with app.app_context():
        note_seen("mail", utcnow() - timedelta(days=2), host="worker-old", pid=7)
        db.session.commit()

    status = runner.invoke(args=["mail", "status"]).output

    assert "worker-old" not in status
    assert "mail worker: never seen; NOT RUNNING?" in status
    with app.app_context():
        note_seen("mail", utcnow(), host="worker-a", pid=101)
        db.session.commit()
        # The next heartbeat of its kind forgets it.
        assert set(db.session.scalars(select(WorkerHeartbeat.host))) == {"worker-a"}
