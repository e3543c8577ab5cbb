"""Staff accounts: creating, signing in, changing passwords, disabling."""

import hashlib
import secrets
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import select, update
from sqlalchemy.orm import contains_eager
from werkzeug.security import check_password_hash, generate_password_hash

from training.audit.services import COMMAND_LINE_ACTOR, SIGN_IN_ACTOR, record
from training.constraints import unique_or
from training.errors import Refused
from training.extensions import db, utcnow
from training.staff.models import ROLES, StaffMember, StaffSession

MIN_PASSWORD_LENGTH = 12
# Long passphrases are welcome; the cap only keeps hashing a pasted novel off the server.
MAX_PASSWORD_LENGTH = 500
PASSWORD_LENGTH_RULE = (
    f"Use {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters for the password."
)


class StaffError(Refused):
    """An account rule refused the change; the message says why."""


@cache
def _dummy_hash() -> str:
    return generate_password_hash("no account has this password", method="scrypt")


def normalize_email(email: str) -> str:
    """The address as accounts are found by: trimmed and lowercased."""
    return email.strip().lower()


def find_staff(email: str) -> StaffMember | None:
    """The account with this email, if any."""
    return db.session.scalars(
        select(StaffMember).where(StaffMember.email == normalize_email(email))
    ).first()


def check_password_rules(password: str) -> None:
    """Raise ``StaffError`` for a password shorter than ``MIN_PASSWORD_LENGTH`` or longer than
    ``MAX_PASSWORD_LENGTH`` characters, saying both limits."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise StaffError(PASSWORD_LENGTH_RULE)


def create_staff(
    email: str, password: str, role: str, *, name: str = "", actor=None
) -> StaffMember:
    """Add a staff account; raises StaffError for a taken email, unknown role or weak password."""
    if role not in ROLES:
        raise StaffError(f"Choose a role: {', '.join(ROLES)}.")
    check_password_rules(password)
    address = normalize_email(email)
    member = StaffMember(email=address, name=name.strip() or address, role=role)
    member.set_password(password)
    taken = f"There is already an account for {address}."
    with unique_or({"uq_staff_members_email": lambda: StaffError(taken)}):
        db.session.add(member)
    record("staff.created", actor=actor, actor_label=_label(actor), account=member.email, role=role)
    return member


def authenticate(email: str, password: str) -> StaffMember | None:
    """The active account with this email and password, or None (the failure is audited).

    A failure names the account only when one has that email: what people type there by
    mistake (a password, say) is never kept.
    """
    member = find_staff(email)
    if member is None:
        # Spend the same time as a real check, so timing does not reveal which emails exist.
        check_password_hash(_dummy_hash(), password)
        record_failed_sign_in(None, "no such account")
        return None
    if not member.check_password(password) or member.is_disabled:
        record_failed_sign_in(
            member, "account disabled" if member.is_disabled else "wrong password"
        )
        return None
    member.last_signed_in_at = utcnow()
    record("staff.signed_in", actor=member)
    return member


def refuse_sign_in(email: str, reason: str) -> None:
    """Audit a sign-in refused before any password was checked (none given, too many tries).

    The event names the account only when one has ``email``, as ``authenticate`` does.
    """
    record_failed_sign_in(find_staff(email) if email else None, reason)


def record_failed_sign_in(member: StaffMember | None, reason: str) -> None:
    """Add a ``staff.sign_in_failed`` event: the account if known, never what was typed."""
    record(
        "staff.sign_in_failed",
        actor_label=SIGN_IN_ACTOR,
        account=member.email if member is not None else None,
        reason=reason,
    )


def change_password(member: StaffMember, current: str, new: str) -> None:
    """Change ``member``'s own password after checking the ``current`` one (``StaffError``)."""
    if not member.check_password(current):
        raise StaffError("Your current password is not right.")
    check_password_rules(new)
    member.set_password(new)
    record("staff.password_changed", actor=member)


def set_disabled(member: StaffMember, disabled: bool, *, actor=None) -> None:
    """Disable (or enable) an account; disabling signs it out everywhere."""
    member.is_disabled = disabled
    member.login_version += 1
    record(
        "staff.disabled" if disabled else "staff.enabled",
        actor=actor,
        actor_label=_label(actor),
        account=member.email,
    )


def set_role(member: StaffMember, role: str, *, actor=None) -> None:
    """Change an account's role (audited); its other sign-ins end."""
    if role not in ROLES:
        raise StaffError(f"Choose a role: {', '.join(ROLES)}.")
    previous, member.role = member.role, role
    member.login_version += 1
    record("staff.role_changed", actor=actor, account=member.email, old=previous, new=role)


def _label(actor) -> str | None:
    """Who acted when no one is signed in: only the command line changes accounts that way."""
    return None if actor is not None else COMMAND_LINE_ACTOR


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(member: StaffMember, *, now: datetime) -> str:
    """Record a sign-in and return its token, for the cookie (only its SHA-256 is kept)."""
    token = secrets.token_urlsafe(32)
    db.session.add(
        StaffSession(
            staff_member=member, token_hash=_token_hash(token), created_at=now, last_seen_at=now
        )
    )
    return token


def find_session(
    member_id: int, token: str, *, now: datetime, idle: timedelta, lifetime: timedelta
) -> StaffSession | None:
    """The live sign-in of ``member_id`` with ``token`` (and its account), in one query."""
    staff_session = db.session.scalars(
        select(StaffSession)
        .join(StaffSession.staff_member)
        .where(StaffSession.token_hash == _token_hash(token), StaffMember.id == member_id)
        .options(contains_eager(StaffSession.staff_member))
    ).first()
    if staff_session is None or not staff_session.is_live(now, idle=idle, lifetime=lifetime):
        return None
    return staff_session


def end_session(token: str, *, now: datetime) -> None:
    """Sign out the session with ``token``, for every copy of its cookie."""
    db.session.execute(
        update(StaffSession)
        .where(StaffSession.token_hash == _token_hash(token), StaffSession.ended_at.is_(None))
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    )


def touch_session(session_id: int, *, now: datetime, every: timedelta) -> None:
    """Note that the session was used at ``now``, unless that was noted less than ``every`` ago."""
    db.session.execute(
        update(StaffSession)
        .where(
            StaffSession.id == session_id,
            StaffSession.ended_at.is_(None),
            StaffSession.last_seen_at <= now - every,
        )
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False)
    )
