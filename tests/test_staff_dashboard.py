"""The console home: the dashboard for admins and staff, assigned sessions for facilitators."""

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from conftest import page_text, signup_form

from training.booking.models import TrainingSession
from training.extensions import db
from training.mail.models import OutboxMessage
from training.staff.models import StaffMember

pytestmark = pytest.mark.clock


def add_email(app, status: str, error: str | None = None) -> None:
    with app.app_context():
        db.session.add(
            OutboxMessage(
                kind="booking_confirmed",
                recipients=["ana@example.org"],
                subject=f"You're booked ({status})",
                text_body="Hello",
                message_id=f"<{uuid.uuid4().hex}@example.org>",
                status=status,
                last_error=error,
            )
        )
        db.session.commit()


def test_staff_see_seats_filled_and_waitlists_per_session(client, sign_in_as, make_session):
    small = make_session(seats=1)
    later = make_session(seats=4, starts_in=timedelta(days=5))
    make_session(starts_in=timedelta(days=-2))  # over: not on the dashboard
    client.post("/signup", data=signup_form(small, second_choice=later))
    for name in ("Lakeside Health", "North Coast Clinic"):
        client.post("/signup", data=signup_form(small, organization_name=name, second_choice=0))
    sign_in_as("staff")
    response = client.get("/staff/")
    text = page_text(response)
    assert "Seats filled, upcoming sessions" in text
    rows = re.findall(r"(\d+ of \d+(?: \(full\))?) (\d+)", text)
    assert rows == [("1 of 1 (full)", "2"), ("0 of 4", "0")]
    markup = response.get_data(as_text=True)
    # The chart is drawn as shapes; the figures above are the text everyone can read.
    assert '<rect class="bar-fill bar-full" width="100.0"' in markup
    assert '<rect class="bar-fill" width="0.0"' in markup
    assert 'aria-hidden="true"' in markup


# 7 PM on Tue, Dec 1 in California: the signups count for Dec 1, not for UTC's Dec 2. (The
# marker freezes the clock before any fixture builds the program.)
@pytest.mark.time_machine(datetime(2026, 12, 2, 3, 0, tzinfo=UTC), tick=True)
def test_staff_see_signups_per_day_as_a_chart_and_a_table(client, sign_in_as, make_session):
    session_id = make_session()
    client.post("/signup", data=signup_form(session_id))
    client.post("/signup", data=signup_form(session_id, organization_name="Lakeside Health"))
    sign_in_as("admin")
    response = client.get("/staff/")
    text = page_text(response)
    assert "New signups per day, last 30 days" in text
    assert "2 signups in this period; the busiest day had 2." in text
    assert "Day New signups Tue, Dec 1 2" in text
    assert response.get_data(as_text=True).count('<rect class="bar-fill" x=') == 30


def test_staff_see_failing_emails_with_their_last_error(app, client, sign_in_as):
    add_email(app, "sent")
    add_email(app, "retrying", "421 try again later")
    add_email(app, "failed", "550 <mailbox> unavailable")
    sign_in_as("staff")
    response = client.get("/staff/")
    text = page_text(response)
    assert "Emails failing 1 recipient failed (given up) and 1 recipient waiting to retry." in text
    assert "1 recipient waiting to retry (421 try again later)" in text
    assert "ana@example.org You're booked (failed) 550 <mailbox> unavailable" in text
    assert "550 &lt;mailbox&gt; unavailable" in response.get_data(as_text=True)


def test_an_empty_dashboard_says_so(client, sign_in_as):
    sign_in_as("staff")
    text = page_text(client.get("/staff/"))
    assert "No upcoming sessions." in text
    assert "0 signups in this period." in text
    assert "0 recipients failed (given up) and 0 recipients waiting to retry." in text


def test_facilitators_see_their_assigned_sessions_instead(app, client, sign_in_as, make_session):
    mine = make_session()
    make_session(starts_in=timedelta(days=6))  # someone else's
    member_id = sign_in_as("facilitator")
    with app.app_context():
        member, session = (
            db.session.get(StaffMember, member_id),
            db.session.get(TrainingSession, mine),
        )
        member.sessions.append(session)
        db.session.commit()
        when = session.local_starts_at
    response = client.get("/staff/")
    text = page_text(response)
    assert "Your sessions" in text
    assert "Seats filled" not in text and "Emails failing" not in text
    assert f"{when:%a, %b} {when.day}," in text
    assert text.count("Learner Credit Reporting Training") == 1
    assert f'href="/staff/sessions/{mine}"' in response.get_data(as_text=True)


def test_facilitators_without_sessions_are_told(client, sign_in_as):
    sign_in_as("facilitator")
    assert "No sessions are assigned to you yet." in page_text(client.get("/staff/"))


@pytest.mark.parametrize(
    ("role", "shown", "hidden"),
    [
        ("admin", ["Dashboard", "Signups", "Duplicates", "Audit log"], []),
        ("staff", ["Dashboard", "Signups", "Duplicates"], ["Audit log"]),
        ("facilitator", ["Your sessions"], ["Signups", "Duplicates", "Audit log"]),
    ],
)
def test_the_nav_shows_each_role_its_pages(client, sign_in_as, role, shown, hidden):
    sign_in_as(role)
    markup = client.get("/staff/").get_data(as_text=True)
    nav = markup.split('aria-label="Staff console"')[1].split("</nav>")[0]
    links = {
        "Dashboard": '/staff/">Dashboard<',
        "Your sessions": '/staff/">Your sessions<',
        "Signups": '/staff/signups">Signups<',
        "Duplicates": '/staff/duplicates">Duplicates<',
        "Audit log": '/staff/audit/">Audit log<',
    }
    assert all(links[name] in nav for name in shown)
    assert not any(links[name] in nav for name in hidden)


def test_staff_are_warned_of_a_session_starting_soon_with_no_meeting_link(
    client, sign_in_as, make_session
):
    bare = make_session(starts_in=timedelta(hours=20))
    make_session(starts_in=timedelta(hours=20), meeting_url="https://meet.example.org/x")
    make_session(starts_in=timedelta(days=5))  # no link yet, but not soon
    client.post("/signup", data=signup_form(bare))
    sign_in_as("staff")

    dashboard = page_text(client.get("/staff/"))
    roster = page_text(client.get(f"/staff/sessions/{bare}"))

    assert "This session starts within 24 hours and has no meeting link yet" in dashboard
    assert "(1 booked)" in dashboard
    assert (
        "This session starts within 24 hours and has no meeting link yet: the 1 organization "
        "booked on it cannot join. Add the meeting link" in roster
    )


def test_the_missing_link_warning_on_an_empty_roster_does_not_count_zero_organizations(
    client, sign_in_as, make_session
):
    bare = make_session(starts_in=timedelta(hours=20))
    sign_in_as("staff")

    roster = page_text(client.get(f"/staff/sessions/{bare}"))

    assert (
        "This session starts within 24 hours and has no meeting link yet; no organization is "
        "booked on it yet. Add the meeting link" in roster
    )
    assert "0 organizations" not in roster


@pytest.mark.time_machine(datetime(2026, 12, 1, 20, 0, tzinfo=UTC), tick=True)
def test_the_missing_link_warning_names_a_date_as_the_table_below_it_does(
    app, client, sign_in_as, make_session
):
    bare = make_session(starts_in=timedelta(hours=20))
    with app.app_context():
        when = db.session.get(TrainingSession, bare).when
    sign_in_as("staff")

    dashboard = page_text(client.get("/staff/"))

    assert f"{when} (0 booked)" in dashboard
    assert dashboard.count(when) == 2  # the warning and the seats table, word for word
    assert ", 2026," not in dashboard
