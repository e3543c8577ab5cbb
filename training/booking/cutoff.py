"""The change cutoff: ``CHANGE_CUTOFF_HOURS`` before a session, after which an organization may
only cancel its booking, and nobody is booked onto the session from its waitlist.

Its own module so that the booking rules (``services``) and the emails (``notices``), which
both judge it, read the same rule.
"""

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, and_

from training.booking.models import SESSION_SCHEDULED, TrainingSession


def changes_close_at(session: TrainingSession) -> datetime:
    """When date and contact changes close for ``session``: ``CHANGE_CUTOFF_HOURS`` before it."""
    return session.changes_close_at(current_app.config["CHANGE_CUTOFF_HOURS"])


def is_inside_cutoff(session: TrainingSession, now: datetime) -> bool:
    """Whether ``now`` is past ``session``'s change cutoff (``CHANGE_CUTOFF_HOURS`` before its
    start): a booking made now could be cancelled but not moved or edited."""
    return now >= changes_close_at(session)


def starts_inside_cutoff(starts_at: datetime, now: datetime) -> bool:
    """Whether a session starting at ``starts_at`` would be inside its change cutoff at
    ``now`` (``is_inside_cutoff`` for a start not saved yet)."""
    return now >= starts_at - timedelta(hours=current_app.config["CHANGE_CUTOFF_HOURS"])


def waitlist_closed(session: TrainingSession, now: datetime) -> str | None:
    """Why no seat can come from ``session``'s waitlist at ``now``: ``"cancelled"`` (by staff),
    its ``timing`` once it has begun (``TIMING_UNDER_WAY``, ``TIMING_ENDED``) or ``"cutoff"``
    (inside its change cutoff, where ``promote_waitlist`` books nobody); None while one
    still can. The one rule for who may wait for a date, and for what each page and email
    says of a place that can no longer turn into a seat (``WaitlistPlace.why_closed``)."""
    if session.is_cancelled:
        return "cancelled"
    if session.has_started(now):
        return session.timing(now)
    if is_inside_cutoff(session, now):
        return "cutoff"
    return None


def can_wait_for(session: TrainingSession, now: datetime) -> bool:
    """Whether a seat can still come to ``session``'s waitlist at ``now`` (``waitlist_closed``)."""
    return waitlist_closed(session, now) is None


def can_wait_for_clause(now: datetime) -> ColumnElement[bool]:
    """``can_wait_for`` as a condition on ``TrainingSession`` rows, for queries."""
    hours = current_app.config["CHANGE_CUTOFF_HOURS"]
    return and_(
        TrainingSession.status == SESSION_SCHEDULED,
        ~TrainingSession.has_started(now),
        TrainingSession.starts_at > now + timedelta(hours=hours),
    )


def no_seat_in_time() -> str:
    """What a full date inside the cutoff says where its waitlist would be offered."""
    hours = current_app.config["CHANGE_CUTOFF_HOURS"]
    return f"starts within {hours} hours: no seat can open for you in time"
