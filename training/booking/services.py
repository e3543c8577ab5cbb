"""Booking rules: signing up, the waitlist, changing dates, cancelling and manage links.

Services flush and raise; the request or CLI command that called them commits.
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from flask import current_app, g, has_request_context
from sqlalchemy import (
    ColumnElement,
    Insert,
    Integer,
    Select,
    String,
    Table,
    TextualSelect,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, make_transient_to_detached

from training.audit.models import AuditEvent
from training.audit.services import PUBLIC_ACTOR, SYSTEM_ACTOR, event_values, record
from training.booking import notices
from training.booking.cutoff import (
    can_wait_for,
    is_inside_cutoff,
    no_seat_in_time,
    waitlist_closed,
)
from training.booking.cutoff import changes_close_at as _changes_close_at
from training.booking.display import format_long_date, format_moment, possessive
from training.booking.links import (
    hash_token,
    issue_manage_link,
    new_manage_token,
    revoke_manage_links,
)
from training.booking.models import (
    SESSION_SCHEDULED,
    SIGNUP_CANCELLED,
    SIGNUP_CONFIRMED,
    SIGNUP_STATUS_LABELS,
    SIGNUP_WAITLISTED,
    TIMING_SAID,
    WAITS_FOR_NO_DATE_LABEL,
    Attendee,
    ManageLink,
    Program,
    Signup,
    SignupChoice,
    TrainingSession,
    waitlist_line,
)
from training.booking.names import organization_key
from training.constraints import unique_or
from training.database import column_parameters
from training.errors import Refused
from training.extensions import db, utcnow
from training.mail.services import mailbox_key, one_per_mailbox

# A manage link can be re-sent this often; more often, the request is quietly ignored.
RESEND_INTERVAL = timedelta(minutes=10)
# The audit action of a booking whose session staff cancelled (``cancel_session``).
SIGNUP_SESSION_CANCELLED = "signup.session_cancelled"


class BookingError(Refused):
    """A booking rule refused the change; the message says why, in words for the person."""


class SignupsClosed(BookingError):
    """Signups for the program are not open at this moment."""

    pass


class SessionUnavailable(BookingError):
    """The session is cancelled or has started, or it is another program's."""

    pass


class SessionFull(BookingError):
    """No seat is left on the session (``session``), nor on any of ``others`` chosen with it.

    ``chosen_when_full``: the dates were chosen from a form that offers full dates (the signup
    form, "(full: waitlist)"), so the refusal does not say the date "has just filled" (it may
    have been full all along) and points to the waitlist box; a date offered only while it had a
    seat (a change of date, a reinstatement) "has just filled". ``no_waitlist``: those of them
    inside their change cutoff, whose waitlist the box would not join (named so). ``by_staff``:
    staff adding a signup by hand to ``session``, whose form has no other date to choose.
    """

    def __init__(
        self,
        session: TrainingSession,
        *others: TrainingSession,
        chosen_when_full: bool = False,
        no_waitlist: tuple[TrainingSession, ...] = (),
        by_staff: bool = False,
    ):
        if others:
            dates = "; ".join(chosen.when for chosen in (session, *others))
            message = (
                f"Every date you chose is full ({dates}). Choose another date, or tick the "
                "waitlist box to wait for a seat"
            )
            if no_waitlist:
                # Ticking the box waits only for the others: say which (``NoSeatInTime``).
                waitable = [c.when for c in (session, *others) if c not in no_waitlist]
                closed = "; ".join(chosen.when for chosen in no_waitlist)
                message += (
                    f" on {'; '.join(waitable)} ({closed} {no_seat_in_time()})"
                    if len(no_waitlist) == 1
                    else f" on {'; '.join(waitable)} ({closed}: each {no_seat_in_time()})"
                )
            message += "."
        elif by_staff:
            message = (
                f"{session.when} is full: tick “If the session is full, put them on its "
                "waitlist” to add them to its waitlist, or add them from the roster of a session "
                "with a seat."
            )
        elif chosen_when_full:
            message = (
                f"{session.when} is full: choose another date, or tick the waitlist box to wait "
                "for a seat."
            )
        else:
            message = f"{session.when} has just filled: choose another date."
        super().__init__(message)
        self.session = session


def session_unavailable(session: TrainingSession, now: datetime) -> SessionUnavailable:
    """The refusal for a ``session`` that is not bookable at ``now``, saying why: cancelled,
    over ("has already taken place") or under way ("has started")."""
    if session.is_cancelled:
        why = "was cancelled"
    elif session.has_ended(now):
        why = "has already taken place"
    else:
        why = "has started"
    return SessionUnavailable(f"{session.when} {why}: choose another date.")


class NoSeatInTime(BookingError):
    """Every date chosen to wait for is full and inside its change cutoff: no seat can come
    from its waitlist (``promote_waitlist``), so the organization is not put on it."""

    def __init__(self, sessions: list[TrainingSession], *, by_staff: bool = False):
        dates = "; ".join(session.when for session in sessions)
        if by_staff:  # staff add to one session, on a form with no other date to choose
            hours = current_app.config["CHANGE_CUTOFF_HOURS"]
            message = (
                f"{dates} is full and starts within {hours} hours: no seat can come from its "
                "waitlist in time. Raise its seats to add them, or add them from the roster of "
                "another session."
            )
        elif len(sessions) == 1:
            message = (
                f"{dates} is full and {no_seat_in_time()}. Choose a date that still has seats, "
                "or a full date further ahead to wait for."
            )
        else:
            message = (
                f"Every date you chose is full ({dates}), and each {no_seat_in_time()}. Choose "
                "a date that still has seats, or a full date further ahead to wait for."
            )
        super().__init__(message)
        self.sessions = sessions


def signup_date_refusal(session: TrainingSession | None, now: datetime) -> BookingError | None:
    """Why ``session`` cannot be an organization's date on the signup form at ``now``: not
    found (None: a link's date that is no date of the program, or not a number), not bookable
    (``session_unavailable``), or full with a waitlist that can give no seat in time
    (``NoSeatInTime``). None while it can be booked or waited for; what a link to it
    (``/signup?session=ID``) preselects, or says instead."""
    if session is None:
        return SessionUnavailable(
            "We could not find the date in the link you followed: choose a date below."
        )
    if not session.is_bookable(now):
        return session_unavailable(session, now)
    if session.is_full and not can_wait_for(session, now):
        return NoSeatInTime([session])
    return None


class AlreadySignedUp(BookingError):
    """The organization already holds a place in the program (``signup``)."""

    def __init__(self, signup: Signup):
        super().__init__("This organization has already signed up.")
        self.signup = signup


class ChangesClosed(BookingError):
    """The organization may no longer change this booking."""

    pass


class ProviderIdTaken(BookingError):
    """Another organization's active signup holds this ACCME provider ID."""

    def __init__(self):
        super().__init__(
            "Another organization has signed up with this ACCME provider ID. Check the 7 digits, "
            "or leave it blank if you are not sure."
        )


class ContactsChangedMeanwhile(BookingError):
    """Another request saved the same attendee at the same moment."""

    def __init__(self):
        super().__init__(
            "These contacts were changed somewhere else at the same moment. Check them below and "
            "save again."
        )


@dataclass(frozen=True)
class SignupDetails:
    """What an organization tells us about itself on the signup form."""

    organization_name: str
    contact_name: str
    contact_email: str
    provider_id: str | None = None
    contact_phone: str | None = None
    attendee_emails: tuple[str, ...] = ()


def current_program() -> Program | None:
    """The program shown on the home page: the one whose session window ends last, with its
    sessions, in one statement; looked up once per request (kept on ``flask.g``), or once per
    call outside a request."""
    if has_request_context() and "current_program" in g:
        return g.current_program
    program = db.session.scalars(_current_program_statement()).unique().first()
    if has_request_context():
        g.current_program = program
    return program


@cache
def _current_program_statement() -> Select:
    """``current_program``'s SELECT, built once: nearly every page asks for it."""
    return (
        select(Program)
        .options(joinedload(Program.sessions))
        .order_by(Program.window_ends_on.desc(), Program.id.desc())
        .limit(1)
    )


def find_active_signup(
    program: Program, organization_name: str, provider_id: str | None
) -> Signup | None:
    """The organization's confirmed or waitlisted signup, matched by name or provider ID."""
    same_organization = Signup.organization_key == organization_key(organization_name)
    if provider_id:
        same_organization = or_(same_organization, Signup.provider_id == provider_id)
    return db.session.scalars(
        select(Signup)
        .where(Signup.program_id == program.id, Signup.status != SIGNUP_CANCELLED)
        .where(same_organization)
        .order_by(Signup.id)
        .limit(1)
    ).first()


def find_signup_by_submission(submission_key: str) -> Signup | None:
    """The signup made by the form sent with ``submission_key``, if any."""
    return db.session.scalars(
        select(Signup).where(Signup.submission_key_hash == hash_token(submission_key))
    ).first()


@dataclass(frozen=True)
class WaitlistPlace:
    """One of a waitlisted organization's chosen dates, and where it stands on it."""

    session: TrainingSession
    # 1 = first in line; None once no seat can come from it (``closed`` says why).
    position: int | None
    # ``cutoff.waitlist_closed``: "cancelled", "under_way", "ended", "cutoff", or None.
    closed: str | None = None

    @property
    def is_waiting(self) -> bool:
        """Whether a seat can still come from it (the session is not inside its cutoff)."""
        return self.position is not None

    @property
    def why_closed(self) -> str | None:
        """Why no seat will come from it, as the manage page and the emails say after its
        date: "this session is under way, so no seat will come from it" (or "has taken
        place", ``TrainingSession.timing_said``), "starts within 24 hours: seats are no longer
        given from its waitlist"; None while it still waits."""
        if self.closed is None:
            return None
        if self.closed == "cutoff":
            hours = current_app.config["CHANGE_CUTOFF_HOURS"]
            return f"starts within {hours} hours: seats are no longer given from its waitlist"
        said = "was cancelled" if self.closed == "cancelled" else TIMING_SAID[self.closed]
        return f"this session {said}, so no seat will come from it"


def waitlist_places(signup: Signup, now: datetime) -> list[WaitlistPlace]:
    """``signup``'s chosen dates in its order, each with its place in line; a date no seat
    can come from at ``now`` (``cutoff.waitlist_closed``: under way or ended, or inside its
    change cutoff, where nobody is promoted) has no place."""
    if not signup.is_waitlisted:
        return []
    places = []
    for session in signup.chosen_sessions:
        closed = waitlist_closed(session, now)
        position = waitlist_position(signup, session) if closed is None else None
        places.append(WaitlistPlace(session, position, closed))
    return places


def dates_waited_for(signup: Signup, now: datetime) -> list[TrainingSession]:
    """The dates a waitlisted ``signup`` is still in line for at ``now``, first choice first:
    those a seat can still come from (``cutoff.can_wait_for``). Empty when it waits for none;
    ``not_waiting_reason`` says why. Reads no more than the signup's choices."""
    if not signup.is_waitlisted:
        return []
    return [session for session in signup.chosen_sessions if can_wait_for(session, now)]


def status_label(signup: Signup, now: datetime) -> str:
    """``signup``'s status at ``now`` as pages and exports name it (``SIGNUP_STATUS_LABELS``),
    or "Not waiting for any date" for a waitlisted signup that waits for no date
    (``dates_waited_for``)."""
    if signup.is_waitlisted and not dates_waited_for(signup, now):
        return WAITS_FOR_NO_DATE_LABEL
    return SIGNUP_STATUS_LABELS[signup.status]


def waitlist_lengths(now: datetime, *conditions: ColumnElement[bool]) -> dict[int, int]:
    """How many organizations are in line for each scheduled session not started at ``now``
    (those meeting ``conditions``), by session id: the one count the staff's sessions list,
    dashboard and roster show, read with ``waitlist_figure``."""
    return dict(
        db.session.execute(
            select(SignupChoice.session_id, func.count(Signup.id))
            .join(Signup, Signup.id == SignupChoice.signup_id)
            .join(TrainingSession, TrainingSession.id == SignupChoice.session_id)
            .where(
                Signup.status == SIGNUP_WAITLISTED,
                TrainingSession.status == SESSION_SCHEDULED,
                ~TrainingSession.has_started(now),
                *conditions,
            )
            .group_by(SignupChoice.session_id)
        ).all()
    )


def waitlist_figure(session: TrainingSession, in_line: int, now: datetime) -> str:
    """What staff read of ``session``'s waitlist at ``now`` (``cutoff.waitlist_closed``): how
    many are in line while a seat can come from it; "None" once it is cancelled or has
    started; inside the change cutoff, that it is closed (nobody is booked from it
    automatically, only by hand from the roster) and how many are still in line."""
    why = waitlist_closed(session, now)
    if why is None:
        return str(in_line)
    if why != "cutoff":
        return "None"
    return closed_waitlist_figure(in_line)


def closed_waitlist_figure(in_line: int) -> str:
    """The one wording of a waitlist closed by the change cutoff with ``in_line`` organizations
    still in it (a count, never a place: a place reads "number N in line"), wherever staff read
    it: sessions list, dashboard, roster, its print view and export."""
    hours = current_app.config["CHANGE_CUTOFF_HOURS"]
    closed = f"Closed: starts within {hours} hours"
    if not in_line:
        return closed
    organizations = "1 organization" if in_line == 1 else f"{in_line} organizations"
    return f"{closed} ({organizations} in line, to book by hand)"


def not_waiting_reason(signup: Signup, now: datetime, *, chooser: str = "you") -> str | None:
    """Why a waitlisted ``signup`` waits for no date at ``now``, said after "not waiting for
    any date:" (``chooser`` is who chose the dates: "you", "it"); None when it still waits
    for one, or is not on the waitlist. The one wording of every page that says so: staff
    cancelled its session, its dates have started or taken place, or they start inside the
    change cutoff, where seats are no longer given from a waitlist."""
    if not signup.is_waitlisted or dates_waited_for(signup, now):
        return None
    if signup.lost_its_dates_to_cancellation:
        return f"our staff cancelled the session {chooser} chose"
    sessions = signup.chosen_sessions
    closed = {waitlist_closed(session, now) for session in sessions}
    hours = current_app.config["CHANGE_CUTOFF_HOURS"]
    one = len(sessions) == 1
    dates = f"the date {chooser} chose" if one else f"the dates {chooser} chose"
    if closed == {"cutoff"}:
        return (
            f"{dates} {'starts' if one else 'start'} within {hours} hours: seats are no longer "
            f"given from {'its waitlist' if one else 'their waitlists'}"
        )
    if "cutoff" in closed:
        return (
            f"{dates} have started or start within {hours} hours: seats are no longer given "
            "from their waitlists"
        )
    if all(session.has_ended(now) for session in sessions):
        return f"{dates} {'has' if one else 'have'} taken place"
    return f"{dates} {'has' if one else 'have'} started"


def where_it_stands(signup: Signup, now: datetime) -> str:
    """Where ``signup`` stands at ``now``, as said after "it is": "booked on Tue, Dec 8, …",
    "on the waitlist for Tue, Dec 8, …; Wed, Dec 9, …", "not waiting for any date (the date
    it chose has taken place)" (``not_waiting_reason``), or "cancelled"."""
    if signup.is_cancelled:
        return "cancelled"
    if signup.is_confirmed:
        return f"booked on {signup.session.when}"
    dates = dates_waited_for(signup, now)
    if not dates:
        return f"not waiting for any date ({not_waiting_reason(signup, now, chooser='it')})"
    return "on the waitlist for " + "; ".join(session.when for session in dates)


def session_cancelled_under(signup: Signup) -> TrainingSession | None:
    """The session staff last cancelled while ``signup`` was booked on it, if any; its
    ``cancellation_reason`` is what staff said."""
    session_id = db.session.scalar(
        select(AuditEvent.session_id)
        .where(
            AuditEvent.signup_id == signup.id,
            AuditEvent.action == SIGNUP_SESSION_CANCELLED,
        )
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    session = db.session.get(TrainingSession, session_id) if session_id is not None else None
    return session if session is not None and session.is_cancelled else None


# The audit actions that put a booking on its session: the last one says how it got there.
_BOOKED_ACTIONS = (
    "signup.created",
    "signup.moved",
    "signup.booked_from_waitlist",
    "signup.promoted",
    "signup.reinstated",
)


def _booking_event(signup: Signup):
    """The audit event (action, actor, details, created_at) that put ``signup`` on its
    session, the latest of ``_BOOKED_ACTIONS``, or None."""
    return db.session.execute(
        select(AuditEvent.action, AuditEvent.actor, AuditEvent.details, AuditEvent.created_at)
        .where(
            AuditEvent.signup_id == signup.id,
            AuditEvent.session_id == signup.session_id,
            AuditEvent.action.in_(_BOOKED_ACTIONS),
        )
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).first()


# What staff did that put a booking on a date inside its change cutoff, said after "the
# training staff" on the manage page (``ChangeWindow.staff_booked_inside_cutoff``).
_STAFF_BOOKED = {
    "signup.moved": "moved your booking to this date",
    "signup.booked_from_waitlist": "booked you on this date from the waitlist",
    "signup.reinstated": "gave you back your booking",
}


def how_it_was_booked(signup: Signup) -> str | None:
    """How a booked ``signup`` came to hold its date, as a sentence for its confirmation page,
    or None when it is simply the date it chose first. Read from the audit event that put it
    there (``_BOOKED_ACTIONS``): the facts its booking email was written from (staff or the
    organization moved it, a seat opened up on a date it waited for, its date was cancelled
    and another it chose had a seat, staff undid a cancellation, or its first choice was full
    when it signed up)."""
    if not signup.is_confirmed:
        return None
    event = _booking_event(signup)
    if event is None:
        return None
    # Staff's email stays in ``actor`` after their account is removed (``actor_id`` is then
    # emptied); the organization acts as the public.
    by_staff = event.actor != PUBLIC_ACTOR
    details = event.details or {}
    zone = signup.program.zone
    if event.action == "signup.moved":
        if by_staff:
            return f"The training staff changed your training date (it was {details['old']})."
        return f"You changed your training date (it was {details['old']})."
    if event.action == "signup.booked_from_waitlist":
        return notices.STAFF_BOOKED_FROM_WAITLIST if by_staff else notices.OWN_BOOKING_FROM_WAITLIST
    if event.action == "signup.promoted":
        if details.get("cancelled_date"):
            return (
                f"{details['cancelled_date']} was cancelled, so we booked you on another date "
                "you chose."
            )
        return (
            "A seat opened up: we booked you from the waitlist on "
            f"{format_long_date(event.created_at, zone)}."
        )
    if event.action == "signup.reinstated":
        return "The training staff gave you back your booking."
    if signup.choices and signup.session_id != signup.choices[0].session_id:
        return notices.FIRST_CHOICE_FULL
    if by_staff:
        return notices.STAFF_SIGNED_UP
    return None


def waitlist_position(signup: Signup, session: TrainingSession) -> int:
    """1 for the organization first in line for ``session``: how many stand ahead of it in
    ``waitlist_line``'s order (joined that date's line earlier, or at the same moment with an
    earlier signup), plus one."""
    joined_at = next(c.joined_at for c in signup.choices if c.session_id == session.id)
    ahead = db.session.scalar(
        select(func.count(Signup.id))
        .join(SignupChoice)
        .where(
            SignupChoice.session_id == session.id,
            Signup.status == SIGNUP_WAITLISTED,
            or_(
                SignupChoice.joined_at < joined_at,
                and_(SignupChoice.joined_at == joined_at, Signup.id < signup.id),
            ),
        )
    )
    return ahead + 1


def book_signup(
    program: Program,
    details: SignupDetails,
    ranked_sessions: list[TrainingSession],
    *,
    submission_key: str,
    join_waitlist: bool,
    now: datetime,
    manage_token: str | None = None,
    actor=None,
    override_reason: str | None = None,
) -> tuple[Signup, str]:
    """Sign an organization up for its first choice with a seat, or put it on the waitlist.

    ``ranked_sessions`` holds the first choice, then up to two alternates. ``submission_key``
    names the form that asks (its submission identity: one-time key and content); only its
    SHA-256 is kept. Returns the signup and its manage link token: ``manage_token`` when
    given (256 bits, made by the caller), else a random one. Raises ``SignupsClosed``,
    ``SessionUnavailable``, ``AlreadySignedUp``, ``SessionFull`` (no seat and
    ``join_waitlist`` is false) or ``NoSeatInTime`` (no seat, and every date chosen is inside
    its change cutoff, so none would come from its waitlist).

    Staff (``actor``) may add a signup outside the signup dates, and may book an organization
    that already holds a place only with an ``override_reason``, which is recorded.

    ``AlreadySignedUp`` raised when the signup's own insert meets another request's signup
    (the same organization committed meanwhile) comes after a rollback of the caller's whole
    transaction, as the refusal's edge would do; every other refusal leaves it to the caller.
    """
    if actor is None:
        _require_signups_open(program, now)
    for session in ranked_sessions:
        if session.program_id != program.id:
            raise SessionUnavailable(f"{session.when} is not a date of {program.name}.")
        if not session.is_bookable(now):
            raise session_unavailable(session, now)
    if actor is not None:
        existing = find_active_signup(program, details.organization_name, details.provider_id)
        if existing is not None and not override_reason:
            raise AlreadySignedUp(existing)
    # A public signup is not looked up first: the unique indexes on active signups (one per
    # organization key, one per provider ID) refuse a second place at the INSERT below, and
    # the refusal finds the first then. One SELECT fewer on every signup.

    signup = Signup(
        program=program,
        organization_name=details.organization_name,
        organization_key=organization_key(details.organization_name),
        attestation_text=program.attestation_text,
        attested_at=now,
        submission_key_hash=hash_token(submission_key),
        override_reason=override_reason if actor is not None else None,
        choices=[
            SignupChoice(rank=rank, session_id=session.id, session=session, joined_at=now)
            for rank, session in enumerate(ranked_sessions, start=1)
        ],
    )
    _apply_details(signup, details)
    token = manage_token or new_manage_token()
    link_hash = hash_token(token)
    try:
        # PostgreSQL: the first choice's seat is claimed by the statement that writes the
        # signup, which writes nothing when no seat is left; then it goes on as on SQLite.
        first_tried = db.session.get_bind().dialect.name == "postgresql"
        if not (
            first_tried and _insert_booked_signup(signup, ranked_sessions, actor, now, link_hash)
        ):
            _book_or_waitlist(
                signup,
                ranked_sessions[1:] if first_tried else ranked_sessions,
                ranked_sessions,
                actor=actor,
                now=now,
                link_hash=link_hash,
                join_waitlist=join_waitlist,
                details=details,
            )
    except IntegrityError:
        # Another request for the same organization committed first (the unique indexes wait
        # for it). Its refusal rolls back all this request wrote, as ``carry_out`` would; done
        # here, no savepoint is needed around the signup's statements.
        db.session.rollback()
        existing = find_active_signup(
            program, details.organization_name, details.provider_id
        ) or find_signup_by_submission(submission_key)
        if existing is None:
            raise
        raise AlreadySignedUp(existing) from None
    _queue_welcome(signup, token, now, by_staff=actor is not None)
    return signup, token


def _insert_booked_signup(
    signup: Signup, ranked_sessions: list[TrainingSession], actor, now: datetime, link_hash: str
) -> bool:
    """PostgreSQL: write ``signup`` booked on its first choice, the seat claimed by the same
    statement (``_new_signup_statement(with_seat=True)``); False, with nothing written, when
    that session has no seat left. One round trip fewer for a first choice with a seat, the
    usual case."""
    first = ranked_sessions[0]
    signup.status, signup.session, signup.confirmed_at = SIGNUP_CONFIRMED, first, now
    booked = _insert_signup(
        signup,
        event=_created_event(signup, ranked_sessions, actor),
        link_hash=link_hash,
        seat=first,
    )
    db.session.expire(first, ["seats_booked"])
    return booked


def _book_or_waitlist(
    signup: Signup,
    untried: list[TrainingSession],
    ranked_sessions: list[TrainingSession],
    *,
    actor,
    now: datetime,
    link_hash: str,
    join_waitlist: bool,
    details: SignupDetails,
) -> None:
    """Claim the first seat left among the ``untried`` choices of ``ranked_sessions``, else put
    ``signup`` on the waitlist, and write it; raise ``AlreadySignedUp`` or ``SessionFull`` when
    no seat is left and the waitlist is not wanted."""
    booked = next((session for session in untried if _claim_seat(session)), None)
    # A waitlist place no seat can come from would be a promise never kept.
    waitable = any(can_wait_for(session, now) for session in ranked_sessions)
    if booked is None and not (join_waitlist and waitable):
        # Holding a place already says more than a full session (and was checked first).
        if actor is None and (
            existing := find_active_signup(
                signup.program, details.organization_name, details.provider_id
            )
        ):
            raise AlreadySignedUp(existing)
        if not waitable:  # ticking the waitlist box would not help
            raise NoSeatInTime(ranked_sessions, by_staff=actor is not None)
        raise SessionFull(
            *ranked_sessions,
            chosen_when_full=True,
            no_waitlist=tuple(s for s in ranked_sessions if not can_wait_for(s, now)),
            by_staff=actor is not None,
        )
    if booked is None:
        signup.status, signup.session, signup.confirmed_at = SIGNUP_WAITLISTED, None, None
    else:
        signup.status, signup.session, signup.confirmed_at = SIGNUP_CONFIRMED, booked, now
    _insert_signup(
        signup, event=_created_event(signup, ranked_sessions, actor), link_hash=link_hash
    )


def _created_event(signup: Signup, ranked_sessions: list[TrainingSession], actor) -> dict:
    """The values of a new signup's audit event (``event_values``): it names the session it
    is booked on, or the one date it waits for (staff adding it to a roster's waitlist)."""
    only_date = ranked_sessions[0] if len(ranked_sessions) == 1 else None
    return event_values(
        "signup.created",
        actor=actor,
        signup=signup,
        session=signup.session or only_date,
        status=signup.status,
        choices=[session.when for session in ranked_sessions],
        override_reason=signup.override_reason,
    )


def _insert_signup(
    signup: Signup, *, event: dict, link_hash: str, seat: TrainingSession | None = None
) -> bool:
    """Write a new ``signup`` with its attendees and choices, its audit ``event`` (the values
    of ``event_values``) and its manage link (the token's hash), and make the signup,
    attendees and choices persistent in the session as written, without reading them back.

    On PostgreSQL one statement writes the five tables (``_new_signup_statement``); on SQLite,
    one statement per table. The ORM's flush of the same rows sent five statements on
    PostgreSQL and cost about three times the CPU. With ``seat`` (PostgreSQL only), the same
    statement first claims a seat of that session and writes the rest only if it did; returns
    whether the signup was written.
    """
    signup.program_id = signup.program.id
    signup.session_id = signup.session.id if signup.session is not None else None
    row = _column_values(signup)
    link = {"token_hash": link_hash, "created_at": utcnow(), "revoked_at": None}
    tables = _NewSignupTables()
    if db.session.get_bind().dialect.name == "postgresql":
        found = db.session.execute(
            _new_signup_statement(with_seat=seat is not None),
            {
                **row,
                **({"seat_session_id": seat.id} if seat is not None else {}),
                "attendee_emails": [attendee.email for attendee in signup.attendees],
                "attendee_positions": [attendee.position for attendee in signup.attendees],
                "choice_ranks": [choice.rank for choice in signup.choices],
                "choice_sessions": [choice.session_id for choice in signup.choices],
                # A new signup joins each chosen date's line at the same moment.
                "choice_joined_at": signup.choices[0].joined_at if signup.choices else None,
                **{f"event_{key}": value for key, value in event.items() if key != "signup_id"},
                **{f"link_{key}": value for key, value in link.items()},
            },
        ).all()
        if not found:
            return False
        signup_id = found[0][0]
        attendee_ids = [attendee_id for _, attendee_id in found] if signup.attendees else []
    else:
        signup_id = db.session.execute(
            insert(tables.signups).values(row).returning(tables.signups.c.id)
        ).scalar_one()
        attendee_ids = []
        if signup.attendees:
            # One multi-row INSERT; RETURNING's order is not promised, so ids go by position.
            returned = dict(
                db.session.execute(
                    insert(tables.attendees)
                    .values(
                        [
                            {
                                "signup_id": signup_id,
                                "email": attendee.email,
                                "position": attendee.position,
                            }
                            for attendee in signup.attendees
                        ]
                    )
                    .returning(tables.attendees.c.position, tables.attendees.c.id)
                ).all()
            )
            attendee_ids = [returned[attendee.position] for attendee in signup.attendees]
        if signup.choices:
            db.session.execute(
                insert(tables.choices),
                [
                    {
                        "signup_id": signup_id,
                        "rank": choice.rank,
                        "session_id": choice.session_id,
                        "joined_at": choice.joined_at,
                    }
                    for choice in signup.choices
                ],
            )
        db.session.execute(insert(tables.events).values({**event, "signup_id": signup_id}))
        db.session.execute(insert(tables.links).values({**link, "signup_id": signup_id}))
    signup.id = signup_id
    for attendee, attendee_id in zip(signup.attendees, attendee_ids, strict=True):
        attendee.id, attendee.signup_id = attendee_id, signup_id
    for choice in signup.choices:
        choice.signup_id = signup_id
    for instance in (signup, *signup.attendees, *signup.choices):
        make_transient_to_detached(instance)
    db.session.add(signup)
    return True


@dataclass(frozen=True)
class _NewSignupTables:
    """The tables a new signup writes."""

    signups: Table = Signup.__table__
    attendees: Table = Attendee.__table__
    choices: Table = SignupChoice.__table__
    events: Table = AuditEvent.__table__
    links: Table = ManageLink.__table__


@cache
def _new_signup_statement(*, with_seat: bool = False) -> Select:
    """PostgreSQL: a signup, its attendees, choices, audit event and manage link inserted by
    one statement (data-modifying CTEs, the lists passed as arrays), answering the signup's id
    with each attendee's, in their order. Built once, so its compiled form is cached.

    ``with_seat``: it first claims a seat of session ``seat_session_id`` (``_claim_seat``'s
    conditional UPDATE, its row lock and all) and inserts the signup only if it did: no seat
    left, it writes nothing and answers no row."""
    tables = _NewSignupTables()
    values = column_parameters(tables.signups)
    new_signup = insert(tables.signups)
    if with_seat:
        seat = _claim_seat_statement().cte("seat")
        new_signup = new_signup.from_select(
            list(values),
            select(*values.values()).where(select(seat.c.id).exists()),
        )
    else:
        new_signup = new_signup.values(values)
    new_signup = new_signup.returning(tables.signups.c.id).cte("new_signup")
    people = (
        func.unnest(
            bindparam("attendee_emails", type_=ARRAY(String)),
            bindparam("attendee_positions", type_=ARRAY(Integer)),
        )
        .table_valued("email", "position")
        .render_derived(name="people")
    )
    ranked = (
        func.unnest(
            bindparam("choice_ranks", type_=ARRAY(Integer)),
            bindparam("choice_sessions", type_=ARRAY(Integer)),
        )
        .table_valued("rank", "session_id")
        .render_derived(name="ranked")
    )

    def for_each(table: Table, rows, **columns) -> Insert:
        """INSERT into ``table`` one row per row of ``rows`` joined to the new signup."""
        return insert(table).from_select(
            ["signup_id", *columns],
            select(new_signup.c.id, *columns.values()).select_from(
                new_signup.join(rows, true()) if rows is not None else new_signup
            ),
        )

    new_attendees = (
        for_each(tables.attendees, people, email=people.c.email, position=people.c.position)
        .returning(tables.attendees.c.id, tables.attendees.c.position)
        .cte("new_attendees")
    )
    new_choices = for_each(
        tables.choices,
        ranked,
        rank=ranked.c.rank,
        session_id=ranked.c.session_id,
        joined_at=bindparam("choice_joined_at", type_=tables.choices.c.joined_at.type),
    )
    new_event = for_each(
        tables.events, None, **column_parameters(tables.events, "event_", leave_out=("signup_id",))
    )
    new_link = for_each(
        tables.links, None, **column_parameters(tables.links, "link_", leave_out=("signup_id",))
    )
    return (
        select(new_signup.c.id, new_attendees.c.id)
        .select_from(new_signup.outerjoin(new_attendees, true()))
        .order_by(new_attendees.c.position)
        .add_cte(
            new_choices.cte("new_choices"),
            new_event.cte("new_event"),
            new_link.cte("new_link"),
        )
    )


def _column_values(instance) -> dict:
    """A new row's values, as the ORM's INSERT would write them: each column's attribute, or
    its default where the attribute is unset. Every value is set on ``instance`` too, so none
    is read from the database once it is persistent."""
    row = {}
    for table_column in instance.__table__.columns:
        if table_column.primary_key and table_column.autoincrement is not False:
            continue
        value = getattr(instance, table_column.key)
        if value is None and table_column.default is not None:
            default = table_column.default
            value = default.arg(None) if default.is_callable else default.arg
        setattr(instance, table_column.key, value)
        row[table_column.key] = value
    return row


def _queue_welcome(signup: Signup, token: str, now: datetime, *, by_staff: bool) -> None:
    """The first email of a place: booked (with the invite; saying so when its first choice
    was full, or that staff signed it up), or on the waitlist (with its place in line on each
    date, and who signed it up when staff did)."""
    if signup.is_confirmed:
        first_choice = signup.choices[0].session if signup.choices else signup.session
        notices.queue_confirmation(
            signup,
            token,
            now=now,
            first_choice_full=signup.session is not first_choice,
            how_booked=notices.STAFF_SIGNED_UP if by_staff else None,
        )
    else:
        notices.queue_waitlisted(
            signup, token, waitlist_places(signup, now), now=now, by_staff=by_staff
        )


def lock_signup(signup: Signup) -> None:
    """Read ``signup`` again, locked until the transaction ends, so a change decides on its
    state as it is now: PostgreSQL's ``SELECT … FOR UPDATE`` waits for another request that is
    changing it and then reads what that request committed (on SQLite a writing transaction
    already holds the whole database). Every change to a booking starts here; without it, an
    organization moving itself while staff cancel it could each act on the other's old state.
    """
    # The row is locked by its key alone: a refresh FOR UPDATE would repeat the options the
    # signup was loaded with, and PostgreSQL refuses FOR UPDATE beside an outer join.
    db.session.execute(select(Signup.id).where(Signup.id == signup.id).with_for_update())
    db.session.refresh(signup)


def change_session(
    signup: Signup, session: TrainingSession, *, now: datetime, actor=None
) -> list[Signup]:
    """Move a signup to ``session`` (which must have a free seat), freeing its old seat;
    returns the organizations booked from the waitlist into that seat (``promote_waitlist``).

    For a waitlisted signup this books it. Staff (``actor``) are not held to the change cutoff.
    """
    lock_signup(signup)
    if actor is None:
        require_changes_open(signup, now)
    elif signup.is_cancelled:
        raise ChangesClosed("This booking was cancelled, so it can no longer be changed.")
    if session.id == signup.session_id and signup.is_confirmed:
        raise BookingError("This organization is already booked on that date.")
    if not session.is_bookable(now):
        raise session_unavailable(session, now)
    if actor is None and is_inside_cutoff(session, now):
        hours = current_app.config["CHANGE_CUTOFF_HOURS"]
        raise SessionUnavailable(
            f"{session.when} can no longer be changed to: changes close {hours} hours before "
            "a session. Choose another date."
        )
    if not _claim_seat(session):
        raise SessionFull(session)
    previous = signup.session if signup.is_confirmed else None
    left_waiting = [other for other in dates_waited_for(signup, now) if other.id != session.id]
    if previous is not None:
        _release_seat(previous)
    signup.status, signup.session, signup.confirmed_at = SIGNUP_CONFIRMED, session, now
    signup.invite_sequence += 1
    db.session.flush()
    record(
        "signup.moved" if previous is not None else "signup.booked_from_waitlist",
        actor=actor,
        signup=signup,
        old=previous.when if previous is not None else "waitlist",
        new=session.when,
    )
    token = issue_manage_link(signup)
    notices.queue_confirmation(
        signup,
        token,
        previous=previous,
        now=now,
        by_staff=actor is not None,
        how_booked=None if previous is not None else _from_waitlist(actor),
        no_longer_waiting_for=left_waiting,
    )
    return promote_waitlist(previous, now=now) if previous is not None else []


def _from_waitlist(actor) -> str:
    """How a waitlist place came to a date it was booked on by hand, as its page says it."""
    if actor is not None:
        return notices.STAFF_BOOKED_FROM_WAITLIST
    return notices.OWN_BOOKING_FROM_WAITLIST


def full_dates_to_wait_for(signup: Signup, now: datetime) -> list[TrainingSession]:
    """The dates ``signup``'s organization can join the waitlist of at ``now``: full (a date
    with a seat is booked instead), and still able to give a seat (``cutoff.can_wait_for``:
    scheduled, not started, before its change cutoff)."""
    sessions = signup.program.sessions
    return [session for session in sessions if session.is_full and can_wait_for(session, now)]


def join_waitlist(signup: Signup, ranked_sessions: list[TrainingSession], *, now: datetime) -> None:
    """Put a waitlisted organization that waits for no date (its session was cancelled, or its
    dates have taken place) in line for ``ranked_sessions``, first choice first.

    Raises ``BookingError`` when it already waits for a date or is booked,
    ``SessionUnavailable`` for a date that is another program's, cancelled or started,
    ``BookingError`` for a date with a free seat (book that instead), and ``NoSeatInTime``
    for a date inside its change cutoff (no seat would come from its waitlist). Queues the
    "you're on the waitlist" email, as the signup form does.
    """
    lock_signup(signup)
    require_changes_open(signup, now)
    if not signup.is_waitlisted:
        raise BookingError("You are booked on a date already; change it above instead.")
    if dates_waited_for(signup, now):
        raise BookingError("You are on the waitlist already; leave it first to choose again.")
    for session in ranked_sessions:
        if session.program_id != signup.program_id:
            raise SessionUnavailable(f"{session.when} is not a date of {signup.program.name}.")
        if not session.is_bookable(now):
            raise session_unavailable(session, now)
        if not session.is_full:
            raise BookingError(
                f"{session.when} has a free seat now: book it instead of joining its waitlist."
            )
        if not can_wait_for(session, now):
            raise NoSeatInTime([session])
    # The dates it chose before go: their places can never turn into a seat.
    signup.choices.clear()
    db.session.flush()
    signup.choices.extend(
        SignupChoice(rank=rank, session=session, joined_at=now)
        for rank, session in enumerate(ranked_sessions, start=1)
    )
    db.session.flush()
    record(
        "signup.waitlist_joined",
        signup=signup,
        choices=[session.when for session in ranked_sessions],
    )
    # The same email as joining through the signup form, so everyone on it has a record.
    notices.queue_waitlisted(
        signup, issue_manage_link(signup), waitlist_places(signup, now), now=now
    )


def update_contacts(signup: Signup, details: SignupDetails, *, now: datetime, actor=None) -> bool:
    """Replace the contact and attendee details (the organization's name stays as booked),
    and tell the people added, kept and removed (``notices.send_people_update``); True when
    emails were queued (who is on the booking changed).

    Raises ``ChangesClosed``, ``ProviderIdTaken`` (nothing is changed) or
    ``ContactsChangedMeanwhile`` (another request saved the same attendee first).
    """
    lock_signup(signup)
    if actor is None:
        require_changes_open(signup, now)
    before = _contact_snapshot(signup)
    mailboxes_before = signup.mailboxes
    refusals = {
        "uq_signups_active_provider": ProviderIdTaken,
        "uq_attendees_signup_email": ContactsChangedMeanwhile,
    }
    with unique_or(refusals):
        _apply_details(signup, details)
    after = _contact_snapshot(signup)
    changed = {key: [before[key], after[key]] for key in before if before[key] != after[key]}
    if changed:
        record("signup.contacts_updated", actor=actor, signup=signup, changes=changed)
    return people_changed(signup, mailboxes_before, now=now, actor=actor)


def people_changed(
    signup: Signup, before: list[tuple[str, str]], *, now: datetime, actor=None
) -> bool:
    """After any change of who is on ``signup`` (``before`` is its ``mailboxes`` as they were):
    when someone left it, revoke every manage link sent so far (each went to them too) and
    audit it; then tell everyone concerned (``notices.send_people_update``), which gives each
    person still on it a fresh link. True when emails were queued.
    """
    now_on = {mailbox_key(email) for _name, email in signup.mailboxes}
    left = [email for _name, email in before if mailbox_key(email) not in now_on]
    if left and not signup.is_cancelled:
        revoked = revoke_manage_links(signup, now=now)
        record(
            "signup.manage_links_revoked",
            actor=actor,
            signup=signup,
            removed=left,
            links_revoked=revoked,
        )
    return notices.send_people_update(
        signup, before, by_staff=actor is not None, waitlist=waitlist_places(signup, now)
    )


class PlaceChanged(BookingError):
    """The booking is no longer what the page asked about (booked since, or moved)."""

    def __init__(self):
        super().__init__(
            "Your booking changed since this page was opened (another tab, or a seat from the "
            "waitlist). Read what it is now below, and cancel again if you still want to."
        )


def cancel_signup(
    signup: Signup,
    *,
    now: datetime,
    actor=None,
    reason: str | None = None,
    asked_about: str | None = None,
    merged_into: Signup | None = None,
    last_date: TrainingSession | None = None,
) -> list[Signup]:
    """Cancel a booking or waitlist place; the freed seat goes to the waitlist. Returns the
    organizations booked from the waitlist into it (``promote_waitlist``). ``last_date``: the
    only date a waitlisted signup still waited for, which staff took it off (the email names
    it).

    The organization may cancel until its session starts, inside the change cutoff too (see
    ``change_window``); the organization promoted to the freed seat is emailed. Staff
    (``actor``) may cancel at any time, giving a ``reason`` for the log. Raises
    ``BookingError`` for a booking already cancelled, ``ChangesClosed`` once the session has
    started, and ``PlaceChanged`` when ``asked_about`` (``Signup.place`` as the confirming
    page showed it) is not where the booking stands now. The email says who cancelled it: the
    organization, staff, or a merge into ``merged_into`` (the booking that goes on).
    """
    lock_signup(signup)
    if signup.is_cancelled:
        raise BookingError("This booking is already cancelled.")
    if asked_about and asked_about != signup.place:
        raise PlaceChanged()
    if actor is None:
        require_cancel_open(signup, now)
    previous = signup.session if signup.is_confirmed else None
    signup.status, signup.cancelled_at = SIGNUP_CANCELLED, now
    signup.invite_sequence += 1
    if previous is not None:
        _release_seat(previous)
    db.session.flush()
    # A waitlist place ended by staff on one date's roster (``last_date``) names that date.
    record(
        "signup.cancelled",
        actor=actor,
        signup=signup,
        session=previous or last_date,
        reason=reason,
    )
    notices.queue_signup_email(
        signup,
        None,
        "cancelled",
        notices.subject_for(
            signup,
            f"Cancelled: your booking for {previous.when}"
            if previous is not None
            else "Cancelled: your place on the waitlist"
            + (f" for {last_date.when}" if last_date is not None else ""),
        ),
        method="CANCEL" if previous is not None else None,
        by_staff=actor is not None,
        merged_into=merged_into,
        last_date=last_date,
    )
    return promote_waitlist(previous, now=now) if previous is not None else []


def leave_waitlist_date(
    signup: Signup, session: TrainingSession, *, now: datetime, actor, reason: str | None = None
) -> bool:
    """Take waitlisted ``signup`` off ``session``'s waitlist alone (staff's "Remove from
    waitlist" on that session's roster): it keeps its places on the other dates it chose,
    and is emailed that it left this one, with where it stands on the others. When no other
    date it chose can still give it a seat (``dates_waited_for``), this was its only date: the
    signup is cancelled (``cancel_signup``). Returns whether the signup goes on.

    Raises ``BookingError`` when ``signup`` is not waiting on ``session`` (any more).
    """
    lock_signup(signup)
    if not signup.is_waitlisted or session not in signup.chosen_sessions:
        raise BookingError(
            f"{signup.organization_name} is not on the waitlist for {session.when}. Nothing "
            "was changed."
        )
    if not [other for other in dates_waited_for(signup, now) if other.id != session.id]:
        cancel_signup(signup, now=now, actor=actor, reason=reason, last_date=session)
        return False
    kept = [
        (choice.session, choice.joined_at)
        for choice in signup.choices
        if choice.session_id != session.id
    ]
    # Ranks are part of the key: the choices are written again, ranked as they were, each
    # keeping its place in its line.
    signup.choices.clear()
    db.session.flush()
    signup.choices.extend(
        SignupChoice(rank=rank, session=other, joined_at=joined_at)
        for rank, (other, joined_at) in enumerate(kept, start=1)
    )
    db.session.flush()
    record(
        "signup.waitlist_left",
        actor=actor,
        signup=signup,
        session=session,
        reason=reason,
        still_waiting_for=[other.when for other in dates_waited_for(signup, now)],
    )
    notices.queue_waitlist_date_left(
        signup, issue_manage_link(signup), session, waitlist_places(signup, now), now=now
    )
    return True


def promote_waitlist(
    session: TrainingSession,
    *,
    now: datetime,
    cancelled_date: TrainingSession | None = None,
    displaced: Collection[int] = (),
) -> list[Signup]:
    """Give free seats in ``session`` to the organizations first in line for it. Each is
    emailed that a seat opened up, or, for the signups in ``displaced`` (booked on or waiting
    for ``cancelled_date``, which was just cancelled), that their date is cancelled and they
    are booked on another they chose.

    Every automatic booking from a waitlist comes through here (an organization or staff
    cancelling, staff moving or cancelling a session, seats raised). Nobody is booked into a
    session inside its change cutoff at ``now``: the organization never chose that moment
    and could only cancel it. The seat stays open; staff may book someone by hand.
    """
    promoted: list[Signup] = []
    if not session.is_bookable(now) or is_inside_cutoff(session, now):
        return promoted
    while True:
        candidate = db.session.scalars(waitlist_line(session.id).limit(1)).first()
        if candidate is None or not _claim_seat(session):
            return promoted
        claimed = db.session.execute(
            update(Signup)
            .where(Signup.id == candidate.id, Signup.status == SIGNUP_WAITLISTED)
            .values(status=SIGNUP_CONFIRMED, session_id=session.id, confirmed_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not claimed:  # another process promoted it first
            _release_seat(session)
            continue
        db.session.refresh(candidate)
        # The dates it was in line for besides this one, read as they were: booked here, it
        # waits for them no longer.
        left_waiting = [
            other
            for other in candidate.chosen_sessions
            if other.id != session.id and can_wait_for(other, now)
        ]
        record(
            "signup.promoted",
            actor_label=SYSTEM_ACTOR,
            signup=candidate,
            new=session.when,
            # Its own date was cancelled (not a seat opening up): its pages say so.
            cancelled_date=cancelled_date.when if candidate.id in displaced else None,
        )
        notices.queue_confirmation(
            candidate,
            issue_manage_link(candidate),
            promoted=True,
            cancelled_date=cancelled_date if candidate.id in displaced else None,
            now=now,
            no_longer_waiting_for=left_waiting,
        )
        promoted.append(candidate)


def resend_manage_link(signup: Signup, *, now: datetime) -> bool:
    """Email a fresh manage link to the contact on file; False if one went out just now."""
    if signup.link_resent_at is not None and now - signup.link_resent_at < RESEND_INTERVAL:
        return False
    signup.link_resent_at = now
    record("signup.manage_link_resent", signup=signup)
    notices.queue_manage_link(signup, issue_manage_link(signup))
    return True


def set_staff_notes(
    signup: Signup, notes: str, *, actor, session: TrainingSession | None = None
) -> None:
    """Keep staff's notes on a signup (never shown to the organization); the audit event
    names ``session``, the roster they were saved on (the signup's own by default)."""
    signup.staff_notes = notes.strip() or None
    record("signup.notes_updated", actor=actor, signup=signup, session=session)


def reinstate_signup(
    signup: Signup,
    status: str,
    *,
    now: datetime,
    actor,
    reason: str,
    merged_into: Signup | None = None,
) -> str:
    """Give a cancelled ``signup`` its place back, as it was: its seat on its session (``status``
    confirmed) or its waitlist place, with a new manage link emailed as at signup.

    For staff undoing their own cancellation (a merge of duplicates into ``merged_into``,
    which the email names: the contacts were told of the merge). Returns the new manage
    link's token. Raises ``BookingError`` when the signup is not cancelled,
    ``SessionUnavailable`` when its session has started or was cancelled, and ``SessionFull``
    when its seat has gone to someone else meanwhile.
    """
    lock_signup(signup)
    if not signup.is_cancelled:
        raise BookingError(f"{possessive(signup.organization_name)} booking is not cancelled.")
    if status == SIGNUP_CONFIRMED:
        if signup.session is None or not signup.session.is_bookable(now):
            raise SessionUnavailable(
                f"{possessive(signup.organization_name)} session has started or was cancelled."
            )
        if not _claim_seat(signup.session):
            raise SessionFull(signup.session)
    signup.status, signup.cancelled_at = status, None
    signup.invite_sequence += 1
    db.session.flush()
    record(
        "signup.reinstated",
        actor=actor,
        signup=signup,
        session=signup.session if signup.is_confirmed else None,
        reason=reason,
    )
    token = issue_manage_link(signup)
    if signup.is_confirmed:
        notices.queue_confirmation(signup, token, now=now, merge_undone=merged_into)
    else:
        notices.queue_waitlisted(
            signup, token, waitlist_places(signup, now), now=now, merge_undone=merged_into
        )
    return token


def _contact_snapshot(signup: Signup) -> dict[str, str | None]:
    return {
        "provider_id": signup.provider_id,
        "contact_name": signup.contact_name,
        "contact_email": signup.contact_email,
        "contact_phone": signup.contact_phone,
        "attendees": ", ".join(attendee.email for attendee in signup.attendees),
    }


def _apply_details(signup: Signup, details: SignupDetails) -> None:
    signup.provider_id = details.provider_id or None
    signup.contact_name = details.contact_name
    signup.contact_email = details.contact_email
    signup.contact_phone = details.contact_phone or None
    # Each address as typed ("CY@example.org" is shown and sent so), one per mailbox: compared
    # by ``mailbox_key``, so a spelling in another case is the same attendee, kept as it was.
    wanted = one_per_mailbox(list(details.attendee_emails))
    # Keep the rows of attendees who stay: replacing them all would insert a second row for
    # the same email before the old one is deleted, which the unique index refuses.
    kept = {mailbox_key(attendee.email): attendee for attendee in signup.attendees}
    signup.attendees = [kept.get(mailbox_key(email)) or Attendee(email=email) for email in wanted]
    for position, attendee in enumerate(signup.attendees, 1):
        attendee.position = position


def _claim_seat(session: TrainingSession) -> bool:
    """Take one seat if one is left; the database decides, so two requests never both win."""
    claimed = db.session.execute(_claim_seat_statement(), {"seat_session_id": session.id})
    db.session.expire(session, ["seats_booked"])
    return claimed.first() is not None


@cache
def _claim_seat_statement() -> TextualSelect:
    """The seat's conditional UPDATE, answering the session's id when it took a seat; built
    once. Written in SQL: as a CTE of the signup's statement (``_new_signup_statement``), a
    Core UPDATE would also SET each column of ``training_sessions`` that the signup's
    parameters happen to name (``status``, ``created_at``)."""
    return (
        text(
            "UPDATE training_sessions SET seats_booked = seats_booked + 1"
            " WHERE id = :seat_session_id AND status = :seat_scheduled"
            " AND seats_booked < seats RETURNING id"
        )
        .bindparams(
            bindparam("seat_session_id", type_=Integer),
            bindparam("seat_scheduled", SESSION_SCHEDULED, type_=String),
        )
        .columns(id=Integer)
    )


def _release_seat(session: TrainingSession) -> None:
    db.session.execute(
        update(TrainingSession)
        .where(TrainingSession.id == session.id, TrainingSession.seats_booked > 0)
        .values(seats_booked=TrainingSession.seats_booked - 1)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(session, ["seats_booked"])


def _require_signups_open(program: Program, now: datetime) -> None:
    state = program.signup_state(now)
    if state == "not_open":
        raise SignupsClosed(f"Signups for {program.name} have not opened yet.")
    if state == "closed":
        raise SignupsClosed(f"Signups for {program.name} are closed.")


def dates_open_to_change(signup: Signup, now: datetime) -> list[TrainingSession]:
    """The dates ``signup``'s organization can move to (or, waiting, book) from its manage link
    at ``now``: scheduled, not started, with a seat left and before their change cutoff."""
    return [
        session
        for session in signup.program.sessions
        if session.id != signup.session_id
        and session.is_bookable(now)
        and not session.is_full
        and not is_inside_cutoff(session, now)
    ]


@dataclass(frozen=True)
class ChangeWindow:
    """What an organization may still do to its booking from its manage link, and until when.

    ``changes_close_at`` ends date and contact changes (``CHANGE_CUTOFF_HOURS`` before the
    session; None for a waitlist place, which has no session yet); ``cancel_closes_at`` ends
    cancelling (the session's start; None for a waitlist place, which may leave at any time).
    Both are aware UTC datetimes. A cancelled booking may do nothing. ``moved_inside_cutoff``:
    changes are closed because staff moved the session, after it was booked, to start inside
    the cutoff (not because it was booked there). ``staff_booked_inside_cutoff``: what staff
    did that put the booking on its date once that date's cutoff had passed ("moved your
    booking to this date"), or None when the organization booked it, or staff did so earlier.
    """

    can_change: bool
    can_cancel: bool
    changes_close_at: datetime | None
    cancel_closes_at: datetime | None
    moved_inside_cutoff: bool = False
    staff_booked_inside_cutoff: str | None = None


def change_window(signup: Signup, now: datetime) -> ChangeWindow:
    """What ``signup``'s organization may still do at ``now``.

    The rule (issue 13): date and contact changes close at the cutoff, ``CHANGE_CUTOFF_HOURS``
    (24) before the session; cancelling stays open until the session starts, so a booking made
    inside the cutoff can still be given up; a cancelled booking's link only shows it.
    """
    if signup.is_cancelled:
        return ChangeWindow(False, False, None, None)
    if not signup.is_confirmed:
        return ChangeWindow(True, True, None, None)
    session = signup.session
    changes_close_at = _changes_close_at(session)
    can_change = now < changes_close_at
    moved_inside_cutoff = not can_change and _moved_inside_cutoff(signup, changes_close_at)
    return ChangeWindow(
        can_change=can_change,
        can_cancel=not session.has_started(now),
        changes_close_at=changes_close_at,
        cancel_closes_at=session.began_at,
        moved_inside_cutoff=moved_inside_cutoff,
        staff_booked_inside_cutoff=(
            None
            if can_change or moved_inside_cutoff
            else _staff_booked_inside_cutoff(signup, changes_close_at)
        ),
    )


def _staff_booked_inside_cutoff(signup: Signup, changes_close_at: datetime) -> str | None:
    """What staff did (``_STAFF_BOOKED``) that put ``signup`` on its date at or after
    ``changes_close_at``, or None: then its changes were closed by staff, not by the
    organization booking late."""
    event = _booking_event(signup)
    if event is None or event.actor in (PUBLIC_ACTOR, SYSTEM_ACTOR):
        return None
    if event.created_at < changes_close_at:
        return None
    return _STAFF_BOOKED.get(event.action)


def _moved_inside_cutoff(signup: Signup, changes_close_at: datetime) -> bool:
    """Whether staff's latest move of ``signup``'s session came after it was booked there and
    once the new time's change cutoff (``changes_close_at``) had passed: its changes closed by
    that move, not by the clock nor by booking late."""
    updates = db.session.execute(
        select(AuditEvent.created_at, AuditEvent.details)
        .where(AuditEvent.session_id == signup.session_id, AuditEvent.action == "session.updated")
        .order_by(AuditEvent.id.desc())
    )
    moved_at = next(
        (at for at, details in updates if "starts_at" in (details or {}).get("changes", {})),
        None,
    )
    return (
        moved_at is not None
        and moved_at >= changes_close_at
        and (signup.confirmed_at is None or signup.confirmed_at <= moved_at)
    )


def require_changes_open(signup: Signup, now: datetime) -> None:
    """Raise ``ChangesClosed`` when the organization may no longer change ``signup``'s date or
    contacts at ``now`` (see ``change_window``)."""
    if signup.is_cancelled:
        raise ChangesClosed("This booking was cancelled, so it can no longer be changed.")
    window = change_window(signup, now)
    if not window.can_change:
        hours = current_app.config["CHANGE_CUTOFF_HOURS"]
        still = " You can still cancel until it starts." if window.can_cancel else ""
        raise ChangesClosed(
            f"Changes close {hours} hours before your session, and yours starts "
            f"{signup.session.when}.{still} Please email {signup.program.staff_email} "
            "if something else has changed."
        )


def require_cancel_open(signup: Signup, now: datetime) -> None:
    """Raise ``ChangesClosed`` when the organization may no longer cancel ``signup`` at ``now``:
    once it is cancelled, or once its session has started (see ``change_window``)."""
    if signup.is_cancelled:
        raise ChangesClosed("This booking is already cancelled.")
    if not change_window(signup, now).can_cancel:
        raise ChangesClosed(
            f"Your session started {format_moment(signup.session.began_at, signup.program.zone)}"
            ", so this booking can no longer be "
            f"cancelled here. Please email {signup.program.staff_email}."
        )
