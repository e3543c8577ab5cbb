"""Sandbox rules: practice activities, the fictional register, reading an attempt's results,
deleting, column mappings, the state boards using PARS data, and the PARS-ready file's rows.

An upload's own life (recorded, judged, finished) is in ``attempts``; the records the judge
reads and writes are in ``records``. Services flush and raise; the request or CLI command that
called them commits.
"""

import csv
import hashlib
import io
import json
import tempfile
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from itertools import islice
from pathlib import Path
from typing import IO

from sqlalchemy import and_, delete, func, literal_column, select
from sqlalchemy.exc import IntegrityError

from training.audit.models import AuditEvent
from training.audit.services import record as audit
from training.booking.display import possessive
from training.booking.models import Signup
from training.constraints import unique_or
from training.drafts import services as drafts
from training.drafts.models import Draft
from training.errors import Refused
from training.extensions import db, seed_path, utcnow
from training.paging import page_shown
from training.sandbox import downloads, judge, mapping, rules
from training.sandbox.columns import ColumnMap, header_key
from training.sandbox.models import (
    ATTEMPT_DONE,
    ATTEMPT_FAILED,
    ATTEMPT_QUEUED,
    FILE_BUILDING,
    FILE_FAILED,
    FILE_QUEUED,
    FILE_READY,
    ParsStateList,
    SandboxActivity,
    SandboxActivityBoard,
    SandboxAttempt,
    SandboxColumnMap,
    SandboxFinding,
    SandboxParsFile,
    SandboxRecord,
    SandboxUpload,
)
from training.sandbox.readers import FileProblem
from training.staff.models import StaffMember
from training.workers.services import SANDBOX_WORKER, WorkerSeen, stalled_worker

REGISTER_FILE = "fictional_register.csv"
EXAMPLE_ACTIVITY_FILE = "sandbox_example_activity.toml"
FINDINGS_PER_PAGE = 100
MAPPING_PREVIEW_ROWS = 5
# Up to this many columns, every column gets a select. A wider export (LMS exports have 100+
# columns, most of them empty or unused) gets selects only for the columns that matter: those
# with a value in the first rows or a name we recognise.
MAPPING_MAX_COLUMNS = 100
# Never more selects than this on one page: past it the page is too long to use, and the form
# nears Werkzeug's limit of 1000 form fields (MAX_FORM_PARTS), which would answer with a 413.
MAPPING_MAX_SELECTS = 200


class SandboxError(Refused):
    """A sandbox rule refused the change; the message says why, in words for the person."""


class DuplicateActivity(SandboxError):
    """The organization entered this activity ID before."""

    def __init__(self, activity_id: str):
        super().__init__(
            f"Activity {activity_id} is already in your sandbox. Each activity ID can be "
            "entered once; remove the old one first to enter it again."
        )


@dataclass(frozen=True)
class BoardDetails:
    """A board an activity is registered with, as the activity form gives it."""

    board: str
    points: Decimal
    credit_types: tuple[str, ...]


@dataclass(frozen=True)
class ActivityDetails:
    """A practice activity as the organization describes it."""

    activity_id: str
    title: str
    start_date: date
    end_date: date
    max_cme_credits: Decimal | None
    boards: tuple[BoardDetails, ...] = ()


# --- Activities ------------------------------------------------------------------------------


def add_activity(signup: Signup, details: ActivityDetails) -> SandboxActivity:
    """Add a practice activity; an activity ID the organization entered before is refused."""
    taken = select(SandboxActivity.id).where(
        SandboxActivity.signup_id == signup.id,
        SandboxActivity.activity_id == details.activity_id,
    )
    if db.session.scalar(taken) is not None:
        raise DuplicateActivity(details.activity_id)
    activity = SandboxActivity(
        signup_id=signup.id,
        activity_id=details.activity_id,
        title=details.title,
        start_date=details.start_date,
        end_date=details.end_date,
        max_cme_credits=details.max_cme_credits,
        boards=[
            SandboxActivityBoard(
                board=board.board, points=board.points, credit_types=list(board.credit_types)
            )
            for board in details.boards
        ],
    )
    try:
        with db.session.begin_nested():
            db.session.add(activity)
    except IntegrityError:  # the same ID sent twice at once: the unique index decides
        raise DuplicateActivity(details.activity_id) from None
    return activity


def example_activity(today: date, path: Path | None = None) -> ActivityDetails:
    """The seeded example activity (``SEED_FOLDER``'s unless ``path``), its dates placed around
    ``today``."""
    data = tomllib.loads((path or seed_path(EXAMPLE_ACTIVITY_FILE)).read_text(encoding="utf-8"))
    return ActivityDetails(
        activity_id=data["activity_id"],
        title=data["title"],
        start_date=today - timedelta(days=int(data["starts_days_before"])),
        end_date=today + timedelta(days=int(data["ends_days_after"])),
        max_cme_credits=Decimal(data["max_cme_credits"]) if "max_cme_credits" in data else None,
        boards=tuple(
            BoardDetails(item["code"], Decimal(item["points"]), tuple(item["credit_types"]))
            for item in data.get("boards", ())
        ),
    )


def add_example_activity(signup: Signup, today: date) -> SandboxActivity:
    """Add the seeded example activity to the organization's sandbox."""
    return add_activity(signup, example_activity(today))


ACTIVITY_REMOVED = "sandbox.activity_removed"


def held_records(activity: SandboxActivity) -> int:
    """How many sandbox records the organization holds for ``activity`` (what removing it
    would delete)."""
    return record_counts(activity.signup).get(activity.activity_id, 0)


def remove_activity(activity: SandboxActivity) -> int:
    """Remove a practice activity and the sandbox records reported for it; returns how many.

    Audited with how many records each upload had added, so an upload's results page can say
    its accepted rows went with the activity (``records_removed``) rather than that they are
    still in the sandbox records."""
    of_activity = (
        SandboxRecord.signup_id == activity.signup_id,
        SandboxRecord.activity_id == activity.activity_id,
    )
    # Pending ones too: an upload still being checked has its results said truly when done.
    by_upload = db.session.execute(
        select(SandboxRecord.added_by_attempt_id, func.count())
        .where(*of_activity)
        .group_by(SandboxRecord.added_by_attempt_id)
    ).tuples()
    uploads = {str(attempt_id): count for attempt_id, count in by_upload if attempt_id}
    removed = _delete_records(and_(*of_activity))
    audit(
        ACTIVITY_REMOVED,
        signup=activity.signup,
        activity_id=activity.activity_id,
        records=removed,
        records_by_upload=uploads or None,
    )
    db.session.delete(activity)
    db.session.flush()
    return removed


@dataclass(frozen=True)
class RecordsRemoved:
    """Records an upload added that were removed since with their activity: how many, with
    which activities, and how many of its records are still held."""

    records: int
    activity_ids: tuple[str, ...]
    still_held: int


def records_removed(attempt: SandboxAttempt) -> RecordsRemoved | None:
    """What became of the records ``attempt`` added, when any were removed with their
    activity since; None when none were (its accepted rows are still records, unless a later
    upload's Delete rows removed them)."""
    if attempt.learners_only or not attempt.rows_accepted:
        return None
    events = db.session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.signup_id == attempt.signup_id,
            AuditEvent.action == ACTIVITY_REMOVED,
            AuditEvent.created_at >= attempt.created_at,
        )
        .order_by(AuditEvent.id)
    )
    key = str(attempt.id)
    records, activity_ids = 0, []
    for event in events:
        count = (event.details.get("records_by_upload") or {}).get(key)
        if count:
            records += count
            activity_ids.append(event.details["activity_id"])
    if not records:
        return None
    still_held = db.session.scalar(
        select(func.count())
        .select_from(SandboxRecord)
        .where(
            SandboxRecord.added_by_attempt_id == attempt.id,
            SandboxRecord.is_pending.is_(False),
        )
    )
    return RecordsRemoved(records, tuple(activity_ids), still_held or 0)


def activities_of(signup: Signup) -> list[SandboxActivity]:
    """The organization's practice activities, by activity ID."""
    return list(
        db.session.scalars(
            select(SandboxActivity)
            .where(SandboxActivity.signup_id == signup.id)
            .order_by(SandboxActivity.activity_id)
        )
    )


def judge_activity(activity: SandboxActivity) -> judge.Activity:
    """A practice activity as the judge takes it."""
    return judge.Activity(
        activity_id=activity.activity_id,
        title=activity.title,
        start_date=activity.start_date,
        end_date=activity.end_date,
        max_cme_credits=activity.max_cme_credits,
        boards={
            board.board: judge.BoardRegistration(
                points=Decimal(board.points), credit_types=frozenset(board.credit_types)
            )
            for board in activity.boards
        },
    )


def judge_example_activity(today: date) -> judge.Activity:
    """The example activity as the judge takes it, for a practice file before any is entered."""
    details = example_activity(today)
    return judge.Activity(
        activity_id=details.activity_id,
        title=details.title,
        start_date=details.start_date,
        end_date=details.end_date,
        max_cme_credits=details.max_cme_credits,
        boards={
            board.board: judge.BoardRegistration(board.points, frozenset(board.credit_types))
            for board in details.boards
        },
    )


# --- The fictional register ------------------------------------------------------------------


def read_register_entries(path: Path | None = None) -> tuple[judge.RegisterEntry, ...]:
    """The fictional licensees and diplomates in the seed file (``SEED_FOLDER``'s unless
    ``path``)."""
    with (path or seed_path(REGISTER_FILE)).open(newline="", encoding="utf-8") as source:
        return tuple(
            judge.RegisterEntry(
                first_name=row["first_name"],
                last_name=row["last_name"],
                birth_month=int(row["birth_month"]),
                birth_day=int(row["birth_day"]),
                state=row["state"] or None,
                license_number=row["license_number"] or None,
                npi=row["npi"] or None,
                board=row["board"] or None,
                board_id=row["board_id"] or None,
            )
            for row in csv.DictReader(source)
        )


def register() -> judge.Register:
    """The fictional register, read once per process: it is data shipped with the code."""
    return _register_at(seed_path(REGISTER_FILE))


@cache
def _register_at(path: Path) -> judge.Register:
    return judge.Register(read_register_entries(path))


# --- Reading results -------------------------------------------------------------------------


UPLOAD_GONE = "The uploaded file is no longer stored; please upload it again."
# upload_copy reads the stored bytes this many at a time.
UPLOAD_PIECE_BYTES = 4 * 1024 * 1024


def upload_stream(attempt: SandboxAttempt) -> IO[bytes]:
    """The stored bytes of an attempt's file, as a file; SandboxError when they are gone."""
    upload = db.session.get(SandboxUpload, attempt.id)
    if upload is None:
        raise SandboxError(UPLOAD_GONE)
    return io.BytesIO(upload.content)


@contextmanager
def upload_copy(attempt_id: int) -> Iterator[IO[bytes]]:
    """The stored bytes of an attempt's file copied to a temporary file, read from the database
    a piece at a time, so that a large upload is never whole in memory (the worker's peak stays
    the same from 10k to 1M rows); SandboxError when they are gone."""
    with tempfile.TemporaryFile() as copy:
        for piece in _upload_pieces(attempt_id):
            copy.write(piece)
        copy.seek(0)
        yield copy


def _upload_pieces(attempt_id: int) -> Iterator[bytes]:
    """The stored bytes, UPLOAD_PIECE_BYTES at a time: on SQLite through its incremental blob
    reads (a substr of a blob would load all of it), elsewhere with SQL's substring."""
    upload = SandboxUpload.__table__
    this_upload = upload.c.attempt_id == attempt_id
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        rowid = connection.scalar(
            select(literal_column("rowid")).select_from(upload).where(this_upload)
        )
        if rowid is None:
            raise SandboxError(UPLOAD_GONE)
        blob = connection.connection.dbapi_connection.blobopen(
            upload.name, upload.c.content.name, rowid, readonly=True
        )
        with blob:
            while piece := blob.read(UPLOAD_PIECE_BYTES):
                yield piece
        return
    size = connection.scalar(select(func.octet_length(upload.c.content)).where(this_upload))
    if size is None:
        raise SandboxError(UPLOAD_GONE)
    for start in range(1, size + 1, UPLOAD_PIECE_BYTES):
        yield connection.scalar(
            select(func.substring(upload.c.content, start, UPLOAD_PIECE_BYTES)).where(this_upload)
        )


def attempts_of(signup: Signup, limit: int = 50) -> list[SandboxAttempt]:
    """The organization's latest uploads, newest first."""
    return list(
        db.session.scalars(
            select(SandboxAttempt)
            .where(SandboxAttempt.signup_id == signup.id)
            .order_by(SandboxAttempt.id.desc())
            .limit(limit)
        )
    )


def stalled_uploads(attempts: Iterable[SandboxAttempt], now: datetime) -> dict[int, WorkerSeen]:
    """The uploads among ``attempts`` that wait for the sandbox worker while it has not been
    seen lately (``stalled_worker``), by id, with that worker: those waiting their turn, and
    those whose check stopped with it (``check_lapsed``). One rule for every page and for the
    status the pages poll; a check still renewing its lease is running, however long."""
    waiting = [a for a in attempts if a.status == ATTEMPT_QUEUED or a.check_lapsed(now)]
    worker = stalled_worker(SANDBOX_WORKER, now) if waiting else None
    if worker is None:
        return {}
    return {attempt.id: worker for attempt in waiting}


def attempt_of(signup: Signup, attempt_id: int) -> SandboxAttempt | None:
    """The organization's attempt with this id, or None (another organization's is None too)."""
    attempt = db.session.get(SandboxAttempt, attempt_id)
    return attempt if attempt is not None and attempt.signup_id == signup.id else None


@dataclass(frozen=True)
class FindingsPage:
    """One page of an upload's findings, with the total and the number of pages."""

    findings: list[SandboxFinding]
    total: int
    page: int
    pages: int


def findings_page(
    attempt: SandboxAttempt, *, code: str = "", severity: str = "", page: int = 1
) -> FindingsPage:
    """One page of the attempt's findings in row order, filtered by code and severity."""
    conditions = [SandboxFinding.attempt_id == attempt.id]
    if code:
        conditions.append(SandboxFinding.code == code)
    if severity:
        conditions.append(SandboxFinding.severity == severity)
    total = db.session.scalar(select(func.count()).select_from(SandboxFinding).where(*conditions))
    page, pages = page_shown(page, total=total, per_page=FINDINGS_PER_PAGE)
    findings = db.session.scalars(
        select(SandboxFinding)
        .where(*conditions)
        .order_by(SandboxFinding.row.nulls_first(), SandboxFinding.id)
        .offset((page - 1) * FINDINGS_PER_PAGE)
        .limit(FINDINGS_PER_PAGE)
    )
    return FindingsPage(list(findings), total, page, pages)


def file_findings(attempt: SandboxAttempt) -> list[SandboxFinding]:
    """What the judge said about the file as a whole (why no row was judged, if none was)."""
    return list(
        db.session.scalars(
            select(SandboxFinding)
            .where(SandboxFinding.attempt_id == attempt.id, SandboxFinding.is_file_level)
            .order_by(SandboxFinding.id)
        )
    )


def all_findings(attempt: SandboxAttempt) -> Iterable[judge.Finding]:
    """Every finding of the attempt, in row order, read in batches."""
    query = (
        select(SandboxFinding)
        .where(SandboxFinding.attempt_id == attempt.id)
        .order_by(SandboxFinding.row.nulls_first(), SandboxFinding.id)
        .execution_options(yield_per=1000)
    )
    for finding in db.session.scalars(query):
        yield judge.Finding(
            finding.row, finding.column, finding.severity, finding.code, finding.message
        )


def record_counts(signup: Signup) -> dict[str, int]:
    """How many sandbox records the organization holds, by activity ID."""
    rows = db.session.execute(
        select(SandboxRecord.activity_id, func.count())
        .where(SandboxRecord.signup_id == signup.id, SandboxRecord.is_pending.is_(False))
        .group_by(SandboxRecord.activity_id)
    )
    return dict(rows.tuples().all())


# --- Deleting --------------------------------------------------------------------------------


def upload_not_held(organization: str | None = None) -> tuple[str, str]:
    """What a page of an upload no longer in the sandbox says (and its polling shows): title
    and message, to the organization ("your") or, given its name, to staff.

    The same for an upload deleted and for an address that never was one of this sandbox's
    uploads (another organization's included): the page reveals no upload of anyone else.
    """
    whose = possessive(organization) if organization else "your"
    title = f"This upload is not in {whose} sandbox"
    message = (
        f"{title}: it was deleted (with the sandbox data, or at the end of the retention "
        f"period) and is no longer checked, or this address never was one of {whose} uploads."
    )
    return title, message + (" Upload the file again to check it." if not organization else "")


@dataclass(frozen=True)
class Deleted:
    """How many records, uploads and activities were deleted."""

    records: int
    attempts: int
    activities: int

    @property
    def is_nothing(self) -> bool:
        """Nothing was there to delete (what is said then is that, not "Deleted 0 …")."""
        return not (self.records or self.attempts or self.activities)


def delete_sandbox_data(signup: Signup, *, include_activities: bool) -> Deleted:
    """Delete the organization's records, attempts, findings, stored uploads, PARS-ready files
    and column mappings (and, if asked, its practice activities). The records counted are the
    ones kept: the pending rows of an upload still being checked go with it, uncounted."""
    records = _delete_records(SandboxRecord.signup_id == signup.id)
    attempt_ids = select(SandboxAttempt.id).where(SandboxAttempt.signup_id == signup.id)
    db.session.execute(delete(SandboxFinding).where(SandboxFinding.attempt_id.in_(attempt_ids)))
    db.session.execute(delete(SandboxUpload).where(SandboxUpload.attempt_id.in_(attempt_ids)))
    db.session.execute(delete(SandboxParsFile).where(SandboxParsFile.attempt_id.in_(attempt_ids)))
    attempts = db.session.execute(
        delete(SandboxAttempt).where(SandboxAttempt.signup_id == signup.id)
    ).rowcount
    # A header may be a learner row when a file had none: mappings go with the data.
    db.session.execute(delete(SandboxColumnMap).where(SandboxColumnMap.signup_id == signup.id))
    db.session.execute(
        delete(Draft).where(Draft.kind == MAPPING_DRAFT_KIND, Draft.signup_id == signup.id)
    )
    activities = 0
    if include_activities:
        for activity in activities_of(signup):
            db.session.delete(activity)
            activities += 1
    db.session.flush()
    return Deleted(records, attempts, activities)


def purge_expired(now: datetime, retention_days: int) -> Deleted:
    """Delete sandbox records, attempts, findings, stored uploads, PARS-ready files and column
    mappings older than the retention period."""
    cutoff = now - timedelta(days=retention_days)
    records = _delete_records(SandboxRecord.created_at < cutoff)
    old_attempts = select(SandboxAttempt.id).where(SandboxAttempt.created_at < cutoff)
    db.session.execute(delete(SandboxFinding).where(SandboxFinding.attempt_id.in_(old_attempts)))
    db.session.execute(delete(SandboxUpload).where(SandboxUpload.attempt_id.in_(old_attempts)))
    db.session.execute(delete(SandboxParsFile).where(SandboxParsFile.attempt_id.in_(old_attempts)))
    attempts = db.session.execute(
        delete(SandboxAttempt).where(SandboxAttempt.created_at < cutoff)
    ).rowcount
    db.session.execute(delete(SandboxColumnMap).where(SandboxColumnMap.updated_at < cutoff))
    db.session.flush()
    return Deleted(records, attempts, 0)


def _delete_records(which) -> int:
    """Delete the records ``which`` selects; how many of them were kept records, not the
    pending rows of an upload still being checked (which are not records yet)."""
    db.session.execute(delete(SandboxRecord).where(which, SandboxRecord.is_pending.is_(True)))
    return db.session.execute(delete(SandboxRecord).where(which)).rowcount


# --- Column mappings for the organization's own spreadsheet ------------------------------------


def column_maps_of(signup_id: int) -> tuple[ColumnMap, ...]:
    """The column mappings the organization confirmed, newest first."""
    rows = db.session.scalars(
        select(SandboxColumnMap.column_map)
        .where(SandboxColumnMap.signup_id == signup_id)
        .order_by(SandboxColumnMap.updated_at.desc(), SandboxColumnMap.id.desc())
    )
    return tuple(ColumnMap.from_json(data) for data in rows)


@dataclass(frozen=True)
class ColumnsToMap:
    """A file whose header is not the template's: its header, first rows and a proposal."""

    header_row: int | None  # None: no header row, the columns named by their letters
    header: tuple[str, ...]
    samples: list[tuple[int, tuple]]  # (row number, cells) of the first data rows
    proposals: list[mapping.Proposal]
    current: ColumnMap  # what the page starts from: the proposal, or the map in use
    shown: tuple[int, ...]  # the positions that get a select; the others are not used
    today: date  # what a birthday is read against (a recent year is a made date)

    @property
    def left_out(self) -> list[str]:
        """The headings of the columns that get no select (empty in the first rows)."""
        shown = set(self.shown)
        return [
            name or "(none)" for position, name in enumerate(self.header) if position not in shown
        ]

    def first_value(self, position: int, chosen: str = "") -> str:
        """The first data row's value in a column ("" past its end), as the page may show it:
        a column proposed, in use or ``chosen`` as a birthday shows no birth year, as the
        preview does, and says PARS refuses a year only where the column is mapped (chosen,
        else in use, else proposed) as the template's Date of Birth."""
        cells = self.samples[0][1] if self.samples else ()
        cell = cells[position] if position < len(cells) else ""
        in_use = self.current.targets.get(position, "")
        proposed = self.proposals[position].target
        return mapping.shown_value(
            cell,
            {chosen, in_use, proposed},
            today=self.today,
            mapped_as=chosen or in_use or proposed,
        )


def can_map_columns(attempt: SandboxAttempt) -> bool:
    """Whether the attempt's file can be (re)mapped: judged, kept, and not the template's."""
    layout = attempt.file_layout or {}
    return (
        attempt.status == ATTEMPT_DONE
        and layout.get("columns") in ("", judge.MAPPED)
        and db.session.get(SandboxUpload, attempt.id) is not None
    )


def needs_mapping(attempt: SandboxAttempt) -> bool:
    """Whether the attempt's file was refused for a header that is not the template's."""
    layout = attempt.file_layout or {}
    return attempt.status == ATTEMPT_DONE and layout.get("columns") == ""


# The kind of draft (``training.drafts``) a column mapping is kept as while previewed.
MAPPING_DRAFT_KIND = "column_mapping"


def save_mapping_draft(
    signup: Signup, attempt: SandboxAttempt, entries: list[tuple[str, str]], now: datetime
) -> Draft:
    """Keep the mapping form's ``entries`` (name and value pairs, as posted) for the preview
    page of ``attempt`` to show."""
    return drafts.save_draft(
        MAPPING_DRAFT_KIND,
        {"attempt_id": attempt.id, "entries": [list(entry) for entry in entries]},
        now=now,
        signup=signup,
    )


def mapping_draft_entries(
    signup: Signup, attempt: SandboxAttempt, draft_id: object
) -> list[tuple[str, str]] | None:
    """The mapping form's entries kept by ``signup``'s draft ``draft_id`` for ``attempt``; None
    for another organization's, another upload's, or one no longer kept."""
    draft = drafts.draft_of(MAPPING_DRAFT_KIND, draft_id, signup=signup)
    if draft is None or draft.content.get("attempt_id") != attempt.id:
        return None
    entries = draft.content.get("entries")
    if not isinstance(entries, list):
        return None
    return [
        (entry[0], entry[1])
        for entry in entries
        if isinstance(entry, list) and len(entry) == 2 and all(isinstance(v, str) for v in entry)
    ]


def columns_to_map(attempt: SandboxAttempt, *, today: date, max_bytes: int) -> ColumnsToMap:
    """The header and first rows of the attempt's file, with a proposed mapping (known names
    first, then rapidfuzz); a map the organization confirmed for a header like it comes first.
    Raises SandboxError when the file is gone or cannot be read."""
    saved = column_maps_of(attempt.signup_id)
    context = judge.JudgeContext({}, judge.Register(), judge.NoRecords(), today, max_bytes)
    try:
        with judge.learner_rows(upload_stream(attempt), attempt.filename, context) as rows:
            layout = rows.layout
            samples = list(islice(rows.raw_rows, MAPPING_PREVIEW_ROWS))
    except FileProblem as problem:
        message = judge.make_finding(problem.code, None, **problem.params).message
        raise SandboxError(message) from None
    header = tuple(cell.strip() for cell in layout.header)
    in_use = ColumnMap.from_json(attempt.column_map) if attempt.column_map else None
    proposals = mapping.propose(
        header,
        [cells for _, cells in samples],
        today=today,
        saved=in_use or _closest_saved(saved, header),
    )
    current = mapping.proposed_map(proposals, header)
    if in_use is not None:
        fixed = dict(in_use.fixed)
    elif attempt.learners_only:
        fixed = {}
    else:  # a file of completions with no action column holds Adds, of its only activity
        fixed = {rules.RECORD_ACTION: "Add"}
        activities = activities_of(attempt.signup)
        if len(activities) == 1:
            fixed[rules.ACTIVITY_ID] = activities[0].activity_id
    fixed = {
        column: value for column, value in fixed.items() if column not in current.targets.values()
    }
    current = ColumnMap(header, current.targets, fixed)
    shown = _columns_that_matter(header, samples, current)
    if len(shown) > MAPPING_MAX_SELECTS:
        raise SandboxError(
            f"Your file has {len(header):,} columns, {len(shown):,} of them with values in the "
            f"first rows: too many to match one by one here (at most {MAPPING_MAX_SELECTS}). "
            "Delete the columns PARS does not need, keeping the learners' names, birth dates, "
            "license numbers or NPIs, states, completion dates and credits, and upload the file "
            "again: you can then match the columns left to the template's."
        )
    return ColumnsToMap(layout.header_row, header, samples, proposals, current, shown, today)


def _columns_that_matter(
    header: tuple[str, ...], samples: list[tuple[int, tuple]], current: ColumnMap
) -> tuple[int, ...]:
    """Every position for a header up to MAPPING_MAX_COLUMNS wide; for a wider one, the
    columns mapped (proposed or confirmed) or with a value in the first rows."""
    if len(header) <= MAPPING_MAX_COLUMNS:
        return tuple(range(len(header)))
    filled = {
        position
        for _, cells in samples
        for position, cell in enumerate(cells[: len(header)])
        if judge.cell_text(cell)
    }
    return tuple(sorted(filled | set(current.targets)))


def _closest_saved(saved: tuple[ColumnMap, ...], header: tuple[str, ...]) -> ColumnMap | None:
    """The saved map sharing the most column names with this header (none shared: None)."""
    keys = {header_key(cell) for cell in header if cell}
    best = max(saved, key=lambda m: len(keys & {header_key(c) for c in m.header}), default=None)
    if best is None or not keys & {header_key(cell) for cell in best.header}:
        return None
    return best


def remember_column_map(signup: Signup, column_map: ColumnMap) -> SandboxColumnMap:
    """Keep the organization's confirmed mapping for files with this header (replacing one it
    confirmed before for the same header)."""
    signature = column_map.signature
    held = select(SandboxColumnMap).where(
        SandboxColumnMap.signup_id == signup.id, SandboxColumnMap.header_signature == signature
    )
    saved = db.session.scalar(held)
    if saved is None:
        saved = SandboxColumnMap(
            signup_id=signup.id, header_signature=signature, column_map=column_map.to_json()
        )
        try:
            with unique_or({"uq_sandbox_column_maps_signup_header": _ConfirmedMeanwhile}):
                db.session.add(saved)
        except _ConfirmedMeanwhile:  # confirmed at the same moment by another request
            saved = db.session.scalars(held).one()
    saved.column_map = column_map.to_json()
    saved.updated_at = utcnow()
    db.session.flush()
    return saved


class _ConfirmedMeanwhile(Exception):
    """The same header's mapping was saved by another request at the same moment."""


# --- The state boards using PARS data ----------------------------------------------------------


@dataclass(frozen=True)
class ParsStates:
    """The state boards using PARS data: the list, where it comes from, when it was checked."""

    states: frozenset[str]  # 2-letter codes
    source: str
    checked_on: date
    updated_by: str | None  # the staff member's email; None for the list shipped with the code
    updated_at: datetime | None


def latest_pars_state_list() -> ParsStateList | None:
    """Staff's latest check of the list, or None while the one in rules stands."""
    return db.session.scalar(
        select(ParsStateList).order_by(ParsStateList.created_at.desc(), ParsStateList.id.desc())
    )


def pars_states() -> ParsStates:
    """The current list: staff's latest update, else the one in rules."""
    latest = latest_pars_state_list()
    if latest is None:
        return ParsStates(
            rules.PARS_STATES, rules.PARS_STATES_SOURCE, rules.PARS_STATES_CHECKED_ON, None, None
        )
    member = db.session.get(StaffMember, latest.updated_by_id) if latest.updated_by_id else None
    return ParsStates(
        frozenset(latest.states),
        latest.source,
        latest.checked_on,
        member.email if member is not None else None,
        latest.created_at,
    )


def update_pars_states(
    states: Iterable[str], source: str, checked_on: date, *, actor
) -> ParsStateList:
    """Record a new check of the list (kept as history, audited); codes must be in rules.STATES."""
    codes = sorted(set(states))
    unknown = [code for code in codes if code not in rules.STATES]
    if unknown:
        raise SandboxError(f"Not a state, DC or territory code: {', '.join(unknown)}.")
    before = pars_states().states
    entry = ParsStateList(
        states=codes, source=source, checked_on=checked_on, updated_by_id=actor.id
    )
    db.session.add(entry)
    db.session.flush()
    audit(
        "sandbox.pars_states_updated",
        actor=actor,
        added=sorted(set(codes) - before) or None,
        removed=sorted(before - set(codes)) or None,
        checked_on=checked_on.isoformat(),
    )
    return entry


# --- The PARS-ready file -------------------------------------------------------------------------


@dataclass(frozen=True)
class JudgedRow:
    """A data row of a judged file, read again: accepted when it has no error finding."""

    row: int
    fields: judge.LearnerRow
    findings: list[SandboxFinding]  # the row's findings (errors first); none for most rows

    @property
    def accepted(self) -> bool:
        """Whether the row has no error finding."""
        return not any(finding.severity == rules.ERROR for finding in self.findings)


def can_make_pars_file(attempt: SandboxAttempt) -> bool:
    """Whether a PARS-ready file can be made: the whole file judged, rows read, bytes kept."""
    return pars_file_missing(attempt, "xlsx") is None


def pars_file_missing(attempt: SandboxAttempt, kind: str) -> str | None:
    """Why the upload has no file of this kind to download ("xlsx": the PARS-ready workbook,
    or the rejected rows with what to fix; "txt": the accepted rows), in words for the page
    its address opens; None when it has one."""
    if attempt.status == ATTEMPT_FAILED:
        return (
            "We could not finish checking this upload, so it has no files to download; upload "
            "the file again."
        )
    if attempt.status != ATTEMPT_DONE:
        return "This upload is still being checked: its files can be downloaded once it is done."
    if attempt.learners_only:
        return (
            "A learners-only check makes no PARS-ready file: it checked identities, not "
            "credits. Upload the file with credits to get one."
        )
    if attempt.rows_read == 0:
        return (
            "No learner row of this upload could be read, so it has no files to download: its "
            "results say why."
        )
    if db.session.get(SandboxUpload, attempt.id) is None:
        return (
            "This upload's file is no longer kept, so its files cannot be made: upload the file "
            "again."
        )
    if kind == "txt" and attempt.rows_accepted == 0:
        return (
            "No row of this upload was accepted, so there is no PARS-ready text file to upload "
            "to PARS. The rejected rows, with what to fix, are in the Excel workbook offered on "
            "its results page."
        )
    return None


def judged_rows(attempt: SandboxAttempt, *, today: date, max_bytes: int) -> Iterator[JudgedRow]:
    """The attempt's data rows, read again from its file as the judge read them (same columns,
    same mapping), each with its findings; streamed, in row order."""
    column_maps = (ColumnMap.from_json(attempt.column_map),) if attempt.column_map else ()
    context = judge.JudgeContext(
        {}, judge.Register(), judge.NoRecords(), today, max_bytes, column_maps=column_maps
    )
    findings = db.session.scalars(
        select(SandboxFinding)
        .where(SandboxFinding.attempt_id == attempt.id, SandboxFinding.row.is_not(None))
        .order_by(SandboxFinding.row, SandboxFinding.id)
        .execution_options(yield_per=1000)
    )
    pending = next(iter_findings := iter(findings), None)
    try:
        with judge.learner_rows(upload_stream(attempt), attempt.filename, context) as rows:
            if rows.shaper is None:
                return
            for number, fields, _cells in rows:
                mine: list[SandboxFinding] = []
                while pending is not None and pending.row <= number:
                    if pending.row == number:
                        mine.append(pending)
                    pending = next(iter_findings, None)
                yield JudgedRow(number, fields, mine)
    except FileProblem as problem:
        message = judge.make_finding(problem.code, None, **problem.params).message
        raise SandboxError(message) from None


PARS_FILE_KINDS = ("xlsx", "txt")
# A worker building a PARS-ready file reports its progress every this many rows.
PARS_FILE_PROGRESS_ROWS = 5000


def pars_file_kinds(attempt: SandboxAttempt) -> tuple[str, ...]:
    """The files an upload offers: both with accepted rows, else the rejected rows' workbook."""
    return PARS_FILE_KINDS if attempt.rows_accepted else ("xlsx",)


def builds_in_request(attempt: SandboxAttempt, *, max_bytes: int, max_rows: int) -> bool:
    """Whether the upload is small enough (the inline judging limits) for its PARS-ready file to
    be made while its person waits; a larger one's is made by the worker."""
    return attempt.size_bytes <= max_bytes and attempt.rows_read <= max_rows


def pars_activities(signup_id: int) -> dict[str, judge.Activity]:
    """The organization's activities as the PARS-ready file spells their credit types."""
    activities = db.session.scalars(
        select(SandboxActivity).where(SandboxActivity.signup_id == signup_id)
    )
    return {activity.activity_id: judge_activity(activity) for activity in activities}


def pars_inputs_key(activities: Mapping[str, judge.Activity], today: date) -> str:
    """A digest of what a PARS-ready file is made from besides the upload: the day, and each
    activity's boards and credit types (which spell the file's credit types)."""
    boards = {
        activity_id: {
            board: sorted(registration.credit_types)
            for board, registration in activity.boards.items()
        }
        for activity_id, activity in activities.items()
    }
    text = json.dumps([today.isoformat(), boards], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def make_pars_file(
    attempt: SandboxAttempt,
    kind: str,
    activities: Mapping[str, judge.Activity],
    *,
    today: date,
    max_bytes: int,
    on_progress: Callable[[int], None] | None = None,
) -> bytes:
    """The PARS-ready file's bytes: ``xlsx`` (the accepted rows, the rejected rows with what to
    fix, ValidValues) or ``txt`` (the accepted rows); ``on_progress(rows)`` is called every
    PARS_FILE_PROGRESS_ROWS rows. SandboxError when the upload's file cannot be read."""
    rows = judged_rows(attempt, today=today, max_bytes=max_bytes)
    if on_progress is not None:
        rows = _counted(rows, on_progress)
    if kind == "xlsx":
        return downloads.pars_ready_xlsx(
            rows, activities, today, has_accepted=attempt.rows_accepted > 0
        )
    return downloads.pars_ready_text(rows, activities, today)


def _counted(rows: Iterator[JudgedRow], on_progress: Callable[[int], None]) -> Iterator[JudgedRow]:
    for count, row in enumerate(rows, start=1):
        yield row
        if count % PARS_FILE_PROGRESS_ROWS == 0:
            on_progress(count)


def pars_files_of(attempt: SandboxAttempt) -> dict[str, SandboxParsFile]:
    """The upload's PARS-ready files asked of the worker, by kind (ready, or not yet)."""
    files = db.session.scalars(
        select(SandboxParsFile).where(SandboxParsFile.attempt_id == attempt.id)
    )
    return {file.kind: file for file in files}


def ready_pars_file(attempt: SandboxAttempt, kind: str, inputs_key: str) -> bytes | None:
    """The stored file of this kind when the worker made it from these inputs, else None."""
    return db.session.scalar(
        select(SandboxParsFile.content).where(
            SandboxParsFile.attempt_id == attempt.id,
            SandboxParsFile.kind == kind,
            SandboxParsFile.status == FILE_READY,
            SandboxParsFile.inputs_key == inputs_key,
        )
    )


@dataclass(frozen=True)
class ParsFilesState:
    """How far the worker got with an upload's PARS-ready files, as its page shows it."""

    files: dict[str, SandboxParsFile]  # the kinds asked for, made from today's inputs
    kinds: tuple[str, ...]  # the kinds the upload offers
    rows: int

    @property
    def ready(self) -> bool:
        """Every file the upload offers is ready to download."""
        return all(
            kind in self.files and self.files[kind].status == FILE_READY for kind in self.kinds
        )

    @property
    def preparing(self) -> bool:
        """A file is waiting for the worker or being made."""
        return any(file.status in (FILE_QUEUED, FILE_BUILDING) for file in self.files.values())

    @property
    def waiting(self) -> bool:
        """A file is waiting for a worker to take it."""
        return any(file.status == FILE_QUEUED for file in self.files.values())

    @property
    def failed(self) -> bool:
        """The worker could not make a file (its upload's file could not be read again)."""
        return any(file.status == FILE_FAILED for file in self.files.values())

    @property
    def percent(self) -> int:
        """How far the files are made, in percent of their rows."""
        total = max(self.rows, 1) * len(self.kinds)
        done = sum(
            self.rows if file.status == FILE_READY else min(file.rows_written, self.rows)
            for file in self.files.values()
        )
        return min(100, done * 100 // total)

    @property
    def label(self) -> str | None:
        """What the page says while a file is prepared, e.g. ``"Preparing the Excel file (1 of
        2)… 30,000 of 100,000 rows"``: which of the files, so the bar (``percent``, over all
        of them) reads the same; None when nothing is."""
        for number, kind in enumerate(self.kinds, start=1):
            file = self.files.get(kind)
            if file is None or file.status not in (FILE_QUEUED, FILE_BUILDING):
                continue
            name = PARS_FILE_NAMES[kind]
            if len(self.kinds) > 1:
                name += f" ({number} of {len(self.kinds)})"
            if file.status == FILE_QUEUED:
                return f"The {name} is waiting for its turn to be prepared"
            return f"Preparing the {name}… {file.rows_written:,} of {self.rows:,} rows"
        return None


PARS_FILE_NAMES = {"xlsx": "Excel file", "txt": "tab-delimited file"}


def pars_files_state(attempt: SandboxAttempt, inputs_key: str) -> ParsFilesState:
    """The upload's PARS-ready files made (or being made) from these inputs."""
    files = {
        kind: file
        for kind, file in pars_files_of(attempt).items()
        if file.inputs_key == inputs_key or file.status in (FILE_QUEUED, FILE_BUILDING)
    }
    return ParsFilesState(files, pars_file_kinds(attempt), attempt.rows_read)


def request_pars_files(attempt: SandboxAttempt, *, today: date, inputs_key: str) -> int:
    """Ask the worker to make the upload's PARS-ready files for ``today``; returns how many it
    will make (none: they are ready or under way)."""
    if not can_make_pars_file(attempt):
        raise SandboxError("This upload has no PARS-ready file; upload the file again.")
    asked = 0
    held = pars_files_of(attempt)
    for kind in pars_file_kinds(attempt):
        file = held.get(kind)
        if file is not None and (
            file.status in (FILE_QUEUED, FILE_BUILDING)
            or (file.status == FILE_READY and file.inputs_key == inputs_key)
        ):
            continue
        asked += 1
        wanted = {
            "status": FILE_QUEUED,
            "made_on": today,
            "inputs_key": inputs_key,
            "rows_written": 0,
            "content": None,
            "claim_token": None,
            "lease_expires_at": None,
            "requested_at": utcnow(),
            "finished_at": None,
        }
        if file is not None:
            for name, value in wanted.items():
                setattr(file, name, value)
            continue
        try:
            with db.session.begin_nested():
                db.session.add(SandboxParsFile(attempt_id=attempt.id, kind=kind, **wanted))
        except IntegrityError:  # asked at the same moment by another request
            asked -= 1
    db.session.flush()
    return asked
