"""Roster exports (CSV and XLSX) and the roster's bounded number of SQL queries."""

import csv
import io
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from conftest import ATTESTATION, FROZEN_MOMENT, signup_form
from openpyxl import load_workbook
from sqlalchemy import event, select

from training.booking.models import Attendee, Signup, SignupChoice, TrainingSession
from training.extensions import db
from training.mail.models import OutboxMessage
from training.rosters.exports import COLUMNS, roster_rows
from training.rosters.services import load_roster

pytestmark = pytest.mark.clock

# The roster's session: December 1 of a year always ahead, whenever the tests run.
YEAR = 2099
# When the seeded organizations signed up (their rows only need a moment).
SEEDED_AT = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)


@pytest.fixture
def december_session(make_session):
    """A session on December 1 next year, 10:00–11:30 AM in Los Angeles."""
    starts_at = datetime(YEAR, 12, 1, 18, 0, tzinfo=UTC)
    return make_session(starts_at=starts_at, ends_at=starts_at + timedelta(minutes=90))


@pytest.fixture
def dangerous_roster(app, client, december_session):
    """One organization whose details start with formula characters, and one waitlisted."""
    client.post(
        "/signup",
        data=signup_form(
            december_session,
            organization_name='=HYPERLINK("http://evil.example","Click")',
            provider_id="0012345",
            contact_phone="+1 916 555 0100",
        ),
    )
    with app.app_context():
        session = db.session.get(TrainingSession, december_session)
        session.seats = 1
        signup = db.session.scalars(select(Signup)).one()
        signup.contact_name = "@SUM(1+1)"
        signup.staff_notes = "-2+3 needs captioning"
        db.session.commit()
    client.post("/signup", data=signup_form(december_session, organization_name="Waiting Clinic"))
    return december_session


def test_the_csv_export_lists_the_roster_with_formulas_neutralized(staff_client, dangerous_roster):
    response = staff_client.get(f"/staff/sessions/{dangerous_roster}/roster.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    year = YEAR
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="roster-{year}-12-01.csv"'
    )
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert rows[0] == list(COLUMNS)
    booked = dict(zip(COLUMNS, rows[1], strict=True))
    assert booked["Organization"] == '\'=HYPERLINK("http://evil.example","Click")'
    assert booked["Provider ID"] == "0012345"
    assert booked["Contact name"] == "'@SUM(1+1)"
    assert booked["Contact email"] == "ana.reyes@sierravalley.example.org"
    assert booked["Contact phone"] == "'+1 916 555 0100"
    assert booked["Attendees"] == "lee@sierravalley.example.org; kim@sierravalley.example.org"
    assert booked["Status"] == "booked"
    assert booked["Session date"] == f"{year}-12-01, 10:00–11:30 AM PT"
    assert booked["Signed up"].endswith(" PT")
    assert booked["Attested"].endswith(" PT")
    assert booked["Staff notes"] == "'-2+3 needs captioning"
    waiting = dict(zip(COLUMNS, rows[2], strict=True))
    assert (waiting["Organization"], waiting["Status"]) == (
        "Waiting Clinic",
        "waitlisted (number 1 in line)",
    )
    assert len(rows) == 3


@pytest.mark.parametrize(
    ("moment", "status"),
    [
        (datetime(YEAR, 12, 1, 18, 5, tzinfo=UTC), "waited (the session is under way: no seat)"),
        (
            datetime(YEAR, 12, 1, 19, 30, tzinfo=UTC),
            "waited (the session has taken place: no seat)",
        ),
    ],
)
def test_once_the_session_has_begun_the_export_marks_who_waited_not_a_place_in_line(
    app, dangerous_roster, moment, status
):
    with app.app_context():
        session = db.session.get(TrainingSession, dangerous_roster)
        rows = roster_rows(load_roster(session, moment))
    waited = dict(zip(COLUMNS, rows[1], strict=True))
    assert (waited["Organization"], waited["Status"]) == ("Waiting Clinic", status)


def test_the_xlsx_export_holds_the_same_cells_as_text_never_formulas(
    staff_client, dangerous_roster
):
    response = staff_client.get(f"/staff/sessions/{dangerous_roster}/roster.xlsx")
    assert response.status_code == 200
    year = YEAR
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="roster-{year}-12-01.xlsx"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0] == list(COLUMNS)
    # Text cells hold the values exactly: no apostrophe for staff to read, and never a formula.
    assert rows[1][0] == '=HYPERLINK("http://evil.example","Click")'
    assert rows[1][2] == "@SUM(1+1)"
    assert rows[1][4] == "+1 916 555 0100"
    assert rows[1][10] == "-2+3 needs captioning"
    assert all(cell.data_type == "s" for row in sheet.iter_rows() for cell in row if cell.value)
    assert rows[2][0] == "Waiting Clinic"
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def seed_roster(app, session_id: int, booked: int, waitlisted: int) -> None:
    """Put organizations straight into the tables: each with two attendees and two emails."""
    with app.app_context():
        session = db.session.get(TrainingSession, session_id)
        session.seats = session.seats_booked = booked
        now = SEEDED_AT
        for number in range(booked + waitlisted):
            is_booked = number < booked
            signup = Signup(
                program_id=session.program_id,
                session_id=session_id if is_booked else None,
                status="confirmed" if is_booked else "waitlisted",
                organization_name=f"Clinic {session_id}-{number}",
                organization_key=f"clinic {session_id} {number}",
                contact_name=f"Contact {number}",
                contact_email=f"contact{number}@clinic.example.org",
                attestation_text=ATTESTATION,
                attested_at=now,
                submission_key_hash=uuid.uuid4().hex,
                confirmed_at=now if is_booked else None,
                attendees=[
                    Attendee(email=f"a{number}@clinic.example.org", position=1),
                    Attendee(email=f"b{number}@clinic.example.org", position=2),
                ],
                choices=[SignupChoice(rank=1, session_id=session_id)],
            )
            db.session.add(signup)
            for status in ("sent", "failed"):
                db.session.add(
                    OutboxMessage(
                        kind="booking_confirmed",
                        signup=signup,
                        recipients=[signup.contact_email],
                        subject="You're booked",
                        text_body="...",
                        message_id=f"<{uuid.uuid4().hex}@example.org>",
                        status=status,
                        last_error="550 no such user" if status == "failed" else None,
                    )
                )
        db.session.commit()


@contextmanager
def counting_queries(app):
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def queries_for(app, client, url: str) -> int:
    with counting_queries(app) as statements:
        response = client.get(url)
    assert response.status_code == 200
    return len(statements)


@pytest.fixture
def still_clock(time_machine):
    """The clock stopped before staff sign in: a sign-in used again a minute later is noted with
    one UPDATE (STAFF_SESSION_TOUCH_SECONDS), which a slow machine reached between two counts."""
    time_machine.move_to(FROZEN_MOMENT, tick=False)


@pytest.mark.clock
@pytest.mark.parametrize("page", ["", "/roster.csv"])
def test_the_roster_runs_the_same_queries_for_5_or_500_signups(
    app, still_clock, staff_client, make_session, page
):
    small, large = make_session(), make_session(starts_in=timedelta(days=6))
    seed_roster(app, small, booked=5, waitlisted=1)
    seed_roster(app, large, booked=500, waitlisted=100)
    small_count = queries_for(app, staff_client, f"/staff/sessions/{small}{page}")
    large_count = queries_for(app, staff_client, f"/staff/sessions/{large}{page}")
    assert small_count == large_count
    assert small_count <= 12
    if not page:
        text = staff_client.get(f"/staff/sessions/{large}").get_data(as_text=True)
        assert "Booked (500)" in text and "Waitlist (100)" in text
        assert text.count("Last error: 550 no such user") == 600
