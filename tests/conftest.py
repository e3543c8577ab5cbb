"""Fixtures: an app on a fresh database per test (SQLite and PostgreSQL), and small factories."""

import html
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from flask.testing import FlaskClient
from mail_support import SmtpSink
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import select, text
from werkzeug.datastructures import MultiDict
from werkzeug.serving import WSGIRequestHandler, make_server

from training import create_app
from training.booking.models import Program, TrainingSession
from training.extensions import db, utcnow
from training.staff.services import create_staff

IN_CI = os.environ.get("CI") == "true"

# How long a browser test's expect() waits for what a user would see (a page after an upload,
# a message after a click) before it fails: Playwright's 5 s default was overrun on a loaded
# machine, the upload's results page arriving later though it came. A ceiling, not a timing:
# a test that passes waits no longer.
expect.set_options(timeout=15_000)

# The clock of tests that need a date (learners' completion dates, "yesterday"): Tuesday,
# November 24, 2026, 10:00 AM in Los Angeles, the same date everywhere in the US.
FROZEN_MOMENT = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
# A learner's completion date three days before FROZEN_MOMENT, anywhere in the US.
THREE_DAYS_AGO = date(2026, 11, 21)

# Under Debian's faketime (CI runs the suite at chosen hours with it), only this process keeps
# the faked clock: Playwright's Node driver aborts with libfaketime loaded, so the processes
# tests start (Node, Chromium, servers from the README's commands) run on the real clock.
if "faketime" in os.environ.get("LD_PRELOAD", ""):
    os.environ["LD_PRELOAD"] = " ".join(
        library for library in os.environ["LD_PRELOAD"].split() if "faketime" not in library
    )


def pytest_sessionfinish(session, exitstatus):
    """End timers left waiting, so the run ends at once under faketime too.

    Each app's in-memory rate-limit storage (the ``limits`` library) arms a 10 ms
    ``threading.Timer``. libfaketime fakes CLOCK_MONOTONIC but not ``sem_clockwait``, where
    such a timer waits, so under faketime it would wait for decades and keep Python from exiting.
    """
    for thread in threading.enumerate():
        if isinstance(thread, threading.Timer):
            thread.cancel()


def ended_within(thread: threading.Thread, seconds: float) -> bool:
    """Wait up to ``seconds`` for ``thread`` to end; True if it has.

    ``Thread.join(timeout)`` waits in ``sem_clockwait`` too, so under faketime it never times
    out and waits for the thread however long it takes. Short sleeps (``nanosleep``, which
    libfaketime does fake) keep time under the real clock and the faked one alike.
    """
    deadline = time.monotonic() + seconds
    while thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    return not thread.is_alive()


POSTGRES_ADMIN_URL = os.environ.get(
    "TRAINING_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# Every staff account the tests make has this password.
PASSWORD = "correct horse battery staple"
ATTESTATION = (
    "Our organization has collected, or will collect before reporting, each learner's "
    "permission to report their CME credit to ACCME's PARS."
)


def require(reason: str) -> None:
    """Skip a test that needs a missing service, or fail it when CI=true says it must run."""
    if IN_CI:
        pytest.fail(f"{reason}; CI=true requires it", pytrace=False)
    pytest.skip(reason)


def _postgres_database_url(name: str) -> str:
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def postgres_admin():
    """An autocommit connection to the PostgreSQL server, for creating test databases."""
    try:
        connection = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        require(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({error})")
    with connection:
        yield connection


@pytest.fixture(scope="session")
def make_postgres_database(postgres_admin):
    """Create empty PostgreSQL databases; drop them all at the end of the run."""
    created: list[str] = []

    def make() -> str:
        name = f"training_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        postgres_admin.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return _postgres_database_url(name)

    yield make
    for name in created:
        postgres_admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_schema_url(make_postgres_database, tmp_path_factory):
    """One PostgreSQL database with the schema, emptied after every test that uses it."""
    url = make_postgres_database()
    # Building the app imports every feature's models, so create_all makes every table.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRAINING_INSTANCE_PATH", str(tmp_path_factory.mktemp("schema")))
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    return url


class BrowserLikeClient(FlaskClient):
    """Posts forms as a browser posts a page's form: with a new one-time ``submission_key``.

    Templates draw that key in every form that changes something; a test that sends the same
    form twice, or no key at all, passes ``submission_key`` itself.
    """

    def open(self, *args, **kwargs):
        if kwargs.get("method") == "POST" and "json" not in kwargs:
            data = kwargs.get("data")
            if data is None:
                kwargs["data"] = {"submission_key": uuid.uuid4().hex}
            elif isinstance(data, MultiDict) and "submission_key" not in data:
                data = data.copy()
                data["submission_key"] = uuid.uuid4().hex
                kwargs["data"] = data
            elif isinstance(data, dict) and "submission_key" not in data:
                kwargs["data"] = {**data, "submission_key": uuid.uuid4().hex}
        return super().open(*args, **kwargs)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'training.sqlite3'}"
    return request.getfixturevalue("postgres_schema_url")


@pytest.fixture
def frozen_clock(time_machine):
    """The clock at FROZEN_MOMENT, ticking from there; returns time-machine's traveller."""
    time_machine.move_to(FROZEN_MOMENT, tick=True)
    return time_machine


@pytest.fixture
def app(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINING_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "WTF_CSRF_ENABLED": False,
            "PUBLIC_URL": "https://training.example.org",
        }
    )
    app.test_client_class = BrowserLikeClient
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            db.create_all()
    yield app
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            tables = ", ".join(f'"{table.name}"' for table in db.metadata.sorted_tables)
            with db.engine.begin() as connection:
                connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def program_values(now) -> dict:
    """A program open for signups around ``now``: the columns, for Program(**values)."""
    return {
        "slug": f"program-{uuid.uuid4().hex[:8]}",
        "name": "Learner Credit Reporting Training",
        "description": "Small-group sessions on reporting learners to PARS.",
        "timezone": "America/Los_Angeles",
        "window_starts_on": (now - timedelta(days=7)).date(),
        "window_ends_on": (now + timedelta(days=30)).date(),
        "signup_opens_at": now - timedelta(days=1),
        "signup_closes_at": now + timedelta(days=30),
        "staff_email": "staff@training.example.org",
        "accme_challenge_due_on": (now + timedelta(days=9)).date(),
        "cma_challenge_due_on": (now + timedelta(days=120)).date(),
        "attestation_text": ATTESTATION,
    }


@pytest.fixture
def make_program(app):
    """Add a program (open for signups by default) and return its id."""

    def make(**overrides) -> int:
        values = program_values(utcnow())
        values.update(overrides)
        with app.app_context():
            program = Program(**values)
            db.session.add(program)
            db.session.commit()
            return program.id

    return make


@pytest.fixture
def program_id(make_program):
    return make_program()


@pytest.fixture
def make_session(app, program_id):
    """Add a session (in three days, 8 seats, by default) and return its id."""

    def make(*, starts_in=timedelta(days=3), duration=timedelta(minutes=90), **overrides) -> int:
        starts_at = utcnow().replace(second=0, microsecond=0) + starts_in
        values = {
            "program_id": program_id,
            "starts_at": starts_at,
            "ends_at": starts_at + duration,
            "seats": 8,
        }
        values.update(overrides)
        with app.app_context():
            session = TrainingSession(**values)
            db.session.add(session)
            db.session.commit()
            return session.id

    return make


@pytest.fixture
def cancel_session(app):
    """Cancel a session as staff member Pat would from the roster (made staff if no staff
    member exists yet)."""
    from training.rosters import services as rosters
    from training.staff.models import StaffMember
    from training.staff.services import create_staff

    def cancel(session_id: int) -> None:
        with app.app_context():
            member = db.session.scalar(select(StaffMember)) or create_staff(
                "pat@cmadocs.example.org", "correct horse battery", "staff"
            )
            rosters.cancel_session(
                db.session.get(TrainingSession, session_id),
                "The facilitator is ill.",
                now=utcnow(),
                actor=member,
            )
            db.session.commit()

    return cancel


def last_program_day(app) -> str:
    """The last day of the (only) program's dates, as the staff session form takes it: a day
    ahead whenever the test runs, and one a new session may be on."""
    with app.app_context():
        return db.session.scalars(select(Program.window_ends_on)).one().isoformat()


def signup_form(session_id: int, **overrides) -> dict:
    """The signup form as a person fills it in."""
    data = {
        "organization_name": "Sierra Valley Medical Society",
        "provider_id": "",
        "contact_name": "Ana Reyes",
        "contact_email": "ana.reyes@sierravalley.example.org",
        "contact_phone": "(916) 555-0100",
        "attendee_emails": "lee@sierravalley.example.org\nkim@sierravalley.example.org",
        "first_choice": session_id,
        "second_choice": 0,
        "third_choice": 0,
        "join_waitlist": "y",
        "attest": "y",
        "submission_key": uuid.uuid4().hex,
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def sign_up(app, session_id: int, name: str, *alternates: int, email: str | None = None) -> str:
    """Sign ``name`` up from a browser of its own, for ``session_id`` then ``alternates`` (its
    second and third choices), with no attendees; returns its manage token. The contact is
    ``email``, or the name's first word at clinic.example.org."""
    choices = dict(zip(("second_choice", "third_choice"), alternates, strict=False))
    response = app.test_client().post(
        "/signup",
        data=signup_form(
            session_id,
            organization_name=name,
            contact_email=email or f"{name.split()[0].lower()}@clinic.example.org",
            attendee_emails="",
            **choices,
        ),
    )
    return manage_token(response)


def manage_token(response) -> str:
    """The manage token from a signup's redirect to its confirmation page."""
    match = re.fullmatch(r"/manage/([\w\-]+)/confirmation", response.headers["Location"])
    assert match, response.headers.get("Location")
    return match.group(1)


def page_text(response) -> str:
    """The words a person reads on the page, with tags and extra white space removed."""
    markup = response.get_data(as_text=True)
    markup = re.sub(r"<(script|style)\b.*?</\1>", " ", markup, flags=re.S)
    # Inline tags run into the words around them, as a person reads them; others break words.
    markup = re.sub(r"</?(?:a|b|strong|em|i|span|code|small|abbr)\b[^>]*>", "", markup)
    words = re.sub(r"<[^>]+>", " ", markup)
    return " ".join(html.unescape(words).split())


@pytest.fixture
def token(client, make_session) -> str:
    """The manage token of a booking confirmed through the signup form."""
    return manage_token(client.post("/signup", data=signup_form(make_session())))


@pytest.fixture
def example_activity(client, token) -> None:
    """Put the example activity in ``token``'s sandbox, as its button does."""
    client.post(f"/manage/{token}/sandbox/activities/example")


@pytest.fixture
def sign_in_as(app, client):
    """Create an account with ``role`` (and ``name``), sign ``client`` in with it, and return
    the account's id."""

    def sign_in(role: str = "staff", name: str = "") -> int:
        email = f"{role}@cmadocs.example.org"
        with app.app_context():
            member_id = create_staff(email, PASSWORD, role, name=name).id
            db.session.commit()
        response = client.post("/staff/sign-in", data={"email": email, "password": PASSWORD})
        assert response.status_code == 303
        return member_id

    return sign_in


@pytest.fixture
def staff_client(app):
    """A browser of its own, signed in as staff member Pat Lee (pat@cmadocs.example.org)."""
    client = app.test_client()
    with app.app_context():
        create_staff("pat@cmadocs.example.org", PASSWORD, "staff", name="Pat Lee")
        db.session.commit()
    client.post("/staff/sign-in", data={"email": "pat@cmadocs.example.org", "password": PASSWORD})
    return client


# --- Real browsers against the app on a live port ---------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium (Debian's) per test module; missing, it fails under CI=true."""
    if not os.access(CHROMIUM, os.X_OK):
        require(f"{CHROMIUM} is not installed")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
        except PlaywrightError as error:
            require(f"{CHROMIUM} did not start: {error.message.splitlines()[0]}")
        yield chromium
        chromium.close()


@pytest.fixture
def smtp(app):
    """A real SMTP server on loopback (``mail_support.SmtpSink``) the app sends to."""
    sink = SmtpSink().start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=sink.port)
    yield sink
    sink.stop()


@pytest.fixture
def make_live_app(tmp_path, monkeypatch):
    """Build the real app, CSRF on, on a fresh SQLite database, for a browser to use."""

    def make(**config) -> Flask:
        monkeypatch.setenv("TRAINING_INSTANCE_PATH", str(tmp_path / "instance"))
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "browser-test-secret-key",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'training.sqlite3'}",
                "WTF_CSRF_ENABLED": True,
                **config,
            }
        )
        with app.app_context():
            db.create_all()
        return app

    return make


RESPONSE_KEY = "tests.response"


class ClosingRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler, closing the response when the browser went away mid-request.

    Werkzeug's server reads what is left of the request before it closes the response; when
    the browser has dropped the connection (a page left while its style sheet loads) that read
    raises ``ConnectionResetError`` and the response, a static file's open file among them, is
    never closed. Gunicorn closes it in every case; here the handler does it after the request.
    """

    def run_wsgi(self) -> None:
        try:
            super().run_wsgi()
        finally:
            response = self.environ.get(RESPONSE_KEY) if hasattr(self, "environ") else None
            if response is not None and hasattr(response, "close"):
                response.close()


def remembering_response(app: Flask):
    """Wrap ``app`` so the request's environ keeps the response it returned."""

    def wsgi(environ, start_response):
        response = app(environ, start_response)
        environ[RESPONSE_KEY] = response
        return response

    return wsgi


@contextmanager
def live_server(app: Flask) -> Iterator[str]:
    """Serve ``app`` on a free loopback port in a thread; yields its address."""
    server = make_server(
        "127.0.0.1",
        0,
        remembering_response(app),
        threaded=True,
        request_handler=ClosingRequestHandler,
    )
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["PUBLIC_URL"] = url
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        with app.app_context():
            db.engine.dispose()


# Ids used more than once on the page: a label, aria-labelledby or link to #id finds only the
# first, and axe 4 no longer checks (its duplicate-id rules are retired).
_DUPLICATE_IDS = """() => {
  const counts = new Map();
  for (const element of document.querySelectorAll('[id]')) {
    counts.set(element.id, (counts.get(element.id) || 0) + 1);
  }
  return [...counts].filter(([, count]) => count > 1).map(([id]) => id);
}"""


def accessibility_problems(page, page_name: str = "page") -> list[str]:
    """What on the page, as it is now, fails people using assistive technology, one line each:
    axe's serious and critical findings, landmarks sharing a name, and any id used twice."""
    problems = [
        f"{page_name}: {violation['id']} ({violation['help']}) at "
        + ", ".join(" ".join(node["target"]) for node in violation["nodes"])
        for violation in Axe().run(page).response["violations"]
        # Two landmarks of one kind with one name ("moderate") leave a screen reader's list of
        # regions unable to tell them apart.
        if violation["impact"] in ("serious", "critical") or violation["id"] == "landmark-unique"
    ]
    problems += [f"{page_name}: id {id!r} used twice" for id in page.evaluate(_DUPLICATE_IDS)]
    return problems
