"""Recording PARS entries from the manage link; staff progress, exports, drawings, reminders."""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import PASSWORD, manage_token, page_text, signup_form
from sqlalchemy import func, select

from training.audit.models import AuditEvent
from training.booking.models import Program, Signup
from training.challenges.models import ChallengeDrawing, ChallengeEntry
from training.challenges.services import challenge_dates, check_drawing, short_date
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


def test_an_organization_records_two_activities_and_meets_the_accme_challenge(app, client, token):
    assert record(client, token, "201234567", TODAY - timedelta(days=1)).status_code == 303
    record(client, token, "201234568", TODAY)
    text = page_text(client.get(f"/manage/{token}/challenges"))
    assert "Met: 2 activities recorded (2 needed)" in text
    assert "2 of 4 activities recorded" in text
    assert "once CMA staff verify your entries" in text


def test_the_same_activity_twice_counts_once(client, token):
    record(client, token, "201234567", TODAY)
    record(client, token, "201234567", TODAY)
    assert "1 of 2 activities recorded" in page_text(client.get(f"/manage/{token}/challenges"))


def test_recording_the_same_entry_again_is_refused_and_stores_one_row(app, client, token):
    assert record(client, token, "201234567", TODAY, learners=5).status_code == 303
    response = record(client, token, "201234567", TODAY, learners=5)
    assert "Activity 201234567 is already recorded with 5 learners entered on" in page_text(
        response
    )
    assert "so it was not recorded again" in page_text(response)
    with app.app_context():
        assert db.session.scalar(select(func.count(ChallengeEntry.id))) == 1
    # The same activity on another day, or with another count, is another entry.
    assert record(client, token, "201234567", TODAY, learners=6).status_code == 303


@pytest.mark.parametrize(
    "typed", ["201 234 567", "201-234-567", " 201 234-567 ", "２０１２３４５６７"]
)
def test_an_activity_id_typed_in_groups_is_read_as_its_nine_digits(app, client, token, typed):
    assert record(client, token, typed, TODAY).status_code == 303
    with app.app_context():
        assert db.session.scalars(select(ChallengeEntry.activity_id)).all() == ["201234567"]


@pytest.mark.parametrize(
    ("activity_id", "entered_on", "learners", "message"),
    [
        ("12345", TODAY, 3, "An ACCME activity ID is 9 digits"),
        ("201234567", TODAY + timedelta(days=2), 3, "cannot be in the future"),
        ("201234567", TODAY, 0, "Enter a number of learners from 1 to 1,000,000."),
        ("201234567", TODAY, 99999999, "Enter a number of learners from 1 to 1,000,000."),
    ],
)
def test_bad_entries_are_refused_with_a_message(
    client, token, activity_id, entered_on, learners, message
):
    response = record(client, token, activity_id, entered_on, learners)
    assert response.status_code == 200
    assert message in page_text(response)
    assert "None recorded yet." in page_text(response)


def test_an_entry_dated_before_the_challenges_began_is_refused_keeping_what_was_typed(
    app, client, token
):
    refused = record(client, token, "201234567", date(1999, 1, 1), learners=31)
    assert refused.status_code == 200
    text = page_text(refused)
    assert "The challenges count learners entered in PARS from Nov 30, 2026 to " in text
    assert "Jan 1, 1999 is outside those dates." in text
    assert "None recorded yet." in text
    markup = refused.get_data(as_text=True)
    for typed in ('value="201234567"', 'value="1999-01-01"', 'value="31"'):
        assert typed in markup
    # The day signups opened (California's Nov 30) is the first day that counts.
    assert record(client, token, "201234567", date(2026, 11, 29)).status_code == 200
    assert record(client, token, "201234567", date(2026, 11, 30)).status_code == 303


def test_staff_are_held_to_the_challenge_dates_too(app, client, token, staff_client):
    with app.app_context():
        signup_id = db.session.scalars(select(Signup.id)).one()
    refused = staff_client.post(
        "/staff/challenges",
        data={
            "signup_id": signup_id,
            "activity_id": "201234567",
            "entered_on": "1999-01-01",
            "learners": "4",
        },
    )
    assert refused.status_code == 200
    assert "Jan 1, 1999 is outside those dates." in page_text(refused)
    with app.app_context():
        assert db.session.scalars(select(ChallengeEntry)).all() == []


def test_a_program_that_sets_its_own_challenge_start_counts_entries_from_that_day(
    app, client, token
):
    with app.app_context():
        program = db.session.scalars(select(Program)).one()
        program.challenges_start_on = date(2026, 11, 1)
        db.session.commit()
    assert record(client, token, "201234567", date(2026, 11, 1)).status_code == 303
    refused = record(client, token, "201234568", date(2026, 10, 31))
    assert "from Nov 1, 2026 to " in page_text(refused)


def test_stored_entries_dated_outside_the_challenge_dates_are_shown_but_not_counted(
    app, client, token, staff_client
):
    record(client, token, "201234567", TODAY)
    with app.app_context():
        signup = db.session.scalars(select(Signup)).one()
        db.session.add(
            ChallengeEntry(
                signup=signup, activity_id="201234568", entered_on=date(1999, 1, 1), learners=4
            )
        )
        db.session.commit()
    text = page_text(client.get(f"/manage/{token}/challenges"))
    assert "1 of 2 activities recorded" in text
    assert "201234568 Jan 1, 1999 4 Neither: outside the challenge dates" in text
    assert "201234567 Dec 1, 2026 12 Both challenges" in text
    staff_page = page_text(staff_client.get("/staff/challenges"))
    assert "201234568 on Jan 1, 1999 (4 learners) Not counted: outside the challenge dates" in (
        staff_page
    )
    assert "1 of 2 activities recorded; 0 verified" in staff_page


def test_status_says_met_with_the_count_and_what_each_challenge_needs(
    app, client, token, staff_client
):
    with app.app_context():
        program = db.session.scalars(select(Program)).one()
        accme = short_date(program.accme_challenge_due_on)
        cma = short_date(program.cma_challenge_due_on)
    for activity_id in ("201234561", "201234562"):
        record(client, token, activity_id, TODAY)
    text = page_text(client.get(f"/manage/{token}/challenges"))
    assert f"ACCME Challenge, by {accme}. Met: 2 activities recorded (2 needed)." in text
    assert f"CMA Challenge, by {cma}. 2 of 4 activities recorded." in text
    assert "4 of 2" not in text
    staff_page = page_text(staff_client.get("/staff/challenges"))
    assert "ACCME Challenge (2 needed) CMA Challenge (4 needed)" in staff_page
    assert "Met: 2 activities recorded (2 needed); 0 verified Met, to verify" in staff_page
    assert "2 of 4 activities recorded; 0 verified" in staff_page

    for activity_id in ("201234563", "201234564"):
        record(client, token, activity_id, TODAY)
    text = page_text(client.get(f"/manage/{token}/challenges"))
    assert f"ACCME Challenge, by {accme}. Met: 4 activities recorded (2 needed)." in text
    assert f"CMA Challenge, by {cma}. Met: 4 activities recorded (4 needed)." in text
    assert "Met: 4 activities recorded (4 needed); 0 verified" in page_text(
        staff_client.get("/staff/challenges")
    )


def test_entries_after_the_accme_deadline_count_toward_the_cma_challenge_only(app, client, token):
    with app.app_context():
        program = db.session.scalars(select(Program)).one()
        program.accme_challenge_due_on = TODAY - timedelta(days=1)
        db.session.commit()
    for activity_id in ("201234561", "201234562", "201234563", "201234564"):
        assert record(client, token, activity_id, TODAY).status_code == 303
    text = page_text(client.get(f"/manage/{token}/challenges"))
    assert "0 of 2 activities recorded." in text
    assert "4 of 4 activities recorded; it also needs the ACCME Challenge met." in text
    assert text.count("The CMA Challenge only (after the ACCME deadline)") == 4


def test_the_demo_program_counts_entries_from_the_day_its_signups_opened(app, runner):
    assert runner.invoke(args=["seed"]).exit_code == 0
    with app.app_context():
        program = db.session.scalars(select(Program)).one()
        assert program.challenges_start_on is None
        assert challenge_dates(program).starts_on == date(2026, 11, 1)


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
    assert "1 of 2 activities recorded" in page_text(client.get(f"/manage/{token}/challenges"))


def test_an_organization_can_remove_an_unverified_entry(app, client, token):
    record(client, token, "201234567", TODAY)
    with app.app_context():
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
        ids = db.session.scalars(select(ChallengeEntry.id)).all()
    for entry_id in ids:
        staff_client.post(f"/staff/challenges/entries/{entry_id}/verify")
    staff_client.post("/staff/challenges/drawing", data={"challenge": "accme", "winners": 1})
    page = page_text(staff_client.get("/staff/challenges"))
    assert "Re-run gives the same winners" in page
    with app.app_context():
        drawing = db.session.scalars(select(ChallengeDrawing)).one()
        assert check_drawing(drawing)
        assert f"Drawing done: 1 winner, seed {drawing.seed}." in page
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "challenge.drawing")
        ).one()
        assert event.details["seed"] == drawing.seed
        assert event.details["winners"] == drawing.winner_signup_ids


def test_running_the_drawing_again_verifies_the_one_that_stands_instead_of_replacing_it(
    app, client, token, make_session, staff_client
):
    def verify_all():
        with app.app_context():
            ids = db.session.scalars(
                select(ChallengeEntry.id).where(ChallengeEntry.verified_at.is_(None))
            ).all()
        for entry_id in ids:
            staff_client.post(f"/staff/challenges/entries/{entry_id}/verify")

    record(client, token, "201234567", TODAY)
    record(client, token, "201234568", TODAY)
    verify_all()
    staff_client.post("/staff/challenges/drawing", data={"challenge": "accme", "winners": 1})
    with app.app_context():
        first = db.session.scalars(select(ChallengeDrawing)).one()
        standing = (first.id, first.seed, first.eligible_signup_ids, first.winner_signup_ids)
    # Another organization meets the challenge after the drawing.
    later = manage_token(
        client.post(
            "/signup",
            data=signup_form(
                make_session(), organization_name="Later Clinic", contact_email="a@later.example"
            ),
        )
    )
    record(client, later, "201234569", TODAY)
    record(client, later, "201234570", TODAY)
    verify_all()

    again = staff_client.post(
        "/staff/challenges/drawing", data={"challenge": "accme", "winners": 1}
    )
    assert again.headers["Location"] == f"/staff/challenges#drawing-{standing[0]}"
    page = page_text(staff_client.get(again.headers["Location"]))
    assert f"was already drawn (drawing {standing[0]}, below); its winners stand." in page
    assert f"{standing[0]}: stands" in page
    assert "Re-run gives the same winners" in page
    with app.app_context():
        drawing = db.session.scalars(select(ChallengeDrawing)).one()
        assert (
            drawing.id,
            drawing.seed,
            drawing.eligible_signup_ids,
            drawing.winner_signup_ids,
        ) == standing
        # The check re-runs the recorded seed and eligible list: a changed record is caught.
        drawing.winner_signup_ids = [max(drawing.eligible_signup_ids) + 1]
        db.session.commit()
    assert "Re-run differs!" in page_text(staff_client.get("/staff/challenges"))


def test_the_remind_command_reports_what_it_queued(app, runner, token):
    with app.app_context():
        program = db.session.scalars(select(Program)).one()
        program.accme_challenge_due_on = TODAY + timedelta(days=3)
        db.session.commit()
    result = runner.invoke(args=["challenges", "remind"])
    assert result.exit_code == 0
    assert result.output == "Queued 1 challenge reminder.\n"
    assert runner.invoke(args=["challenges", "remind"]).output == (
        "Queued 0 challenge reminders.\n"
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


def test_a_reason_to_draw_again_with_no_drawing_yet_is_refused_not_dropped(
    app, client, token, staff_client
):
    record(client, token, "201234567", TODAY)
    record(client, token, "201234568", TODAY)
    with app.app_context():
        ids = db.session.scalars(select(ChallengeEntry.id)).all()
    for entry_id in ids:
        staff_client.post(f"/staff/challenges/entries/{entry_id}/verify")
    refused = staff_client.post(
        "/staff/challenges/drawing",
        data={"challenge": "accme", "winners": 1, "redraw_reason": "Just in case"},
    )
    assert (
        "The ACCME Challenge has no drawing to replace yet, so the reason to draw again would "
        "not be kept: clear it to run the first drawing."
    ) in page_text(staff_client.get(refused.headers["Location"]))
    with app.app_context():
        assert db.session.scalars(select(ChallengeDrawing)).all() == []
