"""Benchmark: the site while the sandbox worker judges a large upload, on SQLite as `make run`
serves it (issue 14's first row), against the same site idle, in the same run.

An organization that already holds about 37,500 sandbox records (75% of its 50,000-row file,
judged once during setup) uploads the same file again. While `flask sandbox work` judges it in
its own process, one client sends, over and over, the three requests of the report: GET
/healthz, GET / and POST /signup (a new organization each time, with the form's CSRF token and
one-time key). Before each upload the same client sends the same requests to the idle site:
the baseline of that run.

The code measured is this working tree and, unless --no-baseline, the tree at --baseline-ref
(default main), extracted from git into a temporary folder: each gets its own SQLite file,
its own development server (`flask run`, threaded, as `make run` starts it) and its own worker,
run from that tree. Runs alternate between the two, so a busy moment of the shared machine does
not fall on one. The report gives, per tree and request, the median over runs of each run's
median latency (and the min-max of those medians), the same for the slowest request of each
run while judging (where a stall shows), the ratio to the idle baseline of the same run, and
how long the judge took.

    .venv/bin/python bench/site_during_judge.py                 # 3 runs, this tree and main
    .venv/bin/python bench/site_during_judge.py --runs 5 --no-baseline
    .venv/bin/python bench/site_during_judge.py --rows 20000 --idle-rounds 10

It writes bench/results/site_during_judge.json. Figures are this machine's, with client,
server and worker sharing its CPUs: read them as ratios within one run.
"""

import argparse
import csv
import io
import json
import os
import platform
import secrets
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import httpx
from signup_load import hidden_inputs

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "site_during_judge.json"
ACTIVITY_ID = "200012345"  # the seeded example activity
REQUESTS = ("GET /healthz", "GET /", "POST /signup")

SETUP = """
from datetime import timedelta
from training import create_app
from training.booking.models import Program, TrainingSession
from training.extensions import db, utcnow

app = create_app()
now = utcnow()
start = now.replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
with app.app_context():
    db.create_all()
    program = Program(
        slug="bench", name="Learner Credit Reporting Training", description="Benchmark.",
        timezone="America/Los_Angeles", window_starts_on=now.date(),
        window_ends_on=(now + timedelta(days=60)).date(),
        signup_opens_at=now - timedelta(days=1), signup_closes_at=now + timedelta(days=30),
        staff_email="staff@training.example.org",
        accme_challenge_due_on=(now + timedelta(days=9)).date(),
        cma_challenge_due_on=(now + timedelta(days=120)).date(),
        attestation_text="We have our learners' permission to report their credit.",
    )
    program.sessions = [
        TrainingSession(starts_at=start + timedelta(days=day),
                        ends_at=start + timedelta(days=day, minutes=90), seats=100000)
        for day in range(5)
    ]
    db.session.add(program)
    db.session.commit()
    print(program.sessions[0].id)
"""


def csrf_token(page: str) -> str:
    return hidden_inputs(page).get("csrf_token", "")


def learner_file(rows: int, today: date) -> bytes:
    """A template CSV of ``rows`` Add rows for the example activity: 3 in 4 are accepted, the
    4th has a birth year (DOB_HAS_YEAR)."""
    sys.path.insert(0, str(ROOT))
    from training.sandbox import rules

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(rules.REQUIRED_HEADERS)
    for n in range(rows):
        cells = {
            rules.RECORD_ACTION: "Add",
            rules.ACTIVITY_ID: ACTIVITY_ID,
            rules.COMPLETION_DATE: (today - timedelta(days=1 + n % 100)).strftime("%m/%d/%Y"),
            rules.FIRST_NAME: f"Learner{n}",
            rules.LAST_NAME: f"Family{n % 997}",
            rules.DATE_OF_BIRTH: "03/15/1970"
            if n % 4 == 3
            else f"{n % 12 + 1:02d}/{n % 28 + 1:02d}",
            rules.LICENSING_STATE: "CA",
            rules.LICENSE_OR_NPI: f"A{n}",
            rules.CME_CREDITS: "1",
        }
        writer.writerow([cells.get(header, "") for header in rules.REQUIRED_HEADERS])
    return out.getvalue().encode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def extract_tree(ref: str, folder: Path) -> Path:
    """The application (package, templates, seed data) as it is at ``ref``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "training", "templates", "seed", "migrations"],
        capture_output=True,
        check=True,
    ).stdout
    root = folder / "baseline"
    root.mkdir()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(root, filter="data")
    return root


@dataclass
class Site:
    """One tree's app: its database, server and organization."""

    name: str
    root: Path
    folder: Path
    port: int = field(default_factory=free_port)
    server: subprocess.Popen | None = None
    session_id: int = 0
    manage_path: str = ""
    held_records: int = 0
    signups: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TRAINING_", "FLASK_"))}
        env.update(
            PYTHONPATH=str(self.root),
            TRAINING_SECRET_KEY="bench-secret-key",  # noqa: S106 (a throwaway database)
            TRAINING_INSTANCE_PATH=str(self.folder / "instance"),
            TRAINING_SQLALCHEMY_DATABASE_URI=f"sqlite:///{self.folder / 'training.sqlite3'}",
            TRAINING_PUBLIC_URL=self.base,
        )
        return env

    def flask(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "flask", "--app", "training", *args]

    def start(self) -> None:
        setup = subprocess.run(
            [sys.executable, "-c", SETUP],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        self.session_id = int(setup.stdout.split()[-1])
        self.server = subprocess.Popen(
            self.flask("run", "--host", "127.0.0.1", "--port", str(self.port)),
            cwd=self.root,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.server.poll() is not None:
                raise SystemExit(f"{self.name}: the server did not start")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.server is not None and self.server.poll() is None:
            os.killpg(self.server.pid, signal.SIGTERM)
            self.server.wait(timeout=15)

    def sign_up(self, client: httpx.Client) -> tuple[float, str]:
        """POST /signup for a new organization; its seconds and where it was sent."""
        client.cookies.clear()
        page = client.get(f"{self.base}/signup", params={"session": self.session_id})
        self.signups += 1
        number = f"{self.name}{self.signups}"
        form = {
            "csrf_token": csrf_token(page.text),
            "submission_key": secrets.token_urlsafe(24),
            "organization_name": f"Bench Clinic {number}",
            "provider_id": "",
            "contact_name": "Ana Reyes",
            "contact_email": f"ana@org{number}.example.org",
            "contact_phone": "(916) 555-0100",
            "attendee_emails": f"lee@org{number}.example.org",
            "first_choice": self.session_id,
            "second_choice": 0,
            "third_choice": 0,
            "attest": "y",
        }
        started = time.perf_counter()
        response = client.post(f"{self.base}/signup", data=form)
        seconds = time.perf_counter() - started
        if response.status_code != 303:
            raise SystemExit(f"{self.name}: signup answered {response.status_code}")
        return seconds, response.headers["Location"]

    def post_form(self, client: httpx.Client, path: str, **kwargs) -> httpx.Response:
        page = client.get(f"{self.base}{self.manage_path}/sandbox")
        data = {"csrf_token": csrf_token(page.text), "submission_key": secrets.token_urlsafe(24)}
        data.update(kwargs.pop("data", {}))
        return client.post(f"{self.base}{path}", data=data, **kwargs)

    def upload(self, client: httpx.Client, data: bytes) -> str:
        response = self.post_form(
            client,
            f"{self.manage_path}/sandbox/uploads",
            files={"learner_file": ("learners.csv", data, "text/csv")},
        )
        if response.status_code != 303:
            raise SystemExit(f"{self.name}: upload answered {response.status_code}")
        return response.headers["Location"]

    def judge(self) -> subprocess.Popen:
        return subprocess.Popen(
            self.flask("sandbox", "work"),
            cwd=self.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def prepare(self, client: httpx.Client, data: bytes) -> None:
        """Sign the organization up, add the example activity, judge its file once."""
        _seconds, confirmation = self.sign_up(client)
        self.manage_path = confirmation.removesuffix("/confirmation")
        added = self.post_form(client, f"{self.manage_path}/sandbox/activities/example")
        if added.status_code != 303:
            raise SystemExit(
                f"{self.name}: adding the example activity answered {added.status_code}"
            )
        attempt = self.upload(client, data)
        worker = self.judge()
        output, _ = worker.communicate()
        if worker.returncode != 0:
            raise SystemExit(f"{self.name}: the first judge failed:\n{output}")
        status = client.get(f"{self.base}{attempt}/status").json()
        if status["status"] != "done":
            raise SystemExit(f"{self.name}: the first upload ended {status['status']}")
        with closing(sqlite3.connect(self.folder / "training.sqlite3")) as database:
            self.held_records = database.execute(
                "SELECT count(*) FROM sandbox_records WHERE NOT is_pending"
            ).fetchone()[0]


def one_round(site: Site, client: httpx.Client, latencies: dict[str, list[float]]) -> None:
    for name, path in (("GET /healthz", "/healthz"), ("GET /", "/")):
        started = time.perf_counter()
        response = client.get(f"{site.base}{path}")
        latencies[name].append(time.perf_counter() - started)
        if response.status_code != 200:
            raise SystemExit(f"{site.name}: {name} answered {response.status_code}")
    seconds, _ = site.sign_up(client)
    latencies["POST /signup"].append(seconds)


def measure(site: Site, client: httpx.Client, data: bytes, idle_rounds: int) -> dict:
    idle: dict[str, list[float]] = {name: [] for name in REQUESTS}
    for _ in range(idle_rounds):
        one_round(site, client, idle)
    site.upload(client, data)
    busy: dict[str, list[float]] = {name: [] for name in REQUESTS}
    started = time.perf_counter()
    worker = site.judge()
    while worker.poll() is None:
        one_round(site, client, busy)
    judge_seconds = time.perf_counter() - started
    output = worker.stdout.read() if worker.stdout else ""
    if worker.returncode != 0 or "Judged 1 upload(s)." not in output:
        raise SystemExit(f"{site.name}: the judge failed:\n{output}")
    return {
        "judge_seconds": judge_seconds,
        "idle": {name: statistics.median(values) for name, values in idle.items()},
        "busy": {name: statistics.median(values) for name, values in busy.items() if values},
        "busy_max": {name: max(values) for name, values in busy.items() if values},
        "busy_count": {name: len(values) for name, values in busy.items()},
    }


def summarize(runs: list[dict]) -> dict:
    def spread(values: list[float]) -> dict:
        return {
            "median_ms": statistics.median(values) * 1000,
            "min_ms": min(values) * 1000,
            "max_ms": max(values) * 1000,
        }

    summary: dict = {"judge_seconds": spread([run["judge_seconds"] for run in runs])}
    for name in REQUESTS:
        busy = [run["busy"][name] for run in runs if name in run["busy"]]
        summary[name] = {
            "idle": spread([run["idle"][name] for run in runs]),
            "judging": spread(busy) if busy else None,
            "slowest": spread([run["busy_max"][name] for run in runs if name in run["busy_max"]])
            if busy
            else None,
            "ratio": statistics.median(
                run["busy"][name] / run["idle"][name] for run in runs if name in run["busy"]
            )
            if busy
            else None,
            "requests_while_judging": sum(run["busy_count"][name] for run in runs),
        }
    return summary


def print_report(report: dict) -> None:
    def ms(figures: dict | None) -> str:
        if figures is None:
            return "none answered"
        return (
            f"{figures['median_ms']:.0f} ms ({figures['min_ms']:.0f}–{figures['max_ms']:.0f})"
            if figures["median_ms"] >= 10
            else f"{figures['median_ms']:.1f} ms ({figures['min_ms']:.1f}–{figures['max_ms']:.1f})"
        )

    print(
        f"\n{report['rows']:,}-row re-upload, {report['runs']} runs; median (min–max of the runs)"
    )
    for tree, summary in report["trees"].items():
        judge = summary["judge_seconds"]
        print(
            f"\n{tree}: {summary['held_records']:,} records held; judge "
            f"{judge['median_ms'] / 1000:.1f} s ({judge['min_ms'] / 1000:.1f}–"
            f"{judge['max_ms'] / 1000:.1f})"
        )
        print(
            f"  {'request':<14}{'idle':>22}{'while judging':>24}{'ratio':>7}"
            f"{'slowest while judging':>28}"
        )
        for name in REQUESTS:
            row = summary[name]
            ratio = f"{row['ratio']:.1f}×" if row["ratio"] is not None else "—"
            print(
                f"  {name:<14}{ms(row['idle']):>22}{ms(row['judging']):>24}{ratio:>7}"
                f"{ms(row['slowest']):>28}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--idle-rounds", type=int, default=20)
    parser.add_argument("--baseline-ref", default="main")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args(argv)

    data = learner_file(args.rows, date.today())
    with tempfile.TemporaryDirectory(prefix="bench-site-") as folder:
        folder = Path(folder)
        trees = {"this tree": ROOT}
        if not args.no_baseline:
            trees[f"{args.baseline_ref} (baseline)"] = extract_tree(args.baseline_ref, folder)
        sites = []
        for number, root in enumerate(trees.values()):
            site_folder = folder / f"site{number}"
            site_folder.mkdir()
            sites.append(Site(name=f"s{number}", root=root, folder=site_folder))
        runs: dict[str, list[dict]] = {name: [] for name in trees}
        try:
            with httpx.Client(timeout=120) as client:
                for site, name in zip(sites, trees, strict=True):
                    print(f"{name}: setting up (first upload of {args.rows:,} rows)...", flush=True)
                    site.start()
                    site.prepare(client, data)
                for run in range(args.runs):
                    for site, name in zip(sites, trees, strict=True):
                        print(f"run {run + 1}/{args.runs}: {name}...", flush=True)
                        runs[name].append(measure(site, client, data, args.idle_rounds))
        finally:
            for site in sites:
                site.stop()
        report = {
            "benchmark": "site_during_judge",
            "rows": args.rows,
            "runs": args.runs,
            "idle_rounds": args.idle_rounds,
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "load_average_after": os.getloadavg(),
            "trees": {
                name: {
                    "held_records": site.held_records,
                    **summarize(runs[name]),
                    "runs": runs[name],
                }
                for site, name in zip(sites, trees, strict=True)
            },
        }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
