"""The worker at speed: each message's bytes built once when it is queued, sent batch by batch
over one connection, outcomes written a group at a time. What arrives, and how many copies a
worker that dies mid-batch can send again."""

import threading
from collections import Counter
from datetime import timedelta

import pytest
from conftest import ended_within, page_text, signup_form
from mail_support import Received, mime_tree
from sqlalchemy import delete, event, select, text, update

from training.extensions import db, utcnow
from training.mail.delivery import (
    DeliveryError,
    SmtpTransport,
    claim_due,
    deliver_due,
    wire_bytes,
)
from training.mail.models import (
    MAIL_FAILED,
    MAIL_SENT,
    OutboxMessage,
    OutboxMessageBytes,
    OutboxRecipient,
)


def book_clinics(client, session_id, count: int) -> None:
    for number in range(count):
        response = client.post(
            "/signup",
            data=signup_form(
                session_id,
                organization_name=f"Clinic Number {number}",
                contact_email=f"contact{number}@example.org",
                attendee_emails="",
            ),
        )
        assert response.status_code == 303, response.get_data(as_text=True)


def deliver(app, *, later=timedelta(0), **options):
    with app.app_context():
        return deliver_due(now=lambda: utcnow() + later, **options)


def statuses(app) -> set[str]:
    with app.app_context():
        return set(db.session.scalars(select(OutboxMessage.status))) | set(
            db.session.scalars(select(OutboxRecipient.status))
        )


class DyingTransport(SmtpTransport):
    """SMTP that kills its worker (an error nothing catches) as it is about to send message
    number ``dies_at`` of the run."""

    def __init__(self, config: dict, dies_at: int):
        super().__init__(config)
        self.dies_at, self.sent = dies_at, 0

    def send(self, claim, sender, data):
        if self.sent + 1 == self.dies_at:
            raise SystemExit("worker killed")
        self.sent += 1
        return super().send(claim, sender, data)


def test_a_message_arrives_exactly_as_built_when_it_was_queued(app, client, make_session, smtp):
    book_clinics(client, make_session(), 1)
    with app.app_context():
        stored = db.session.scalars(select(OutboxMessageBytes.data)).one()

    assert deliver(app).sent == 1

    [received] = smtp.received
    assert received.data == stored
    assert received.message["Subject"].startswith("You're booked")


def test_lines_starting_with_a_dot_arrive_as_written(app, client, make_session, smtp):
    """SMTP ends a message at a line holding only a dot, so the worker doubles the dot starting
    any line and the server takes it off again."""
    book_clinics(client, make_session(), 1)
    with app.app_context():
        row = db.session.scalars(select(OutboxMessageBytes)).one()
        row.data = row.data.rstrip(b"\r\n") + b"\r\n.\r\n..two dots\r\n.signature"
        db.session.commit()
        stored = row.data

    assert deliver(app).sent == 1

    [received] = smtp.received
    assert received.data == stored + b"\r\n"  # the last line ended, as SMTP needs


def test_a_message_queued_without_its_bytes_is_built_when_claimed(app, client, make_session, smtp):
    book_clinics(client, make_session(), 1)
    with app.app_context():  # as if queued before the bytes were kept
        db.session.execute(delete(OutboxMessageBytes))
        db.session.commit()
        expected = Received(
            "",
            [],
            wire_bytes(
                db.session.scalars(select(OutboxMessage)).one(),
                app.config["MAIL_DEFAULT_SENDER"],
            ),
        ).message

    assert deliver(app).sent == 1

    [received] = smtp.received
    # The same message but for its MIME boundaries, which are drawn anew each time.
    assert received.message["Message-ID"] == expected["Message-ID"]
    assert received.message["Subject"] == expected["Subject"]
    assert mime_tree(received.message) == mime_tree(expected)
    assert [part.get_content() for part in received.message.walk() if not part.is_multipart()] == [
        part.get_content() for part in expected.walk() if not part.is_multipart()
    ]


def test_a_message_that_cannot_be_built_fails_with_the_reason_and_the_rest_go(
    app, client, make_session, smtp
):
    book_clinics(client, make_session(), 2)
    with app.app_context():
        db.session.add(
            OutboxMessage(
                kind="outreach",
                recipients=["not an address"],
                subject="Hello",
                text_body="Hello.",
                message_id="<broken@training.example.org>",
            )
        )
        db.session.commit()

    report = deliver(app)

    assert (report.sent, report.failed) == (2, 1)
    assert len(smtp.received) == 2
    with app.app_context():
        broken = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.message_id == "<broken@training.example.org>")
        ).one()
        assert broken.status == MAIL_FAILED
        assert broken.last_error == "not an email address"


def test_a_worker_that_dies_mid_batch_sends_again_only_what_it_had_not_recorded(
    app, client, make_session, smtp
):
    book_clinics(client, make_session(seats=12), 10)
    app.config["MAIL_RECORD_EVERY"] = 4
    with app.app_context():
        transport = DyingTransport(app.config, dies_at=8)
        # Messages 1-4 are recorded before the 5th goes out; 5, 6 and 7 go out unrecorded.
        with pytest.raises(SystemExit):
            deliver_due(transport=transport, batch_size=10)
        db.session.remove()
    assert len(smtp.received) == 7

    assert deliver(app, later=timedelta(minutes=2)).total == 0  # its lease still holds
    assert deliver(app, later=timedelta(minutes=6)).sent == 6

    copies = Counter(received.message["Message-ID"] for received in smtp.received)
    assert len(copies) == 10
    assert sorted(copies.values()) == [1] * 7 + [2] * 3  # at most MAIL_RECORD_EVERY twice
    assert statuses(app) == {MAIL_SENT}


def test_two_workers_recording_in_small_groups_send_each_message_once(
    app, client, make_session, smtp
):
    book_clinics(client, make_session(seats=12), 12)
    app.config["MAIL_RECORD_EVERY"] = 2
    errors = []
    barrier = threading.Barrier(2)

    def worker():
        try:
            with app.app_context():
                barrier.wait()
                deliver_due(batch_size=5)
                db.session.remove()
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    assert all(ended_within(thread, 60) for thread in threads)

    assert errors == []
    copies = Counter(received.message["Message-ID"] for received in smtp.received)
    assert len(copies) == 12
    assert set(copies.values()) == {1}
    assert statuses(app) == {MAIL_SENT}


class StalledTransport:
    """A mail server that holds the first message until ``release`` is set, then refuses it
    for good: a worker stalled mid-send past its lease."""

    def __init__(self):
        self.stalled, self.release = threading.Event(), threading.Event()

    def send(self, claim, sender, data):
        self.stalled.set()
        assert self.release.wait(60)
        raise DeliveryError("550 5.7.1 refused after the lease lapsed", permanent=True)

    def close(self):
        pass


def test_a_worker_stalled_past_its_lease_cannot_overwrite_what_its_successor_recorded(
    app, client, make_session, smtp
):
    book_clinics(client, make_session(), 1)
    stalled, errors = StalledTransport(), []

    def stalled_worker():
        try:
            with app.app_context():
                assert deliver_due(transport=stalled).failed == 1  # as it saw it
                db.session.remove()
        except Exception as error:
            errors.append(error)

    thread = threading.Thread(target=stalled_worker)
    thread.start()
    assert stalled.stalled.wait(60)
    assert deliver(app, later=timedelta(minutes=6)).sent == 1  # its lease lapsed
    stalled.release.set()
    assert ended_within(thread, 60)

    assert errors == []
    assert len(smtp.received) == 1
    assert statuses(app) == {MAIL_SENT}
    with app.app_context():
        assert db.session.scalars(select(OutboxMessage.last_error)).one() is None


def test_a_recipient_row_is_written_once_with_its_outcome_a_group_at_a_time(
    app, client, make_session, smtp
):
    """The claim writes the message rows only (their claim holds the recipients); each group of
    outcomes is an executemany a table on SQLite, and one statement for both tables on
    PostgreSQL (one UPDATE a row there would be a round of work a row, and two statements two
    round trips)."""
    book_clinics(client, make_session(seats=12), 9)
    app.config["MAIL_RECORD_EVERY"] = 3
    writes: list[str] = []

    def note(_connection, _cursor, statement, *_rest):
        if statement.startswith(("UPDATE", "WITH")):
            writes.append(statement.split(" SET ", 1)[0].split(" AS ", 1)[0])

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", note)
        try:
            assert deliver_due(batch_size=10).sent == 9
        finally:
            event.remove(db.engine, "before_cursor_execute", note)
        postgresql = db.engine.dialect.name == "postgresql"

    # The claim (then the one that finds nothing left), and three groups of three outcomes.
    if postgresql:
        assert Counter(writes) == {"UPDATE outbox_messages": 2, "WITH released": 3}
    else:
        assert Counter(writes) == {"UPDATE outbox_messages": 2 + 3, "UPDATE outbox_recipients": 3}
    assert statuses(app) == {MAIL_SENT}


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_run_leaves_its_connection_writing_lists_as_before(app, client, make_session, smtp):
    """The run sends its arrays in binary, each cast by its statement; once back in the pool,
    its connection sends lists as psycopg's text default does, whose strings take the type
    the query needs."""
    book_clinics(client, make_session(), 1)
    with app.app_context():
        db.engine.dispose()  # the run's connection is then the pool's only one
        assert deliver_due().sent == 1
        with db.engine.connect() as connection:
            found = connection.execute(
                text("SELECT 2 = ANY(:values)"), {"values": ["1", "2"]}
            ).scalar_one()
    assert found is True


def claimed_by_a_worker(app, claimed_at) -> int:
    """Claim what is due as a worker did at ``claimed_at`` (its lease running from then)."""
    with app.app_context():
        claimed = len(claim_due(utcnow(), 50))
        lease = timedelta(seconds=app.config["MAIL_LEASE_SECONDS"])
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.lease_expires_at.is_not(None))
            .values(lease_expires_at=claimed_at + lease)
        )
        db.session.commit()
        db.session.remove()
    return claimed


def test_messages_held_by_a_worker_that_stopped_say_when_they_are_released(
    app, client, runner, make_session, sign_in_as
):
    book_clinics(client, make_session(seats=12), 10)
    claimed_at = utcnow() - timedelta(minutes=2)
    # A worker claimed the batch two minutes ago and was killed before it sent any.
    assert claimed_by_a_worker(app, claimed_at) == 10
    released = claimed_at + timedelta(seconds=app.config["MAIL_LEASE_SECONDS"])

    status = runner.invoke(args=["mail", "status"]).output

    assert "sending: 10\n" in status
    assert (
        f"  10 messages held since {claimed_at:%Y-%m-%d %H:%M:%S} UTC (2 min ago) by a worker "
        f"that may have stopped; released for another try at {released:%Y-%m-%d %H:%M:%S} UTC "
        "(in 2 min)\n"
    ) in status
    sign_in_as("staff")
    dashboard = page_text(client.get("/staff/"))
    assert "10 emails being sent now." in dashboard
    assert "10 emails held since" in dashboard
    assert "(2 min ago) by a mail worker that may have stopped: released for another try at" in (
        dashboard
    )


def test_a_batch_being_sent_now_is_not_said_to_be_held(app, client, runner, make_session):
    book_clinics(client, make_session(seats=12), 3)
    assert claimed_by_a_worker(app, utcnow() - timedelta(seconds=10)) == 3

    status = runner.invoke(args=["mail", "status"]).output

    assert "sending: 3\n" in status
    assert "held" not in status


def test_messages_whose_lease_lapsed_wait_for_the_next_worker_round(
    app, client, runner, make_session
):
    book_clinics(client, make_session(seats=12), 2)
    claimed_at = utcnow() - timedelta(minutes=7)
    claimed_by_a_worker(app, claimed_at)

    status = runner.invoke(args=["mail", "status"]).output

    assert "  2 messages held since" in status
    assert "(7 min ago) by a worker that may have stopped; released at " in status
    assert status.count(": the next mail worker round sends them\n") == 1
