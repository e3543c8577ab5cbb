"""The commands the README gives a new user work as it says."""

import email
import email.policy
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from test_logs_masking import token_path_variants

pytestmark = pytest.mark.clock

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def environment(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TRAINING_", "FLASK_"))
    }
    env["TRAINING_INSTANCE_PATH"] = str(tmp_path / "instance")
    env["TRAINING_SECRET_KEY"] = "readme-test-secret"
    return env


def flask(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [BIN / "flask", "--app", "training", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def wait_for_page(url: str, process: subprocess.Popen, seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our loopback URL)
                return response.read().decode()
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {seconds}s")


def start(command: list, env: dict) -> subprocess.Popen:
    """Run a server command in its own process group, so stop() ends it and its children."""
    return subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def stop(process: subprocess.Popen) -> str:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
    return output


def test_db_upgrade_then_seed_commands_work_from_the_shell(environment):
    upgrade = flask(environment, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    seeded = flask(environment, "seed", "--year", "2023")
    assert seeded.returncode == 0, seeded.stderr
    assert "Loaded CMA Learner Credit Reporting Training 2023 with 11 sessions." in seeded.stdout
    again = flask(environment, "seed", "--year", "2023")
    assert "nothing changed" in again.stdout
    if_empty = flask(environment, "seed", "--if-empty")
    assert "nothing seeded" in if_empty.stdout


FLASK_STAFF_CREATE = (BIN / "flask", "--app", "training", "staff", "create")


def test_an_operator_loads_their_own_program_and_first_admin_as_the_production_steps_say(
    environment, tmp_path
):
    """Running in production's steps: a copy of the seed folder with its program file edited,
    loaded for a year, and the first admin created from the command line."""
    folder = tmp_path / "training-seed"
    shutil.copytree(PROJECT_ROOT / "seed", folder)
    program_file = folder / "demo_program.toml"
    program_file.write_text(
        program_file.read_text(encoding="utf-8")
        .replace('slug = "cma-learner-reporting"', 'slug = "county-reporting"')
        .replace(
            'name = "CMA Learner Credit Reporting Training"',
            'name = "County Medical Society Reporting Training"',
        ),
        encoding="utf-8",
    )
    environment["TRAINING_SEED_FOLDER"] = str(folder)
    assert flask(environment, "db", "upgrade").returncode == 0

    seeded = flask(environment, "seed", "--year", "2026")
    created = subprocess.run(
        [*FLASK_STAFF_CREATE, "ops@example.org", "--role", "admin", "--password-stdin"],
        cwd=PROJECT_ROOT,
        env=environment,
        input="a long operator password\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert "Loaded County Medical Society Reporting Training 2026 with 11 sessions." in (
        seeded.stdout
    )
    assert created.returncode == 0, created.stderr
    assert "ops@example.org\tadmin\tactive" in flask(environment, "staff", "list").stdout


def test_starting_without_a_secret_key_fails_with_a_clear_message(environment):
    del environment["TRAINING_SECRET_KEY"]
    result = flask(environment, "db", "upgrade")
    assert result.returncode != 0
    assert "TRAINING_SECRET_KEY is not set" in result.stderr
    # Next to `make run`'s demo, the command to use is named.
    assert 'export TRAINING_SECRET_KEY="$(cat instance/secret_key)"' in result.stderr


def test_make_run_serves_the_demo_and_delivers_its_emails_as_files(environment, tmp_path):
    del environment["TRAINING_SECRET_KEY"]  # make run keeps its own in the instance folder
    port = free_port()
    environment["PORT"] = str(port)
    environment["TRAINING_MAIL_POLL_SECONDS"] = "0.5"
    mail_folder = tmp_path / "instance" / "mail"
    process = start(["make", "run"], environment)
    try:
        home = wait_for_page(f"http://127.0.0.1:{port}/", process)
        booked = sign_up_over_http(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 30
        # Only the booking's own email: the demo's challenge reminders follow the real calendar.
        while time.monotonic() < deadline and not list(mail_folder.glob("*-booking_confirmed.eml")):
            time.sleep(0.2)
        emails = list(mail_folder.glob("*-booking_confirmed.eml"))
    finally:
        output = stop(process)
    assert "CMA Learner Credit Reporting Training" in home, output
    assert "You're booked" in booked
    assert len(emails) == 1, output
    message = email.message_from_bytes(emails[0].read_bytes(), policy=email.policy.default)
    calendars = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
    assert calendars and "METHOD:REQUEST" in calendars[0].get_content()
    assert "email:    admin@training-desk.localhost" in output
    # Every address it prints is on the port it serves on.
    assert f"Training Desk is starting on http://127.0.0.1:{port};" in output, output
    assert f"sign in at http://127.0.0.1:{port}/staff/sign-in" in output, output
    assert set(re.findall(r"http://127\.0\.0\.1:(\d+)", output)) == {str(port)}, output
    assert (tmp_path / "instance" / "secret_key").stat().st_mode & 0o077 == 0
    # The development server's request lines show the manage link's path, never its token.
    token = re.search(r"/manage/([\w\-]{40,})", booked).group(1)
    assert "GET /manage/<token>/confirmation HTTP/1.1" in output, output
    assert token not in output


def sign_up_over_http(base_url: str) -> str:
    """Fill in the signup form as a browser would (cookie, CSRF token) and return the result."""
    import http.cookiejar
    import urllib.parse

    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    with opener.open(f"{base_url}/signup") as page:
        form = page.read().decode()
    hidden = dict(
        re.findall(r'name="(csrf_token|submission_key)" type="hidden" value="([^"]+)"', form)
    )
    first_session = re.search(r'<option value="(\d+)">', form).group(1)
    data = urllib.parse.urlencode(
        {
            **hidden,
            "organization_name": "Shell Test Clinic",
            "contact_name": "Ana Reyes",
            "contact_email": "ana@shelltest.example.org",
            "first_choice": first_session,
            "second_choice": "0",
            "third_choice": "0",
            "attest": "y",
        }
    ).encode()
    with opener.open(f"{base_url}/signup", data=data) as answer:
        return answer.read().decode()


def gunicorn_as_the_readme_runs_it(port: int) -> list:
    """The README's production command (its `gunicorn -c python:training.gunicorn_conf ...`)."""
    return [
        BIN / "gunicorn",
        "-c",
        "python:training.gunicorn_conf",
        "--workers",
        "2",
        "--bind",
        f"127.0.0.1:{port}",
        "training:create_app()",
    ]


def test_gunicorn_serves_the_app_as_the_readme_shows(environment):
    assert flask(environment, "db", "upgrade").returncode == 0
    port = free_port()
    process = start(gunicorn_as_the_readme_runs_it(port), environment)
    try:
        health = wait_for_page(f"http://127.0.0.1:{port}/healthz", process)
    finally:
        output = stop(process)
    assert '"status":"ok"' in health.replace(" ", "")
    assert '"GET /healthz HTTP/1.1" 200' in output  # the access log is on


def test_gunicorn_logs_hold_no_token_email_or_search_term(environment, tmp_path):
    """A signup, its manage page, an exception on a manage URL and a staff search, logged."""
    import http.cookiejar
    import sqlite3
    import urllib.error
    import urllib.parse

    assert flask(environment, "db", "upgrade").returncode == 0
    assert flask(environment, "seed").returncode == 0
    created = subprocess.run(
        [
            *(BIN / "flask", "--app", "training", "staff", "create"),
            *("pat@cmadocs.example.org", "--role", "staff", "--password-stdin"),
        ],
        cwd=PROJECT_ROOT,
        env=environment,
        input="correct horse battery staple\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start(gunicorn_as_the_readme_runs_it(port), environment)
    try:
        wait_for_page(f"{base}/healthz", process)
        booked = sign_up_over_http(base)
        token = re.search(r"/manage/([\w\-]{40,})", booked).group(1)
        with urllib.request.urlopen(f"{base}/manage/{token}") as manage:  # noqa: S310 (loopback)
            assert manage.status == 200
        # A fault the app cannot survive: a table gone from under it.
        with sqlite3.connect(tmp_path / "instance" / "training.sqlite3") as database:
            database.execute("DROP TABLE challenge_entries")
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(f"{base}/manage/{token}/challenges")  # noqa: S310
        failed.value.close()
        assert failed.value.code == 500
        for path, _logged in token_path_variants(token):
            try:
                urllib.request.urlopen(f"{base}{path}").close()  # noqa: S310
            except urllib.error.HTTPError as missing:  # most are not pages
                missing.close()
        staff = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        with staff.open(f"{base}/staff/sign-in") as sign_in:
            page = sign_in.read().decode()
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        credentials = {
            "csrf_token": csrf,
            "email": "pat@cmadocs.example.org",
            "password": "correct horse battery staple",
        }
        with staff.open(f"{base}/staff/sign-in", data=urllib.parse.urlencode(credentials).encode()):
            pass
        with staff.open(f"{base}/staff/signups?q=ana%40shelltest.example.org") as search:
            assert "Shell Test Clinic" in search.read().decode()
    finally:
        output = stop(process)
    assert 'GET /manage/<token>/challenges HTTP/1.1" 500' in output, output
    assert "Exception on /manage/<token>/challenges [GET]" in output, output
    assert "GET /staff/signups?q=<masked> HTTP/1.1" in output, output
    for _path, logged in token_path_variants(token):
        assert f"GET {logged} HTTP/1.1" in output, logged
    for secret in (token, "ana@shelltest", "shelltest.example.org", "ana%40", "pat@cmadocs"):
        assert secret not in output, secret
