"""Live session benchmark: what a participant's poll costs, and how fast a click reaches everyone.

Creates a throwaway PostgreSQL database, migrates it, adds one session with one organization per
participant and the walkthrough, and serves the app with gunicorn (sync workers) on loopback.

1. Poll cost: one client asks a participant's state.json back to back, first without an ETag
   (200 with the step's HTML), then with the current one (304), and the workers' CPU time is
   read from /proc around each run.
2. Click to screen: N participant threads poll state.json every POLL_MS with If-None-Match, as
   live.js does; a signed-in facilitator presses "Next step" CLICKS times, and each participant
   notes when its poll first shows the new step.

It prints a table and writes bench/results/live_poll-<database>-<time>.json. Run:

    .venv/bin/python bench/live_poll.py --participants 10 100 --workers 4
"""

import argparse
import json
import os
import platform
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path

import httpx
import psycopg
from harness import (
    POSTGRES_ADMIN_URL,
    PROJECT_ROOT,
    RESULTS_DIR,
    SetupError,
    database_url,
    hidden_inputs,
    listening_socket,
    percentile,
    say,
    start_gunicorn,
    stop_gunicorn,
    upgrade_database,
    wait_until_healthy,
    worker_cpu_seconds,
)
from psycopg import sql

from training import create_app
from training.booking.models import Program, TrainingSession
from training.booking.services import SignupDetails, book_signup
from training.extensions import db, utcnow
from training.live.services import start_session
from training.live.steps import seed_walkthrough
from training.staff import services as staff_services

FACILITATOR = "bench-facilitator@training.example.org"
PASSWORD = secrets.token_urlsafe(16)
POLL_MS = 1000  # as LIVE_POLL_MS, the participant page's default


@dataclass
class Poller:
    """One simulated participant: its manage token and when it saw each step."""

    token: str
    etag: str | None = None
    step: int | None = None
    seen: dict[int, float] = field(default_factory=dict)  # step number -> monotonic time
    requests: int = 0
    not_modified: int = 0
    errors: int = 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--clicks", type=int, default=6, help="facilitator clicks per run")
    parser.add_argument("--cost-requests", type=int, default=1000, help="polls per cost run")
    args = parser.parse_args(argv)
    if max(args.participants) < 1 or args.workers < 1 or not 1 <= args.clicks <= 7:
        parser.error("participants and workers must be at least 1; clicks between 1 and 7")
    return args


def add_live_session(participants: int) -> tuple[int, list[str]]:
    """One started session with ``participants`` organizations; their manage tokens."""
    app = create_app()
    with app.app_context():
        now = utcnow()
        program = Program(
            slug="bench",
            name="Bench Program",
            description="Benchmark.",
            timezone="America/Los_Angeles",
            window_starts_on=(now - timedelta(days=7)).date(),
            window_ends_on=(now + timedelta(days=30)).date(),
            signup_opens_at=now - timedelta(days=1),
            signup_closes_at=now + timedelta(days=30),
            staff_email="staff@training.example.org",
            accme_challenge_due_on=(now + timedelta(days=9)).date(),
            cma_challenge_due_on=(now + timedelta(days=120)).date(),
            attestation_text="We have permission.",
        )
        starts_at = now.replace(second=0, microsecond=0) + timedelta(days=2)
        session = TrainingSession(
            starts_at=starts_at, ends_at=starts_at + timedelta(minutes=90), seats=participants
        )
        program.sessions.append(session)
        db.session.add(program)
        db.session.flush()
        tokens = []
        for number in range(participants):
            _signup, token = book_signup(
                program,
                SignupDetails(f"Organization {number}", "Contact", f"c{number}@example.org"),
                [session],
                submission_key=uuid.uuid4().hex,
                join_waitlist=False,
                now=now,
            )
            tokens.append(token)
        seed_walkthrough(PROJECT_ROOT / "seed" / "walkthrough")
        member = staff_services.create_staff(FACILITATOR, PASSWORD, "facilitator")
        member.sessions.append(session)
        start_session(session, actor=member, now=now)
        db.session.commit()
        session_id = session.id
        db.engine.dispose()
    return session_id, tokens


def facilitator_client(base_url: str, session_id: int) -> tuple[httpx.Client, str]:
    """A signed-in facilitator and the CSRF token its console's forms carry."""
    client = httpx.Client(base_url=base_url, timeout=10)
    page = client.get("/staff/sign-in").text
    client.post(
        "/staff/sign-in",
        data={"email": FACILITATOR, "password": PASSWORD, **hidden_inputs(page)},
    )
    console = client.get(f"/staff/live/{session_id}")
    if console.status_code != 200:
        raise SetupError(f"the console answered {console.status_code}")
    return client, hidden_inputs(console.text)["csrf_token"]


def poll_cost(base_url: str, token: str, server, requests: int) -> dict:
    """Latency and worker CPU per poll: without an ETag (200) and with the current one (304)."""
    url = f"/manage/{token}/live/state.json"
    results = {}
    with httpx.Client(base_url=base_url, timeout=10) as client:
        etag = client.get(url).headers["ETag"]
        for name, headers, expected in (
            ("200", {}, 200),
            ("304", {"If-None-Match": etag}, 304),
        ):
            for _ in range(50):  # warm every worker
                client.get(url, headers=headers)
            cpu_before, latencies = worker_cpu_seconds(server), []
            for _ in range(requests):
                started = time.perf_counter()
                response = client.get(url, headers=headers)
                latencies.append(time.perf_counter() - started)
                if response.status_code != expected:
                    raise SetupError(f"a poll answered {response.status_code}, not {expected}")
            cpu = worker_cpu_seconds(server) - cpu_before
            results[name] = {
                "requests": requests,
                "bytes": len(response.content),
                "p50_ms": round(percentile(latencies, 50) * 1000, 2),
                "p99_ms": round(percentile(latencies, 99) * 1000, 2),
                "worker_cpu_ms_per_request": round(cpu * 1000 / requests, 3),
            }
    return results


def poll_forever(base_url: str, poller: Poller, stop: threading.Event) -> None:
    """Poll like live.js: every POLL_MS, with If-None-Match, noting when a new step shows."""
    url = f"/manage/{poller.token}/live/state.json"
    stop.wait(random.random() * POLL_MS / 1000)  # browsers open the page at different times
    with httpx.Client(base_url=base_url, timeout=10) as client:
        while not stop.is_set():
            started = time.monotonic()
            headers = {"If-None-Match": poller.etag} if poller.etag else {}
            try:
                response = client.get(url, headers=headers)
            except httpx.TransportError:
                poller.errors += 1
            else:
                poller.requests += 1
                if response.status_code == 304:
                    poller.not_modified += 1
                elif response.status_code == 200:
                    poller.etag = response.headers["ETag"]
                    step = response.json()["step"]["number"]
                    if step != poller.step:
                        poller.seen.setdefault(step, time.monotonic())
                        poller.step = step
                else:
                    poller.errors += 1
            stop.wait(max(0.0, POLL_MS / 1000 - (time.monotonic() - started)))


def click_to_screen(base_url: str, session_id: int, tokens: list[str], clicks: int, server):
    """Participants poll; the facilitator clicks "Next step"; how long until all see it."""
    pollers = [Poller(token) for token in tokens]
    stop = threading.Event()
    threads = [
        threading.Thread(target=poll_forever, args=(base_url, poller, stop), daemon=True)
        for poller in pollers
    ]
    facilitator, csrf_token = facilitator_client(base_url, session_id)
    for thread in threads:
        thread.start()
    time.sleep(2.5)  # every poller has its ETag
    cpu_before, wall_before = worker_cpu_seconds(server), time.monotonic()
    clicked: dict[int, float] = {}
    all_seen, each_seen = [], []
    for step in range(2, 2 + clicks):
        clicked[step] = time.monotonic()
        response = facilitator.post(
            f"/staff/live/{session_id}/next",
            data={"csrf_token": csrf_token, "submission_key": uuid.uuid4().hex},
        )
        if response.status_code != 303:
            raise SetupError(f"Next step answered {response.status_code}")
        give_up = clicked[step] + 15
        while time.monotonic() < give_up and not all(step in p.seen for p in pollers):
            time.sleep(0.05)
        delays = [p.seen[step] - clicked[step] for p in pollers if step in p.seen]
        if len(delays) < len(pollers):
            raise SetupError(f"only {len(delays)} of {len(pollers)} saw step {step} in 15 s")
        time.sleep(max(0.0, clicked[step] + 2.5 - time.monotonic()))
        all_seen.append(max(delays))
        each_seen.extend(delays)
    wall = time.monotonic() - wall_before
    cpu = worker_cpu_seconds(server) - cpu_before
    stop.set()
    for thread in threads:
        thread.join(timeout=5)
    facilitator.close()
    requests = sum(p.requests for p in pollers)
    return {
        "participants": len(pollers),
        "clicks": clicks,
        "all_saw_it_ms": {
            "p50": round(percentile(all_seen, 50) * 1000),
            "max": round(max(all_seen) * 1000),
        },
        "clicks_seen_by_all_within_2s": sum(seconds <= 2 for seconds in all_seen),
        "each_saw_it_ms": {
            "p50": round(percentile(each_seen, 50) * 1000),
            "p99": round(percentile(each_seen, 99) * 1000),
        },
        "polls": requests,
        "share_304": round(sum(p.not_modified for p in pollers) / max(requests, 1), 3),
        "errors": sum(p.errors for p in pollers),
        "worker_cpu_share_of_one_core": round(cpu / wall, 3),
    }


def run(args: argparse.Namespace, workdir: str) -> dict:
    database = f"training_bench_live_{os.getpid()}"
    admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    server = None
    try:
        say(f"Creating database {database}")
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        os.environ.update(
            TRAINING_SQLALCHEMY_DATABASE_URI=database_url(database),
            TRAINING_SECRET_KEY="bench-" + secrets.token_hex(32),
            TRAINING_INSTANCE_PATH=workdir,
        )
        upgrade_database(dict(os.environ), time.monotonic() + 120)
        session_id, tokens = add_live_session(max(args.participants))

        listener = listening_socket()
        base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        env = dict(os.environ, TRAINING_PUBLIC_URL=base_url)
        say(f"Starting gunicorn on {base_url} ({args.workers} sync workers)")
        log_path = Path(workdir) / "gunicorn.log"
        server = start_gunicorn(env, listener, args.workers, 1, log_path)
        listener.close()
        wait_until_healthy(base_url, server, time.monotonic() + 60)

        say(f"Poll cost: {args.cost_requests} polls with and without an ETag")
        cost = poll_cost(base_url, tokens[0], server, args.cost_requests)
        runs = []
        for participants in args.participants:
            say(f"Click to screen: {participants} participants, {args.clicks} clicks")
            runs.append(
                click_to_screen(base_url, session_id, tokens[:participants], args.clicks, server)
            )
            # The next run starts on step 2 again.
            client, csrf_token = facilitator_client(base_url, session_id)
            for _ in range(args.clicks):
                client.post(
                    f"/staff/live/{session_id}/back",
                    data={"csrf_token": csrf_token, "submission_key": uuid.uuid4().hex},
                )
            client.close()
        return {"poll_cost": cost, "click_to_screen": runs}
    finally:
        if server is not None:
            stop_gunicorn(server)
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        )
        admin.close()


def table(results: dict) -> str:
    cost = results["poll_cost"]
    lines = [
        "| Poll | Body (bytes) | p50 (ms) | p99 (ms) | Worker CPU per poll (ms) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, label in (("200", "200 with the step"), ("304", "304 Not Modified")):
        row = cost[name]
        lines.append(
            f"| {label} | {row['bytes']} | {row['p50_ms']} | {row['p99_ms']} | "
            f"{row['worker_cpu_ms_per_request']} |"
        )
    lines += [
        "",
        "| Participants | All saw the click, p50 / max (ms) | Each saw it, p50 / p99 (ms) "
        "| Clicks seen by all within 2 s | Polls | 304 share | Worker CPU (cores) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in results["click_to_screen"]:
        lines.append(
            f"| {run['participants']} | {run['all_saw_it_ms']['p50']} / "
            f"{run['all_saw_it_ms']['max']} | {run['each_saw_it_ms']['p50']} / "
            f"{run['each_saw_it_ms']['p99']} | "
            f"{run['clicks_seen_by_all_within_2s']} of {run['clicks']} | "
            f"{run['polls']} | {run['share_304']:.1%} | "
            f"{run['worker_cpu_share_of_one_core']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    with tempfile.TemporaryDirectory(prefix="training-bench-live-") as workdir:
        try:
            results = run(args, workdir)
        except (SetupError, psycopg.OperationalError, subprocess.SubprocessError) as error:
            say(f"The benchmark could not run: {error}")
            return 2
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report = {
        "benchmark": "live_poll",
        "database": "postgresql",
        "workers": args.workers,
        "worker_class": "sync",
        "poll_ms": POLL_MS,
        "environment": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "gunicorn": version("gunicorn"),
            "load_average_at_end": [round(value, 2) for value in os.getloadavg()],
        },
        **results,
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"live_poll-postgresql-{stamp}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(table(results))
    say(f"Wrote {path.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
