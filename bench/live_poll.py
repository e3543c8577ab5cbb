"""Live session benchmark: what a participant's poll costs, and how fast a click reaches everyone.

Creates a throwaway PostgreSQL database, migrates it, adds one session with one organization per
participant and the walkthrough, and serves the app with gunicorn (sync workers) on loopback,
once per mode: ``database`` (every poll reads the database: the baseline) and ``redis`` (an
unchanged poll is answered 304 from Redis before Flask, ``training.live.cache``).

1. Poll cost: one client asks a participant's state.json back to back, first without an ETag
   (200 with the step's HTML), then with the current one (304), and gunicorn's CPU time (its
   processes only, from /proc) is read around each run.
2. Click to screen: N participants poll state.json every POLL_MS ±10% with If-None-Match, as
   poll.js does, from LOAD_PROCESSES separate processes (asyncio + aiohttp, one connection per
   poll as with gunicorn's sync workers), so the load generator does not run on the server's
   processes; a signed-in facilitator presses "Next step" CLICKS times, and each participant
   notes when its poll first shows the new step (CLOCK_MONOTONIC is one clock for every
   process). Repeated ``--repeat`` times, each run reporting the max and p95 of "each saw it".

It prints a table and writes bench/results/live_poll-<database>-<time>.json. Run:

    .venv/bin/python bench/live_poll.py --participants 500 --repeat 3
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import random
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from queue import Empty

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
    process_cpu_seconds,
    say,
    start_gunicorn,
    stop_gunicorn,
    upgrade_database,
    wait_until_healthy,
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
LOAD_PROCESSES = 4
REDIS_URL = os.environ.get("TRAINING_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
MODES = ("database", "redis")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, nargs="+", default=[500])
    parser.add_argument(
        "--baseline-participants",
        type=int,
        nargs="*",
        default=[100],
        help="click-to-screen runs of the database mode (it cannot keep up with 500)",
    )
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--clicks", type=int, default=6, help="facilitator clicks per run")
    parser.add_argument("--repeat", type=int, default=3, help="click-to-screen runs per size")
    parser.add_argument("--cost-requests", type=int, default=1000, help="polls per cost run")
    args = parser.parse_args(argv)
    sizes = args.participants + args.baseline_participants
    if min(sizes) < 1 or args.workers < 1 or args.repeat < 1 or not 1 <= args.clicks <= 7:
        parser.error("participants, workers, repeat at least 1; clicks between 1 and 7")
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
        # Started once check-in is open (30 minutes before the start), as a facilitator would.
        start_session(session, actor=member, now=starts_at - timedelta(minutes=5))
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


def gunicorn_cpu_seconds(server: subprocess.Popen) -> float:
    """CPU time used so far by gunicorn: its master and its live workers (Linux /proc)."""
    try:
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    except OSError as error:
        raise SetupError("gunicorn's CPU time cannot be read from /proc") from error
    return sum(process_cpu_seconds([server.pid, *children]).values())


def poll_cost(base_url: str, token: str, server, requests: int) -> dict:
    """Latency and gunicorn CPU per poll: without an ETag (200) and with the current one (304)."""
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
            cpu_before, latencies = gunicorn_cpu_seconds(server), []
            for _ in range(requests):
                started = time.perf_counter()
                response = client.get(url, headers=headers)
                latencies.append(time.perf_counter() - started)
                if response.status_code != expected:
                    raise SetupError(f"a poll answered {response.status_code}, not {expected}")
            cpu = gunicorn_cpu_seconds(server) - cpu_before
            results[name] = {
                "requests": requests,
                "bytes": len(response.content),
                "p50_ms": round(percentile(latencies, 50) * 1000, 2),
                "p99_ms": round(percentile(latencies, 99) * 1000, 2),
                "server_cpu_ms_per_request": round(cpu * 1000 / requests, 3),
            }
    return results


# --- The load generator: participants polling, in their own processes ---------------------------


async def _poll_forever(session, base_url, token, stop, seen, counts) -> None:
    """Poll like poll.js: every POLL_MS ±10%, with If-None-Match, noting when a step shows."""
    import aiohttp

    url = f"{base_url}/manage/{token}/live/state.json"
    etag, step = None, None
    await asyncio.sleep(random.random() * POLL_MS / 1000)  # pages open at different times
    while not stop.is_set():
        headers = {"If-None-Match": etag} if etag else {}
        try:
            async with session.get(url, headers=headers) as response:
                counts["requests"] += 1
                if response.status == 304:
                    counts["not_modified"] += 1
                elif response.status == 200:
                    etag = response.headers["ETag"]
                    number = (await response.json())["step"]["number"]
                    if number != step:
                        seen.put((number, time.monotonic()))
                        step = number
                else:
                    counts["errors"] += 1
        except (aiohttp.ClientError, TimeoutError):
            counts["errors"] += 1
        await asyncio.sleep(POLL_MS / 1000 * (0.9 + 0.2 * random.random()))


def _load_process(base_url: str, tokens: list[str], stop, seen, done) -> None:
    """One load-generator process: ``tokens``' participants polling until ``stop`` is set."""
    import aiohttp

    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's handler
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent stops it

    async def main() -> dict:
        counts = {"requests": 0, "not_modified": 0, "errors": 0}
        connector = aiohttp.TCPConnector(limit=0, force_close=True)
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            tasks = [
                asyncio.create_task(_poll_forever(session, base_url, token, stop, seen, counts))
                for token in tokens
            ]
            while not stop.is_set():
                await asyncio.sleep(0.1)
            await asyncio.gather(*tasks, return_exceptions=True)
        return counts

    counts = asyncio.run(main())
    counts["cpu_seconds"] = sum(os.times()[:2])
    done.put(counts)


def click_to_screen(base_url: str, session_id: int, tokens: list[str], clicks: int, server):
    """Participants poll; the facilitator clicks "Next step"; how long until each sees it."""
    context = multiprocessing.get_context("fork")
    stop, seen, done = context.Event(), context.Queue(), context.Queue()
    processes = [
        context.Process(
            target=_load_process,
            args=(base_url, tokens[number::LOAD_PROCESSES], stop, seen, done),
            daemon=True,
        )
        for number in range(min(LOAD_PROCESSES, len(tokens)))
    ]
    seen_at: dict[int, list[float]] = {}  # step number -> when each participant first saw it

    def drain(until: float, step: int | None = None) -> None:
        while time.monotonic() < until:
            if step is not None and len(seen_at.get(step, ())) >= len(tokens):
                return
            try:
                number, when = seen.get(timeout=0.05)
            except Empty:
                continue
            seen_at.setdefault(number, []).append(when)

    facilitator, csrf_token = facilitator_client(base_url, session_id)
    for process in processes:
        process.start()
    counts = []
    try:
        drain(time.monotonic() + 60, 1)  # every participant has its ETag
        if len(seen_at.get(1, ())) < len(tokens):
            raise SetupError(f"only {len(seen_at.get(1, ()))} of {len(tokens)} participants polled")
        drain(time.monotonic() + 1)
        load_before = os.getloadavg()[0]
        cpu_before, wall_before = gunicorn_cpu_seconds(server), time.monotonic()
        all_seen, each_seen = [], []
        for step in range(2, 2 + clicks):
            clicked = time.monotonic()
            response = facilitator.post(
                f"/staff/live/{session_id}/next",
                data={"csrf_token": csrf_token, "submission_key": uuid.uuid4().hex},
            )
            if response.status_code != 303:
                raise SetupError(f"Next step answered {response.status_code}")
            drain(clicked + 15, step)
            delays = [when - clicked for when in seen_at.get(step, [])]
            if len(delays) < len(tokens):
                raise SetupError(f"only {len(delays)} of {len(tokens)} saw step {step} in 15 s")
            drain(clicked + 2.5)
            all_seen.append(max(delays))
            each_seen.extend(delays)
        wall = time.monotonic() - wall_before
        cpu = gunicorn_cpu_seconds(server) - cpu_before
        load_after = os.getloadavg()[0]
    finally:
        stop.set()
        for _ in processes:
            try:
                counts.append(done.get(timeout=30))
            except Empty:
                break
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
        facilitator.close()
    requests = sum(count["requests"] for count in counts)
    return {
        "participants": len(tokens),
        "clicks": clicks,
        "all_saw_it_ms": {
            "p50": round(percentile(all_seen, 50) * 1000),
            "max": round(max(all_seen) * 1000),
        },
        "clicks_seen_by_all_within_2s": sum(seconds <= 2 for seconds in all_seen),
        "each_saw_it_ms": {
            "p50": round(percentile(each_seen, 50) * 1000),
            "p95": round(percentile(each_seen, 95) * 1000),
            "max": round(max(each_seen) * 1000),
        },
        "polls": requests,
        "share_304": round(sum(c["not_modified"] for c in counts) / max(requests, 1), 3),
        "errors": sum(count["errors"] for count in counts),
        "server_cpu_cores": round(cpu / wall, 3),
        "load_generator_cpu_seconds": round(sum(count["cpu_seconds"] for count in counts), 1),
        "load_average_1min": [round(load_before, 2), round(load_after, 2)],
    }


def reset_steps(base_url: str, session_id: int, clicks: int) -> None:
    """Back to the step a run starts from."""
    client, csrf_token = facilitator_client(base_url, session_id)
    for _ in range(clicks):
        client.post(
            f"/staff/live/{session_id}/back",
            data={"csrf_token": csrf_token, "submission_key": uuid.uuid4().hex},
        )
    client.close()


def run(args: argparse.Namespace, workdir: str) -> dict:
    database = f"training_bench_live_{os.getpid()}"
    admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    server = None
    results = {}
    try:
        say(f"Creating database {database}")
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        os.environ.update(
            TRAINING_SQLALCHEMY_DATABASE_URI=database_url(database),
            TRAINING_SECRET_KEY="bench-" + secrets.token_hex(32),
            TRAINING_INSTANCE_PATH=workdir,
        )
        upgrade_database(dict(os.environ), time.monotonic() + 120)
        sizes = args.participants + args.baseline_participants
        session_id, tokens = add_live_session(max(sizes))
        for mode in args.modes:
            env = dict(os.environ)
            if mode == "redis":
                env["TRAINING_LIVE_REDIS_URL"] = REDIS_URL
                env["TRAINING_LIVE_CACHE_PREFIX"] = f"training-bench-{os.getpid()}:live:"
            listener = listening_socket()
            base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
            env["TRAINING_PUBLIC_URL"] = base_url
            say(f"[{mode}] Starting gunicorn on {base_url} ({args.workers} sync workers)")
            server = start_gunicorn(
                env, listener, args.workers, 1, Path(workdir) / f"gunicorn-{mode}.log"
            )
            listener.close()
            wait_until_healthy(base_url, server, time.monotonic() + 60)
            say(f"[{mode}] Poll cost: {args.cost_requests} polls with and without an ETag")
            cost = poll_cost(base_url, tokens[0], server, args.cost_requests)
            runs = []
            counts = args.participants if mode == "redis" else args.baseline_participants
            for participants in counts:
                for number in range(1, args.repeat + 1):
                    say(
                        f"[{mode}] Click to screen: {participants} participants, "
                        f"{args.clicks} clicks, run {number} of {args.repeat}"
                    )
                    try:
                        runs.append(
                            click_to_screen(
                                base_url, session_id, tokens[:participants], args.clicks, server
                            )
                        )
                    except SetupError as error:  # too slow is a result, not a crash
                        say(f"[{mode}] {error}")
                        runs.append({"participants": participants, "failed": str(error)})
                    reset_steps(base_url, session_id, args.clicks)
            results[mode] = {"poll_cost": cost, "click_to_screen": runs}
            stop_gunicorn(server)
            server = None
        return results
    finally:
        if server is not None:
            stop_gunicorn(server)
        _forget_cache(f"training-bench-{os.getpid()}:live:")
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        )
        admin.close()


def _forget_cache(prefix: str) -> None:
    """Delete the run's keys from Redis (they would expire in 12 hours anyway)."""
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=prefix + "*", count=1000):
            client.delete(key)
        client.close()
    except redis.RedisError:
        pass


def _spread(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):g} ({min(values):g}–{max(values):g})"


def table(results: dict) -> str:
    lines = [
        "| Mode | Poll | Body (bytes) | p50 (ms) | p99 (ms) | Server CPU per poll (ms) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for mode, result in results.items():
        for name, label in (("200", "200 with the step"), ("304", "304 Not Modified")):
            row = result["poll_cost"][name]
            lines.append(
                f"| {mode} | {label} | {row['bytes']} | {row['p50_ms']} | {row['p99_ms']} | "
                f"{row['server_cpu_ms_per_request']} |"
            )
    lines += [
        "",
        "| Mode | Participants | Each saw it, p50 / p95 / max (ms) | Clicks seen by all "
        "within 2 s | Polls | 304 share | Server CPU (cores) | Load average (1 min) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for mode, result in results.items():
        for run in result["click_to_screen"]:
            if "failed" in run:
                lines.append(f"| {mode} | {run['participants']} | {run['failed']} |||||")
                continue
            each = run["each_saw_it_ms"]
            lines.append(
                f"| {mode} | {run['participants']} | {each['p50']} / {each['p95']} / "
                f"{each['max']} | {run['clicks_seen_by_all_within_2s']} of {run['clicks']} | "
                f"{run['polls']} | {run['share_304']:.1%} | {run['server_cpu_cores']} | "
                f"{run['load_average_1min'][0]} → {run['load_average_1min'][1]} |"
            )
    summary = []
    for mode, result in results.items():
        by_size: dict[int, list[dict]] = {}
        for run in result["click_to_screen"]:
            if "failed" not in run:
                by_size.setdefault(run["participants"], []).append(run)
        for participants, runs in by_size.items():
            summary.append(
                f"{mode}, {participants} participants, {len(runs)} runs, median (min–max): "
                f"max {_spread([r['each_saw_it_ms']['max'] for r in runs])} ms, "
                f"p95 {_spread([r['each_saw_it_ms']['p95'] for r in runs])} ms, "
                f"server {_spread([r['server_cpu_cores'] for r in runs])} cores"
            )
    return "\n".join([*lines, "", *summary])


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
        "load_processes": LOAD_PROCESSES,
        "environment": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "gunicorn": version("gunicorn"),
            "load_average_at_end": [round(value, 2) for value in os.getloadavg()],
        },
        "modes": results,
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"live_poll-postgresql-{stamp}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(table(results))
    say(f"Wrote {path.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
