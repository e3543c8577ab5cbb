"""A full date inside the change cutoff cannot be waited for (no seat comes from its waitlist):
the home page, signup form and manage page say so instead of offering its waitlist, and every
page that says an organization waits for no date gives the one true reason."""

from datetime import UTC, datetime, timedelta

import pytest
from conftest import manage_token, page_text, signup_form
from sqlalchemy import func, select

from training.booking import services
from training.booking.models import Signup, SignupChoice, TrainingSession
from training.extensions import db, utcnow
from training.mail.models import OutboxMessage

pytestmark = pytest.mark.clock

# 10:00 AM in California on a Monday; sessions are made relative to it.
MONDAY_MORNING = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
# Staff's session about 21 hours ahead: Tue, Dec 1, 7:00–8:30 AM PT, inside the cutoff.
SOON = timedelta(hours=21)
SOON_WHEN = "Tue, Dec 1, 7:00–8:30 AM PT"
NO_SEAT_IN_TIME = "starts within 24 hours: no seat can open for you in time"

KAPPA = {
    "organization_name": "Kappa Org",
    "contact_name": "Kim Park",
    "contact_email": "kim@kappa.example.org",
    "attendee_emails": "",
}
LAMBDA = {
    "organization_name": "Lambda Org",
    "contact_name": "Lee Lam",
    "contact_email": "lee@lambda.example.org",
    "attendee_emails": "",
}


@pytest.fixture(autouse=True)
def monday_morning(time_machine):
    time_machine.move_to(MONDAY_MORNING, tick=False)
    return time_machine


@pytest.fixture
def full_soon(client, make_session) -> int:
    """A 1-seat session starting in 21 hours, booked by Kappa Org."""
    session_id = make_session(starts_in=SOON, seats=1)
    response = client.post("/signup", data=signup_form(session_id, **KAPPA))
    assert response.status_code == 303
    return session_id


def signups_named(app, name: str) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count(Signup.id)).where(Signup.organization_name == name)
        )


def test_the_home_page_offers_no_waitlist_for_a_full_date_inside_the_cutoff(client, full_soon):
    text = page_text(client.get("/"))
    assert f"{SOON_WHEN} Full 0 of 1 No waitlist: {NO_SEAT_IN_TIME}" in text
    assert "Join the waitlist" not in text


def test_the_signup_form_says_a_full_date_inside_the_cutoff_has_no_waitlist(client, full_soon):
    markup = client.get("/signup").get_data(as_text=True)
    assert f"{SOON_WHEN} (full; {NO_SEAT_IN_TIME})" in markup
    assert f"{SOON_WHEN} (full: waitlist" not in markup
    text = page_text(client.get("/signup"))
    assert (
        f"Every session is full right now, and none can be waited for: each {NO_SEAT_IN_TIME}."
    ) in text
    assert "Signing up puts your organization on the waitlist" not in text


def test_a_link_to_a_full_date_inside_the_cutoff_does_not_preselect_it_and_says_why(
    client, make_session, full_soon
):
    later = make_session(starts_in=timedelta(days=5))

    response = client.get(f"/signup?session={full_soon}")

    assert response.status_code == 200
    markup = response.get_data(as_text=True)
    assert f'<option selected value="{full_soon}">' not in markup
    assert f'value="{full_soon}" selected' not in markup
    assert f'<option selected value="{later}">' not in markup
    assert (
        f"{SOON_WHEN} is full and {NO_SEAT_IN_TIME}. Choose a date that still has seats, or "
        "a full date further ahead to wait for."
    ) in page_text(response)


def test_a_link_to_a_cancelled_date_says_it_was_cancelled(client, make_session, cancel_session):
    cancelled = make_session(starts_in=timedelta(days=5))
    cancel_session(cancelled)

    text = page_text(client.get(f"/signup?session={cancelled}"))

    assert "was cancelled: choose another date." in text


@pytest.mark.parametrize("linked", ["999", "abc", "9" * 20])
def test_a_link_to_a_date_not_found_says_so_and_to_choose_one_below(client, make_session, linked):
    make_session(starts_in=timedelta(days=5))

    response = client.get("/signup", query_string={"session": linked})

    assert response.status_code == 200
    assert "We could not find the date in the link you followed: choose a date below." in page_text(
        response
    )
    assert '<option selected value="0">Choose a date</option>' in response.get_data(as_text=True)


def test_the_signup_form_without_a_linked_date_has_no_date_note(client, make_session):
    make_session(starts_in=timedelta(days=5))

    assert "could not find the date" not in page_text(client.get("/signup"))


def test_a_link_to_a_date_that_can_be_had_preselects_it_without_a_note(client, make_session):
    later = make_session(starts_in=timedelta(days=5))

    response = client.get(f"/signup?session={later}")

    assert f'<option selected value="{later}">' in response.get_data(as_text=True)
    assert "Choose a date that still has seats" not in page_text(response)


def test_a_signup_waiting_only_for_a_full_date_inside_the_cutoff_is_refused_under_the_field(
    app, client, full_soon
):
    response = client.post("/signup", data=signup_form(full_soon, **LAMBDA))
    assert response.status_code == 409
    text = page_text(response)
    message = (
        f"{SOON_WHEN} is full and {NO_SEAT_IN_TIME}. Choose a date that still has seats, or a "
        "full date further ahead to wait for."
    )
    # Under the date field, and the form keeps what was typed.
    assert f"{message} Choose a date {SOON_WHEN}" in text
    assert 'value="Lambda Org"' in response.get_data(as_text=True)
    # Without the waitlist box the answer is the same: ticking it would not help.
    unticked = client.post("/signup", data=signup_form(full_soon, join_waitlist=None, **LAMBDA))
    assert f"{message} Choose a date {SOON_WHEN}" in page_text(unticked)
    assert "tick the waitlist box" not in page_text(unticked)
    assert signups_named(app, "Lambda Org") == 0


def test_without_the_waitlist_box_a_full_date_inside_the_cutoff_is_named_as_having_no_waitlist(
    app, client, make_session, full_soon
):
    later = make_session(starts_in=timedelta(days=4), seats=0)
    response = client.post(
        "/signup",
        data=signup_form(full_soon, second_choice=later, join_waitlist=None, **LAMBDA),
    )
    assert response.status_code == 409
    with app.app_context():
        later_when = db.session.get(TrainingSession, later).when
    assert (
        f"Every date you chose is full ({SOON_WHEN}; {later_when}). Choose another date, or "
        f"tick the waitlist box to wait for a seat on {later_when} ({SOON_WHEN} "
        f"{NO_SEAT_IN_TIME})."
    ) in page_text(response)
    assert signups_named(app, "Lambda Org") == 0


def test_a_signup_with_a_full_date_further_ahead_waits_for_that_one(
    app, client, make_session, full_soon
):
    later = make_session(starts_in=timedelta(days=4), seats=0)
    response = client.post("/signup", data=signup_form(full_soon, second_choice=later, **LAMBDA))
    assert response.status_code == 303
    text = page_text(client.get(response.headers["Location"]))
    assert "is on the waitlist, and we will book you" in text
    assert (
        f"{SOON_WHEN}: starts within 24 hours: seats are no longer given from its waitlist"
    ) in text
    assert "number 1 in line" in text
    with app.app_context():
        [email] = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "waitlisted")
        ).all()
        assert (
            f"1. {SOON_WHEN}: starts within 24 hours: seats are no longer given from its waitlist"
        ) in email.text_body
        second = email.text_body.split("2. ")[1].split("\n")[0]
        assert "seats are no longer given" not in second and "number 1 in line" in second
        # Its subject names the date it waits for, not the one no seat can come from.
        later_when = db.session.get(TrainingSession, later).when
        assert email.subject == f"You're on the waitlist for {later_when} (Lambda Org)"


def test_the_manage_page_does_not_offer_the_waitlist_of_a_full_date_inside_the_cutoff(
    client, make_session, full_soon, cancel_session
):
    doomed = make_session(starts_in=timedelta(days=3))
    token = manage_token(client.post("/signup", data=signup_form(doomed, **LAMBDA)))
    cancel_session(doomed)
    later = make_session(starts_in=timedelta(days=5), seats=0)

    page = client.get(f"/manage/{token}")
    markup, text = page.get_data(as_text=True), page_text(page)
    assert f'<option value="{later}">' in markup
    assert f'<option value="{full_soon}">' not in markup
    assert f"Not offered: {SOON_WHEN} (full, and it {NO_SEAT_IN_TIME})." in text

    # Sent anyway (a page drawn before the date came inside the cutoff): refused, not joined.
    response = client.post(
        f"/manage/{token}/waitlist",
        data={"first_choice": full_soon, "second_choice": 0, "third_choice": 0},
    )
    assert response.status_code == 409
    assert f"{SOON_WHEN} is full and {NO_SEAT_IN_TIME}." in page_text(response)
    assert "Join the waitlist for a full date" in page_text(client.get(f"/manage/{token}"))


def test_an_organization_whose_date_came_inside_the_cutoff_is_told_so_and_can_wait_for_others(
    client, make_session, monday_morning
):
    session_id = make_session(starts_in=SOON, seats=1)
    later = make_session(starts_in=timedelta(days=5), seats=0)
    # Both signed up the day before, when the date was still outside the cutoff.
    monday_morning.move_to(MONDAY_MORNING - timedelta(hours=6), tick=False)
    client.post("/signup", data=signup_form(session_id, **KAPPA))
    token = manage_token(client.post("/signup", data=signup_form(session_id, **LAMBDA)))
    monday_morning.move_to(MONDAY_MORNING, tick=False)

    confirmation = page_text(client.get(f"/manage/{token}/confirmation"))
    assert confirmation.startswith("Not waiting for any date ·")
    assert "You're on the waitlist" not in confirmation
    assert "join the waitlist for a full date with your manage link below" in confirmation
    text = page_text(client.get(f"/manage/{token}"))
    assert (
        "Status Not waiting for any date: the date you chose starts within 24 hours: seats are "
        "no longer given from its waitlist."
    ) in text
    # The page tells it to join another waitlist below, and the form is there.
    assert "Join the waitlist for a full date" in text
    assert "Leave the waitlist" not in text
    response = client.post(
        f"/manage/{token}/waitlist",
        data={"first_choice": later, "second_choice": 0, "third_choice": 0},
    )
    assert response.status_code == 303
    assert "Status On the waitlist" in page_text(client.get(f"/manage/{token}"))


def kappa_booked_lambda_in_line_inside_the_cutoff(client, make_session, monday_morning):
    """A one-seat session booked by Kappa with Lambda in line, both signed up six hours before
    the clock moves on to ``MONDAY_MORNING``, when the session starts within the cutoff.

    Returns the session's id."""
    session_id = make_session(starts_in=SOON, seats=1)
    monday_morning.move_to(MONDAY_MORNING - timedelta(hours=6), tick=False)
    client.post("/signup", data=signup_form(session_id, **KAPPA))
    client.post("/signup", data=signup_form(session_id, **LAMBDA))
    monday_morning.move_to(MONDAY_MORNING, tick=False)
    return session_id


def test_staff_list_an_organization_waiting_only_inside_the_cutoff_as_waiting_for_no_date(
    client, make_session, monday_morning, sign_in_as
):
    session_id = kappa_booked_lambda_in_line_inside_the_cutoff(client, make_session, monday_morning)
    sign_in_as("staff")
    text = page_text(client.get("/staff/signups?q=Lambda"))
    assert "Lambda Org Not waiting for any date No date left" in text
    # The status filter finds it by the same rule, and "Waitlisted" does not.
    found = page_text(client.get("/staff/signups?status=waiting-for-no-date"))
    assert "Lambda Org" in found
    assert "Lambda Org" not in page_text(client.get("/staff/signups?status=waitlisted"))
    # Its roster says no seat goes from that waitlist by itself, and staff may book by hand.
    assert (
        "This session starts within 24 hours: seats are no longer given from its waitlist "
        "automatically. Book an organization by hand if it could still attend."
    ) in page_text(client.get(f"/staff/sessions/{session_id}"))


def test_staff_counts_show_a_waitlist_inside_the_cutoff_as_closed_not_as_waiting(
    client, make_session, monday_morning, sign_in_as
):
    session_id = kappa_booked_lambda_in_line_inside_the_cutoff(client, make_session, monday_morning)
    sign_in_as("admin")
    closed = "Closed: starts within 24 hours (1 organization in line, to book by hand)"

    # The roster, the sessions list and the dashboard read the one waitlist the same way.
    assert f"Waitlist {closed}" in page_text(client.get(f"/staff/sessions/{session_id}"))
    assert f"1 of 1 full {closed}" in page_text(client.get("/staff/sessions"))
    assert f"1 of 1 (full) {closed}" in page_text(client.get("/staff/"))
    export = client.get(f"/staff/sessions/{session_id}/roster.csv").get_data(as_text=True)
    # Lambda's own place, apart from how many are in line; the same wording as the pages.
    assert f"waitlisted (number 1 in line); waitlist {closed[0].lower()}{closed[1:]}" in export
    assert "to book by hand" in export
    printed = page_text(client.get(f"/staff/sessions/{session_id}/print"))
    assert f"Waitlist, in order: {closed}" in printed


def test_already_signed_up_gives_the_reason_the_manage_page_gives(
    client, make_session, cancel_session
):
    doomed = make_session()
    token = manage_token(
        client.post("/signup", data=signup_form(doomed, organization_name="Alpha Clinic"))
    )
    cancel_session(doomed)
    other = make_session(starts_in=timedelta(days=4))
    # Cyrillic А and С: the same organization.
    response = client.post(
        "/signup",
        data=signup_form(
            other,
            organization_name="\u0410lpha \u0421linic",
            contact_email="someone@alpha.example.org",
        ),
    )
    assert response.status_code == 409
    reason = "our staff cancelled the session"
    assert f"is not waiting for any date now: {reason} it chose." in page_text(response)
    assert "have started" not in page_text(response)
    assert f"Not waiting for any date: {reason} you chose." in page_text(
        client.get(f"/manage/{token}")
    )


@pytest.mark.parametrize(
    ("starts_in", "reason"),
    [
        (
            SOON,
            "the date you chose starts within 24 hours: seats are no longer given from its "
            "waitlist",
        ),
        (-timedelta(minutes=30), "the date you chose has started"),
        (-timedelta(hours=3), "the date you chose has taken place"),
        (timedelta(days=3), None),
    ],
)
def test_the_reason_an_organization_waits_for_no_date_says_precisely_why(
    app, make_session, starts_in, reason
):
    session_id = make_session(starts_in=starts_in, seats=0)
    with app.app_context():
        session = db.session.get(TrainingSession, session_id)
        signup = Signup(
            status="waitlisted",
            organization_name="Lambda Org",
            program=session.program,
            choices=[SignupChoice(rank=1, session=session)],
        )
        assert services.not_waiting_reason(signup, utcnow()) == reason
