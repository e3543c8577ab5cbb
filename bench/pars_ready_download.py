"""The PARS-ready download of a large upload: the request's CPU time on ``main`` (built in the
request) and on this tree (served from the database), and the worker's time to build it.

Each run is a fresh process on a fresh SQLite database: one organization, the example activity,
an upload of ``--rows`` rows (3 in 4 accepted) judged by the worker. Then, timed by
``time.process_time`` in the process that serves the request (the Flask test client, no network):
the findings CSV, the PARS-ready .xlsx and .txt downloads, and on this tree the worker's making
of both files. Runs of the two trees alternate. Both trees' files are compared part by part.

    .venv/bin/python bench/pars_ready_download.py --rows 100000 --runs 3
"""

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from site_during_judge import extract_tree, learner_file

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "pars_ready_download.json"

CHILD = r"""
import json, sys, time, uuid
from datetime import timedelta
from pathlib import Path

rows, folder = int(sys.argv[1]), Path(sys.argv[2])
from training import create_app
from training.booking.models import Program, TrainingSession
from training.booking.services import SignupDetails, book_signup
from training.extensions import db, utcnow
from training.sandbox import tasks

app = create_app({
    "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False,
    "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.sqlite3'}",
})
now = utcnow()
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
    session = TrainingSession(starts_at=now + timedelta(days=3),
                              ends_at=now + timedelta(days=3, hours=1), seats=8)
    program.sessions.append(session)
    db.session.add(program)
    db.session.flush()
    _signup, token = book_signup(
        program, SignupDetails("Sierra Valley Medical Society", "Ana Reyes", "ana@example.org"),
        [session], submission_key="bench-key", join_waitlist=True, now=now)
    db.session.commit()
    today = program.today(now)

client = app.test_client()
base = f"/manage/{token}/sandbox"
client.post(f"{base}/activities/example", data={"submission_key": uuid.uuid4().hex})
data = (folder / "learners.csv").read_bytes()
response = client.post(f"{base}/uploads", content_type="multipart/form-data",
                       data={"learner_file": (__import__("io").BytesIO(data), "learners.csv"),
                             "submission_key": uuid.uuid4().hex})
attempt = response.headers["Location"]
judge_started = time.process_time()
with app.app_context():
    assert tasks.work() == 1
judge_seconds = time.process_time() - judge_started

def timed(method, path, **options):
    started = time.process_time()
    response = getattr(client, method)(path, **options)
    body = response.get_data()
    return time.process_time() - started, response.status_code, body

result = {"worker_judges": judge_seconds}
seconds, status, body = timed("get", f"{attempt}/findings.csv")
result["findings_csv"] = seconds
result["findings_csv_bytes"] = len(body)
for kind in ("xlsx", "txt"):
    seconds, status, body = timed("get", f"{attempt}/pars-ready.{kind}")
    result[f"first_get_{kind}"] = [seconds, status]
    if status == 200:
        (folder / f"file.{kind}").write_bytes(body)
if "sandbox.prepare_pars_files" in app.view_functions:
    key = {"submission_key": uuid.uuid4().hex}
    seconds, status, _ = timed("post", f"{attempt}/pars-ready", data=key)
    result["prepare_post"] = [seconds, status]
    seconds, status, _ = timed("get", attempt)
    result["page_while_preparing"] = [seconds, status]
    with app.app_context():
        for kind in ("xlsx", "txt"):
            claim = tasks.claim_next_file(utcnow())
            started = time.process_time()
            assert tasks.make_claimed_file(claim)
            result[f"worker_{kind}"] = time.process_time() - started
    for kind in ("xlsx", "txt"):
        seconds, status, body = timed("get", f"{attempt}/pars-ready.{kind}")
        result[f"ready_get_{kind}"] = [seconds, status, len(body)]
        (folder / f"file.{kind}").write_bytes(body)
print(json.dumps(result))
"""


def run(root: Path, rows: int, data: bytes) -> dict:
    with tempfile.TemporaryDirectory(prefix="pars18-bench-") as folder:
        (Path(folder) / "learners.csv").write_bytes(data)
        env = {**os.environ, "PYTHONPATH": str(root), "TRAINING_INSTANCE_PATH": folder}
        child = subprocess.run(
            [sys.executable, "-c", CHILD, str(rows), folder],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
        )
        if child.returncode:
            raise SystemExit(f"{root}: the run failed:\n{child.stderr[-3000:]}")
        out = child.stdout
        result = json.loads(out.strip().splitlines()[-1])
        print(root.name, result, file=sys.stderr, flush=True)
        result["files"] = {
            kind: _parts((Path(folder) / f"file.{kind}").read_bytes(), kind)
            for kind in ("xlsx", "txt")
        }
        return result


def _parts(body: bytes, kind: str):
    """A text file's bytes; a workbook's parts (zip timestamps aside: see the tests)."""
    if kind == "txt":
        return body.hex()
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        parts = [(p.filename, archive.read(p)) for p in archive.infolist()]
    # docProps/core.xml holds the save time, which differs from run to run.
    return [(name, data.hex()) for name, data in parts if name != "docProps/core.xml"]


def summary(values: list[float]) -> str:
    median = statistics.median(values)
    return f"median {median:.3f} s (min {min(values):.3f}, max {max(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", default="main")
    args = parser.parse_args()
    from datetime import date

    data = learner_file(args.rows, date.today())
    with tempfile.TemporaryDirectory(prefix="pars18-main-") as folder:
        baseline = extract_tree(args.baseline, Path(folder))
        runs: dict[str, list[dict]] = {"main": [], "branch": []}
        for _ in range(args.runs):
            runs["main"].append(run(baseline, args.rows, data))
            runs["branch"].append(run(ROOT, args.rows, data))
    pairs = zip(runs["main"], runs["branch"], strict=True)
    same = all(main["files"] == branch["files"] for main, branch in pairs)
    for results in runs.values():
        for result in results:
            del result["files"]
    report = {"rows": args.rows, "load_average": os.getloadavg(), "same_files": same, **runs}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    print(f"{args.rows:,} rows, {args.runs} interleaved runs, load {os.getloadavg()}")
    print(f"the same files on both trees: {same}")
    for name, key in (
        ("main: the worker judges the upload", ("main", "worker_judges")),
        ("branch: the worker judges the upload", ("branch", "worker_judges")),
        ("main: GET .xlsx (built in the request)", ("main", "first_get_xlsx")),
        ("main: GET .txt (built in the request)", ("main", "first_get_txt")),
        ("main: GET findings.csv", ("main", "findings_csv")),
        ("branch: GET findings.csv", ("branch", "findings_csv")),
        ("branch: GET .xlsx before it is ready (redirect)", ("branch", "first_get_xlsx")),
        ("branch: POST prepare", ("branch", "prepare_post")),
        ("branch: results page while preparing", ("branch", "page_while_preparing")),
        ("branch: worker makes the .xlsx", ("branch", "worker_xlsx")),
        ("branch: worker makes the .txt", ("branch", "worker_txt")),
        ("branch: GET .xlsx when ready", ("branch", "ready_get_xlsx")),
        ("branch: GET .txt when ready", ("branch", "ready_get_txt")),
    ):
        tree, field = key
        values = [r[field][0] if isinstance(r[field], list) else r[field] for r in runs[tree]]
        print(f"{name}: {summary(values)}")


if __name__ == "__main__":
    main()
