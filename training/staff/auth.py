"""Who may see what: loading the signed-in account and checking its role."""

from collections.abc import Callable
from functools import wraps

from flask import abort
from flask_login import current_user, login_required

from training.extensions import db
from training.staff.models import StaffMember


def load_staff_member(user_id: str) -> StaffMember | None:
    """The account in the sign-in cookie, unless it was disabled or its password changed."""
    member_id, _, version = user_id.partition(".")
    if not (member_id.isdigit() and version.isdigit()):
        return None
    member = db.session.get(StaffMember, int(member_id))
    if member is None or member.login_version != int(version) or member.is_disabled:
        return None
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
