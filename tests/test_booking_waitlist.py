"""Full sessions, ranked alternates and the waitlist."""

import re
from datetime import timedelta

from conftest import manage_token, page_text, signup_form
from sqlalchemy import func, select

from training.audit.models import AuditEvent
from training.booking.models import ManageLink, Signup, TrainingSession
from training.extensions import db, utcnow
from training.mail.models import OutboxMessage


def statuses(app) -> dict[str, tuple[str, int | None]]:
    with app.app_context():
        return {
            signup.organization_name: (signup.status, signup.session_id)
            for signup in db.session.scalars(select(Signup))
        }


def test_a_full_first_choice_books_the_next_choice_with_a_seat(app, client, make_session):
    full = make_session(seats=0)
    open_session = make_session(starts_in=timedelta(days=5))
    response = client.post("/signup", data=signup_form(full, second_choice=open_session))
    text = page_text(client.get(response.headers["Location"]))
    assert "You're booked" in text
    assert "Your first choice was full" in text
    assert statuses(app)["Sierra Valley Medical Society"] == ("confirmed", open_session)


def test_a_full_first_choice_leaves_no_trace_of_the_try(app, client, make_session):
    """On PostgreSQL the first choice's seat is claimed by the statement that writes the
    signup: with no seat left it must write nothing, and the next choice books once."""
    full = make_session(seats=1)
    client.post("/signup", data=signup_form(full, organization_name="First Clinic"))
    open_session = make_session(starts_in=timedelta(days=5))
    app.test_client().post(
        "/signup",
        data=signup_form(
            full,
            second_choice=open_session,
            contact_email="cy@coast.example.org",
            attendee_emails="",
        ),
    )
    with app.app_context():
        seats = dict(
            db.session.execute(select(TrainingSession.id, TrainingSession.seats_booked)).all()
        )
        created = db.session.execute(
            select(AuditEvent.organization_name, AuditEvent.session_id).where(
                AuditEvent.action == "signup.created"
            )
        ).all()
        links = db.session.scalar(select(func.count()).select_from(ManageLink))
    assert seats == {full: 1, open_session: 1}
    assert sorted(created) == [
        ("First Clinic", full),
        ("Sierra Valley Medical Society", open_session),
    ]
    assert links == 2
    assert statuses(app)["Sierra Valley Medical Society"] == ("confirmed", open_session)


def test_when_every_choice_is_full_the_organization_joins_the_waitlist(app, client, make_session):
    first = make_session(seats=0)
    second = make_session(seats=0, starts_in=timedelta(days=5))
    response = client.post("/signup", data=signup_form(first, second_choice=second))
    text = page_text(client.get(response.headers["Location"]))
    assert "You're on the waitlist" in text
    assert "First choice" in text and "number 1 in line" in text
    assert statuses(app)["Sierra Valley Medical Society"] == ("waitlisted", None)
    with app.app_context():
        assert db.session.scalars(select(OutboxMessage.kind)).all() == ["waitlisted"]


def test_without_the_waitlist_box_a_full_session_is_refused_and_the_form_kept(
    app, client, make_session
):
    full = make_session(seats=0)
    response = client.post("/signup", data=signup_form(full, join_waitlist=None))
    assert response.status_code == 409
    text = page_text(response)
    assert "is full: choose another date, or tick the waitlist box to wait for a seat." in text
    assert 'value="Sierra Valley Medical Society"' in response.get_data(as_text=True)
    assert statuses(app) == {}


def test_a_freed_seat_goes_to_the_first_organization_in_line(app, client, make_session):
    session_id = make_session(seats=1)
    holder = manage_token(client.post("/signup", data=signup_form(session_id)))
    for name in ("First In Line Clinic", "Second In Line Clinic"):
        client.post("/signup", data=signup_form(session_id, organization_name=name))
    assert statuses(app)["First In Line Clinic"] == ("waitlisted", None)

    client.post(f"/manage/{holder}/cancel", data={"confirm": "y"})

    result = statuses(app)
    assert result["First In Line Clinic"] == ("confirmed", session_id)
    assert result["Second In Line Clinic"] == ("waitlisted", None)
    with app.app_context():
        assert db.session.get(TrainingSession, session_id).seats_booked == 1
        promoted = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.subject.startswith("A seat opened up"))
        ).one()
        assert "https://training.example.org/manage/" in promoted.text_body


def test_a_seat_freed_by_a_move_is_promoted_from_alternates_too(app, client, make_session):
    popular = make_session(seats=1)
    quiet = make_session(starts_in=timedelta(days=6))
    holder = manage_token(client.post("/signup", data=signup_form(popular)))
    other_full = make_session(seats=0, starts_in=timedelta(days=8))
    client.post(
        "/signup",
        data=signup_form(other_full, second_choice=popular, organization_name="Alternate Clinic"),
    )

    client.post(f"/manage/{holder}/date", data={"session_id": quiet})

    result = statuses(app)
    assert result["Sierra Valley Medical Society"] == ("confirmed", quiet)
    assert result["Alternate Clinic"] == ("confirmed", popular)


def test_a_waitlisted_organization_can_take_a_date_with_free_seats(app, client, make_session):
    full = make_session(seats=0)
    token = manage_token(client.post("/signup", data=signup_form(full)))
    opened = make_session(starts_in=timedelta(days=6))
    text = page_text(client.get(f"/manage/{token}"))
    assert "Book a date with free seats" in text
    client.post(f"/manage/{token}/date", data={"session_id": opened})
    assert statuses(app)["Sierra Valley Medical Society"] == ("confirmed", opened)


def test_the_second_and_third_choices_must_differ(client, make_session):
    first = make_session()
    second = make_session(starts_in=timedelta(days=4))
    response = client.post(
        "/signup", data=signup_form(first, second_choice=first, third_choice=second)
    )
    text = page_text(response)
    assert (
        "Your second choice is the same date as your first. Pick a different date, "
        "or “No other choice”."
    ) in text
    response = client.post("/signup", data=signup_form(first, third_choice=second))
    assert "Choose a second choice before a third." in page_text(response)


def test_a_repeated_choice_is_refused_with_what_to_do_and_everything_typed_kept(
    app, client, make_session
):
    first = make_session()
    second = make_session(starts_in=timedelta(days=4))
    response = client.post(
        "/signup",
        data=signup_form(first, second_choice=second, third_choice=first, provider_id="0012345"),
    )
    assert response.status_code == 200
    text = page_text(response)
    assert "Please correct the problem below." in text
    assert (
        "Your third choice repeats a date chosen above. Pick a different date, "
        "or “No other choice”."
    ) in text
    markup = response.get_data(as_text=True)
    for typed in (
        'value="Sierra Valley Medical Society"',
        'value="0012345"',
        'value="Ana Reyes"',
        'value="ana.reyes@sierravalley.example.org"',
        'value="(916) 555-0100"',
        "lee@sierravalley.example.org\nkim@sierravalley.example.org</textarea>",
    ):
        assert typed in markup
    for name, session_id in (("first", first), ("second", second), ("third", first)):
        chosen = re.search(
            rf'<select[^>]*name="{name}_choice".*?</select>', markup, flags=re.S
        ).group(0)
        assert re.search(rf'<option selected value="{session_id}"', chosen), name
    assert statuses(app) == {}


def test_the_invite_of_a_waitlist_place_says_there_is_none_until_a_date_is_booked(
    client, make_session
):
    full = make_session(seats=0)
    token = manage_token(client.post("/signup", data=signup_form(full)))

    response = client.get(f"/manage/{token}/invite.ics")

    assert response.status_code == 404
    text = page_text(response)
    assert "No calendar invite yet" in text
    assert "is on the waitlist and has no date yet" in text
    assert "Page not found" not in text
    assert f'href="/manage/{token}"' in response.get_data(as_text=True)


def test_the_invite_after_staff_cancel_the_session_says_there_is_no_date(app, client, make_session):
    from training.rosters.services import cancel_session

    session_id = make_session()
    token = manage_token(client.post("/signup", data=signup_form(session_id)))
    with app.app_context():
        cancel_session(
            db.session.get(TrainingSession, session_id),
            "Facilitator ill.",
            now=utcnow(),
            actor=None,
        )
        db.session.commit()

    response = client.get(f"/manage/{token}/invite.ics")

    assert response.status_code == 404
    # Where it stands in its manage page's words: it waits for no date, not "no date yet".
    assert (
        "is not waiting for any date: our staff cancelled the session you chose, so there is no "
        "calendar invite"
    ) in page_text(response)


def outbox_text(app, subject_start: str) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(OutboxMessage.text_body)
                .where(OutboxMessage.subject.startswith(subject_start))
                .order_by(OutboxMessage.id)
            )
        )


def outbox_html(app, subject_start: str) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(OutboxMessage.html_body)
                .where(OutboxMessage.subject.startswith(subject_start))
                .order_by(OutboxMessage.id)
            )
        )


def when(app, session_id: int) -> str:
    with app.app_context():
        return db.session.get(TrainingSession, session_id).when


def test_the_waitlist_email_gives_the_place_in_line_on_each_date(app, client, make_session):
    full = make_session(seats=0)
    other_full = make_session(seats=0, starts_in=timedelta(days=6))
    client.post("/signup", data=signup_form(full, organization_name="Ahead Clinic"))
    client.post(
        "/signup",
        data=signup_form(full, second_choice=other_full, organization_name="Behind Clinic"),
    )

    [ahead, behind] = outbox_text(app, "You're on the waitlist")
    assert f"  1. {when(app, full)}: number 1 in line\n" in ahead
    assert f"  1. {when(app, full)}: number 2 in line\n" in behind
    assert f"  2. {when(app, other_full)}: number 1 in line\n" in behind
    html = outbox_html(app, "You're on the waitlist")[1]
    assert f"<li>{when(app, full)}: number 2 in line</li>" in html


def test_a_seat_on_a_lower_choice_says_it_no_longer_waits_for_the_better_ranked_date(
    app, client, make_session
):
    full = make_session(seats=0)
    later = make_session(seats=1, starts_in=timedelta(days=6))
    holder = manage_token(client.post("/signup", data=signup_form(later)))
    client.post(
        "/signup",
        data=signup_form(full, second_choice=later, organization_name="Waiting Clinic"),
    )

    client.post(f"/manage/{holder}/cancel", data={"confirm": "y"})

    assert statuses(app)["Waiting Clinic"] == ("confirmed", later)
    [text] = outbox_text(app, "A seat opened up")
    [html] = outbox_html(app, "A seat opened up")
    said = f"You are no longer on the waitlist for {when(app, full)}"
    assert said in text and said in html


def test_booking_a_free_date_from_the_waitlist_says_it_no_longer_waits_for_its_dates(
    app, client, make_session
):
    full = make_session(seats=0)
    token = manage_token(client.post("/signup", data=signup_form(full)))
    opened = make_session(starts_in=timedelta(days=6))

    client.post(f"/manage/{token}/date", data={"session_id": opened})

    [text] = outbox_text(app, "You're booked")
    assert f"You are no longer on the waitlist for {when(app, full)}" in text


def test_a_booking_on_the_next_choice_says_in_its_email_that_the_first_was_full(
    app, client, make_session
):
    full = make_session(seats=0)
    alternate = make_session(starts_in=timedelta(days=4))
    client.post("/signup", data=signup_form(full, second_choice=alternate))
    client.post("/signup", data=signup_form(alternate, organization_name="Direct Clinic"))

    [next_choice, first_choice] = outbox_text(app, "You're booked")
    [next_html, first_html] = outbox_html(app, "You're booked")
    said = "Your first choice was full, so we booked your next choice with a seat."
    assert said in next_choice and said in next_html
    assert said not in first_choice and said not in first_html
