"""The rosters' own email: telling an organization that a session it was waiting for is
cancelled, and where that leaves it. Queued in the caller's transaction."""

from datetime import datetime

from training.booking.links import issue_manage_link
from training.booking.models import Signup, TrainingSession
from training.booking.notices import queue_signup_email, subject_for
from training.booking.services import dates_open_to_change, waitlist_places


def queue_waitlist_session_cancelled(
    signup: Signup, cancelled: TrainingSession, *, now: datetime
) -> None:
    """Queue ``mail/waitlist_session_cancelled`` to ``signup``, which was waiting for
    ``cancelled``: it says the session is cancelled and why, then which one holds: booked on
    another of its dates (the booking email with the invite goes separately), still waiting
    for its other dates still to come at ``now`` (with its place in line), or waiting for no
    date, with the dates it can book now from its manage link (``dates_open_to_change``)."""
    waiting_for = [place for place in waitlist_places(signup, now) if place.is_waiting]
    open_dates = (
        dates_open_to_change(signup, now) if signup.is_waitlisted and not waiting_for else []
    )
    queue_signup_email(
        signup,
        issue_manage_link(signup),
        "waitlist_session_cancelled",
        subject_for(signup, f"Waitlist update: {cancelled.when} is cancelled"),
        cancelled=cancelled,
        booked_on=signup.session if signup.is_confirmed else None,
        waiting_for=waiting_for,
        open_dates=open_dates,
        now=now,
    )
