"""Searching all signups by organization, person or email, with a status filter."""

import uuid

import pytest
from conftest import ATTESTATION, page_text, signup_form

from training.booking.models import Signup
from training.extensions import db, utcnow


@pytest.fixture
def three_signups(client, make_session):
    session_id = make_session(seats=2)
    client.post("/signup", data=signup_form(session_id))
    client.post(
        "/signup",
        data=signup_form(
            session_id,
            organization_name="Lakeside Health Partners",
            contact_name="Dana Ortiz",
            contact_email="dana@lakeside.example.com",
            attendee_emails="Pat.Kim@lakeside.example.com",
        ),
    )
    client.post(
        "/signup",
        data=signup_form(
            session_id,
            organization_name="North Coast Clinic",
            contact_name="Lee Wong",
            contact_email="lee@northcoast.example.com",
            attendee_emails="",
        ),
    )
    return session_id


def rows(response) -> list[str]:
    """The result table's organizations, in page order."""
    text = page_text(response)
    return [name for name in ORGANIZATIONS if name in text]


ORGANIZATIONS = ("Sierra Valley Medical Society", "Lakeside Health Partners", "North Coast Clinic")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("LAKESIDE health", ["Lakeside Health Partners"]),  # organization, any case
        ("ana reyes", ["Sierra Valley Medical Society"]),  # contact's name
        ("lee@northcoast", ["North Coast Clinic"]),  # contact's email
        ("pat.kim@", ["Lakeside Health Partners"]),  # an attendee's email
        ("north-coast", ["North Coast Clinic"]),  # punctuation ignored, as one per organization
        ("100%", []),  # a literal %, not a wildcard
    ],
)
def test_staff_find_signups_by_organization_person_or_email(
    client, sign_in_as, three_signups, query, expected
):
    sign_in_as("staff")
    response = client.get("/staff/signups", query_string={"q": query})
    assert response.status_code == 200
    assert rows(response) == expected
    count = len(expected)
    assert f"{count} {'signup' if count == 1 else 'signups'} matching “{query}”." in page_text(
        response
    )


def test_each_result_shows_status_session_contact_and_links_to_the_roster(
    client, sign_in_as, three_signups
):
    sign_in_as("admin")
    response = client.get("/staff/signups", query_string={"q": "north coast"})
    text = page_text(response)
    assert "North Coast Clinic Waitlisted Waitlist; first choice" in text
    assert "Lee Wong lee@northcoast.example.com" in text
    assert f'href="/staff/sessions/{three_signups}"' in response.get_data(as_text=True)

    # "Booked", the word the roster and the organization's own pages use.
    booked = page_text(client.get("/staff/signups", query_string={"q": "lakeside"}))
    assert "Lakeside Health Partners Booked" in booked
    assert " PT Dana Ortiz dana@lakeside.example.com" in booked


def test_the_status_filter_narrows_the_list(client, sign_in_as, three_signups):
    sign_in_as("staff")
    waitlisted = client.get("/staff/signups", query_string={"status": "waitlisted"})
    assert rows(waitlisted) == ["North Coast Clinic"]
    confirmed = client.get("/staff/signups", query_string={"status": "confirmed", "q": "a"})
    assert rows(confirmed) == ["Sierra Valley Medical Society", "Lakeside Health Partners"]
    assert "2 signups matching “a” (booked)." in page_text(confirmed)


def test_an_unknown_status_is_refused_with_a_message(client, sign_in_as):
    sign_in_as("staff")
    response = client.get("/staff/signups", query_string={"status": "lost"})
    assert response.status_code == 400
    assert "Status: Not a valid choice." in page_text(response)


def test_results_come_fifty_to_a_page(app, client, sign_in_as, program_id):
    with app.app_context():
        now = utcnow()
        for number in range(1, 56):
            db.session.add(
                Signup(
                    program_id=program_id,
                    status="cancelled",
                    organization_name=f"Clinic {number:03d}",
                    organization_key=f"clinic{number:03d}",
                    contact_name="Ana Reyes",
                    contact_email=f"ana@clinic{number}.example.org",
                    attestation_text=ATTESTATION,
                    attested_at=now,
                    submission_key_hash=uuid.uuid4().hex,
                    created_at=now,
                )
            )
        db.session.commit()
    sign_in_as("staff")
    first = page_text(client.get("/staff/signups", query_string={"q": "clinic"}))
    assert "55 signups matching “clinic”." in first
    assert "Page 1 of 2" in first
    assert "Clinic 055" in first and "Clinic 006" in first and "Clinic 005" not in first
    second = client.get("/staff/signups", query_string={"q": "clinic", "page": 2})
    assert "Clinic 005" in page_text(second) and "Clinic 006" not in page_text(second)
    assert 'href="/staff/signups?page=1&amp;q=clinic&amp;status="' in second.get_data(as_text=True)
    past = client.get("/staff/signups", query_string={"q": "clinic", "page": 999999})
    assert "Page 2 of 2" in page_text(past) and "Clinic 005" in page_text(past)
    huge = client.get("/staff/signups", query_string={"q": "clinic", "page": "9" * 21})
    assert huge.status_code == 200
    assert "Page 2 of 2" in page_text(huge)
    assert "Please correct" not in page_text(huge)
    for odd in ("0", "-3", "abc", ""):
        first_again = client.get("/staff/signups", query_string={"q": "clinic", "page": odd})
        assert first_again.status_code == 200
        assert "Page 1 of 2" in page_text(first_again), odd


def test_facilitators_cannot_search_signups(client, sign_in_as):
    sign_in_as("facilitator")
    assert client.get("/staff/signups").status_code == 403


def test_visitors_are_sent_to_sign_in_from_the_signup_list(client):
    response = client.get("/staff/signups")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/staff/sign-in?next=")
