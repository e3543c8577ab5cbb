"""The facilitator's console and the participant's live page, over HTTP, without a browser."""

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import PASSWORD, manage_token, page_text, signup_form
from flask import Flask
from sqlalchemy import event, select

from training import PROJECT_ROOT, create_app
from training.audit.models import AuditEvent
from training.booking.models import Signup, TrainingSession
from training.extensions import db
from training.live import board as live_board
from training.live import services
from training.live import steps as live_steps
from training.live.models import LiveAttendance, LiveSession, WalkthroughStep
from training.rosters import services as rosters_services
from training.sandbox.models import SandboxAttempt
from training.staff import services as staff_services

pytestmark = pytest.mark.clock

WALKTHROUGH = Path(PROJECT_ROOT) / "seed" / "walkthrough"
SIERRA = "Sierra Valley Medical Society"
COAST = "Coast Range Hospital"
FACILITATOR = "fran@cmadocs.example.org"
OTHER_FACILITATOR = "otto@cmadocs.example.org"
STAFF = "pat@cmadocs.example.org"
ADMIN = "ada@cmadocs.example.org"


# Signups are made on this Monday morning, for a session three days later.
SIGNUPS_MADE_AT = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
# The console is used from this long before the session starts: check-in is open.
CONSOLE_USED_BEFORE_START = timedelta(minutes=10)


@dataclass(frozen=True)
class Live:
    """A session with two organizations booked, the walkthrough loaded and staff accounts."""

    session_id: int
    tokens: dict[str, str]
    signup_ids: dict[str, int]
    starts_at: datetime
    ends_at: datetime


@pytest.fixture
def clock(time_machine):
    """The wall clock, stopped at ``SIGNUPS_MADE_AT`` (before the program is made)."""
    time_machine.move_to(SIGNUPS_MADE_AT, tick=False)
    return time_machine


@pytest.fixture
def live(clock, app, make_session) -> Live:
    """Two organizations sign up three days ahead; then the wall clock stands still
    ``CONSOLE_USED_BEFORE_START`` before the session starts, as when a facilitator opens the
    console (tests move it on with ``clock``)."""
    session_id = make_session()
    public = app.test_client()
    tokens = {}
    for name, email in ((SIERRA, "ana@sierra.example.org"), (COAST, "cy@coast.example.org")):
        response = public.post(
            "/signup",
            data=signup_form(
                session_id, organization_name=name, contact_email=email, attendee_emails=""
            ),
        )
        tokens[name] = manage_token(response)
    with app.app_context():
        live_steps.seed_walkthrough(WALKTHROUGH)
        session = db.session.get(TrainingSession, session_id)
        for email, role in (
            (FACILITATOR, "facilitator"),
            (OTHER_FACILITATOR, "facilitator"),
            (STAFF, "staff"),
            (ADMIN, "admin"),
        ):
            member = staff_services.create_staff(email, PASSWORD, role)
            if email == FACILITATOR:
                member.sessions.append(session)
        db.session.commit()
        signup_ids = dict(db.session.execute(select(Signup.organization_name, Signup.id)).all())
        starts_at, ends_at = session.starts_at, session.ends_at
    clock.move_to(starts_at - CONSOLE_USED_BEFORE_START, tick=False)
    return Live(
        session_id=session_id,
        tokens=tokens,
        signup_ids=signup_ids,
        starts_at=starts_at,
        ends_at=ends_at,
    )


def signed_in(app: Flask, email: str):
    """A test client signed in as ``email``."""
    client = app.test_client()
    response = client.post("/staff/sign-in", data={"email": email, "password": PASSWORD})
    assert response.status_code == 303, page_text(response)
    return client


@pytest.fixture
def facilitator(app, live):
    return signed_in(app, FACILITATOR)


def console_url(live: Live, action: str = "") -> str:
    return f"/staff/live/{live.session_id}" + (f"/{action}" if action else "")


def follow_url(live: Live, name: str = SIERRA, action: str = "") -> str:
    return f"/manage/{live.tokens[name]}/live" + (f"/{action}" if action else "")


@contextmanager
def counted_queries(app: Flask) -> Iterator[list[str]]:
    """The SQL statements run inside the block (SQLite's BEGIN IMMEDIATE aside)."""
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if not statement.startswith("BEGIN"):
            statements.append(statement)

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            yield statements
        finally:
            event.remove(db.engine, "before_cursor_execute", count)


# --- Who may use the console -----------------------------------------------------------------


def test_only_the_assigned_facilitator_and_staff_reach_the_console(app, live):
    for email in (FACILITATOR, STAFF, ADMIN):
        client = signed_in(app, email)
        assert client.get(console_url(live)).status_code == 200, email
        assert client.get(console_url(live, "board.json")).status_code == 200, email
    other = signed_in(app, OTHER_FACILITATOR)
    assert other.get(console_url(live)).status_code == 403
    assert other.get(console_url(live, "board.json")).status_code == 403
    assert other.post(console_url(live, "start")).status_code == 403
    with app.app_context():
        assert services.find_live(db.session.get(TrainingSession, live.session_id)) is None


def test_visitors_are_sent_to_sign_in_from_the_console(client, live):
    for url in (console_url(live), console_url(live, "board.json")):
        response = client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/staff/sign-in?next=")
    assert client.post(console_url(live, "next")).status_code == 302


def test_facilitators_see_only_their_sessions_in_the_list(app, live, make_session):
    other_session = make_session()
    assert f'/staff/live/{live.session_id}"' in signed_in(app, FACILITATOR).get(
        "/staff/live/"
    ).get_data(as_text=True)
    assert f'/staff/live/{other_session}"' not in signed_in(app, FACILITATOR).get(
        "/staff/live/"
    ).get_data(as_text=True)
    assert f'/staff/live/{other_session}"' in signed_in(app, STAFF).get("/staff/live/").get_data(
        as_text=True
    )


def test_the_live_list_labels_each_session_and_puts_running_and_upcoming_ones_first(
    app, live, facilitator, make_session
):
    past = make_session(starts_in=timedelta(days=-7))
    later = make_session(starts_in=timedelta(days=5))
    called_off = make_session(starts_in=timedelta(days=2), status="cancelled")
    facilitator.post(console_url(live, "start"))

    listed = signed_in(app, STAFF).get("/staff/live/").get_data(as_text=True)
    items = re.findall(r'<li><a href="/staff/live/(\d+)">.*?</li>', listed, re.S)
    labels = {
        int(found.group(1)): page_text_of(found.group(0))
        for found in re.finditer(r'<li><a href="/staff/live/(\d+)">.*?</li>', listed, re.S)
    }
    assert [int(item) for item in items] == [live.session_id, later, past, called_off]
    assert "Live now" in labels[live.session_id]
    assert "Upcoming" in labels[later]
    assert "Ended" in labels[past]
    assert "Cancelled" in labels[called_off]


def test_a_session_in_its_time_not_started_is_under_way_on_every_staff_page(
    app, live, clock, make_session
):
    later = make_session(starts_in=timedelta(days=5))
    clock.move_to(live.ends_at - timedelta(minutes=4), tick=False)  # its last minutes, not started
    staff = signed_in(app, STAFF)

    listed = staff.get("/staff/live/").get_data(as_text=True)
    labels = {
        int(found.group(1)): page_text_of(found.group(0))
        for found in re.finditer(r'<li><a href="/staff/live/(\d+)">.*?</li>', listed, re.S)
    }
    assert list(labels) == [live.session_id, later]  # before the sessions ahead
    assert "Under way (not started on the console)" in labels[live.session_id]
    assert "Upcoming" in labels[later]

    sessions_page = staff.get("/staff/sessions").get_data(as_text=True)
    (row,) = [
        row for row in sessions_page.split("<tr") if f'/staff/sessions/{live.session_id}"' in row
    ]
    assert "Under way" in page_text_of(row)

    (seats,) = re.findall(
        r'<section aria-labelledby="seats-heading">.*?</section>',
        staff.get("/staff/").get_data(as_text=True),
        re.S,
    )
    assert f'/staff/sessions/{live.session_id}"' not in seats
    assert f'/staff/sessions/{later}"' in seats

    staff.post(console_url(live, "start"))
    staff.post(console_url(live, "end"))
    listed = page_text(staff.get("/staff/live/"))
    assert "Under way (ended on the console)" in listed


def page_text_of(markup: str) -> str:
    """The words of a piece of markup."""
    return " ".join(re.sub(r"<[^>]+>", " ", markup).split())


# --- Driving the walkthrough --------------------------------------------------------------------


def test_starting_shows_the_first_step_and_next_back_and_jump_move_it(app, live, facilitator):
    response = facilitator.post(console_url(live, "start"))
    assert response.status_code == 303
    assert response.headers["Location"] == f"/staff/live/{live.session_id}#step"
    text = page_text(facilitator.get(console_url(live)))
    assert "Step 1 of 8: Collect learner permission" in text
    assert "Facilitator notes" in text
    assert "Time: 0:00:0" in text

    facilitator.post(console_url(live, "next"))
    facilitator.post(console_url(live, "next"))
    assert "Step 3 of 8: Download the learner template" in page_text(
        facilitator.get(console_url(live))
    )
    facilitator.post(console_url(live, "back"))
    assert "Step 2 of 8: Find your activity in PARS" in page_text(
        facilitator.get(console_url(live))
    )
    with app.app_context():
        last = db.session.scalars(
            select(WalkthroughStep).where(WalkthroughStep.position == 8)
        ).one()
    facilitator.post(console_url(live, "step"), data={"step_id": last.id})
    assert "Step 8 of 8: Check CME Passport" in page_text(facilitator.get(console_url(live)))

    with app.app_context():
        changes = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "live.step_changed")
            .order_by(AuditEvent.id)
        ).all()
        assert [event.details["new"] for event in changes] == [
            "Find your activity in PARS",
            "Download the learner template",
            "Find your activity in PARS",
            "Check CME Passport",
        ]
        assert {event.actor for event in changes} == {FACILITATOR}
        live_row = db.session.get(LiveSession, live.session_id)
        assert live_row.version == 5  # started, then four moves


def test_next_from_a_second_tab_showing_an_old_step_does_not_skip_a_step(app, live, facilitator):
    """Two consoles show step 2; the first presses Next (step 3). The second's Next, pressed
    from step 2, is refused with where everyone is now, rather than skipping step 3."""
    facilitator.post(console_url(live, "start"))
    facilitator.post(console_url(live, "next"))
    console = facilitator.get(console_url(live)).get_data(as_text=True)
    shown = re.search(r'name="from_step" value="(\d+)"', console).group(1)

    facilitator.post(console_url(live, "next"), data={"from_step": shown})
    stale = facilitator.post(
        console_url(live, "next"), data={"from_step": shown}, follow_redirects=True
    )
    text = page_text(stale)
    assert (
        "Everyone already sees step 3: Download the learner template. It was changed in another "
        "tab or by another facilitator since your page showed it, so Next step was not applied"
    ) in text
    assert "Step 3 of 8: Download the learner template" in text
    stale_back = facilitator.post(
        console_url(live, "back"), data={"from_step": shown}, follow_redirects=True
    )
    assert "so Back was not applied" in page_text(stale_back)
    assert "Step 3 of 8" in page_text(stale_back)


def test_next_past_the_last_step_is_refused_with_a_message(app, live, facilitator):
    facilitator.post(console_url(live, "start"))
    for _ in range(7):
        facilitator.post(console_url(live, "next"))
    response = facilitator.post(console_url(live, "next"), follow_redirects=True)
    assert "That was the last step." in page_text(response)
    assert "Step 8 of 8" in page_text(response)


def test_steps_cannot_move_before_the_session_starts(live, facilitator):
    response = facilitator.post(console_url(live, "next"), follow_redirects=True)
    assert "Start the session first." in page_text(response)


def test_ending_stops_the_timer_and_tells_participants(app, live, facilitator):
    facilitator.post(console_url(live, "start"))
    facilitator.post(console_url(live, "end"))
    text = page_text(facilitator.get(console_url(live)))
    assert "Ended" in text
    assert "Restart the session" in text
    assert "The session has ended." in page_text(app.test_client().get(follow_url(live)))


def test_restarting_an_ended_session_puts_everyone_back_on_step_one_with_the_timer_from_zero(
    app, live, facilitator, clock
):
    facilitator.post(console_url(live, "start"))
    facilitator.post(console_url(live, "step"), data={"step_id": step_ids(app)[8]})
    clock.move_to(live.starts_at + timedelta(minutes=40), tick=False)
    facilitator.post(console_url(live, "end"))

    clock.move_to(live.starts_at + timedelta(minutes=45), tick=False)
    restarted = facilitator.post(console_url(live, "start"), follow_redirects=True)
    text = page_text(restarted)
    assert "The session has started: everyone sees the first step." in text
    assert "Step 1 of 8: Collect learner permission" in text
    assert "Time: 0:00:00" in text
    shown = re.search(r'name="from_step" value="(\d+)"', restarted.get_data(as_text=True))
    assert int(shown.group(1)) == step_ids(app)[1]
    participant = page_text(app.test_client().get(follow_url(live)))
    assert "Step 1 of 8: Collect learner permission" in participant
    assert "The session has ended" not in participant


def test_after_end_the_steps_no_longer_move_and_participants_see_only_that_it_ended(
    app, live, facilitator
):
    facilitator.post(console_url(live, "start"))
    facilitator.post(console_url(live, "step"), data={"step_id": step_ids(app)[8]})
    facilitator.post(console_url(live, "end"))

    console = facilitator.get(console_url(live))
    markup = console.get_data(as_text=True)
    for control in ('id="previous-step"', 'id="next-step"', 'id="jump-step"', 'id="end-session"'):
        assert control not in markup
    assert 'id="start-session"' in markup
    assert "The session has ended: the steps no longer move" in page_text(console)
    refusal = (
        "The session has ended, so the steps no longer move. "
        "Press Restart the session to start again from the first step."
    )
    for action, data in (("back", {}), ("next", {}), ("step", {"step_id": step_ids(app)[2]})):
        response = facilitator.post(console_url(live, action), data=data, follow_redirects=True)
        assert refusal in page_text(response)
    last_step = step_ids(app)[8]
    with app.app_context():
        assert db.session.get(LiveSession, live.session_id).current_step_id == last_step

    participant = page_text(app.test_client().get(follow_url(live)))
    assert "The session has ended." in participant
    assert "This page follows the facilitator" not in participant
    assert "Done with this step" not in participant
    assert "I need help" not in participant


def test_check_in_marks_present_joined_late_or_no_show_and_is_audited(app, live, facilitator):
    sierra, coast = live.signup_ids[SIERRA], live.signup_ids[COAST]
    facilitator.post(console_url(live, f"check-in/{sierra}"), data={"status": "present"})
    facilitator.post(console_url(live, f"check-in/{coast}"), data={"status": "late"})
    facilitator.post(console_url(live, f"check-in/{coast}"), data={"status": "no_show"})
    refused = facilitator.post(
        console_url(live, f"check-in/{coast}"), data={"status": "asleep"}, follow_redirects=True
    )
    assert "Choose present, joined late or no-show." in page_text(refused)

    markup = facilitator.get(console_url(live)).get_data(as_text=True)
    assert f'id="checkin-{sierra}-present" class="button button-small" aria-pressed="true"' in (
        markup
    )
    assert f'id="checkin-{coast}-no_show" class="button button-small" aria-pressed="true"' in (
        markup
    )
    with app.app_context():
        rows = {
            row.signup_id: row.checkin_status for row in db.session.scalars(select(LiveAttendance))
        }
        assert rows == {sierra: "present", coast: "no_show"}
        audited = db.session.execute(
            select(AuditEvent.organization_name, AuditEvent.details)
            .where(AuditEvent.action == "live.checked_in")
            .order_by(AuditEvent.id)
        ).all()
        assert [(name, details["status"]) for name, details in audited] == [
            (SIERRA, "Present"),
            (COAST, "Joined late"),
            (COAST, "No-show"),
        ]


def test_check_in_refuses_an_organization_from_another_session_without_naming_it(
    app, live, facilitator, make_session
):
    other = make_session()
    response = app.test_client().post(
        "/signup", data=signup_form(other, organization_name="Elsewhere Clinic")
    )
    assert response.status_code == 303
    with app.app_context():
        elsewhere = db.session.scalars(
            select(Signup.id).where(Signup.organization_name == "Elsewhere Clinic")
        ).one()
    response = facilitator.post(
        console_url(live, f"check-in/{elsewhere}"),
        data={"status": "present"},
        follow_redirects=True,
    )
    text = page_text(response)
    assert "That organization is not booked on this session." in text
    # The facilitator may read only their own sessions: nothing names another session's booking.
    assert "Elsewhere Clinic" not in text


def test_check_in_opens_thirty_minutes_before_the_start_and_says_when(app, live, clock):
    clock.move_to(live.starts_at - timedelta(minutes=31), tick=False)
    fran = signed_in(app, FACILITATOR)
    sierra = live.signup_ids[SIERRA]
    opens = "Thu, Nov 26, 2026, 8:30 AM PT"  # the session starts at 9:00 AM PT
    board_page = page_text(fran.get(console_url(live)))
    assert f"Check-in opens {opens}, 30 minutes before the session starts." in board_page
    assert f'id="checkin-{sierra}-present"' not in fran.get(console_url(live)).get_data(
        as_text=True
    )
    refused = fran.post(
        console_url(live, f"check-in/{sierra}"), data={"status": "present"}, follow_redirects=True
    )
    assert f"Check-in opens {opens}, 30 minutes before the session starts." in page_text(refused)
    with app.app_context():
        assert db.session.scalars(select(LiveAttendance)).all() == []

    clock.move_to(live.starts_at - timedelta(minutes=30), tick=False)
    fran.post(console_url(live, f"check-in/{sierra}"), data={"status": "present"})
    with app.app_context():
        assert db.session.scalars(select(LiveAttendance.checkin_status)).all() == ["present"]


def test_check_in_opens_as_long_before_the_start_as_the_setting_says(app, live, clock):
    app.config["LIVE_CHECKIN_OPENS_MINUTES"] = 60
    clock.move_to(live.starts_at - timedelta(minutes=61), tick=False)
    fran = signed_in(app, FACILITATOR)
    refused = fran.post(
        console_url(live, f"check-in/{live.signup_ids[COAST]}"),
        data={"status": "late"},
        follow_redirects=True,
    )
    assert "Check-in opens Thu, Nov 26, 2026, 8:00 AM PT, 60 minutes before" in page_text(refused)
    clock.move_to(live.starts_at - timedelta(minutes=45), tick=False)
    fran.post(console_url(live, f"check-in/{live.signup_ids[COAST]}"), data={"status": "late"})
    with app.app_context():
        assert db.session.scalars(select(LiveAttendance.checkin_status)).all() == ["late"]


def test_the_board_is_drawn_again_when_check_in_opens(app, live, clock):
    clock.move_to(live.starts_at - timedelta(minutes=31), tick=False)
    fran = signed_in(app, FACILITATOR)
    closed = fran.get(console_url(live, "board.json"))
    assert "Not open yet" in closed.get_json()["board_html"]
    clock.move_to(live.starts_at - timedelta(minutes=30), tick=False)
    opened = fran.get(
        console_url(live, "board.json"), headers={"If-None-Match": closed.headers["ETag"]}
    )
    assert opened.status_code == 200
    assert "Not open yet" not in opened.get_json()["board_html"]
    assert f'id="checkin-{live.signup_ids[SIERRA]}-present"' in opened.get_json()["board_html"]


def test_session_notes_are_kept_with_the_session(app, live, facilitator):
    response = facilitator.post(
        console_url(live, "notes"), data={"notes": "Coast Range: PARS rejected row 4.\x00"}
    )
    assert response.status_code == 303
    assert "Coast Range: PARS rejected row 4." in page_text(facilitator.get(console_url(live)))
    with app.app_context():
        assert db.session.get(LiveSession, live.session_id).notes == (
            "Coast Range: PARS rejected row 4."
        )
    too_long = facilitator.post(console_url(live, "notes"), data={"notes": "x" * 20_001})
    assert too_long.status_code == 422
    assert "Keep the notes under 20,000 characters." in page_text(too_long)


def test_notes_saved_from_a_console_opened_before_other_notes_are_refused(app, live, facilitator):
    def drawn_from(response) -> str:
        return re.search(
            r'name="drawn_from" type="hidden" value="(\w+)"', response.get_data(as_text=True)
        )[1]

    tab_a = drawn_from(facilitator.get(console_url(live)))
    tab_b = drawn_from(facilitator.get(console_url(live)))
    saved = facilitator.post(
        console_url(live, "notes"), data={"notes": "Coast Range joined late.", "drawn_from": tab_b}
    )
    facilitator.get(saved.headers["Location"])

    stale = facilitator.post(
        console_url(live, "notes"), data={"notes": "Sierra asked about PARS.", "drawn_from": tab_a}
    )

    assert stale.status_code == 409
    text = page_text(stale)
    assert "This session was changed in another tab or by someone else" in text
    assert "What you sent, not saved: Session notes: Sierra asked about PARS." in text
    with app.app_context():
        assert db.session.get(LiveSession, live.session_id).notes == "Coast Range joined late."


# --- The participant's page -----------------------------------------------------------------------


def test_participant_page_waits_for_the_start(client, live):
    text = page_text(client.get(follow_url(live)))
    assert "Waiting for the session to start" in text
    assert "I need help" in text  # check-in is open
    assert "You can ask for help from when check-in opens" not in text
    assert "Done with this step" not in text


def test_i_need_help_is_offered_only_from_when_check_in_opens(app, client, live, clock):
    clock.move_to(live.starts_at - timedelta(days=1), tick=False)
    page = client.get(follow_url(live))
    text = page_text(page)
    assert "I need help" not in text
    assert (
        "You can ask for help from when check-in opens: Thu, Nov 26, 2026, 8:30 AM PT, "
        "30 minutes before the session starts." in text
    )
    (etag,) = re.findall(r'data-etag="([^"]+)"', page.get_data(as_text=True))
    state = follow_url(live, action="state.json")
    assert client.get(state, headers={"If-None-Match": html.unescape(etag)}).status_code == 304

    # Check-in opens with nothing written: the page changes all the same, polled or reloaded.
    clock.move_to(live.starts_at - timedelta(minutes=30), tick=False)
    answer = client.get(state, headers={"If-None-Match": html.unescape(etag)})
    assert answer.status_code == 200
    assert 'id="help-button">I need help</button>' in answer.get_json()["html"]
    assert "You can ask for help from when" not in answer.get_json()["html"]
    assert "I need help" in page_text(client.get(follow_url(live)))


def test_participant_page_without_javascript_shows_the_current_step(client, live, facilitator):
    facilitator.post(console_url(live, "start"))
    facilitator.post(console_url(live, "next"))
    response = client.get(follow_url(live))
    text = page_text(response)
    assert "Step 2 of 8: Find your activity in PARS" in text
    assert "Copy its 9-digit ACCME Activity ID" in text
    assert "Share your screen" not in text  # facilitator notes stay on the console
    markup = response.get_data(as_text=True)
    assert f'href="/manage/{live.tokens[SIERRA]}/live" id="refresh-link"' in markup
    assert f'href="/manage/{live.tokens[SIERRA]}/sandbox"' in markup
    # Only the page's script makes it follow: without it the words saying so stay hidden.
    assert (
        '<p class="live-following" data-with-script hidden>This page follows the facilitator'
        in markup
    )
    assert "Refresh to see the step the facilitator is on now." in text

    facilitator.post(console_url(live, "next"))
    assert "Step 3 of 8: Download the learner template" in page_text(client.get(follow_url(live)))


def test_a_session_cancelled_mid_walkthrough_tells_its_participants_why_and_what_next(
    app, live, facilitator
):
    facilitator.post(console_url(live, "start"))
    participant = app.test_client()
    participant.post(follow_url(live, action="help"))
    staff = signed_in(app, STAFF)
    staff.post(
        f"/staff/sessions/{live.session_id}/cancel",
        data={"reason": "The trainer is ill <b>today</b>."},
    )
    page = participant.get(follow_url(live))
    state = participant.get(follow_url(live, action="state.json")).get_json()
    assert state["state"] == "no_session"
    for markup in (page.get_data(as_text=True), state["html"]):
        assert "The training staff cancelled your session (" in markup
        assert "Their reason: The trainer is ill &lt;b&gt;today&lt;/b&gt;." in markup
        assert "book another date or join the waitlist for a full one from" in markup
        assert f'<a href="/manage/{live.tokens[SIERRA]}">your booking page</a>' in markup
        assert "no session to follow" not in markup
        assert "Refresh</a> to see the step" not in markup
        assert "I need help" not in markup
    text = page_text(page)
    assert "A facilitator knows you need help." not in text
    assert 'id="live-when"' not in page.get_data(as_text=True)


def test_a_booking_waiting_for_a_date_is_told_it_has_no_session_to_follow(clock, app, make_session):
    full = make_session(seats=1)
    public = app.test_client()
    public.post("/signup", data=signup_form(full, organization_name=SIERRA, attendee_emails=""))
    response = public.post(
        "/signup",
        data=signup_form(
            full,
            organization_name=COAST,
            contact_email="cy@coast.example.org",
            attendee_emails="",
            join_waitlist="y",
        ),
    )
    text = page_text(public.get(f"/manage/{manage_token(response)}/live"))
    assert "This booking has no session to follow." in text
    assert "cancelled your session" not in text


def test_manage_page_links_to_the_live_session(client, live):
    markup = client.get(f"/manage/{live.tokens[SIERRA]}").get_data(as_text=True)
    assert f'href="/manage/{live.tokens[SIERRA]}/live"' in markup


def test_an_unknown_manage_link_has_no_live_page(client, live):
    assert client.get("/manage/not-a-token/live").status_code == 404
    assert client.get("/manage/not-a-token/live/state.json").status_code == 404
    assert client.post("/manage/not-a-token/live/help").status_code == 404


def test_help_raised_by_a_participant_shows_on_the_board_until_cleared(app, live, facilitator):
    participant = app.test_client()
    facilitator.post(console_url(live, "start"))
    response = participant.post(follow_url(live, action="help"))
    assert response.headers["Location"] == f"/manage/{live.tokens[SIERRA]}/live#help-status"
    assert "A facilitator knows you need help." in page_text(participant.get(follow_url(live)))

    sierra = live.signup_ids[SIERRA]
    board = facilitator.get(console_url(live, "board.json")).get_json()
    assert board["help"] == [sierra]
    assert "1 organization needs help." in board["board_html"]
    assert f'href="/staff/sandbox/{sierra}" id="findings-{sierra}"' in board["board_html"]
    assert "Needs help" in page_text(facilitator.get(console_url(live)))

    facilitator.post(console_url(live, f"help/{sierra}/clear"))
    assert facilitator.get(console_url(live, "board.json")).get_json()["help"] == []
    assert "I need help" in page_text(participant.get(follow_url(live)))
    with app.app_context():
        assert db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.action == "live.help_cleared")
        ).all() == ["live.help_cleared"]


def test_participant_can_withdraw_its_own_help_request(app, live):
    participant = app.test_client()
    participant.post(follow_url(live, action="help"))
    participant.post(follow_url(live, action="help/withdraw"))
    text = page_text(participant.get(follow_url(live)))
    assert "A facilitator knows you need help." not in text
    assert "I need help" in text


def test_done_with_a_step_shows_on_the_board(app, live, facilitator):
    participant = app.test_client()
    facilitator.post(console_url(live, "start"))
    with app.app_context():
        first = db.session.scalars(
            select(WalkthroughStep).where(WalkthroughStep.position == 1)
        ).one()
    participant.post(follow_url(live, action="done"), data={"step_id": first.id})
    assert "You said you are done with this step." in page_text(participant.get(follow_url(live)))
    board = page_text(facilitator.get(console_url(live)))
    assert "Done: step 1. Collect learner permission" in board

    facilitator.post(console_url(live, "next"))
    assert "Done with this step" in page_text(participant.get(follow_url(live)))


def test_the_board_says_an_organization_last_pressed_done_not_that_it_is_behind(
    app, live, facilitator
):
    participant = app.test_client()
    facilitator.post(console_url(live, "start"))
    participant.post(follow_url(live, action="done"), data={"step_id": step_ids(app)[1]})
    facilitator.post(console_url(live, "next"))
    coast = app.test_client()
    coast.post(follow_url(live, COAST, action="help"))

    console = facilitator.get(console_url(live))
    (board,) = re.findall(
        r'<table class="data live-board">.*?</table>', console.get_data(as_text=True), re.S
    )
    assert '<th scope="col">Last pressed</th>' in board
    text = page_text(console)
    assert "Step 2 of 8: Find your activity in PARS" in text
    rows = {name: row for name in (SIERRA, COAST) for row in board.split("<tr") if name in row}
    assert "Done</span>: step 1. Collect learner permission" in rows[SIERRA]
    assert "I need help</span>: step 2. Find your activity in PARS" in rows[COAST]


def board_row(facilitator, live, name):
    """The live board's row for the organization ``name``, as board.json hands it out."""
    board = facilitator.get(console_url(live, "board.json")).get_json()["board_html"]
    (row,) = [row for row in board.split("<tr") if name in row]
    return row


def test_an_organization_that_asked_for_help_then_pressed_done_still_shows_it_needed_help(
    app, live, facilitator
):
    participant = app.test_client()
    facilitator.post(console_url(live, "start"))
    participant.post(follow_url(live, action="help"))
    participant.post(follow_url(live, action="done"), data={"step_id": step_ids(app)[1]})
    facilitator.post(console_url(live, f"help/{live.signup_ids[SIERRA]}/clear"))

    sierra = board_row(facilitator, live, SIERRA)
    assert 'Done</span> — <span class="badge">needed help</span>: step 1.' in sierra

    # Done on the next step, where it asked for nothing, reads as a plain Done.
    facilitator.post(console_url(live, "next"))
    participant.post(follow_url(live, action="done"), data={"step_id": step_ids(app)[2]})
    sierra = board_row(facilitator, live, SIERRA)
    assert "Done</span>: step 2." in sierra
    assert "needed help" not in sierra


def test_a_call_for_help_still_raised_keeps_its_step_after_done_on_the_next(app, live, facilitator):
    participant = app.test_client()
    facilitator.post(console_url(live, "start"))
    participant.post(follow_url(live, action="help"))  # on step 1, never lowered
    participant.post(follow_url(live, action="done"), data={"step_id": step_ids(app)[1]})
    facilitator.post(console_url(live, "next"))
    participant.post(follow_url(live, action="done"), data={"step_id": step_ids(app)[2]})

    sierra = board_row(facilitator, live, SIERRA)
    assert "Done</span>: step 2." in sierra
    assert "Needs help</strong> (step 1) since" in sierra


def test_a_call_for_help_cleared_before_done_reads_as_needed_help(app, live, facilitator):
    facilitator.post(console_url(live, "start"))
    app.test_client().post(follow_url(live, action="help"))
    facilitator.post(console_url(live, f"help/{live.signup_ids[SIERRA]}/clear"))

    sierra = board_row(facilitator, live, SIERRA)
    assert "Needed help</span>: step 1." in sierra
    assert "I need help</span>" not in sierra


def test_a_restart_clears_the_done_presses_and_keeps_the_calls_for_help(app, live, facilitator):
    facilitator.post(console_url(live, "start"))
    app.test_client().post(follow_url(live, action="done"), data={"step_id": step_ids(app)[1]})
    app.test_client().post(follow_url(live, COAST, action="help"))
    facilitator.post(console_url(live, "end"))
    facilitator.post(console_url(live, "start"))

    console = facilitator.get(console_url(live))
    (board,) = re.findall(
        r'<table class="data live-board">.*?</table>', console.get_data(as_text=True), re.S
    )
    rows = {name: row for name in (SIERRA, COAST) for row in board.split("<tr") if name in row}
    assert "Done</span>" not in rows[SIERRA]
    assert "I need help</span>: step 1. Collect learner permission" in rows[COAST]
    participant = page_text(app.test_client().get(follow_url(live)))
    assert "Done with this step" in participant


def test_after_a_restart_the_board_never_shows_a_call_for_help_on_a_step_pressed_done(
    app, live, facilitator
):
    participant = app.test_client()
    participant.post(follow_url(live, action="help"))  # before the start: on no step
    facilitator.post(console_url(live, "start"))
    facilitator.post(console_url(live, "next"))
    participant.post(follow_url(live, action="done"), data={"step_id": step_ids(app)[2]})
    facilitator.post(console_url(live, "next"))
    facilitator.post(console_url(live, "next"))
    facilitator.post(console_url(live, "end"))
    facilitator.post(console_url(live, "start"))

    console = facilitator.get(console_url(live))
    (board,) = re.findall(
        r'<table class="data live-board">.*?</table>', console.get_data(as_text=True), re.S
    )
    (sierra,) = [row for row in board.split("<tr") if SIERRA in row]
    assert "I need help</span>" not in sierra
    assert "Done</span>" not in sierra
    assert "Nothing yet" in sierra
    assert "Needs help</strong> since" in sierra


# --- Conditional requests -------------------------------------------------------------------------


def test_participant_state_answers_304_until_the_facilitator_clicks(app, live, facilitator):
    participant = app.test_client()
    facilitator.post(console_url(live, "start"))
    first = participant.get(follow_url(live, action="state.json"))
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert first.get_json()["step"]["title"] == "Collect learner permission"
    assert first.headers["Cache-Control"] == "no-store"  # manage links are never cached

    again = participant.get(follow_url(live, action="state.json"), headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["ETag"] == etag
    assert again.get_data() == b""

    # Another organization's signal changes the board, not this page.
    app.test_client().post(follow_url(live, COAST, action="help"))
    assert (
        participant.get(
            follow_url(live, action="state.json"), headers={"If-None-Match": etag}
        ).status_code
        == 304
    )

    facilitator.post(console_url(live, "next"))
    changed = participant.get(
        follow_url(live, action="state.json"), headers={"If-None-Match": etag}
    )
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    state = changed.get_json()
    assert state["step"]["number"] == 2
    assert "Step 2 of 8: Find your activity in PARS" in state["html"]


def test_the_page_carries_the_etag_its_content_matches(app, live, facilitator):
    participant = app.test_client()
    facilitator.post(console_url(live, "start"))
    markup = participant.get(follow_url(live)).get_data(as_text=True)
    etag = participant.get(follow_url(live, action="state.json")).headers["ETag"]
    assert f'data-etag="{etag.replace(chr(34), "&#34;")}"' in markup


def test_board_answers_304_until_an_organization_or_upload_changes(app, live, facilitator):
    first = facilitator.get(console_url(live, "board.json"))
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "no-cache"
    assert (
        facilitator.get(
            console_url(live, "board.json"), headers={"If-None-Match": etag}
        ).status_code
        == 304
    )
    app.test_client().post(follow_url(live, action="help"))
    after_help = facilitator.get(console_url(live, "board.json"), headers={"If-None-Match": etag})
    assert after_help.status_code == 200
    etag = after_help.headers["ETag"]

    with app.app_context():
        db.session.add(
            SandboxAttempt(signup_id=live.signup_ids[COAST], filename="learners.csv", size_bytes=10)
        )
        db.session.commit()
    after_upload = facilitator.get(console_url(live, "board.json"), headers={"If-None-Match": etag})
    assert after_upload.status_code == 200
    assert "Being judged" in after_upload.get_json()["board_html"]


def test_each_etag_is_one_query(app, live, facilitator):
    facilitator.post(console_url(live, "start"))
    with counted_queries(app) as statements:
        assert live_board.participant_tag(live.tokens[SIERRA]) is not None
    assert len(statements) == 1
    with counted_queries(app) as statements:
        live_board.board_tag(live.session_id, checkin_open=True)
    assert len(statements) == 1


# --- The board's uploads --------------------------------------------------------------------


def test_board_shows_each_latest_upload_with_errors_by_code(app, live, facilitator):
    sierra = live.signup_ids[SIERRA]
    with app.app_context():
        db.session.add_all(
            [
                SandboxAttempt(
                    signup_id=sierra,
                    filename="first.csv",
                    size_bytes=10,
                    status="done",
                    rows_read=40,
                    error_count=40,
                    counts_by_code={"DOB_HAS_YEAR": 40},
                ),
                SandboxAttempt(
                    signup_id=sierra,
                    filename="second.csv",
                    size_bytes=10,
                    status="done",
                    rows_read=12,
                    rows_accepted=9,
                    rows_rejected=3,
                    error_count=3,
                    warning_count=2,
                    counts_by_code={"STATE_UNKNOWN": 1, "DOB_HAS_YEAR": 2, "LATE_REPORT": 2},
                ),
            ]
        )
        db.session.commit()
    text = page_text(facilitator.get(console_url(live)))
    assert "12 rows, 3 errors, 2 warnings DOB_HAS_YEAR × 2 STATE_UNKNOWN × 1 Open findings" in text
    assert "LATE_REPORT" not in text  # a warning, not an error
    assert "No upload yet" in text  # Coast Range has not uploaded
    with counted_queries(app) as statements:
        uploads = live_board.latest_uploads(live.signup_ids.values())
    assert len(statements) == 1
    assert set(uploads) == {sierra}
    assert uploads[sierra].errors_by_code == {"DOB_HAS_YEAR": 2, "STATE_UNKNOWN": 1}


def test_board_shows_a_large_upload_with_thousands_separators_as_its_results_do(
    app, live, facilitator
):
    with app.app_context():
        db.session.add(
            SandboxAttempt(
                signup_id=live.signup_ids[SIERRA],
                filename="everyone.csv",
                size_bytes=10,
                status="done",
                rows_read=30000,
                rows_accepted=28800,
                rows_rejected=1200,
                error_count=1200,
                warning_count=1,
                counts_by_code={"DOB_HAS_YEAR": 1200, "LATE_REPORT": 1},
            )
        )
        db.session.commit()
    text = page_text(facilitator.get(console_url(live)))
    assert "30,000 rows, 1,200 errors, 1 warning DOB_HAS_YEAR × 1,200" in text


# --- Safety and sharing ---------------------------------------------------------------------


def test_step_text_is_markdown_with_html_shown_as_text(app, live, facilitator):
    with app.app_context():
        step = db.session.scalars(
            select(WalkthroughStep).where(WalkthroughStep.position == 1)
        ).one()
        step.participant_text = (
            "**Bold** <script>alert('x')</script> [bad](javascript:alert(1)) <img src=x onerror=1>"
        )
        step.facilitator_notes = "<script>alert('notes')</script>"
        db.session.commit()
    facilitator.post(console_url(live, "start"))
    for markup in (
        app.test_client().get(follow_url(live)).get_data(as_text=True),
        facilitator.get(console_url(live)).get_data(as_text=True),
        app.test_client().get(follow_url(live, action="state.json")).get_json()["html"],
    ):
        assert "<strong>Bold</strong>" in markup
        assert "&lt;script&gt;alert(" in markup
        assert "<script>alert" not in markup
        assert "<img" not in markup
        assert 'href="javascript:' not in markup


def test_live_state_is_shared_by_two_app_instances_on_one_database(app, live, facilitator):
    """Two app objects stand for two gunicorn processes: nothing lives in one's memory."""
    other = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key",
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "WTF_CSRF_ENABLED": False,
        }
    )
    other.test_client_class = app.test_client_class
    participant_elsewhere = other.test_client()
    try:
        facilitator.post(console_url(live, "start"))
        first = participant_elsewhere.get(follow_url(live, action="state.json"))
        assert first.get_json()["step"]["number"] == 1
        here = app.test_client().get(follow_url(live, action="state.json"))
        assert here.headers["ETag"] == first.headers["ETag"]

        facilitator.post(console_url(live, "next"))
        changed = participant_elsewhere.get(
            follow_url(live, action="state.json"), headers={"If-None-Match": first.headers["ETag"]}
        )
        assert changed.status_code == 200
        assert changed.get_json()["step"]["title"] == "Find your activity in PARS"

        participant_elsewhere.post(follow_url(live, action="help"))
        assert facilitator.get(console_url(live, "board.json")).get_json()["help"] == [
            live.signup_ids[SIERRA]
        ]
    finally:
        with other.app_context():
            db.engine.dispose()


def test_staff_nav_links_to_live_sessions(live, facilitator):
    assert 'href="/staff/live/"' in facilitator.get("/staff/").get_data(as_text=True)


def test_a_cancelled_session_cannot_be_started(app, live, facilitator):
    with app.app_context():
        session = db.session.get(TrainingSession, live.session_id)
        session.status = "cancelled"
        db.session.commit()
    response = facilitator.post(console_url(live, "start"), follow_redirects=True)
    assert "This session is cancelled, so it cannot be started." in page_text(response)
    with app.app_context():
        assert services.find_live(db.session.get(TrainingSession, live.session_id)) is None


def test_cancelling_a_running_session_stops_its_console_and_it_stays_in_the_live_list(
    app, live, facilitator
):
    facilitator.post(console_url(live, "start"))
    staff = signed_in(app, STAFF)
    cancelled = staff.post(
        f"/staff/sessions/{live.session_id}/cancel", data={"reason": "The trainer is ill."}
    )
    assert cancelled.status_code == 303, page_text(cancelled)

    console = facilitator.get(console_url(live))
    text = page_text(console)
    assert "This session was cancelled, so its walkthrough has stopped" in text
    assert "Reason given: The trainer is ill." in text
    for control in ('id="next-step"', 'id="previous-step"', 'id="end-session"'):
        assert control not in console.get_data(as_text=True)
    refused = facilitator.post(console_url(live, "next"), follow_redirects=True)
    assert "This session was cancelled, so its walkthrough has stopped." in page_text(refused)
    first_step = step_ids(app)[1]
    with app.app_context():
        live_row = db.session.get(LiveSession, live.session_id)
        assert live_row.ended_at is not None
        assert live_row.current_step_id == first_step

    participant = page_text(app.test_client().get(follow_url(live)))
    assert "The training staff cancelled your session (" in participant
    assert "Their reason: The trainer is ill." in participant
    assert "Step 1 of 8" not in participant
    for client in (facilitator, staff):
        listed = client.get("/staff/live/").get_data(as_text=True)
        item = re.search(rf'href="/staff/live/{live.session_id}".*?</li>', listed, re.S)
        assert item is not None
        assert "Cancelled" in item.group(0)


def test_a_walkthrough_started_before_the_scheduled_start_means_the_session_has_begun(
    app, live, facilitator, make_session
):
    other_session_id = make_session()
    moved = app.test_client().post(
        "/signup",
        data=signup_form(
            other_session_id,
            organization_name="Delta Clinic",
            contact_email="di@delta.example.org",
            attendee_emails="",
        ),
    )
    assert moved.status_code == 303
    facilitator.post(console_url(live, "start"))  # ten minutes before the scheduled start

    staff = signed_in(app, STAFF)
    sessions_page = staff.get("/staff/sessions").get_data(as_text=True)
    (row,) = [
        row
        for row in sessions_page.split("<tr")
        if f'href="/staff/sessions/{live.session_id}"' in row
    ]
    assert "Under way" in row
    assert f"/staff/sessions/{live.session_id}/edit" not in sessions_page
    home = app.test_client().get("/").get_data(as_text=True)
    assert f"session={live.session_id}" not in home

    with app.app_context():
        delta = db.session.scalars(
            select(Signup).where(Signup.organization_name == "Delta Clinic")
        ).one()
        delta_id = delta.id
        other = db.session.get(TrainingSession, other_session_id)
        targets = rosters_services.move_targets(other, live.starts_at - CONSOLE_USED_BEFORE_START)
        assert live.session_id not in [target.id for target in targets]
    refused = staff.post(
        f"/staff/sessions/{other_session_id}/signups/{delta_id}/move",
        data={"session_id": live.session_id},
        follow_redirects=True,
    )
    assert "Thu, Nov 26, 9:00–10:30 AM PT has started: choose another date." in page_text(refused)
    with app.app_context():
        assert db.session.get(Signup, delta_id).session_id == other_session_id


def test_a_session_started_early_is_under_way_everywhere_and_past_only_once_it_has_ended(
    app, live, clock
):
    """A facilitator may start the walkthrough in the check-in window: from then every page
    says the session is under way (its waitlist closed for that reason), never that it has
    taken place or is past, until its scheduled end."""
    clock.move_to(SIGNUPS_MADE_AT, tick=False)
    with app.app_context():
        db.session.get(TrainingSession, live.session_id).seats = 2  # the two booked fill it
        db.session.commit()
    waiting = app.test_client().post(
        "/signup",
        data=signup_form(
            live.session_id,
            organization_name="Delta Clinic",
            contact_email="di@delta.example.org",
            attendee_emails="",
        ),
    )
    delta_token = manage_token(waiting)
    clock.move_to(live.starts_at - timedelta(minutes=25), tick=False)
    fran = signed_in(app, FACILITATOR)
    assert fran.post(console_url(live, "start")).status_code == 303

    staff = signed_in(app, STAFF)
    roster = page_text(staff.get(f"/staff/sessions/{live.session_id}"))
    assert "Waitlist None: the session is under way" in roster
    assert "This session is under way, so no seat will come to these organizations" in roster
    assert "taken place" not in roster
    exported = staff.get(f"/staff/sessions/{live.session_id}/roster.csv").get_data(as_text=True)
    assert "waited (the session is under way: no seat)" in exported
    sessions_page = staff.get("/staff/sessions").get_data(as_text=True)
    (row,) = [r for r in sessions_page.split("<tr") if f"/staff/sessions/{live.session_id}" in r]
    assert "Under way" in page_text_of(row)
    manage = page_text(app.test_client().get(f"/manage/{delta_token}"))
    assert "this session is under way, so no seat will come from it" in manage
    assert "taken place" not in manage
    booked = page_text(app.test_client().get(f"/manage/{live.tokens[SIERRA]}"))
    assert "Your session started Thu, Nov 26, 2026, 8:35 AM PT, so this booking" in booked
    refused = app.test_client().post(f"/manage/{live.tokens[SIERRA]}/cancel", data={"confirm": "y"})
    assert refused.status_code == 409
    assert "Your session started Thu, Nov 26, 2026, 8:35 AM PT, so this booking" in page_text(
        refused
    )
    home = app.test_client().get("/").get_data(as_text=True)
    ahead, _, past = home.partition('<details class="past-sessions">')
    assert '<span class="badge">Under way</span>' in ahead
    assert "Past" not in home
    assert f"session={live.session_id}" not in home

    clock.move_to(live.ends_at, tick=False)
    roster = page_text(staff.get(f"/staff/sessions/{live.session_id}"))
    assert "Waitlist None: the session has taken place" in roster
    manage = page_text(app.test_client().get(f"/manage/{delta_token}"))
    assert "this session has taken place, so no seat will come from it" in manage
    home = app.test_client().get("/").get_data(as_text=True)
    ahead, _, past = home.partition('<details class="past-sessions">')
    assert "Show past sessions (1)" in past
    assert '<span class="badge">Past</span>' in past
    assert "Under way" not in home


def test_a_session_cannot_be_started_before_check_in_opens_and_says_when_it_can(app, live, clock):
    clock.move_to(live.starts_at - timedelta(minutes=31), tick=False)
    fran = signed_in(app, FACILITATOR)
    when = "Thu, Nov 26, 2026, 8:30 AM PT, 30 minutes before the session starts"
    console = page_text(fran.get(console_url(live)))
    assert f"The session can be started when check-in opens: {when}." in console
    refused = page_text(fran.post(console_url(live, "start"), follow_redirects=True))
    assert f"The session can be started when check-in opens: {when}." in refused
    with app.app_context():
        assert services.find_live(db.session.get(TrainingSession, live.session_id)) is None

    clock.move_to(live.starts_at - timedelta(minutes=30), tick=False)
    assert fran.post(console_url(live, "start")).status_code == 303
    assert "Step 1 of 8" in page_text(fran.get(console_url(live)))


def step_ids(app) -> dict[int, int]:
    """The walkthrough's step ids by position (1 to 8)."""
    with app.app_context():
        return dict(db.session.execute(select(WalkthroughStep.position, WalkthroughStep.id)).all())


def test_a_step_ahead_of_the_facilitator_cannot_be_marked_done(app, live, facilitator):
    participant = app.test_client()
    facilitator.post(console_url(live, "start"))
    response = participant.post(
        follow_url(live, action="done"), data={"step_id": step_ids(app)[8]}, follow_redirects=True
    )
    text = page_text(response)
    assert "That step is not on screen yet; here is the current one." in text
    assert "Marked done" not in text
    assert "Step 1 of 8: Collect learner permission" in text
    assert "Done with this step" in text
    assert "Done: step 8" not in page_text(facilitator.get(console_url(live)))


def test_a_stale_tab_cannot_mark_done_the_step_the_facilitator_left(app, live, facilitator):
    participant = app.test_client()
    facilitator.post(console_url(live, "start"))
    facilitator.post(console_url(live, "next"))
    response = participant.post(
        follow_url(live, action="done"), data={"step_id": step_ids(app)[1]}, follow_redirects=True
    )
    text = page_text(response)
    assert "That step is no longer on screen; here is the current one." in text
    assert "Marked done" not in text
    assert "Step 2 of 8: Find your activity in PARS" in text
    assert "Done: step 1" not in page_text(facilitator.get(console_url(live)))


def test_a_step_that_does_not_exist_is_refused_like_a_stale_one(app, live, facilitator):
    participant = app.test_client()
    facilitator.post(console_url(live, "start"))
    response = participant.post(
        follow_url(live, action="done"), data={"step_id": 999_999}, follow_redirects=True
    )
    assert "That step is no longer on screen; here is the current one." in page_text(response)


def test_help_and_done_days_before_the_session_are_refused_and_the_board_stays_quiet(
    app, live, facilitator, clock
):
    clock.move_to(live.starts_at - timedelta(days=3), tick=False)
    participant = app.test_client()
    help_page = page_text(participant.post(follow_url(live, action="help"), follow_redirects=True))
    assert "You can ask for help from when check-in opens: " in help_page
    assert "30 minutes before the session starts" in help_page
    assert "A facilitator knows you need help." not in help_page
    done_page = page_text(
        participant.post(
            follow_url(live, action="done"),
            data={"step_id": step_ids(app)[1]},
            follow_redirects=True,
        )
    )
    assert "The session has not started yet, so there is no step to mark done." in done_page

    clock.move_to(live.starts_at - CONSOLE_USED_BEFORE_START, tick=False)
    assert "Needs help" not in page_text(facilitator.get(console_url(live)))
    with app.app_context():
        assert db.session.scalars(select(LiveAttendance)).all() == []


def assert_help_and_done_refused_as_ended(app, live, participant) -> None:
    """A participant's I need help and Done with this step are both refused: it has ended."""
    help_page = page_text(participant.post(follow_url(live, action="help"), follow_redirects=True))
    assert "The session has ended, so no facilitator is watching for help now." in help_page
    done_page = page_text(
        participant.post(
            follow_url(live, action="done"),
            data={"step_id": step_ids(app)[1]},
            follow_redirects=True,
        )
    )
    assert "The session has ended, so steps can no longer be marked done." in done_page


def test_help_and_done_after_the_session_ended_are_refused(app, live, facilitator):
    participant = app.test_client()
    facilitator.post(console_url(live, "start"))
    facilitator.post(console_url(live, "end"))
    assert_help_and_done_refused_as_ended(app, live, participant)


def test_help_is_refused_until_check_in_opens_at_the_given_now(app, live):
    with app.app_context():
        signup = db.session.get(Signup, live.signup_ids[SIERRA])
        opens_at = services.checkin_opens_at(signup.session)
        with pytest.raises(services.LiveError, match="when check-in opens"):
            services.request_help(signup, now=opens_at - timedelta(seconds=1))
        services.request_help(signup, now=opens_at)
        attendance = db.session.scalars(select(LiveAttendance)).one()
        assert attendance.help_requested_at == opens_at
        db.session.rollback()


def test_help_and_done_past_the_scheduled_end_are_taken_until_follow_ups_go_out(
    app, live, facilitator, clock
):
    participant = app.test_client()
    facilitator.post(console_url(live, "start"))
    for name in (SIERRA, COAST):
        facilitator.post(
            console_url(live, f"check-in/{live.signup_ids[name]}"), data={"status": "present"}
        )
    clock.move_to(live.ends_at + timedelta(minutes=5), tick=False)
    # Running over: the facilitator has not pressed End, so a participant can still ask.
    help_page = page_text(participant.post(follow_url(live, action="help"), follow_redirects=True))
    assert "A facilitator has been told you need help." in help_page
    participant.post(follow_url(live, action="help/withdraw"))

    facilitator.post(console_url(live, "follow-ups"))
    page = page_text(participant.get(follow_url(live)))
    assert "The session has ended." in page
    assert "I need help" not in page
    assert "Done with this step" not in page
    assert_help_and_done_refused_as_ended(app, live, participant)
    assert "Needs help" not in page_text(facilitator.get(console_url(live)))


def test_help_and_done_after_follow_ups_are_refused_even_if_the_session_is_started_again(
    app, live, facilitator, clock
):
    participant = app.test_client()
    facilitator.post(console_url(live, "start"))
    for name in (SIERRA, COAST):
        facilitator.post(
            console_url(live, f"check-in/{live.signup_ids[name]}"), data={"status": "present"}
        )
    clock.move_to(live.ends_at + timedelta(minutes=5), tick=False)
    facilitator.post(console_url(live, "follow-ups"))
    facilitator.post(console_url(live, "start"))
    assert_help_and_done_refused_as_ended(app, live, participant)


def test_help_past_the_scheduled_end_of_a_session_never_started_is_refused(app, live, clock):
    clock.move_to(live.ends_at + timedelta(minutes=1), tick=False)
    participant = app.test_client()
    help_page = page_text(participant.post(follow_url(live, action="help"), follow_redirects=True))
    assert "The session has ended, so no facilitator is watching for help now." in help_page
    with app.app_context():
        assert db.session.scalars(select(LiveAttendance)).all() == []


def test_an_organization_marked_helped_reads_so_in_place_of_its_call_for_help(
    app, live, facilitator
):
    participant = app.test_client()
    facilitator.post(console_url(live, "start"))
    participant.post(follow_url(live, action="help"))
    facilitator.post(console_url(live, f"help/{live.signup_ids[SIERRA]}/clear"))

    # Without JavaScript: the Refresh link's page.
    text = page_text(participant.get(follow_url(live)))
    assert "A facilitator marked you as helped." in text
    assert "A facilitator knows you need help." not in text
    assert "I need help" in text
    state = participant.get(follow_url(live, action="state.json")).get_json()
    assert (state["needs_help"], state["was_helped"]) == (False, True)
    assert "A facilitator marked you as helped." in state["html"]

    participant.post(follow_url(live, action="help"))
    text = page_text(participant.get(follow_url(live)))
    assert "A facilitator knows you need help." in text
    assert "marked you as helped" not in text


def test_a_help_request_withdrawn_by_the_organization_is_not_said_to_be_a_facilitators(
    app, live, facilitator
):
    participant = app.test_client()
    facilitator.post(console_url(live, "start"))
    participant.post(follow_url(live, action="help"))
    participant.post(follow_url(live, action="help/withdraw"))
    assert "marked you as helped" not in page_text(participant.get(follow_url(live)))


def test_a_check_in_comes_back_to_the_organizations_row_saying_what_changed(app, live, facilitator):
    sierra = live.signup_ids[SIERRA]
    response = facilitator.post(console_url(live, f"check-in/{sierra}"), data={"status": "late"})
    assert response.headers["Location"] == console_url(live) + f"#org-{sierra}"
    console = facilitator.get(console_url(live))
    assert f"{SIERRA}: Joined late." in page_text(console)
    # The row the fragment names takes focus (forms.js puts it there).
    assert f'<tr id="org-{sierra}" tabindex="-1"' in console.get_data(as_text=True)


def test_a_no_show_that_presses_done_or_help_is_checked_in_as_joined_late_and_audited(
    app, live, facilitator
):
    sierra, coast = live.signup_ids[SIERRA], live.signup_ids[COAST]
    for signup_id in (sierra, coast):
        facilitator.post(console_url(live, f"check-in/{signup_id}"), data={"status": "no_show"})
    facilitator.post(console_url(live, "start"))
    app.test_client().post(follow_url(live, SIERRA, "done"), data={"step_id": step_ids(app)[1]})
    app.test_client().post(follow_url(live, COAST, "help"))

    board = facilitator.get(console_url(live, "board.json")).get_json()["board_html"]
    for signup_id in (sierra, coast):
        assert (
            f'id="checkin-{signup_id}-late" class="button button-small" aria-pressed="true"'
        ) in board
        assert f'id="checkin-{signup_id}-no_show" class="button button-small button-secondary"' in (
            board
        )
    with app.app_context():
        audited = db.session.execute(
            select(AuditEvent.organization_name, AuditEvent.actor, AuditEvent.details)
            .where(AuditEvent.action == "live.checked_in", AuditEvent.actor != FACILITATOR)
            .order_by(AuditEvent.id)
        ).all()
    assert [(name, details["status"], details["because"]) for name, _, details in audited] == [
        (SIERRA, "Joined late", "it pressed Done with this step while marked No-show"),
        (COAST, "Joined late", "it pressed I need help while marked No-show"),
    ]
