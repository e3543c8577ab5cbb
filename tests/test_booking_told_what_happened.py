"""The organization's pages say what actually happened to its booking: how it came to hold its
date, why changes closed, where it stands when there is no invite, and no preparation steps
where there is nothing to prepare for."""

from datetime import UTC, datetime, timedelta

import pytest
from conftest import page_text, sign_up
from sqlalchemy import select

from training.booking.models import Signup, TrainingSession
from training.extensions import db
from training.mail.models import OutboxMessage

# A Monday morning in California, well inside the program's signup dates.
NOW = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
FIRST_CHOICE_FULL = "Your first choice was full"
PREPARATION = "Before the session"


@pytest.fixture(autouse=True)
def clock(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


def confirmation(app, token: str) -> str:
    return page_text(app.test_client().get(f"/manage/{token}/confirmation"))


def signup_id(app, name: str) -> int:
    with app.app_context():
        return db.session.scalars(select(Signup.id).where(Signup.organization_name == name)).one()


def when(app, session_id: int) -> str:
    with app.app_context():
        return db.session.get(TrainingSession, session_id).when


def test_a_booking_staff_moved_says_staff_moved_it_not_that_its_first_choice_was_full(
    app, client, make_session, sign_in_as
):
    chosen = make_session()
    other = make_session(starts_in=timedelta(days=4))
    token = sign_up(app, chosen, "North Clinic")
    sign_in_as("staff")
    moved = client.post(
        f"/staff/sessions/{chosen}/signups/{signup_id(app, 'North Clinic')}/move",
        data={"session_id": other},
    )
    assert moved.status_code == 303

    text = confirmation(app, token)
    assert FIRST_CHOICE_FULL not in text
    assert f"The training staff changed your training date (it was {when(app, chosen)})." in text


def test_a_booking_from_the_waitlist_says_a_seat_opened_up_and_then_that_staff_moved_it(
    app, client, make_session, sign_in_as
):
    full = make_session(seats=1)
    other = make_session(starts_in=timedelta(days=4))
    booked = sign_up(app, full, "North Clinic")
    waiting = sign_up(app, full, "West Clinic")
    app.test_client().post(f"/manage/{booked}/cancel", data={"confirm": "y"})

    text = confirmation(app, waiting)
    assert "A seat opened up: we booked you from the waitlist on Monday, November 23, 2026." in text
    sign_in_as("staff")
    client.post(
        f"/staff/sessions/{full}/signups/{signup_id(app, 'West Clinic')}/move",
        data={"session_id": other},
    )
    text = confirmation(app, waiting)
    assert FIRST_CHOICE_FULL not in text
    assert f"The training staff changed your training date (it was {when(app, full)})." in text


def latest_email(app, name: str, kind: str) -> OutboxMessage:
    with app.app_context():
        return db.session.scalars(
            select(OutboxMessage)
            .join(Signup, Signup.id == OutboxMessage.signup_id)
            .where(Signup.organization_name == name, OutboxMessage.kind == kind)
            .order_by(OutboxMessage.id.desc())
        ).first()


def test_a_booking_staff_made_from_the_waitlist_says_so_in_its_email_as_on_its_page(
    app, client, make_session, sign_in_as
):
    full = make_session(seats=0)
    other = make_session(starts_in=timedelta(days=4))
    token = sign_up(app, full, "North Clinic")
    sign_in_as("staff")
    booked = client.post(
        f"/staff/sessions/{full}/signups/{signup_id(app, 'North Clinic')}/promote",
        data={"session_id": other},
    )
    assert booked.status_code == 303

    said = "The training staff booked you on this date from the waitlist."
    assert said in confirmation(app, token)
    email = latest_email(app, "North Clinic", "booking_confirmed")
    assert said in email.text_body and said in email.html_body


def test_a_booking_made_from_the_waitlist_with_the_manage_link_says_so_in_its_email_too(
    app, make_session
):
    full = make_session(seats=0)
    other = make_session(starts_in=timedelta(days=4))
    token = sign_up(app, full, "North Clinic")
    app.test_client().post(f"/manage/{token}/date", data={"session_id": other})

    said = "You booked this date with your manage link."
    assert said in confirmation(app, token)
    email = latest_email(app, "North Clinic", "booking_confirmed")
    assert said in email.text_body and said in email.html_body


def test_a_signup_staff_added_by_hand_says_staff_signed_it_up_in_its_email_and_page(
    app, client, make_session, sign_in_as
):
    session_id = make_session()
    full = make_session(seats=0, starts_in=timedelta(days=4))
    sign_in_as("staff")
    for session, name, waitlist in ((session_id, "Phone Clinic", None), (full, "Late Clinic", "y")):
        form = {
            "organization_name": name,
            "contact_name": "Ana Reyes",
            "contact_email": f"ana@{name.split()[0].lower()}.example.org",
            "attendee_emails": "",
            "attest": "y",
            "join_waitlist": waitlist,
        }
        added = client.post(f"/staff/sessions/{session}/signups/new", data=form)
        assert added.status_code == 303, page_text(added)

    booked = latest_email(app, "Phone Clinic", "booking_confirmed")
    assert "The training staff signed you up for this date." in booked.text_body
    assert "The training staff signed you up for this date." in booked.html_body
    waiting = latest_email(app, "Late Clinic", "waitlisted")
    assert "The training staff signed you up. Late Clinic is on the waitlist" in waiting.text_body


def test_a_booking_on_an_alternate_because_its_first_choice_was_full_says_so(app, make_session):
    full = make_session(seats=0)
    alternate = make_session(starts_in=timedelta(days=4))
    token = sign_up(app, full, "North Clinic", alternate)
    assert "Your first choice was full, so we booked your next choice with a seat." in (
        confirmation(app, token)
    )
    first_choice = sign_up(app, alternate, "South Clinic")
    assert FIRST_CHOICE_FULL not in confirmation(app, first_choice)


def test_a_booking_whose_date_staff_cancelled_says_it_was_booked_on_another_it_chose(
    app, make_session, cancel_session
):
    doomed = make_session()
    alternate = make_session(starts_in=timedelta(days=4))
    token = sign_up(app, doomed, "North Clinic", alternate)
    cancel_session(doomed)
    assert (
        f"{when(app, doomed)} was cancelled, so we booked you on another date you chose."
        in confirmation(app, token)
    )


def test_changes_closed_by_staff_moving_the_session_inside_the_cutoff_say_so(
    app, client, make_session, sign_in_as
):
    from test_rosters_states import edit_form_moving

    session_id = make_session()
    token = sign_up(app, session_id, "North Clinic")
    sign_in_as("staff")
    moved = client.post(
        f"/staff/sessions/{session_id}/edit",
        data={
            **edit_form_moving(app, session_id, "2026-11-24", starts_at="08:00"),
            "move_inside_cutoff": "y",
        },
    )
    assert moved.status_code == 303

    text = page_text(app.test_client().get(f"/manage/{token}"))
    assert "this booking was made within those 24 hours" not in text
    assert (
        "Date and contact changes are closed: our staff moved your session to "
        f"{when(app, session_id)}, less than 24 hours before it starts, and changes close 24 "
        "hours before a session."
    ) in text


def test_changes_closed_by_staff_moving_the_booking_inside_the_cutoff_say_staff_moved_it(
    app, client, make_session, sign_in_as
):
    chosen = make_session(starts_in=timedelta(days=4))
    soon = make_session(starts_in=timedelta(hours=20))
    token = sign_up(app, chosen, "North Clinic")
    sign_in_as("staff")
    moved = client.post(
        f"/staff/sessions/{chosen}/signups/{signup_id(app, 'North Clinic')}/move",
        data={"session_id": soon},
    )
    assert moved.status_code == 303

    text = page_text(app.test_client().get(f"/manage/{token}"))
    assert "this booking was made within those 24 hours" not in text
    assert (
        "Date and contact changes are closed: the training staff moved your booking to this "
        "date, less than 24 hours before it starts, and changes close 24 hours before a session."
    ) in text


def test_changes_closed_by_staff_booking_from_the_waitlist_inside_the_cutoff_say_so(
    app, client, make_session, sign_in_as
):
    full = make_session(seats=0, starts_in=timedelta(days=4))
    soon = make_session(starts_in=timedelta(hours=20))
    token = sign_up(app, full, "North Clinic")
    sign_in_as("staff")
    booked = client.post(
        f"/staff/sessions/{full}/signups/{signup_id(app, 'North Clinic')}/promote",
        data={"session_id": soon},
    )
    assert booked.status_code == 303

    text = page_text(app.test_client().get(f"/manage/{token}"))
    assert "this booking was made within those 24 hours" not in text
    assert (
        "Date and contact changes are closed: the training staff booked you on this date from "
        "the waitlist, less than 24 hours before it starts"
    ) in text


def test_a_booking_made_inside_the_cutoff_still_says_it_was_made_there(app, make_session):
    token = sign_up(app, make_session(starts_in=timedelta(hours=20)), "North Clinic")
    text = page_text(app.test_client().get(f"/manage/{token}"))
    assert "this booking was made within those 24 hours" in text
    assert "our staff moved your session" not in text


def test_the_invite_download_of_an_organization_waiting_for_no_date_says_why_as_its_page_does(
    app, client, make_session, cancel_session
):
    doomed = make_session()
    token = sign_up(app, doomed, "North Clinic")
    cancel_session(doomed)
    response = client.get(f"/manage/{token}/invite.ics")
    assert response.status_code == 404
    text = page_text(response)
    assert "North Clinic is on the waitlist and has no date yet" not in text
    assert (
        "North Clinic is not waiting for any date: our staff cancelled the session you chose, so "
        "there is no calendar invite." in text
    )
    assert "Not waiting for any date: our staff cancelled the session you chose" in page_text(
        client.get(f"/manage/{token}")
    )


def test_the_invite_download_of_a_waitlist_place_says_it_has_no_date_yet(app, client, make_session):
    token = sign_up(app, make_session(seats=0), "North Clinic")
    response = client.get(f"/manage/{token}/invite.ics")
    assert response.status_code == 404
    assert "North Clinic is on the waitlist and has no date yet" in page_text(response)


def test_preparation_steps_are_shown_only_for_a_date_booked_or_waited_for(
    app, make_session, cancel_session
):
    booked = sign_up(app, make_session(), "North Clinic")
    waiting = sign_up(app, make_session(starts_in=timedelta(days=4), seats=0), "West Clinic")
    assert PREPARATION in confirmation(app, booked)
    assert PREPARATION in confirmation(app, waiting)

    app.test_client().post(f"/manage/{booked}/cancel", data={"confirm": "y"})
    cancelled = confirmation(app, booked)
    assert "This booking is cancelled" in cancelled
    assert PREPARATION not in cancelled
    assert "Have your PARS sign-in ready" not in cancelled

    doomed = make_session(starts_in=timedelta(days=5))
    stranded = sign_up(app, doomed, "East Clinic")
    cancel_session(doomed)
    text = confirmation(app, stranded)
    assert "Not waiting for any date" in text
    assert PREPARATION not in text
