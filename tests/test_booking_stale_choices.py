"""A date that filled, started, was cancelled or passed its change cutoff while the page was
open is refused naming the date and why, with the form redrawn and what was typed kept; only an
id that is no session of the program is "Not a valid choice"."""

from datetime import UTC, datetime, timedelta

import pytest
from conftest import manage_token, page_text, signup_form
from sqlalchemy import select

from training.booking.models import SESSION_CANCELLED, Signup, TrainingSession
from training.extensions import db

pytestmark = pytest.mark.clock

# 10:00 AM in California on a Monday; sessions are made relative to it.
MONDAY_MORNING = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def monday_morning(time_machine):
    time_machine.move_to(MONDAY_MORNING, tick=False)
    return time_machine


def when(app, session_id: int) -> str:
    with app.app_context():
        return db.session.get(TrainingSession, session_id).when


def signups(app) -> list[Signup]:
    with app.app_context():
        return db.session.scalars(select(Signup)).all()


def test_a_date_that_started_while_the_form_was_open_is_refused_by_name(
    app, client, make_session, monday_morning
):
    soon = make_session(starts_in=timedelta(minutes=10), seats=1)
    later = make_session(starts_in=timedelta(days=5))
    assert f'value="{soon}"' in client.get(f"/signup?session={soon}").get_data(as_text=True)
    monday_morning.move_to(MONDAY_MORNING + timedelta(minutes=11))

    response = client.post("/signup", data=signup_form(soon, organization_name="Stale Clinic"))

    assert response.status_code == 409
    text = page_text(response)
    assert f"{when(app, soon)} has started: choose another date." in text
    assert "Not a valid choice" not in text
    markup = response.get_data(as_text=True)
    assert 'value="Stale Clinic"' in markup
    assert f'value="{soon}"' not in markup and f'value="{later}"' in markup
    assert signups(app) == []


def test_a_date_that_took_place_weeks_ago_is_refused_as_over_not_as_started(
    app, client, make_session, monday_morning
):
    past = make_session(starts_in=timedelta(minutes=10))
    client.get(f"/signup?session={past}")
    monday_morning.move_to(MONDAY_MORNING + timedelta(days=14))

    response = client.post("/signup", data=signup_form(past, organization_name="Late Clinic"))

    assert response.status_code == 409
    text = page_text(response)
    assert f"{when(app, past)} has already taken place: choose another date." in text
    assert "has started" not in text
    assert signups(app) == []


def test_a_date_already_full_when_the_form_opened_is_not_said_to_have_just_filled(
    app, client, make_session
):
    full = make_session(seats=0)
    assert "(full: waitlist)" in page_text(client.get("/signup"))

    response = client.post("/signup", data=signup_form(full, join_waitlist=None))

    assert response.status_code == 409
    text = page_text(response)
    assert (
        f"{when(app, full)} is full: choose another date, or tick the waitlist box to wait for "
        "a seat."
    ) in text
    assert "just filled" not in text


def test_a_date_cancelled_while_the_form_was_open_is_refused_by_name(app, client, make_session):
    cancelled = make_session()
    client.get(f"/signup?session={cancelled}")
    with app.app_context():
        db.session.get(TrainingSession, cancelled).status = SESSION_CANCELLED
        db.session.commit()

    response = client.post("/signup", data=signup_form(cancelled))

    assert response.status_code == 409
    assert f"{when(app, cancelled)} was cancelled: choose another date." in page_text(response)
    assert signups(app) == []


def test_every_chosen_date_full_without_the_waitlist_names_them_all(app, client, make_session):
    first = make_session(seats=0)
    second = make_session(seats=0, starts_in=timedelta(days=5))

    response = client.post(
        "/signup", data=signup_form(first, second_choice=second, join_waitlist=None)
    )

    assert response.status_code == 409
    assert (
        f"Every date you chose is full ({when(app, first)}; {when(app, second)}). Choose "
        "another date, or tick the waitlist box to wait for a seat."
    ) in page_text(response)
    assert signups(app) == []


def test_a_session_of_another_program_is_not_a_valid_choice(
    app, client, make_session, make_program
):
    elsewhere = make_session(program_id=make_program(window_ends_on=MONDAY_MORNING.date()))
    make_session()

    response = client.post("/signup", data=signup_form(elsewhere))

    assert response.status_code == 200
    assert "Your date: Not a valid choice." in page_text(response)


def test_a_date_that_filled_while_the_manage_page_was_open_is_refused_by_name(
    app, client, make_session
):
    first = make_session()
    last_seat = make_session(starts_in=timedelta(days=6), seats=1)
    north = manage_token(client.post("/signup", data=signup_form(first)))
    south = manage_token(
        client.post(
            "/signup",
            data=signup_form(
                first, organization_name="South Clinic", contact_email="sam@south.example.org"
            ),
        )
    )
    for token in (north, south):
        page = client.get(f"/manage/{token}").get_data(as_text=True)
        assert f'value="{last_seat}"' in page
    assert client.post(f"/manage/{north}/date", data={"session_id": last_seat}).status_code == 303

    response = client.post(f"/manage/{south}/date", data={"session_id": last_seat})

    assert response.status_code == 409
    text = page_text(response)
    assert f"{when(app, last_seat)} has just filled: choose another date." in text
    assert "Not a valid choice" not in text
    assert f'value="{last_seat}"' not in response.get_data(as_text=True)


def test_a_date_past_its_change_cutoff_while_the_manage_page_was_open_is_refused_by_name(
    app, client, make_session, monday_morning
):
    booked = make_session(starts_in=timedelta(days=6))
    tomorrow = make_session(starts_in=timedelta(hours=25))
    token = manage_token(client.post("/signup", data=signup_form(booked)))
    assert f'value="{tomorrow}"' in client.get(f"/manage/{token}").get_data(as_text=True)
    monday_morning.move_to(MONDAY_MORNING + timedelta(hours=2))

    response = client.post(f"/manage/{token}/date", data={"session_id": tomorrow})

    assert response.status_code == 409
    assert (
        f"{when(app, tomorrow)} can no longer be changed to: changes close 24 hours before a "
        "session. Choose another date."
    ) in page_text(response)
    with app.app_context():
        assert db.session.scalars(select(Signup.session_id)).one() == booked
