"""Recording PARS entries from the manage link; staff progress, exports, drawings, reminders."""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import PASSWORD, manage_token, page_text, signup_form
from sqlalchemy import select

from training.audit.models import AuditEvent
from training.booking.models import Program
from training.challenges.models import ChallengeDrawing, ChallengeReminder
from training.challenges.services import check_drawing, send_challenge_reminders
from training.extensions import db
from training.mail.models import OutboxMessage
from training.staff.services import create_staff

pytestmark = pytest.mark.clock

PACIFIC = ZoneInfo("America/Los_Angeles")
# 7 PM on Dec 1 in California, already Dec 2 in UTC: the hour a UTC date passes for the
# program's. Every test here runs on a clock frozen (ticking) at this moment.
CALIFORNIA_EVENING = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
TODAY = CALIFORNIA_EVENING.astimezone(PACIFIC).date()


@pytest.fixture(autouse=True)
def california_evening(time_machine):
    time_machine.move_to(CALIFORNIA_EVENING, tick=True)


def record(client, token, activity_id, entered_on, learners=12):
    return client.post(
        f"/manage/{token}/challenges",
        data={
            "activity_id": activity_id,
            "entered_on": entered_on.isoformat(),
            "learners": learners,
        },
    )


def program_dates(app) -> tuple[date, date]:
    with app.app_context():
        program = db.session.scalars(select(Program)).one()
        return program.accme_challenge_due_on, program.cma_challenge_due_on


def test_an_organization_records_two_activities_and_meets_the_accme_challenge(app, client, token):
    assert record(client, token, "201234567", TODAY - timedelta(days=2)).status_code == 303
    record(client, token, "201234568", TODAY - timedelta(days=1))
    text = page_text(client.get(f"/manage/{token}/challenges"))
    assert "ACCME Challenge: 2 of 2 activities" in text
    assert "Met" in text
    assert "once CMA staff verify your entries" in text


def test_the_same_activity_twice_counts_once(client, token):
    record(client, token, "201234567", TODAY)
    record(client, token, "201234567", TODAY)
    assert "ACCME Challenge: 1 of 2 activities" in page_text(
        client.get(f"/manage/{token}/challenges")
    )


@pytest.mark.parametrize(
    ("activity_id", "entered_on", "learners", "message"),
    [
        ("12345", TODAY, 3, "An ACCME activity ID is 9 digits"),
        ("201234567", TODAY + timedelta(days=2), 3, "cannot be in the future"),
        ("201234567", TODAY, 0, "Enter a number of learners from 1 up."),
    ],
)
def test_bad_entries_are_refused_with_a_message(
    client, token, activity_id, entered_on, learners, message
):
    response = record(client, token, activity_id, entered_on, learners)
    assert response.status_code == 200
    assert message in page_text(response)
    assert "None recorded yet." in page_text(response)


@pytest.mark.parametrize(
    ("moment", "place"),
    [
        (datetime(2026, 12, 2, 5, 30, tzinfo=UTC), "New York, 12:30 AM on Dec 2"),
        (datetime(2026, 12, 1, 20, 0, tzinfo=UTC), "Guam, 6 AM on Dec 2"),
    ],
)
def test_todays_date_in_a_zone_east_of_california_is_not_called_the_future(
    client, token, time_machine, moment, place
):
    time_machine.move_to(moment, tick=True)
    accepted = record(client, token, "201234567", date(2026, 12, 2))
    assert accepted.status_code == 303, place
    refused = record(client, token, "201234568", date(2026, 12, 3))
    assert "cannot be in the future" in page_text(refused), place
    assert "ACCME Challenge: 1 of 2 activities" in page_text(
        client.get(f"/manage/{token}/challenges")
    )


def test_an_organization_can_remove_an_unverified_entry(app, client, token):
    record(client, token, "201234567", TODAY)
    with app.app_context():
        from training.challenges.models import ChallengeEntry

        entry_id = db.session.scalars(select(ChallengeEntry.id)).one()
    client.post(f"/manage/{token}/challenges/{entry_id}/remove")
    assert "None recorded yet." in page_text(client.get(f"/manage/{token}/challenges"))


def test_staff_see_progress_verify_and_export(app, client, token, staff_client):
    record(client, token, "201234567", TODAY)
    record(client, token, "201234568", TODAY)
    page = page_text(staff_client.get("/staff/challenges"))
    assert "Sierra Valley Medical Society" in page
    assert "Met, to verify" in page
    with app.app_context():
        from training.challenges.models import ChallengeEntry

        ids = db.session.scalars(select(ChallengeEntry.id)).all()
    for entry_id in ids:
        staff_client.post(f"/staff/challenges/entries/{entry_id}/verify")
    assert "Eligible" in page_text(staff_client.get("/staff/challenges"))

    export = staff_client.get("/staff/challenges.csv")
    assert export.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0]["organization"] == "Sierra Valley Medical Society"
    assert (rows[0]["accme_met"], rows[0]["verified_accme_met"]) == ("yes", "yes")


def test_a_drawing_records_its_seed_can_be_rerun_and_is_audited(app, client, token, staff_client):
    record(client, token, "201234567", TODAY)
    record(client, token, "201234568", TODAY)
    refused = staff_client.post(
        "/staff/challenges/drawing", data={"challenge": "accme", "winners": 1}
    )
    assert "No organization has met the ACCME Challenge on verified entries yet." in page_text(
        staff_client.get(refused.headers["Location"])
    )
    with app.app_context():
        from training.challenges.models import ChallengeEntry

        ids = db.session.scalars(select(ChallengeEntry.id)).all()
    for entry_id in ids:
        staff_client.post(f"/staff/challenges/entries/{entry_id}/verify")
    staff_client.post("/staff/challenges/drawing", data={"challenge": "accme", "winners": 1})
    page = page_text(staff_client.get("/staff/challenges"))
    assert "Re-run gives the same winners" in page
    with app.app_context():
        drawing = db.session.scalars(select(ChallengeDrawing)).one()
        assert check_drawing(drawing)
        assert drawing.seed in page
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "challenge.drawing")
        ).one()
        assert event.details["seed"] == drawing.seed
        assert event.details["winners"] == drawing.winner_signup_ids


def test_reminders_go_a_week_before_the_deadline_once_to_those_not_yet_eligible(
    app, client, make_session, token
):
    met = manage_token(
        client.post(
            "/signup",
            data=signup_form(
                make_session(starts_in=timedelta(days=5)), organization_name="Done Already Clinic"
            ),
        )
    )
    record(client, met, "201234567", TODAY)
    record(client, met, "201234568", TODAY)
    accme_due, _ = program_dates(app)
    with app.app_context():
        program = db.session.scalars(select(Program)).one()
        assert send_challenge_reminders(program, accme_due - timedelta(days=8)) == 0
        assert send_challenge_reminders(program, accme_due - timedelta(days=7)) == 1
        assert send_challenge_reminders(program, accme_due - timedelta(days=6)) == 0
        db.session.commit()
        reminders = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "challenge_reminder")
        ).all()
        assert [r.recipients for r in reminders] == [["ana.reyes@sierravalley.example.org"]]
        assert reminders[0].subject == "One week left for the ACCME Challenge"
        assert "/challenges" in reminders[0].text_body
        assert db.session.scalars(select(ChallengeReminder.challenge)).all() == ["accme"]


def test_the_remind_command_reports_what_it_queued(app, runner, token):
    with app.app_context():
        program = db.session.scalars(select(Program)).one()
        program.accme_challenge_due_on = TODAY + timedelta(days=3)
        db.session.commit()
    result = runner.invoke(args=["challenges", "remind"])
    assert result.exit_code == 0
    assert "challenge reminder(s)" in result.output
    assert result.output == "Queued 1 challenge reminder(s).\n"
    assert runner.invoke(args=["challenges", "remind"]).output == (
        "Queued 0 challenge reminder(s).\n"
    )
    with app.app_context():
        kinds = db.session.scalars(select(OutboxMessage.kind)).all()
    assert kinds.count("challenge_reminder") == 1


@pytest.mark.parametrize("role", ["facilitator", None])
def test_challenge_pages_for_staff_are_refused_to_others(app, role):
    client = app.test_client()
    if role:
        with app.app_context():
            create_staff("fac@cmadocs.example.org", PASSWORD, role)
            db.session.commit()
        client.post(
            "/staff/sign-in", data={"email": "fac@cmadocs.example.org", "password": PASSWORD}
        )
    for path in ("/staff/challenges", "/staff/challenges.csv"):
        assert client.get(path).status_code == (403 if role else 302)
