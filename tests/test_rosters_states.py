"""No state allows what makes no sense, on the staff side: a cancelled session's waitlist is
emptied (each organization told where it stands), and sessions are not put in the past."""

import html
from datetime import UTC, datetime, timedelta

import pytest
import vobject
from conftest import page_text, sign_up
from flask_migrate import upgrade
from sqlalchemy import select, text
from test_migrations import empty_database_app as empty_database_app

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
    sign_up(app, doomed, "Booked Clinic")
    sign_up(app, other, "Other Date Clinic")
    only_choice = sign_up(app, doomed, "Only Choice Clinic")
    sign_up(app, doomed, "Two Choices Clinic", other)
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
        f"Cancelled: the training session on {when} (Booked Clinic)"
    ]
    assert "other@clinic.example.org" not in mail

    manage = page_text(app.test_client().get(f"/manage/{only_choice}"))
    assert "Not waiting for any date: our staff cancelled the session you chose." in manage
    assert "in line" not in manage
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "session.cancelled")
        ).one()
        assert (event.details["booked"], event.details["waitlisted"]) == (1, 2)


def test_the_waitlist_cancellation_email_offers_only_dates_the_manage_link_can_still_book(
    app, client, make_session, sign_in_as, smtp
):
    doomed = make_session(seats=0)
    tomorrow = make_session(seats=3, starts_in=timedelta(hours=20))  # inside the 24-hour cutoff
    later = make_session(seats=3, starts_in=timedelta(days=6))
    token = sign_up(app, doomed, "Only Choice Clinic")
    arrived(app, smtp)
    smtp.received.clear()
    sign_in_as("staff")
    client.post(f"/staff/sessions/{doomed}/cancel", data={"reason": "Room flooded."})
    [(_subject, text)] = arrived(app, smtp)["only@clinic.example.org"]
    with app.app_context():
        tomorrow_when = db.session.get(TrainingSession, tomorrow).when
        later_when = db.session.get(TrainingSession, later).when
    assert f"Dates with seats left now: - {later_when} " in text
    assert tomorrow_when not in text
    # The same dates as the manage page's "Book a date with free seats" offers.
    manage = app.test_client().get(f"/manage/{token}").get_data(as_text=True)
    assert later_when in manage and tomorrow_when not in manage


def test_a_cancelled_booking_is_not_told_it_waits_for_a_date_that_has_taken_place(
    app, client, make_session, sign_in_as, smtp, clock
):
    held = make_session(seats=0, starts_in=timedelta(hours=1))
    doomed = make_session(seats=1)
    later = make_session(seats=0, starts_in=timedelta(days=5))
    sign_up(app, doomed, "Three Choices Clinic", held, later)
    arrived(app, smtp)
    smtp.received.clear()
    clock.move_to(NOW + timedelta(hours=2), tick=False)
    sign_in_as("staff")
    client.post(f"/staff/sessions/{doomed}/cancel", data={"reason": "Room flooded."})
    with app.app_context():
        held_when = db.session.get(TrainingSession, held).when
        later_when = db.session.get(TrainingSession, later).when
    with app.app_context():
        deliver_due(now=lambda: NOW + timedelta(hours=2))
    [received] = smtp.received
    text = " ".join(received.message.get_body(preferencelist=("plain",)).get_content().split())
    assert (
        "You are now on the waitlist for the other dates you chose: "
        f"- {later_when}: number 1 in line" in text
    )
    assert held_when not in text


def test_a_booking_whose_session_is_cancelled_is_told_it_was_booked_on_its_other_date(
    app, client, make_session, sign_in_as, smtp
):
    doomed = make_session(seats=1)
    second = make_session(seats=1, starts_in=timedelta(days=5))
    sign_up(app, doomed, "Mu Org", second)
    arrived(app, smtp)
    smtp.received.clear()
    sign_in_as("staff")
    client.post(f"/staff/sessions/{doomed}/cancel", data={"reason": "Room flooded."})
    with app.app_context():
        doomed_when = db.session.get(TrainingSession, doomed).when
        second_when = db.session.get(TrainingSession, second).when
    mail = dict(arrived(app, smtp)["mu@clinic.example.org"])
    text = mail[f"Cancelled: the training session on {doomed_when} (Mu Org)"]
    assert f"so you are now booked for {second_when}. A separate email brings" in text
    assert "straight away" not in text and "waitlist" not in text
    # The footer for a booking, not for a waitlist place.
    assert "Change your date, update who is attending, or cancel:" in text
    assert f"{doomed_when} is cancelled: you're booked for {second_when} (Mu Org)" in mail


def test_a_booking_whose_other_date_is_full_is_told_its_place_in_line(
    app, client, make_session, sign_in_as, smtp
):
    doomed = make_session(seats=1)
    full = make_session(seats=0, starts_in=timedelta(days=5))
    sign_up(app, doomed, "Psi Org", full)
    arrived(app, smtp)
    smtp.received.clear()
    sign_in_as("staff")
    client.post(f"/staff/sessions/{doomed}/cancel", data={"reason": "Room flooded."})
    with app.app_context():
        full_when = db.session.get(TrainingSession, full).when
    [(_subject, text)] = arrived(app, smtp)["psi@clinic.example.org"]
    assert f"the other dates you chose: - {full_when}: number 1 in line" in text
    assert "straight away" not in text
    assert "See your place in line, choose other dates, or leave the waitlist:" in text


def test_a_booking_with_no_other_date_is_told_to_choose_one(
    app, client, make_session, sign_in_as, smtp
):
    doomed = make_session(seats=1)
    spare = make_session(seats=2, starts_in=timedelta(days=5))
    sign_up(app, doomed, "Only Date Org")
    arrived(app, smtp)
    smtp.received.clear()
    sign_in_as("staff")
    client.post(f"/staff/sessions/{doomed}/cancel", data={"reason": "Room flooded."})
    with app.app_context():
        spare_when = db.session.get(TrainingSession, spare).when
    [(_subject, text)] = arrived(app, smtp)["only@clinic.example.org"]
    assert "You are not waiting for any other date." in text
    assert f"Dates with seats left now: - {spare_when}" in text
    assert "Book a date, join a waitlist, or cancel your signup:" in text


def test_the_sessions_list_shows_no_waitlist_for_a_cancelled_session(
    app, client, make_session, sign_in_as
):
    doomed = make_session(seats=0)
    sign_up(app, doomed, "Waiting Clinic")
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
    sign_up(app, doomed, "Two Choices Clinic", other)
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
        doomed_when = db.session.get(TrainingSession, doomed).when
    subjects_and_texts = arrived(app, smtp)["two@clinic.example.org"]
    subjects = [subject for subject, _ in subjects_and_texts]
    # No seat opened up: its first date went, and it is booked on the other it chose.
    assert subjects[0] == (
        f"{doomed_when} is cancelled: you're booked for {other_when} (Two Choices Clinic)"
    )
    assert (
        f"{doomed_when} is cancelled, so Two Choices Clinic is now booked on another date it "
        "chose" in subjects_and_texts[0][1]
    )
    assert subjects[1].startswith("Waitlist update:")
    assert f"so you are now booked for {other_when}" in subjects_and_texts[1][1]


def test_an_organization_sent_back_to_the_waitlist_does_not_wait_for_an_earlier_cancelled_date(
    app, client, make_session, sign_in_as
):
    first = make_session(seats=0)
    second = make_session(seats=1, starts_in=timedelta(days=5))
    token = sign_up(app, first, "Two Choices Clinic", second)
    sign_in_as("staff")
    client.post(f"/staff/sessions/{first}/cancel", data={"reason": "Room flooded."})
    assert chosen(app, "Two Choices Clinic") == [first, second]  # booked on its 2nd choice
    client.post(f"/staff/sessions/{second}/cancel", data={"reason": "Facilitator ill."})
    assert chosen(app, "Two Choices Clinic") == []
    manage = page_text(app.test_client().get(f"/manage/{token}"))
    assert "in line" not in manage
    assert "Not waiting for any date" in manage


def test_the_roster_numbers_an_organizations_dates_as_its_manage_page_does(
    app, client, make_session, sign_in_as
):
    doomed = make_session(seats=0)
    second = make_session(seats=0, starts_in=timedelta(days=5))
    third = make_session(seats=0, starts_in=timedelta(days=6))
    token = sign_up(app, doomed, "Three Choices Clinic", second, third)
    sign_in_as("staff")
    client.post(f"/staff/sessions/{doomed}/cancel", data={"reason": "Room flooded."})
    with app.app_context():
        second_when = db.session.get(TrainingSession, second).when
        third_when = db.session.get(TrainingSession, third).when
    manage = page_text(app.test_client().get(f"/manage/{token}"))
    assert f"First choice {second_when}" in manage
    assert f"Second choice {third_when}" in manage
    roster = page_text(client.get(f"/staff/sessions/{second}"))
    assert f"First choice: {second_when} (this session); Second choice: {third_when}" in roster
    assert "Third choice" not in roster


def test_a_waitlist_place_on_a_session_that_has_begun_is_not_shown_as_waiting(
    app, client, make_session, sign_in_as, clock
):
    held = make_session(seats=0)
    later = make_session(seats=0, starts_in=timedelta(days=5))
    token = sign_up(app, held, "Two Choices Clinic", later)
    with app.app_context():
        starts_at = db.session.get(TrainingSession, held).starts_at
    clock.move_to(starts_at + timedelta(minutes=1), tick=False)

    manage = page_text(app.test_client().get(f"/manage/{token}"))
    assert "First choice" in manage and "Second choice" in manage
    assert "this session is under way, so no seat will come from it" in manage
    assert "taken place" not in manage
    assert manage.count("in line") == 1  # only the later date: number 1 in line
    assert "number 1 in line" in manage
    assert "On the waitlist" in manage

    sign_in_as("staff")
    markup = client.get("/staff/sessions").get_data(as_text=True)
    row = markup[markup.index(f"/staff/sessions/{held}") :].split("</tr>")[0]
    assert '<td><span class="hint">None</span></td>' in row
    roster = page_text(client.get(f"/staff/sessions/{held}"))
    assert "Waitlist None: the session is under way" in roster
    assert "Waited for this session, got no seat (1)" in roster
    assert "This session is under way, so no seat will come to these organizations" in roster
    assert "Waitlist (1)" in page_text(client.get(f"/staff/sessions/{later}"))


def test_a_waitlist_place_says_its_session_has_taken_place_only_once_it_has_ended(
    app, client, make_session, sign_in_as, clock
):
    held = make_session(seats=0)
    later = make_session(seats=0, starts_in=timedelta(days=5))
    token = sign_up(app, held, "Two Choices Clinic", later)
    with app.app_context():
        ends_at = db.session.get(TrainingSession, held).ends_at
    clock.move_to(ends_at, tick=False)

    manage = page_text(app.test_client().get(f"/manage/{token}"))
    assert "this session has taken place, so no seat will come from it" in manage
    assert "under way" not in manage
    sign_in_as("staff")
    roster = page_text(client.get(f"/staff/sessions/{held}"))
    assert "Waitlist None: the session has taken place" in roster
    assert "This session has taken place, so no seat will come to these organizations" in roster


def test_an_organization_whose_only_date_has_started_is_told_it_waits_for_none(
    app, make_session, clock
):
    held = make_session(seats=0)
    token = sign_up(app, held, "Only Choice Clinic")
    with app.app_context():
        starts_at = db.session.get(TrainingSession, held).starts_at
    clock.move_to(starts_at, tick=False)
    manage = page_text(app.test_client().get(f"/manage/{token}"))
    assert "Not waiting for any date: the date you chose has started." in manage
    assert "this session is under way, so no seat will come from it" in manage
    assert "in line" not in manage


# --- Sessions are not put in the past ---------------------------------------------------------


def session_form(day: str, **fields) -> dict:
    """The session form as staff fill it in: ``day`` (YYYY-MM-DD) 10:00–11:30 AM PT."""
    return {
        "day": day,
        "starts_at": "10:00",
        "ends_at": "11:30",
        "seats": "8",
        "meeting_url": "https://meet.example.org/abc",
        **fields,
    }


def error_under(response, field_id: str) -> str:
    """The message shown under a form field (the one its aria-describedby names)."""
    markup = response.get_data(as_text=True)
    start = markup.index(f'id="{field_id}-error">') + len(f'id="{field_id}-error">')
    return markup[start : markup.index("</p>", start)]


def audit(app, action: str) -> list[dict]:
    with app.app_context():
        return [
            event.details
            for event in db.session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        ]


def outbox_kinds(app) -> list[str]:
    with app.app_context():
        from training.mail.models import OutboxMessage

        return list(db.session.scalars(select(OutboxMessage.kind).order_by(OutboxMessage.id)))


def test_staff_cannot_create_a_session_in_the_past(app, client, program_id, sign_in_as):
    sign_in_as("staff")
    response = client.post("/staff/sessions/new", data=session_form("2026-11-22"))
    assert response.status_code == 200
    assert error_under(response, "day") == (
        "This start, Sun, Nov 22, 2026, 10:00 AM PT, is in the past. Choose a later date or "
        "time; only an admin can put a session in the past."
    )
    assert "Schedule it in the past" not in page_text(response)
    # A staff member who sends the admin's box and reason anyway is refused the same way.
    forced = client.post(
        "/staff/sessions/new",
        data=session_form("2026-11-22", in_past="y", in_past_reason="Held by phone."),
    )
    assert "only an admin can put a session in the past" in error_under(forced, "day")
    with app.app_context():
        assert db.session.scalars(select(TrainingSession)).all() == []


def test_a_session_starting_this_very_minute_is_in_the_past(app, client, program_id, sign_in_as):
    sign_in_as("staff")
    response = client.post(
        "/staff/sessions/new", data=session_form("2026-11-23", starts_at="09:00")
    )
    assert "is in the past" in error_under(response, "day")
    later = client.post("/staff/sessions/new", data=session_form("2026-11-23", starts_at="09:01"))
    assert later.status_code == 303


def test_an_admin_creates_a_session_in_the_past_only_confirmed_with_a_reason(
    app, client, program_id, sign_in_as
):
    sign_in_as("admin")
    response = client.post("/staff/sessions/new", data=session_form("2026-11-20"))
    assert error_under(response, "day") == (
        "This start, Fri, Nov 20, 2026, 10:00 AM PT, is in the past. To put it in the past "
        "anyway, tick “Schedule it in the past” and say why; the audit log keeps your reason "
        "and nobody is emailed."
    )
    assert "Schedule it in the past: I know this start has gone by" in page_text(response)
    unexplained = client.post(
        "/staff/sessions/new", data=session_form("2026-11-20", in_past="y", in_past_reason=" ")
    )
    assert error_under(unexplained, "in_past_reason") == (
        "Say why this session goes in the past; the audit log keeps it."
    )
    created = client.post(
        "/staff/sessions/new",
        data=session_form(
            "2026-11-20", in_past="y", in_past_reason="Held by phone during the outage."
        ),
    )
    assert created.status_code == 303
    with app.app_context():
        session = db.session.scalars(select(TrainingSession)).one()
        assert session.starts_at == datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
    [created_event] = audit(app, "session.created")
    assert created_event["past_reason"] == "Held by phone during the outage."
    assert outbox_kinds(app) == []


def edit_form_moving(app, session_id: int, day: str, **fields) -> dict:
    with app.app_context():
        session = db.session.get(TrainingSession, session_id)
        return session_form(day, seats=str(session.seats), **fields)


def test_staff_cannot_move_a_booked_session_into_the_past(app, client, make_session, sign_in_as):
    session_id = make_session()
    sign_up(app, session_id, "Booked Clinic")
    sign_in_as("staff")
    response = client.post(
        f"/staff/sessions/{session_id}/edit", data=edit_form_moving(app, session_id, "2026-11-21")
    )
    assert response.status_code == 200
    assert error_under(response, "day") == (
        "This start, Sat, Nov 21, 2026, 10:00 AM PT, is in the past. 1 organization is booked "
        "on it. Choose a later date or time; only an admin can put a session in the past."
    )
    with app.app_context():
        assert db.session.get(TrainingSession, session_id).starts_at > NOW
    assert outbox_kinds(app) == ["booking_confirmed"]


def test_an_admin_moves_a_booked_session_into_the_past_with_a_reason_and_nobody_is_emailed(
    app, client, make_session, sign_in_as
):
    session_id = make_session()
    sign_up(app, session_id, "Booked Clinic")
    sign_in_as("admin")
    refused = client.post(
        f"/staff/sessions/{session_id}/edit", data=edit_form_moving(app, session_id, "2026-11-21")
    )
    assert "1 organization is booked on it. To put it in the past anyway" in error_under(
        refused, "day"
    )
    response = client.post(
        f"/staff/sessions/{session_id}/edit",
        data=edit_form_moving(
            app, session_id, "2026-11-21", in_past="y", in_past_reason="It was held a day early."
        ),
        follow_redirects=True,
    )
    assert "will be emailed" not in page_text(response)
    with app.app_context():
        assert db.session.get(TrainingSession, session_id).starts_at == datetime(
            2026, 11, 21, 18, 0, tzinfo=UTC
        )
    [updated] = audit(app, "session.updated")
    assert updated["past_reason"] == "It was held a day early."
    assert outbox_kinds(app) == ["booking_confirmed"]


def test_after_a_silent_move_into_the_past_the_ics_download_is_newer_than_the_invite_held(
    app, client, make_session, sign_in_as
):
    session_id = make_session()
    token = sign_up(app, session_id, "Booked Clinic")

    def downloaded() -> tuple[int, datetime]:
        calendar = app.test_client().get(f"/manage/{token}/invite.ics").get_data(as_text=True)
        event = vobject.readOne(calendar).vevent
        return int(event.sequence.value), event.dtstart.value

    imported_sequence, _ = downloaded()  # what a calendar took from the confirmation
    sign_in_as("admin")
    client.post(
        f"/staff/sessions/{session_id}/edit",
        data=edit_form_moving(
            app, session_id, "2026-11-21", in_past="y", in_past_reason="It was held a day early."
        ),
    )
    sequence, starts_at = downloaded()
    assert starts_at == datetime(2026, 11, 21, 18, 0, tzinfo=UTC)
    assert sequence > imported_sequence
    assert outbox_kinds(app) == ["booking_confirmed"]  # still nobody emailed


def test_a_session_that_has_started_is_changed_without_emailing_anyone_as_its_page_says(
    app, client, make_session, sign_in_as, clock
):
    session_id = make_session(starts_in=timedelta(hours=1))
    sign_up(app, session_id, "Booked Clinic")
    sign_in_as("staff")
    before = page_text(client.get(f"/staff/sessions/{session_id}/edit"))
    assert "emails an updated invite to every organization booked on it" in before
    clock.move_to(NOW + timedelta(hours=1, minutes=15), tick=False)
    with app.app_context():
        session = db.session.get(TrainingSession, session_id)
        local = session.local_starts_at
        form = {
            "day": f"{local:%Y-%m-%d}",
            "starts_at": f"{local:%H:%M}",
            "ends_at": f"{session.local_ends_at:%H:%M}",
            "seats": "8",
            "meeting_url": "https://meet.example.org/new-room",
        }
    edit_page = page_text(client.get(f"/staff/sessions/{session_id}/edit"))
    assert "emails an updated invite" not in edit_page
    assert "This session has begun, so changes are saved without emailing anyone" in edit_page
    response = client.post(f"/staff/sessions/{session_id}/edit", data=form, follow_redirects=True)
    assert "Saved" in page_text(response)
    assert "will be emailed" not in page_text(response)
    with app.app_context():
        assert db.session.get(TrainingSession, session_id).meeting_url == (
            "https://meet.example.org/new-room"
        )
    assert outbox_kinds(app) == ["booking_confirmed"]


# --- Places left on cancelled sessions' waitlists before the rule -----------------------------


def test_upgrading_takes_waiting_organizations_off_sessions_cancelled_before(
    empty_database_app,
):
    with empty_database_app.app_context():
        upgrade(revision="0012_one_drawing_per_challenge")
        with db.engine.begin() as connection:
            at = {"at": NOW}
            connection.execute(
                text(
                    "INSERT INTO programs (id, slug, name, description, timezone, "
                    "window_starts_on, window_ends_on, signup_opens_at, signup_closes_at, "
                    "staff_email, accme_challenge_due_on, cma_challenge_due_on, "
                    "attestation_text, created_at) VALUES (1, 'p', 'P', '', 'UTC', "
                    "'2026-12-01', '2026-12-08', :at, :at, 's@x.org', '2026-12-10', "
                    "'2027-03-01', 'a', :at)"
                ),
                at,
            )
            for session_id, status in ((1, "cancelled"), (2, "scheduled")):
                connection.execute(
                    text(
                        "INSERT INTO training_sessions (id, program_id, starts_at, ends_at, "
                        "seats, seats_booked, status, created_at) "
                        "VALUES (:id, 1, :at, :ends, 1, :booked, :status, :at)"
                    ),
                    {
                        "id": session_id,
                        "status": status,
                        "booked": 1 if status == "scheduled" else 0,
                        "ends": NOW + timedelta(hours=1),
                        **at,
                    },
                )
            signups = (
                (1, "waitlisted", None, (1, 2)),
                (2, "confirmed", 2, (1, 2)),
                (3, "waitlisted", None, (1,)),
            )
            for signup_id, status, session_id, choices in signups:
                connection.execute(
                    text(
                        "INSERT INTO signups (id, program_id, session_id, status, "
                        "organization_name, organization_key, contact_name, contact_email, "
                        "attestation_text, attested_at, submission_key_hash, invite_sequence, "
                        "created_at, updated_at) VALUES (:id, 1, :session_id, :status, :name, "
                        ":name, 'C', 'c@x.org', 'a', :at, :name, 0, :at, :at)"
                    ),
                    {
                        "id": signup_id,
                        "session_id": session_id,
                        "status": status,
                        "name": f"org{signup_id}",
                        **at,
                    },
                )
                for rank, choice in enumerate(choices, start=1):
                    connection.execute(
                        text(
                            "INSERT INTO signup_choices (signup_id, rank, session_id) "
                            "VALUES (:signup_id, :rank, :session_id)"
                        ),
                        {"signup_id": signup_id, "rank": rank, "session_id": choice},
                    )
        upgrade()
        with db.engine.connect() as connection:
            left = connection.execute(
                text("SELECT signup_id, session_id FROM signup_choices ORDER BY signup_id, rank")
            ).all()
    assert [tuple(row) for row in left] == [(1, 2), (2, 1), (2, 2)]


def test_an_organization_booked_on_a_cancelled_session_is_told_why_it_has_another_date(
    app, client, make_session, sign_in_as, smtp
):
    doomed = make_session()
    other = make_session(starts_in=timedelta(days=5))
    sign_up(app, doomed, "Moved Clinic", other)
    arrived(app, smtp)
    smtp.received.clear()
    sign_in_as("staff")
    client.post(f"/staff/sessions/{doomed}/cancel", data={"reason": "Room flooded."})
    with app.app_context():
        doomed_when = db.session.get(TrainingSession, doomed).when
        other_when = db.session.get(TrainingSession, other).when
    subjects = [subject for subject, _ in arrived(app, smtp)["moved@clinic.example.org"]]
    assert f"{doomed_when} is cancelled: you're booked for {other_when} (Moved Clinic)" in subjects
    assert not any(subject.startswith("A seat opened up") for subject in subjects)


def test_the_next_in_line_after_staff_cancel_a_booking_is_told_a_seat_opened_up(
    app, client, make_session, sign_in_as, smtp
):
    session_id = make_session(seats=1)
    sign_up(app, session_id, "Holder Clinic")
    sign_up(app, session_id, "Waiting Clinic")
    arrived(app, smtp)
    smtp.received.clear()
    with app.app_context():
        holder = db.session.scalars(
            select(Signup).where(Signup.organization_name == "Holder Clinic")
        ).one()
        holder_id, when = holder.id, holder.session.when
    sign_in_as("staff")
    client.post(
        f"/staff/sessions/{session_id}/signups/{holder_id}/cancel",
        data={"reason": "Asked by phone."},
    )
    subjects_and_texts = arrived(app, smtp)["waiting@clinic.example.org"]
    assert [subject for subject, _ in subjects_and_texts] == [
        f"A seat opened up: you're booked for {when} (Waiting Clinic)"
    ]
    assert "A seat opened up: Waiting Clinic is now booked" in subjects_and_texts[0][1]


# --- Sessions stay in the program's dates, and out of the cutoff unless staff confirm ---------


def test_staff_cannot_move_a_session_outside_the_programs_dates(
    app, client, make_session, sign_in_as
):
    session_id = make_session()
    sign_in_as("staff")
    response = client.post(
        f"/staff/sessions/{session_id}/edit", data=edit_form_moving(app, session_id, "2026-12-24")
    )
    assert response.status_code == 200
    assert html.unescape(error_under(response, "day")) == (
        "Thursday, December 24, 2026 is outside Learner Credit Reporting Training's dates, "
        "Monday, November 16, 2026 to Wednesday, December 23, 2026. Choose a day in the "
        "program's dates."
    )
    with app.app_context():
        assert db.session.get(TrainingSession, session_id).local_starts_at.day != 24
    assert "Dec 24" not in page_text(client.get("/"))


def test_moving_a_booked_session_inside_the_change_cutoff_asks_staff_to_confirm(
    app, client, make_session, sign_in_as
):
    session_id = make_session()
    sign_up(app, session_id, "Booked Clinic")
    sign_in_as("staff")
    tomorrow_early = edit_form_moving(app, session_id, "2026-11-24", starts_at="08:00")

    refused = client.post(f"/staff/sessions/{session_id}/edit", data=tomorrow_early)

    assert error_under(refused, "day") == (
        "Tue, Nov 24, 2026, 8:00 AM PT is within 24 hours, and 1 organization is booked on this "
        "session: they could no longer change their date, only cancel. To move it anyway, tick "
        "“Move it inside the cutoff” and save again."
    )
    assert outbox_kinds(app) == ["booking_confirmed"]
    moved = client.post(
        f"/staff/sessions/{session_id}/edit", data={**tomorrow_early, "move_inside_cutoff": "y"}
    )
    assert moved.status_code == 303
    with app.app_context():
        assert db.session.get(TrainingSession, session_id).starts_at == datetime(
            2026, 11, 24, 16, 0, tzinfo=UTC
        )
    assert outbox_kinds(app) == ["booking_confirmed", "session_changed"]
