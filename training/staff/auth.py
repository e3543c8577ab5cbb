"""Who may see what: loading the signed-in account and checking its role."""

from collections.abc import Callable
from datetime import timedelta
from functools import wraps

from flask import abort, current_app, g, session
from flask_login import current_user, login_required

from training.extensions import utcnow
from training.staff import services
from training.staff.models import ROLE_ADMIN, ROLE_STAFF, ROLES, StaffMember

# Who may open which staff pages, named once; each staff view names one of these.
# Everyone: rosters of their sessions, live consoles, sandboxes (read only), their password.
EVERY_ROLE = ROLES
# Admins and staff: sessions, signups, duplicates, challenges, resources, reference data.
MANAGERS = (ROLE_ADMIN, ROLE_STAFF)
# Admins alone: accounts and the audit log.
ADMINS = (ROLE_ADMIN,)

# The sign-in's token in Flask's session cookie (the database keeps only its SHA-256).
SESSION_TOKEN_KEY = "staff_session"  # noqa: S105 (a cookie key, not a secret)


def load_staff_member(user_id: str) -> StaffMember | None:
    """The account in the sign-in cookie, while its sign-in is live (read only, one query).

    None once the sign-in was signed out, idle too long or too old (``STAFF_SESSION_*``), or
    the account was disabled or its password or role changed since.
    """
    member_id, _, version = user_id.partition(".")
    token = session.get(SESSION_TOKEN_KEY)
    if not (member_id.isdigit() and version.isdigit() and len(user_id) < 40):
        return None
    if not isinstance(token, str) or not 0 < len(token) <= 100:
        return None
    config = current_app.config
    now = utcnow()
    staff_session = services.find_session(
        int(member_id),
        token,
        now=now,
        idle=timedelta(hours=float(config["STAFF_SESSION_IDLE_HOURS"])),
        lifetime=timedelta(days=float(config["STAFF_SESSION_LIFETIME_DAYS"])),
    )
    if staff_session is None:
        return None
    member = staff_session.staff_member
    if member.login_version != int(version) or member.is_disabled:
        return None
    # For the edge to note this use (at most once a minute) after the request.
    g.staff_session_seen = (staff_session.id, staff_session.last_seen_at)
    return member


def role_required(*roles: str) -> Callable:
    """Let signed-in staff with one of ``roles`` through; others get 403, visitors sign in."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator
