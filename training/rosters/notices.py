"""The rosters' own emails: telling an organization that a session it was booked on or waiting
for is cancelled, and where that leaves it. Queued in the caller's transaction, once each
organization's new place is known (after ``promote_waitlist`` has booked who it could)."""

from datetime import datetime
from typing import Any

from training.booking.cutoff import is_inside_cutoff
from training.booking.links import issue_manage_link
from training.booking.models import Signup, TrainingSession
from training.booking.notices import queue_signup_email, subject_for
from training.booking.services import dates_open_to_change, waitlist_places


def where_it_now_stands(signup: Signup, now: datetime) -> dict[str, Any]:
    """What a cancellation email says of ``signup``'s place after its date was cancelled and
    the waitlists were served: ``booked_on`` (the date it was booked on instead), else
    ``waiting_for`` (its places in line for dates still to come at ``now``), else the
    ``open_dates`` it can book from its manage link (``dates_open_to_change``)."""
    waiting_for = [place for place in waitlist_places(signup, now) if place.is_waiting]
    return {
        "booked_on": signup.session if signup.is_confirmed else None,
        "waiting_for": waiting_for,
        "open_dates": (
            dates_open_to_change(signup, now) if signup.is_waitlisted and not waiting_for else []
        ),
    }


def queue_session_cancelled(signup: Signup, cancelled: TrainingSession, *, now: datetime) -> None:
    """Queue ``mail/session_cancelled`` with the CANCEL of ``cancelled`` to ``signup``, which
    was booked on it: it says the session is cancelled and why, then what happened: booked on
    another date it chose (the booking email with that date's invite goes separately: one
    calendar method per message), waiting as number N for its other dates, or waiting for
    none (with the dates it can book now). Dates it chose inside their change cutoff are
    named apart: nobody is booked on them automatically (``promote_waitlist``)."""
    too_soon = [
        choice.session
        for choice in signup.choices
        if choice.session_id != cancelled.id
        and choice.session.is_bookable(now)
        and is_inside_cutoff(choice.session, now)
    ]
    queue_signup_email(
        signup,
        issue_manage_link(signup),
        "session_cancelled",
        subject_for(signup, f"Cancelled: the training session on {cancelled.when}"),
        invite_session=cancelled,
        method="CANCEL",
        now=now,
        cancelled=cancelled,
        too_soon=[] if signup.is_confirmed else too_soon,
        **where_it_now_stands(signup, now),
    )


def queue_waitlist_session_cancelled(
    signup: Signup, cancelled: TrainingSession, *, now: datetime
) -> None:
    """Queue ``mail/waitlist_session_cancelled`` to ``signup``, which was waiting for
    ``cancelled``: it says the session is cancelled and why, then which one holds: booked on
    another of its dates (the booking email with the invite goes separately), still waiting
    for its other dates still to come at ``now`` (with its place in line), or waiting for no
    date, with the dates it can book now from its manage link (``dates_open_to_change``)."""
    queue_signup_email(
        signup,
        issue_manage_link(signup),
        "waitlist_session_cancelled",
        subject_for(signup, f"Waitlist update: {cancelled.when} is cancelled"),
        cancelled=cancelled,
        now=now,
        stays_waiting=True,
        **where_it_now_stands(signup, now),
    )
