"""The change cutoff: ``CHANGE_CUTOFF_HOURS`` before a session, after which an organization may
only cancel its booking, and nobody is booked onto the session from its waitlist.

Its own module so that the booking rules (``services``) and the emails (``notices``), which
both judge it, read the same rule.
"""

from datetime import datetime, timedelta

from flask import current_app

from training.booking.models import TrainingSession


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
