"""The signup list, duplicates, export, dashboard and audit pages cost the same number of SQL
queries with 5 signups as with 500."""

import secrets
import uuid
from contextlib import contextmanager
from datetime import timedelta

import pytest
from conftest import ATTESTATION, FROZEN_MOMENT, PASSWORD
from sqlalchemy import event

from training.audit.models import AuditEvent
from training.booking.models import Attendee, Signup, SignupChoice
from training.extensions import db, utcnow
from training.mail.models import OutboxMessage
from training.staff import services as staff_services

PAGES = [
    "/staff/signups",
    "/staff/signups?q=clinic&status=confirmed",
    "/staff/signups.csv",
    "/staff/duplicates",
    "/staff/",
    "/staff/audit/",
    "/staff/audit/?organization=clinic&since=2020-01-01",
]


@contextmanager
def counted_queries(app):
    """Collect every SQL statement the app sends while the block runs."""
    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def count(_connection, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def add_signups(app, program_id: int, session_ids: list[int], count: int) -> None:
    """Booked, waitlisted and cancelled signups, each with attendees, an event and an email."""
    statuses = ("confirmed", "waitlisted", "cancelled")
    with app.app_context():
        now = utcnow()
        for number in range(count):
            status = statuses[number % 3]
            session_id = session_ids[number % len(session_ids)]
            # Random names: a program of "Clinic 1", "Clinic 2"... would all look alike.
            name = f"{secrets.token_hex(5)} Clinic"
            signup = Signup(
                program_id=program_id,
                session_id=None if status == "waitlisted" else session_id,
                status=status,
                organization_name=name,
                organization_key=name.replace(" ", "").lower(),
                contact_name="Ana Reyes",
                contact_email=f"ana@{secrets.token_hex(4)}.example.org",
                attestation_text=ATTESTATION,
                attested_at=now,
                submission_key_hash=uuid.uuid4().hex,
                created_at=now - timedelta(hours=number),
                attendees=[
                    Attendee(
                        email=f"a{position}@{secrets.token_hex(4)}.example.org", position=position
                    )
                    for position in (1, 2)
                ],
                choices=[SignupChoice(rank=1, session_id=session_id)],
            )
            db.session.add(signup)
            db.session.add(
                AuditEvent(
                    actor="organization (public page)",
                    action="signup.created",
                    organization_name=name,
                    details={"status": status},
                )
            )
            if number % 10 == 0:
                db.session.add(
                    OutboxMessage(
                        kind="booking_confirmed",
                        recipients=[signup.contact_email],
                        subject="You're booked",
                        text_body="Hello",
                        message_id=f"<{uuid.uuid4().hex}@example.org>",
                        status="failed",
                        last_error="550 unavailable",
                    )
                )
        db.session.commit()


@pytest.mark.clock
@pytest.mark.parametrize("page", PAGES)
def test_a_page_costs_the_same_queries_for_5_and_500_signups(
    app, client, make_session, program_id, page, time_machine
):
    # The clock stands still: a sign-in used again a minute later is noted with one UPDATE
    # (STAFF_SESSION_TOUCH_SECONDS), which a slow machine reached between the two counts.
    time_machine.move_to(FROZEN_MOMENT, tick=False)
    session_ids = [make_session(starts_in=timedelta(days=days)) for days in (2, 3, 4)]
    with app.app_context():
        staff_services.create_staff("boss@cmadocs.example.org", PASSWORD, "admin")
        db.session.commit()
    client.post("/staff/sign-in", data={"email": "boss@cmadocs.example.org", "password": PASSWORD})

    add_signups(app, program_id, session_ids, 5)
    with counted_queries(app) as few:
        assert client.get(page).status_code == 200
    add_signups(app, program_id, session_ids, 495)
    with counted_queries(app) as many:
        assert client.get(page).status_code == 200
    assert len(few) == len(many), (page, len(few), len(many))
    assert len(many) <= 10, many
