"""Sandbox tables: practice activities, upload attempts with their findings, and learner records.

Learner values live only in ``sandbox_records`` (accepted rows) and, until judged, in
``sandbox_uploads``; findings keep the judge's masked messages and nothing else.
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
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from training.booking.models import Signup
from training.extensions import UTCDateTime, db, utcnow

ATTEMPT_QUEUED = "queued"
ATTEMPT_JUDGING = "judging"
ATTEMPT_DONE = "done"
ATTEMPT_FAILED = "failed"
ATTEMPT_STATUSES = (ATTEMPT_QUEUED, ATTEMPT_JUDGING, ATTEMPT_DONE, ATTEMPT_FAILED)

Credits = Numeric(7, 2)


class SandboxActivity(db.Model):
    """An activity the organization will report learners for, entered for practice."""

    __tablename__ = "sandbox_activities"
    __table_args__ = (
        Index("uq_sandbox_activities_signup_activity", "signup_id", "activity_id", unique=True),
        CheckConstraint("end_date >= start_date", name="ends_after_start"),
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
    # A worker owns a "judging" attempt through its claim token until the lease runs out.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    signup: Mapped[Signup] = relationship()

    @property
    def is_finished(self) -> bool:
        return self.status in (ATTEMPT_DONE, ATTEMPT_FAILED)

    @property
    def percent_judged(self) -> int | None:
        """How far judging got, in percent, when the number of rows is known up front."""
        if self.status == ATTEMPT_DONE:
            return 100
        if not self.rows_expected:
            return None
        return min(99, self.rows_judged * 100 // self.rows_expected)


class SandboxUpload(db.Model):
    """The bytes of a file waiting for a worker; deleted once the file is judged."""

    __tablename__ = "sandbox_uploads"

    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("sandbox_attempts.id", ondelete="CASCADE"), primary_key=True
    )
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


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
