"""Writing to the audit log (in the same transaction as the change it records) and reading it."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import func, select

from training.audit.models import AuditEvent
from training.booking.models import Program, Signup, TrainingSession
from training.extensions import db, utcnow
from training.paging import paginate

PUBLIC_ACTOR = "organization (public page)"
SYSTEM_ACTOR = "Training Desk (automatic)"
COMMAND_LINE_ACTOR = "command line"
SIGN_IN_ACTOR = "someone at the staff sign-in page"
# Details that hold lists of signup ids (a drawing's entrants and winners): the log shows each
# as its organization's name with the id.
SIGNUP_LIST_DETAILS = frozenset({"eligible", "winners"})


def record(action: str, **values: Any) -> AuditEvent:
    """Add an audit event: the row ``event_values`` makes of ``action`` and ``values``."""
    event = AuditEvent(**event_values(action, **values))
    db.session.add(event)
    return event


def event_values(
    action: str,
    *,
    actor=None,
    actor_label: str | None = None,
    signup: Signup | None = None,
    session: TrainingSession | None = None,
    program: Program | None = None,
    **details: Any,
) -> dict[str, Any]:
    """An audit event by ``actor`` (a staff member), else ``actor_label`` or the public, as
    column values: the row ``record`` adds, or a caller writes itself (a new signup's own
    statement, which also fills in ``signup_id``).

    An event about a session (given, or the signup's) names it in its details too, as
    ``session``: its id and when it is (``"#12, Tue, Dec 1, 10:00–11:30 AM PT"``), so the log
    says which session or roster even once the session is gone.
    """
    if session is None and signup is not None:
        session = signup.session
    if session is not None:
        details = {"session": session_label(session), **details}
    if program is None:
        program = (signup.program if signup is not None else None) or (
            session.program if session is not None else None
        )
    return {
        "created_at": utcnow(),
        "actor_id": actor.id if actor is not None else None,
        "actor": actor.email if actor is not None else actor_label or PUBLIC_ACTOR,
        "action": action,
        "program_id": program.id if program is not None else None,
        "session_id": session.id if session is not None else None,
        "signup_id": signup.id if signup is not None else None,
        "organization_name": signup.organization_name if signup is not None else None,
        "details": {key: value for key, value in details.items() if value is not None},
    }


def session_label(session: TrainingSession) -> str:
    """``"#12, Tue, Dec 1, 10:00–11:30 AM PT"``: a session's id and when it is, in its zone."""
    return f"#{session.id}, {session.when}"


def record_export(what: str, *, actor, rows: int, **details: Any) -> AuditEvent:
    """Note that ``actor`` downloaded personal data: ``what`` (e.g. "signups"), ``rows`` rows."""
    return record(f"{what}.exported", actor=actor, rows=rows, **details)


@dataclass(frozen=True)
class AuditFilters:
    """What an admin narrows the log to; ``since`` and ``before`` bound ``created_at``."""

    actor: str | None = None
    organization: str | None = None
    action: str | None = None
    since: datetime | None = None
    before: datetime | None = None


def filter_choices() -> tuple[list[str], list[str]]:
    """Everyone who has acted and every action in the log, for the filter lists."""
    actors = db.session.scalars(select(AuditEvent.actor).distinct().order_by(AuditEvent.actor))
    actions = db.session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action))
    return list(actors), list(actions)


def search_events(filters: AuditFilters, *, page: int, per_page: int = 50) -> Pagination:
    """The log, newest first, narrowed by ``filters``."""
    statement = select(AuditEvent).order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    if filters.actor:
        statement = statement.where(AuditEvent.actor == filters.actor)
    if filters.action:
        statement = statement.where(AuditEvent.action == filters.action)
    if filters.organization:
        statement = statement.where(
            func.lower(AuditEvent.organization_name).contains(
                filters.organization.lower(), autoescape=True
            )
        )
    if filters.since is not None:
        statement = statement.where(AuditEvent.created_at >= filters.since)
    if filters.before is not None:
        statement = statement.where(AuditEvent.created_at < filters.before)
    return paginate(statement, page=page, per_page=per_page)


def signup_names(events: list[AuditEvent]) -> dict[int, str]:
    """The organization name of each signup id that ``events`` list in ``SIGNUP_LIST_DETAILS``,
    in one query; ids of signups since deleted are left out."""
    ids = {
        signup_id
        for event in events
        for key, value in (event.details or {}).items()
        if key in SIGNUP_LIST_DETAILS and isinstance(value, list)
        for signup_id in value
        if isinstance(signup_id, int)
    }
    if not ids:
        return {}
    return dict(
        db.session.execute(select(Signup.id, Signup.organization_name).where(Signup.id.in_(ids)))
        .tuples()
        .all()
    )
