"""Challenge reminders: one round per challenge when its deadline is a week away (or on the
first run after), counting down from the real dates, to booked organizations not yet there.
What is judged is what arrives at a real loopback SMTP server."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import manage_token, signup_form
from sqlalchemy import select

from training.booking.models import Program
from training.challenges.models import ChallengeReminder, ChallengeReminderRound
from training.challenges.services import send_challenge_reminders, send_due_challenge_reminders
from training.extensions import db
from training.mail.delivery import deliver_due

pytestmark = pytest.mark.clock

PACIFIC = ZoneInfo("America/Los_Angeles")
# The program's clocks are California's; signups opened the day before this moment.
SIGNING_UP = datetime(2026, 11, 20, 10, 0, tzinfo=PACIFIC)
ACCME_DUE = date(2026, 12, 4)
CMA_DUE = date(2027, 3, 31)


def pacific(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PACIFIC)


@pytest.fixture(autouse=True)
def signing_up(time_machine):
    time_machine.move_to(SIGNING_UP, tick=True)


@pytest.fixture
def program(app, program_id):
    """The test program, with the demo program's deadlines."""
    with app.app_context():
        program = db.session.get(Program, program_id)
        program.accme_challenge_due_on, program.cma_challenge_due_on = ACCME_DUE, CMA_DUE
        db.session.commit()
    return program_id


def sign_up(client, session_id: int, name: str) -> str:
    """Book ``name`` on ``session_id`` (or its waitlist); its manage token."""
    slug = name.split()[0].lower()
    form = signup_form(
        session_id,
        organization_name=name,
        contact_name=f"{name.split()[0]} Contact",
        contact_email=f"contact@{slug}.example.org",
        attendee_emails="",
    )
    return manage_token(client.post("/signup", data=form))


def record(client, token: str, *activity_ids: str) -> None:
    for activity_id in activity_ids:
        answer = client.post(
            f"/manage/{token}/challenges",
            data={"activity_id": activity_id, "entered_on": "2026-11-20", "learners": "9"},
        )
        assert answer.status_code == 303


def remind(app, program_id: int, now: datetime) -> int:
    """Run the reminders of ``program_id`` at ``now``; how many were queued."""
    with app.app_context():
        queued = send_challenge_reminders(db.session.get(Program, program_id), now)
        db.session.commit()
        return queued


def delivered(app, smtp) -> list[tuple[list[str], str, str]]:
    """Recipients, subject and text of each message that arrived since the last call, after
    delivering all that was queued."""
    with app.app_context():
        deliver_due()
    arrived, smtp.received = smtp.received, []
    result = []
    for received in arrived:
        message = received.message
        text = message.get_body(preferencelist=("plain",)).get_content()
        result.append((received.rcpt_tos, message["Subject"], " ".join(text.split())))
    return result


def test_reminders_go_once_when_the_deadline_is_a_week_away_to_booked_organizations_not_there(
    app, client, make_session, program, smtp
):
    soon, full = make_session(), make_session(seats=1)
    after_deadline = make_session(starts_in=timedelta(days=20))  # Dec 10, the deadline Dec 4
    behind = sign_up(client, soon, "Sierra Valley Medical Society")
    record(client, behind, "201234567")
    record(client, sign_up(client, soon, "Done Already Clinic"), "201234568", "201234569")
    sign_up(client, full, "Seated Surgeons Group")
    waiting = sign_up(client, full, "Waiting Room Health")
    cancelled = sign_up(client, soon, "Cancelled Care Partners")
    client.post(f"/manage/{cancelled}/cancel", data={"confirm": "y"})
    sign_up(client, after_deadline, "Later Date Associates")
    assert "waitlist" in client.get(f"/manage/{waiting}").get_data(as_text=True).lower()
    delivered(app, smtp)  # the bookings' confirmations

    assert remind(app, program, pacific(11, 26, 23, 59)) == 0
    assert remind(app, program, pacific(11, 27, 0, 0)) == 2
    assert remind(app, program, pacific(11, 27, 0, 1)) == 0
    assert remind(app, program, pacific(12, 2, 9)) == 0

    arrived = delivered(app, smtp)
    assert sorted(rcpts[0] for rcpts, _, _ in arrived) == [
        "contact@seated.example.org",
        "contact@sierra.example.org",
    ]
    # The organization in brackets, as on every email about a booking.
    assert sorted(subject for _, subject, _ in arrived) == [
        "One week left for the ACCME Challenge (Seated Surgeons Group)",
        "One week left for the ACCME Challenge (Sierra Valley Medical Society)",
    ]
    sierra = next(text for rcpts, _, text in arrived if rcpts == ["contact@sierra.example.org"])
    assert "The ACCME Challenge closes on Friday, December 4, 2026: one week from now." in sierra
    assert "for 2 different activities from Nov 19, 2026 to that day." in sierra
    assert "Sierra Valley Medical Society has recorded 1 of 2 so far." in sierra
    assert "https://training.example.org/manage/" in sierra and "/challenges" in sierra
    with app.app_context():
        assert db.session.scalars(select(ChallengeReminderRound.challenge)).all() == ["accme"]


@pytest.mark.parametrize(
    ("first_run", "subject", "countdown"),
    [
        (pacific(11, 29, 10), "5 days left for the ACCME Challenge", "5 days from now"),
        (pacific(12, 3, 8), "The ACCME Challenge closes tomorrow", "tomorrow"),
        (pacific(12, 4, 23, 30), "The ACCME Challenge closes today", "today"),
    ],
)
def test_a_late_first_run_counts_down_from_the_real_dates(
    app, client, make_session, program, smtp, first_run, subject, countdown
):
    sign_up(client, make_session(), "Sierra Valley Medical Society")
    delivered(app, smtp)  # the booking's confirmation
    assert remind(app, program, first_run) == 1
    [(_, arrived_subject, text)] = delivered(app, smtp)
    assert arrived_subject == f"{subject} (Sierra Valley Medical Society)"
    assert f"closes on Friday, December 4, 2026: {countdown}." in text
    assert "one week" not in text


def test_no_reminder_goes_once_the_deadline_has_passed(app, client, make_session, program, smtp):
    sign_up(client, make_session(), "Sierra Valley Medical Society")
    delivered(app, smtp)  # the booking's confirmation
    assert remind(app, program, pacific(12, 5, 0, 0)) == 0
    assert delivered(app, smtp) == []
    with app.app_context():
        assert db.session.scalars(select(ChallengeReminderRound)).all() == []


def test_an_organization_that_books_after_the_reminders_went_gets_none(
    app, client, make_session, program, smtp, time_machine
):
    sign_up(client, make_session(), "Sierra Valley Medical Society")
    assert remind(app, program, pacific(11, 27, 6)) == 1
    # Five days before the deadline, a new organization signs up: no "one week left" for it.
    time_machine.move_to(pacific(11, 29, 9), tick=True)
    sign_up(client, make_session(), "Newcomer Health Partners")
    confirmations = delivered(app, smtp)
    with app.app_context():
        assert send_due_challenge_reminders(pacific(11, 29, 9, 0, 30)) == 0
        db.session.commit()
    reminders = [(rcpts, subject) for rcpts, subject, _ in confirmations if "Challenge" in subject]
    assert reminders == [
        (
            ["contact@sierra.example.org"],
            "One week left for the ACCME Challenge (Sierra Valley Medical Society)",
        )
    ]
    assert delivered(app, smtp) == []


def test_the_cma_reminder_counts_toward_four_in_its_own_round(
    app, client, make_session, program, smtp
):
    halfway = sign_up(client, make_session(), "Sierra Valley Medical Society")
    record(client, halfway, "201234567", "201234568")
    sign_up(client, make_session(starts_in=timedelta(days=20)), "Later Date Associates")
    record(
        client,
        sign_up(client, make_session(), "Done Already Clinic"),
        "201234561",
        "201234562",
        "201234563",
        "201234564",
    )
    delivered(app, smtp)  # the bookings' confirmations
    # The ACCME round: Sierra Valley met it, the later date is after its deadline.
    assert remind(app, program, pacific(11, 27, 6)) == 0
    assert remind(app, program, pacific(3, 24, 9, year=2027)) == 2
    assert remind(app, program, pacific(3, 25, 9, year=2027)) == 0
    arrived = delivered(app, smtp)
    cma = {rcpts[0]: text for rcpts, subject, text in arrived if "CMA" in subject}
    assert sorted(cma) == ["contact@later.example.org", "contact@sierra.example.org"]
    assert sorted(s for _, s, _ in arrived) == [
        "One week left for the CMA Challenge (Later Date Associates)",
        "One week left for the CMA Challenge (Sierra Valley Medical Society)",
    ]
    sierra = cma["contact@sierra.example.org"]
    assert "The CMA Challenge closes on Wednesday, March 31, 2027: one week from now." in sierra
    assert "two of them by Dec 4, 2026 (the ACCME Challenge)" in sierra
    assert "Sierra Valley Medical Society has recorded 2 of 4 so far." in sierra
    with app.app_context():
        reminded = db.session.scalars(
            select(ChallengeReminder.challenge).order_by(ChallengeReminder.id)
        ).all()
    assert reminded == ["cma", "cma"]
