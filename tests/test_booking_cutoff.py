"""The change cutoff: date and contact changes close 24 hours before a session, cancelling stays
open until it starts, and the signup form, confirmation and manage page say so."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from conftest import manage_token, page_text, signup_form
from mail_support import SmtpSink
from sqlalchemy import select

from training.booking import services
from training.booking.models import Signup, TrainingSession
from training.booking.notices import MANAGE_OFFERS, manage_offer
from training.extensions import db
from training.mail.delivery import deliver_due
from training.mail.models import OutboxMessage

pytestmark = pytest.mark.clock

# 10:00 AM in California on a Monday; sessions are made relative to it.
MONDAY_MORNING = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
# A session starting in 20 hours: Tue, Dec 1, 6:00–7:30 AM PT, inside the 24-hour cutoff.
TOMORROW_EARLY = timedelta(hours=20)
TOMORROW_EARLY_WHEN = "Tue, Dec 1, 6:00–7:30 AM PT"
TOMORROW_EARLY_STARTS = "Tue, Dec 1, 2026, 6:00 AM PT"


@pytest.fixture(autouse=True)
def monday_morning(time_machine):
    time_machine.move_to(MONDAY_MORNING, tick=False)
    return time_machine


def the_signup(app, name: str = "Sierra Valley Medical Society") -> Signup:
    with app.app_context():
        signup = db.session.scalars(select(Signup).where(Signup.organization_name == name)).one()
        db.session.expunge(signup)
        return signup


def seats_booked(app, session_id: int) -> int:
    with app.app_context():
        return db.session.get(TrainingSession, session_id).seats_booked


def book(client, session_id: int, **overrides) -> str:
    response = client.post("/signup", data=signup_form(session_id, **overrides))
    assert response.status_code == 303, page_text(response)
    return manage_token(response)


def option_text(markup: str, session_id: int) -> str:
    """The words of the date lists' option for ``session_id`` (the first list's)."""
    match = re.search(rf'<option[^>]*value="{session_id}"[^>]*>([^<]*)</option>', markup)
    assert match, f"no option for session {session_id}"
    return match.group(1)


# --- The rule, as the services keep it ---------------------------------------------------------


def test_change_window_closes_changes_at_the_cutoff_and_cancelling_at_the_start(
    app, client, make_session
):
    session_id = make_session()
    book(client, session_id)
    with app.app_context():
        signup = db.session.scalars(select(Signup)).one()
        starts_at = signup.session.starts_at
        cutoff = starts_at - timedelta(hours=24)
        moments = {
            "before the cutoff": cutoff - timedelta(seconds=1),
            "at the cutoff": cutoff,
            "a second before the start": starts_at - timedelta(seconds=1),
            "at the start": starts_at,
        }
        windows = {
            name: (window.can_change, window.can_cancel)
            for name, moment in moments.items()
            for window in [services.change_window(signup, moment)]
        }
        assert services.change_window(signup, cutoff).changes_close_at == cutoff
        assert services.change_window(signup, cutoff).cancel_closes_at == starts_at
    assert windows == {
        "before the cutoff": (True, True),
        "at the cutoff": (False, True),
        "a second before the start": (False, True),
        "at the start": (False, False),
    }


def test_cancelling_is_refused_once_the_session_has_started(app, client, make_session):
    session_id = make_session(starts_in=TOMORROW_EARLY)
    book(client, session_id)
    with app.app_context():
        signup = db.session.scalars(select(Signup)).one()
        with pytest.raises(services.ChangesClosed) as refused:
            services.cancel_signup(signup, now=signup.session.starts_at)
        db.session.rollback()
    assert str(refused.value) == (
        f"Your session started {TOMORROW_EARLY_STARTS}, so this booking can no longer be "
        "cancelled here. Please email staff@training.example.org."
    )
    assert the_signup(app).status == "confirmed"


# --- The manage page and its forms --------------------------------------------------------------


def test_manage_page_says_until_when_the_date_can_change_and_the_booking_be_cancelled(
    client, make_session
):
    token = book(client, make_session())  # Thu, Dec 3, 10:00 AM PT
    text = page_text(client.get(f"/manage/{token}"))
    assert (
        "You can change your date or your contacts until Wed, Dec 2, 2026, 10:00 AM PT "
        "(24 hours before the session), and cancel until the session starts, "
        "Thu, Dec 3, 2026, 10:00 AM PT."
    ) in text
    assert "Change your date" in text
    assert "Contacts and attendees" in text
    assert "Cancel this booking" in text


def test_inside_the_cutoff_the_manage_page_offers_only_cancelling_and_says_until_when(
    client, make_session, monday_morning
):
    token = book(client, make_session(starts_in=TOMORROW_EARLY + timedelta(days=1)))
    monday_morning.shift(timedelta(days=1))  # the booking was made before its cutoff
    response = client.get(f"/manage/{token}")
    text = page_text(response)
    assert (
        "Date and contact changes closed Tue, Dec 1, 2026, 6:00 AM PT, 24 hours before your "
        "session. You can still cancel until the session starts, Wed, Dec 2, 2026, 6:00 AM PT; "
        "your seat is then freed for another organization. For any other change, "
        "email staff@training.example.org."
    ) in text
    assert "Change your date" not in text
    assert "Save contacts" not in text
    assert "Cancel this booking" in text


def test_a_booking_made_inside_the_cutoff_is_not_told_changes_closed_before_it_was_made(
    client, make_session
):
    token = book(client, make_session(starts_in=TOMORROW_EARLY))

    text = page_text(client.get(f"/manage/{token}"))

    assert "Date and contact changes closed Mon, Nov 30" not in text
    assert (
        "Date and contact changes are closed: they close 24 hours before the session, and this "
        f"booking was made within those 24 hours. You can still cancel until the session starts, "
        f"{TOMORROW_EARLY_STARTS}; your seat is then freed for another organization."
    ) in text


def test_inside_the_cutoff_date_and_contact_changes_are_refused_with_the_reason(
    app, client, make_session
):
    session_id = make_session(starts_in=TOMORROW_EARLY)
    token = book(client, session_id)
    later = make_session(starts_in=timedelta(days=6))

    moved = client.post(f"/manage/{token}/date", data={"session_id": later})
    contacts = client.post(
        f"/manage/{token}/contacts",
        data={"contact_name": "Dana Ortiz", "contact_email": "dana@sierravalley.example.org"},
    )

    reason = (
        "Changes close 24 hours before your session, and yours starts "
        f"{TOMORROW_EARLY_WHEN}. You can still cancel until it starts. Please email "
        "staff@training.example.org if something else has changed."
    )
    assert (moved.status_code, contacts.status_code) == (409, 409)
    assert reason in page_text(moved)
    assert reason in page_text(contacts)
    signup = the_signup(app)
    assert (signup.session_id, signup.contact_name) == (session_id, "Ana Reyes")


def test_a_booking_made_inside_the_cutoff_can_be_cancelled_until_the_session_starts(
    app, client, make_session
):
    session_id = make_session(starts_in=TOMORROW_EARLY)
    token = book(client, session_id)

    response = client.post(f"/manage/{token}/cancel", data={"confirm": "y"})

    assert response.status_code == 303
    assert "Your booking is cancelled." in page_text(client.get(response.headers["Location"]))
    assert the_signup(app).status == "cancelled"
    assert seats_booked(app, session_id) == 0


def test_once_the_session_has_started_the_cancel_page_says_so_and_a_late_cancel_gets_409(
    app, client, make_session, monday_morning
):
    session_id = make_session(starts_in=TOMORROW_EARLY)
    token = book(client, session_id)
    monday_morning.move_to(MONDAY_MORNING + TOMORROW_EARLY + timedelta(minutes=5), tick=False)

    page = client.get(f"/manage/{token}/cancel")
    refused = client.post(f"/manage/{token}/cancel", data={"confirm": "y"})

    text = page_text(page)
    assert "This booking can no longer be cancelled" in text
    assert f"Your session started {TOMORROW_EARLY_STARTS}" in text
    assert 'method="post"' not in page.get_data(as_text=True)
    assert refused.status_code == 409  # as a date change past the cutoff is refused
    assert (
        f"Your session started {TOMORROW_EARLY_STARTS}, so this booking can no longer be "
        "cancelled here. Please email staff@training.example.org."
    ) in page_text(refused)
    assert the_signup(app).status == "confirmed"
    manage = page_text(client.get(f"/manage/{token}"))
    assert (
        f"Your session started {TOMORROW_EARLY_STARTS}, so this booking can no longer be "
        "changed or cancelled here."
    ) in manage
    assert "Cancel this booking" not in manage


def test_a_waitlisted_organization_is_told_it_may_leave_the_waitlist_at_any_time(
    client, make_session
):
    token = book(client, make_session(seats=0))
    text = page_text(client.get(f"/manage/{token}"))
    assert (
        "You can book a date with free seats (up to 24 hours before it starts), update your "
        "contacts, or leave the waitlist at any time."
    ) in text
    assert "Leave the waitlist Leave the waitlist" in text  # the section and its button
    assert "Cancel this booking" not in text


# --- The freed seat --------------------------------------------------------------------------


def test_a_seat_freed_inside_the_cutoff_stays_open_until_staff_book_it_by_hand(
    app, client, make_session, sign_in_as, monday_morning
):
    session_id = make_session(starts_in=TOMORROW_EARLY, seats=1)
    # Both signed up the day before, when the session was still outside the cutoff.
    monday_morning.move_to(MONDAY_MORNING - timedelta(hours=6), tick=False)
    holder = book(client, session_id)
    book(
        client,
        session_id,
        organization_name="Coast Range Hospital",
        contact_name="Lee Chen",
        contact_email="lee.chen@coastrange.example.org",
        attendee_emails="",
    )
    monday_morning.move_to(MONDAY_MORNING, tick=False)
    assert the_signup(app, "Coast Range Hospital").status == "waitlisted"
    smtp = SmtpSink().start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port)
    try:
        with app.app_context():
            deliver_due()  # the booking and waitlist emails, out of the way
        smtp.received.clear()

        client.post(f"/manage/{holder}/cancel", data={"confirm": "y"})
        with app.app_context():
            deliver_due()
        # Nobody is booked automatically inside the cutoff: the seat stays open.
        waiting = the_signup(app, "Coast Range Hospital")
        assert (waiting.status, waiting.session_id) == ("waitlisted", None)
        assert seats_booked(app, session_id) == 0
        assert not [r for r in smtp.received if "lee.chen@coastrange.example.org" in r.rcpt_tos]

        # Staff may still book it by hand from the roster.
        sign_in_as("staff")
        response = client.post(
            f"/staff/sessions/{session_id}/signups/{waiting.id}/promote",
            data={"session_id": session_id},
        )
        assert response.status_code == 303
        with app.app_context():
            deliver_due()
    finally:
        smtp.stop()

    promoted = the_signup(app, "Coast Range Hospital")
    assert (promoted.status, promoted.session_id) == ("confirmed", session_id)
    assert seats_booked(app, session_id) == 1
    to_promoted = [r for r in smtp.received if "lee.chen@coastrange.example.org" in r.rcpt_tos]
    assert len(to_promoted) == 1
    message = to_promoted[0].message
    plain = " ".join(message.get_body(("plain",)).get_content().split())
    assert TOMORROW_EARLY_WHEN in plain
    # Booked inside the cutoff: the email offers what is left, not a change of date.
    assert "Change your date, update who is attending" not in plain
    assert (
        "Your session starts within 24 hours, so its date and who attends can no longer be "
        f"changed here. You can still see or cancel the booking until it starts, "
        f"{TOMORROW_EARLY_STARTS}:"
    ) in plain
    assert "See or cancel your booking" in message.get_body(("html",)).get_content()


# --- The signup form and the confirmation ------------------------------------------------------


def test_signup_form_marks_dates_inside_the_cutoff_and_says_what_that_means(client, make_session):
    soon = make_session(starts_in=TOMORROW_EARLY)
    later = make_session()

    response = client.get("/signup")

    markup = response.get_data(as_text=True)
    assert (
        option_text(markup, soon) == f"{TOMORROW_EARLY_WHEN} (8 seats left; starts within 24 hours)"
    )
    assert option_text(markup, later) == "Thu, Dec 3, 10:00–11:30 AM PT (8 seats left)"
    assert (
        "Dates marked “starts within 24 hours” are inside our change cutoff: once booked, their "
        "date and contacts can no longer be changed, though you can still cancel until the "
        "session starts."
    ) in page_text(response)
    # The note is the first list's description, read out with it.
    assert re.search(r'<select[^>]*aria-describedby="first_choice-hint"', markup)


def test_signup_form_without_dates_inside_the_cutoff_has_no_cutoff_note(client, make_session):
    make_session()
    assert "change cutoff" not in page_text(client.get("/signup"))


def test_confirmation_of_a_booking_inside_the_cutoff_says_only_cancelling_is_left(
    client, make_session
):
    token = book(client, make_session(starts_in=TOMORROW_EARLY))
    text = page_text(client.get(f"/manage/{token}/confirmation"))
    assert (
        "Your session starts within 24 hours, inside our change cutoff, so its date and "
        "contacts can no longer be changed. You can still cancel until it starts, "
        f"{TOMORROW_EARLY_STARTS}."
    ) in text
    assert "it lets you see your booking, or cancel it until the session starts." in text
    assert "lets you change your date" not in text


def test_a_confirmation_email_outside_the_cutoff_offers_every_change(app, client, make_session):
    book(client, make_session())
    with app.app_context():
        email = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "booking_confirmed")
        ).one()
    assert "Change your date, update who is attending, or cancel:" in email.text_body
    assert "can no longer be changed" not in email.text_body


def test_confirmation_outside_the_cutoff_offers_every_change(client, make_session):
    token = book(client, make_session())
    text = page_text(client.get(f"/manage/{token}/confirmation"))
    assert "change cutoff" not in text
    assert "it lets you change your date, update who is attending, or cancel" in text


def test_inside_the_cutoff_the_signed_up_page_and_resent_link_offer_only_seeing_or_cancelling(
    app, client, make_session, monday_morning
):
    session_id = make_session(starts_in=timedelta(hours=30))
    book(client, session_id)
    monday_morning.move_to(MONDAY_MORNING + timedelta(hours=10), tick=False)  # 20 hours before

    again = signup_form(session_id, contact_email="colleague@example.org")
    refused = client.post("/signup", data={**again, "submission_key": "c" * 32})
    assert refused.status_code == 409
    text = page_text(refused)
    assert (
        "To see your booking, or cancel it until the session starts, use the manage link in the "
        "confirmation email."
    ) in text
    assert "To change the date" not in text

    ref = re.search(r'name="signup_ref" type="hidden" value="([^"]+)"', refused.text).group(1)
    assert client.post("/signup/resend-link", data={"signup_ref": ref}).status_code == 303
    with app.app_context():
        email = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "manage_link")
        ).one()
    assert "Use it to see your booking, or cancel it until the session starts:" in email.text_body
    assert "change your date" not in email.text_body
    assert "change your date" not in email.html_body


def test_the_manage_link_offer_follows_where_the_signup_stands(app, make_session):
    with app.app_context():
        signup = Signup(status="confirmed")
        signup.session = db.session.get(TrainingSession, make_session(starts_in=TOMORROW_EARLY))
        assert manage_offer(signup, MONDAY_MORNING) == MANAGE_OFFERS["inside_cutoff"]
        assert manage_offer(signup, MONDAY_MORNING + timedelta(days=1)) == MANAGE_OFFERS["started"]
        assert manage_offer(signup, MONDAY_MORNING - timedelta(days=2)) == MANAGE_OFFERS["booked"]
        signup.status = "cancelled"
        assert manage_offer(signup, MONDAY_MORNING) == MANAGE_OFFERS["cancelled"]
