"""Seats and the one-per-organization rule hold when requests race, on SQLite and PostgreSQL."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from conftest import manage_token, page_text, signup_form
from sqlalchemy import create_engine, func, select, text, update

from training.booking.models import Signup, TrainingSession
from training.extensions import db

RACERS = 12


def race(app, forms: list[dict]):
    """Post every form at once from its own client; return the responses."""
    barrier = threading.Barrier(len(forms))

    def post(form):
        client = app.test_client()
        barrier.wait()
        return client.post("/signup", data=form)

    with ThreadPoolExecutor(max_workers=len(forms)) as pool:
        return list(pool.map(post, forms))


def test_many_signups_racing_for_the_last_seat_give_exactly_one_booking(app, make_session):
    session_id = make_session(seats=1)
    forms = [
        signup_form(session_id, organization_name=f"Racing Clinic {n}", join_waitlist=None)
        for n in range(RACERS)
    ]
    responses = race(app, forms)

    winners = [r for r in responses if r.status_code == 303]
    losers = [r for r in responses if r.status_code == 409]
    assert len(winners) == 1
    assert len(losers) == RACERS - 1
    for response in losers:
        assert "is full: choose another date, or tick the waitlist box" in page_text(response)
    with app.app_context():
        session = db.session.get(TrainingSession, session_id)
        confirmed = db.session.scalar(
            select(func.count(Signup.id)).where(Signup.status == "confirmed")
        )
        assert (session.seats_booked, confirmed) == (1, 1)


def test_racers_who_accept_the_waitlist_are_queued_not_oversold(app, make_session):
    session_id = make_session(seats=3)
    forms = [signup_form(session_id, organization_name=f"Queue Clinic {n}") for n in range(RACERS)]
    responses = race(app, forms)
    assert all(r.status_code == 303 for r in responses)
    with app.app_context():
        counts = dict(
            db.session.execute(select(Signup.status, func.count()).group_by(Signup.status)).all()
        )
        assert counts == {"confirmed": 3, "waitlisted": RACERS - 3}
        assert db.session.get(TrainingSession, session_id).seats_booked == 3


def test_one_organization_racing_under_many_spellings_books_once(app, make_session):
    sessions = [make_session(starts_in=timedelta(days=3 + n)) for n in range(3)]
    spellings = [
        "Coastal Physicians Group",
        "COASTAL PHYSICIANS GROUP, INC.",
        "Coastal Physicians Group LLC",
        "coastal  physicians group",
    ]
    forms = [
        signup_form(sessions[n % 3], organization_name=spellings[n % len(spellings)])
        for n in range(RACERS)
    ]
    responses = race(app, forms)
    assert sorted(r.status_code for r in responses) == [303] + [409] * (RACERS - 1)
    for response in responses:
        if response.status_code == 409:
            assert "already holds a place on" in page_text(response)
    with app.app_context():
        assert db.session.scalar(select(func.count(Signup.id))) == 1
        assert db.session.scalar(select(func.sum(TrainingSession.seats_booked))) == 1


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_a_move_waits_for_a_cancellation_of_the_same_booking_and_then_refuses(
    app, client, make_session
):
    first = make_session()
    second = make_session(starts_in=timedelta(days=6))
    token = manage_token(
        client.post("/signup", data=signup_form(first, organization_name="North Clinic"))
    )
    with app.app_context():
        north = db.session.scalars(select(Signup.id)).one()
        url = db.engine.url
    # Staff's cancellation, written but not yet committed, on a connection of its own.
    staff = create_engine(url)
    with staff.connect() as connection:
        connection.execute(
            update(Signup.__table__).where(Signup.id == north).values(status="cancelled")
        )
        connection.execute(
            update(TrainingSession.__table__)
            .where(TrainingSession.id == first)
            .values(seats_booked=TrainingSession.seats_booked - 1)
        )
        with ThreadPoolExecutor(max_workers=1) as pool:
            moving = pool.submit(
                app.test_client().post, f"/manage/{token}/date", data={"session_id": second}
            )
            # The organization's request waits on the booking's row, then staff commit.
            while not connection.execute(
                text("SELECT count(*) FROM pg_locks WHERE NOT granted")
            ).scalar():
                assert not moving.done(), page_text(moving.result())
                threading.Event().wait(0.01)
            connection.commit()
            response = moving.result()
    staff.dispose()
    assert response.status_code == 409
    assert "This booking was cancelled, so it can no longer be changed." in page_text(response)
    with app.app_context():
        signup = db.session.get(Signup, north)
        seats = [db.session.get(TrainingSession, s).seats_booked for s in (first, second)]
        assert (signup.status, signup.session_id, seats) == ("cancelled", first, [0, 0])
