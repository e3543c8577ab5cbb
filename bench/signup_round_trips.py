"""One client, one signup at a time: what a POST /signup costs against a GET /healthz round trip.

Creates a throwaway PostgreSQL database, migrates it, adds one open program with 20 roomy
sessions and serves the app with one sync gunicorn worker on loopback. For each of N new
organizations (a new browser each: cookies cleared) it sends GET /healthz (timed), GET /signup
(not timed: it hands over the CSRF token, the one-time submission key and the session cookie,
as a person's browser would) and POST /signup (timed), one after the other. That is repeated
``--runs`` times on the same server; the report gives the median and min-max over runs of each
run's median latency, the ratio POST/healthz, and the SQL statements and transaction round
trips one signup POST sends (counted in-process, with the Flask test client, against the same
database and the same form).

    .venv/bin/python bench/signup_round_trips.py --signups 200 --runs 3

Writes bench/results/signup_round_trips.json; exits 1 if a signup was not accepted, a seat was
oversold or gunicorn logged an error, 2 if it could not start.
"""

import argparse
import json
import os
import platform
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import httpx
import psycopg
from harness import (
    POSTGRES_ADMIN_URL,
    PROJECT_ROOT,
    RESULTS_DIR,
    SetupError,
    add_program,
    database_url,
    hidden_inputs,
    interrupt,
    listening_socket,
    say,
    scan_gunicorn_log,
    start_gunicorn,
    stop_gunicorn,
    upgrade_database,
    wait_until_healthy,
)
from psycopg import sql

SESSIONS = 20
SEATS_PER_SESSION = 10_000
CONFIRMATION_PATH = re.compile(r"/manage/[\w\-]+/confirmation")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signups", type=int, default=200, help="signups per run (default 200)")
    parser.add_argument("--runs", type=int, default=3, help="runs (default 3)")
    parser.add_argument(
        "--timeout", type=float, default=600, help="give up after this many seconds"
    )
    args = parser.parse_args(argv)
    if args.signups < 1 or args.runs < 1:
        parser.error("--signups and --runs must be at least 1")
    return args


def form_for(number: int, hidden: dict[str, str], session_ids: list[int]) -> dict:
    """Organization ``number``'s filled-in form: two attendees, a second choice, a provider ID
    for every other one, the waitlist accepted."""
    return {
        "csrf_token": hidden.get("csrf_token", ""),
        "submission_key": hidden.get("submission_key", ""),
        "organization_name": f"Round Trip County Medical Society {number:06d}",
        "provider_id": f"{3_000_000 + number:07d}" if number % 2 else "",
        "contact_name": "Ana Reyes",
        "contact_email": f"ana.reyes@org{number}.example.org",
        "contact_phone": "(916) 555-0100",
        "attendee_emails": f"lee@org{number}.example.org\nkim@org{number}.example.org",
        "first_choice": session_ids[number % len(session_ids)],
        "second_choice": session_ids[(number + 1) % len(session_ids)],
        "third_choice": 0,
        "join_waitlist": "y",
        "attest": "y",
    }


def run_once(base_url: str, first: int, count: int, session_ids: list[int]) -> dict:
    """``count`` organizations one after the other; the timed latencies of the run, in seconds."""
    healthz, posts, problems = [], [], []
    with httpx.Client(timeout=30) as client:
        for number in range(first, first + count):
            started = time.perf_counter()
            answer = client.get(f"{base_url}/healthz")
            healthz.append(time.perf_counter() - started)
            if answer.status_code != 200:
                problems.append(f"GET /healthz HTTP {answer.status_code}")
            client.cookies.clear()  # a new organization is a new browser
            page = client.get(f"{base_url}/signup")
            form = form_for(number, hidden_inputs(page.text), session_ids)
            started = time.perf_counter()
            response = client.post(f"{base_url}/signup", data=form)
            posts.append(time.perf_counter() - started)
            location = response.headers.get("location", "")
            if response.status_code != 303 or not CONFIRMATION_PATH.search(location):
                problems.append(f"POST /signup HTTP {response.status_code}")
    return {"healthz": healthz, "post": posts, "problems": problems}


def count_statements(session_ids: list[int], first: int, count: int) -> dict:
    """Statements and transaction round trips of ``count`` signup POSTs, counted in-process
    (Flask test client, CSRF on) against the benchmark's database; the per-signup median."""
    from sqlalchemy import event

    from training import create_app
    from training.extensions import db

    app = create_app()
    with app.app_context():
        engine = db.engine
    counts = {"statements": 0, "begin": 0, "commit": 0, "rollback": 0, "checkout": 0}

    def statement(*_args):
        counts["statements"] += 1

    def transaction(name):
        def listener(*_args):
            counts[name] += 1

        return listener

    per_signup = []
    event.listen(engine, "before_cursor_execute", statement)
    for name in ("begin", "commit", "rollback"):
        event.listen(engine, name, transaction(name))
    event.listen(engine.pool, "checkout", transaction("checkout"))
    client = app.test_client()
    for number in range(first, first + count):
        client = app.test_client()
        page = client.get("/signup")
        form = form_for(number, hidden_inputs(page.get_data(as_text=True)), session_ids)
        for key in counts:
            counts[key] = 0
        response = client.post("/signup", data=form)
        if response.status_code != 303:
            raise SetupError(f"the counted signup answered HTTP {response.status_code}")
        per_signup.append(dict(counts))
    with app.app_context():
        db.engine.dispose()
    return {key: statistics.median(c[key] for c in per_signup) for key in counts}


def summary(values: list[float]) -> dict:
    """Median and min-max over runs, in milliseconds."""
    ms = [value * 1000 for value in values]
    return {
        "median_ms": round(statistics.median(ms), 2),
        "min_ms": round(min(ms), 2),
        "max_ms": round(max(ms), 2),
    }


def check_database(url: str) -> dict:
    with psycopg.connect(url) as connection:
        oversold = connection.execute(
            """
            SELECT count(*) FROM training_sessions s
            WHERE s.seats_booked <> (SELECT count(*) FROM signups su
                                     WHERE su.session_id = s.id AND su.status = 'confirmed')
               OR s.seats_booked > s.seats
            """
        ).fetchone()[0]
        signups = connection.execute("SELECT count(*) FROM signups").fetchone()[0]
        without_email = connection.execute(
            "SELECT count(*) FROM signups su WHERE NOT EXISTS"
            " (SELECT 1 FROM outbox_messages o WHERE o.signup_id = su.id)"
        ).fetchone()[0]
    return {
        "signups": signups,
        "sessions_oversold_or_miscounted": oversold,
        "signups_without_email": without_email,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # The app counted in-process is this tree's, as gunicorn's is (not an installed copy's).
    sys.path.insert(0, str(PROJECT_ROOT))
    signal.signal(signal.SIGTERM, interrupt)
    deadline = time.monotonic() + args.timeout
    database = f"training_bench_rt_{os.getpid()}"
    load_before = [round(value, 2) for value in os.getloadavg()]
    url = database_url(database)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    log_path = RESULTS_DIR / "signup_round_trips_gunicorn.log"
    server: subprocess.Popen | None = None
    workdir = tempfile.TemporaryDirectory(prefix="training-bench-")
    admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    created = False
    try:
        say(f"Creating database {database}")
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        created = True
        os.environ.update(
            TRAINING_SQLALCHEMY_DATABASE_URI=url,
            TRAINING_SECRET_KEY="bench-" + secrets.token_hex(32),
            TRAINING_INSTANCE_PATH=workdir.name,
        )
        upgrade_database(dict(os.environ), deadline)
        session_ids = add_program(SESSIONS, SEATS_PER_SESSION)

        listener = listening_socket()
        base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        env = dict(os.environ, TRAINING_PUBLIC_URL=base_url)
        say(f"Starting gunicorn on {base_url} (1 sync worker)")
        server = start_gunicorn(env, listener, 1, 1, log_path)
        listener.close()
        wait_until_healthy(base_url, server, deadline)

        say("Warming up (10 signups, not measured)")
        warm = run_once(base_url, 0, 10, session_ids)
        runs = []
        first = 10
        for run in range(args.runs):
            say(f"Run {run + 1}/{args.runs}: {args.signups} signups, one at a time")
            runs.append(run_once(base_url, first, args.signups, session_ids))
            first += args.signups
        stop_gunicorn(server)
        server = None
        say("Counting the statements of 5 more signups in-process")
        statements = count_statements(session_ids, first, 5)
        checks = check_database(url)
        log = scan_gunicorn_log(log_path)

        per_run = [
            {
                "healthz_median_ms": round(statistics.median(r["healthz"]) * 1000, 2),
                "post_median_ms": round(statistics.median(r["post"]) * 1000, 2),
                "ratio": round(statistics.median(r["post"]) / statistics.median(r["healthz"]), 2),
            }
            for r in runs
        ]
        problems = [p for r in (warm, *runs) for p in r["problems"]]
        if checks["sessions_oversold_or_miscounted"]:
            problems.append("a session's seats_booked disagrees with its bookings")
        if checks["signups_without_email"]:
            problems.append("a signup has no email queued")
        if log["tracebacks"] or log["worker_timeouts"] or log["worker_crashes"]:
            problems.append("gunicorn logged tracebacks, timeouts or crashes")
        report = {
            "config": {"signups_per_run": args.signups, "runs": args.runs, "workers": 1},
            "environment": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "postgresql": admin.execute("SHOW server_version").fetchone()[0],
                "load_average_before": load_before,
                "load_average_after": [round(value, 2) for value in os.getloadavg()],
            },
            "healthz": summary([statistics.median(r["healthz"]) for r in runs]),
            "post_signup": summary([statistics.median(r["post"]) for r in runs]),
            "ratio": {
                "median": statistics.median(r["ratio"] for r in per_run),
                "min": min(r["ratio"] for r in per_run),
                "max": max(r["ratio"] for r in per_run),
            },
            "runs": per_run,
            "per_signup_post": statements,
            "database": checks,
            "gunicorn": log,
            "problems": problems[:20],
        }
        print_report(report)
        out = RESULTS_DIR / "signup_round_trips.json"
        out.write_text(json.dumps(report, indent=2) + "\n")
        say(f"Wrote {out}")
        return 1 if problems else 0
    except SetupError as error:
        say(f"Cannot run the benchmark: {error}")
        return 2
    except KeyboardInterrupt:
        say("Interrupted; stopping gunicorn and dropping the database")
        return 130
    finally:
        if server is not None:
            stop_gunicorn(server)
        if created:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )
        admin.close()
        workdir.cleanup()


def print_report(report: dict) -> None:
    healthz, post, ratio = report["healthz"], report["post_signup"], report["ratio"]
    counted = report["per_signup_post"]
    env = report["environment"]
    print()
    print("Training Desk: one signup at a time (gunicorn, 1 sync worker, PostgreSQL)")
    print(
        f"  {report['config']['runs']} runs x {report['config']['signups_per_run']} signups;"
        f" median over runs of each run's median (min-max over runs)"
    )
    print(f"  GET /healthz     {healthz['median_ms']} ms ({healthz['min_ms']}-{healthz['max_ms']})")
    print(f"  POST /signup     {post['median_ms']} ms ({post['min_ms']}-{post['max_ms']})")
    print(f"  POST / healthz   {ratio['median']}x ({ratio['min']}-{ratio['max']})  target <= 4x")
    for number, run in enumerate(report["runs"], 1):
        print(
            f"    run {number}: healthz {run['healthz_median_ms']} ms,"
            f" signup {run['post_median_ms']} ms, {run['ratio']}x"
        )
    print(
        f"  per signup POST: {counted['statements']} statements, {counted['begin']} BEGIN,"
        f" {counted['commit']} COMMIT, {counted['rollback']} ROLLBACK,"
        f" {counted['checkout']} pool checkouts"
    )
    print(
        f"  load average before {env['load_average_before']}, after {env['load_average_after']}"
        f" ({env['cpus']} CPUs shared by client, server, PostgreSQL and other work)"
    )
    checks = report["database"]
    print(
        f"  database: {checks['signups']} signups, {checks['sessions_oversold_or_miscounted']}"
        f" sessions oversold or miscounted, {checks['signups_without_email']} without email"
    )
    print("Result:", "PASS" if not report["problems"] else "FAIL: " + "; ".join(report["problems"]))


if __name__ == "__main__":
    sys.exit(main())
