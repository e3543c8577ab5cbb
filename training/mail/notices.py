"""Emails no organization asked for: a session changed by staff, and reminders before it."""

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from training.booking.links import issue_manage_link
from training.booking.models import SESSION_SCHEDULED, SIGNUP_CONFIRMED, Signup, TrainingSession
from training.booking.services import invite_details
from training.extensions import db
from training.mail.models import Reminder
from training.mail.services import public_url, queue_email


def send_session_update(session: TrainingSession) -> int:
    """Tell everyone booked on ``session`` that staff changed it; returns how many were told.

    Call it after changing the session's time, link or dial-in (a REQUEST with the next
    SEQUENCE), or after cancelling it (a CANCEL), in the same transaction.
    """
    cancelled = session.is_cancelled
    signups = db.session.scalars(
        select(Signup)
        .where(Signup.session_id == session.id, Signup.status == SIGNUP_CONFIRMED)
        .order_by(Signup.id)
    ).all()
    for signup in signups:
        signup.invite_sequence += 1
        when = session.when
        queue_email(
            "session_cancelled" if cancelled else "session_changed",
            signup.recipients,
            f"Cancelled: the training session on {when}"
            if cancelled
            else f"Updated: your training session, {when}",
            signup=signup,
            invite=invite_details(signup, session),
            method="CANCEL" if cancelled else "REQUEST",
            manage_url=public_url("booking.manage", token=issue_manage_link(signup)),
            alternates=[
                choice.session
                for choice in signup.choices
                if choice.session_id != session.id and not choice.session.is_cancelled
            ],
        )
    db.session.flush()
    return len(signups)


def send_reminders(now: datetime) -> int:
    """Queue the reminders due at ``now``; each booking gets each reminder at most once.

    A reminder is due from ``hours`` before the session until it starts. When several are due
    together (a late booking, a worker that was down) only the nearest goes out, and one due
    before the booking was confirmed is skipped: the confirmation said it all.
    """
    offsets = sorted({_minutes(hours) for hours in current_app.config["MAIL_REMINDER_HOURS"]})
    if not offsets:
        return 0
    rows = db.session.execute(
        select(Signup, TrainingSession)
        .join(TrainingSession, Signup.session_id == TrainingSession.id)
        .where(
            Signup.status == SIGNUP_CONFIRMED,
            TrainingSession.status == SESSION_SCHEDULED,
            TrainingSession.starts_at > now,
            TrainingSession.starts_at <= now + timedelta(minutes=offsets[-1]),
        )
        .order_by(TrainingSession.starts_at, Signup.id)
    ).all()
    queued = 0
    for signup, session in rows:
        due = [
            minutes for minutes in offsets if session.starts_at - timedelta(minutes=minutes) <= now
        ]
        recorded = set(
            db.session.scalars(
                select(Reminder.minutes_before).where(
                    Reminder.signup_id == signup.id,
                    Reminder.session_id == session.id,
                    Reminder.session_starts_at == session.starts_at,
                )
            )
        )
        pending = [minutes for minutes in due if minutes not in recorded]
        if not pending:
            continue
        nearest = pending[0]
        covered = signup.confirmed_at is not None and signup.confirmed_at >= (
            session.starts_at - timedelta(minutes=nearest)
        )
        reminders = [
            Reminder(
                signup_id=signup.id,
                session_id=session.id,
                session_starts_at=session.starts_at,
                minutes_before=minutes,
            )
            for minutes in pending
        ]
        try:
            with db.session.begin_nested():
                db.session.add_all(reminders)
                db.session.flush()
        except IntegrityError:
            continue  # another worker recorded it first
        if covered:
            continue
        message = queue_email(
            "reminder",
            signup.recipients,
            f"Reminder: your training session, {session.when}",
            signup=signup,
            manage_url=public_url("booking.manage", token=issue_manage_link(signup)),
            starts_in=_starts_in(session.starts_at - now),
        )
        db.session.flush()
        reminders[0].outbox_message_id = message.id
        queued += 1
    db.session.flush()
    return queued


def _minutes(hours: float) -> int:
    return round(float(hours) * 60)


def _starts_in(left: timedelta) -> str:
    hours = left.total_seconds() / 3600
    if hours >= 36:
        return f"in {round(hours / 24)} days"
    if hours >= 1.5:
        return f"in {round(hours)} hours"
    return f"in {max(round(hours * 60), 1)} minutes"
