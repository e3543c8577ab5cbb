"""An organization whose session staff cancelled, with no other date chosen: what it is told,
what it may do, and how staff find it."""

from datetime import timedelta

import pytest
from conftest import manage_token, page_text, signup_form
from sqlalchemy import select

from training.booking.models import Signup, TrainingSession
from training.extensions import db
from training.mail.models import OutboxMessage


@pytest.fixture
def stranded(client, make_session, cancel_session) -> str:
    """The manage token of an organization booked on a session staff then cancelled."""
    doomed = make_session()
    token = manage_token(client.post("/signup", data=signup_form(doomed)))
    cancel_session(doomed)
    return token


def test_the_manage_page_says_staff_cancelled_the_session_and_offers_waitlists(
    client, make_session, stranded
):
    full = make_session(starts_in=timedelta(days=5), seats=0)
    text = page_text(client.get(f"/manage/{stranded}"))
    assert "Not waiting for any date: our staff cancelled the session you chose." in text
    assert "Join the waitlist for a full date" in text
    assert "(full: waitlist)" in text
    assert "leave the waitlist" not in text.lower()
    assert "Cancel this signup" in text
    assert full


def test_an_organization_waiting_for_no_date_can_join_the_waitlist_of_full_dates(
    app, client, make_session, stranded
):
    first = make_session(starts_in=timedelta(days=5), seats=0)
    second = make_session(starts_in=timedelta(days=6), seats=0)
    response = client.post(
        f"/manage/{stranded}/waitlist",
        data={"first_choice": second, "second_choice": first, "third_choice": 0},
    )
    assert response.status_code == 303
    text = page_text(client.get(response.headers["Location"]))
    assert "Done: you are on the waitlist." in text
    assert "Status On the waitlist" in text
    assert "First choice" in text and "number 1 in line" in text
    with app.app_context():
        signup = db.session.scalar(select(Signup))
        assert [choice.session_id for choice in signup.choices] == [second, first]
    assert "Leave the waitlist" in page_text(client.get(f"/manage/{stranded}"))


def test_joining_a_waitlist_from_the_manage_page_sends_the_waitlist_email(
    app, client, make_session, stranded
):
    full = make_session(starts_in=timedelta(days=5), seats=0)
    client.post(
        f"/manage/{stranded}/waitlist",
        data={"first_choice": full, "second_choice": 0, "third_choice": 0},
    )

    with app.app_context():
        when = db.session.get(TrainingSession, full).when
        [waitlisted] = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "waitlisted")
        ).all()
        assert waitlisted.subject == (
            f"You're on the waitlist for {when} (Sierra Valley Medical Society)"
        )
        assert f"1. {when}" in waitlisted.text_body
        assert "ana.reyes@sierravalley.example.org" in waitlisted.recipients
        assert "lee@sierravalley.example.org" in waitlisted.recipients


def test_a_date_with_a_free_seat_is_booked_not_waited_for(client, make_session, stranded):
    open_date = make_session(starts_in=timedelta(days=5))
    response = client.post(
        f"/manage/{stranded}/waitlist",
        data={"first_choice": open_date, "second_choice": 0, "third_choice": 0},
    )
    assert response.status_code == 409
    assert "has a free seat now: book it instead of joining its waitlist." in page_text(response)


def test_leaving_is_called_cancelling_the_signup_when_waiting_for_no_date(client, stranded):
    text = page_text(client.get(f"/manage/{stranded}/cancel"))
    assert "Cancel your signup?" in text
    assert "No, keep our signup" in text
    assert "stay on the waitlist" not in text


def test_staff_see_and_filter_organizations_waiting_for_no_date(
    client, sign_in_as, make_session, stranded
):
    other = make_session(starts_in=timedelta(days=5))
    client.post("/signup", data=signup_form(other, organization_name="Lakeside Clinic"))
    sign_in_as("staff")
    text = page_text(client.get("/staff/signups"))
    assert "Sierra Valley Medical Society Not waiting for any date No date left" in text
    assert "Waitlisted" not in text.split("Organization Status Session")[-1]
    assert "None" not in text
    waitlisted = page_text(client.get("/staff/signups", query_string={"status": "waitlisted"}))
    assert "Sierra Valley Medical Society" not in waitlisted
    assert "No signups" in waitlisted or "0 signups" in waitlisted
    filtered = client.get("/staff/signups", query_string={"status": "waiting-for-no-date"})
    text = page_text(filtered)
    assert "1 signup (not waiting for any date)." in text
    assert "Sierra Valley Medical Society" in text and "Lakeside Clinic" not in text


def test_the_session_cancelled_email_offers_what_an_organization_with_no_date_can_do(app, stranded):
    with app.app_context():
        [email] = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "session_cancelled")
        ).all()
    assert "or join the waitlist of a full date, use your manage link below." in email.text_body
    assert "Book a date, join a waitlist, or cancel your signup:" in email.text_body
    assert "Change your date" not in email.text_body
    assert "Book a date, join a waitlist or cancel your signup</a>" in email.html_body
    assert "Change, update or cancel your booking" not in email.html_body


def test_a_waitlist_place_whose_date_is_cancelled_is_told_what_it_can_do_in_tidy_text(
    app, client, make_session, cancel_session
):
    full = make_session(starts_in=timedelta(days=5), seats=0)
    make_session(starts_in=timedelta(days=6))  # a date with seats left
    client.post("/signup", data=signup_form(full))
    cancel_session(full)

    with app.app_context():
        [email] = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "waitlist_session_cancelled")
        ).all()
    text = email.text_body
    assert "Book a date, join a waitlist, or cancel your signup:" in text
    assert "Change your date" not in text
    assert "\n\n\n" not in text
