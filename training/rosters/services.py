"""Scheduling sessions: create, change and cancel them, and assign facilitators.

Every change that calendars must know of goes out through the same invites as a booking.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from training.audit.services import record
from training.booking.models import (
    SESSION_CANCELLED,
    SIGNUP_CONFIRMED,
    SIGNUP_WAITLISTED,
    Program,
    Signup,
    TrainingSession,
)
from training.booking.services import BookingError, describe_session, promote_waitlist
from training.extensions import db
from training.mail.notices import send_session_update
from training.staff.models import StaffMember


class SeatsBelowBooked(BookingError):
    pass


@dataclass(frozen=True)
class SessionDetails:
    """What staff set on a session."""

    starts_at: datetime
    ends_at: datetime
    seats: int
    meeting_url: str | None = None
    dial_in: str | None = None
    passcode: str | None = None


# Changing any of these sends everyone booked an updated invite.
INVITE_FIELDS = ("starts_at", "ends_at", "meeting_url", "dial_in", "passcode")


def create_session(program: Program, details: SessionDetails, *, actor) -> TrainingSession:
    if details.ends_at <= details.starts_at:
        raise BookingError("The session must end after it starts.")
    session = TrainingSession(program=program, **_columns(details))
    db.session.add(session)
    db.session.flush()
    record("session.created", actor=actor, session=session, when=describe_session(session))
    return session


def update_session(
    session: TrainingSession, details: SessionDetails, *, now: datetime, actor
) -> int:
    """Apply staff's changes; returns how many organizations were sent an updated invite.

    Seats may go down only to the number already booked; the check and the change are one
    UPDATE, so a booking racing the change cannot slip in between.
    """
    if session.is_cancelled:
        raise BookingError("This session is cancelled, so it can no longer be changed.")
    if details.ends_at <= details.starts_at:
        raise BookingError("The session must end after it starts.")
    lowered = db.session.execute(
        update(TrainingSession)
        .where(TrainingSession.id == session.id, TrainingSession.seats_booked <= details.seats)
        .values(seats=details.seats)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(session, ["seats", "seats_booked"])
    if not lowered:
        raise SeatsBelowBooked(
            f"{session.seats_booked} organizations are booked on this session, so it needs at "
            f"least {session.seats_booked} seats. Move or cancel bookings first."
        )
    before = {name: getattr(session, name) for name in INVITE_FIELDS}
    for name in INVITE_FIELDS:
        setattr(session, name, _columns(details)[name])
    db.session.flush()
    changed = {
        name: [_plain(before[name]), _plain(getattr(session, name))]
        for name in INVITE_FIELDS
        if before[name] != getattr(session, name)
    }
    record("session.updated", actor=actor, session=session, changes=changed, seats=details.seats)
    told = send_session_update(session) if changed else 0
    promote_waitlist(session, now=now)
    return told


def cancel_session(session: TrainingSession, reason: str, *, now: datetime, actor) -> int:
    """Cancel a session: everyone booked gets a CANCEL and goes back to its alternates.

    Each booked organization is put on the waitlist of its other chosen dates and booked at
    once where one has a seat; the others choose another date from their manage link.
    Returns how many organizations were booked on it.
    """
    if session.is_cancelled:
        raise BookingError("This session is already cancelled.")
    if not reason.strip():
        raise BookingError("Say why the session is cancelled; organizations will see it.")
    session.status = SESSION_CANCELLED
    session.cancellation_reason = reason.strip()
    db.session.flush()
    told = send_session_update(session)
    booked = db.session.scalars(
        select(Signup).where(Signup.session_id == session.id, Signup.status == SIGNUP_CONFIRMED)
    ).all()
    for signup in booked:
        signup.status, signup.session = SIGNUP_WAITLISTED, None
    session.seats_booked = 0
    db.session.flush()
    record("session.cancelled", actor=actor, session=session, reason=reason, booked=len(booked))
    alternates = {choice.session for signup in booked for choice in signup.choices}
    for alternate in sorted(alternates, key=lambda s: s.starts_at):
        promote_waitlist(alternate, now=now)
    return told


def assign_facilitators(
    session: TrainingSession, facilitators: list[StaffMember], *, actor
) -> None:
    """Set who facilitates ``session``; they see its roster and its live console."""
    current, wanted = set(session_facilitators(session)), set(facilitators)
    for member in current - wanted:
        member.sessions.remove(session)
    for member in wanted - current:
        member.sessions.append(session)
    db.session.flush()
    if current != wanted:
        record(
            "session.facilitators",
            actor=actor,
            session=session,
            old=sorted(member.email for member in current),
            new=sorted(member.email for member in wanted),
        )


def session_facilitators(session: TrainingSession) -> list[StaffMember]:
    return list(
        db.session.scalars(
            select(StaffMember)
            .where(StaffMember.sessions.any(TrainingSession.id == session.id))
            .order_by(StaffMember.email)
        )
    )


def _columns(details: SessionDetails) -> dict:
    return {
        "starts_at": details.starts_at,
        "ends_at": details.ends_at,
        "seats": details.seats,
        "meeting_url": details.meeting_url or None,
        "dial_in": details.dial_in or None,
        "passcode": details.passcode or None,
    }


def _plain(value):
    return value.isoformat() if isinstance(value, datetime) else value
