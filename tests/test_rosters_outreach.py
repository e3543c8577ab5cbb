"""Staff email the organizations of one or more sessions: preview, send, and what arrives."""

import re
from datetime import timedelta

import pytest
from conftest import PASSWORD, page_text, signup_form
from sqlalchemy import select

from training.audit.models import AuditEvent
from training.booking.models import TrainingSession
from training.extensions import db
from training.mail.delivery import deliver_due
from training.mail.models import OutboxMessage
from training.rosters.outreach import greets
from training.staff.services import create_staff

MESSAGE = "Please bring your learner file.\r\n\r\nThe <b>meeting link</b> is in your invite."


@pytest.fixture
def booked(client, make_session):
    """Two sessions: two organizations booked on the first, one on the second, and one waiting
    for the first (full after two)."""
    first, second = make_session(seats=2), make_session()
    client.post("/signup", data=signup_form(first))
    client.post(
        "/signup",
        data=signup_form(first, organization_name="Delta Health", contact_email="jo@delta.org"),
    )
    client.post(
        "/signup",
        data=signup_form(second, organization_name="Coast Clinic", contact_email="al@coast.org"),
    )
    client.post(
        "/signup",
        data=signup_form(
            first,
            organization_name="Late Clinic",
            contact_email="li@late.org",
            join_waitlist="y",
        ),
    )
    return first, second


def staff_messages(app) -> list[OutboxMessage]:
    with app.app_context():
        rows = db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind == "staff_message")
            .order_by(OutboxMessage.id)
        ).all()
        db.session.expunge_all()
        return rows


def compose(session_ids, **fields) -> dict:
    return {
        "sessions": [str(session_id) for session_id in session_ids],
        "subject": "Before Tuesday's session",
        "body": MESSAGE,
        **fields,
    }


def test_staff_preview_the_email_then_send_it_to_each_organization_once(
    app, client, sign_in_as, booked
):
    first, _second = booked
    sign_in_as("staff")
    form = client.get(f"/staff/sessions/email?session={first}").get_data(as_text=True)
    assert re.search(
        rf'<input checked id="sessions-\d" name="sessions" type="checkbox" value="{first}">', form
    )

    preview = client.post(
        "/staff/sessions/email", data=compose([first], preview="Preview"), follow_redirects=True
    )
    text = page_text(preview)
    assert preview.status_code == 200
    assert "2 organizations get this email" in text
    assert "Hello Ana Reyes, Please bring your learner file." in text
    assert "The <b>meeting link</b> is in your invite." in text  # shown as typed, not as HTML
    assert "Send to 2 organizations" in text
    assert staff_messages(app) == []

    sent = client.post("/staff/sessions/email", data=compose([first], send="Send"))
    assert sent.status_code == 303
    assert sent.headers["Location"] == f"/staff/sessions/{first}"
    assert "Queued your message to 2 organizations." in page_text(
        client.get(f"/staff/sessions/{first}")
    )
    messages = staff_messages(app)
    assert sorted(message.recipients[0] for message in messages) == [
        "ana.reyes@sierravalley.example.org",
        "jo@delta.org",
    ]
    # The organization in brackets, as on every email about a booking.
    assert sorted(message.subject for message in messages) == [
        "Before Tuesday's session (Delta Health)",
        "Before Tuesday's session (Sierra Valley Medical Society)",
    ]
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "session.organizations_emailed")
        ).one()
        assert (event.details["organizations"], event.details["subject"]) == (
            2,
            "Before Tuesday's session",
        )


def test_the_waitlist_is_written_to_only_when_asked(app, client, sign_in_as, booked):
    first, _second = booked
    sign_in_as("staff")
    client.post("/staff/sessions/email", data=compose([first], send="Send"))
    client.post(
        "/staff/sessions/email",
        data=compose([first], include_waitlist="y", subject="Waitlist too", send="Send"),
    )
    by_subject = {}
    for message in staff_messages(app):
        typed = message.subject.rsplit(" (", 1)[0]
        by_subject.setdefault(typed, []).append(message.recipients[0])
    assert "li@late.org" not in by_subject["Before Tuesday's session"]
    assert "li@late.org" in by_subject["Waitlist too"]


def test_the_waitlist_of_a_session_under_way_is_not_written_to(
    app, client, sign_in_as, booked, time_machine
):
    first, _second = booked
    with app.app_context():
        starts_at = db.session.get(TrainingSession, first).starts_at
    time_machine.move_to(starts_at + timedelta(minutes=10), tick=False)
    sign_in_as("staff")
    preview = client.post(
        "/staff/sessions/email",
        data=compose([first], include_waitlist="y", preview="Preview"),
        follow_redirects=True,
    )
    assert "Late Clinic" not in page_text(preview)
    client.post(
        "/staff/sessions/email",
        data=compose([first], include_waitlist="y", subject="During the session", send="Send"),
    )
    recipients = [message.recipients[0] for message in staff_messages(app)]
    # The two organizations booked hear from staff; the one that waited gets no seat now.
    assert len(recipients) == 2
    assert "li@late.org" not in recipients


def test_a_message_that_greets_on_its_own_is_not_greeted_twice(
    app, client, sign_in_as, booked, smtp
):
    first, _second = booked
    sign_in_as("staff")
    greeting = "Hello,\r\n\r\nPlease bring your learner file."

    preview = client.post(
        "/staff/sessions/email",
        data=compose([first], body=greeting, preview="Preview"),
        follow_redirects=True,
    )
    text = page_text(preview)
    assert "Hello, Please bring your learner file." in text and "Hello Ana Reyes" not in text
    assert "Subject Before Tuesday's session (Delta Health)" in text
    client.post("/staff/sessions/email", data=compose([first], body=greeting, send="Send"))
    with app.app_context():
        deliver_due()
    received = [mail.message for mail in smtp.received if "Tuesday" in mail.message["Subject"]]
    assert len(received) == 2
    for message in received:
        plain = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
        assert plain.startswith("Hello,\n\nPlease bring your learner file.")
        assert plain.count("Hello") == 1
        assert message.get_body(("html",)).get_content().count("Hello") == 1


@pytest.mark.parametrize(
    "opening",
    [
        "Hello,",
        "Hi all, the room changed.",
        "Hey!",
        "Dear colleagues,",
        "Dear Dr. Okafor",
        "Greetings from the training team.",
        "Good morning everyone",
        "Hi Ana",
        "Hello",
        "Morning all,",
        "Good evening, all",
        "Dearest colleagues,",
        "Hi 👋",
        "Hi?",
    ],
)
def test_a_message_opening_with_a_greeting_word_is_taken_as_greeting(opening):
    assert greets(opening + "\nPlease bring your learner file.")


@pytest.mark.parametrize(
    "opening",
    [
        "Hi-res slides are attached.",
        "Greetings cards not needed.",
        "Hello-world is our motto.",
        "Highlights of tomorrow:",
        "Hiring news: none.",
        "Dearth of seats on Tuesday.",
        "Morning sessions are full.",
        "Evenings work best for us.",
    ],
)
def test_a_message_opening_with_a_longer_or_hyphenated_word_gets_our_greeting(opening):
    assert not greets(opening)


def test_several_sessions_at_once_from_the_sessions_list(app, client, sign_in_as, booked):
    first, second = booked
    sign_in_as("staff")
    listing = client.get("/staff/sessions").get_data(as_text=True)
    assert 'action="/staff/sessions/email"' in listing
    assert f'name="session" value="{second}"' in listing
    client.post("/staff/sessions/email", data=compose([first, second], send="Send"))
    assert len(staff_messages(app)) == 3


def test_a_missing_subject_or_no_session_says_what_to_fix_and_keeps_the_text(
    app, client, sign_in_as, booked
):
    sign_in_as("staff")
    response = client.post(
        "/staff/sessions/email",
        data=compose([], subject="", preview="Preview"),
        follow_redirects=True,
    )
    text = page_text(response)
    assert response.status_code == 422
    assert "Tick at least one session." in text
    assert "Enter a subject." in text
    assert "Please bring your learner file." in response.get_data(as_text=True)
    assert staff_messages(app) == []


def test_what_arrives_over_smtp_is_the_message_as_written(app, client, sign_in_as, booked, smtp):
    _first, second = booked
    sign_in_as("staff")
    client.post("/staff/sessions/email", data=compose([second], send="Send"))
    with app.app_context():
        deliver_due()
    [received] = [
        mail
        for mail in smtp.received
        if mail.message["Subject"] == "Before Tuesday's session (Coast Clinic)"
    ]
    assert received.rcpt_tos == [
        "al@coast.org",
        "lee@sierravalley.example.org",
        "kim@sierravalley.example.org",
    ]
    message = received.message
    assert message["Subject"] == "Before Tuesday's session (Coast Clinic)"
    plain = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Hello Ana Reyes,\n\nPlease bring your learner file.\n\nThe <b>meeting link</b>" in plain
    assert "Coast Clinic is booked on the training session on" in plain
    html = message.get_body(("html",)).get_content()
    assert "The &lt;b&gt;meeting link&lt;/b&gt; is in your invite." in html


def test_automatic_emails_say_so_on_the_wire_and_staffs_own_message_does_not(
    app, client, sign_in_as, booked, smtp
):
    _first, second = booked
    sign_in_as("staff")
    client.post("/staff/sessions/email", data=compose([second], send="Send"))
    with app.app_context():
        deliver_due()
    by_subject = {}
    for mail in smtp.received:
        headers = re.split(rb"\r?\n\r?\n", mail.data, maxsplit=1)[0]
        marked = re.search(rb"^Auto-Submitted: auto-generated\r?$", headers, re.MULTILINE)
        by_subject[mail.message["Subject"]] = marked is not None
    staff = [subject for subject in by_subject if subject.startswith("Before Tuesday")]
    automatic = [subject for subject in by_subject if subject not in staff]
    # Confirmations and the waitlist email are the program's; out-of-office replies stay away.
    assert any(subject.startswith("You're on the waitlist") for subject in automatic)
    assert any(subject.startswith("Booked") or "booked" in subject for subject in automatic)
    assert all(by_subject[subject] for subject in automatic), by_subject
    assert staff and not any(by_subject[subject] for subject in staff)


def test_sessions_that_have_ended_are_offered_only_behind_their_own_disclosure(
    app, client, sign_in_as, make_session, booked
):
    first, _second = booked
    ended = make_session(starts_in=-timedelta(days=2))
    cancelled = make_session(starts_in=timedelta(days=9), status="cancelled")
    sign_in_as("staff")

    page = client.get(f"/staff/sessions/email?session={first}").get_data(as_text=True)

    coming, _, behind = page.partition("<summary>Sessions that have ended (1)</summary>")
    assert f'value="{first}"' in coming and f'value="{ended}"' not in coming
    assert f'value="{ended}"' in behind.split("</details>")[0]
    assert '<details class="ended-sessions">' in page  # closed: none of them is ticked
    assert f'value="{cancelled}"' not in page
    ticked = client.get(f"/staff/sessions/email?session={ended}").get_data(as_text=True)
    assert '<details class="ended-sessions" open>' in ticked


def test_back_after_sending_reopens_the_preview_saying_it_was_sent(app, client, sign_in_as, booked):
    first, _second = booked
    sign_in_as("staff")

    previewed = client.post("/staff/sessions/email", data=compose([first], preview="Preview"))
    assert previewed.status_code == 303
    preview_page = previewed.headers["Location"]
    assert preview_page.startswith("/staff/sessions/email?draft=")
    page = client.get(preview_page)
    assert "Send to 2 organizations" in page_text(page)
    draft = re.search(r'name="draft" type="hidden" value="(\d+)"', page.get_data(as_text=True))
    sent = client.post(
        "/staff/sessions/email", data=compose([first], draft=draft.group(1), send="Send")
    )
    assert sent.status_code == 303

    back = client.get(preview_page)  # the browser's Back: a page, not a form sent again
    text = page_text(back)
    assert back.status_code == 200
    assert "This message was sent on" in text and "Send to 2 organizations" not in text
    assert "Before Tuesday's session" in text
    assert len(staff_messages(app)) == 2
    with app.app_context():
        create_staff("other@cmadocs.example.org", PASSWORD, "staff")
        db.session.commit()
    other = app.test_client()
    other.post("/staff/sign-in", data={"email": "other@cmadocs.example.org", "password": PASSWORD})
    assert other.get(preview_page).status_code == 404  # another's draft is not shown


def test_a_staff_email_has_one_blank_line_before_its_questions_line(
    app, client, sign_in_as, booked
):
    _first, second = booked
    sign_in_as("staff")
    client.post("/staff/sessions/email", data=compose([second], send="Send"))
    [message] = staff_messages(app)
    text = message.text_body.replace("\r\n", "\n")
    assert "invite.\n\nYou get this message because Coast Clinic" in text
    assert re.search(r"[^\n]\n\nQuestions\? Reply to this email", text), text


def test_reloading_the_email_preview_shows_it_again(client, sign_in_as, booked):
    first, _second = booked
    sign_in_as("staff")
    previewed = client.post("/staff/sessions/email", data=compose([first], preview="Preview"))
    assert previewed.status_code == 303
    shown, reloaded = (
        client.get(previewed.headers["Location"]),
        client.get(previewed.headers["Location"]),
    )
    assert reloaded.status_code == 200
    assert page_text(reloaded) == page_text(shown)
    assert "Send to 2 organizations" in page_text(reloaded)


def test_a_draft_older_than_a_week_is_forgotten_when_another_is_kept(
    frozen_clock, client, sign_in_as, booked
):
    first, _second = booked
    sign_in_as("staff")
    old = client.post("/staff/sessions/email", data=compose([first], preview="Preview"))
    frozen_clock.shift(timedelta(days=7, minutes=1))
    client.post(  # signed out by then: signed in again
        "/staff/sign-in", data={"email": "staff@cmadocs.example.org", "password": PASSWORD}
    )
    new = client.post("/staff/sessions/email", data=compose([first], preview="Preview"))
    missing = client.get(old.headers["Location"])
    assert missing.status_code == 404
    assert "This draft is not yours or no longer kept. Write it again." in page_text(missing)
    assert client.get(new.headers["Location"]).status_code == 200
