"""A date's waitlist is first come, first served by when each organization joined that line:
one order for the roster, "number N in line" and who gets a freed seat."""

from datetime import UTC, datetime, timedelta

import pytest
from conftest import page_text, sign_up
from sqlalchemy import select

from training.booking.models import Signup, SignupChoice
from training.extensions import db
from training.mail.models import OutboxMessage

NOW = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock(time_machine):
    """A Monday morning in California, the clock moving one minute at each step."""
    time_machine.move_to(NOW, tick=False)
    return time_machine


def sign_up_next(app, clock, session_id: int, name: str, *alternates: int) -> str:
    """Sign ``name`` up from a browser of its own a minute after the last step; its token."""
    clock.shift(timedelta(minutes=1))
    return sign_up(app, session_id, name, *alternates)


def in_line(client, token: str) -> str:
    """What the manage page says of the first date the organization waits for."""
    text = page_text(client.get(f"/manage/{token}"))
    return text.split("First choice", 1)[1].split("in line", 1)[0] + "in line"


def status_of(app, name: str) -> str:
    with app.app_context():
        return db.session.scalars(
            select(Signup.status).where(Signup.organization_name == name)
        ).one()


def test_an_organization_rejoining_from_its_manage_page_goes_behind_those_already_waiting(
    app, client, clock, make_session, cancel_session, sign_in_as
):
    full = make_session(seats=1)
    doomed = make_session(starts_in=timedelta(days=4))
    booked = sign_up_next(app, clock, full, "North Clinic")
    stranded = sign_up_next(app, clock, doomed, "East Clinic")  # signed up before West Clinic
    west = sign_up_next(app, clock, full, "West Clinic")  # waits for the full date
    clock.shift(timedelta(minutes=1))
    cancel_session(doomed)
    clock.shift(timedelta(minutes=1))
    joined = client.post(
        f"/manage/{stranded}/waitlist",
        data={"first_choice": full, "second_choice": 0, "third_choice": 0},
    )
    assert joined.status_code == 303

    assert in_line(client, west).endswith("number 1 in line")
    assert in_line(client, stranded).endswith("number 2 in line")
    sign_in_as("staff")
    roster = page_text(client.get(f"/staff/sessions/{full}"))
    assert roster.index("West Clinic") < roster.index("East Clinic")

    app.test_client().post(f"/manage/{booked}/cancel", data={"confirm": "y"})
    assert status_of(app, "North Clinic") == "cancelled"
    assert status_of(app, "West Clinic") == "confirmed"
    assert status_of(app, "East Clinic") == "waitlisted"


def test_a_booking_whose_session_staff_cancel_joins_the_back_of_its_other_dates_lines(
    app, client, clock, make_session, cancel_session
):
    full = make_session(seats=1)
    doomed = make_session(starts_in=timedelta(days=4))
    sign_up_next(app, clock, full, "North Clinic")
    moved_back = sign_up_next(app, clock, doomed, "East Clinic", full)  # booked on its first choice
    west = sign_up_next(app, clock, full, "West Clinic")
    clock.shift(timedelta(minutes=1))
    cancel_session(doomed)

    assert in_line(client, west).endswith("number 1 in line")
    assert in_line(client, moved_back).endswith("number 2 in line")
    with app.app_context():
        told = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "session_cancelled")
        ).one()
        assert "number 2 in line" in " ".join(told.text_body.split())


def test_a_place_is_kept_when_staff_take_the_organization_off_another_date(
    app, client, clock, make_session, sign_in_as
):
    full = make_session(seats=1)
    other_full = make_session(starts_in=timedelta(days=4), seats=1)
    sign_up_next(app, clock, full, "North Clinic")
    sign_up_next(app, clock, other_full, "South Clinic")
    east = sign_up_next(app, clock, other_full, "East Clinic", full)
    sign_up_next(app, clock, full, "West Clinic")
    clock.shift(timedelta(minutes=1))
    sign_in_as("staff")
    with app.app_context():
        east_id = db.session.scalars(
            select(Signup.id).where(Signup.organization_name == "East Clinic")
        ).one()
    client.post(
        f"/staff/sessions/{other_full}/signups/{east_id}/cancel?place=waiting",
        data={"reason": "They asked by phone"},
    )
    with app.app_context():
        assert [c.session_id for c in db.session.get(Signup, east_id).choices] == [full]
        joined = db.session.scalars(
            select(SignupChoice.joined_at).where(SignupChoice.signup_id == east_id)
        ).one()
        assert joined == NOW + timedelta(minutes=3)
    assert in_line(client, east).endswith("number 1 in line")
