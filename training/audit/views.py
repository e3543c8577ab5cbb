"""The audit log page: admins see who did what, when, to which organization."""

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, render_template, request

from training.audit import services
from training.audit.forms import AuditFilterForm
from training.booking.display import format_moment
from training.staff.auth import ADMINS, role_required

bp = Blueprint("audit", __name__, url_prefix="/staff/audit")

UTC_ZONE = ZoneInfo("UTC")
# A moment as the services store it in details (``datetime.isoformat`` of an aware UTC time):
# "2026-12-07T18:00:00+00:00". Only a full timestamp with its offset, never a bare date.
_ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)")

EVENTS_PER_PAGE = 50


@bp.app_template_filter("audit_details")
def readable_details(
    details: dict[str, Any] | None,
    organizations: dict[int, str] | None = None,
    zone: ZoneInfo = UTC_ZONE,
) -> list[tuple[str, str]]:
    """The event's details as (label, text) lines; the template escapes them. Lists of signup
    ids (``services.SIGNUP_LIST_DETAILS``) name each organization from ``organizations``
    (signup id -> name): "Sierra Valley Medical Society (signup 12)". A moment stored as an
    ISO timestamp (a session's old and new start) reads in ``zone``, as the log's "When" does:
    "Mon, Dec 7, 2026, 10:00 AM PT"."""
    return [
        (_label(key), _readable(key, value, organizations or {}, zone))
        for key, value in (details or {}).items()
    ]


def _label(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _readable(key: str, value: Any, organizations: dict[int, str], zone: ZoneInfo) -> str:
    if key in services.SIGNUP_LIST_DETAILS and isinstance(value, list):
        return ", ".join(_signup(signup_id, organizations) for signup_id in value) or "(none)"
    if key == "changes" and isinstance(value, dict):
        # The services store each change as [before, after].
        return "; ".join(
            f"{_label(field)}: {_text(change[0], zone)} → {_text(change[1], zone)}"
            if isinstance(change, list) and len(change) == 2
            else f"{_label(field)}: {_text(change, zone)}"
            for field, change in value.items()
        )
    return _text(value, zone)


def _signup(signup_id: Any, organizations: dict[int, str]) -> str:
    name = organizations.get(signup_id) if isinstance(signup_id, int) else None
    if name is None:
        return f"signup {signup_id} (since deleted)"
    return f"{name} (signup {signup_id})"


def _text(value: Any, zone: ZoneInfo) -> str:
    if value is None or value == "":
        return "(blank)"
    if isinstance(value, dict):
        return "; ".join(f"{_label(key)}: {_text(item, zone)}" for key, item in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_text(item, zone) for item in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and _ISO_MOMENT.fullmatch(value):
        return format_moment(datetime.fromisoformat(value), zone)
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
    zone = ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])
    events = services.search_events(
        form.filters(zone), page=form.page.data or 1, per_page=EVENTS_PER_PAGE
    )
    return render_template(
        "audit/index.html",
        form=form,
        events=events,
        organizations=services.signup_names(events.items),
        zone=zone,
    )
