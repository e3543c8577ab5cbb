"""Load benchmark: many organizations sign up at once under gunicorn; no session may oversell.

Creates a throwaway PostgreSQL database, migrates it, adds one open program with a few small
sessions and serves the app with gunicorn on loopback. Concurrent clients fill in the real
signup form (CSRF token, submission key, session cookie), between two halves of a GET /healthz
baseline at the same concurrency.
It prints a table, writes bench/results/signup_load.json and exits 1 if a seat was oversold, a
count disagrees or the app answered something unexpected. Run with the project's virtualenv:

    .venv/bin/python bench/signup_load.py --signups 400 --concurrency 32 --workers 4
"""

import argparse
import html
import json
import math
import os
import platform
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser
from importlib.metadata import version
from pathlib import Path
from queue import Empty, SimpleQueue
from urllib.parse import urlsplit

import httpx
import psycopg
from psycopg import sql

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
POSTGRES_ADMIN_URL = os.environ.get(
    "TRAINING_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SESSIONS = 20
SEATS_PER_SESSION = 8
REQUEST_TIMEOUT = 30.0
SHUFFLE_SEED = 2026
CONFIRMATION_PATH = re.compile(r"/manage/[\w\-]+/confirmation")
ERROR_LINE = re.compile(r"\[ERROR\]|\[CRITICAL\]| ERROR in |WORKER TIMEOUT|was sent SIG")
# gunicorn's line when a worker dies of a signal it did not send (SIGSEGV, SIGKILL by the OOM ...)
WORKER_DIED = re.compile(
    r"Worker \(pid:\d+\) (?:was sent SIG(?!TERM|QUIT|INT)\w+|exited with code)"
)


class BenchInterrupted(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C so the server is stopped and the database dropped."""


class SetupError(Exception):
    """The app cannot be benchmarked as it stands; the message says why."""


@dataclass(frozen=True)
class SignupAttempt:
    """One organization's form, as a person would fill it in."""

    number: int
    organization_name: str
    ranked_session_ids: tuple[int, ...]
    join_waitlist: bool
    provider_id: str


@dataclass
class Result:
    """What one client job saw: its outcome and how long each request took (seconds)."""

    outcome: str
    get_seconds: float | None = None
    post_seconds: float | None = None
    total_seconds: float | None = None
    status: int | None = None
    detail: str = ""
    attempt: SignupAttempt | None = None


@dataclass
class PhaseRun:
    """The results of one phase and the time and CPU it took."""

    results: list[Result]
    wall_seconds: float
    client_cpu_seconds: float
    server_cpu_seconds: float | None
    machine_busy: float | None
    postgres: dict
    jobs: int
    finished: bool = True


class _HiddenInputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "input" and attributes.get("type") == "hidden" and attributes.get("name"):
            self.values[attributes["name"]] = attributes.get("value") or ""


def hidden_inputs(page: str) -> dict[str, str]:
    """The hidden form fields (CSRF token, submission key) of an HTML page."""
    parser = _HiddenInputs()
    parser.feed(page)
    return parser.values


def error_messages(page: str) -> str:
    """The heading, field errors and flashed messages a person reads on an error page."""
    found = re.findall(r'<(?:h1|p class="error"|div class="flash[^"]*")[^>]*>(.*?)</', page, re.S)
    texts = (" ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split()) for text in found)
    return "; ".join(text for text in texts if text)[:300]


def percentile(values: list[float], percent: float) -> float | None:
    """The nearest-rank percentile of ``values``, or None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(percent / 100 * len(ordered)) - 1, 0)]


def latency_summary(seconds: list[float]) -> dict:
    """Count, p50, p99 and max in milliseconds."""

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 1)

    return {
        "count": len(seconds),
        "p50_ms": ms(percentile(seconds, 50)),
        "p99_ms": ms(percentile(seconds, 99)),
        "max_ms": ms(max(seconds, default=None)),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command-line options, each at least 1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signups", type=int, default=400, help="organizations (default 400)")
    parser.add_argument("--concurrency", type=int, default=32, help="client threads (default 32)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument(
        "--threads", type=int, default=1, help="threads per worker; >1 uses gthread (default 1)"
    )
    parser.add_argument(
        "--healthz-requests",
        type=int,
        default=2000,
        help="baseline requests, half before and half after the signups (default 2000)",
    )
    parser.add_argument(
        "--timeout", type=float, default=300, help="give up after this many seconds (default 300)"
    )
    args = parser.parse_args(argv)
    for name in ("signups", "concurrency", "workers", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.healthz_requests < 2:
        parser.error("--healthz-requests must be at least 2 (half run before the signups)")
    return args


def database_url(name: str) -> str:
    """The URL of database ``name`` on the admin URL's server."""
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def upgrade_database(env: dict[str, str], deadline: float) -> None:
    """Run the project's migrations, exactly as a deployment would."""
    try:
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "training", "db", "upgrade"],
            cwd=PROJECT_ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=remaining(deadline),
        )
    except subprocess.CalledProcessError as error:
        output = (error.stderr or b"").decode(errors="replace").strip().splitlines()[-5:]
        raise SetupError("`flask db upgrade` failed:\n  " + "\n  ".join(output)) from None


def _describe_difference(difference) -> str:
    step = difference[0] if isinstance(difference, list) else difference
    parts = (getattr(part, "name", part) for part in step if part is not None)
    return " ".join(str(part) for part in parts)[:120]


def schema_differences() -> list[str]:
    """What the migrated database lacks or has beyond the models (a lagging migration)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from training import create_app
    from training.extensions import db

    with create_app().app_context():
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, db.metadata)
        db.engine.dispose()
    return [_describe_difference(item) for item in differences]


def add_program(sessions: int, seats: int) -> list[int]:
    """Add one program open for signups and its sessions; return the session ids by date."""
    from training import create_app
    from training.booking.models import Program, TrainingSession
    from training.extensions import db, utcnow

    app = create_app()
    now = utcnow()
    first_start = now.replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
    with app.app_context():
        program = Program(
            slug="bench",
            name="Learner Credit Reporting Training",
            description="Benchmark program.",
            timezone="America/Los_Angeles",
            window_starts_on=now.date(),
            window_ends_on=(now + timedelta(days=sessions + 30)).date(),
            signup_opens_at=now - timedelta(days=1),
            signup_closes_at=now + timedelta(days=30),
            staff_email="staff@training.example.org",
            accme_challenge_due_on=(now + timedelta(days=9)).date(),
            cma_challenge_due_on=(now + timedelta(days=120)).date(),
            attestation_text="We have our learners' permission to report their credit.",
        )
        program.sessions = [
            TrainingSession(
                starts_at=first_start + timedelta(days=day),
                ends_at=first_start + timedelta(days=day, minutes=90),
                seats=seats,
            )
            for day in range(sessions)
        ]
        db.session.add(program)
        db.session.commit()
        session_ids = [session.id for session in program.sessions]
        db.engine.dispose()
    return session_ids


def make_attempts(count: int, session_ids: list[int]) -> list[SignupAttempt]:
    """Distinct organizations spread over the sessions, shuffled so they collide realistically.

    Every session gets more first choices than seats. A quarter name a second choice and an
    eighth a third; two thirds join the waitlist, the rest want a seat or nothing (409).
    """
    attempts = []
    for number in range(count):
        ranks = 1 + (number % 4 == 1) + (number % 8 == 1)
        ranked = tuple(
            dict.fromkeys(session_ids[(number + step) % len(session_ids)] for step in range(ranks))
        )
        attempts.append(
            SignupAttempt(
                number=number,
                organization_name=f"Bench County Medical Society {number:05d}",
                ranked_session_ids=ranked,
                join_waitlist=number % 3 != 1,
                provider_id=f"{2_000_000 + number:07d}" if number % 3 == 0 else "",
            )
        )
    random.Random(SHUFFLE_SEED).shuffle(attempts)
    return attempts


def listening_socket() -> socket.socket:
    """A loopback socket on a free port, handed to gunicorn so no other process can take it."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(2048)
    return listener


def start_gunicorn(
    env: dict[str, str], listener: socket.socket, workers: int, threads: int, log_path: Path
) -> subprocess.Popen:
    """Serve the app on ``listener`` with gunicorn, its output going to ``log_path``."""
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"fd://{listener.fileno()}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--graceful-timeout",
        "10",
        "--log-level",
        "info",
        "training:create_app()",
    ]
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=(listener.fileno(),),
        )


def stop_gunicorn(server: subprocess.Popen) -> None:
    """Ask gunicorn to finish its requests and exit; kill it if it will not."""
    if server.poll() is not None:
        return
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)


def wait_until_healthy(base_url: str, server: subprocess.Popen, deadline: float) -> None:
    """Wait for GET /healthz to answer 200, for 30 seconds at most."""
    give_up = min(deadline, time.monotonic() + 30)
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < give_up:
            if server.poll() is not None:
                raise SetupError(f"gunicorn exited with status {server.returncode}; see its log")
            try:
                if client.get(f"{base_url}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise SetupError("gunicorn did not answer GET /healthz with 200 within 30 s; see its log")


def process_cpu_seconds(pids) -> dict[int, float]:
    """CPU time used so far by each of ``pids`` still running (Linux /proc)."""
    used = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            used[int(pid)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            continue  # gone, or not Linux
    return used


def worker_cpu_seconds(server: subprocess.Popen) -> float | None:
    """CPU time used so far by gunicorn's live workers; None where /proc cannot tell."""
    try:
        pids = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    except OSError:
        return None
    return sum(process_cpu_seconds(pids).values())


class PostgresWatcher:
    """Samples what the benchmark database's backends are doing, and the CPU they use.

    Lock waits show requests queueing on a row; "idle in transaction" shows the app holding a
    transaction open while it works in Python.
    """

    INTERVAL = 0.05

    def __init__(self, admin_url: str, database: str):
        self.admin_url, self.database = admin_url, database
        self.states: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connection: psycopg.Connection | None = None
        self._cpu_before: dict[int, float] = {}

    def _backend_pids(self, connection) -> list[int]:
        return [
            pid
            for (pid,) in connection.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.database,)
            )
        ]

    def _sample(self, connection) -> None:
        while not self._stop.wait(self.INTERVAL):
            for state, wait_type, wait_event in connection.execute(
                "SELECT state, wait_event_type, wait_event FROM pg_stat_activity"
                " WHERE datname = %s AND backend_type = 'client backend'",
                (self.database,),
            ):
                waiting = f" / {wait_type}:{wait_event}" if wait_type else ""
                self.states[f"{state}{waiting}"] += 1

    def start(self) -> None:
        self._connection = psycopg.connect(self.admin_url, autocommit=True)
        self._cpu_before = process_cpu_seconds(self._backend_pids(self._connection))
        self._thread = threading.Thread(target=self._sample, args=(self._connection,), daemon=True)
        self._thread.start()

    def finish(self, wall_seconds: float) -> dict:
        """Stop sampling; the share of CPU the backends used and their states, busiest first."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        cpu_after = process_cpu_seconds(self._backend_pids(self._connection))
        self._connection.close()
        used = sum(cpu - self._cpu_before.get(pid, 0.0) for pid, cpu in cpu_after.items())
        samples = sum(self.states.values())
        capacity = wall_seconds * (os.cpu_count() or 1)
        return {
            "cpu_share": round(used / capacity, 3) if cpu_after and capacity else None,
            "backend_states": {
                state: round(count / samples, 3) for state, count in self.states.most_common(6)
            },
        }


def machine_cpu_ticks() -> tuple[int, int] | None:
    """(all, idle) CPU ticks since boot for the whole machine (Linux /proc); None elsewhere."""
    try:
        ticks = [
            int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        ]
    except (OSError, ValueError):
        return None
    return sum(ticks), ticks[3] + ticks[4]  # idle, iowait


def remaining(deadline: float) -> float:
    """Seconds left before ``deadline``; raises TimeoutError once it has passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the benchmark ran past --timeout")
    return left


def run_phase(
    jobs, concurrency, task, server, deadline, stop: threading.Event, watcher=None
) -> PhaseRun:
    """Run ``task(client, job)`` for every job on ``concurrency`` threads, each its own client."""
    queue: SimpleQueue = SimpleQueue()
    for job in jobs:
        queue.put(job)
    results: list[Result] = []
    clients = [httpx.Client(timeout=REQUEST_TIMEOUT) for _ in range(concurrency)]

    def work(client: httpx.Client) -> None:
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                job = queue.get_nowait()
            except Empty:
                return
            try:
                results.append(task(client, job))
            except Exception as error:  # a bug here must not pass for a timeout
                results.append(Result(outcome="client error", detail=repr(error)))

    threads = [threading.Thread(target=work, args=(client,), daemon=True) for client in clients]
    server_cpu_before, machine_before = worker_cpu_seconds(server), machine_cpu_ticks()
    if watcher is not None:
        watcher.start()
    cpu_before, started = time.process_time(), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0) + REQUEST_TIMEOUT)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    server_cpu_after, machine_after = worker_cpu_seconds(server), machine_cpu_ticks()
    postgres = watcher.finish(wall) if watcher is not None else {}
    machine_busy = None
    if machine_before and machine_after and machine_after[0] > machine_before[0]:
        idle = (machine_after[1] - machine_before[1]) / (machine_after[0] - machine_before[0])
        machine_busy = round(1 - idle, 3)
    for client in clients:
        client.close()
    return PhaseRun(
        results=list(results),
        wall_seconds=wall,
        client_cpu_seconds=cpu,
        server_cpu_seconds=(
            server_cpu_after - server_cpu_before
            if server_cpu_before is not None and server_cpu_after is not None
            else None
        ),
        machine_busy=machine_busy,
        postgres=postgres,
        jobs=len(jobs),
        finished=len(results) == len(jobs),
    )


def fetch(url: str):
    """A task that GETs ``url`` and expects 200."""

    def task(client: httpx.Client, _job) -> Result:
        started = time.perf_counter()
        try:
            response = client.get(url)
        except httpx.HTTPError as error:
            return Result(outcome="transport error", detail=type(error).__name__)
        elapsed = time.perf_counter() - started
        outcome = "ok" if response.status_code == 200 else f"HTTP {response.status_code}"
        return Result(outcome=outcome, total_seconds=elapsed, status=response.status_code)

    return task


def sign_up(base_url: str):
    """A task that opens the signup form for one organization, fills it in and submits it."""

    def task(client: httpx.Client, attempt: SignupAttempt) -> Result:
        client.cookies.clear()  # a new organization is a new browser
        result = Result(outcome="", attempt=attempt)
        started = time.perf_counter()
        try:
            page = client.get(
                f"{base_url}/signup", params={"session": attempt.ranked_session_ids[0]}
            )
            result.get_seconds = time.perf_counter() - started
            result.status = page.status_code
            if page.status_code != 200:
                result.outcome = f"GET /signup HTTP {page.status_code}"
                return result
            hidden = hidden_inputs(page.text)
            form = {
                "csrf_token": hidden.get("csrf_token", ""),
                "submission_key": hidden.get("submission_key", ""),
                "organization_name": attempt.organization_name,
                "provider_id": attempt.provider_id,
                "contact_name": "Ana Reyes",
                "contact_email": f"ana.reyes@org{attempt.number}.example.org",
                "contact_phone": "(916) 555-0100",
                "attendee_emails": (
                    f"lee@org{attempt.number}.example.org\nkim@org{attempt.number}.example.org"
                ),
                "first_choice": attempt.ranked_session_ids[0],
                "second_choice": (attempt.ranked_session_ids[1:2] or [0])[0],
                "third_choice": (attempt.ranked_session_ids[2:3] or [0])[0],
                "attest": "y",
            }
            if attempt.join_waitlist:
                form["join_waitlist"] = "y"
            posted = time.perf_counter()
            response = client.post(f"{base_url}/signup", data=form)
            finished = time.perf_counter()
        except httpx.HTTPError as error:
            result.outcome, result.detail = "transport error", f"{type(error).__name__}: {error}"
            return result
        result.post_seconds = finished - posted
        result.total_seconds = finished - started
        result.status = response.status_code
        result.outcome, result.detail = classify_signup(response)
        return result

    return task


def classify_signup(response: httpx.Response) -> tuple[str, str]:
    """``accepted`` (303 to the confirmation page), ``refused: full`` (409) or what went wrong."""
    location = urlsplit(response.headers.get("location", "")).path
    if response.status_code == 303 and CONFIRMATION_PATH.fullmatch(location):
        return "accepted", ""
    if response.status_code == 409 and "has just been taken" in response.text:
        return "refused: full", ""
    if response.status_code == 409 and "already signed up" in response.text:
        return "refused: already signed up", ""
    return f"HTTP {response.status_code}", error_messages(response.text) or location


def check_database(url: str, attempts_refused: list[SignupAttempt]) -> dict:
    """Count what the database holds and check that no session was oversold or lost a seat."""
    with psycopg.connect(url) as connection:
        sessions = connection.execute(
            """
            SELECT s.id, s.seats, s.seats_booked,
                   count(su.id) FILTER (WHERE su.status = 'confirmed') AS confirmed
            FROM training_sessions s LEFT JOIN signups su ON su.session_id = s.id
            GROUP BY s.id ORDER BY s.id
            """
        ).fetchall()
        by_status = dict(
            connection.execute("SELECT status, count(*) FROM signups GROUP BY status").fetchall()
        )
        duplicate_organizations = connection.execute(
            "SELECT count(*) - count(DISTINCT organization_key) FROM signups"
            " WHERE status <> 'cancelled'"
        ).fetchone()[0]
        waitlisted_with_free_seat = connection.execute(
            """
            SELECT count(DISTINCT su.id) FROM signups su
            JOIN signup_choices c ON c.signup_id = su.id
            JOIN training_sessions s ON s.id = c.session_id
            WHERE su.status = 'waitlisted' AND s.seats_booked < s.seats
            """
        ).fetchone()[0]
        emails_queued = connection.execute("SELECT count(*) FROM outbox_messages").fetchone()[0]
        signups_without_email = connection.execute(
            "SELECT count(*) FROM signups su WHERE NOT EXISTS"
            " (SELECT 1 FROM outbox_messages o WHERE o.signup_id = su.id)"
        ).fetchone()[0]
        manage_links = connection.execute("SELECT count(*) FROM manage_links").fetchone()[0]
    free_seats = {session_id: seats - booked for session_id, seats, booked, _ in sessions}
    refused_with_free_seat = sum(
        1
        for attempt in attempts_refused
        if any(free_seats.get(sid, 0) > 0 for sid in attempt.ranked_session_ids)
    )
    return {
        "sessions": len(sessions),
        "seats": sum(seats for _, seats, _, _ in sessions),
        "confirmed": by_status.get("confirmed", 0),
        "waitlisted": by_status.get("waitlisted", 0),
        "cancelled": by_status.get("cancelled", 0),
        "seats_oversold": sum(max(confirmed - seats, 0) for _, seats, _, confirmed in sessions),
        "sessions_seats_booked_mismatch": sum(
            1 for _, _, booked, confirmed in sessions if booked != confirmed
        ),
        "seats_left_unfilled": sum(max(seats - booked, 0) for _, seats, booked, _ in sessions),
        "waitlisted_while_chosen_session_had_seat": waitlisted_with_free_seat,
        "refused_while_chosen_session_had_seat": refused_with_free_seat,
        "duplicate_organizations": duplicate_organizations,
        "emails_queued": emails_queued,
        "signups_without_email": signups_without_email,
        "manage_links": manage_links,
    }


def scan_gunicorn_log(log_path: Path) -> dict:
    """Count tracebacks, errors, worker timeouts and crashes in gunicorn's output."""
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    lines = text.splitlines()
    exceptions: Counter[str] = Counter()
    in_traceback = False
    for line in lines:
        if line.startswith("Traceback (most recent call last)"):
            in_traceback = True
        elif in_traceback and line and not line[0].isspace():
            exceptions[line[:300]] += 1  # the exception's own line ends its traceback
            in_traceback = False
    return {
        "log": str(log_path),
        "tracebacks": text.count("Traceback (most recent call last)"),
        "worker_timeouts": text.count("WORKER TIMEOUT"),
        "worker_crashes": [line for line in lines if WORKER_DIED.search(line)],
        "error_lines": sum(1 for line in lines if ERROR_LINE.search(line)),
        "exceptions": dict(exceptions.most_common(5)),
    }


def _cpu_shares(phase: PhaseRun) -> dict:
    capacity = phase.wall_seconds * (os.cpu_count() or 1)

    def share(seconds: float | None) -> float | None:
        return None if seconds is None or not capacity else round(seconds / capacity, 3)

    return {
        "client": share(phase.client_cpu_seconds),
        "gunicorn": share(phase.server_cpu_seconds),
        "postgres": phase.postgres.get("cpu_share"),
        "machine": phase.machine_busy,
    }


def _healthz_summary(phase: PhaseRun) -> dict:
    ok = [r.total_seconds for r in phase.results if r.outcome == "ok"]
    return {
        "requests": phase.jobs,
        "ok": len(ok),
        "wall_seconds": round(phase.wall_seconds, 3),
        "requests_per_second": round(len(ok) / phase.wall_seconds, 1) if phase.wall_seconds else 0,
        "latency": latency_summary(ok),
        "cpu_share": _cpu_shares(phase),
    }


def summarize(args, environment, healthz_runs, signups: PhaseRun, db_checks, log) -> dict:
    """The figures and checks of one run, as written to the JSON file, with its problems.

    ``healthz_runs`` are the baseline's halves, measured before and after the signups.
    """
    healthz_ok = [r.total_seconds for run in healthz_runs for r in run.results if r.outcome == "ok"]
    healthz_wall = sum(run.wall_seconds for run in healthz_runs)
    healthz_rps = len(healthz_ok) / healthz_wall if healthz_wall else 0.0
    healthz_jobs = sum(run.jobs for run in healthz_runs)
    before, after = (_healthz_summary(run) for run in healthz_runs)
    outcomes = Counter(result.outcome for result in signups.results)
    completed = [r for r in signups.results if r.outcome in ("accepted", "refused: full")]
    signups_per_second = len(completed) / signups.wall_seconds if signups.wall_seconds else 0.0
    unexpected = [r for r in signups.results if r.outcome not in ("accepted", "refused: full")]
    accepted = outcomes.get("accepted", 0)
    problems = []
    if db_checks["seats_oversold"]:
        problems.append(f"{db_checks['seats_oversold']} seats oversold")
    if db_checks["sessions_seats_booked_mismatch"]:
        problems.append("seats_booked differs from the confirmed count")
    if db_checks["duplicate_organizations"]:
        problems.append("an organization holds two active signups")
    if db_checks["confirmed"] + db_checks["waitlisted"] != accepted:
        problems.append("the database holds a different number of signups than were accepted")
    if db_checks["waitlisted_while_chosen_session_had_seat"]:
        problems.append("an organization was waitlisted while its chosen session had a seat")
    if db_checks["refused_while_chosen_session_had_seat"]:
        problems.append("an organization was refused while its chosen session had a seat")
    if db_checks["signups_without_email"]:
        problems.append("some signups have no email queued")
    if unexpected:
        problems.append(f"{len(unexpected)} signup attempts got an unexpected answer")
    if len(healthz_ok) != healthz_jobs:
        problems.append(f"{healthz_jobs - len(healthz_ok)} /healthz requests did not answer 200")
    if not all(run.finished for run in (*healthz_runs, signups)):
        problems.append("not every request was made before --timeout")
    if log["tracebacks"] or log["worker_timeouts"] or log["worker_crashes"]:
        problems.append("gunicorn logged tracebacks, worker timeouts or crashed workers")
    rates = [before["requests_per_second"], after["requests_per_second"]]
    drift = (max(rates) - min(rates)) / max(rates) if max(rates) else 0.0

    return {
        "config": {
            "signups": args.signups,
            "concurrency": args.concurrency,
            "workers": args.workers,
            "threads": args.threads,
            "worker_class": "gthread" if args.threads > 1 else "sync",
            "healthz_requests": args.healthz_requests,
            "sessions": db_checks["sessions"],
            "seats_per_session": SEATS_PER_SESSION,
        },
        "environment": environment,
        "healthz": {
            "requests": healthz_jobs,
            "ok": len(healthz_ok),
            "wall_seconds": round(healthz_wall, 3),
            "requests_per_second": round(healthz_rps, 1),
            "latency": latency_summary(healthz_ok),
            "before_signups": before,
            "after_signups": after,
            "before_after_difference": round(drift, 3),
        },
        "signup": {
            "attempts": signups.jobs,
            "completed": len(completed),
            "wall_seconds": round(signups.wall_seconds, 3),
            "signups_per_second": round(signups_per_second, 1),
            "ratio_to_healthz": round(signups_per_second / healthz_rps, 3) if healthz_rps else None,
            "post_latency": latency_summary([r.post_seconds for r in completed]),
            "get_latency": latency_summary([r.get_seconds for r in completed]),
            "get_and_post_latency": latency_summary([r.total_seconds for r in completed]),
            "cpu_share": _cpu_shares(signups),
            "postgres_backend_states": signups.postgres.get("backend_states", {}),
            "outcomes": dict(outcomes),
            "unexpected_examples": [
                {"outcome": r.outcome, "detail": r.detail} for r in unexpected[:5]
            ],
        },
        "database": db_checks,
        "gunicorn": log,
        "problems": problems,
    }


def print_report(report: dict) -> None:
    """Print the run's figures and checks as tables."""
    config, healthz, signup = report["config"], report["healthz"], report["signup"]
    checks, log = report["database"], report["gunicorn"]

    def cell(value) -> str:
        return "-" if value is None else str(value)

    print()
    print("Training Desk signup load benchmark")
    print(
        f"  gunicorn {config['workers']} {config['worker_class']} workers"
        f" x {config['threads']} thread(s), {config['concurrency']} concurrent clients,"
        f" {report['environment']['cpus']} CPUs (client, server and PostgreSQL share them)"
    )
    print(
        f"  {config['sessions']} sessions x {config['seats_per_session']} seats ="
        f" {checks['seats']} seats; {config['signups']} organizations try to sign up"
    )
    print()
    header = f"{'Requests':<26}{'count':>7}{'wall s':>9}{'per s':>9}{'p50 ms':>9}{'p99 ms':>9}"
    print(header + f"{'max ms':>9}")
    print("-" * (len(header) + 9))
    before, after = healthz["before_signups"], healthz["after_signups"]
    rows = [
        ("GET /healthz, before", before["latency"], before["wall_seconds"],
         before["requests_per_second"]),
        ("GET /healthz, after", after["latency"], after["wall_seconds"],
         after["requests_per_second"]),
        ("GET /healthz, both", healthz["latency"], healthz["wall_seconds"],
         healthz["requests_per_second"]),
        ("GET /signup", signup["get_latency"], signup["wall_seconds"], None),
        ("POST /signup", signup["post_latency"], signup["wall_seconds"],
         signup["signups_per_second"]),
        ("signup GET + POST", signup["get_and_post_latency"], signup["wall_seconds"],
         signup["signups_per_second"]),
    ]  # fmt: skip
    for label, latency, wall, rate in rows:
        print(
            f"{label:<26}{latency['count']:>7}{wall:>9.2f}{cell(rate):>9}"
            f"{cell(latency['p50_ms']):>9}{cell(latency['p99_ms']):>9}{cell(latency['max_ms']):>9}"
        )
    print()
    print(f"Signups per second (GET form + POST)      {signup['signups_per_second']}")
    print(f"/healthz requests per second              {healthz['requests_per_second']}")
    print(f"Ratio signups/s : healthz req/s           {cell(signup['ratio_to_healthz'])}")
    if healthz["before_after_difference"] > 0.25:
        print(
            f"  Warning: /healthz ran {healthz['before_after_difference']:.0%} slower at one end"
            " of the run: the machine's load changed, so compare runs with care."
        )
    print()
    print(f"{'Share of all CPUs':<26}{'client':>9}{'gunicorn':>10}{'postgres':>10}{'machine':>9}")
    phases = (
        ("GET /healthz, before", before["cpu_share"]),
        ("signups", signup["cpu_share"]),
        ("GET /healthz, after", after["cpu_share"]),
    )
    for label, share in phases:
        print(
            f"  {label:<24}{cell(share['client']):>9}{cell(share['gunicorn']):>10}"
            f"{cell(share['postgres']):>10}{cell(share['machine']):>9}"
        )
    print(
        "  (machine = every process, this run's or not; load average before the run: "
        f"{', '.join(map(str, report['environment']['load_average']))})"
    )
    print()
    print("PostgreSQL backends during the signups (share of samples)")
    for state, share in signup["postgres_backend_states"].items():
        print(f"  {state:<48}{share}")
    print()
    print("Outcomes")
    print(f"  confirmed (database)                    {checks['confirmed']}")
    print(f"  waitlisted (database)                   {checks['waitlisted']}")
    print(f"  refused, session full (409)             {signup['outcomes'].get('refused: full', 0)}")
    others = {k: v for k, v in signup["outcomes"].items() if k not in ("accepted", "refused: full")}
    print(f"  unexpected answers                      {sum(others.values())} {others or ''}")
    for example in signup["unexpected_examples"]:
        print(f"    {example['outcome']}: {example['detail'][:150]}")
    print()
    print("Checks (database)")
    for label, key in [
        ("seats oversold", "seats_oversold"),
        ("sessions with seats_booked != confirmed", "sessions_seats_booked_mismatch"),
        ("seats left unfilled", "seats_left_unfilled"),
        (
            "waitlisted though a chosen session had a seat",
            "waitlisted_while_chosen_session_had_seat",
        ),
        ("refused though a chosen session had a seat", "refused_while_chosen_session_had_seat"),
        ("organizations with two active signups", "duplicate_organizations"),
        ("signups with no email queued", "signups_without_email"),
        ("emails queued", "emails_queued"),
    ]:
        print(f"  {label:<48}{checks[key]}")
    print()
    print(
        f"gunicorn log: {log['tracebacks']} tracebacks, {log['worker_timeouts']} worker timeouts,"
        f" {len(log['worker_crashes'])} crashed workers, {log['error_lines']} error lines"
        f" ({log['log']})"
    )
    for line, count in log["exceptions"].items():
        print(f"  {count} x {line[:160]}")
    for line in log["worker_crashes"][:5]:
        print(f"  {line[:160]}")
    if report["schema_differences"]:
        print()
        print("Warning: the database after `flask db upgrade` lacks what the models add:")
        for difference in report["schema_differences"]:
            print(f"  {difference}")
    print()
    print("Result:", "PASS" if not report["problems"] else "FAIL: " + "; ".join(report["problems"]))


def say(message: str) -> None:
    """Progress goes to stderr, so stdout holds only the report."""
    print(message, file=sys.stderr, flush=True)


def _interrupt(_signum, _frame):
    raise BenchInterrupted


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark: 0 when every check passed, 1 when one failed, 2 when it could not run."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    deadline = time.monotonic() + args.timeout
    database = f"training_bench_{os.getpid()}"
    load_average = [round(value, 2) for value in os.getloadavg()]
    url = database_url(database)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    log_path = RESULTS_DIR / "signup_load_gunicorn.log"
    stop = threading.Event()
    server: subprocess.Popen | None = None
    workdir = tempfile.TemporaryDirectory(prefix="training-bench-")
    admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    created = False
    try:
        say(f"Creating database {database}")
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        created = True
        # The app reads its settings from TRAINING_* variables, here and in gunicorn alike.
        os.environ.update(
            TRAINING_SQLALCHEMY_DATABASE_URI=url,
            TRAINING_SECRET_KEY="bench-" + secrets.token_hex(32),
            TRAINING_INSTANCE_PATH=workdir.name,
        )
        upgrade_database(dict(os.environ), deadline)
        differences = schema_differences()
        if differences:
            say("Warning: the migrations lag the models: " + "; ".join(differences))
        session_ids = add_program(SESSIONS, SEATS_PER_SESSION)
        attempts = make_attempts(args.signups, session_ids)

        listener = listening_socket()
        base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        # PYTHONFAULTHANDLER: a worker that crashes (SIGSEGV) logs every thread's stack first.
        env = dict(os.environ, TRAINING_PUBLIC_URL=base_url, PYTHONFAULTHANDLER="1")
        say(f"Starting gunicorn on {base_url} ({args.workers} workers)")
        server = start_gunicorn(env, listener, args.workers, args.threads, log_path)
        listener.close()
        wait_until_healthy(base_url, server, deadline)

        say("Warming up every worker (not measured)")
        warm_up = [None] * (args.workers * args.threads * 5)
        for path in ("/healthz", "/signup"):
            run_phase(warm_up, args.workers, fetch(base_url + path), server, deadline, stop)
        # Half the baseline before the signups and half after, so a change in the machine's
        # load during the run shows instead of skewing the ratio unseen.
        halves = [args.healthz_requests // 2, args.healthz_requests - args.healthz_requests // 2]
        healthz_runs = []
        say(f"Baseline: {halves[0]} x GET /healthz")
        healthz_runs.append(
            run_phase(
                [None] * halves[0],
                args.concurrency,
                fetch(f"{base_url}/healthz"),
                server,
                deadline,
                stop,
                PostgresWatcher(POSTGRES_ADMIN_URL, database),
            )
        )
        say(f"Signups: {args.signups} organizations, {args.concurrency} at a time")
        signups = run_phase(
            attempts,
            args.concurrency,
            sign_up(base_url),
            server,
            deadline,
            stop,
            PostgresWatcher(POSTGRES_ADMIN_URL, database),
        )
        say(f"Baseline again: {halves[1]} x GET /healthz")
        healthz_runs.append(
            run_phase(
                [None] * halves[1],
                args.concurrency,
                fetch(f"{base_url}/healthz"),
                server,
                deadline,
                stop,
                PostgresWatcher(POSTGRES_ADMIN_URL, database),
            )
        )
        stop_gunicorn(server)

        refused = [r.attempt for r in signups.results if r.outcome == "refused: full"]
        db_checks = check_database(url, refused)
        environment = {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "gunicorn": version("gunicorn"),
            "postgresql": admin.execute("SHOW server_version").fetchone()[0],
            "load_average": load_average,
        }
        report = summarize(
            args, environment, healthz_runs, signups, db_checks, scan_gunicorn_log(log_path)
        )
        report["schema_differences"] = differences
        print_report(report)
        out = RESULTS_DIR / "signup_load.json"
        out.write_text(json.dumps(report, indent=2) + "\n")
        say(f"Wrote {out}")
        return 1 if report["problems"] else 0
    except SetupError as error:
        say(f"Cannot run the benchmark: {error}")
        return 2
    except KeyboardInterrupt:
        say("Interrupted; stopping gunicorn and dropping the database")
        return 130
    finally:
        stop.set()
        if server is not None:
            stop_gunicorn(server)
        if created:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )
        admin.close()
        workdir.cleanup()


if __name__ == "__main__":
    sys.exit(main())
