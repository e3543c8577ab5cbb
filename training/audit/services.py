"""Writing to the audit log, in the same transaction as the change it records."""

from typing import Any

from training.audit.models import AuditEvent
from training.booking.models import Program, Signup, TrainingSession
from training.extensions import db

PUBLIC_ACTOR = "organization (public page)"
SYSTEM_ACTOR = "Training Desk (automatic)"


def record(
    action: str,
    *,
    actor=None,
    actor_label: str | None = None,
    signup: Signup | None = None,
    session: TrainingSession | None = None,
    program: Program | None = None,
    **details: Any,
) -> AuditEvent:
    """Add an audit event by ``actor`` (a staff member), else ``actor_label`` or the public."""
    if session is None and signup is not None:
        session = signup.session
    if program is None:
        program = (signup.program if signup is not None else None) or (
            session.program if session is not None else None
        )
    event = AuditEvent(
        actor_id=actor.id if actor is not None else None,
        actor=actor.email if actor is not None else actor_label or PUBLIC_ACTOR,
        action=action,
        program_id=program.id if program is not None else None,
        session_id=session.id if session is not None else None,
        signup_id=signup.id if signup is not None else None,
        organization_name=signup.organization_name if signup is not None else None,
        details={key: value for key, value in details.items() if value is not None},
    )
    db.session.add(event)
    return event
