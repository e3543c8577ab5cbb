"""Staff console sessions and rosters: what staff and facilitators see and can do."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from conftest import PASSWORD, manage_token, page_text, signup_form
from sqlalchemy import func, select

from training.audit.models import AuditEvent
from training.booking.models import Signup, TrainingSession
from training.extensions import db
from training.mail.models import OutboxMessage
from training.rosters.forms import CancelSignupForm
from training.staff.models import StaffMember
from training.staff.services import create_staff

pytestmark = pytest.mark.clock

# Sessions here start three days from "now" and staff edit them by their local day and times:
# from 10:30 PM in California the 90 minutes would end on the next day there and the edit form
# would refuse them. Every test runs on a clock frozen (ticking) at 10 AM Pacific, Nov 24, 2026.
TUESDAY_MORNING = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def tuesday_morning(time_machine):
    time_machine.move_to(TUESDAY_MORNING, tick=True)


@pytest.fixture
def make_facilitator(app):
    def make(name: str, *, session_ids=()) -> int:
        with app.app_context():
            member = create_staff(
                f"{name.split()[0].lower()}@cmadocs.example.org", PASSWORD, "facilitator", name=name
            )
            for session_id in session_ids:
                member.sessions.append(db.session.get(TrainingSession, session_id))
            db.session.commit()
            return member.id

    return make


def book(client, session_id, name, **fields):
    response = client.post(
        "/signup", data=signup_form(session_id, organization_name=name, **fields)
    )
    assert response.status_code == 303, page_text(response)


def signup_id(app, name) -> int:
    with app.app_context():
        return db.session.scalars(select(Signup.id).where(Signup.organization_name == name)).one()


def program_day() -> datetime:
    """A day two weeks ahead, inside the test program's dates (a week before "now" to 30 days
    after)."""
    return (TUESDAY_MORNING + timedelta(days=14)).replace(hour=0)


def session_form(**fields) -> dict:
    data = {
        "day": program_day().strftime("%Y-%m-%d"),
        "starts_at": "10:00",
        "ends_at": "11:30",
        "seats": "8",
        "meeting_url": "https://meet.example.org/abc",
        "dial_in": "+1 555 0100",
        "passcode": "4242",
    }
    data.update(fields)
    return data


def test_staff_see_every_session_with_seats_waitlist_and_facilitators(
    client, make_session, make_facilitator, sign_in_as
):
    full = make_session(seats=1)
    later = make_session(starts_in=timedelta(days=6))
    make_facilitator("Robin Diaz", session_ids=[full])
    book(client, full, "North Clinic")
    book(client, full, "South Clinic")  # waitlisted
    sign_in_as("staff")
    text = page_text(client.get("/staff/sessions"))
    assert "1 of 1 full 1 Robin Diaz Upcoming" in text
    assert "0 of 8 0 None assigned Upcoming" in text
    assert f'href="/staff/sessions/{later}"' in client.get("/staff/sessions").get_data(True)


def test_a_roster_of_one_seat_counts_it_in_the_singular(client, make_session, sign_in_as):
    session_id = make_session(seats=1)
    sign_in_as("staff")
    for path in (f"/staff/sessions/{session_id}", f"/staff/sessions/{session_id}/print"):
        assert "0 of 1 seat" in page_text(client.get(path))
        assert "of 1 seats" not in page_text(client.get(path))
    book(client, session_id, "North Clinic")
    for path in (f"/staff/sessions/{session_id}", f"/staff/sessions/{session_id}/print"):
        assert "1 of 1 seat" in page_text(client.get(path))
        assert "of 1 seats" not in page_text(client.get(path))
    bigger = make_session(seats=8)
    assert "Booked: 0 of 8 seats." in page_text(client.get(f"/staff/sessions/{bigger}/print"))


def test_the_roster_gives_the_joining_details_in_the_emails_order(client, make_session, sign_in_as):
    session_id = make_session(
        meeting_url="https://meet.example.org/abc", passcode="4321", dial_in="+1 555 0100"
    )
    sign_in_as("staff")
    text = page_text(client.get(f"/staff/sessions/{session_id}"))
    assert "Meeting link https://meet.example.org/abc Passcode 4321 Dial-in +1 555 0100" in text


def test_facilitators_see_only_their_sessions_and_only_read_their_rosters(
    client, make_session, make_facilitator, sign_in_as
):
    mine, theirs = make_session(), make_session(starts_in=timedelta(days=6))
    book(client, mine, "North Clinic")
    facilitator_id = sign_in_as("facilitator", name="Robin Diaz")
    with client.application.app_context():
        member = db.session.get(StaffMember, facilitator_id)
        member.sessions.append(db.session.get(TrainingSession, mine))
        db.session.commit()
    listing = client.get("/staff/sessions").get_data(as_text=True)
    assert f"/staff/sessions/{mine}" in listing
    assert f"/staff/sessions/{theirs}" not in listing
    assert "New session" not in listing

    roster = client.get(f"/staff/sessions/{mine}")
    assert roster.status_code == 200
    text = page_text(roster)
    assert "North Clinic" in text
    assert "Move" not in text and "Cancel booking" not in text and "Add a signup" not in text
    assert client.get(f"/staff/sessions/{theirs}").status_code == 403

    north = signup_id(client.application, "North Clinic")
    for url in (
        "/staff/sessions/new",
        f"/staff/sessions/{mine}/edit",
        f"/staff/sessions/{mine}/cancel",
        f"/staff/sessions/{mine}/signups/new",
        f"/staff/sessions/{mine}/roster.csv",
        f"/staff/sessions/{mine}/roster.xlsx",
        "/staff/calendar-feed",
    ):
        assert client.get(url).status_code == 403, url
    for action in ("move", "cancel", "promote", "notes"):
        url = f"/staff/sessions/{mine}/signups/{north}/{action}"
        assert client.post(url, data={"reason": "x", "session_id": theirs}).status_code == 403


def test_visitors_are_sent_to_sign_in_for_sessions_and_rosters(client, make_session):
    session_id = make_session()
    for url in ("/staff/sessions", f"/staff/sessions/{session_id}", "/staff/calendar-feed"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/staff/sign-in?next=")


def test_a_new_session_is_entered_in_program_time_and_stored_in_utc(
    app, client, program_id, make_facilitator, sign_in_as
):
    robin = make_facilitator("Robin Diaz")
    sign_in_as("staff")
    response = client.post("/staff/sessions/new", data=session_form(facilitators=[robin]))
    assert response.status_code == 303
    with app.app_context():
        session = db.session.scalars(select(TrainingSession)).one()
        # December in Los Angeles is UTC-8.
        assert session.starts_at == program_day().replace(hour=18)
        assert session.ends_at == program_day().replace(hour=19, minute=30)
        assert (session.seats, session.meeting_url, session.passcode) == (
            8,
            "https://meet.example.org/abc",
            "4242",
        )
        assert [member.id for member in session_facilitators(session)] == [robin]
    assert response.headers["Location"] == f"/staff/sessions/{session.id}"
    text = page_text(client.get(response.headers["Location"]))
    day = program_day()
    assert f"Session added: {day:%a}, {day:%b} {day.day}, 10:00–11:30 AM PT." in text
    assert "Robin Diaz" in text
    edit = client.get(f"/staff/sessions/{session.id}/edit").get_data(as_text=True)
    assert re.search(rf'<input checked [^>]*type="checkbox" value="{robin}">', edit)


def test_a_new_session_outside_the_programs_dates_is_refused_under_its_date(
    app, client, program_id, sign_in_as
):
    sign_in_as("staff")
    response = client.post("/staff/sessions/new", data=session_form(day="2026-12-26"))
    assert response.status_code == 200
    text = page_text(response)
    assert (
        "Saturday, December 26, 2026 is outside Learner Credit Reporting Training's dates, "
        "Tuesday, November 17, 2026 to Thursday, December 24, 2026. Choose a day in the "
        "program's dates."
    ) in text
    assert 'value="2026-12-26"' in response.get_data(as_text=True)  # kept as typed
    with app.app_context():
        assert db.session.scalars(select(TrainingSession)).all() == []


def session_facilitators(session):
    from training.rosters.services import session_facilitators as assigned

    return assigned(session)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"meeting_url": "javascript:alert(1)"}, "Enter the meeting link as a full web address"),
        ({"meeting_url": "meet dot example"}, "Enter the meeting link as a full web address"),
        ({"ends_at": "09:00"}, "The session must end after it starts, on the same day."),
        (
            {"starts_at": "02:30", "ends_at": "12:45"},
            "The session would last 10 hours 15 minutes, and a session lasts at most 8 hours",
        ),
        ({"seats": "0"}, "Use between 1 and 500 seats."),
        ({"seats": "9" * 20}, "Use between 1 and 500 seats."),
        ({"starts_at": "25:00"}, "Enter a time of day from 00:00 to 23:59, for example 14:30"),
        ({"day": "2026-13-45"}, "Enter a real date as year-month-day, for example 2026-12-01."),
        (
            {"meeting_url": "https://meet.example.org:99999/x"},
            "The meeting link's port (the number after the colon) cannot be right",
        ),
        ({"day": ""}, "Enter the session's date."),
    ],
)
def test_session_form_says_what_is_wrong(client, program_id, sign_in_as, fields, message):
    sign_in_as("staff")
    response = client.post("/staff/sessions/new", data=session_form(**fields))
    assert response.status_code == 200
    assert message in page_text(response)


def test_an_edit_to_a_session_longer_than_8_hours_is_refused_and_nobody_is_emailed(
    app, client, make_session, sign_in_as
):
    session_id = make_session()
    book(client, session_id, "North Clinic")
    sign_in_as("staff")
    with app.app_context():
        session = db.session.get(TrainingSession, session_id)
        day, starts_at = f"{session.local_starts_at:%Y-%m-%d}", session.starts_at
        emails_before = db.session.scalar(select(func.count(OutboxMessage.id)))

    response = client.post(
        f"/staff/sessions/{session_id}/edit",
        data=session_form(day=day, starts_at="02:30", ends_at="12:45"),
    )

    assert response.status_code == 200
    assert "The session would last 10 hours 15 minutes" in page_text(response)
    with app.app_context():
        assert db.session.get(TrainingSession, session_id).starts_at == starts_at
        assert db.session.scalar(select(func.count(OutboxMessage.id))) == emails_before


def test_a_session_of_exactly_8_hours_is_saved(client, program_id, sign_in_as):
    sign_in_as("staff")
    response = client.post(
        "/staff/sessions/new", data=session_form(starts_at="08:00", ends_at="16:00")
    )
    assert response.status_code == 303


@pytest.mark.parametrize(
    ("month", "first_days", "starts_at", "said"),
    [
        # Clocks in Los Angeles jump from 2:00 to 3:00 AM on the second Sunday of March...
        (3, range(8, 15), "02:30", "does not exist in America/Los_Angeles"),
        # ...and go back from 2:00 to 1:00 AM on the first Sunday of November.
        (11, range(1, 8), "01:30", "happens twice in America/Los_Angeles"),
    ],
)
def test_a_time_the_clock_change_skips_or_repeats_is_refused(
    client, program_id, sign_in_as, month, first_days, starts_at, said
):
    sign_in_as("staff")
    year = TUESDAY_MORNING.year + 1
    sunday = next(d for d in first_days if datetime(year, month, d).weekday() == 6)
    response = client.post(
        "/staff/sessions/new",
        data=session_form(day=f"{year}-{month:02d}-{sunday:02d}", starts_at=starts_at),
    )
    assert response.status_code == 200
    assert f"{starts_at} on {datetime(year, month, 1):%b} {sunday} {said}" in page_text(response)


@pytest.mark.parametrize(
    ("pasted", "saved"),
    [
        ("https://meet.example/abc?x=1&y=<b>|`", "https://meet.example/abc?x=1&y=%3Cb%3E%7C%60"),
        ("https://zoom.example/j/123?pwd=a b&x=ü", "https://zoom.example/j/123?pwd=a%20b&x=%C3%BC"),
        ("https://réunion.example/salle 1", "https://xn--runion-bva.example/salle%201"),
        ("https://meet.example/a%20b", "https://meet.example/a%20b"),
    ],
)
def test_a_meeting_link_with_characters_an_address_cannot_hold_is_saved_escaped(
    app, client, program_id, sign_in_as, pasted, saved
):
    sign_in_as("staff")
    response = client.post("/staff/sessions/new", data=session_form(meeting_url=pasted))
    assert response.status_code == 303
    with app.app_context():
        session = db.session.scalars(select(TrainingSession)).one()
        assert session.meeting_url == saved


@pytest.mark.parametrize(
    ("typed", "saved"),
    [
        ("zoom.us/j/123", "https://zoom.us/j/123"),
        ("us02web.zoom.us/j/8123?pwd=Ab12", "https://us02web.zoom.us/j/8123?pwd=Ab12"),
        ("meet.example.org", "https://meet.example.org"),
    ],
)
def test_a_meeting_link_typed_without_https_is_saved_with_it_and_shown_so(
    app, client, program_id, sign_in_as, typed, saved
):
    sign_in_as("staff")
    response = client.post("/staff/sessions/new", data=session_form(meeting_url=typed))
    assert response.status_code == 303, page_text(response)
    with app.app_context():
        session = db.session.scalars(select(TrainingSession)).one()
        assert session.meeting_url == saved
    assert f"Meeting link {saved}" in page_text(client.get(response.headers["Location"]))


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("javascript:alert(1)", "Enter the meeting link as a full web address, like https://…"),
        ("data:text/html,hi", "Enter the meeting link as a full web address, like https://…"),
        ("zoom.us:99999/j/1", "The meeting link's port (the number after the colon)"),
        ("zoom.us/j/1 23", "Enter the meeting link as a full web address, like https://…"),
        ("localhost/j/1", "Enter the meeting link as a full web address, like https://…"),
    ],
)
def test_a_meeting_link_without_https_that_is_no_web_address_is_still_refused(
    app, client, program_id, sign_in_as, typed, said
):
    sign_in_as("staff")
    response = client.post("/staff/sessions/new", data=session_form(meeting_url=typed))
    assert response.status_code == 200, response.status_code
    assert said in page_text(response)
    with app.app_context():
        assert db.session.scalars(select(TrainingSession)).all() == []


@pytest.mark.parametrize(
    ("pasted", "said"),
    [
        ("https://meet.example:99999/abc", "The meeting link's port (the number after the colon)"),
        ("https://exa..mple.org/x", "Enter the meeting link as a full web address, like https://…"),
    ],
)
def test_a_meeting_link_that_cannot_be_an_address_is_refused_as_typed(
    app, client, program_id, sign_in_as, pasted, said
):
    sign_in_as("staff")
    response = client.post("/staff/sessions/new", data=session_form(meeting_url=pasted))
    assert response.status_code == 200, response.status_code  # the form again, not saved
    assert said in page_text(response)
    assert pasted in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(TrainingSession)).all() == []


def test_seats_below_the_number_booked_are_refused_keeping_what_was_typed(
    app, client, make_session, sign_in_as
):
    session_id = make_session(seats=3)
    book(client, session_id, "North Clinic")
    book(client, session_id, "South Clinic")
    sign_in_as("staff")
    edit = page_text(client.get(f"/staff/sessions/{session_id}/edit"))
    assert "Seats" in edit
    with app.app_context():
        session = db.session.get(TrainingSession, session_id)
        local = session.local_starts_at
    form = session_form(
        day=f"{local:%Y-%m-%d}",
        starts_at=f"{local:%H:%M}",
        ends_at=f"{session.local_ends_at:%H:%M}",
        seats="1",
        dial_in="+1 555 0199",
    )
    response = client.post(f"/staff/sessions/{session_id}/edit", data=form)
    assert response.status_code == 200
    assert (
        "2 organizations are booked on this session, so it needs at least 2 seats. "
        "Move or cancel bookings first." in page_text(response)
    )
    assert 'value="+1 555 0199"' in response.get_data(as_text=True)
    with app.app_context():
        session = db.session.get(TrainingSession, session_id)
        assert (session.seats, session.dial_in) == (3, None)


def test_a_new_meeting_link_tells_staff_who_gets_an_updated_invite(
    app, client, make_session, sign_in_as
):
    session_id = make_session()
    book(client, session_id, "North Clinic")
    book(client, session_id, "South Clinic")
    sign_in_as("staff")
    with app.app_context():
        session = db.session.get(TrainingSession, session_id)
        local, local_end = session.local_starts_at, session.local_ends_at
    response = client.post(
        f"/staff/sessions/{session_id}/edit",
        data=session_form(
            day=f"{local:%Y-%m-%d}", starts_at=f"{local:%H:%M}", ends_at=f"{local_end:%H:%M}"
        ),
    )
    assert response.headers["Location"] == f"/staff/sessions/{session_id}"
    text = page_text(client.get(response.headers["Location"]))
    assert "2 organizations booked on it will be emailed an updated invite." in text
    with app.app_context():
        kinds = db.session.scalars(
            select(OutboxMessage.kind).where(OutboxMessage.kind == "session_changed")
        ).all()
    assert len(kinds) == 2


def test_moving_a_session_tells_staff_who_is_emailed_booked_and_waiting(
    app, client, make_session, sign_in_as
):
    session_id = make_session(seats=1)
    book(client, session_id, "North Clinic")
    book(client, session_id, "South Clinic")
    sign_in_as("staff")
    with app.app_context():
        session = db.session.get(TrainingSession, session_id)
        local, local_end = session.local_starts_at, session.local_ends_at
    later = local + timedelta(days=1)
    response = client.post(
        f"/staff/sessions/{session_id}/edit",
        data=session_form(
            day=f"{later:%Y-%m-%d}",
            starts_at=f"{local:%H:%M}",
            ends_at=f"{local_end:%H:%M}",
            seats="1",
        ),
    )
    text = page_text(client.get(response.headers["Location"]))
    assert (
        "1 organization booked on it will be emailed an updated invite; 1 organization waiting "
        "for it will be emailed that it moved." in text
    )


def test_more_seats_tell_staff_who_was_booked_from_the_waitlist(
    app, client, make_session, sign_in_as
):
    session_id = make_session(seats=1)
    book(client, session_id, "North Clinic")
    book(client, session_id, "South Clinic")  # waitlisted
    sign_in_as("staff")
    with app.app_context():
        session = db.session.get(TrainingSession, session_id)
        local, local_end = session.local_starts_at, session.local_ends_at
        when = session.when
    response = client.post(
        f"/staff/sessions/{session_id}/edit",
        data=session_form(
            day=f"{local:%Y-%m-%d}",
            starts_at=f"{local:%H:%M}",
            ends_at=f"{local_end:%H:%M}",
            seats="2",
            meeting_url=session.meeting_url or "",
            dial_in=session.dial_in or "",
            passcode=session.passcode or "",
        ),
    )
    text = page_text(client.get(response.headers["Location"]))
    assert f"Saved {when}. 1 organization was booked from the waitlist and emailed." in text


def test_cancelling_a_session_asks_for_a_reason_then_cancels_it(
    app, client, make_session, sign_in_as
):
    session_id = make_session()
    book(client, session_id, "North Clinic")
    sign_in_as("admin")
    confirm = page_text(client.get(f"/staff/sessions/{session_id}/cancel"))
    assert "1 organization booked on it will be emailed a calendar cancellation" in confirm
    refused = client.post(f"/staff/sessions/{session_id}/cancel", data={"reason": "  "})
    assert "Say why the session is cancelled; organizations will see it." in page_text(refused)
    response = client.post(
        f"/staff/sessions/{session_id}/cancel", data={"reason": "The facilitator is ill."}
    )
    assert response.headers["Location"] == "/staff/sessions"
    text = page_text(client.get("/staff/sessions"))
    assert "1 organization booked on it will be emailed the cancellation." in text
    assert "Cancelled" in text
    again = client.post(f"/staff/sessions/{session_id}/cancel", data={"reason": "Again"})
    assert "This session is already cancelled." in page_text(client.get(again.headers["Location"]))


def test_the_roster_shows_each_organization_with_its_contacts_and_email_state(
    app, client, make_session, sign_in_as
):
    session_id = make_session()
    book(client, session_id, "North Clinic", provider_id="0012345")
    with app.app_context():
        message = db.session.scalars(select(OutboxMessage)).one()
        message.status, message.last_error, message.attempts = "failed", "550 mailbox full", 3
        for recipient in message.deliveries:
            recipient.status, recipient.last_error = "failed", "550 mailbox full"
        db.session.commit()
        message_id = message.id
    sign_in_as("staff")
    text = page_text(client.get(f"/staff/sessions/{session_id}"))
    for expected in (
        "Booked (1)",
        "North Clinic",
        "0012345",
        "Ana Reyes",
        "ana.reyes@sierravalley.example.org",
        "(916) 555-0100",
        "lee@sierravalley.example.org",
        "kim@sierravalley.example.org",
        "Statement they agreed to Our organization has collected",
        "Failed You're booked",
        "Last error: 550 mailbox full",
        "Resend",
    ):
        assert expected in text, expected
    response = client.post(f"/staff/sessions/{session_id}/emails/{message_id}/resend")
    assert response.headers["Location"] == f"/staff/sessions/{session_id}"
    text = page_text(client.get(f"/staff/sessions/{session_id}"))
    assert "will be sent again in a moment." in text
    assert "Queued You're booked" in text
    again = client.post(f"/staff/sessions/{session_id}/emails/{message_id}/resend")
    assert "That email is no longer waiting to be resent" in page_text(
        client.get(again.headers["Location"])
    )
    with app.app_context():
        assert db.session.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "email.resent")
        ).all() == ["staff@cmadocs.example.org"]


def test_the_rosters_actions_take_their_rules_from_the_form_classes(
    app, client, make_session, sign_in_as
):
    session_id = make_session(seats=1)
    other = make_session(starts_in=timedelta(days=6))
    book(client, session_id, "North Clinic")
    book(client, session_id, "South Clinic")  # waitlisted
    north, south = signup_id(app, "North Clinic"), signup_id(app, "South Clinic")
    sign_in_as("staff")
    page = client.get(f"/staff/sessions/{session_id}").get_data(as_text=True)
    reason = CancelSignupForm.reason.kwargs["validators"][1].max
    for signup in (north, south):
        assert (
            f'<input id="cancel-{signup}" maxlength="{reason}" name="reason" required '
            'type="text" value="">'
        ) in page
        assert f'<label for="cancel-{signup}">Reason</label>' in page
    assert f'<select id="move-{north}" name="session_id" required>' in page
    assert f'<label for="promote-{south}">Book into</label>' in page
    assert f'<option value="{other}">' in page


def test_moving_an_organization_changes_both_rosters(app, client, make_session, sign_in_as):
    first = make_session()
    second = make_session(starts_in=timedelta(days=6))
    book(client, first, "North Clinic")
    north = signup_id(app, "North Clinic")
    sign_in_as("staff")
    response = client.post(
        f"/staff/sessions/{first}/signups/{north}/move", data={"session_id": second}
    )
    assert response.headers["Location"] == f"/staff/sessions/{first}"
    old_roster = page_text(client.get(f"/staff/sessions/{first}"))
    assert "Moved North Clinic to" in old_roster
    assert "They have been emailed the new date and invite." in old_roster
    assert "Booked (0)" in old_roster
    new_roster = page_text(client.get(f"/staff/sessions/{second}"))
    assert "Booked (1) North Clinic" in new_roster
    with app.app_context():
        kinds = db.session.scalars(select(OutboxMessage.kind).order_by(OutboxMessage.id)).all()
    assert kinds[-2:] == ["date_released", "booking_confirmed"]


def test_a_move_by_staff_is_said_to_be_theirs_in_both_emails(app, client, make_session, sign_in_as):
    first = make_session()
    second = make_session(starts_in=timedelta(days=6))
    book(client, first, "North Clinic")
    north = signup_id(app, "North Clinic")
    sign_in_as("staff")
    client.post(f"/staff/sessions/{first}/signups/{north}/move", data={"session_id": second})
    with app.app_context():
        released, booked = db.session.scalars(
            select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(2)
        ).all()[::-1]
        new_when = db.session.get(TrainingSession, second).when
    assert f"the training staff moved it to {new_when}" in released.text_body
    assert "you moved" not in released.text_body
    assert "The training staff changed your training date." in booked.text_body


def test_moving_to_a_full_session_is_refused_with_a_message(app, client, make_session, sign_in_as):
    first = make_session()
    full = make_session(seats=1, starts_in=timedelta(days=6))
    book(client, first, "North Clinic")
    book(client, full, "South Clinic")
    north = signup_id(app, "North Clinic")
    sign_in_as("staff")
    roster = client.get(f"/staff/sessions/{first}").get_data(as_text=True)
    assert f'<option value="{full}"' not in roster
    response = client.post(
        f"/staff/sessions/{first}/signups/{north}/move", data={"session_id": full}
    )
    text = page_text(client.get(response.headers["Location"]))
    assert "has just filled: choose another date." in text
    assert "Booked (1) North Clinic" in text


def test_moving_to_a_session_of_another_program_is_not_a_choice(
    app, client, make_session, make_program, sign_in_as
):
    first = make_session()
    book(client, first, "North Clinic")
    elsewhere = make_session(program_id=make_program())
    north = signup_id(app, "North Clinic")
    sign_in_as("staff")
    response = client.post(
        f"/staff/sessions/{first}/signups/{north}/move", data={"session_id": elsewhere}
    )
    text = page_text(client.get(response.headers["Location"]))
    assert "That session cannot take them; choose one from the list." in text
    assert "Booked (1) North Clinic" in text


def test_cancelling_a_booking_needs_a_reason_and_frees_the_seat(
    app, client, make_session, sign_in_as
):
    session_id = make_session(seats=1)
    book(client, session_id, "North Clinic")
    book(client, session_id, "South Clinic")  # waitlisted
    north = signup_id(app, "North Clinic")
    sign_in_as("staff")
    url = f"/staff/sessions/{session_id}/signups/{north}/cancel"
    refused = client.post(url, data={"reason": ""})
    assert "Say why you are cancelling this booking" in page_text(
        client.get(refused.headers["Location"])
    )
    client.post(url, data={"reason": "They asked by phone"})
    text = page_text(client.get(f"/staff/sessions/{session_id}"))
    assert (
        "Cancelled North Clinic's place. They have been emailed. The freed seat went to "
        "South Clinic from the waitlist; they have been emailed." in text
    )
    assert "Booked (1) South Clinic" in text  # the waitlist took the seat
    again = client.post(url, data={"reason": "Twice"})
    assert "North Clinic's booking is already cancelled. Nothing was changed." in page_text(
        client.get(again.headers["Location"])
    )
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "signup.cancelled", AuditEvent.signup_id == north
            )
        ).one()
        assert (event.actor, event.details["reason"]) == (
            "staff@cmadocs.example.org",
            "They asked by phone",
        )
        told = db.session.scalars(
            select(OutboxMessage.text_body).where(
                OutboxMessage.kind == "cancelled", OutboxMessage.signup_id == north
            )
        ).one()
    assert "The training staff cancelled it." in told
    # One "questions" line: the footer's.
    assert told.count("Questions") == 1 and told.count("eply to this email") == 1
    assert "sign up again" not in told


@pytest.mark.parametrize(
    ("action", "fields"),
    [("cancel", {"reason": "They asked to cancel their first date by phone"}), ("move", None)],
)
def test_a_roster_drawn_before_the_organization_moved_changes_nothing(
    app, client, make_session, sign_in_as, action, fields
):
    first = make_session()
    chosen = make_session(starts_in=timedelta(days=6))
    other = make_session(starts_in=timedelta(days=8))
    response = client.post("/signup", data=signup_form(first, organization_name="North Clinic"))
    token = manage_token(response)
    north = signup_id(app, "North Clinic")
    sign_in_as("staff")
    assert "Booked (1) North Clinic" in page_text(client.get(f"/staff/sessions/{first}"))
    # Meanwhile the organization moves itself with its manage link.
    client.post(f"/manage/{token}/date", data={"session_id": chosen})
    with app.app_context():
        emails_before = db.session.scalar(select(func.count(OutboxMessage.id)))
    # Staff act on the first session's roster, still open in their browser.
    response = client.post(
        f"/staff/sessions/{first}/signups/{north}/{action}",
        data=fields or {"session_id": other},
    )
    assert response.headers["Location"] == f"/staff/sessions/{first}"
    text = page_text(client.get(response.headers["Location"]))
    assert "North Clinic is no longer where this page showed it: it is booked on" in text
    assert "Nothing was changed" in text
    assert "Booked (1) North Clinic" in page_text(client.get(f"/staff/sessions/{chosen}"))
    with app.app_context():
        signup = db.session.get(Signup, north)
        assert (signup.status, signup.session_id) == ("confirmed", chosen)
        assert db.session.scalar(select(func.count(OutboxMessage.id))) == emails_before
        assert db.session.get(TrainingSession, chosen).seats_booked == 1


def test_a_waitlist_place_taken_meanwhile_is_not_booked_again_from_the_roster(
    app, client, make_session, sign_in_as
):
    full = make_session(seats=1)
    other = make_session(starts_in=timedelta(days=6))
    book(client, full, "North Clinic")
    book(client, full, "South Clinic")  # waitlisted
    south = signup_id(app, "South Clinic")
    north = signup_id(app, "North Clinic")
    sign_in_as("staff")
    # North cancels; the waitlist gives South its seat on this session.
    client.post(
        f"/staff/sessions/{full}/signups/{north}/cancel", data={"reason": "They asked by phone"}
    )
    response = client.post(
        f"/staff/sessions/{full}/signups/{south}/promote", data={"session_id": other}
    )
    text = page_text(client.get(response.headers["Location"]))
    assert "South Clinic is no longer where this page showed it: it is booked on" in text
    assert "Booked (1) South Clinic" in text
    assert "Booked (0)" in page_text(client.get(f"/staff/sessions/{other}"))


def test_remove_from_waitlist_on_an_old_roster_keeps_the_seat_given_meanwhile(
    app, client, make_session, sign_in_as
):
    full = make_session(seats=1)
    book(client, full, "North Clinic")
    book(client, full, "South Clinic")  # waitlisted
    north, south = signup_id(app, "North Clinic"), signup_id(app, "South Clinic")
    sign_in_as("staff")
    roster = client.get(f"/staff/sessions/{full}").get_data(as_text=True)
    remove = re.search(rf'action="([^"]*/signups/{south}/cancel[^"]*)"', roster).group(1)
    # North cancels; South is given its seat on this session and emailed.
    client.post(
        f"/staff/sessions/{full}/signups/{north}/cancel", data={"reason": "They asked by phone"}
    )
    response = client.post(remove.replace("&amp;", "&"), data={"reason": "No longer needed"})
    text = page_text(client.get(response.headers["Location"]))
    assert "South Clinic is no longer where this page showed it: it is booked on" in text
    assert "Booked (1) South Clinic" in text
    with app.app_context():
        assert db.session.get(Signup, south).status == "confirmed"


def test_an_old_roster_of_a_cancelled_session_says_its_organizations_wait_for_no_date(
    app, client, make_session, sign_in_as
):
    session_id = make_session(seats=1)
    book(client, session_id, "North Clinic")
    north = signup_id(app, "North Clinic")
    sign_in_as("admin")
    client.post(f"/staff/sessions/{session_id}/cancel", data={"reason": "The facilitator is ill."})
    response = client.post(
        f"/staff/sessions/{session_id}/signups/{north}/cancel", data={"reason": "Old tab"}
    )
    text = page_text(client.get(response.headers["Location"]))
    said = (
        "North Clinic is no longer where this page showed it: it is not waiting for any date "
        "(our staff cancelled the session it chose)."
    )
    assert said in text


def test_the_waitlist_is_listed_in_order_and_can_be_booked_elsewhere(
    app, client, make_session, sign_in_as
):
    full = make_session(seats=1)
    other = make_session(starts_in=timedelta(days=6))
    book(client, full, "North Clinic")
    book(client, full, "South Clinic")
    book(client, full, "East Clinic")
    sign_in_as("staff")
    text = page_text(client.get(f"/staff/sessions/{full}"))
    assert "Waitlist (2)" in text
    assert text.index("South Clinic") < text.index("East Clinic")
    east = signup_id(app, "East Clinic")
    response = client.post(
        f"/staff/sessions/{full}/signups/{east}/promote", data={"session_id": other}
    )
    text = page_text(client.get(response.headers["Location"]))
    assert "Booked East Clinic from the waitlist on" in text
    assert "Waitlist (1)" in text
    assert "Booked (1) East Clinic" in page_text(client.get(f"/staff/sessions/{other}"))
    again = client.post(
        f"/staff/sessions/{full}/signups/{east}/promote", data={"session_id": other}
    )
    assert "East Clinic is no longer where this page showed it: it is booked on" in page_text(
        client.get(again.headers["Location"])
    )


def test_a_waitlisted_organization_is_booked_into_a_seat_freed_on_this_session(
    app, client, make_session, sign_in_as
):
    session_id = make_session(seats=1)
    book(client, session_id, "North Clinic")
    book(client, session_id, "South Clinic")
    with app.app_context():  # a seat added behind the services' back, as after a failed promotion
        db.session.get(TrainingSession, session_id).seats = 2
        db.session.commit()
    south = signup_id(app, "South Clinic")
    sign_in_as("staff")
    assert "This session (1 seat left)" in page_text(client.get(f"/staff/sessions/{session_id}"))
    client.post(
        f"/staff/sessions/{session_id}/signups/{south}/promote", data={"session_id": session_id}
    )
    text = page_text(client.get(f"/staff/sessions/{session_id}"))
    assert "Booked (2)" in text
    assert "Waitlist (0)" in text


def add_form(session_id, **fields):
    """The add-by-hand form: the public form's fields without its dates."""
    data = signup_form(session_id, **{"join_waitlist": None, **fields})
    for public_only in ("first_choice", "second_choice", "third_choice"):
        data.pop(public_only)
    return data


def test_staff_add_a_signup_by_hand(app, client, make_session, sign_in_as):
    session_id = make_session()
    sign_in_as("staff")
    page = page_text(client.get(f"/staff/sessions/{session_id}/signups/new"))
    assert "Our organization has collected" in page
    assert "Reason to book them anyway" not in page
    refused = client.post(
        f"/staff/sessions/{session_id}/signups/new",
        data=add_form(session_id, attest=None, organization_name="Phone Clinic"),
    )
    assert "Confirm that the organization has or will collect" in page_text(refused)
    response = client.post(
        f"/staff/sessions/{session_id}/signups/new",
        data=add_form(session_id, organization_name="Phone Clinic"),
    )
    assert response.headers["Location"] == f"/staff/sessions/{session_id}"
    text = page_text(client.get(response.headers["Location"]))
    assert "Added Phone Clinic: booked on this session. They have been emailed." in text
    assert "Booked (1) Phone Clinic" in text
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "signup.created")
        ).one()
        assert event.actor == "staff@cmadocs.example.org"


def test_an_organization_with_a_place_is_added_again_only_with_a_reason(
    app, client, make_session, sign_in_as
):
    first = make_session()
    second = make_session(starts_in=timedelta(days=6))
    book(client, first, "North Clinic")
    sign_in_as("staff")
    url = f"/staff/sessions/{second}/signups/new"
    form = add_form(second, organization_name="north clinic")
    conflict = client.post(url, data=form)
    assert conflict.status_code == 409
    text = page_text(conflict)
    assert "North Clinic already holds a place: booked on" in text
    assert "To book them anyway, give the reason below" in text
    assert "Reason to book them anyway" in text

    blank = client.post(url, data={**form, "override_reason": "   "})
    assert blank.status_code == 409
    assert "North Clinic already holds a place" in page_text(blank)

    response = client.post(
        url, data={**form, "override_reason": "Second team, same clinic; agreed with CMA."}
    )
    assert response.headers["Location"] == f"/staff/sessions/{second}"
    with app.app_context():
        signups = db.session.scalars(select(Signup).order_by(Signup.id)).all()
        assert [(s.session_id, s.override_reason) for s in signups] == [
            (first, None),
            (second, "Second team, same clinic; agreed with CMA."),
        ]
    text = page_text(client.get(f"/staff/sessions/{second}"))
    assert "Booked despite an existing place Second team, same clinic; agreed with CMA." in text


def test_a_second_place_given_with_a_reason_is_not_asked_about_as_a_duplicate(
    client, make_session, sign_in_as
):
    first = make_session()
    second = make_session(starts_in=timedelta(days=6))
    book(client, first, "North Clinic")
    sign_in_as("admin")
    form = add_form(second, organization_name="north clinic", override_reason="Second team.")
    client.post(f"/staff/sessions/{second}/signups/new", data=form)
    duplicates = page_text(client.get("/staff/duplicates"))
    assert "North Clinic" not in duplicates.split("Possible duplicates", 1)[-1]


def test_an_override_reason_without_a_conflict_is_not_recorded(
    app, client, make_session, sign_in_as
):
    session_id = make_session()
    sign_in_as("staff")
    client.post(
        f"/staff/sessions/{session_id}/signups/new",
        data=add_form(session_id, organization_name="New Clinic", override_reason="Just because"),
    )
    with app.app_context():
        assert db.session.scalars(select(Signup.override_reason)).one() is None


def test_adding_to_a_full_session_inside_the_cutoff_tells_staff_what_they_can_do(
    client, make_session, sign_in_as
):
    session_id = make_session(seats=1, starts_in=timedelta(hours=20))
    book(client, session_id, "North Clinic")
    sign_in_as("staff")
    url = f"/staff/sessions/{session_id}/signups/new"
    for ticked in (None, "y"):
        refused = page_text(
            client.post(
                url,
                data=add_form(session_id, organization_name="Phone Clinic", join_waitlist=ticked),
            )
        )
        assert "Choose a date" not in refused
        assert (
            "is full and starts within 24 hours: no seat can come from its waitlist in time. "
            "Raise its seats to add them, or add them from the roster of another session."
        ) in refused


def test_adding_to_a_full_session_says_so_unless_the_waitlist_is_ticked(
    app, client, make_session, sign_in_as
):
    session_id = make_session(seats=1)
    book(client, session_id, "North Clinic")
    sign_in_as("staff")
    url = f"/staff/sessions/{session_id}/signups/new"
    full = client.post(url, data=add_form(session_id, organization_name="Phone Clinic"))
    # The staff form has no other date to choose: it names its own box and the way elsewhere.
    assert "choose another date" not in page_text(full)
    assert (
        "is full: tick “If the session is full, put them on its waitlist” to add them to its "
        "waitlist, or add them from the roster of a session with a seat."
    ) in page_text(full)
    response = client.post(
        url, data=add_form(session_id, organization_name="Phone Clinic", join_waitlist="y")
    )
    assert "Added Phone Clinic: on the waitlist." in page_text(
        client.get(response.headers["Location"])
    )


def test_staff_notes_are_saved_and_shown(app, client, make_session, sign_in_as):
    session_id = make_session()
    book(client, session_id, "North Clinic")
    north = signup_id(app, "North Clinic")
    sign_in_as("staff")
    response = client.post(
        f"/staff/sessions/{session_id}/signups/{north}/notes",
        data={"staff_notes": "Needs captioning."},
    )
    assert response.headers["Location"] == f"/staff/sessions/{session_id}#signup-{north}"
    text = page_text(client.get(f"/staff/sessions/{session_id}"))
    assert "Saved the notes on North Clinic." in text
    assert "Needs captioning." in text


def test_an_action_on_a_signup_of_another_program_is_not_found(
    app, client, make_program, make_session, sign_in_as
):
    session_id = make_session()
    book(client, session_id, "North Clinic")
    other_session = make_session(program_id=make_program())
    north = signup_id(app, "North Clinic")
    sign_in_as("staff")
    response = client.post(
        f"/staff/sessions/{other_session}/signups/{north}/notes", data={"staff_notes": "x"}
    )
    assert response.status_code == 404


def test_every_roster_form_refuses_a_post_without_its_csrf_token(
    app, client, make_session, sign_in_as
):
    session_id = make_session()
    make_session(starts_in=timedelta(days=6))  # somewhere to move to
    book(client, session_id, "North Clinic")
    north = signup_id(app, "North Clinic")
    sign_in_as("admin")
    app.config["WTF_CSRF_ENABLED"] = True
    roster = client.get(f"/staff/sessions/{session_id}").get_data(as_text=True)
    assert roster.count('name="csrf_token"') == 4  # notes, move, cancel, sign out
    signup_url = f"/staff/sessions/{session_id}/signups/{north}"
    for url in (
        "/staff/sessions/new",
        f"/staff/sessions/{session_id}/edit",
        f"/staff/sessions/{session_id}/cancel",
        f"/staff/sessions/{session_id}/signups/new",
        f"{signup_url}/move",
        f"{signup_url}/cancel",
        f"{signup_url}/promote",
        f"{signup_url}/notes",
        f"/staff/sessions/{session_id}/emails/1/resend",
        "/staff/calendar-feed",
    ):
        response = client.post(url, data={"reason": "x", "staff_notes": "x"})
        assert response.status_code == 400, url
        assert "This form has expired" in page_text(response)


def test_move_to_chooses_no_date_by_default_and_marks_one_inside_the_cutoff(
    app, client, make_session, sign_in_as
):
    first = make_session()
    make_session(starts_in=timedelta(hours=20))  # tomorrow, inside the cutoff
    make_session(starts_in=timedelta(days=6))
    book(client, first, "North Clinic")
    north = signup_id(app, "North Clinic")
    sign_in_as("staff")
    page = client.get(f"/staff/sessions/{first}").get_data(as_text=True)
    move = page[page.index(f'id="move-{north}"') :]
    options = re.findall(r"<option([^>]*)>([^<]*)</option>", move[: move.index("</select>")])
    assert options[0] == (' value="0"', "Choose a date…")
    assert not any("selected" in attributes for attributes, _ in options)
    labels = {label for _, label in options}
    assert any(label.endswith("(8 seats left; starts within 24 hours)") for label in labels)
    assert sum("starts within" in label for label in labels) == 1
    # Sent as offered, "Choose a date…" moves no one.
    response = client.post(f"/staff/sessions/{first}/signups/{north}/move", data={"session_id": 0})
    text = page_text(client.get(response.headers["Location"]))
    assert "Choose the session to move them to." in text
    assert "Booked (1) North Clinic" in text


def test_past_sessions_offer_no_edit_link(app, client, make_session, sign_in_as):
    past = make_session(starts_in=-timedelta(days=2))
    ahead = make_session()
    sign_in_as("staff")
    listing = client.get("/staff/sessions").get_data(as_text=True)
    assert f'href="/staff/sessions/{past}/edit"' not in listing
    assert f'href="/staff/sessions/{ahead}/edit"' in listing
    assert "Edit session" not in page_text(client.get(f"/staff/sessions/{past}"))
    assert "Edit session" in page_text(client.get(f"/staff/sessions/{ahead}"))


def test_staff_find_the_sessions_of_an_organization_by_name_contact_or_email(
    app, client, make_session, sign_in_as
):
    first = make_session()
    second = make_session(starts_in=timedelta(days=6))
    book(client, first, "North Clinic", contact_email="ana@north.example.org")
    book(
        client,
        second,
        "Ōcean Médical",
        contact_name="Lee Wong",
        contact_email="lee@ocean.example.org",
        attendee_emails="kim@sharedmail.example.org",
    )
    sign_in_as("staff")
    for query in ("ocean medical", "LEE WONG", "kim@sharedmail"):
        page = client.get("/staff/sessions", query_string={"q": query})
        text = page_text(page)
        html = page.get_data(as_text=True)
        assert f'href="/staff/sessions/{second}?q=' in html, query
        assert f'href="/staff/sessions/{first}?' not in html, query
        assert "Matches: Ōcean Médical" in text
        assert "1 session has an organization matching" in text
    everyone = page_text(client.get("/staff/sessions", query_string={"q": " "}))
    assert "matching" not in everyone
    nothing = page_text(client.get("/staff/sessions", query_string={"q": "zzzz"}))
    assert "0 sessions have an organization matching “zzzz”. Show every session" in nothing
    assert "No sessions yet" not in nothing  # there are two


def test_a_roster_filtered_shows_only_the_organizations_found(
    app, client, make_session, sign_in_as
):
    session_id = make_session()
    book(client, session_id, "North Clinic", contact_email="ana@north.example.org")
    book(client, session_id, "South Clinic", contact_email="bo@south.example.org")
    sign_in_as("staff")
    text = page_text(client.get(f"/staff/sessions/{session_id}", query_string={"q": "bo@south"}))
    assert "Showing the organizations matching “bo@south”: 1 booked, 0 waiting." in text
    assert "South Clinic" in text and "North Clinic" not in text
    assert "Booked (1)" in text
    too_long = client.get(f"/staff/sessions/{session_id}", query_string={"q": "x" * 300})
    assert "Keep the search to 200 characters." in page_text(too_long)
    assert "North Clinic" in page_text(too_long)


def test_adding_again_an_organization_waiting_for_no_date_says_so(
    app, client, make_session, sign_in_as, time_machine
):
    full = make_session(starts_in=timedelta(hours=26), seats=1)  # past the change cutoff
    later = make_session(starts_in=timedelta(days=6))
    book(client, full, "South Clinic", contact_email="s@south.example.org")
    book(client, full, "North Clinic")  # waitlisted for its one date
    sign_in_as("staff")
    url = f"/staff/sessions/{later}/signups/new"
    form = add_form(later, organization_name="north clinic")
    assert "North Clinic already holds a place: on the waitlist for" in page_text(
        client.post(url, data=form)
    )
    time_machine.move_to(TUESDAY_MORNING + timedelta(hours=27), tick=True)  # its date started
    # A day later the sign-in has lapsed: staff sign in again.
    client.post("/staff/sign-in", data={"email": "staff@cmadocs.example.org", "password": PASSWORD})
    text = page_text(client.post(url, data={**form, "submission_key": "c" * 32}))
    assert (
        "North Clinic already holds a place: not waiting for any date (the date it chose has "
        "started),"
    ) in text
