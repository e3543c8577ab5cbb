"""No state allows what makes no sense, on the staff side: a cancelled session's waitlist is
emptied (each organization told where it stands), and sessions are not put in the past."""

from datetime import UTC, datetime, timedelta

import pytest
from conftest import manage_token, page_text, signup_form
from mail_support import SmtpSink
from sqlalchemy import select

from training.audit.models import AuditEvent
from training.booking.models import Signup, SignupChoice, TrainingSession
from training.extensions import db
from training.mail.delivery import deliver_due

pytestmark = pytest.mark.clock

# A Monday morning in California, well inside the program's signup dates.
NOW = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock(time_machine):
    """The wall clock stopped at ``NOW``, so sessions made "in three days" are at known times."""
    time_machine.move_to(NOW, tick=False)
    return time_machine


@pytest.fixture
def smtp(app):
    sink = SmtpSink().start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=sink.port)
    yield sink
    sink.stop()


def sign_up(app, session_id: int, name: str, email: str, *alternates: int) -> str:
    """Sign ``name`` up from a browser of its own; returns its manage token."""
    choices = dict(zip(("second_choice", "third_choice"), alternates, strict=False))
    response = app.test_client().post(
        "/signup",
        data=signup_form(
            session_id,
            organization_name=name,
            contact_email=email,
            attendee_emails="",
            **choices,
        ),
    )
    return manage_token(response)


def arrived(app, smtp) -> dict[str, list[tuple[str, str]]]:
    """Deliver the outbox over SMTP; each recipient's (subject, plain text) as they arrived."""
    with app.app_context():
        deliver_due(now=lambda: NOW)
    mail: dict[str, list[tuple[str, str]]] = {}
    for received in smtp.received:
        message = received.message
        text = message.get_body(preferencelist=("plain",)).get_content()
        for recipient in received.rcpt_tos:
            mail.setdefault(recipient, []).append((message["Subject"], " ".join(text.split())))
    return mail


def chosen(app, name: str) -> list[int]:
    with app.app_context():
        signup = db.session.scalars(select(Signup).where(Signup.organization_name == name)).one()
        return [choice.session_id for choice in signup.choices]


# --- Cancelling a session empties its waitlist ------------------------------------------------


def test_cancelling_a_session_takes_each_waiting_organization_off_and_says_where_it_stands(
    app, client, make_session, sign_in_as, smtp
):
    doomed = make_session(seats=1)
    other = make_session(seats=1, starts_in=timedelta(days=5))
    spare = make_session(seats=3, starts_in=timedelta(days=6))
    sign_up(app, doomed, "Booked Clinic", "booked@clinic.example.org")
    sign_up(app, other, "Other Date Clinic", "other@clinic.example.org")
    only_choice = sign_up(app, doomed, "Only Choice Clinic", "only@clinic.example.org")
    sign_up(app, doomed, "Two Choices Clinic", "two@clinic.example.org", other)
    arrived(app, smtp)
    smtp.received.clear()

    sign_in_as("staff")
    response = client.post(
        f"/staff/sessions/{doomed}/cancel",
        data={"reason": "The facilitator is ill."},
        follow_redirects=True,
    )
    assert "Cancelled" in page_text(response)

    assert chosen(app, "Only Choice Clinic") == []
    assert chosen(app, "Two Choices Clinic") == [other]
    roster = page_text(client.get(f"/staff/sessions/{doomed}"))
    assert "A cancelled session has no waitlist" in roster
    assert "Only Choice Clinic" not in roster and "Two Choices Clinic" not in roster
    assert "Two Choices Clinic" in page_text(client.get(f"/staff/sessions/{other}"))

    mail = arrived(app, smtp)
    with app.app_context():
        when = db.session.get(TrainingSession, doomed).when
        other_when = db.session.get(TrainingSession, other).when
        spare_when = db.session.get(TrainingSession, spare).when
    [(subject, text)] = mail["only@clinic.example.org"]
    assert subject == f"Waitlist update: {when} is cancelled (Only Choice Clinic)"
    assert "Only Choice Clinic is no longer on its waitlist." in text
    assert "Why: The facilitator is ill." in text
    assert "You are not waiting for any other date." in text
    assert f"Dates with seats left now: - {spare_when}" in text
    assert "https://training.example.org/manage/" in text
    [(subject, text)] = mail["two@clinic.example.org"]
    assert subject == f"Waitlist update: {when} is cancelled (Two Choices Clinic)"
    assert (
        f"You stay on the waitlist for the other dates you chose: - {other_when}: number 1 in line"
        in text
    )
    assert [subject for subject, _ in mail["booked@clinic.example.org"]] == [
        f"Cancelled: the training session on {when}"
    ]
    assert "other@clinic.example.org" not in mail

    manage = page_text(app.test_client().get(f"/manage/{only_choice}"))
    assert "Not waiting for any date: book one with free seats below" in manage
    assert "in line" not in manage
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "session.cancelled")
        ).one()
        assert (event.details["booked"], event.details["waitlisted"]) == (1, 2)


def test_the_sessions_list_shows_no_waitlist_for_a_cancelled_session(
    app, client, make_session, sign_in_as
):
    doomed = make_session(seats=0)
    sign_up(app, doomed, "Waiting Clinic", "waiting@clinic.example.org")
    sign_in_as("staff")
    client.post(f"/staff/sessions/{doomed}/cancel", data={"reason": "Room flooded."})
    markup = client.get("/staff/sessions").get_data(as_text=True)
    row = markup[markup.index(f"/staff/sessions/{doomed}") :].split("</tr>")[0]
    assert "Cancelled" in row
    assert '<td><span class="hint">None</span></td>' in row
    with app.app_context():
        assert db.session.scalars(select(SignupChoice)).all() == []


def test_a_waiting_organization_whose_other_date_has_a_seat_is_booked_there(
    app, client, make_session, sign_in_as, smtp
):
    doomed = make_session(seats=0)
    other = make_session(seats=0, starts_in=timedelta(days=5))
    sign_up(app, doomed, "Two Choices Clinic", "two@clinic.example.org", other)
    with app.app_context():
        # A seat added behind the services' back (by hand in the database, say): nobody
        # was promoted into it yet.
        db.session.get(TrainingSession, other).seats = 1
        db.session.commit()
    arrived(app, smtp)
    smtp.received.clear()
    sign_in_as("staff")
    client.post(f"/staff/sessions/{doomed}/cancel", data={"reason": "Room flooded."})
    with app.app_context():
        signup = db.session.scalars(select(Signup)).one()
        assert (signup.status, signup.session_id) == ("confirmed", other)
        other_when = signup.session.when
    subjects_and_texts = arrived(app, smtp)["two@clinic.example.org"]
    subjects = [subject for subject, _ in subjects_and_texts]
    assert subjects[0] == f"A seat opened up: you're booked for {other_when} (Two Choices Clinic)"
    assert subjects[1].startswith("Waitlist update:")
    assert f"so you are now booked for {other_when}" in subjects_and_texts[1][1]


def test_an_organization_sent_back_to_the_waitlist_does_not_wait_for_an_earlier_cancelled_date(
    app, client, make_session, sign_in_as
):
    first = make_session(seats=0)
    second = make_session(seats=1, starts_in=timedelta(days=5))
    token = sign_up(app, first, "Two Choices Clinic", "two@clinic.example.org", second)
    sign_in_as("staff")
    client.post(f"/staff/sessions/{first}/cancel", data={"reason": "Room flooded."})
    assert chosen(app, "Two Choices Clinic") == [first, second]  # booked on its 2nd choice
    client.post(f"/staff/sessions/{second}/cancel", data={"reason": "Facilitator ill."})
    assert chosen(app, "Two Choices Clinic") == []
    manage = page_text(app.test_client().get(f"/manage/{token}"))
    assert "in line" not in manage
    assert "Not waiting for any date" in manage
