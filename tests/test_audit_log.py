"""The audit log page: admins only, filtered by person, organization, action and days."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from conftest import page_text, signup_form
from sqlalchemy import select

from training.audit.models import AuditEvent
from training.audit.views import readable_details
from training.booking.models import Signup
from training.extensions import db, seed_path
from training.live.steps import seed_walkthrough

pytestmark = pytest.mark.clock


def add_event(app, action, *, at, actor="pat@cmadocs.example.org", organization=None, **details):
    with app.app_context():
        db.session.add(
            AuditEvent(
                created_at=at,
                actor=actor,
                action=action,
                organization_name=organization,
                details=details,
            )
        )
        db.session.commit()


def listed_actions(response) -> list[str]:
    return re.findall(r"<code>([\w.]+)</code>", response.get_data(as_text=True))


@pytest.fixture
def events(app):
    # 07:30 UTC on February 10 is still February 9 in Los Angeles.
    add_event(
        app,
        "signup.cancelled",
        at=datetime(2025, 2, 10, 7, 30, tzinfo=UTC),
        organization="Lakeside Health",
        reason="merged into Lakeside Health Partners (signup 4)",
    )
    add_event(
        app,
        "signup.contacts_updated",
        at=datetime(2025, 2, 10, 9, 0, tzinfo=UTC),
        actor="organization (public page)",
        organization="Sierra Valley Medical Society",
        changes={"contact_email": ["ana@sv.example.org", "dana@sv.example.org"]},
    )
    add_event(
        app,
        "session.updated",
        at=datetime(2025, 2, 12, 17, 0, tzinfo=UTC),
        actor="kim@cmadocs.example.org",
        seats=10,
    )


def test_admins_read_who_did_what_when_to_which_organization(client, sign_in_as, events):
    sign_in_as("admin")
    response = client.get("/staff/audit/")
    assert response.status_code == 200
    text = page_text(response)
    assert "5 events." in text  # with the admin's account and sign-in
    assert listed_actions(response) == [
        "staff.signed_in",
        "staff.created",
        "session.updated",
        "signup.contacts_updated",
        "signup.cancelled",
    ]
    assert (
        "Sun, Feb 9, 2025, 11:30 PM PT pat@cmadocs.example.org signup.cancelled Lakeside Health "
        "Reason merged into Lakeside Health Partners (signup 4)"
    ) in text
    assert (
        "organization (public page) signup.contacts_updated Sierra Valley Medical Society "
        "Changes Contact email: ana@sv.example.org → dana@sv.example.org"
    ) in text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"actor": "kim@cmadocs.example.org"}, ["session.updated"]),
        ({"organization": "sierra VALLEY"}, ["signup.contacts_updated"]),
        ({"action": "signup.cancelled"}, ["signup.cancelled"]),
        # Days are read in the display zone (Los Angeles), both ends included.
        ({"until": "2025-02-09"}, ["signup.cancelled"]),
        ({"since": "2025-02-10", "until": "2025-02-10"}, ["signup.contacts_updated"]),
        ({"since": "2025-02-11", "action": "session.updated"}, ["session.updated"]),
        ({"organization": "%"}, []),
    ],
)
def test_admins_filter_the_log(client, sign_in_as, events, query, expected):
    sign_in_as("admin")
    response = client.get("/staff/audit/", query_string=query)
    assert response.status_code == 200
    found = [action for action in listed_actions(response) if not action.startswith("staff.")]
    assert found == expected


def test_a_backwards_date_range_is_refused_with_a_message(client, sign_in_as):
    sign_in_as("admin")
    response = client.get(
        "/staff/audit/", query_string={"since": "2025-02-10", "until": "2025-02-01"}
    )
    assert response.status_code == 400
    assert "The “To” day must be on or after the “From” day." in page_text(response)


def test_details_are_escaped(app, client, sign_in_as):
    add_event(
        app,
        "signup.notes_updated",
        at=datetime(2025, 2, 10, tzinfo=UTC),
        organization="<b>Bold</b> Clinic",
        note="<script>alert(1)</script>",
    )
    sign_in_as("admin")
    markup = client.get("/staff/audit/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in markup and "<b>Bold</b>" not in markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup


def test_public_signups_and_staff_actions_are_in_the_log(client, sign_in_as, make_session):
    client.post("/signup", data=signup_form(make_session()))
    sign_in_as("admin")
    text = page_text(
        client.get(
            "/staff/audit/", query_string={"organization": "sierra", "action": "signup.created"}
        )
    )
    assert "1 event." in text
    assert "organization (public page) signup.created Sierra Valley Medical Society" in text
    assert "Status confirmed Choices" in text


def test_exports_edits_and_live_starts_name_the_session_they_were_about(
    app, client, sign_in_as, make_session, time_machine
):
    starts_at = datetime(2026, 12, 8, 18, 0, tzinfo=UTC)  # 10 AM in California
    # A quarter of an hour before it starts: check-in is open, so it can be started.
    time_machine.move_to(starts_at - timedelta(minutes=15), tick=True)
    session_id = make_session(starts_at=starts_at, ends_at=starts_at + timedelta(minutes=90))
    with app.app_context():
        seed_walkthrough(seed_path("walkthrough"))
        db.session.commit()
    sign_in_as("admin")

    client.get(f"/staff/sessions/{session_id}/roster.csv")
    client.post(
        f"/staff/sessions/{session_id}/edit",
        data={"day": "2026-12-08", "starts_at": "10:00", "ends_at": "11:30", "seats": "9"},
    )
    client.post(f"/staff/live/{session_id}/start")

    label = f"#{session_id}, Tue, Dec 8, 10:00–11:30 AM PT"
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action.in_(["roster.exported", "session.updated", "live.started"]))
            .order_by(AuditEvent.id)
        ).all()
        assert [(event.action, event.details["session"]) for event in events] == [
            ("roster.exported", label),
            ("session.updated", label),
            ("live.started", label),
        ]
    text = page_text(client.get("/staff/audit/", query_string={"action": "live.started"}))
    assert f"live.started — Session {label}" in text


def test_the_log_comes_fifty_to_a_page_keeping_the_filters(app, client, sign_in_as):
    for minute in range(55):
        add_event(
            app, "session.created", at=datetime(2025, 2, 10, 12, minute, tzinfo=UTC), n=minute
        )
    sign_in_as("admin")
    first = client.get("/staff/audit/", query_string={"action": "session.created"})
    assert "55 events." in page_text(first) and "Page 1 of 2" in page_text(first)
    assert len(listed_actions(first)) == 50
    assert 'href="/staff/audit/?page=2&amp;actor=&amp;organization=&amp;action=session.created' in (
        first.get_data(as_text=True)
    )
    second = client.get("/staff/audit/", query_string={"action": "session.created", "page": 2})
    assert len(listed_actions(second)) == 5
    past = client.get("/staff/audit/", query_string={"action": "session.created", "page": 999999})
    assert "55 events." in page_text(past) and "Page 2 of 2" in page_text(past)
    assert len(listed_actions(past)) == 5


def test_readable_details_spell_out_changes_lists_and_blanks():
    assert readable_details(
        {
            "changes": {"contact_phone": [None, "555"], "attendees": ["a@x.org", ""]},
            "choices": ["Tue", "Wed"],
            "override_reason": "phoned in",
        }
    ) == [
        ("Changes", "Contact phone: (blank) → 555; Attendees: a@x.org → (blank)"),
        ("Choices", "Tue, Wed"),
        ("Override reason", "phoned in"),
    ]
    assert readable_details(None) == []


def test_a_session_time_change_reads_in_the_programs_zone_not_as_utc_timestamps(
    app, client, sign_in_as
):
    add_event(
        app,
        "session.updated",
        at=datetime(2026, 11, 20, 18, 0, tzinfo=UTC),
        changes={
            "starts_at": ["2026-12-07T18:00:00+00:00", "2026-12-07T19:30:00+00:00"],
            "meeting_url": [None, "https://meet.example.org/2026-12-07T18:00"],
        },
    )
    sign_in_as("admin")

    text = page_text(client.get("/staff/audit/"))

    assert "+00:00" not in text
    assert (
        "Starts at: Mon, Dec 7, 2026, 10:00 AM PT → Mon, Dec 7, 2026, 11:30 AM PT; "
        "Meeting url: (blank) → https://meet.example.org/2026-12-07T18:00"
    ) in text


@pytest.mark.parametrize("role", ["staff", "facilitator"])
def test_only_admins_read_the_audit_log(client, sign_in_as, role):
    sign_in_as(role)
    assert client.get("/staff/audit/").status_code == 403


def test_visitors_are_sent_to_sign_in_from_the_audit_log(client):
    response = client.get("/staff/audit/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/staff/sign-in?next=")


def test_a_drawing_names_its_entrants_and_winners_by_organization(
    app, client, sign_in_as, make_session
):
    session_id = make_session()
    for name, email in (
        ("Sierra Valley Medical Society", "ana@sierra.example.org"),
        ("<b>Bold</b> Clinic", "bo@bold.example.org"),
    ):
        client.post(
            "/signup",
            data=signup_form(
                session_id, organization_name=name, contact_email=email, attendee_emails=""
            ),
        )
    with app.app_context():
        ids = dict(db.session.execute(select(Signup.organization_name, Signup.id)).all())
    sierra, bold = ids["Sierra Valley Medical Society"], ids["<b>Bold</b> Clinic"]
    add_event(
        app,
        "challenge.drawing",
        at=datetime(2025, 2, 10, tzinfo=UTC),
        challenge="accme",
        eligible=[sierra, bold, 999],
        winners=[bold],
    )
    sign_in_as("admin")
    response = client.get("/staff/audit/", query_string={"action": "challenge.drawing"})
    text = page_text(response)
    assert (
        f"Eligible Sierra Valley Medical Society (signup {sierra}), "
        f"<b>Bold</b> Clinic (signup {bold}), signup 999 (since deleted)" in text
    )
    assert f"Winners <b>Bold</b> Clinic (signup {bold})" in text
    assert "<b>Bold</b>" not in response.get_data(as_text=True)
