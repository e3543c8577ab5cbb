"""Staff accounts: creating, signing in, changing passwords, disabling."""

from functools import cache

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from training.audit.services import COMMAND_LINE_ACTOR, record
from training.constraints import unique_or
from training.extensions import db, utcnow
from training.staff.models import ROLES, StaffMember

MIN_PASSWORD_LENGTH = 12


class StaffError(Exception):
    """An account rule refused the change; the message says why."""


@cache
def _dummy_hash() -> str:
    return generate_password_hash("no account has this password", method="scrypt")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def find_staff(email: str) -> StaffMember | None:
    return db.session.scalars(
        select(StaffMember).where(StaffMember.email == normalize_email(email))
    ).first()


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StaffError(f"Use at least {MIN_PASSWORD_LENGTH} characters for the password.")


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
    """The active account with this email and password, or None."""
    member = find_staff(email)
    if member is None:
        # Spend the same time as a real check, so timing does not reveal which emails exist.
        check_password_hash(_dummy_hash(), password)
        return None
    if not member.check_password(password) or member.is_disabled:
        return None
    member.last_signed_in_at = utcnow()
    record("staff.signed_in", actor=member)
    return member


def change_password(member: StaffMember, current: str, new: str) -> None:
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
    if role not in ROLES:
        raise StaffError(f"Choose a role: {', '.join(ROLES)}.")
    previous, member.role = member.role, role
    member.login_version += 1
    record("staff.role_changed", actor=actor, account=member.email, old=previous, new=role)


def _label(actor) -> str | None:
    """Who acted when no one is signed in: only the command line changes accounts that way."""
    return None if actor is not None else COMMAND_LINE_ACTOR
