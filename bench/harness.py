"""What the benchmarks share: serving the app with gunicorn on a throwaway PostgreSQL database,
running a phase of requests on many client threads while measuring CPU and PostgreSQL's
backends, and summarizing latencies. The scenarios (``signup_load.py``, ``live_poll.py``) sit
beside it and import it.
"""

import html
import math
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from queue import Empty, SimpleQueue

import httpx
import psycopg

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
POSTGRES_ADMIN_URL = os.environ.get(
    "TRAINING_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REQUEST_TIMEOUT = 30.0
ERROR_LINE = re.compile(r"\[ERROR\]|\[CRITICAL\]| ERROR in |WORKER TIMEOUT|was sent SIG")
# gunicorn's line when a worker dies of a signal it did not send (SIGSEGV, SIGKILL by the OOM ...)
WORKER_DIED = re.compile(
    r"Worker \(pid:\d+\) (?:was sent SIG(?!TERM|QUIT|INT)\w+|exited with code)"
)


class BenchInterrupted(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C so the server is stopped and the database dropped."""


class SetupError(Exception):
    """The app cannot be benchmarked as it stands; the message says why."""


@dataclass
class Result:
    """What one client job saw: its outcome and how long each request took (seconds)."""

    outcome: str
    get_seconds: float | None = None
    post_seconds: float | None = None
    total_seconds: float | None = None
    status: int | None = None
    detail: str = ""
    attempt: object = None  # the job it ran (a scenario's own, such as a signup attempt)


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


def cpu_shares(phase: PhaseRun) -> dict:
    """The share of all CPUs the client, gunicorn, PostgreSQL and the machine used in a phase."""
    capacity = phase.wall_seconds * (os.cpu_count() or 1)

    def share(seconds: float | None) -> float | None:
        return None if seconds is None or not capacity else round(seconds / capacity, 3)

    return {
        "client": share(phase.client_cpu_seconds),
        "gunicorn": share(phase.server_cpu_seconds),
        "postgres": phase.postgres.get("cpu_share"),
        "machine": phase.machine_busy,
    }


def bench_program(now: datetime, *, days: int = 30):
    """A program open for signups at ``now`` for ``days`` days, without sessions (not added
    to the database session)."""
    from training.booking.models import Program

    return Program(
        slug="bench",
        name="Learner Credit Reporting Training",
        description="Benchmark program.",
        timezone="America/Los_Angeles",
        window_starts_on=now.date(),
        window_ends_on=(now + timedelta(days=days)).date(),
        signup_opens_at=now - timedelta(days=1),
        signup_closes_at=now + timedelta(days=30),
        staff_email="staff@training.example.org",
        accme_challenge_due_on=(now + timedelta(days=9)).date(),
        cma_challenge_due_on=(now + timedelta(days=120)).date(),
        attestation_text="We have our learners' permission to report their credit.",
    )


def add_program(sessions: int, seats: int) -> list[int]:
    """Add one program open for signups and its sessions; return the session ids by date."""
    from training import create_app
    from training.booking.models import TrainingSession
    from training.extensions import db, utcnow

    app = create_app()
    now = utcnow()
    first_start = now.replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
    with app.app_context():
        program = bench_program(now, days=sessions + 30)
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


def say(message: str) -> None:
    """Progress goes to stderr, so stdout holds only the report."""
    print(message, file=sys.stderr, flush=True)


def interrupt(_signum, _frame):
    """The SIGTERM handler: stop the run as Ctrl-C does, cleaning up on the way out."""
    raise BenchInterrupted
