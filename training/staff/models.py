"""Staff accounts and the sessions each facilitator is assigned to."""

from datetime import datetime, timedelta

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from training.booking.models import TrainingSession
from training.extensions import IDS_NEVER_REUSED, UTCDateTime, db, utcnow

ROLE_ADMIN = "admin"
ROLE_STAFF = "staff"
ROLE_FACILITATOR = "facilitator"
ROLES = (ROLE_ADMIN, ROLE_STAFF, ROLE_FACILITATOR)

session_facilitators = Table(
    "session_facilitators",
    db.metadata,
    Column(
        "session_id",
        ForeignKey("training_sessions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "staff_member_id",
        ForeignKey("staff_members.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)


class StaffMember(UserMixin, db.Model):
    """A staff account: admin, staff or facilitator."""

    __tablename__ = "staff_members"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'staff', 'facilitator')", name="role_known"),
        IDS_NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_disabled: Mapped[bool] = mapped_column(default=False)
    # Part of the sign-in cookie: bumping it signs the account out everywhere.
    login_version: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_signed_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sessions: Mapped[list[TrainingSession]] = relationship(
        secondary=session_facilitators, order_by=TrainingSession.starts_at
    )

    @property
    def is_active(self) -> bool:
        """Not disabled (Flask-Login refuses inactive accounts)."""
        return not self.is_disabled

    @property
    def is_admin(self) -> bool:
        return self.role == ROLE_ADMIN

    @property
    def can_manage(self) -> bool:
        """Admins and staff run sessions, rosters, signups, exports and mail."""
        return self.role in (ROLE_ADMIN, ROLE_STAFF)

    def get_id(self) -> str:
        """The id Flask-Login keeps: the account's id and its login version."""
        return f"{self.id}.{self.login_version}"

    def set_password(self, password: str) -> None:
        """Keep only the password's hash, and end every earlier sign-in."""
        self.password_hash = generate_password_hash(password, method="scrypt")
        self.login_version = (self.login_version or 0) + 1

    def check_password(self, password: str) -> bool:
        """Whether ``password`` matches the kept hash."""
        return check_password_hash(self.password_hash, password)


class StaffSession(db.Model):
    """One sign-in. The cookie holds a random token; the database only the token's SHA-256.

    Signing out sets ``ended_at``; a session also ends after ``STAFF_SESSION_IDLE_HOURS``
    without a request and ``STAFF_SESSION_LIFETIME_DAYS`` after sign-in, for every copy of
    the cookie.
    """

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_member_id: Mapped[int] = mapped_column(
        ForeignKey("staff_members.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Brought up to date at most once a minute (STAFF_SESSION_TOUCH_SECONDS).
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    staff_member: Mapped[StaffMember] = relationship()

    def is_live(self, now: datetime, *, idle: timedelta, lifetime: timedelta) -> bool:
        """Not signed out, used within ``idle``, and signed in less than ``lifetime`` ago."""
        return (
            self.ended_at is None
            and now - self.last_seen_at < idle
            and now - self.created_at < lifetime
        )
