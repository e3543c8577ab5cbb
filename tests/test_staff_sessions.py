"""Staff sign-ins end on the server: sign-out, idle time and lifetime end every copy of a cookie;
failed sign-ins and downloads of personal data are audited."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from conftest import PASSWORD, manage_token, page_text, signup_form
from sqlalchemy import event, select

from training.audit.models import AuditEvent
from training.errors import wait_message
from training.extensions import db
from training.sandbox.models import SandboxAttempt
from training.staff.models import StaffSession
from training.staff.services import create_staff

pytestmark = pytest.mark.clock

EMAIL = "pat@cmadocs.example.org"
MONDAY_MORNING = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # 8 AM in California


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(MONDAY_MORNING, tick=False)
    return time_machine


@pytest.fixture
def account(app):
    with app.app_context():
        create_staff(EMAIL, PASSWORD, "staff")
        db.session.commit()


def sign_in(app):
    client = app.test_client()
    response = client.post("/staff/sign-in", data={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 303
    return client


def copy_of(app, client):
    """Another browser holding a copy of ``client``'s session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def is_signed_in(client) -> bool:
    return client.get("/staff/signups.csv").status_code == 200


def test_signing_out_ends_the_session_for_every_copy_of_the_cookie(app, clock, account):
    browser = sign_in(app)
    copy = copy_of(app, browser)
    assert is_signed_in(copy)
    browser.post("/staff/sign-out")
    answer = copy.get("/staff/signups.csv")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/staff/sign-in")
    with app.app_context():
        assert db.session.scalars(select(StaffSession.ended_at)).one() == MONDAY_MORNING


def test_a_session_unused_for_eight_hours_ends(app, clock, account):
    browser = sign_in(app)
    copy = copy_of(app, browser)
    clock.shift(timedelta(hours=7, minutes=59))
    assert is_signed_in(browser)
    clock.shift(timedelta(hours=8, minutes=1))
    assert not is_signed_in(browser)
    assert not is_signed_in(copy)


def test_use_keeps_a_session_alive_until_seven_days_after_signing_in(app, clock, account):
    browser = sign_in(app)
    for _ in range(23):  # every 7 hours: never idle for 8
        clock.shift(timedelta(hours=7))
        assert is_signed_in(browser)
    clock.shift(timedelta(hours=7))  # 168 hours after signing in
    assert not is_signed_in(browser)


def test_the_limits_come_from_the_settings(app, clock, account):
    app.config.update(STAFF_SESSION_IDLE_HOURS=1, STAFF_SESSION_LIFETIME_DAYS=0.5)
    browser = sign_in(app)
    clock.shift(timedelta(minutes=59))
    assert is_signed_in(browser)
    clock.shift(timedelta(minutes=61))
    assert not is_signed_in(browser)
    browser = sign_in(app)
    for _ in range(14):  # 11 h 40 min in all, never idle for an hour
        clock.shift(timedelta(minutes=50))
        assert is_signed_in(browser)
    clock.shift(timedelta(minutes=50))  # past half a day since signing in
    assert not is_signed_in(browser)


def test_last_use_is_written_at_most_once_a_minute(app, clock, account):
    browser = sign_in(app)
    with app.app_context():
        engine = db.engine
    writes: list[str] = []

    def note(_connection, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("UPDATE STAFF_SESSIONS"):
            writes.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        for _ in range(5):
            clock.shift(timedelta(seconds=10))
            assert browser.get("/staff/").status_code == 200
        assert writes == []
        clock.shift(timedelta(seconds=20))
        browser.get("/staff/")
        browser.get("/staff/")
        assert len(writes) == 1
    finally:
        event.remove(engine, "before_cursor_execute", note)
    with app.app_context():
        assert db.session.scalars(select(StaffSession.last_seen_at)).one() == (
            MONDAY_MORNING + timedelta(seconds=70)
        )


def test_a_changed_password_still_signs_out_other_sessions(app, clock, account):
    laptop, phone = sign_in(app), sign_in(app)
    laptop.post(
        "/staff/password",
        data={
            "current_password": PASSWORD,
            "new_password": "a much longer new password",
            "confirm_password": "a much longer new password",
        },
    )
    assert is_signed_in(laptop)
    assert not is_signed_in(phone)


def test_failed_sign_ins_are_audited_without_what_was_typed(app, clock, account):
    client = app.test_client()
    client.post("/staff/sign-in", data={"email": EMAIL, "password": "not the password"})
    client.post("/staff/sign-in", data={"email": "my secret password", "password": "x"})
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "staff.sign_in_failed")
        ).all()
        assert [event.details for event in events] == [
            {"account": EMAIL, "reason": "wrong password"},
            {"reason": "no such account"},
        ]
        assert all("my secret password" not in str(event.details) for event in events)


def failed_sign_ins(app) -> list[dict]:
    with app.app_context():
        return [
            event.details
            for event in db.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "staff.sign_in_failed")
                .order_by(AuditEvent.id)
            )
        ]


def test_a_sign_in_with_an_empty_password_is_audited_as_failed(app, clock, account):
    client = app.test_client()
    answer = client.post("/staff/sign-in", data={"email": EMAIL, "password": ""})
    client.post("/staff/sign-in", data={"email": "", "password": "my secret password"})

    assert "Enter your password." in page_text(answer)
    assert failed_sign_ins(app) == [
        {"account": EMAIL, "reason": "no password given"},
        {"reason": "no email given"},
    ]
    assert "my secret password" not in str(failed_sign_ins(app))


def test_sign_ins_refused_by_the_rate_limit_are_audited_as_failed(app, clock, account):
    app.config["SIGN_IN_RATE_LIMIT"] = "2 per minute;5 per hour"
    client = app.test_client()
    answers = [
        client.post("/staff/sign-in", data={"email": EMAIL, "password": "my secret password"})
        for _ in range(3)
    ]

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert failed_sign_ins(app) == [
        {"account": EMAIL, "reason": "wrong password"},
        {"account": EMAIL, "reason": "wrong password"},
        {"account": EMAIL, "reason": "too many attempts"},
    ]
    assert "my secret password" not in str(failed_sign_ins(app))


@pytest.mark.parametrize(("minutes_later", "wait"), [(20, "40 minutes"), (58, "2 minutes")])
def test_the_rate_limit_page_says_how_long_an_hourly_limit_makes_you_wait(
    app, clock, account, minutes_later, wait
):
    app.config["SIGN_IN_RATE_LIMIT"] = "1 per hour"
    client = app.test_client()
    client.post("/staff/sign-in", data={"email": EMAIL, "password": "not the password"})
    clock.move_to(MONDAY_MORNING + timedelta(minutes=minutes_later), tick=False)

    answer = client.post("/staff/sign-in", data={"email": EMAIL, "password": "not it either"})

    assert answer.status_code == 429
    retry_after = int(answer.headers["Retry-After"])
    assert (60 - minutes_later) * 60 <= retry_after <= (60 - minutes_later) * 60 + 1
    assert f"Try again in about {wait}." in page_text(answer)
    assert "wait a minute" not in page_text(answer)


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (20, "Please wait a minute and try again."),
        (2664, "Try again in about 44 minutes."),
        (3 * 3600 - 5, "Try again in about 3 hours."),
    ],
)
def test_a_wait_is_said_in_minutes_or_hours_as_long_as_it_is(seconds, said):
    assert said in wait_message(seconds)


def test_downloads_of_personal_data_are_audited(app, clock, account, make_session, client):
    session_id = make_session()
    client.post("/signup", data=signup_form(session_id))
    staff = sign_in(app)
    for path in (
        f"/staff/sessions/{session_id}/roster.csv",
        f"/staff/sessions/{session_id}/roster.xlsx",
        "/staff/signups.csv",
        "/staff/signups.xlsx",
        "/staff/challenges.csv",
    ):
        assert staff.get(path).status_code == 200, path
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action.like("%.exported")).order_by(AuditEvent.id)
        ).all()
        assert [(event.action, event.actor, event.details.get("rows")) for event in events] == [
            ("roster.exported", EMAIL, 1),
            ("roster.exported", EMAIL, 1),
            ("signups.exported", EMAIL, 1),
            ("signups.exported", EMAIL, 1),
            ("challenge_progress.exported", EMAIL, 1),
        ]


def test_staff_downloads_of_sandbox_findings_are_audited(app, clock, account, make_session, client):
    token = manage_token(client.post("/signup", data=signup_form(make_session())))
    client.post(
        f"/manage/{token}/sandbox/uploads",
        data={"learner_file": (io.BytesIO(b"not,a,learner,file\r\n"), "x.csv")},
        content_type="multipart/form-data",
    )
    staff = sign_in(app)
    with app.app_context():
        attempt = db.session.scalars(select(SandboxAttempt)).one()
        signup_id, attempt_id = attempt.signup_id, attempt.id
    own = client.get(f"/manage/{token}/sandbox/attempts/{attempt_id}/findings.csv")
    assert own.get_data(as_text=True).startswith("\ufeffrow,column")
    answer = staff.get(f"/staff/sandbox/{signup_id}/attempts/{attempt_id}/findings.csv")
    assert answer.get_data(as_text=True).startswith("\ufeffrow,column")
    with app.app_context():
        [event] = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "sandbox_findings.exported")
        ).all()
        assert (event.actor, event.signup_id, event.details["upload"]) == (
            EMAIL,
            signup_id,
            attempt_id,
        )
