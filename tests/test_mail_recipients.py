"""Delivery kept per recipient, against a loopback SMTP server that greylists one address and
does not know another: who gets how many copies, when, and what staff see."""

import threading
from datetime import timedelta

import pytest
from conftest import ended_within, page_text, signup_form
from mail_support import SmtpSink
from sqlalchemy import select, update

from training.booking.models import Signup
from training.extensions import db, utcnow
from training.mail.delivery import claim_due, deliver_due
from training.mail.models import (
    MAIL_FAILED,
    MAIL_QUEUED,
    MAIL_RETRYING,
    MAIL_SENDING,
    MAIL_SENT,
    OutboxMessage,
    OutboxRecipient,
    summary_status,
)
from training.mail.services import one_per_mailbox, queue_email

CONTACT = "ana.reyes@sierravalley.example.org"
LEE = "lee@sierravalley.example.org"
KIM = "kim@sierravalley.example.org"
GREYLISTED = "450 4.2.0 Greylisted, please try again later"


def book(client, session_id, **overrides) -> None:
    response = client.post("/signup", data=signup_form(session_id, **overrides))
    assert response.status_code == 303, response.get_data(as_text=True)


def deliver(app, *, later=timedelta(0), **options):
    with app.app_context():
        return deliver_due(now=lambda: utcnow() + later, **options)


def states(app) -> dict[str, tuple[str, str | None]]:
    """Each recipient of the one message: (status, last error)."""
    with app.app_context():
        return {
            recipient.address: (recipient.status, recipient.last_error)
            for recipient in db.session.scalars(select(OutboxRecipient))
        }


def message_status(app) -> str:
    with app.app_context():
        return db.session.scalars(select(OutboxMessage.status)).one()


def copies(sink: SmtpSink) -> dict[str, int]:
    return {address: len(sink.copies_for(address)) for address in (CONTACT, LEE, KIM)}


def test_a_greylisted_recipient_gets_one_copy_after_the_retry_and_the_others_one(
    app, client, make_session, smtp
):
    book(client, make_session())
    smtp.greylist = {KIM: 1}

    first = deliver(app)

    assert (first.retrying, first.recipients_sent, first.recipients_retrying) == (1, 2, 1)
    assert copies(smtp) == {CONTACT: 1, LEE: 1, KIM: 0}
    assert states(app)[KIM] == (MAIL_RETRYING, GREYLISTED)
    assert message_status(app) == MAIL_RETRYING
    assert deliver(app).total == 0  # the back-off: a minute

    second = deliver(app, later=timedelta(minutes=2))

    assert (second.sent, second.recipients_sent) == (1, 1)
    assert copies(smtp) == {CONTACT: 1, LEE: 1, KIM: 1}
    first_copy, retry = smtp.received
    assert retry.rcpt_tos == [KIM]  # the retry goes to the greylisted recipient only
    assert retry.message["Message-ID"] == first_copy.message["Message-ID"]
    assert retry.message["To"] == first_copy.message["To"]  # the same message, to all three
    assert {status for status, _error in states(app).values()} == {MAIL_SENT}
    assert message_status(app) == MAIL_SENT
    assert deliver(app, later=timedelta(days=3)).total == 0
    assert copies(smtp) == {CONTACT: 1, LEE: 1, KIM: 1}


def test_an_unknown_recipient_fails_while_the_others_are_sent(app, client, make_session, smtp):
    book(client, make_session())
    smtp.unknown = {LEE}

    report = deliver(app)

    assert (report.failed, report.recipients_sent, report.recipients_failed) == (1, 2, 1)
    assert copies(smtp) == {CONTACT: 1, LEE: 0, KIM: 1}
    status, error = states(app)[LEE]
    assert status == MAIL_FAILED
    assert error.startswith("550 5.1.1 ")
    assert message_status(app) == MAIL_FAILED
    assert deliver(app, later=timedelta(days=7)).total == 0
    assert copies(smtp) == {CONTACT: 1, LEE: 0, KIM: 1}


def test_every_recipient_refused_for_now_is_retried_and_each_refused_for_good_fails(
    app, client, make_session, smtp
):
    book(client, make_session())
    smtp.greylist = {CONTACT: 2, KIM: 1}
    smtp.unknown = {LEE}

    assert deliver(app).recipients_sent == 0  # all three refused at RCPT: nothing sent
    assert smtp.received == []
    assert deliver(app, later=timedelta(seconds=61)).recipients_sent == 1  # Kim
    with app.app_context():
        contact = db.session.scalars(
            select(OutboxRecipient).where(OutboxRecipient.address == CONTACT)
        ).one()
        # The contact's own back-off doubles: its second refusal waits two minutes.
        assert contact.attempts == 2
        assert timedelta(minutes=1, seconds=59) < contact.next_attempt_at - utcnow()
    assert deliver(app, later=timedelta(minutes=4)).recipients_sent == 1  # the contact

    assert copies(smtp) == {CONTACT: 1, LEE: 0, KIM: 1}
    assert states(app)[LEE][0] == MAIL_FAILED
    assert message_status(app) == MAIL_FAILED


def test_a_recipient_refused_for_now_every_time_is_given_up_after_the_last_attempt(
    app, client, make_session, smtp
):
    app.config.update(MAIL_MAX_ATTEMPTS=2)
    book(client, make_session())
    smtp.greylist = {KIM: 5}
    deliver(app)
    assert deliver(app, later=timedelta(hours=1)).recipients_failed == 1
    status, error = states(app)[KIM]
    assert status == MAIL_FAILED
    assert error == f"gave up after 2 attempts: {GREYLISTED}"
    assert copies(smtp) == {CONTACT: 1, LEE: 1, KIM: 0}


def test_a_worker_taking_over_a_lapsed_claim_sends_only_to_recipients_without_the_email(
    app, client, make_session, smtp
):
    book(client, make_session())
    smtp.greylist = {KIM: 1}
    deliver(app)
    with app.app_context():
        # A worker claims Kim's retry, then dies before sending.
        [claim] = claim_due(utcnow() + timedelta(minutes=2), 10)
        assert [recipient.address for recipient in claim.recipients] == [KIM]
        db.session.remove()

    assert deliver(app, later=timedelta(minutes=2)).total == 0  # its lease still holds
    assert deliver(app, later=timedelta(minutes=8)).recipients_sent == 1

    assert copies(smtp) == {CONTACT: 1, LEE: 1, KIM: 1}
    assert message_status(app) == MAIL_SENT


def test_a_claim_holds_its_recipients_on_the_message_alone_until_its_lease_lapses(
    app, client, make_session, smtp
):
    book(client, make_session())
    with app.app_context():
        [claim] = claim_due(utcnow(), 10)  # a worker claims, then dies before sending
        assert [recipient.attempts for recipient in claim.recipients] == [1, 1, 1]
        db.session.remove()
    # Only the message says it is being sent; its recipients are written with their outcome.
    assert message_status(app) == MAIL_SENDING
    assert states(app) == dict.fromkeys((CONTACT, LEE, KIM), (MAIL_QUEUED, None))

    assert deliver(app, later=timedelta(minutes=2)).total == 0  # its lease keeps them
    assert copies(smtp) == {CONTACT: 0, LEE: 0, KIM: 0}
    assert deliver(app, later=timedelta(minutes=6)).recipients_sent == 3
    assert copies(smtp) == {CONTACT: 1, LEE: 1, KIM: 1}
    with app.app_context():
        # The dead worker's claim never reached them: one attempt each, the message two.
        assert set(db.session.scalars(select(OutboxRecipient.attempts))) == {1}
        assert db.session.scalars(select(OutboxMessage.attempts)).one() == 2


def test_a_recipient_left_sending_by_an_older_worker_is_sent_again_after_its_lease(
    app, client, make_session, smtp
):
    """Before claims lived on the message alone, a claim marked its recipients ``sending``; one
    whose worker died mid-send is sent again with its message once the lease lapses."""
    book(client, make_session())
    with app.app_context():
        claim_due(utcnow(), 10)
        db.session.execute(
            update(OutboxRecipient)
            .where(OutboxRecipient.address == KIM)
            .values(status=MAIL_SENDING, next_attempt_at=utcnow() + timedelta(hours=1))
        )
        db.session.execute(
            update(OutboxRecipient).where(OutboxRecipient.address != KIM).values(status=MAIL_SENT)
        )
        db.session.commit()

    assert deliver(app, later=timedelta(minutes=6)).recipients_sent == 1
    assert copies(smtp) == {CONTACT: 0, LEE: 0, KIM: 1}
    assert message_status(app) == MAIL_SENT


def test_staff_see_each_recipients_state_and_resend_to_those_without_the_email(
    app, client, runner, make_session, sign_in_as, smtp
):
    session_id = make_session()
    book(client, session_id)
    smtp.greylist = {KIM: 1}
    smtp.unknown = {LEE}
    deliver(app)

    status = runner.invoke(args=["mail", "status"]).output
    assert "recipients: 1 failed, 1 retrying, 1 sent\n" in status
    assert f"  1 recipient waiting to retry ({GREYLISTED})\n" in status
    assert f"  1 recipient failed (550 5.1.1 <{LEE}>:" in status
    sign_in_as("staff")
    dashboard = page_text(client.get("/staff/"))
    assert "1 recipient failed (given up) and 1 recipient waiting to retry." in dashboard
    assert f"1 recipient waiting to retry ({GREYLISTED})" in dashboard
    assert f"{LEE} You're booked" in dashboard
    roster = page_text(client.get(f"/staff/sessions/{session_id}"))
    assert f"{CONTACT}: sent" in roster
    assert f"{KIM}: Retrying next try" in roster
    assert f"Last error: {GREYLISTED}" in roster
    assert f"{LEE}: Failed Last error: 550 5.1.1 <{LEE}>: Recipient address rejected" in roster

    smtp.unknown = set()  # the mailbox was created; staff resend
    with app.app_context():
        message_id = db.session.scalars(select(OutboxMessage.id)).one()
    response = client.post(f"/staff/sessions/{session_id}/emails/{message_id}/resend")
    assert "will be sent again in a moment." in page_text(client.get(response.headers["Location"]))
    assert states(app)[LEE] == (
        MAIL_QUEUED,
        f"550 5.1.1 <{LEE}>: Recipient address rejected: User unknown",
    )
    assert states(app)[KIM][0] == MAIL_QUEUED
    assert states(app)[CONTACT][0] == MAIL_SENT

    deliver(app)  # now, to Lee and to Kim (whose retry the resend brought forward) only
    assert copies(smtp) == {CONTACT: 1, LEE: 1, KIM: 1}
    assert deliver(app, later=timedelta(days=3)).total == 0
    assert message_status(app) == MAIL_SENT
    roster = page_text(client.get(f"/staff/sessions/{session_id}"))
    assert "Last error" not in roster


def test_two_workers_retrying_greylisted_recipients_at_once_send_each_one_copy(
    app, client, make_session, smtp
):
    session_id = make_session(seats=4)
    contacts = [f"contact{number}@example.org" for number in range(12)]
    attendees = [f"attendee{number}@example.org" for number in range(12)]
    for number in range(12):
        book(
            client,
            session_id,
            organization_name=f"Clinic Number {number}",
            contact_email=contacts[number],
            attendee_emails=attendees[number],
        )
    smtp.greylist = dict.fromkeys(attendees, 1)

    def race(later: timedelta) -> None:
        errors = []
        barrier = threading.Barrier(2)

        def worker():
            try:
                with app.app_context():
                    barrier.wait()
                    deliver_due(now=lambda: utcnow() + later, batch_size=3)
                    db.session.remove()
            except Exception as error:
                errors.append(error)

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        assert all(ended_within(thread, 60) for thread in threads)
        assert errors == []

    race(timedelta(0))
    assert {len(smtp.copies_for(address)) for address in contacts} == {1}
    assert {len(smtp.copies_for(address)) for address in attendees} == {0}
    race(timedelta(minutes=2))

    for address in contacts + attendees:
        assert len(smtp.copies_for(address)) == 1, address
    with app.app_context():
        assert set(db.session.scalars(select(OutboxRecipient.status))) == {MAIL_SENT}
        assert set(db.session.scalars(select(OutboxMessage.status))) == {MAIL_SENT}


@pytest.mark.parametrize(
    ("recipients", "message"),
    [
        ([MAIL_SENT, MAIL_SENT], MAIL_SENT),
        ([MAIL_SENT, MAIL_RETRYING, MAIL_FAILED], MAIL_RETRYING),
        ([MAIL_SENT, MAIL_SENDING], MAIL_RETRYING),
        ([MAIL_QUEUED, MAIL_SENT], MAIL_QUEUED),
        ([MAIL_SENT, MAIL_FAILED], MAIL_FAILED),
        ([MAIL_FAILED, MAIL_FAILED], MAIL_FAILED),
        ([], MAIL_FAILED),
    ],
)
def test_a_message_reads_sent_only_when_every_recipient_has_it(recipients, message):
    assert summary_status(recipients) == message


def test_one_mailbox_written_twice_is_one_recipient_with_its_first_spelling():
    assert one_per_mailbox(
        [
            "Jordan.Reyes@Example.org",
            "jordan.reyes@example.org",
            "Jordan Reyes <JORDAN.REYES@example.org>",
            KIM,
        ]
    ) == ["Jordan.Reyes@Example.org", KIM]


def test_an_address_at_a_domain_in_another_script_is_sent_to_its_ascii_form(
    app, client, make_session, smtp
):
    book(client, make_session(), attendee_emails="plain@bücher.example")
    deliver(app)
    [received] = smtp.received
    assert "plain@xn--bcher-kva.example" in received.rcpt_tos
    assert "plain@xn--bcher-kva.example" in received.message["To"]
    assert states(app)["plain@bücher.example"] == (MAIL_SENT, None)


def test_an_address_mail_cannot_carry_fails_alone_and_the_others_are_sent(
    app, client, make_session, smtp
):
    book(client, make_session())
    deliver(app)
    smtp.received.clear()
    # An address stored before the signup form refused such addresses.
    with app.app_context():
        signup = db.session.scalars(select(Signup)).one()
        message_id = queue_email(
            "manage_link",
            [CONTACT, "josé@clinic.example", LEE],
            "A message",
            signup,
            manage_url="https://training.example.org/manage/x",
        )
        db.session.commit()
    report = deliver(app)
    assert (report.recipients_sent, report.recipients_failed) == (2, 1)
    [received] = smtp.received
    assert received.rcpt_tos == [CONTACT, LEE]
    assert "josé" not in received.message["To"]
    status, error = states(app)["josé@clinic.example"]
    assert status == MAIL_FAILED
    assert "letters outside ASCII before the @" in error
    with app.app_context():
        assert db.session.get(OutboxMessage, message_id).status == MAIL_FAILED
    # Nothing is left claimed: the next round has nothing to do.
    assert deliver(app, later=timedelta(hours=1)).total == 0


def test_a_queued_email_reaches_each_mailbox_once_and_a_long_subject_is_cut_to_fit(
    app, client, make_session
):
    book(client, make_session())
    with app.app_context():
        signup = db.session.scalars(select(Signup)).one()
        signup_id = signup.id
        message_id = queue_email(
            "manage_link",
            [CONTACT, CONTACT.upper(), f"Lee <{LEE}>", LEE],
            "A long subject " * 30,
            signup,
            manage_url="https://training.example.org/manage/x",
        )
        db.session.commit()
    with app.app_context():
        message = db.session.get(OutboxMessage, message_id)
        assert message.signup_id == signup_id
        assert message.status == MAIL_QUEUED
        assert [(r.address, r.status) for r in message.deliveries] == [
            (CONTACT, MAIL_QUEUED),
            (f"Lee <{LEE}>", MAIL_QUEUED),
        ]
        assert len(message.subject) == 300
        assert message.subject.endswith("A long subject…")
        assert message.wire is not None
