"""Sandbox tables: practice activities, upload attempts with their findings, learner records,
the column mappings organizations confirmed, and the list of state boards using PARS data.

Learner values live only in ``sandbox_records`` (accepted rows) and ``sandbox_uploads`` (the
uploaded file, kept for the column mapping and the PARS-ready download until the organization
deletes its sandbox data or the retention period ends); findings keep the judge's masked
messages and nothing else.
"""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    Numeric,
    String,
    Text,
    func,
    select,
)
from sqlalchemy.orm import Mapped, aliased, column_property, mapped_column, relationship

from training.booking.models import Signup
from training.extensions import IDS_NEVER_REUSED, UTCDateTime, db, utcnow
from training.sandbox.rules import MODE_FULL, MODE_LEARNERS

ATTEMPT_QUEUED = "queued"
ATTEMPT_JUDGING = "judging"
ATTEMPT_DONE = "done"
ATTEMPT_FAILED = "failed"
ATTEMPT_STATUSES = (ATTEMPT_QUEUED, ATTEMPT_JUDGING, ATTEMPT_DONE, ATTEMPT_FAILED)

FILE_QUEUED = "queued"
FILE_BUILDING = "building"
FILE_READY = "ready"
FILE_FAILED = "failed"

Credits = Numeric(7, 2)


class SandboxActivity(db.Model):
    """An activity the organization will report learners for, entered for practice."""

    __tablename__ = "sandbox_activities"
    __table_args__ = (
        Index("uq_sandbox_activities_signup_activity", "signup_id", "activity_id", unique=True),
        CheckConstraint("end_date >= start_date", name="ends_after_start"),
        IDS_NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    signup_id: Mapped[int] = mapped_column(ForeignKey("signups.id", ondelete="CASCADE"))
    activity_id: Mapped[str] = mapped_column(String(9))
    title: Mapped[str] = mapped_column(String(200))
    start_date: Mapped[date]
    end_date: Mapped[date]
    max_cme_credits: Mapped[Decimal | None] = mapped_column(Credits)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    signup: Mapped[Signup] = relationship()
    boards: Mapped[list["SandboxActivityBoard"]] = relationship(
        back_populates="activity",
        order_by="SandboxActivityBoard.board",
        cascade="all, delete-orphan",
    )


class SandboxActivityBoard(db.Model):
    """A certifying board a practice activity is registered with, its points and credit types."""

    __tablename__ = "sandbox_activity_boards"
    __table_args__ = (
        Index("uq_sandbox_activity_boards_board", "sandbox_activity_id", "board", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sandbox_activity_id: Mapped[int] = mapped_column(
        ForeignKey("sandbox_activities.id", ondelete="CASCADE")
    )
    board: Mapped[str] = mapped_column(String(10))
    points: Mapped[Decimal] = mapped_column(Credits)
    credit_types: Mapped[list[str]] = mapped_column(JSON)

    activity: Mapped[SandboxActivity] = relationship(back_populates="boards")


class SandboxAttempt(db.Model):
    """One uploaded file: its place in the queue, how far judging got, and the totals."""

    __tablename__ = "sandbox_attempts"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'judging', 'done', 'failed')", name="status_known"),
        CheckConstraint("mode IN ('full', 'learners')", name="mode_known"),
        IDS_NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    signup_id: Mapped[int] = mapped_column(ForeignKey("signups.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int]
    status: Mapped[str] = mapped_column(String(20), default=ATTEMPT_QUEUED, index=True)
    # Rows judged so far, and the rows a text file seems to hold (None: not known up front).
    rows_judged: Mapped[int] = mapped_column(default=0)
    rows_expected: Mapped[int | None]
    rows_read: Mapped[int] = mapped_column(default=0)
    rows_accepted: Mapped[int] = mapped_column(default=0)
    rows_rejected: Mapped[int] = mapped_column(default=0)
    error_count: Mapped[int] = mapped_column(default=0)
    warning_count: Mapped[int] = mapped_column(default=0)
    counts_by_code: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    # "full": judged as PARS judges an upload; "learners": identities only (pre-validation).
    mode: Mapped[str] = mapped_column(String(10), default=MODE_FULL)
    # How the file was read (judge.FileLayout.to_json: sheet, header row, whose columns), and
    # the column mapping it was read through (columns.ColumnMap.to_json), if any.
    file_layout: Mapped[dict | None] = mapped_column(JSON)
    column_map: Mapped[dict | None] = mapped_column(JSON)
    # The upload whose file this attempt judges again through a confirmed column mapping.
    mapped_from_id: Mapped[int | None] = mapped_column(
        ForeignKey("sandbox_attempts.id", ondelete="SET NULL")
    )
    # A worker owns a "judging" attempt through its claim token until the lease runs out.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    signup: Mapped[Signup] = relationship()

    @property
    def is_finished(self) -> bool:
        """Judged, or given up on."""
        return self.status in (ATTEMPT_DONE, ATTEMPT_FAILED)

    @property
    def learners_only(self) -> bool:
        """Whether only the learners' identities were checked (pre-validation)."""
        return self.mode == MODE_LEARNERS

    @property
    def outcome_words(self) -> tuple[str, str]:
        """What the rows without an error and those with one are called: accepted and
        rejected in a full check; in a learners-only check, which keeps no record, ready and
        needing a fix."""
        return ("Ready", "Need a fix") if self.learners_only else ("Accepted", "Rejected")

    @property
    def was_refused(self) -> bool:
        """Nothing in the file could be judged: the worker gave up on it, or the file itself was
        refused (empty, an image, a PDF, no header) before any row was read."""
        if self.status == ATTEMPT_FAILED:
            return True
        return self.status == ATTEMPT_DONE and self.rows_read == 0 and self.error_count > 0

    @property
    def progress_label(self) -> str | None:
        """What the status says while the file waits or is being checked, e.g. ``"Checking…
        30,000 of about 50,000 rows"``; None once it is finished."""
        if self.is_finished:
            return None
        if self.status == ATTEMPT_QUEUED:
            return "Waiting for its turn to be checked"
        if not self.rows_judged:
            return "Checking…"
        label = f"Checking… {self.rows_judged:,}"
        if self.rows_expected:
            return f"{label} of about {max(self.rows_expected, self.rows_judged):,} rows"
        return f"{label} rows"

    def check_lapsed(self, now: datetime) -> bool:
        """Its check started, but whoever was checking it stopped renewing the lease before
        ``now`` (a worker killed mid-file): it waits to be checked again from the start."""
        return self.status == ATTEMPT_JUDGING and (
            self.lease_expires_at is None or self.lease_expires_at <= now
        )

    @property
    def stopped_label(self) -> str:
        """What the status says when the check stopped with the worker, e.g. ``"Check stopped
        at 63,000 of about 100,000 rows; the file is kept and will be checked again from the
        start"``."""
        where = ""
        if self.rows_judged:
            where = f" at {self.rows_judged:,}"
            if self.rows_expected:
                where += f" of about {max(self.rows_expected, self.rows_judged):,}"
            where += " rows"
        return f"Check stopped{where}; the file is kept and will be checked again from the start"

    @property
    def percent_judged(self) -> int | None:
        """How far judging got, in percent, when the number of rows is known up front."""
        if self.status == ATTEMPT_DONE:
            return 100
        if not self.rows_expected:
            return None
        return min(99, self.rows_judged * 100 // self.rows_expected)


_EARLIER = aliased(SandboxAttempt)
# The upload's number among its organization's uploads (its 1st, 2nd...), as the organization
# is shown it; ids are counted across every organization, so they stay in URLs only. Loaded
# with the attempt (one subquery on the indexed signup_id), it counts the uploads still held.
SandboxAttempt.number = column_property(
    select(func.count(_EARLIER.id))
    .where(_EARLIER.signup_id == SandboxAttempt.signup_id, _EARLIER.id <= SandboxAttempt.id)
    .correlate_except(_EARLIER)
    .scalar_subquery()
)


class SandboxUpload(db.Model):
    """The bytes of an uploaded file: judged by a worker when large, read again to map its
    columns or to write the PARS-ready file; deleted with the organization's sandbox data or
    when the retention period ends."""

    __tablename__ = "sandbox_uploads"

    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("sandbox_attempts.id", ondelete="CASCADE"), primary_key=True
    )
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SandboxParsFile(db.Model):
    """A PARS-ready file (``xlsx`` or ``txt``) of an upload the worker judged, built by the
    worker when the organization asks for it and served from here by any host.

    ``inputs_key`` digests what the file was made from besides the upload (the day and the
    activities' boards and credit types): a file whose key no longer matches is made again.
    """

    __tablename__ = "sandbox_pars_files"
    __table_args__ = (
        Index("uq_sandbox_pars_files_attempt_kind", "attempt_id", "kind", unique=True),
        CheckConstraint("status IN ('queued', 'building', 'ready', 'failed')", name="status_known"),
        CheckConstraint("kind IN ('xlsx', 'txt')", name="kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("sandbox_attempts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(10), default=FILE_QUEUED, index=True)
    # The program's day the file is made for (the download's "today").
    made_on: Mapped[date]
    inputs_key: Mapped[str] = mapped_column(String(64))
    rows_written: Mapped[int] = mapped_column(default=0)
    # Megabytes for a large upload: loaded only to be sent, never with the row.
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    # A worker owns a "building" file through its claim token until the lease runs out.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SandboxFinding(db.Model):
    """What the judge said about a row, a cell or the file, with its masked message."""

    __tablename__ = "sandbox_findings"
    __table_args__ = (Index("ix_sandbox_findings_attempt_code", "attempt_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("sandbox_attempts.id", ondelete="CASCADE"))
    row: Mapped[int | None]  # None for the file as a whole
    # Said of the file (its type, encoding, header...): no row of it was judged.
    is_file_level: Mapped[bool] = mapped_column(default=False)
    column: Mapped[str] = mapped_column(String(100))
    severity: Mapped[str] = mapped_column(String(10))
    code: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)


class SandboxRecord(db.Model):
    """An accepted Add row, kept so later Deletes and duplicates are judged against it.

    While the attempt that added it is still being judged the record is pending (invisible to
    other rows' lookups); a Delete marks a record with its attempt and removes it when that
    attempt finishes, so a worker that dies leaves the records as they were.
    """

    __tablename__ = "sandbox_records"
    __table_args__ = (
        Index("ix_sandbox_records_signup_record_key", "signup_id", "record_key"),
        Index("ix_sandbox_records_signup_learner", "signup_id", "learner_key", "activity_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    signup_id: Mapped[int] = mapped_column(ForeignKey("signups.id", ondelete="CASCADE"))
    activity_id: Mapped[str] = mapped_column(String(9))
    completion_date: Mapped[date]
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    birth_month: Mapped[int]
    birth_day: Mapped[int]
    state: Mapped[str | None] = mapped_column(String(2))
    license_or_npi: Mapped[str | None] = mapped_column(String(40))
    board: Mapped[str | None] = mapped_column(String(10))
    board_id: Mapped[str | None] = mapped_column(String(40))
    cme_credits: Mapped[Decimal | None] = mapped_column(Credits)
    board_credits: Mapped[Decimal | None] = mapped_column(Credits)
    credit_awards: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    # SHA-256 digests of judge.record_key and judge.learner_key, for indexed lookups.
    record_key: Mapped[str] = mapped_column(String(64))
    learner_key: Mapped[str] = mapped_column(String(64))
    added_by_attempt_id: Mapped[int | None] = mapped_column(
        ForeignKey("sandbox_attempts.id", ondelete="SET NULL"), index=True
    )
    is_pending: Mapped[bool] = mapped_column(default=False)
    deleting_attempt_id: Mapped[int | None] = mapped_column(
        ForeignKey("sandbox_attempts.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class SandboxColumnMap(db.Model):
    """A column mapping an organization confirmed for its own spreadsheet's header.

    A later upload with the same header (compared as columns.header_key folds it) is read
    through it without asking again.
    """

    __tablename__ = "sandbox_column_maps"
    __table_args__ = (
        Index("uq_sandbox_column_maps_signup_header", "signup_id", "header_signature", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    signup_id: Mapped[int] = mapped_column(ForeignKey("signups.id", ondelete="CASCADE"))
    header_signature: Mapped[str] = mapped_column(String(32))
    column_map: Mapped[dict] = mapped_column(JSON)  # columns.ColumnMap.to_json
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ParsStateList(db.Model):
    """The state boards using PARS data, as staff last checked them; the newest row counts.

    Rows are kept as the history of the list; with none, rules.PARS_STATES (shipped with the
    code) is used.
    """

    __tablename__ = "pars_state_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    states: Mapped[list[str]] = mapped_column(JSON)  # 2-letter codes
    source: Mapped[str] = mapped_column(Text)
    checked_on: Mapped[date]
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_members.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
