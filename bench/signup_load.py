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
import json
import os
import platform
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from importlib.metadata import version
from urllib.parse import urlsplit

import httpx
import psycopg
from harness import (
    POSTGRES_ADMIN_URL,
    RESULTS_DIR,
    PhaseRun,
    PostgresWatcher,
    Result,
    SetupError,
    add_program,
    cpu_shares,
    database_url,
    error_messages,
    fetch,
    hidden_inputs,
    interrupt,
    latency_summary,
    listening_socket,
    run_phase,
    say,
    scan_gunicorn_log,
    schema_differences,
    start_gunicorn,
    stop_gunicorn,
    upgrade_database,
    wait_until_healthy,
)
from psycopg import sql

SESSIONS = 20
SEATS_PER_SESSION = 8
SHUFFLE_SEED = 2026
CONFIRMATION_PATH = re.compile(r"/manage/[\w\-]+/confirmation")


@dataclass(frozen=True)
class SignupAttempt:
    """One organization's form, as a person would fill it in."""

    number: int
    organization_name: str
    ranked_session_ids: tuple[int, ...]
    join_waitlist: bool
    provider_id: str


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
    if response.status_code == 409 and any(
        words in response.text
        for words in (
            "has just filled: choose another date",
            "is full: choose another date",
            "Every date you chose is full",
        )
    ):
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


def _healthz_summary(phase: PhaseRun) -> dict:
    ok = [r.total_seconds for r in phase.results if r.outcome == "ok"]
    return {
        "requests": phase.jobs,
        "ok": len(ok),
        "wall_seconds": round(phase.wall_seconds, 3),
        "requests_per_second": round(len(ok) / phase.wall_seconds, 1) if phase.wall_seconds else 0,
        "latency": latency_summary(ok),
        "cpu_share": cpu_shares(phase),
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
            "cpu_share": cpu_shares(signups),
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


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark: 0 when every check passed, 1 when one failed, 2 when it could not run."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, interrupt)
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
