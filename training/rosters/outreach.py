"""Staff write to the organizations of one or more sessions: one email each, through the outbox.

The message is staff's own words; each organization gets it at its contact and attendees, with
a line saying which session it is about, and the roster shows its delivery like any email.
"""

import re
from collections.abc import Sequence
from datetime import datetime

from flask import render_template
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from training.audit.services import record
from training.booking.models import (
    SIGNUP_CONFIRMED,
    SIGNUP_WAITLISTED,
    Signup,
    SignupChoice,
    TrainingSession,
)
from training.booking.notices import subject_for
from training.drafts import services as drafts
from training.drafts.models import Draft
from training.errors import Refused
from training.extensions import db
from training.mail.services import queue_email

# The email template staff's messages are sent with (templates/mail/staff_message.*): written
# by hand, so sent without ``Auto-Submitted`` (``mail.models.HAND_WRITTEN_KINDS``).
MESSAGE_KIND = "staff_message"
MAX_SUBJECT_CHARS = 200
MAX_BODY_CHARS = 5000
# A message that opens with a greeting of staff's own ("Hello,", "Hi all", "Dear colleagues")
# is not given ours ("Hello <contact name>,") on top of it. The greeting is a whole word
# followed by the end, punctuation, an emoji ("Hi 👋"), or whom it greets: a name (a capital
# letter) or a word that addresses people. "Hi-res slides", "Greetings cards" and "Hello-world"
# open with a longer word, not a greeting.
_OWN_GREETING = re.compile(
    r"(?i:hello|hi|hey|dearest|dear|greetings|(?:good\s+)?(?:morning|afternoon|evening))"
    r"(?:\s*(?:$|[,!?.:;\u2013\u2014])"
    r"|\s+(?:[^\w\s]|[A-Z]|(?i:all|everyone|everybody|team|colleagues|friends|folks|there"
    r"|again|from|to|and)\b(?![-\u2019']\w)))"
)


class NoOneToEmail(Refused):
    """The chosen sessions have no organization to write to."""


def audience(
    sessions: Sequence[TrainingSession], *, include_waitlist: bool, now: datetime
) -> list[Signup]:
    """The organizations booked on ``sessions`` (and, with ``include_waitlist``, those still
    waiting for a seat on one of them), each once, by session then name.

    Cancelled bookings are never included, nor the waitlists of sessions cancelled or started
    at ``now``: no seat will come from those (``booking.services.waitlist_places``).
    """
    ids = [session.id for session in sessions]
    booked = (Signup.status == SIGNUP_CONFIRMED) & Signup.session_id.in_(ids)
    condition = booked
    if include_waitlist:
        open_ids = [session.id for session in sessions if session.is_bookable(now)]
        waiting = (Signup.status == SIGNUP_WAITLISTED) & Signup.id.in_(
            select(SignupChoice.signup_id).where(SignupChoice.session_id.in_(open_ids))
        )
        condition = or_(booked, waiting)
    signups = db.session.scalars(
        select(Signup)
        .where(condition)
        .options(selectinload(Signup.attendees), selectinload(Signup.choices))
        .order_by(Signup.status, func.lower(Signup.organization_name), Signup.id)
    ).all()
    return list(signups)


def email_organizations(
    sessions: Sequence[TrainingSession],
    subject: str,
    body: str,
    *,
    include_waitlist: bool,
    now: datetime,
    actor,
) -> list[int]:
    """Queue staff's message to every organization ``audience`` finds: one email each, to its
    contact and attendees, naming the session it is about. Audited once per session.

    Returns the queued messages' ids. Raises ``NoOneToEmail`` when no organization is found.
    """
    body = _lines(body)
    signups = audience(sessions, include_waitlist=include_waitlist, now=now)
    if not signups:
        raise NoOneToEmail(
            "No organization is booked on the chosen sessions"
            + (" or waiting for them." if include_waitlist else ".")
            + " Nothing was sent."
        )
    by_session = {session.id: session for session in sessions}
    messages = [
        queue_email(
            MESSAGE_KIND,
            signup.recipients,
            subject_for(signup, subject),
            signup,
            body=body,
            greeted=greets(body),
            about=_about(signup, by_session, now),
        )
        for signup in signups
    ]
    for session in sessions:
        told = [signup for signup in signups if _about(signup, by_session, now) is session]
        record(
            "session.organizations_emailed",
            actor=actor,
            session=session,
            subject=subject,
            organizations=len(told),
            waitlist_included=include_waitlist,
        )
    return messages


# The kind of draft (``training.drafts``) staff's message is kept as while previewed.
DRAFT_KIND = "staff_message"


def save_draft(
    member,
    sessions: Sequence[TrainingSession],
    subject: str,
    body: str,
    *,
    include_waitlist: bool,
    now: datetime,
) -> Draft:
    """Keep staff's message as previewed, for its preview page (``draft_of``) to show."""
    return drafts.save_draft(
        DRAFT_KIND,
        {
            "session_ids": [session.id for session in sessions],
            "include_waitlist": include_waitlist,
            "subject": subject,
            "body": body,
        },
        now=now,
        member=member,
    )


def draft_of(member, draft_id: object) -> Draft | None:
    """``member``'s message draft ``draft_id``; None for another's or one that is gone."""
    return drafts.draft_of(DRAFT_KIND, draft_id, member=member)


def draft_session_ids(draft: Draft) -> list[int]:
    """The sessions ticked when ``draft`` was previewed."""
    ids = draft.content.get("session_ids")
    return [value for value in ids if isinstance(value, int)] if isinstance(ids, list) else []


def draft_text(draft: Draft, name: str) -> str:
    """The subject or body (``name``) kept in ``draft``."""
    value = draft.content.get(name)
    return value if isinstance(value, str) else ""


def plain_text(
    signup: Signup, sessions: Sequence[TrainingSession], body: str, now: datetime
) -> str:
    """The plain-text email ``signup`` would get: what the preview shows, exactly."""
    by_session = {session.id: session for session in sessions}
    return render_template(
        f"mail/{MESSAGE_KIND}.txt",
        signup=signup,
        body=_lines(body),
        greeted=greets(body),
        about=_about(signup, by_session, now),
        method=None,
    )


def greets(body: str) -> bool:
    """Whether staff's message opens with a greeting of its own (then the email adds none)."""
    return _OWN_GREETING.match(body.lstrip()) is not None


def _lines(body: str) -> str:
    """The message with LF line ends (a browser sends CRLF)."""
    return "\n".join(body.splitlines())


def _about(
    signup: Signup, by_session: dict[int, TrainingSession], now: datetime
) -> TrainingSession | None:
    """The chosen session a message to ``signup`` is about: its booking, else its first chosen
    date among them still open at ``now`` (a waitlist place)."""
    if signup.is_confirmed:
        return by_session.get(signup.session_id)
    for choice in signup.choices:
        session = by_session.get(choice.session_id)
        if session is not None and session.is_bookable(now):
            return session
    return None
