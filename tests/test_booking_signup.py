"""Signing up on the web form: the home page, the form's rules, one date per organization."""

import html
import re
from datetime import date, timedelta

import pytest
from conftest import manage_token, page_text, signup_form
from sqlalchemy import func, select

from training.booking.models import ManageLink, Program, Signup, TrainingSession
from training.extensions import db, utcnow
from training.mail.models import OutboxMessage

pytestmark = pytest.mark.clock


def signups(app) -> list[Signup]:
    with app.app_context():
        rows = db.session.scalars(select(Signup).order_by(Signup.id)).all()
        for row in rows:
            _ = (row.session, row.attendees, row.choices)
        db.session.expunge_all()
        return rows


def test_home_page_explains_the_training_and_lists_sessions_with_seats_left(client, make_session):
    make_session(seats=8)
    text = page_text(client.get("/"))
    assert "Bring your own learner data" in text
    assert "uploads them in batches while our staff guide you live" in text
    assert "One date per organization" in text
    assert "learner's permission" in text
    assert "8 of 8" in text
    assert "AM PT" in text or "PM PT" in text


def test_past_full_and_cancelled_sessions_are_marked_not_hidden(client, make_session):
    make_session(starts_in=-timedelta(days=1))
    make_session(seats=0)
    make_session(status="cancelled")
    text = page_text(client.get("/"))
    assert "Past" in text
    assert "Full" in text
    assert "Join the waitlist" in text
    assert "Cancelled" in text


def test_signup_books_the_session_and_shows_the_confirmation(app, client, make_session):
    session_id = make_session()
    response = client.post("/signup", data=signup_form(session_id))
    assert response.status_code == 303
    token = manage_token(response)

    page = client.get(response.headers["Location"])
    text = page_text(page)
    assert "You're booked" in text
    assert "Sierra Valley Medical Society is booked for" in text
    assert " PT" in text
    # The link to keep is built from PUBLIC_URL, never from the request's Host header.
    assert f"https://training.example.org/manage/{token}" in text
    assert "Add to your calendar (.ics)" in text
    assert "We will email the meeting link before the session." in text

    [signup] = signups(app)
    assert signup.status == "confirmed"
    assert signup.session_id == session_id
    assert [a.email for a in signup.attendees] == [
        "lee@sierravalley.example.org",
        "kim@sierravalley.example.org",
    ]
    with app.app_context():
        assert db.session.get(TrainingSession, session_id).seats_left == 7


def test_confirmation_shows_the_meeting_link_once_staff_have_set_it(client, make_session):
    session_id = make_session(meeting_url="https://meet.example.org/cma-training")
    response = client.post("/signup", data=signup_form(session_id))
    text = page_text(client.get(response.headers["Location"]))
    assert "https://meet.example.org/cma-training" in text


def test_confirmation_offers_an_invite_download(client, make_session):
    session_id = make_session()
    token = manage_token(client.post("/signup", data=signup_form(session_id)))
    invite = client.get(f"/manage/{token}/invite.ics")
    assert invite.status_code == 200
    assert invite.mimetype == "text/calendar"
    body = invite.get_data(as_text=True)
    assert "METHOD:REQUEST" in body
    assert "SUMMARY:Learner Credit Reporting Training: training session" in body


def test_signup_form_shows_the_attestation_sentence_in_full(client, make_session):
    from conftest import ATTESTATION

    session_id = make_session()
    assert ATTESTATION in page_text(client.get(f"/signup?session={session_id}"))


def test_signup_form_preselects_the_session_chosen_on_the_home_page(client, make_session):
    make_session()
    chosen = make_session(starts_in=timedelta(days=5))
    html = client.get(f"/signup?session={chosen}").get_data(as_text=True)
    assert f'<option selected value="{chosen}">' in html


def test_each_missing_field_gets_its_own_message_and_nothing_is_booked(app, client, make_session):
    session_id = make_session()
    response = client.post(
        "/signup",
        data=signup_form(
            session_id,
            organization_name="",
            contact_name="",
            contact_email="",
            attest=None,
            first_choice=0,
        ),
    )
    assert response.status_code == 200
    text = page_text(response)
    assert "Enter your organization's name." in text
    assert "Enter the name of the person we should contact." in text
    assert "Enter the email address of the person we should contact." in text
    assert "Choose the date you would like to attend." in text
    assert "Please confirm that your organization has or will collect" in text
    assert signups(app) == []


def test_an_address_at_a_domain_in_any_script_is_accepted(app, client, make_session):
    response = client.post(
        "/signup",
        data=signup_form(
            make_session(),
            contact_email="ana@bücher.example",
            attendee_emails="lee@例え.jp",
        ),
    )
    assert response.status_code == 303, page_text(response)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("provider_id", "12345", "An ACCME provider ID is 7 digits"),
        ("provider_id", "12345678", "An ACCME provider ID is 7 digits"),
        ("provider_id", "abcdefg", "An ACCME provider ID is 7 digits"),
        (
            "contact_email",
            "ana at example",
            "“ana at example” is not an email address: enter one like",
        ),
        ("contact_phone", "call me maybe", "Use digits, spaces and + ( ) - . only"),
        ("contact_phone", "555", "This phone number looks too short."),
        ("organization_name", "x" * 201, "200 characters or fewer"),
        ("contact_name", "y" * 121, "120 characters or fewer"),
        ("organization_name", "!!! ???", "using letters or numbers"),
        ("attendee_emails", "a@x.org\nnot-an-email", "“not-an-email” is not an email address"),
        (
            "contact_email",
            "b" * 70 + "@" + "c" * 30,
            "“" + "b" * 70 + "@" + "c" * 8 + "…” is not an email address",
        ),
        ("contact_email", "josé@clinic.example", "letters outside A–Z before the @"),
        ("attendee_emails", "a@x.org\nJörg@x.example", "“Jörg@x.example” has letters outside A–Z"),
        (
            "attendee_emails",
            "\n".join(f"p{n}@x.org" for n in range(6)),
            "List up to 5 attendees; you listed 6.",
        ),
    ],
)
def test_bad_values_are_refused_with_a_message_that_says_what_to_fix(
    app, client, make_session, field, value, message
):
    session_id = make_session()
    response = client.post("/signup", data=signup_form(session_id, **{field: value}))
    assert response.status_code == 200
    assert message in page_text(response)
    assert signups(app) == []


def test_the_list_of_problems_follows_the_order_of_the_page(client, make_session):
    session_id = make_session()
    response = client.post(
        "/signup", data=signup_form(session_id, organization_name="", contact_email="bad")
    )
    text = page_text(response)
    assert text.index("Organization name: Enter") < text.index("Contact email: “bad” is not")


def test_typed_values_are_kept_when_the_form_is_shown_again(client, make_session):
    session_id = make_session()
    response = client.post(
        "/signup", data=signup_form(session_id, contact_email="bad", contact_name="Dana Ortiz")
    )
    html = response.get_data(as_text=True)
    assert 'value="Dana Ortiz"' in html
    assert 'value="Sierra Valley Medical Society"' in html


def test_provider_id_is_stored_as_seven_digits(app, client, make_session):
    session_id = make_session()
    client.post("/signup", data=signup_form(session_id, provider_id="001-2345"))
    [signup] = signups(app)
    assert signup.provider_id == "0012345"


def test_html_and_odd_unicode_in_names_are_shown_as_text(app, client, make_session):
    session_id = make_session()
    name = '<script>alert("x")</script> Clínica 🩺 مركز\u202e & Co'
    response = client.post(
        "/signup", data=signup_form(session_id, organization_name=name, contact_name="Zoë\u0301")
    )
    page = client.get(response.headers["Location"])
    html = page.get_data(as_text=True)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Clínica 🩺" in html
    [signup] = signups(app)
    assert signup.organization_name == name.replace("\u202e", "")  # no override kept


def test_newlines_in_a_name_are_folded_to_one_line(app, client, make_session):
    session_id = make_session()
    client.post("/signup", data=signup_form(session_id, organization_name="North\r\nCoast\tHealth"))
    [signup] = signups(app)
    assert signup.organization_name == "North Coast Health"


def test_huge_values_get_a_message_not_an_error(client, make_session):
    """Huge, but within what a form may be (a larger one: tests/test_app_body_limits.py)."""
    session_id = make_session()
    response = client.post(
        "/signup",
        data=signup_form(
            session_id,
            organization_name="Ω" * 20_000,
            attendee_emails=" ".join(f"a{number}@x.org" for number in range(20_000)),
        ),
    )
    assert response.status_code == 200
    text = page_text(response)
    assert "200 characters or fewer" in text
    assert "List up to 5 attendees" in text


@pytest.mark.parametrize("name", ["a&" * 100, "\ufb03" * 200], ids=["ampersands", "ligatures"])
def test_a_long_name_whose_key_would_outgrow_its_column_books(app, client, make_session, name):
    """200 characters the form allows, whose key reads longer ("&" as "and", a ligature as its
    letters): booked, not a database error on PostgreSQL; the same name again is refused."""
    session_id = make_session()
    response = client.post("/signup", data=signup_form(session_id, organization_name=name))
    assert response.status_code == 303
    [signup] = signups(app)
    assert signup.organization_name == name
    assert len(signup.organization_key) == 200
    again = app.test_client().post(
        "/signup",
        data=signup_form(session_id, organization_name=name, contact_email="b@example.org"),
    )
    assert again.status_code == 409


@pytest.mark.parametrize(
    "look_alike",
    [
        "\u0405ierra Valley Medical Society",  # Cyrillic Ѕ
        "Sierra Valley Medical Societ\u0443",  # Cyrillic у
        "S\u0131erra Valley Medical Society",  # dotless ı
    ],
)
def test_a_look_alike_name_does_not_book_a_second_seat(app, client, make_session, look_alike):
    first = make_session()
    other = make_session(starts_in=timedelta(days=6))
    client.post("/signup", data=signup_form(first))
    response = client.post(
        "/signup",
        data=signup_form(
            other,
            organization_name=look_alike,
            contact_name="Someone Else",
            contact_email="someone@else.example.org",
        ),
    )
    assert response.status_code == 409
    assert "already holds a place on" in page_text(response)
    assert len(signups(app)) == 1


def test_a_tampered_session_choice_is_refused_politely(app, client, make_session):
    make_session()
    response = client.post("/signup", data=signup_form(99999))
    assert response.status_code == 200
    assert "Your date: Not a valid choice." in page_text(response)
    assert signups(app) == []


def test_second_signup_for_the_same_organization_is_refused_and_told_its_date(
    app, client, make_session
):
    first = make_session()
    other = make_session(starts_in=timedelta(days=6))
    client.post("/signup", data=signup_form(first))
    response = client.post(
        "/signup",
        data=signup_form(
            other,
            organization_name="SIERRA VALLEY MEDICAL SOCIETY, INC.",
            contact_name="Someone Else",
            contact_email="someone@else.example.org",
        ),
    )
    assert response.status_code == 409
    text = page_text(response)
    assert "already holds a place on" in text
    assert "Each organization may book one date only." in text
    assert "Email the manage link to our contact on file" in text
    # The page never reveals who the contact on file is.
    assert "Ana Reyes" not in text
    assert "ana.reyes@sierravalley.example.org" not in text
    assert len(signups(app)) == 1


def test_same_provider_id_under_another_name_is_refused_without_naming_who_holds_it(
    app, client, make_session
):
    session_id = make_session()
    client.post("/signup", data=signup_form(session_id, provider_id="0012345"))
    response = client.post(
        "/signup",
        data=signup_form(session_id, organization_name="SVMS Education", provider_id="001 2345"),
    )
    assert response.status_code == 409
    text = page_text(response)
    assert "This ACCME provider ID has already signed up" in text
    assert "An organization has already signed up with ACCME provider ID 0012345." in text
    assert "we can send it again to the contact on file for that signup" in text
    ref = re.search(r'name="signup_ref" type="hidden" value="([^"]+)"', response.text).group(1)
    sent = page_text(
        client.post("/signup/resend-link", data={"signup_ref": ref}, follow_redirects=True)
    )
    assert "We have emailed the manage link to the contact we have on file for that signup." in sent
    assert "Sierra Valley" not in sent
    # Someone typing seven digits learns neither who holds them nor when.
    assert "Sierra Valley" not in text
    with app.app_context():
        when = db.session.get(TrainingSession, session_id).when
    assert when not in text
    assert len(signups(app)) == 1


def test_resending_the_manage_link_emails_the_contact_on_file_only(app, client, make_session):
    session_id = make_session()
    client.post("/signup", data=signup_form(session_id))
    refused = client.post(
        "/signup", data=signup_form(session_id, contact_email="intruder@example.org")
    )
    signup_ref = (
        refused.get_data(as_text=True).split('name="signup_ref" type="hidden" value="')[1]
    ).split('"')[0]
    response = client.post("/signup/resend-link", data={"signup_ref": signup_ref})
    assert response.status_code == 303
    assert "We have emailed the manage link" in page_text(client.get("/"))
    with app.app_context():
        message = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "manage_link")
        ).one()
        assert message.recipients == ["ana.reyes@sierravalley.example.org"]
        assert "https://training.example.org/manage/" in message.text_body


def test_asking_again_within_ten_minutes_says_the_link_was_not_sent_again(
    frozen_clock, app, client, make_session
):
    session_id = make_session()
    client.post("/signup", data=signup_form(session_id))
    refused = app.test_client().post(
        "/signup", data=signup_form(session_id, contact_email="colleague@example.org")
    )

    def ask() -> str:
        ref = re.search(r'name="signup_ref" type="hidden" value="([^"]+)"', refused.text).group(1)
        return page_text(
            client.post("/signup/resend-link", data={"signup_ref": ref}, follow_redirects=True)
        )

    assert "We have emailed the manage link to the contact we have on file" in ask()
    frozen_clock.shift(timedelta(minutes=9))
    again = ask()
    assert "We have emailed" not in again
    assert (
        "We emailed the manage link to the contact we have on file for that signup less than "
        "10 minutes ago, so we have not sent it again" in again
    )
    frozen_clock.shift(timedelta(minutes=2))
    assert "We have emailed the manage link to the contact we have on file" in ask()
    with app.app_context():
        sent = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "manage_link"))
        assert len(sent.all()) == 2


def test_a_forged_resend_request_is_refused(client, make_session):
    response = client.post("/signup/resend-link", data={"signup_ref": "1"})
    assert response.status_code == 303
    assert "That offer has expired" in page_text(client.get(response.headers["Location"]))


def test_a_signup_posted_five_times_books_once_and_shows_one_manage_link(app, client, make_session):
    session_id = make_session()
    form = signup_form(session_id)
    answers = [client.post("/signup", data=form) for _ in range(5)]
    assert {answer.status_code for answer in answers} == {303}
    assert len({answer.headers["Location"] for answer in answers}) == 1
    assert "You're booked" in page_text(client.get(answers[-1].headers["Location"]))
    assert len(signups(app)) == 1
    with app.app_context():
        assert db.session.get(TrainingSession, session_id).seats_booked == 1
        assert db.session.scalar(select(func.count(ManageLink.id))) == 1
        assert db.session.scalar(select(func.count(OutboxMessage.id))) == 1


def test_a_signup_sent_five_times_at_once_leads_every_answer_to_the_same_confirmation(
    app, client, make_session
):
    """Sent at once, the repeats carry the cookie from before the first answer noted the
    signup in it; each still lands on the booking's confirmation with its first link."""
    session_id = make_session()
    client.get("/signup")  # the browser's nonce, as the page sets it
    cookie_before = client.get_cookie("session").value
    form = signup_form(session_id)
    first = client.post("/signup", data=form)
    repeats = []
    for _ in range(4):
        client.set_cookie("session", cookie_before)
        repeats.append(client.post("/signup", data=form))

    assert {answer.headers["Location"] for answer in repeats} == {first.headers["Location"]}
    assert "You're booked" in page_text(client.get(repeats[-1].headers["Location"]))
    assert len(signups(app)) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count(ManageLink.id))) == 1


def test_a_signup_sent_again_after_back_shows_its_confirmation_and_makes_no_new_link(
    app, client, make_session
):
    """Signup pages are not cached, so Back redraws the form with a new one-time key."""
    session_id = make_session()
    first = client.post("/signup", data=signup_form(session_id, submission_key=f"{'a' * 32}"))
    again = client.post("/signup", data=signup_form(session_id, submission_key=f"{'b' * 32}"))

    assert again.status_code == 303
    assert again.headers["Location"] == first.headers["Location"]
    assert "You're booked" in page_text(client.get(again.headers["Location"]))
    assert len(signups(app)) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count(ManageLink.id))) == 1
        assert db.session.scalar(select(func.count(OutboxMessage.id))) == 1


def test_an_edited_signup_from_the_same_browser_is_a_second_place_and_refused(
    app, client, make_session
):
    session_id = make_session()
    client.post("/signup", data=signup_form(session_id))
    edited = client.post("/signup", data=signup_form(session_id, contact_name="Dana Ortiz"))

    assert edited.status_code == 409
    assert "already holds a place on" in page_text(edited)
    assert len(signups(app)) == 1


def test_a_replayed_key_with_another_organizations_form_never_shows_the_first_booking(
    app, client, make_session
):
    first_date, other_date = make_session(), make_session(starts_in=timedelta(days=6))
    key = "c" * 32
    client.post("/signup", data=signup_form(first_date, submission_key=key))
    replay = app.test_client().post(
        "/signup",
        data=signup_form(
            other_date,
            organization_name="Coast Range Hospital",
            contact_name="Cy Okafor",
            contact_email="cy@coast.example.org",
            attendee_emails="",
            submission_key=key,
        ),
    )

    assert replay.status_code == 303  # a submission of its own
    with app.test_client() as browser:
        text = page_text(browser.get(replay.headers["Location"]))
    assert "Coast Range Hospital" in text
    assert "Sierra Valley" not in text
    assert sorted(signup.organization_name for signup in signups(app)) == [
        "Coast Range Hospital",
        "Sierra Valley Medical Society",
    ]


def test_the_same_signup_from_another_browser_gets_no_manage_link(app, client, make_session):
    form = signup_form(make_session())
    first = client.post("/signup", data=form)
    other_browser = app.test_client()
    elsewhere = other_browser.post("/signup", data=form)
    assert "/manage/" in first.headers["Location"]
    assert elsewhere.headers["Location"] == "/"
    assert "We already have this signup" in page_text(other_browser.get("/"))
    with app.app_context():
        assert db.session.scalar(select(func.count(ManageLink.id))) == 1


def test_a_form_without_its_one_time_key_is_refused_as_out_of_date(app, client, make_session):
    response = client.post("/signup", data=signup_form(make_session(), submission_key=""))
    assert response.status_code == 400
    assert "This form is out of date" in page_text(response)
    assert signups(app) == []


def test_a_cancelled_organization_may_sign_up_again(app, client, make_session):
    session_id = make_session()
    token = manage_token(client.post("/signup", data=signup_form(session_id)))
    client.post(f"/manage/{token}/cancel", data={"confirm": "y"})
    again = client.post("/signup", data=signup_form(session_id))
    assert again.status_code == 303
    assert [s.status for s in signups(app)] == ["cancelled", "confirmed"]


def test_the_cancellation_email_writes_partners_not_partnerss(app, client, make_session):
    session_id = make_session()
    form = signup_form(session_id, organization_name="Coastal Health Partners")
    token = manage_token(client.post("/signup", data=form))
    client.post(f"/manage/{token}/cancel", data={"confirm": "y"})
    with app.app_context():
        cancelled = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "cancelled")
        ).one()
        assert cancelled.subject.startswith("Cancelled: your booking for ")
        assert cancelled.subject.endswith(" (Coastal Health Partners)")
        assert "Coastal Health Partners' booking for" in cancelled.text_body
        shown = html.unescape(cancelled.html_body)
        assert "Coastal Health Partners'</strong> booking for" in shown
        assert "Partners's" not in cancelled.subject + cancelled.text_body + shown


@pytest.mark.parametrize(
    ("opens_in", "closes_in", "message"),
    [
        (timedelta(days=2), timedelta(days=9), "have not opened yet"),
        (-timedelta(days=9), -timedelta(hours=1), "are closed"),
    ],
)
def test_signups_outside_the_programs_dates_are_not_taken(
    app, client, make_program, opens_in, closes_in, message
):
    now = utcnow()
    program_id = make_program(signup_opens_at=now + opens_in, signup_closes_at=now + closes_in)
    with app.app_context():
        session = TrainingSession(
            program_id=program_id,
            starts_at=now + timedelta(days=3),
            ends_at=now + timedelta(days=3, hours=1),
            seats=8,
        )
        db.session.add(session)
        db.session.commit()
        session_id = session.id
    assert "Sign up" not in page_text(client.get("/")).replace("Sign up for a", "")
    form_page = page_text(client.get("/signup"))
    assert "open" in form_page or "closed" in form_page
    response = client.post("/signup", data=signup_form(session_id))
    assert response.status_code == 200
    assert signups(app) == []
    with app.app_context():
        assert db.session.scalar(select(func.count(Signup.id))) == 0
    if message == "are closed":
        assert "Signups for Learner Credit Reporting Training are closed." in page_text(response)


def test_signup_writes_the_confirmation_email_to_the_outbox(app, client, make_session):
    session_id = make_session()
    client.post("/signup", data=signup_form(session_id))
    with app.app_context():
        message = db.session.scalars(select(OutboxMessage)).one()
        assert message.kind == "booking_confirmed"
        assert message.recipients == [
            "ana.reyes@sierravalley.example.org",
            "lee@sierravalley.example.org",
            "kim@sierravalley.example.org",
        ]
        assert message.subject.startswith("You're booked: ")
        assert "https://training.example.org/manage/" in message.text_body


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("organization_name", "Acme\x00 Health"),
        ("contact_name", "Ana\x00 Reyes\x1b"),
        ("contact_email", "ana\x00@x.org"),
        ("provider_id", "\x00"),
        ("attendee_emails", "a@x.org\x00"),
        ("first_choice", "not-a-number"),
        ("second_choice", "1e9"),
        ("submission_key", "\x00" * 30),
    ],
)
def test_control_characters_and_junk_never_cause_a_server_error(client, make_session, field, value):
    session_id = make_session()
    response = client.post("/signup", data=signup_form(session_id, **{field: value}))
    assert response.status_code in (200, 303, 400)
    if response.status_code == 200:
        assert "Please correct the" in page_text(response)
    if response.status_code == 400:
        assert "This form is out of date" in page_text(response)


def test_control_characters_are_removed_from_names(app, client, make_session):
    session_id = make_session()
    client.post("/signup", data=signup_form(session_id, organization_name="Acme\x00 Health\x07"))
    [signup] = signups(app)
    assert signup.organization_name == "Acme Health"


def test_invisible_characters_are_removed_from_names_and_joiners_kept(app, client, make_session):
    session_id = make_session()
    client.post(
        "/signup",
        data=signup_form(
            session_id,
            organization_name="Acme\u200b Health\u00ad Partners\ufeff",
            contact_name="Mina Ra\u200chimi",  # a Persian spelling keeps its non-joiner
        ),
    )
    [signup] = signups(app)
    assert signup.organization_name == "Acme Health Partners"
    assert signup.contact_name == "Mina Ra\u200chimi"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("contact_name", "\u200b", "Enter the name of the person we should contact."),
        ("contact_name", "\u0301\u0301", "Enter the contact's name using letters."),
        ("contact_name", "-- .", "Enter the contact's name using letters."),
        ("organization_name", "\u200b\u200b", "Enter your organization's name."),
    ],
)
def test_a_name_with_nothing_to_read_is_refused(app, client, make_session, field, value, message):
    response = client.post("/signup", data=signup_form(make_session(), **{field: value}))
    assert response.status_code == 200
    assert message in page_text(response)
    assert signups(app) == []


def test_home_page_lists_open_sessions_first_and_past_ones_behind_a_control(client, make_session):
    for days in (-9, -8, -7, -6, -5):
        make_session(starts_in=timedelta(days=days))
    make_session(starts_in=timedelta(days=2))
    page = client.get("/").get_data(as_text=True)
    upcoming, _, past = page.partition('<details class="past-sessions">')
    assert upcoming.count("<tr class=") == 1
    assert "Sign up" in upcoming and "Past" not in upcoming
    assert "Show past sessions (5)" in past
    assert past.count('<span class="badge">Past</span>') == 5


def test_home_page_tells_about_the_practice_sandbox_and_both_challenges(
    app, client, make_session, program_id
):
    make_session()
    with app.app_context():
        program = db.session.get(Program, program_id)
        program.accme_challenge_due_on = date(2026, 12, 4)
        program.cma_challenge_due_on = date(2027, 3, 31)
        db.session.commit()
    text = page_text(client.get("/"))
    assert "Practise in your own sandbox first." in text
    assert (
        "The ACCME Challenge asks for learners entered in PARS for 2 different activities by "
        "Friday, December 4, 2026 and the CMA Challenge asks for learners entered in PARS for "
        "4 different activities by Wednesday, March 31, 2027."
    ) in text


def test_the_confirmation_page_and_email_tell_about_the_sandbox_and_the_challenges(
    app, client, make_session, program_id
):
    with app.app_context():
        program = db.session.get(Program, program_id)
        program.accme_challenge_due_on = date(2026, 12, 4)
        program.cma_challenge_due_on = date(2027, 3, 31)
        db.session.commit()
    response = client.post("/signup", data=signup_form(make_session()))
    token = manage_token(response)
    page = page_text(client.get(response.headers["Location"]))
    assert "Practise in your own sandbox first." in page
    assert "The ACCME Challenge asks for learners entered in PARS for 2 different" in page
    with app.app_context():
        email = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "booking_confirmed")
        ).one()
    text = email.text_body
    assert f"https://training.example.org/manage/{token}/sandbox" in text
    assert f"https://training.example.org/manage/{token}/challenges" in text
    assert (
        "the ACCME Challenge asks for learners entered in PARS for 2 different activities by "
        "Friday, December 4, 2026 and the CMA Challenge asks for learners entered in PARS for 4 "
        "different activities by Wednesday, March 31, 2027."
    ) in " ".join(text.split())
    assert f'href="https://training.example.org/manage/{token}/sandbox"' in email.html_body


def test_the_same_attendee_typed_many_times_counts_once(app, client, make_session):
    repeated = "\n".join(["Kim@Sierravalley.example.org", "kim@sierravalley.example.org"] * 4)
    response = client.post("/signup", data=signup_form(make_session(), attendee_emails=repeated))
    assert response.status_code == 303, page_text(response)
    with app.app_context():
        [signup] = signups(app)
        # Kept as first typed (its case too), compared without case.
        assert [attendee.email for attendee in signup.attendees] == ["Kim@Sierravalley.example.org"]


def test_a_second_signup_of_an_organization_waiting_for_no_date_is_told_so(
    app, client, make_session, time_machine
):
    time_machine.move_to(utcnow(), tick=False)
    full = make_session(starts_in=timedelta(hours=26), seats=1)  # past the change cutoff
    later = make_session(starts_in=timedelta(days=6))
    app.test_client().post(
        "/signup",
        data=signup_form(full, organization_name="Coast Range Hospital", contact_email="c@x.org"),
    )
    client.post("/signup", data=signup_form(full))  # waitlisted for its one date
    again = signup_form(later, contact_email="someone@else.example.org")

    waiting = page_text(client.post("/signup", data=again))
    assert "Your organization is already on the waitlist for" in waiting
    assert (
        "To book a date with a free seat, update who is attending, or leave the waitlist, use "
        "the manage link in the confirmation email."
    ) in waiting
    assert "To change the date" not in waiting

    time_machine.move_to(utcnow() + timedelta(hours=27), tick=False)  # its date has started
    response = client.post("/signup", data={**again, "submission_key": "b" * 32})
    assert response.status_code == 409
    text = page_text(response)
    assert "already on the waitlist" not in text
    assert (
        "Your organization has already signed up, and is not waiting for any date now: the "
        "date it chose has started." in text
    )
    # What it can do, and where, said once.
    assert (
        "To book a date that still has seats, join the waitlist of a full date, or cancel your "
        "signup, use the manage link in the confirmation email."
    ) in text
    assert text.count("use the manage link") == 1
