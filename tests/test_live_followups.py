"""After the session: one email per organization, results if it came, other dates if not."""

from datetime import timedelta

import pytest
import test_live_pages
from conftest import page_text
from sqlalchemy import select
from test_live_pages import COAST, SIERRA, console_url

from training.audit.models import AuditEvent
from training.booking.display import format_session_when
from training.booking.models import Program, TrainingSession
from training.extensions import db
from training.mail.models import OutboxMessage
from training.sandbox.models import SandboxAttempt

pytestmark = pytest.mark.clock

# The console's fixtures: a session with two organizations, and its facilitator signed in
# shortly before it starts, on a clock the tests move on.
clock = test_live_pages.clock
live = test_live_pages.live
facilitator = test_live_pages.facilitator

# Follow-ups are sent this long after the session's end.
AFTER_THE_END = timedelta(minutes=5)


def followups(app) -> list[OutboxMessage]:
    with app.app_context():
        messages = db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind.in_(["live_followup", "live_missed"]))
            .order_by(OutboxMessage.kind)
        ).all()
        db.session.expunge_all()
        return messages


@pytest.fixture
def checked_in(app, live, facilitator, clock):
    """Sierra Valley came and uploaded a file with errors left; Coast Range did not come; the
    session has ended."""
    clock.move_to(live.starts_at + timedelta(minutes=5), tick=False)
    facilitator.post(console_url(live, "start"))
    facilitator.post(
        console_url(live, f"check-in/{live.signup_ids[SIERRA]}"), data={"status": "late"}
    )
    facilitator.post(
        console_url(live, f"check-in/{live.signup_ids[COAST]}"), data={"status": "no_show"}
    )
    with app.app_context():
        db.session.add(
            SandboxAttempt(
                signup_id=live.signup_ids[SIERRA],
                filename="learners.csv",
                size_bytes=100,
                status="done",
                rows_read=25,
                rows_accepted=22,
                rows_rejected=3,
                error_count=3,
                counts_by_code={"DOB_HAS_YEAR": 2, "STATE_UNKNOWN": 1},
            )
        )
        db.session.commit()
    clock.move_to(live.ends_at + AFTER_THE_END, tick=False)
    return live


def test_follow_ups_wait_until_every_organization_is_checked_in(app, live, facilitator, clock):
    facilitator.post(
        console_url(live, f"check-in/{live.signup_ids[SIERRA]}"), data={"status": "present"}
    )
    clock.move_to(live.ends_at + AFTER_THE_END, tick=False)
    response = facilitator.post(console_url(live, "follow-ups"), follow_redirects=True)
    assert (
        "Check in every organization first (present, joined late or no-show): "
        "Coast Range Hospital." in page_text(response)
    )
    assert followups(app) == []


def test_those_who_came_get_results_and_deadlines_and_no_shows_get_other_dates(
    app, checked_in, facilitator, make_session
):
    open_date = make_session(starts_in=timedelta(days=6))
    response = facilitator.post(console_url(checked_in, "follow-ups"), follow_redirects=True)
    assert "Follow-ups queued: 1 to organizations that came, 1 to no-shows." in page_text(response)

    came, missed = followups(app)
    assert came.kind == "live_followup"
    assert came.recipients == ["ana@sierra.example.org"]
    assert "25 rows read, 22 accepted, 3 rejected" in came.text_body
    assert "- DOB_HAS_YEAR: 2" in came.text_body
    assert "- STATE_UNKNOWN: 1" in came.text_body
    assert "https://training.example.org/manage/" in came.text_body
    assert "/sandbox" in came.text_body
    with app.app_context():
        program = db.session.scalars(select(Program)).one()
        accme, cma = program.accme_challenge_due_on, program.cma_challenge_due_on
        offered = db.session.get(TrainingSession, open_date)
        offered_when = format_session_when(offered.starts_at, offered.ends_at, program.zone)
    assert f"ACCME Challenge: {accme:%A, %B} {accme.day}, {accme.year}" in came.text_body
    assert f"CMA Challenge: {cma:%A, %B} {cma.day}, {cma.year}" in came.text_body
    assert "DOB_HAS_YEAR" in came.html_body

    assert missed.kind == "live_missed"
    assert missed.recipients == ["cy@coast.example.org"]
    assert "We missed Coast Range Hospital" in missed.text_body
    assert "https://training.example.org/" in missed.text_body
    assert f"Dates with seats left:\n  - {offered_when}\n" in missed.text_body
    assert "sandbox results" not in missed.text_body.lower()


def test_a_second_click_sends_nothing_again(app, checked_in, facilitator):
    facilitator.post(console_url(checked_in, "follow-ups"))
    again = facilitator.post(console_url(checked_in, "follow-ups"), follow_redirects=True)
    assert "nothing was sent again" in page_text(again)
    assert len(followups(app)) == 2
    assert "Sent to 2 of 2 organizations." in page_text(facilitator.get(console_url(checked_in)))
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "live.followups_sent")
        ).all()
        assert [(event.details["attended"], event.details["missed"]) for event in events] == [
            (1, 1)
        ]


def test_the_command_sends_the_same_follow_ups_once(app, checked_in, runner):
    result = runner.invoke(args=["live", "follow-up", str(checked_in.session_id)])
    assert result.exit_code == 0, result.output
    assert "Queued 1 follow-up and 1 offer of another date" in result.output
    again = runner.invoke(args=["live", "follow-up", str(checked_in.session_id)])
    assert "Queued 0 follow-ups and 0 offers of another date; 2 organizations" in (again.output)
    assert [message.kind for message in followups(app)] == ["live_followup", "live_missed"]
    with app.app_context():
        assert db.session.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "live.followups_sent")
        ).all() == ["command line"]


def test_the_command_names_a_missing_session(runner, app):
    result = runner.invoke(args=["live", "follow-up", "999"])
    assert result.exit_code != 0
    assert "No session 999." in result.output


def test_an_organization_that_never_uploaded_is_told_to_try_the_sandbox(
    app, live, facilitator, clock
):
    for name in (SIERRA, COAST):
        facilitator.post(
            console_url(live, f"check-in/{live.signup_ids[name]}"), data={"status": "present"}
        )
    clock.move_to(live.ends_at + AFTER_THE_END, tick=False)
    facilitator.post(console_url(live, "follow-ups"))
    bodies = [message.text_body for message in followups(app)]
    assert len(bodies) == 2
    assert all("You have not uploaded a practice file yet." in body for body in bodies)


def test_follow_ups_wait_for_the_session_to_end(app, live, facilitator, clock, runner):
    clock.move_to(live.starts_at, tick=False)
    for name in (SIERRA, COAST):
        facilitator.post(
            console_url(live, f"check-in/{live.signup_ids[name]}"), data={"status": "present"}
        )
    clock.move_to(live.ends_at - timedelta(minutes=1), tick=False)
    ends = "Thu, Nov 26, 2026, 10:30 AM PT"  # 9:00–10:30 AM PT
    console = page_text(facilitator.get(console_url(live)))
    assert f"Follow-ups can be sent after the session ends, {ends}." in console
    assert "Send follow-ups" not in console
    refused = facilitator.post(console_url(live, "follow-ups"), follow_redirects=True)
    assert f"Follow-ups go out after the session ends, {ends}." in page_text(refused)
    command = runner.invoke(args=["live", "follow-up", str(live.session_id)])
    assert command.exit_code != 0
    assert f"Follow-ups go out after the session ends, {ends}." in command.output
    assert followups(app) == []

    clock.move_to(live.ends_at, tick=False)
    sent = facilitator.post(console_url(live, "follow-ups"), follow_redirects=True)
    assert "Follow-ups queued: 2 to organizations that came, 0 to no-shows." in page_text(sent)
    assert len(followups(app)) == 2
