"""Benchmark: judge generated learner files and compare with the judge before this change,
frictionless and a bare csv.reader.

Generates CSV files of 10k, 100k and 1M rows (mostly valid, about 1 row in 12 with a mistake),
a 100k-row XLSX (openpyxl write-only), and the same 100k learners as a provider's own
spreadsheet (its own headers, "Last, First" in one column, full birth dates, no Record Action),
then measures on each, every run in a fresh subprocess so each peak is its own:

- judge: training.sandbox.judge.judge_file, every rule of the spec, with a seeded register,
  taken as the worker takes it to store (``FileJudgement.stored``: each part's findings and
  record changes with their keys' digests; the database writes are not timed);
- judge (mapped): the same on the provider's own spreadsheet, read through a column mapping;
- baseline judge: the same, as it is at --baseline-ref (default main), extracted from git into
  a temporary folder and run by the same interpreter on the same files (a judge without
  ``stored`` taken as its worker took it: every RowResult turned into what it stored);
- frictionless: validating the same columns against an equivalent Table Schema (types, required,
  patterns, enums, ranges: what a Table Schema can say; no cross-row or register rules);
- floor: csv.reader reading the rows and nothing else (for the XLSX: openpyxl read-only).
- worker: the sandbox worker's round (``tasks.work``) on a SQLite database holding the file as an
  upload waiting to be judged: its bytes read from the database, judged, and its findings and
  records written; the baseline worker is the application at --baseline-ref, extracted the same
  way. Each run takes a fresh copy of a database prepared in a process of its own, and its
  growth is over the worker's process after its imports, app and register (the file unread).

Each tool runs --runs times (3 by default) per file, interleaved so that a busy moment of a
shared machine does not fall on one tool; the table gives the median and the min-max rows/s.
It prints the machine's load average before and after, and writes bench/results/
sandbox_judge.json. Peak memory is the subprocess's own high-water mark (VmHWM, the largest of
the runs), and the growth over it after imports (the median and min-max of the runs). Every
tool runs with polars' allocator options as the sandbox worker sets them
(SANDBOX_POLARS_MALLOC_CONF, unless _RJEM_MALLOC_CONF is set).

Run with the project's virtualenv:

    .venv/bin/python bench/sandbox_judge.py            # all files, 3 runs each
    .venv/bin/python bench/sandbox_judge.py --quick    # 10k CSV and 10k XLSX only
    .venv/bin/python bench/sandbox_judge.py --only csv:100000 --runs 5
    .venv/bin/python bench/sandbox_judge.py --memory   # the worker's peak memory by size
"""

import argparse
import csv
import hashlib
import importlib
import importlib.util
import io
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The baseline run puts the judge extracted from git first on the path.
sys.path.insert(0, os.environ.get("BENCH_JUDGE_ROOT") or str(ROOT))

from training.sandbox import rules  # noqa: E402 (the project root is put on the path first)

RESULTS = ROOT / "bench" / "results" / "sandbox_judge.json"
TODAY = date(2025, 6, 10)
ACTIVITY_IDS = [f"{100000000 + n}" for n in range(20)]
# Frictionless runs longer than this many rows are measured on their first rows only.
FRICTIONLESS_ROW_CAP = 200_000
STATES = list(rules.STATES)
BOARD_ROWS = [
    ("ABIM", "2", "Medical Knowledge", "2"),
    ("ABP", "2", "Lifelong Learning and Self-Assessment", "2"),
    ("ABS", "", "CME", "2"),
    ("", "", "", ""),
]


def learner_row(n: int) -> list[str]:
    """Row n of a generated file: valid, except one row in 12 with one typical mistake."""
    board, board_credits, credit_type, type_credits = BOARD_ROWS[n % len(BOARD_ROWS)]
    values = [
        "Add",
        ACTIVITY_IDS[n % len(ACTIVITY_IDS)],
        f"{(n % 5) + 1:02d}/{(n % 27) + 1:02d}/2025",
        f"Learner{n}",
        f"Family{n % 997}",
        f"{(n % 12) + 1:02d}/{(n % 28) + 1:02d}",
        STATES[n % len(STATES)],
        f"L-{n}" if n % 3 else "",
        "1.5",
        board,
        f"{500000 + n}" if board else "",
        board_credits if board != "ABS" else "2",
        credit_type,
        type_credits,
    ]
    mistake = n % 12
    if mistake == 1:
        values[8] = "1.3"  # not a quarter
    elif mistake == 5:
        values[5] = "03/15/1970"  # birth year
    elif mistake == 7:
        values[1] = "12345"  # activity ID format
    elif mistake == 11:
        values[2] = "2025-13-01"  # no such date
    return values


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(rules.REQUIRED_HEADERS)
        for n in range(rows):
            writer.writerow(learner_row(n))


# A provider's own spreadsheet (an LMS export): its headers, and how they map to the template.
OWN_HEADER = [
    "Learner", "Course ID", "Birth Date", "State", "License #", "Date Completed", "Credits",
    "Board", "Board ID", "MOC Points", "MOC Credit Type", "Type Credits",
]  # fmt: skip


def own_row(n: int) -> list[str]:
    """Row n of the provider's own spreadsheet: the learner row n, as the LMS exports it."""
    values = learner_row(n)
    birthday = values[5]
    full = f"{birthday}/1970" if birthday.count("/") == 1 else birthday
    return [f"{values[4]}, {values[3]}", values[1], full, values[6], values[7], values[2],
            *values[8:14]]  # fmt: skip


def own_column_map():
    from training.sandbox.columns import ColumnMap

    targets = [rules.NAME_COLUMN, rules.ACTIVITY_ID, rules.BIRTH_DATE_COLUMN,
               rules.LICENSING_STATE, rules.LICENSE_OR_NPI, rules.COMPLETION_DATE,
               rules.CME_CREDITS, rules.BOARD, rules.BOARD_ID, rules.BOARD_CREDITS,
               rules.CREDIT_TYPE, rules.CREDIT_TYPE_CREDITS]  # fmt: skip
    return ColumnMap(tuple(OWN_HEADER), dict(enumerate(targets)), {rules.RECORD_ACTION: "Add"})


def write_own_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(OWN_HEADER)
        for n in range(rows):
            writer.writerow(own_row(n))


def write_xlsx(path: Path, rows: int) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Learners")
    sheet.append([rules.GUIDANCE_LINE])
    sheet.append(list(rules.REQUIRED_HEADERS))
    for n in range(rows):
        sheet.append(learner_row(n))
    workbook.save(path)


def judge_context(*, mapped: bool = False):
    from training.sandbox.judge import (
        Activity,
        BoardRegistration,
        JudgeContext,
        NoRecords,
        Register,
        RegisterEntry,
    )

    boards = {
        "ABIM": BoardRegistration(Decimal(2), frozenset({"Medical Knowledge"})),
        "ABP": BoardRegistration(Decimal(2), frozenset({"Lifelong Learning and Self-Assessment"})),
        "ABS": BoardRegistration(Decimal(4), frozenset({"CME"})),
    }
    activities = {
        activity_id: Activity(
            activity_id, "Bench", date(2025, 1, 1), date(2025, 12, 31), Decimal(3), boards
        )
        for activity_id in ACTIVITY_IDS
    }
    register = Register(
        RegisterEntry(f"Learner{n}", f"Family{n % 997}", (n % 12) + 1, (n % 28) + 1,
                      STATES[n % len(STATES)], f"L-{n}", None, None, None)
        for n in range(1, 20_000, 3)
    )  # fmt: skip
    if mapped:
        return JudgeContext(
            activities, register, NoRecords(), TODAY, max_bytes=1 << 40,
            column_maps=(own_column_map(),),
        )  # fmt: skip
    return JudgeContext(activities, register, NoRecords(), TODAY, max_bytes=1 << 40)


def table_schema() -> dict:
    """The learner columns as a Table Schema: what frictionless can check of the spec."""
    number = {"type": "number", "constraints": {"minimum": 0.25, "maximum": 1000}}
    text = {"type": "string"}
    fields = [
        {"type": "string", "constraints": {"required": True, "enum": ["Add", "Delete"]}},
        {"type": "string", "constraints": {"required": True, "pattern": "[0-9]{9}"}},
        {"type": "date", "format": "%m/%d/%Y", "constraints": {"required": True}},
        {"type": "string", "constraints": {"required": True, "maxLength": 50}},
        {"type": "string", "constraints": {"required": True, "maxLength": 50}},
        {"type": "string", "constraints": {"required": True, "pattern": "[0-9]{2}/[0-9]{2}"}},
        {"type": "string", "constraints": {"enum": [*STATES, ""]}},
        {"type": "string", "constraints": {"pattern": "[A-Za-z0-9-]{1,20}"}},
        number,
        {"type": "string", "constraints": {"enum": list(rules.BOARDS)}},
        {"type": "string", "constraints": {"pattern": "[0-9]+"}},
        number,
        text,
        number,
    ]
    return {
        "fields": [
            {"name": name, **field}
            for name, field in zip(rules.REQUIRED_HEADERS, fields, strict=True)
        ]
    }


def peak_rss_kb() -> int:
    """This process's peak resident memory in KiB: VmHWM on Linux, which starts afresh at exec
    (ru_maxrss there keeps the parent's peak from before the exec), else ru_maxrss."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(tool: str, path: Path) -> dict:
    """Run one tool over one file in this process; rows, seconds and memory."""
    # The register is built before timing starts.
    context = judge_context(mapped=path.stem.startswith("own")) if tool == "judge" else None
    if tool == "worker":
        # The worker's process as it waits for an upload: the app, its database and the
        # register loaded (the file's bytes are not read yet).
        from training import create_app
        from training.sandbox import services

        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
                          "SANDBOX_MAX_UPLOAD_BYTES": 1 << 40, "SECRET_KEY": "bench"})  # fmt: skip
        app.app_context().push()
        services.register()
    if tool in ("judge", "worker") and importlib.util.find_spec("training.sandbox.judge.batches"):
        # Loaded once by a worker process, with the first file it judges in batches: an
        # import (polars, about 0.4 s), not part of judging a file.
        importlib.import_module("training.sandbox.judge.batches")
    baseline_kb = peak_rss_kb()
    started = time.perf_counter()
    cpu_started = time.process_time()
    rows, extra = _run(tool, path, context)
    cpu_seconds = time.process_time() - cpu_started
    seconds = time.perf_counter() - started
    peak_kb = peak_rss_kb()
    return {
        "rows": rows,
        "seconds": round(seconds, 3),
        "rows_per_second": round(rows / seconds),
        "cpu_seconds": round(cpu_seconds, 3),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "rss_growth_mb": round((peak_kb - baseline_kb) / 1024, 1),
        **extra,
    }


# The worker stores a part of this many rows at a time (attempts.WRITE_BATCH_ROWS).
WRITE_BATCH_ROWS = 500


class StoredRows:
    """A part of what the worker stored, as a judge without ``stored`` gave it."""

    def __init__(self) -> None:
        self.findings: list[dict] = []
        self.changes: list[dict] = []


def _digest(parts) -> str:
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()


def stored_row_by_row(judgement, summary):
    """What the worker before ``stored`` (7c52c38's judge_attempt and RecordWriter) made of
    each RowResult to store, without what it added of its own (the attempt and signup ids):
    a finding row per finding, and the record's values and digests per accepted row."""
    from training.sandbox.judge import Finding, record_key

    part = StoredRows()
    rows = 0
    for item in judgement:
        summary.add(item)
        if isinstance(item, Finding):
            part.findings.append({"is_file_level": True, "row": None, "column": item.column[:100],
                                  "severity": item.severity, "code": item.code,
                                  "message": item.message})  # fmt: skip
            continue
        rows += 1
        part.findings.extend(
            {"is_file_level": False, "row": finding.row, "column": finding.column[:100],
             "severity": finding.severity, "code": finding.code, "message": finding.message}
            for finding in item.findings
        )  # fmt: skip
        record = item.record
        if item.accepted and record is not None:
            key = record_key(record)
            digest = _digest((*key.learner, key.activity_id, key.completion_date.isoformat(),
                              key.board))  # fmt: skip
            if item.action == "Delete":
                part.changes.append({"digest": digest})
            else:
                part.changes.append({
                    "activity_id": record.activity_id,
                    "completion_date": record.completion_date,
                    "first_name": record.first_name,
                    "last_name": record.last_name,
                    "birth_month": record.birth_month,
                    "birth_day": record.birth_day,
                    "state": record.state,
                    "license_or_npi": record.license_or_npi,
                    "board": record.board,
                    "board_id": record.board_id,
                    "cme_credits": record.cme_credits,
                    "board_credits": record.board_credits,
                    "credit_awards": [[kind, str(credits)] for kind, credits
                                      in record.credit_awards],
                    "record_key": digest,
                    "learner_key": _digest(key.learner),
                })  # fmt: skip
        if rows % WRITE_BATCH_ROWS == 0:
            yield part
            part = StoredRows()
    yield part


LIFELONG = "Lifelong Learning and Self-Assessment"
WORKER_DAY = datetime(2025, 6, 10, 18, 0, tzinfo=UTC)  # 11 AM in Los Angeles: TODAY


def prepare_worker_database(database: Path, path: Path) -> None:
    """A SQLite database holding an organization with the bench's activities and ``path``
    uploaded and waiting for the worker (run in a process of its own, so that the file's bytes
    are never in the measured one)."""
    from training import create_app
    from training.booking.models import Program, Signup, TrainingSession
    from training.extensions import db
    from training.sandbox.models import (
        SandboxActivity,
        SandboxActivityBoard,
        SandboxAttempt,
        SandboxUpload,
    )

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}", "SECRET_KEY": "bench"})
    with app.app_context():
        db.create_all()
        day = WORKER_DAY.date()
        program = Program(
            slug="bench", name="Bench", description="Bench.", timezone="America/Los_Angeles",
            window_starts_on=day, window_ends_on=day, signup_opens_at=WORKER_DAY,
            signup_closes_at=WORKER_DAY, staff_email="staff@training.example.org",
            accme_challenge_due_on=day, cma_challenge_due_on=day, attestation_text="Bench.",
        )  # fmt: skip
        session = TrainingSession(program=program, starts_at=WORKER_DAY,
                                  ends_at=WORKER_DAY + timedelta(hours=1), seats=10)  # fmt: skip
        signup = Signup(
            program=program, session=session, status="confirmed", organization_name="Bench",
            organization_key="bench", contact_name="Bench", contact_email="b@example.org",
            attestation_text="Bench.", attested_at=WORKER_DAY, submission_key_hash="0" * 64,
        )  # fmt: skip
        db.session.add(signup)
        db.session.flush()
        for activity_id in ACTIVITY_IDS:
            db.session.add(
                SandboxActivity(
                    signup_id=signup.id, activity_id=activity_id, title="Bench",
                    start_date=date(2025, 1, 1), end_date=date(2025, 12, 31),
                    max_cme_credits=Decimal(3),
                    boards=[
                        SandboxActivityBoard(board="ABIM", points=Decimal(2),
                                             credit_types=["Medical Knowledge"]),
                        SandboxActivityBoard(board="ABP", points=Decimal(2),
                                             credit_types=[LIFELONG]),
                        SandboxActivityBoard(board="ABS", points=Decimal(4), credit_types=["CME"]),
                    ],
                )
            )  # fmt: skip
        content = path.read_bytes()
        attempt = SandboxAttempt(signup_id=signup.id, filename=path.name,
                                 size_bytes=len(content), created_at=WORKER_DAY)  # fmt: skip
        db.session.add(attempt)
        db.session.flush()
        db.session.add(SandboxUpload(attempt_id=attempt.id, content=content))
        db.session.commit()


def _run_worker(database: str) -> tuple[int, dict]:
    """The sandbox worker's round (``tasks.work``): claim the waiting upload, read its bytes,
    judge it and write its findings and records, in batches, to the SQLite database."""
    from sqlalchemy import func, select

    from training.extensions import db
    from training.sandbox import tasks
    from training.sandbox.models import SandboxAttempt, SandboxFinding, SandboxRecord

    judged = tasks.work(now=lambda: datetime.now(UTC))
    attempt = db.session.scalar(select(SandboxAttempt).order_by(SandboxAttempt.id.desc()))
    stored = db.session.scalar(
        select(func.count()).select_from(SandboxFinding)
    ) + db.session.scalar(select(func.count()).select_from(SandboxRecord))
    return attempt.rows_read, {"judged": judged, "status": attempt.status,
                               "accepted": attempt.rows_accepted,
                               "rejected": attempt.rows_rejected, "stored": stored}  # fmt: skip


def _run(tool: str, path: Path, context) -> tuple[int, dict]:
    xlsx = path.suffix == ".xlsx"
    if tool == "worker":
        return _run_worker(str(path))
    if tool == "judge":
        from training.sandbox.judge import Summary, judge_file

        summary = Summary()
        with path.open("rb") as stream:
            judgement = judge_file(stream, path.name, context)
            # What the worker (attempts.judge_attempt) takes of the judgement to store, made
            # for every row: each part's findings and record changes, with the keys' digests.
            parts = (
                judgement.stored(summary, WRITE_BATCH_ROWS)
                if hasattr(judgement, "stored")
                else stored_row_by_row(judgement, summary)
            )
            stored = sum(len(part.findings) + len(part.changes) for part in parts)
        extra = {"accepted": summary.accepted, "rejected": summary.rejected, "stored": stored}
        return summary.rows_read, extra
    if tool == "floor" and xlsx:
        from openpyxl import load_workbook

        workbook = load_workbook(path, read_only=True, data_only=True)
        rows = sum(1 for _ in workbook.worksheets[0].iter_rows(min_row=3, values_only=True))
        workbook.close()
        return rows, {}
    if tool == "floor":
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            next(reader)
            return sum(1 for _ in reader), {}
    if tool == "frictionless":
        from frictionless import Dialect, Resource, Schema

        options = {"dialect": Dialect(header_rows=[2])} if xlsx else {}
        source = Resource(
            path.name,
            basepath=str(path.parent),
            schema=Schema.from_descriptor(table_schema()),
            **options,
        )
        report = source.validate(limit_errors=10**9, limit_rows=FRICTIONLESS_ROW_CAP)
        task = report.tasks[0]
        return task.stats["rows"], {"invalid_rows": len({e.row_number for e in task.errors})}
    raise ValueError(tool)


TOOL_NAMES = {"baseline": "baseline judge", "mapped": "judge (mapped)",
              "worker-baseline": "baseline worker"}  # fmt: skip
# The worker's tools measure the whole upload: its bytes read from the database, judged, and
# its findings and records written.
WORKER_TOOLS = ("worker", "worker-baseline")
WRITERS = {"csv": write_csv, "xlsx": write_xlsx}


def polars_malloc_conf() -> str:
    """polars' allocator options as the sandbox worker sets them (tasks.use_polars_allocator)."""
    from training.config import SANDBOX_POLARS_MALLOC_CONF

    return os.environ.get("_RJEM_MALLOC_CONF", SANDBOX_POLARS_MALLOC_CONF)


def run_in_subprocess(tool: str, path: Path, roots: dict[str, Path]) -> dict:
    """One measurement in a fresh interpreter; the judges run from their extracted copies,
    with polars' allocator options as the sandbox worker sets them."""
    env = dict(os.environ)
    if conf := polars_malloc_conf():
        env["_RJEM_MALLOC_CONF"] = conf
    if tool in roots:
        env["BENCH_JUDGE_ROOT"] = str(roots[tool])
    measured = {"baseline": "judge", "worker-baseline": "worker"}.get(tool, tool)
    completed = subprocess.run(
        [sys.executable, __file__, "--measure", measured, str(path)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )  # fmt: skip
    if completed.returncode:
        return {"error": completed.stderr.strip().splitlines()[-1:]}
    return json.loads(completed.stdout)


def extract_baseline(ref: str, folder: Path) -> Path:
    """The sandbox package as it is at ``ref``, importable on its own (the app's __init__ is
    replaced by an empty one: the judge needs nothing of it)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "training/sandbox"],
        capture_output=True,
        check=True,
    ).stdout
    root = folder / "baseline"
    root.mkdir()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(root, filter="data")
    (root / "training" / "__init__.py").write_text("")
    return root


def extract_app(ref: str, folder: Path) -> Path:
    """The application as it is at ``ref`` (its package and seed data), for the worker."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "training", "seed"],
        capture_output=True,
        check=True,
    ).stdout
    root = folder / "baseline-app"
    root.mkdir()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(root, filter="data")
    return root


def copy_current_app(folder: Path) -> Path:
    """The working tree's application, copied as the run starts (edits made while it runs
    are not measured)."""
    root = folder / "current-app"
    for part in ("training", "seed"):
        shutil.copytree(ROOT / part, root / part, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def run_worker(tool: str, template: Path, roots: dict[str, Path]) -> dict:
    """One worker measurement on a fresh copy of the prepared database."""
    database = template.with_name(f"run-{template.name}")
    shutil.copyfile(template, database)
    try:
        outcome = run_in_subprocess(tool, database, roots)
    finally:
        for leftover in (database, *(database.with_name(database.name + end)
                                     for end in ("-wal", "-shm", "-journal"))):  # fmt: skip
            leftover.unlink(missing_ok=True)
    if outcome.get("judged", 1) != 1 or outcome.get("status", "done") != "done":
        return {"error": [f"the worker did not judge the upload: {outcome}"]}
    return outcome


def copy_current(folder: Path) -> Path:
    """The working tree's sandbox package, set up exactly as the baseline is, so that both
    judges run with the same imports (and the same garbage collector load)."""
    root = folder / "current"
    shutil.copytree(ROOT / "training" / "sandbox", root / "training" / "sandbox",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    (root / "training" / "__init__.py").write_text("")
    return root


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def summarize_runs(runs: list[dict]) -> dict:
    """The median and min-max of rows/s and of CPU seconds over the runs, and the largest peak
    and growth."""
    good = [run for run in runs if "error" not in run]
    if not good:
        return {"error": runs[0]["error"]}
    speeds = [run["rows_per_second"] for run in good]
    outcome = {
        "rows": good[0]["rows"],
        "runs": len(good),
        "rows_per_second": round(statistics.median(speeds)),
        "rows_per_second_min": min(speeds),
        "rows_per_second_max": max(speeds),
        "peak_rss_mb": max(run["peak_rss_mb"] for run in good),
        "rss_growth_mb": max(run["rss_growth_mb"] for run in good),
        "rss_growth_mb_median": statistics.median(
            growths := [run["rss_growth_mb"] for run in good]
        ),
        "rss_growth_mb_min": min(growths),
        **{key: good[0][key] for key in ("accepted", "rejected") if key in good[0]},
    }
    if cpus := [run["cpu_seconds"] for run in good if "cpu_seconds" in run]:
        outcome.update(cpu_seconds=round(statistics.median(cpus), 3),
                       cpu_seconds_min=min(cpus), cpu_seconds_max=max(cpus))  # fmt: skip
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k rows only")
    parser.add_argument("--runs", type=int, default=3, help="runs per tool and file")
    parser.add_argument("--baseline-ref", default="main", help="git ref of the baseline judge")
    parser.add_argument(
        "--only", metavar="KIND:ROWS", action="append", help="one file only, e.g. csv:100000"
    )
    parser.add_argument(
        "--tools",
        help="only these tools, comma-separated (judge,baseline,frictionless,floor,mapped,"
        "worker,worker-baseline)",
    )
    parser.add_argument(
        "--memory",
        action="store_true",
        help="the worker's peak memory by size: the worker and the baseline worker on the 10k, "
        "100k and 1M CSVs and the 100k XLSX",
    )
    parser.add_argument("--measure", nargs=2, metavar=("TOOL", "FILE"), help=argparse.SUPPRESS)
    parser.add_argument("--prepare", nargs=2, metavar=("DATABASE", "FILE"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.prepare:
        prepare_worker_database(*map(Path, arguments.prepare))
        return
    if arguments.memory:
        arguments.tools = arguments.tools or ",".join(WORKER_TOOLS)
    if arguments.measure:
        tool, path = arguments.measure
        print(json.dumps(measure(tool, Path(path))))
        return

    sizes = [("csv", 10_000), ("xlsx", 10_000)] if arguments.quick else [
        ("csv", 10_000), ("csv", 100_000), ("csv", 1_000_000), ("xlsx", 10_000), ("xlsx", 100_000),
    ] if arguments.memory else [
        ("csv", 10_000), ("csv", 100_000), ("csv", 1_000_000), ("xlsx", 100_000),
    ]  # fmt: skip
    if arguments.only:
        sizes = [(kind, int(rows)) for kind, rows in (item.split(":") for item in arguments.only)]
    # The mapped path runs beside the others on one CSV size, so the same moments of a shared
    # machine fall on it too.
    mapped_rows = 10_000 if arguments.quick else 100_000
    results = []
    load_before = load()
    print(f"{load_before}; baseline judge from {arguments.baseline_ref}; "
          f"_RJEM_MALLOC_CONF={polars_malloc_conf()!r}", file=sys.stderr)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as folder:
        roots = {
            "baseline": extract_baseline(arguments.baseline_ref, Path(folder)),
            "judge": copy_current(Path(folder)),
            "worker-baseline": extract_app(arguments.baseline_ref, Path(folder)),
            "worker": copy_current_app(Path(folder)),
        }
        for kind, rows in sizes:
            files = {"": Path(folder) / f"learners-{rows}.{kind}"}
            if kind == "csv" and rows == mapped_rows:
                files["mapped"] = Path(folder) / f"own-learners-{rows}.csv"
            for tool, path in files.items():
                started = time.perf_counter()
                writer = write_own_csv if tool == "mapped" else WRITERS[kind]
                writer(path, rows)
                print(f"wrote {path.name} ({path.stat().st_size / 1e6:.1f} MB) in "
                      f"{time.perf_counter() - started:.1f} s", file=sys.stderr)  # fmt: skip
            tools = ["judge", "baseline", "frictionless", "floor", *(t for t in files if t),
                     *WORKER_TOOLS]  # fmt: skip
            if arguments.tools:
                tools = [tool for tool in tools if tool in arguments.tools.split(",")]
            if any(tool in WORKER_TOOLS for tool in tools):
                database = Path(folder) / f"worker-{rows}-{kind}.sqlite3"
                subprocess.run([sys.executable, __file__, "--prepare", str(database),
                                str(files[""])], check=True)  # fmt: skip
            runs: dict[str, list[dict]] = {tool: [] for tool in tools}
            for _ in range(arguments.runs):
                for tool in tools:
                    path = files.get(tool, files[""])
                    if tool in WORKER_TOOLS:
                        runs[tool].append(run_worker(tool, database, roots))
                        continue
                    measured = "judge" if tool == "mapped" else tool
                    runs[tool].append(run_in_subprocess(measured, path, roots))
            for tool in tools:
                path = files.get(tool, files[""])
                outcome = summarize_runs(runs[tool])
                outcome.update(file=path.name, file_mb=round(path.stat().st_size / 1e6, 1))
                outcome.update(tool=TOOL_NAMES.get(tool, tool), file_rows=rows)
                results.append(outcome)
                print(f"  {outcome['tool']}: {outcome}", file=sys.stderr)
    load_after = load()

    print(f"{'file':<26}{'tool':<18}{'rows':>10}{'rows/s median':>15}{'min-max':>22}"
          f"{'peak MB':>9}{'growth MB median (min-max)':>28}")  # fmt: skip
    for outcome in results:
        if "error" in outcome:
            print(f"{outcome['file']:<26}{outcome['tool']:<18} failed: {outcome['error']}")
            continue
        note = " (first rows only)" if outcome["rows"] < outcome["file_rows"] else ""
        spread = f"{outcome['rows_per_second_min']:,}-{outcome['rows_per_second_max']:,}"
        print(
            f"{outcome['file']:<26}{outcome['tool']:<18}{outcome['rows']:>10,}"
            f"{outcome['rows_per_second']:>15,}{spread:>22}"
            f"{outcome['peak_rss_mb']:>9.1f}{outcome['rss_growth_mb_median']:>13.1f} "
            f"({outcome['rss_growth_mb_min']:.1f}-{outcome['rss_growth_mb']:.1f}){note}"
        )
    print(f"before: {load_before}\nafter:  {load_after}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "python": platform.python_version(),
                "machine": platform.machine(),
                "cpus": os.cpu_count(),
                "load_before": load_before,
                "load_after": load_after,
                "baseline_ref": arguments.baseline_ref,
                "runs": arguments.runs,
                "frictionless": version("frictionless"),
                "openpyxl": version("openpyxl"),
                "frictionless_row_cap": FRICTIONLESS_ROW_CAP,
                "polars_malloc_conf": polars_malloc_conf(),
                "results": results,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
