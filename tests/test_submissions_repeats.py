"""A form sent twice (double click, retry, Back button) acts once, on SQLite and PostgreSQL."""

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import PASSWORD, manage_token, page_text, signup_form
from sqlalchemy import func, select

from training import PROJECT_ROOT
from training.audit.models import AuditEvent
from training.booking.models import Signup, TrainingSession
from training.challenges.models import ChallengeDrawing, ChallengeEntry
from training.extensions import db
from training.live import steps as live_steps
from training.live.models import LiveSession
from training.staff.services import create_staff
from training.submissions.guard import REPEAT_MESSAGE
from training.submissions.models import FormSubmission

TEMPLATES = Path(PROJECT_ROOT) / "templates"
# A repeat of either changes nothing more, so they carry no key.
UNGUARDED = {"staff.sign_in", "staff.sign_out"}
KEY = "Kc1bq3Zr8Qm2Vx7Tn5Lw0Hs4"


@pytest.fixture(autouse=True)
def tuesday_before_thanksgiving(time_machine):
    """Every test here runs on a clock frozen (ticking) at 10 AM on Nov 24, 2026, Pacific."""
    time_machine.move_to(datetime(2026, 11, 24, 18, 0, tzinfo=UTC), tick=True)


def signed_in(app, role="staff"):
    client = app.test_client()
    with app.app_context():
        create_staff(f"{role}@cmadocs.example.org", PASSWORD, role)
        db.session.commit()
    client.post(
        "/staff/sign-in", data={"email": f"{role}@cmadocs.example.org", "password": PASSWORD}
    )
    return client


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def new_session_form(**changes) -> dict:
    form = {
        "day": "2026-12-14",
        "starts_at": "10:00",
        "ends_at": "11:30",
        "seats": "8",
        "meeting_url": "https://meet.example.org/pars",
        "submission_key": KEY,
    }
    return {**form, **changes}


def test_every_view_that_takes_a_form_is_guarded_by_a_one_time_key(app):
    for rule in app.url_map.iter_rules():
        if "POST" in rule.methods and rule.endpoint not in UNGUARDED:
            view = app.view_functions[rule.endpoint]
            assert getattr(view, "once_per_submission", False), f"POST {rule.rule} is unguarded"


def test_every_form_that_changes_something_carries_a_one_time_key():
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        for form in re.finditer(r"<form\b([^>]*)>(.*?)</form>", text, flags=re.S):
            attributes, body = form.groups()
            if 'method="post"' not in attributes or re.search(r"staff\.sign_(in|out)", attributes):
                continue
            if template.name == "sign_in.html":
                continue
            assert body.count("{{ submission_key() }}") == 1, f"{template}: {attributes}"


def test_each_form_on_a_page_has_its_own_key(app, client, make_session):
    session_id = make_session()
    client.post("/signup", data=signup_form(session_id))
    client.post("/signup", data=signup_form(session_id, organization_name="Lakeside Health"))
    staff = signed_in(app)
    page = staff.get(f"/staff/sessions/{session_id}").get_data(as_text=True)
    keys = re.findall(r'name="submission_key" type="hidden" value="([^"]+)"', page)
    assert len(keys) >= 4
    assert len(set(keys)) == len(keys)


def test_a_form_without_a_key_is_refused_as_out_of_date(app):
    staff = signed_in(app)
    response = staff.post("/staff/sessions/new", data=new_session_form(submission_key=""))
    assert response.status_code == 400
    assert "This form is out of date" in page_text(response)
    assert count(app, TrainingSession) == 0


def test_a_session_form_sent_twice_creates_one_session_and_both_end_on_its_roster(app, program_id):
    staff = signed_in(app)
    first = staff.post("/staff/sessions/new", data=new_session_form())
    second = staff.post("/staff/sessions/new", data=new_session_form())
    assert count(app, TrainingSession) == 1
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert re.fullmatch(r"/staff/sessions/\d+", second.headers["Location"])
    assert REPEAT_MESSAGE in page_text(staff.get(second.headers["Location"]))
    with app.app_context():
        created = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "session.created")
        ).all()
        assert len(created) == 1


def test_an_edited_form_sent_again_with_the_same_key_is_acted_on(app, program_id):
    """The Back button brings a form back with its key; what was changed is a new submission."""
    staff = signed_in(app)
    staff.post("/staff/sessions/new", data=new_session_form())
    staff.post("/staff/sessions/new", data=new_session_form(starts_at="14:00", ends_at="15:30"))
    assert count(app, TrainingSession) == 2


def test_a_session_form_sent_again_after_back_asks_before_a_second_session_at_that_time(
    app, program_id
):
    """Pages are not cached: Back redraws the form with a new key, so the key cannot tell."""
    staff = signed_in(app)
    first = staff.post("/staff/sessions/new", data=new_session_form(submission_key=f"{KEY}a"))
    again = staff.post("/staff/sessions/new", data=new_session_form(submission_key=f"{KEY}b"))

    assert first.status_code == 303
    assert again.status_code == 200
    text = page_text(again)
    assert "already starts at this time" in text
    assert "Create it anyway" in text
    assert f'href="{first.headers["Location"]}"' in again.get_data(as_text=True)
    assert count(app, TrainingSession) == 1

    anyway = new_session_form(submission_key=f"{KEY}c", create_anyway="y")
    assert staff.post("/staff/sessions/new", data=anyway).status_code == 303
    assert count(app, TrainingSession) == 2


def test_a_failed_form_sent_again_is_acted_on(app, program_id):
    staff = signed_in(app)
    refused = staff.post("/staff/sessions/new", data=new_session_form(seats="0"))
    assert "Use between 1 and 500 seats." in page_text(refused)
    assert count(app, FormSubmission) == 0
    staff.post("/staff/sessions/new", data=new_session_form(seats="0"))
    assert count(app, TrainingSession) == 0
    assert staff.post("/staff/sessions/new", data=new_session_form()).status_code == 303
    assert count(app, TrainingSession) == 1


def test_a_challenge_entry_and_a_drawing_sent_twice_count_once(app, client, make_session):
    token = manage_token(client.post("/signup", data=signup_form(make_session())))
    staff = signed_in(app)
    with app.app_context():
        signup_id = db.session.scalar(select(func.min(Signup.id)))
    for activity_id in ("201234567", "201234568"):
        entry = {
            "activity_id": activity_id,
            "entered_on": "2026-11-24",
            "learners": "12",
            "signup_id": str(signup_id),
            "submission_key": f"{KEY}{activity_id}",
        }
        for _ in range(2):
            assert staff.post("/staff/challenges", data=entry).status_code == 303
    assert count(app, ChallengeEntry) == 2
    with app.app_context():
        entry_ids = db.session.scalars(select(ChallengeEntry.id)).all()
    for entry_id in entry_ids:
        staff.post(f"/staff/challenges/entries/{entry_id}/verify")
    drawing = {"challenge": "accme", "winners": "1", "submission_key": KEY}
    answers = [staff.post("/staff/challenges/drawing", data=drawing) for _ in range(2)]
    assert count(app, ChallengeDrawing) == 1
    assert {answer.headers["Location"] for answer in answers} == {"/staff/challenges#drawings"}
    assert "Re-run gives the same winners" in page_text(staff.get("/staff/challenges"))
    assert f"/manage/{token}" not in page_text(staff.get("/staff/challenges"))


def test_a_drawing_run_again_shows_the_one_that_stands_unless_an_admin_gives_a_reason(
    app, client, make_session
):
    client.post("/signup", data=signup_form(make_session()))
    staff, admin = signed_in(app, "staff"), signed_in(app, "admin")
    with app.app_context():
        signup_id = db.session.scalar(select(func.min(Signup.id)))
    for activity_id in ("201234567", "201234568"):
        entry = {"activity_id": activity_id, "entered_on": "2026-11-24", "learners": "12"}
        staff.post("/staff/challenges", data={**entry, "signup_id": str(signup_id)})
    with app.app_context():
        entry_ids = db.session.scalars(select(ChallengeEntry.id)).all()
    for entry_id in entry_ids:
        staff.post(f"/staff/challenges/entries/{entry_id}/verify")
    drawing = {"challenge": "accme", "winners": "1"}
    staff.post("/staff/challenges/drawing", data={**drawing, "submission_key": f"{KEY}a"})
    with app.app_context():
        first_id = db.session.scalar(select(ChallengeDrawing.id))

    again = staff.post("/staff/challenges/drawing", data={**drawing, "submission_key": f"{KEY}b"})
    assert again.headers["Location"] == f"/staff/challenges#drawing-{first_id}"
    shown = page_text(staff.get(again.headers["Location"]))
    assert f"The ACCME Challenge was already drawn (drawing {first_id}, below)" in shown
    not_admin = staff.post("/staff/challenges/drawing", data={**drawing, "redraw_reason": "Why"})
    assert "Only an admin can draw again." in page_text(staff.get(not_admin.headers["Location"]))
    assert count(app, ChallengeDrawing) == 1

    reason = "The first drawing counted an entry verified by mistake."
    admin.post("/staff/challenges/drawing", data={**drawing, "redraw_reason": reason})
    page = page_text(admin.get("/staff/challenges"))
    assert f"{first_id}: replaced" in page
    assert f"{first_id + 1}: stands (drawn again: {reason})" in page
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "challenge.drawing")
            .order_by(AuditEvent.id.desc())
        ).first()
        assert (event.details["redraw_reason"], event.details["replaces"]) == (reason, first_id)


def test_a_repeat_on_a_manage_page_goes_back_to_that_manage_page(app, client, make_session):
    token = manage_token(client.post("/signup", data=signup_form(make_session())))
    entry = {
        "activity_id": "201234567",
        "entered_on": "2026-11-24",
        "learners": "3",
        "submission_key": KEY,
    }
    first = client.post(f"/manage/{token}/challenges", data=entry)
    second = client.post(f"/manage/{token}/challenges", data=entry)
    assert first.headers["Location"] == second.headers["Location"]
    assert second.headers["Location"] == f"/manage/{token}/challenges"
    assert count(app, ChallengeEntry) == 1
    with app.app_context():
        paths = db.session.scalars(select(FormSubmission.result_path)).all()
    assert all(token not in path for path in paths)
    assert "/manage/<token>/challenges" in paths


def test_next_step_sent_twice_moves_one_step(app, client, make_session, time_machine):
    session_id = make_session()
    client.post("/signup", data=signup_form(session_id))
    with app.app_context():
        live_steps.seed_walkthrough(Path(PROJECT_ROOT) / "seed" / "walkthrough")
        db.session.commit()
        starts_at = db.session.get(TrainingSession, session_id).starts_at
    time_machine.move_to(starts_at - timedelta(minutes=5), tick=True)  # check-in is open
    staff = signed_in(app)
    staff.post(f"/staff/live/{session_id}/start")
    for _ in range(2):
        staff.post(f"/staff/live/{session_id}/next", data={"submission_key": KEY})
    with app.app_context():
        live = db.session.scalars(select(LiveSession)).one()
        steps = live_steps.walkthrough()
        assert live_steps.step_position(live.current_step, steps) == 2


def test_two_copies_sent_at_the_same_moment_create_one_session(app, program_id):
    clients = [signed_in(app, "staff")]
    other = app.test_client()
    other.post("/staff/sign-in", data={"email": "staff@cmadocs.example.org", "password": PASSWORD})
    clients.append(other)
    barrier = threading.Barrier(len(clients))

    def send(client):
        barrier.wait()
        return client.post("/staff/sessions/new", data=new_session_form())

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        answers = list(pool.map(send, clients))
    assert [answer.status_code for answer in answers] == [303, 303]
    assert answers[0].headers["Location"] == answers[1].headers["Location"]
    assert count(app, TrainingSession) == 1


@pytest.mark.parametrize("path", ["/staff/sign-in"])
def test_signing_in_twice_needs_no_key(app, path):
    with app.app_context():
        create_staff("pat@cmadocs.example.org", PASSWORD, "staff")
        db.session.commit()
    form = {"email": "pat@cmadocs.example.org", "password": PASSWORD, "submission_key": ""}
    assert app.test_client().post(path, data=form).status_code == 303
