"""A signup POST costs a handful of database round trips, pinned here so a regression fails:
the form's one-time key claimed in one statement, the program and its sessions read in one,
the rows inserted in batches, nothing read back after the commit."""

import re
from datetime import timedelta

import psycopg
import pytest
from conftest import page_text, signup_form
from sqlalchemy import text
from test_signups_query_counts import counted_queries

from training.booking.models import MAX_ATTENDEES
from training.extensions import db

# What one signup sends on PostgreSQL, in order (besides BEGIN and COMMIT, which psycopg sends
# on its own), whatever the number of attendees and recipients.
POSTGRESQL_STATEMENTS = [
    "INSERT form_submissions",  # the one-time key, claimed with ON CONFLICT DO NOTHING
    "SELECT programs",  # the current program with its sessions (one joined SELECT)
    # One statement of data-modifying CTEs: the first choice's seat, claimed only if one is
    # left, then (only if it was) the signup, its attendees and choices, its audit event and
    # its manage link.
    "WITH seat",
    # Another as the email is queued: the outbox message, its bytes and its recipients.
    "WITH new_message",
]
# SQLite has no data-modifying CTEs: one statement per table (the attendees and the recipients
# each one, however many), and its BEGIN IMMEDIATE is a statement of its own.
SQLITE_STATEMENTS = 12


def shape(statement: str) -> str:
    """``"INSERT attendees"``: a statement's verb and the table it names first."""
    words = statement.split()
    verb = words[0].upper()
    if verb == "SELECT":
        tables = re.findall(r"\bFROM\s+(\w+)", statement)  # "FROM (SELECT" is passed over
        return f"SELECT {tables[0] if tables else '?'}"
    if verb == "INSERT":
        return f"INSERT {words[2]}"
    if verb == "UPDATE":
        return f"UPDATE {words[1]}"
    return " ".join(words[:2])


def post_signup(app, client, session_ids, number: int, attendees: int = 2):
    emails = "\n".join(f"person{n}@org{number}.example.org" for n in range(attendees))
    form = signup_form(
        session_ids[0],
        organization_name=f"Sierra Valley Medical Society {number}",
        contact_email=f"ana.reyes@org{number}.example.org",
        attendee_emails=emails,
        second_choice=session_ids[1],
        provider_id=f"{1_000_000 + number:07d}",
    )
    client.get("/signup")  # the browser's session (its nonce) is made with the form
    with counted_queries(app) as statements:
        response = client.post("/signup", data=form)
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return statements


def test_a_signup_sends_one_statement_per_table_it_writes(app, client, make_session):
    session_ids = [make_session(), make_session(starts_in=timedelta(days=4))]
    post_signup(app, client, session_ids, 1)  # the first request of a process warms up
    statements = post_signup(app, client, session_ids, 2)
    with app.app_context():
        dialect = db.engine.dialect.name
    if dialect == "postgresql":
        assert [shape(statement) for statement in statements] == POSTGRESQL_STATEMENTS
    else:
        assert len(statements) == SQLITE_STATEMENTS, [shape(s) for s in statements]


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_more_attendees_cost_no_more_statements_on_postgresql(app, client, make_session):
    session_ids = [make_session(seats=50), make_session(starts_in=timedelta(days=4))]
    two = post_signup(app, client, session_ids, 1, attendees=2)
    many = post_signup(app, client, session_ids, 2, attendees=MAX_ATTENDEES)
    assert len(many) == len(two) == len(POSTGRESQL_STATEMENTS)


def test_a_booked_signup_is_not_read_again_after_its_commit(app, client, make_session):
    session_ids = [make_session(), make_session(starts_in=timedelta(days=4))]
    statements = post_signup(app, client, session_ids, 1)
    last_write = max(
        index for index, statement in enumerate(statements) if not statement.startswith("SELECT")
    )
    assert not any(s.startswith("SELECT") for s in statements[last_write:])
    assert not any("SAVEPOINT" in statement for statement in statements)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_dropped_connection_fails_one_request_and_the_next_connects_afresh(app, client):
    """With ``pool_recycle`` instead of a ping before each request, a pooled connection the
    server has closed (a restart, an idle timeout) costs the one request that meets it."""
    assert client.get("/healthz").status_code == 200
    with app.app_context():
        with db.engine.connect() as pooled:  # the connection /healthz used, back to the pool
            pid = pooled.scalar(text("SELECT pg_backend_pid()"))
        url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    first = client.get("/healthz")
    assert first.status_code == 503
    assert client.get("/healthz").status_code == 200


def test_an_organization_with_a_place_is_told_so_even_when_its_new_choice_is_full(
    app, client, make_session
):
    """No lookup precedes the booking; a full session must still not hide the first place."""
    first_date, full_date = make_session(), make_session(starts_in=timedelta(days=4), seats=1)
    client.post("/signup", data=signup_form(first_date))
    app.test_client().post(
        "/signup",
        data=signup_form(
            full_date,
            organization_name="Coast Range Hospital",
            contact_email="cy@coast.example.org",
            attendee_emails="",
        ),
    )
    again = client.post(
        "/signup", data=signup_form(full_date, contact_name="Dana Ortiz", join_waitlist=None)
    )

    assert again.status_code == 409
    assert "already holds a place on" in page_text(again)
    assert "is full: choose another date" not in page_text(again)
