"""The audit log page: admins see who did what, when, to which organization."""

from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, render_template, request

from training.audit import services
from training.audit.forms import AuditFilterForm
from training.staff.auth import ADMINS, role_required

bp = Blueprint("audit", __name__, url_prefix="/staff/audit")

EVENTS_PER_PAGE = 50


@bp.app_template_filter("audit_details")
def readable_details(
    details: dict[str, Any] | None, organizations: dict[int, str] | None = None
) -> list[tuple[str, str]]:
    """The event's details as (label, text) lines; the template escapes them. Lists of signup
    ids (``services.SIGNUP_LIST_DETAILS``) name each organization from ``organizations``
    (signup id -> name): "Sierra Valley Medical Society (signup 12)"."""
    return [
        (_label(key), _readable(key, value, organizations or {}))
        for key, value in (details or {}).items()
    ]


def _label(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _readable(key: str, value: Any, organizations: dict[int, str]) -> str:
    if key in services.SIGNUP_LIST_DETAILS and isinstance(value, list):
        return ", ".join(_signup(signup_id, organizations) for signup_id in value) or "(none)"
    if key == "changes" and isinstance(value, dict):
        # The services store each change as [before, after].
        return "; ".join(
            f"{_label(field)}: {_text(change[0])} → {_text(change[1])}"
            if isinstance(change, list) and len(change) == 2
            else f"{_label(field)}: {_text(change)}"
            for field, change in value.items()
        )
    return _text(value)


def _signup(signup_id: Any, organizations: dict[int, str]) -> str:
    name = organizations.get(signup_id) if isinstance(signup_id, int) else None
    if name is None:
        return f"signup {signup_id} (since deleted)"
    return f"{name} (signup {signup_id})"


def _text(value: Any) -> str:
    if value is None or value == "":
        return "(blank)"
    if isinstance(value, dict):
        return "; ".join(f"{_label(key)}: {_text(item)}" for key, item in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_text(item) for item in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@bp.get("/")
@role_required(*ADMINS)
def index():
    """The audit log, filtered by actor, action, organization and days, newest first."""
    actors, actions = services.filter_choices()
    form = AuditFilterForm(request.args)
    form.set_choices(actors, actions)
    if not form.validate():
        return render_template("audit/index.html", form=form, events=None), 400
    events = services.search_events(
        form.filters(ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])),
        page=form.page.data or 1,
        per_page=EVENTS_PER_PAGE,
    )
    return render_template(
        "audit/index.html",
        form=form,
        events=events,
        organizations=services.signup_names(events.items),
    )
