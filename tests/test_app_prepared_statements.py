"""PostgreSQL: statements run often stay prepared across requests that only read, and a
transaction that wrote or failed is still rolled back."""

import pytest
from conftest import signup_form
from sqlalchemy import select, text, update

from training.booking.models import Program
from training.extensions import db

pytestmark = pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


def prepared_statements(app) -> list[str]:
    """What the app's pooled connection has prepared on the server (one connection: the test
    client's requests take turns)."""
    with app.app_context():
        statements = db.session.scalars(text("SELECT statement FROM pg_prepared_statements"))
        return list(statements)


def test_the_health_check_and_the_signup_page_run_prepared_after_a_few_visits(
    app, client, make_session
):
    make_session()
    for _ in range(6):
        assert client.get("/healthz").status_code == 200
        assert client.get("/signup").status_code == 200
    prepared = prepared_statements(app)
    assert "SELECT 1" in prepared
    assert any("FROM programs" in statement for statement in prepared)


def test_signups_between_page_views_keep_their_statements_prepared(app, client, make_session):
    session_id = make_session(seats=20)
    for number in range(6):
        client.get("/signup")
        form = signup_form(
            session_id,
            organization_name=f"County Medical Society {number}",
            contact_email=f"ana@org{number}.example.org",
            attendee_emails="",
        )
        assert client.post("/signup", data=form).status_code == 303
    prepared = prepared_statements(app)
    # The seat is claimed by the statement that writes the signup (a WITH ... UPDATE on PostgreSQL).
    assert any("UPDATE training_sessions" in statement for statement in prepared)
    assert any(statement.startswith("INSERT INTO form_submissions") for statement in prepared)


def test_a_transaction_that_wrote_after_reading_is_still_rolled_back(app, make_program):
    program_id = make_program(name="Reporting basics")
    with app.app_context():
        db.session.execute(select(Program.name)).all()
        db.session.execute(update(Program).values(name="Renamed").where(Program.id == program_id))
        db.session.rollback()
        assert db.session.get(Program, program_id).name == "Reporting basics"


def test_a_failed_read_is_rolled_back_and_the_connection_goes_on(app):
    with app.app_context():
        with pytest.raises(Exception, match="division by zero"):
            db.session.execute(text("SELECT 1 / 0"))
        db.session.rollback()
        assert db.session.execute(text("SELECT 2")).scalar() == 2
