"""Sessions and their rosters, one layer: scheduling (create, change, cancel, facilitators),
what the roster page shows, staff's actions on a roster, and the staff calendar feed.

Every change that calendars must know of goes out through the same invites as a booking.
"""

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import joinedload, load_only, selectinload

from training.audit.services import record
from training.booking.cutoff import starts_inside_cutoff, waitlist_closed
from training.booking.display import (
    counted,
    format_day,
    format_long_date,
    format_moment,
    possessive,
)
from training.booking.links import hash_token
from training.booking.models import (
    SESSION_CANCELLED,
    SESSION_SCHEDULED,
    SIGNUP_CANCELLED,
    SIGNUP_CONFIRMED,
    SIGNUP_WAITLISTED,
    Program,
    Signup,
    SignupChoice,
    TrainingSession,
    session_length_problem,
    waitlist_line,
)
from training.booking.notices import (
    raise_invite_sequence,
    send_session_update,
    send_waitlist_session_moved,
)
from training.booking.search import signup_matches
from training.booking.services import (
    SIGNUP_SESSION_CANCELLED,
    AlreadySignedUp,
    BookingError,
    SignupDetails,
    book_signup,
    change_session,
    find_active_signup,
    lock_signup,
    promote_waitlist,
    waitlist_lengths,
    where_it_stands,
)
from training.extensions import db
from training.live.services import stop_cancelled_session
from training.mail.models import OutboxMessage
from training.mail.services import requeue_message
from training.rosters import notices
from training.rosters.models import CalendarFeed
from training.signups.services import dismiss_duplicate
from training.staff.models import ROLE_FACILITATOR, StaffMember
from training.staff.models import session_facilitators as session_facilitators_table


class SeatsBelowBooked(BookingError):
    """Fewer seats than organizations already booked on the session."""

    pass


class SameStartTime(BookingError):
    """A scheduled session of the program already starts then; ``session`` is the first."""

    def __init__(self, session: TrainingSession):
        super().__init__(
            f"Session {session.id} ({session.when}) already starts at this time. "
            "To add a second session at the same time, tick “Create it anyway”."
        )
        self.session = session


class NotOnRoster(BookingError):
    """The organization is no longer where the roster showed it: moved, cancelled, booked or
    put back on a waitlist since the page was drawn."""

    def __init__(self, signup: Signup, now: datetime):
        if signup.is_cancelled:
            super().__init__(
                f"{possessive(signup.organization_name)} booking is already cancelled. Nothing "
                "was changed."
            )
            return
        super().__init__(
            f"{signup.organization_name} is no longer where this page showed it: it is "
            f"{where_it_stands(signup, now)}. "
            "Nothing was changed; the roster below shows where things stand now."
        )


def require_on_roster(
    signup: Signup, session: TrainingSession, *, waiting: bool, now: datetime
) -> None:
    """Lock ``signup`` and check that it is still where the roster's button showed it: booked
    on ``session`` or, with ``waiting``, on its waitlist. The organization may have moved,
    cancelled or been booked from the waitlist since the page was drawn, and the action must
    not then fall on its new place (a "Remove from waitlist" on a seat it was just given).

    Raises ``NotOnRoster``.
    """
    lock_signup(signup)
    if waiting:
        if signup.is_waitlisted and any(c.session_id == session.id for c in signup.choices):
            return
    elif signup.is_confirmed and signup.session_id == session.id:
        return
    raise NotOnRoster(signup, now)


class StartsInPast(BookingError):
    """The session would start at or before now: only an admin may put it there, with a
    written reason (``past_reason``)."""

    def __init__(self, starts_at: datetime, zone: ZoneInfo, *, booked: int, admin: bool):
        booked_note = ""
        if booked:
            booked_note = (
                f" {booked} organization{'' if booked == 1 else 's'} "
                f"{'is' if booked == 1 else 'are'} booked on it."
            )
        how = (
            "To put it in the past anyway, tick “Schedule it in the past” and say why; the "
            "audit log keeps your reason and nobody is emailed."
            if admin
            else "Choose a later date or time; only an admin can put a session in the past."
        )
        super().__init__(
            f"This start, {format_moment(starts_at, zone)}, is in the past.{booked_note} {how}"
        )


class OutsideProgramWindow(BookingError):
    """The new start is on a day outside the program's dates (``Program.window_starts_on`` to
    ``window_ends_on``, in its zone)."""

    def __init__(self, starts_at: datetime, program: Program):
        super().__init__(
            f"{format_long_date(starts_at, program.zone)} is outside {program.name}'s dates, "
            f"{format_day(program.window_starts_on)} to {format_day(program.window_ends_on)}. "
            "Choose a day in the program's dates."
        )


class MovedInsideCutoff(BookingError):
    """The new start is inside the change cutoff and organizations are booked on the session:
    they could no longer change their date, only cancel. Staff must confirm it
    (``inside_cutoff_confirmed``)."""

    def __init__(self, starts_at: datetime, zone: ZoneInfo, *, booked: int, hours: int):
        organizations = "1 organization is" if booked == 1 else f"{booked} organizations are"
        super().__init__(
            f"{format_moment(starts_at, zone)} is within {hours} hours, and {organizations} "
            "booked on this session: they could no longer change their date, only cancel. To "
            "move it anyway, tick “Move it inside the cutoff” and save again."
        )


@dataclass(frozen=True)
class SessionDetails:
    """What staff set on a session."""

    starts_at: datetime
    ends_at: datetime
    seats: int
    meeting_url: str | None = None
    dial_in: str | None = None
    passcode: str | None = None


@dataclass(frozen=True)
class Told:
    """Who a change to a session emails: organizations ``booked`` on it, ``waiting`` for it,
    and ``promoted``: booked from its waitlist by the change (more seats, say)."""

    booked: int
    waiting: int = 0
    promoted: int = 0


# Changing any of these sends everyone booked an updated invite.
INVITE_FIELDS = ("starts_at", "ends_at", "meeting_url", "dial_in", "passcode")


def create_session(
    program: Program,
    details: SessionDetails,
    *,
    facilitators: Iterable[StaffMember] = (),
    actor,
    now: datetime,
    same_start_confirmed: bool = False,
    past_reason: str | None = None,
) -> TrainingSession:
    """Add a session to ``program`` and assign its facilitators, as the "New session" form asks.

    Raises ``BookingError`` for a session that ends before it starts or lasts too long
    (``session_length_problem``), ``OutsideProgramWindow``
    for one starting on a day outside the program's dates (the home page would not list it),
    and ``StartsInPast`` for one starting at or before ``now``, unless an admin (``actor``)
    confirmed it with a written ``past_reason``, which the audit log keeps. A second scheduled
    session starting at the same moment is most often the same form sent again (Back, then
    Save, draws a new one-time key): it raises ``SameStartTime`` unless staff confirmed it
    (``same_start_confirmed``).
    """
    if problem := session_length_problem(details.starts_at, details.ends_at):
        raise BookingError(problem)
    _require_in_window(details.starts_at, program)
    past_reason = _past_allowed(details.starts_at, program, now, actor, past_reason, booked=0)
    if not same_start_confirmed:
        same_start = db.session.scalars(
            select(TrainingSession)
            .where(
                TrainingSession.program_id == program.id,
                TrainingSession.starts_at == details.starts_at,
                TrainingSession.status == SESSION_SCHEDULED,
            )
            .order_by(TrainingSession.id)
            .limit(1)
        ).first()
        if same_start is not None:
            raise SameStartTime(same_start)
    session = TrainingSession(program=program, **_columns(details))
    db.session.add(session)
    db.session.flush()
    record("session.created", actor=actor, session=session, **_past_note(past_reason))
    assign_facilitators(session, list(facilitators), actor=actor)
    return session


def update_session(
    session: TrainingSession,
    details: SessionDetails,
    *,
    facilitators: Iterable[StaffMember] | None = None,
    now: datetime,
    actor,
    past_reason: str | None = None,
    inside_cutoff_confirmed: bool = False,
) -> Told:
    """Apply staff's changes, then the ``facilitators`` (None keeps them); returns how many
    organizations were sent an updated invite, how many waiting for it were told that it
    moved (``send_waitlist_session_moved``), and how many were booked from its waitlist into
    seats the change opened (``promote_waitlist``).

    Seats may go down only to the number already booked; the check and the change are one
    UPDATE, so a booking racing the change cannot slip in between (``SeatsBelowBooked``).
    A new start on a day outside the program's dates raises ``OutsideProgramWindow`` (the
    home page would list it); one inside the change cutoff at ``now`` while organizations are
    booked raises ``MovedInsideCutoff`` unless staff confirmed it (``inside_cutoff_confirmed``).
    A new start at or before ``now`` raises ``StartsInPast`` unless an admin (``actor``)
    confirmed it with a written ``past_reason`` (audited). Nobody is emailed about a session
    that has started at ``now`` (an invite for a date gone by helps no one), but its bookings'
    invite SEQUENCE still goes up, as ``send_session_update`` does for every change.
    """
    if session.is_cancelled:
        raise BookingError("This session is cancelled, so it can no longer be changed.")
    if problem := session_length_problem(details.starts_at, details.ends_at):
        raise BookingError(problem)
    if details.starts_at != session.starts_at:
        _require_in_window(details.starts_at, session.program)
        if (
            details.starts_at > now
            and session.seats_booked
            and not inside_cutoff_confirmed
            and starts_inside_cutoff(details.starts_at, now)
        ):
            raise MovedInsideCutoff(
                details.starts_at,
                session.program.zone,
                booked=session.seats_booked,
                hours=current_app.config["CHANGE_CUTOFF_HOURS"],
            )
        past_reason = _past_allowed(
            details.starts_at,
            session.program,
            now,
            actor,
            past_reason,
            booked=session.seats_booked,
        )
    else:
        past_reason = None
    seats_before = session.seats
    lowered = db.session.execute(
        update(TrainingSession)
        .where(TrainingSession.id == session.id, TrainingSession.seats_booked <= details.seats)
        .values(seats=details.seats)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(session, ["seats", "seats_booked"])
    if not lowered:
        raise SeatsBelowBooked(
            f"{counted(session.seats_booked, 'organization')} are booked on this session, so "
            f"it needs at least {counted(session.seats_booked, 'seat')}. Move or cancel "
            "bookings first."
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
    if changed:
        session.sequence += 1
    # Seats are audited with the rest, though a change of seats alone emails no one.
    seats = {"seats": [seats_before, details.seats]} if seats_before != details.seats else {}
    record(
        "session.updated",
        actor=actor,
        session=session,
        changes=changed | seats,
        seats=details.seats,
        **_past_note(past_reason),
    )
    booked = send_session_update(session, before, now=now) if changed else 0
    promoted = promote_waitlist(session, now=now)
    # After the promotions: those booked by them are not told they wait, and the others'
    # places in line are the ones left.
    waiting = send_waitlist_session_moved(session, before, now=now)
    told = Told(booked, waiting, promoted=len(promoted))
    if facilitators is not None:
        assign_facilitators(session, list(facilitators), actor=actor)
    return told


def cancel_session(session: TrainingSession, reason: str, *, now: datetime, actor) -> Told:
    """Cancel a session: everyone booked gets a CANCEL and goes back to its alternates, and its
    waitlist is emptied.

    Each booked organization is put on the waitlist of its other chosen dates and booked at
    once where one has a seat; the others choose another date from their manage link. Each
    organization waiting for the session leaves its waitlist. Once the waitlists are served,
    each organization booked on it or waiting for it is emailed where it stands now: booked
    on another of its dates, waiting for them (its place in line), or waiting for no date (it
    may book one with free seats from its manage link). Nobody is booked on a date inside its
    change cutoff (``promote_waitlist``); the email names those dates and says to write to
    staff. Returns how many organizations were booked on it and waiting for it.
    """
    if session.is_cancelled:
        raise BookingError("This session is already cancelled.")
    if not reason.strip():
        raise BookingError("Say why the session is cancelled; organizations will see it.")
    waiting = db.session.scalars(
        select(Signup)
        .join(SignupChoice, SignupChoice.signup_id == Signup.id)
        .where(SignupChoice.session_id == session.id, Signup.status == SIGNUP_WAITLISTED)
        .order_by(Signup.id)
    ).all()
    session.status = SESSION_CANCELLED
    session.cancellation_reason = reason.strip()
    session.sequence += 1
    db.session.flush()
    stop_cancelled_session(session, actor=actor, now=now)
    booked = db.session.scalars(
        select(Signup)
        .where(Signup.session_id == session.id, Signup.status == SIGNUP_CONFIRMED)
        .order_by(Signup.id)
    ).all()
    for signup in booked:
        # The CANCEL outranks every invite the calendars hold for the date.
        raise_invite_sequence(signup)
        # Each booking's own record: its live page names the date staff cancelled, and why.
        record(
            SIGNUP_SESSION_CANCELLED,
            actor=actor,
            signup=signup,
            session=session,
            reason=session.cancellation_reason,
        )
        signup.status, signup.session = SIGNUP_WAITLISTED, None
    session.seats_booked = 0
    db.session.flush()
    if booked:
        # Back in line for its other dates, at the back of each: it joins their lines now,
        # behind every organization already waiting there.
        db.session.execute(
            update(SignupChoice)
            .where(SignupChoice.signup_id.in_([signup.id for signup in booked]))
            .values(joined_at=now)
            .execution_options(synchronize_session=False)
        )
        for signup in booked:
            db.session.expire(signup, ["choices"])
    drop_cancelled_choices(session.program)
    record(
        "session.cancelled",
        actor=actor,
        session=session,
        reason=reason,
        booked=len(booked),
        waitlisted=len(waiting),
    )
    alternates = {choice.session for signup in [*booked, *waiting] for choice in signup.choices}
    displaced = {signup.id for signup in [*booked, *waiting]}
    for alternate in sorted(alternates, key=lambda s: (s.starts_at, s.id)):
        promote_waitlist(alternate, now=now, cancelled_date=session, displaced=displaced)
    # Written once the waitlists are served, so each says what happened, not what may.
    for signup in booked:
        notices.queue_session_cancelled(signup, session, now=now)
    for signup in waiting:
        notices.queue_waitlist_session_cancelled(signup, session, now=now)
    return Told(len(booked), len(waiting))


def drop_cancelled_choices(program: Program) -> int:
    """Take every waitlisted organization of ``program`` off the waitlists of its cancelled
    sessions (a cancelled session has no waitlist); returns how many places were dropped.

    The other chosen dates keep their order (pages and emails number them from 1 again:
    ``ordinal_choice``).
    """
    cancelled = select(TrainingSession.id).where(
        TrainingSession.program_id == program.id, TrainingSession.status == SESSION_CANCELLED
    )
    waitlisted = select(Signup.id).where(
        Signup.program_id == program.id, Signup.status == SIGNUP_WAITLISTED
    )
    dropped = db.session.execute(
        delete(SignupChoice)
        .where(SignupChoice.session_id.in_(cancelled), SignupChoice.signup_id.in_(waitlisted))
        .execution_options(synchronize_session=False)
    ).rowcount
    if dropped:
        for signup in list(db.session.identity_map.values()):
            if isinstance(signup, Signup):
                db.session.expire(signup, ["choices"])
    return dropped


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
    """The session's facilitators, by email."""
    return list(
        db.session.scalars(
            select(StaffMember)
            .where(StaffMember.sessions.any(TrainingSession.id == session.id))
            .order_by(StaffMember.email)
        )
    )


def _past_allowed(
    starts_at: datetime,
    program: Program,
    now: datetime,
    actor,
    past_reason: str | None,
    *,
    booked: int,
) -> str | None:
    """The reason to keep for a start in the past (None for a start still ahead); raises
    ``StartsInPast`` unless an admin gave one."""
    if starts_at > now:
        return None
    reason = (past_reason or "").strip()
    is_admin = actor is not None and actor.is_admin
    if not (is_admin and reason):
        raise StartsInPast(starts_at, program.zone, booked=booked, admin=is_admin)
    return reason


def _require_in_window(starts_at: datetime, program: Program) -> None:
    """Raise ``OutsideProgramWindow`` for a start on a day outside ``program``'s dates."""
    day = starts_at.astimezone(program.zone).date()
    if not program.window_starts_on <= day <= program.window_ends_on:
        raise OutsideProgramWindow(starts_at, program)


def _past_note(past_reason: str | None) -> dict[str, str]:
    """The audit detail of a session put in the past (none for one still ahead)."""
    return {"past_reason": past_reason} if past_reason is not None else {}


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


def add_signup_by_hand(
    session: TrainingSession,
    details: SignupDetails,
    *,
    submission_key: str,
    join_waitlist: bool,
    now: datetime,
    actor,
    override_reason: str | None = None,
) -> Signup:
    """Book an organization that phoned in on ``session``.

    An organization that already holds a place raises ``AlreadySignedUp`` unless staff give an
    ``override_reason``; a reason given when there is no conflict is not recorded, so the
    signup stays inside the one-per-organization rule. A second place given with a reason is
    a decision already taken: the pair is recorded as reviewed (kept apart, with the reason),
    so the possible duplicates page does not ask about it again.
    """
    existing = find_active_signup(session.program, details.organization_name, details.provider_id)
    reason = (override_reason or "").strip() or None
    if existing is None:
        reason = None
    elif reason is None:
        raise AlreadySignedUp(existing)
    signup, _token = book_signup(
        session.program,
        details,
        [session],
        submission_key=submission_key,
        join_waitlist=join_waitlist,
        now=now,
        actor=actor,
        override_reason=reason,
    )
    if existing is not None and reason is not None:
        dismiss_duplicate(
            existing, signup, note=f"Second place given by staff: {reason}", now=now, actor=actor
        )
    return signup


def promote_signup(signup: Signup, session: TrainingSession, *, now: datetime, actor) -> None:
    """Book a waitlisted organization into ``session`` ahead of its turn."""
    lock_signup(signup)
    if not signup.is_waitlisted:
        raise BookingError(f"{signup.organization_name} is no longer on the waitlist.")
    change_session(signup, session, now=now, actor=actor)


def resend_email(message: OutboxMessage, *, actor, session: TrainingSession | None = None) -> bool:
    """Queue a failed or retrying email again; False if it is no longer waiting for that. The
    audit event names ``session``, the roster it was resent from (the signup's by default)."""
    if not requeue_message(message):
        return False
    record(
        "email.resent",
        actor=actor,
        signup=message.signup,
        session=session,
        subject=message.subject,
    )
    return True


@dataclass(frozen=True)
class SessionSummary:
    """One row of the staff session list."""

    session: TrainingSession
    waitlist_length: int
    facilitators: list[StaffMember]


def list_sessions(program: Program, member: StaffMember, now: datetime) -> list[SessionSummary]:
    """The program's sessions, by start; a facilitator sees only those assigned to them. Only a
    session still to come at ``now`` counts organizations waiting for it."""
    query = (
        select(TrainingSession)
        .where(TrainingSession.program_id == program.id)
        .options(joinedload(TrainingSession.program))
        .order_by(TrainingSession.starts_at, TrainingSession.id)
    )
    if member.role == ROLE_FACILITATOR:
        query = query.where(TrainingSession.id.in_(_assigned_session_ids(member)))
    sessions = db.session.scalars(query).all()
    waitlists = waitlist_lengths(now, TrainingSession.program_id == program.id)
    facilitators = facilitators_by_session([session.id for session in sessions])
    return [
        SessionSummary(session, waitlists.get(session.id, 0), facilitators.get(session.id, []))
        for session in sessions
    ]


def facilitators_by_session(session_ids: list[int]) -> dict[int, list[StaffMember]]:
    """Each session's facilitators, by name, in one query."""
    grouped: dict[int, list[StaffMember]] = {}
    if not session_ids:
        return grouped
    rows = db.session.execute(
        select(session_facilitators_table.c.session_id, StaffMember)
        .join(StaffMember, StaffMember.id == session_facilitators_table.c.staff_member_id)
        .where(session_facilitators_table.c.session_id.in_(session_ids))
        .order_by(StaffMember.name, StaffMember.email)
    ).all()
    for session_id, member in rows:
        grouped.setdefault(session_id, []).append(member)
    return grouped


def facilitator_accounts() -> list[StaffMember]:
    """Accounts that can be assigned to a session: every facilitator, active ones first."""
    return list(
        db.session.scalars(
            select(StaffMember)
            .where(StaffMember.role == ROLE_FACILITATOR)
            .order_by(StaffMember.is_disabled, StaffMember.name, StaffMember.email)
        )
    )


def may_read_roster(member: StaffMember, session: TrainingSession) -> bool:
    """Admins and staff read every roster; a facilitator only those of their sessions."""
    if member.can_manage:
        return True
    if member.role != ROLE_FACILITATOR:
        return False
    return (
        db.session.scalar(
            select(func.count())
            .select_from(session_facilitators_table)
            .where(
                session_facilitators_table.c.session_id == session.id,
                session_facilitators_table.c.staff_member_id == member.id,
            )
        )
        > 0
    )


@dataclass(frozen=True)
class Roster:
    """Everything a session's roster page and exports show, loaded in a fixed few queries."""

    session: TrainingSession
    booked: list[Signup]
    # Waitlisted organizations that chose the session, in line order; once it has begun
    # (has_begun), no seat will come to them from it and they are not counted as waiting.
    waitlist: list[Signup]
    emails: dict[int, list[OutboxMessage]]
    facilitators: list[StaffMember]
    has_begun: bool
    # Where it is in time, said after "the session": "is under way", "has taken place"
    # (``TrainingSession.timing_said``).
    timing_said: str
    # Inside the change cutoff: nobody is booked from the waitlist automatically, only by hand
    # (``waitlist_figure`` says so wherever staff read its length).
    is_waitlist_closed: bool


# The roster shows each signup's latest few emails: enough to see a failure without the history.
EMAILS_PER_SIGNUP = 3


def load_roster(session: TrainingSession, now: datetime) -> Roster:
    """The organizations booked on ``session``, its waitlist in order, and their latest emails.

    A cancelled session has no waitlist; once it has begun at ``now`` (under way, then ended)
    its waitlist gives no seat.
    """
    signup_details = (
        selectinload(Signup.attendees),
        selectinload(Signup.choices).joinedload(SignupChoice.session),
    )
    booked = db.session.scalars(
        select(Signup)
        .where(Signup.session_id == session.id, Signup.status == SIGNUP_CONFIRMED)
        .options(*signup_details)
        .order_by(func.lower(Signup.organization_name), Signup.id)
    ).all()
    # The order promote_waitlist gives freed seats in.
    waitlist = (
        []
        if session.is_cancelled
        else db.session.scalars(waitlist_line(session.id).options(*signup_details)).all()
    )
    return Roster(
        session=session,
        booked=list(booked),
        waitlist=list(waitlist),
        emails=latest_emails(session),
        facilitators=facilitators_by_session([session.id]).get(session.id, []),
        has_begun=session.has_started(now),
        timing_said=session.timing_said(now),
        is_waitlist_closed=waitlist_closed(session, now) == "cutoff",
    )


def latest_emails(session: TrainingSession) -> dict[int, list[OutboxMessage]]:
    """The latest emails of each signup booked on or waiting for ``session``, newest first, each
    with its recipients' delivery states (``deliveries``)."""
    on_roster = (
        select(Signup.id)
        .where(Signup.session_id == session.id, Signup.status == SIGNUP_CONFIRMED)
        .union(
            select(SignupChoice.signup_id)
            .join(Signup, Signup.id == SignupChoice.signup_id)
            .where(SignupChoice.session_id == session.id, Signup.status == SIGNUP_WAITLISTED)
        )
    )
    newest_first = (
        select(
            OutboxMessage.id,
            func.row_number()
            .over(partition_by=OutboxMessage.signup_id, order_by=OutboxMessage.id.desc())
            .label("newest"),
        )
        .where(OutboxMessage.signup_id.in_(on_roster))
        .subquery()
    )
    messages = (
        db.session.scalars(
            select(OutboxMessage)
            .join(newest_first, newest_first.c.id == OutboxMessage.id)
            .where(newest_first.c.newest <= EMAILS_PER_SIGNUP)
            # The bodies and invites are large and the roster never shows them.
            .options(
                load_only(
                    OutboxMessage.id,
                    OutboxMessage.signup_id,
                    OutboxMessage.kind,
                    OutboxMessage.subject,
                    OutboxMessage.status,
                    OutboxMessage.attempts,
                    OutboxMessage.last_error,
                    OutboxMessage.created_at,
                    OutboxMessage.sent_at,
                ),
                # In the same query: the roster's cost does not grow with its emails.
                joinedload(OutboxMessage.deliveries),
            )
            .order_by(OutboxMessage.id.desc())
        )
        .unique()
        .all()
    )
    grouped: dict[int, list[OutboxMessage]] = {}
    for message in messages:
        grouped.setdefault(message.signup_id, []).append(message)
    return grouped


def move_targets(session: TrainingSession, now: datetime) -> list[TrainingSession]:
    """The program's other sessions a signup can be moved to: not started, with a seat."""
    return list(
        db.session.scalars(
            select(TrainingSession)
            .where(
                TrainingSession.program_id == session.program_id,
                TrainingSession.id != session.id,
                TrainingSession.status == SESSION_SCHEDULED,
                ~TrainingSession.has_started(now),
                TrainingSession.seats_booked < TrainingSession.seats,
            )
            .options(joinedload(TrainingSession.program))
            .order_by(TrainingSession.starts_at, TrainingSession.id)
        )
    )


def matching_signups(program_id: int, text: str) -> dict[int, str] | None:
    """The active signups of the program that ``text`` finds (``signup_matches``: organization,
    contact or attendee), as id: organization name; None when ``text`` is empty (no filter)."""
    matches = signup_matches(text)
    if matches is None:
        return None
    rows = db.session.execute(
        select(Signup.id, Signup.organization_name).where(
            Signup.program_id == program_id, Signup.status != SIGNUP_CANCELLED, matches
        )
    ).all()
    return dict(rows)


def matches_by_session(program_id: int, text: str) -> dict[int, list[str]] | None:
    """For each session of the program, the names of the organizations ``text`` finds
    (``matching_signups``) booked on it or waiting for it, sorted; None when ``text`` is empty
    (no filter)."""
    matches = matching_signups(program_id, text)
    if matches is None:
        return None
    return {
        session_id: sorted(matches[signup_id] for signup_id in signup_ids)
        for session_id, signup_ids in _sessions_of_signups(matches).items()
    }


def _sessions_of_signups(signup_ids) -> dict[int, set[int]]:
    """For each session id, which of ``signup_ids`` are booked on it or waiting for it."""
    found: dict[int, set[int]] = {}
    booked = db.session.execute(
        select(Signup.session_id, Signup.id).where(
            Signup.id.in_(signup_ids), Signup.status == SIGNUP_CONFIRMED
        )
    )
    waiting = db.session.execute(
        select(SignupChoice.session_id, Signup.id)
        .join(Signup, SignupChoice.signup_id == Signup.id)
        .where(Signup.id.in_(signup_ids), Signup.status == SIGNUP_WAITLISTED)
    )
    for session_id, signup_id in [*booked, *waiting]:
        found.setdefault(session_id, set()).add(signup_id)
    return found


def rotate_calendar_feed(*, actor) -> str:
    """Replace the staff calendar feed's secret address; returns the new token.

    Only the token's SHA-256 is kept, so the address can be shown only now; the old one stops
    working at once.
    """
    db.session.execute(delete(CalendarFeed))
    token = secrets.token_urlsafe(32)
    db.session.add(
        CalendarFeed(token_hash=hash_token(token), created_by_id=actor.id if actor else None)
    )
    db.session.flush()
    record("calendar_feed.rotated", actor=actor)
    return token


def current_calendar_feed() -> CalendarFeed | None:
    """The feed in use, if one was created (there is at most one)."""
    return db.session.scalars(select(CalendarFeed).order_by(CalendarFeed.id.desc())).first()


def calendar_feed_for_token(token: str) -> CalendarFeed | None:
    """The feed this secret opens, or None for an unknown or rotated one."""
    return db.session.scalars(
        select(CalendarFeed).where(CalendarFeed.token_hash == hash_token(token))
    ).first()


def feed_sessions() -> tuple[list[TrainingSession], dict[int, list[StaffMember]]]:
    """Every program's sessions, scheduled and cancelled, with their facilitators."""
    sessions = list(
        db.session.scalars(
            select(TrainingSession)
            .options(joinedload(TrainingSession.program))
            .order_by(TrainingSession.starts_at, TrainingSession.id)
        )
    )
    return sessions, facilitators_by_session([session.id for session in sessions])


def _assigned_session_ids(member: StaffMember):
    return select(session_facilitators_table.c.session_id).where(
        session_facilitators_table.c.staff_member_id == member.id
    )
