"""The manage link: see the booking, change the date, update contacts, cancel."""

import re
from datetime import timedelta

import pytest
from conftest import manage_token, page_text, signup_form
from sqlalchemy import select

from training.booking.models import ManageLink, Signup, TrainingSession
from training.extensions import db
from training.mail.models import OutboxMessage

pytestmark = pytest.mark.clock


@pytest.fixture
def booked(client, make_session):
    """A confirmed booking: (manage token, its session id)."""
    session_id = make_session()
    return manage_token(client.post("/signup", data=signup_form(session_id))), session_id


def the_signup(app) -> Signup:
    with app.app_context():
        signup = db.session.scalars(select(Signup)).one()
        db.session.expunge(signup)
        return signup


def seats_booked(app, session_id: int) -> int:
    with app.app_context():
        return db.session.get(TrainingSession, session_id).seats_booked


def test_manage_page_shows_the_booking(client, booked):
    token, _ = booked
    text = page_text(client.get(f"/manage/{token}"))
    assert "Manage your booking" in text
    assert "Sierra Valley Medical Society" in text
    assert "Change your date" in text
    assert "Cancel this booking" in text


def test_the_manage_page_of_an_organization_holding_no_date_offers_to_book_one(
    client, make_session
):
    full = make_session(seats=0)
    make_session(seats=3, starts_in=timedelta(days=6))
    token = manage_token(client.post("/signup", data=signup_form(full)))
    response = client.get(f"/manage/{token}")
    markup, text = response.get_data(as_text=True), page_text(response)
    assert "<title>Manage your signup" in markup
    assert "<h1>Manage your signup</h1>" in markup
    assert "Manage your booking" not in text
    assert ">Book this date</button>" in markup
    assert "Change date" not in text and "New date" not in text


def test_manage_tokens_are_stored_only_as_hashes(app, booked):
    token, _ = booked
    with app.app_context():
        stored = db.session.scalars(select(ManageLink.token_hash)).all()
    assert token not in stored
    assert all(len(value) == 64 for value in stored)


@pytest.mark.parametrize("token", ["not-a-real-token", "x" * 5000])
def test_an_unknown_manage_link_is_a_clear_404(client, token):
    response = client.get(f"/manage/{token}")
    assert response.status_code == 404
    assert "This manage link is not valid" in page_text(response)


def test_manage_pages_are_not_cached(client, booked):
    token, _ = booked
    assert client.get(f"/manage/{token}").headers["Cache-Control"] == "no-store"


def test_changing_to_a_date_with_free_seats_moves_the_seat(app, client, make_session, booked):
    token, old_session = booked
    new_session = make_session(starts_in=timedelta(days=6))
    response = client.post(f"/manage/{token}/date", data={"session_id": new_session})
    assert response.status_code == 303
    assert "Done: you are now booked for" in page_text(client.get(response.headers["Location"]))
    assert the_signup(app).session_id == new_session
    assert seats_booked(app, old_session) == 0
    assert seats_booked(app, new_session) == 1
    with app.app_context():
        texts = db.session.scalars(select(OutboxMessage.text_body).order_by(OutboxMessage.id)).all()
    assert "you moved to" in texts[-2] and "training staff" not in texts[-2]
    assert "Your training date has changed." in texts[-1]


def test_a_full_date_is_not_offered_and_refused_by_name_if_sent(app, client, make_session, booked):
    token, old_session = booked
    full = make_session(starts_in=timedelta(days=6), seats=0)
    assert f'value="{full}"' not in client.get(f"/manage/{token}").get_data(as_text=True)
    response = client.post(f"/manage/{token}/date", data={"session_id": full})
    assert response.status_code == 409
    assert "has just filled: choose another date." in page_text(response)
    assert "Not a valid choice" not in page_text(response)
    assert the_signup(app).session_id == old_session


def test_a_date_that_is_no_session_of_the_program_is_not_a_valid_choice(
    app, client, make_session, booked
):
    token, old_session = booked
    make_session(starts_in=timedelta(days=6))
    response = client.post(f"/manage/{token}/date", data={"session_id": 99999})
    assert response.status_code == 422
    assert "New date: Not a valid choice." in page_text(response)
    assert the_signup(app).session_id == old_session


def test_updating_contacts_keeps_the_booking(app, client, booked):
    token, session_id = booked
    response = client.post(
        f"/manage/{token}/contacts",
        data={
            "contact_name": "Dana Ortiz",
            "contact_email": "dana@sierravalley.example.org",
            "attendee_emails": "new@sierravalley.example.org",
        },
    )
    assert response.status_code == 303
    signup = the_signup(app)
    assert (signup.contact_name, signup.contact_email) == (
        "Dana Ortiz",
        "dana@sierravalley.example.org",
    )
    assert signup.session_id == session_id
    # Taking the attendees off replaced the link: the answer leads to the new address.
    new_page = response.headers["Location"]
    assert "Your contact details are saved." in page_text(client.get(new_page))


def test_a_bad_contact_update_says_why_and_changes_nothing(app, client, booked):
    token, _ = booked
    response = client.post(
        f"/manage/{token}/contacts", data={"contact_name": "", "contact_email": "nope"}
    )
    assert response.status_code == 422
    text = page_text(response)
    assert "Enter the name of the person we should contact." in text
    assert "is not an email address: enter one like name@example.org." in text
    assert the_signup(app).contact_name == "Ana Reyes"


def test_cancelling_asks_first_then_frees_the_seat(app, client, booked):
    token, session_id = booked
    unconfirmed = client.post(f"/manage/{token}/cancel", data={})
    assert "Tick the box to confirm that you want to cancel." in page_text(unconfirmed)
    assert the_signup(app).status == "confirmed"

    response = client.post(f"/manage/{token}/cancel", data={"confirm": "y"})
    assert response.status_code == 303
    assert "Your booking is cancelled." in page_text(client.get(response.headers["Location"]))
    assert the_signup(app).status == "cancelled"
    assert seats_booked(app, session_id) == 0
    with app.app_context():
        kinds = db.session.scalars(select(OutboxMessage.kind).order_by(OutboxMessage.id)).all()
    assert kinds == ["booking_confirmed", "cancelled"]


def test_date_changes_close_a_day_before_the_session_but_cancelling_does_not(
    app, client, make_session
):
    session_id = make_session(starts_in=timedelta(hours=20))
    token = manage_token(client.post("/signup", data=signup_form(session_id)))
    other = make_session(starts_in=timedelta(days=6))

    text = page_text(client.get(f"/manage/{token}"))
    assert "Date and contact changes are closed" in text
    assert "staff@training.example.org" in text

    refused = client.post(f"/manage/{token}/date", data={"session_id": other})
    assert refused.status_code == 409
    assert "Changes close 24 hours before your session" in page_text(refused)
    assert the_signup(app).session_id == session_id
    client.post(f"/manage/{token}/cancel", data={"confirm": "y"})
    assert the_signup(app).status == "cancelled"


def test_the_change_cutoff_is_configurable(app, client, make_session):
    app.config["CHANGE_CUTOFF_HOURS"] = 2
    session_id = make_session(starts_in=timedelta(hours=20))
    token = manage_token(client.post("/signup", data=signup_form(session_id)))
    other = make_session(starts_in=timedelta(days=6))
    client.post(f"/manage/{token}/date", data={"session_id": other})
    assert the_signup(app).session_id == other


def test_a_cancelled_booking_cannot_be_changed(app, client, make_session, booked):
    token, _ = booked
    other = make_session(starts_in=timedelta(days=6))
    client.post(f"/manage/{token}/cancel", data={"confirm": "y"})
    assert "This booking is cancelled." in page_text(client.get(f"/manage/{token}"))
    client.post(f"/manage/{token}/date", data={"session_id": other})
    assert the_signup(app).status == "cancelled"


def test_saving_contacts_that_keep_an_attendee_works(app, client, booked):
    token, _ = booked
    response = client.post(
        f"/manage/{token}/contacts",
        data={
            "contact_name": "Ana Reyes",
            "contact_email": "ana.reyes@sierravalley.example.org",
            "contact_phone": "(916) 555-0199",
            "attendee_emails": "kim@sierravalley.example.org\nnew@sierravalley.example.org",
        },
    )
    assert response.status_code == 303
    with app.app_context():
        signup = db.session.scalars(select(Signup)).one()
        assert [a.email for a in signup.attendees] == [
            "kim@sierravalley.example.org",
            "new@sierravalley.example.org",
        ]
        assert signup.contact_phone == "(916) 555-0199"


def test_a_waitlist_place_is_left_not_cancelled(app, client, make_session):
    session_id = make_session(seats=1)
    client.post("/signup", data=signup_form(session_id, organization_name="Pone Group"))
    waiting = manage_token(
        client.post("/signup", data=signup_form(session_id, organization_name="Ptwo Group"))
    )
    page = page_text(client.get(f"/manage/{waiting}/cancel"))
    assert "Leave the waitlist? Ptwo Group will leave the waitlist." in page
    assert "Yes, take us off the waitlist" in page
    assert "Leave the waitlist No, stay on the waitlist" in page
    assert "cancel our booking" not in page and "Cancel booking" not in page

    left = client.post(f"/manage/{waiting}/cancel", data={"confirm": "y"}, follow_redirects=True)
    assert "You have left the waitlist. We have emailed your contacts" in page_text(left)


def test_leaving_the_waitlist_from_an_old_page_keeps_the_seat_given_meanwhile(
    app, client, make_session
):
    session_id = make_session(seats=1)
    first = manage_token(
        client.post("/signup", data=signup_form(session_id, organization_name="Pone Group"))
    )
    waiting = manage_token(
        client.post("/signup", data=signup_form(session_id, organization_name="Ptwo Group"))
    )
    page = client.get(f"/manage/{waiting}/cancel")
    assert "Ptwo Group will leave the waitlist." in page_text(page)
    asked_about = re.search(r'name="asked_about" value="([^"]*)"', page.get_data(as_text=True))
    # Pone cancels; Ptwo is given its seat.
    client.post(f"/manage/{first}/cancel", data={"confirm": "y"})
    response = client.post(
        f"/manage/{waiting}/cancel", data={"confirm": "y", "asked_about": asked_about.group(1)}
    )
    assert response.status_code == 409
    text = page_text(response)
    assert "Your booking changed since this page was opened" in text
    assert "Ptwo Group will give up its seat on" in text
    with app.app_context():
        ptwo = db.session.scalars(select(Signup).where(Signup.organization_name == "Ptwo Group"))
        assert ptwo.one().status == "confirmed"
    assert seats_booked(app, session_id) == 1
    # Asked again, knowing it now holds a seat, it cancels.
    again = page_text(client.get(f"/manage/{waiting}/cancel"))
    assert "will give up its seat" in again
