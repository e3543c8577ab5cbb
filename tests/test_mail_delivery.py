"""The outbox worker against a real SMTP server on loopback: what arrives, once, and when."""

import threading
from datetime import datetime, timedelta
from pathlib import Path

from conftest import signup_form
from mail_support import free_port, invite_bytes, mime_tree
from sqlalchemy import select

from training.booking.models import TrainingSession
from training.extensions import db, utcnow
from training.mail.delivery import claim_due, deliver_due, watch
from training.mail.models import (
    MAIL_FAILED,
    MAIL_RETRYING,
    MAIL_SENT,
    OutboxMessage,
    OutboxRecipient,
)


def book(client, session_id, **overrides):
    response = client.post("/signup", data=signup_form(session_id, **overrides))
    assert response.status_code == 303, response.get_data(as_text=True)
    return response


def outbox(app) -> list[OutboxMessage]:
    with app.app_context():
        messages = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        db.session.expunge_all()
        return messages


def deliver(app, *, later=timedelta(0), **options):
    with app.app_context():
        return deliver_due(now=lambda: utcnow() + later, **options)


def test_booking_arrives_as_invite_with_method_matching_the_calendar(
    app, client, runner, make_session, smtp
):
    session_id = make_session(meeting_url="https://meet.example.org/abc", dial_in="+1 555 0100")
    book(client, session_id)

    result = runner.invoke(args=["mail", "deliver"])

    assert result.exit_code == 0, result.output
    assert "Sent 1, retrying 0, failed 0." in result.output
    [received] = smtp.received
    assert received.mail_from == "no-reply@training-desk.localhost"
    assert sorted(received.rcpt_tos) == [
        "ana.reyes@sierravalley.example.org",
        "kim@sierravalley.example.org",
        "lee@sierravalley.example.org",
    ]
    message = received.message
    assert mime_tree(message) == [
        "multipart/mixed",
        "  multipart/alternative",
        "    text/plain",
        "    text/html",
        "    text/calendar",
        "  text/calendar",
    ]
    inline, attached = (
        part for part in message.walk() if part.get_content_type() == "text/calendar"
    )
    calendar = invite_bytes(message)
    assert b"\r\nMETHOD:REQUEST\r\n" in calendar
    assert inline.get_param("method") == attached.get_param("method") == "REQUEST"
    assert inline.get_content_charset() == "utf-8"
    assert attached.get_filename() == "invite.ics"
    assert attached.get_param("name") == "invite.ics"
    assert attached.get_content_disposition() == "attachment"
    [row] = outbox(app)
    assert row.status == MAIL_SENT
    assert message["Message-ID"] == row.message_id
    assert message["Reply-To"] == "staff@training.example.org"
    assert message["From"] == "Training Desk <no-reply@training-desk.localhost>"
    assert message["Date"].datetime.tzinfo is not None
    assert message["Subject"].startswith("You're booked: ")
    assert message["Subject"].endswith("(Sierra Valley Medical Society)")


def test_booking_email_says_what_to_know_in_both_parts(app, client, make_session, smtp):
    session_id = make_session(
        meeting_url="https://meet.example.org/abc", dial_in="+1 555 0100", passcode="4321"
    )
    token_response = book(client, session_id)
    deliver(app)

    message = smtp.received[0].message
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    manage_path = token_response.headers["Location"].removesuffix("/confirmation")
    for body in (text, html):
        assert "Sierra Valley Medical Society" in body
        assert "https://meet.example.org/abc" in body
        assert "+1 555 0100" in body and "4321" in body
        assert "learner data" in body and "permission" in body
        assert "https://training.example.org" + manage_path in body
        assert "https://calendar.google.com/calendar/render?action=TEMPLATE" in body
        assert "https://outlook.office.com/calendar/" in body
        assert "staff@training.example.org" in body
        assert "America/Los_Angeles" in body
    assert "<img" not in html
    assert 'style="' in html


def test_smtp_down_during_a_burst_loses_nothing_and_sends_each_once(
    app, client, make_session, smtp
):
    session_ids = [make_session() for _ in range(2)]
    smtp.stop()
    for number in range(6):
        book(
            client,
            session_ids[number % 2],
            organization_name=f"Clinic Number {number}",
            contact_email=f"contact{number}@example.org",
            attendee_emails="",
        )

    report = deliver(app)

    assert (report.sent, report.retrying) == (0, 6)
    assert {row.status for row in outbox(app)} == {MAIL_RETRYING}
    assert all(row.next_attempt_at > utcnow() for row in outbox(app))
    assert deliver(app).total == 0  # not due yet: back-off

    smtp.start()
    assert deliver(app, later=timedelta(minutes=5)).sent == 6
    assert deliver(app, later=timedelta(days=3)).total == 0

    received_ids = [received.message["Message-ID"] for received in smtp.received]
    rows = outbox(app)
    assert sorted(received_ids) == sorted(row.message_id for row in rows)
    assert {row.status for row in rows} == {MAIL_SENT}
    assert {row.attempts for row in rows} == {2}


def test_retry_after_a_temporary_refusal_is_the_same_message(app, client, make_session, smtp):
    book(client, make_session())
    with app.app_context():
        message_id = db.session.scalar(select(OutboxMessage.message_id))
    smtp.replies = ["451 4.3.0 Try again later"]

    assert deliver(app).retrying == 1
    [row] = outbox(app)
    assert row.status == MAIL_RETRYING
    assert row.last_error.startswith("451")
    assert timedelta(seconds=50) < row.next_attempt_at - utcnow() <= timedelta(seconds=60)

    assert deliver(app, later=timedelta(minutes=2)).sent == 1
    [received] = smtp.received
    assert received.message["Message-ID"] == message_id
    assert outbox(app)[0].attempts == 2


def test_back_off_doubles_after_each_temporary_failure(app, client, make_session):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())
    book(client, make_session())
    waits = []
    later = timedelta(0)
    for _ in range(4):
        before = utcnow() + later
        deliver(app, later=later)
        row = outbox(app)[0]
        waits.append(round((row.next_attempt_at - before).total_seconds() / 60))
        later = row.next_attempt_at - utcnow() + timedelta(seconds=1)
    assert waits == [1, 2, 4, 8]
    assert "cannot reach 127.0.0.1" in outbox(app)[0].last_error


def test_permanent_refusal_ends_as_failed_and_is_not_retried(app, client, make_session, smtp):
    book(client, make_session())
    smtp.replies = ["554 5.7.1 Message rejected"]

    assert deliver(app).failed == 1
    assert deliver(app, later=timedelta(days=7)).total == 0

    [row] = outbox(app)
    assert row.status == MAIL_FAILED
    assert row.attempts == 1
    assert row.last_error.startswith("554")
    assert smtp.received == []


def test_gives_up_after_the_last_attempt(app, client, make_session):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_MAX_ATTEMPTS=2)
    book(client, make_session())
    deliver(app)
    assert deliver(app, later=timedelta(hours=1)).failed == 1
    [row] = outbox(app)
    assert row.status == MAIL_FAILED
    assert row.last_error.startswith("gave up after 2 attempts")


def test_failed_message_can_be_sent_again_as_the_same_message(
    app, client, runner, make_session, smtp
):
    book(client, make_session())
    smtp.replies = ["550 5.1.1 Mailbox unavailable"]
    deliver(app)
    [row] = outbox(app)

    result = runner.invoke(args=["mail", "retry", str(row.id)])
    assert result.exit_code == 0, result.output
    assert deliver(app).sent == 1
    assert smtp.received[0].message["Message-ID"] == row.message_id
    assert runner.invoke(args=["mail", "retry", str(row.id)]).exit_code == 1


def test_two_workers_draining_at_once_send_each_message_once(app, client, make_session, smtp):
    session_id = make_session(seats=4)
    for number in range(12):
        book(
            client,
            session_id,
            organization_name=f"Clinic Number {number}",
            contact_email=f"contact{number}@example.org",
            attendee_emails="",
        )
    errors = []
    barrier = threading.Barrier(2)

    def worker():
        try:
            with app.app_context():
                barrier.wait()
                deliver_due(batch_size=3)
                db.session.remove()
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    received_ids = sorted(received.message["Message-ID"] for received in smtp.received)
    assert received_ids == sorted(row.message_id for row in outbox(app))
    assert len(received_ids) == 12
    assert {row.status for row in outbox(app)} == {MAIL_SENT}
    # Per recipient too: each claimed with its message, sent once, recorded sent.
    assert sorted(address for received in smtp.received for address in received.rcpt_tos) == (
        sorted(f"contact{number}@example.org" for number in range(12))
    )
    with app.app_context():
        assert set(db.session.scalars(select(OutboxRecipient.status))) == {MAIL_SENT}


def test_a_claim_whose_worker_died_is_taken_over_after_its_lease(app, client, make_session, smtp):
    book(client, make_session())
    with app.app_context():
        assert len(claim_due(utcnow(), 10)) == 1  # a worker that claims, then dies
        db.session.remove()

    assert deliver(app).total == 0
    assert deliver(app, later=timedelta(minutes=6)).sent == 1
    assert outbox(app)[0].attempts == 2
    assert len(smtp.received) == 1


def test_without_a_mail_server_each_message_becomes_an_eml_file(app, client, runner, make_session):
    book(client, make_session())

    result = runner.invoke(args=["mail", "deliver"])

    assert "Sent 1" in result.output
    files = list((Path(app.instance_path) / "mail").iterdir())
    assert [path.name for path in files] == ["000001-booking_confirmed.eml"]
    assert b"METHOD:REQUEST" not in files[0].read_bytes()  # base64 inside the MIME parts
    assert b'method="REQUEST"' in files[0].read_bytes()


def test_watching_worker_delivers_what_is_queued_until_told_to_stop(app, client, make_session):
    book(client, make_session())
    rounds = []

    def stop_after_one_round() -> bool:
        rounds.append(True)
        return len(rounds) > 1

    with app.app_context():
        watch(0.1, should_stop=stop_after_one_round)

    assert [path.name for path in (Path(app.instance_path) / "mail").iterdir()] == [
        "000001-booking_confirmed.eml"
    ]


def test_a_watching_worker_runs_the_periodic_jobs_it_is_handed_and_commits_them(app, make_session):
    session_id = make_session()
    runs: list[datetime] = []

    def job(now: datetime) -> None:
        runs.append(now)
        db.session.get(TrainingSession, session_id).seats = 3

    rounds: list[bool] = []

    def stop_after_three_rounds() -> bool:
        rounds.append(True)
        return len(rounds) > 3

    with app.app_context():
        watch(0.1, should_stop=stop_after_three_rounds, periodic=[job])

    # Once at the start, then once a minute: not in the rounds a tenth of a second later.
    assert len(runs) == 1
    with app.app_context():
        assert db.session.get(TrainingSession, session_id).seats == 3


def test_status_counts_messages_by_state(app, client, runner, make_session):
    book(client, make_session())
    assert runner.invoke(args=["mail", "status"]).output.startswith(
        "queued: 1\nrecipients: 3 queued\nmail worker: "
    )
