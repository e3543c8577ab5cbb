"""Running a live session: its live state (started, on which step, notes), check-in, and the
participants' signals. The steps are in ``steps``, the board in ``board``, the follow-up
emails in ``followups``.

Services flush and raise; the request or CLI command that called them commits. Every change
bumps a counter on the session's row with an UPDATE the database does atomically, so ETags
stay right with several web processes on several hosts.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from training.audit.services import record
from training.booking.display import format_moment
from training.booking.models import (
    SIGNUP_CONFIRMED,
    TIMING_UNDER_WAY,
    TIMING_UPCOMING,
    Signup,
    TrainingSession,
)
from training.errors import Refused
from training.extensions import db
from training.live.cache import note_session_change
from training.live.models import (
    CHECKIN_LABELS,
    CHECKIN_LATE,
    CHECKIN_NO_SHOW,
    LiveAttendance,
    LiveSession,
    WalkthroughStep,
)
from training.live.steps import walkthrough


class LiveError(Refused):
    """A live-session rule refused the change; the message says why, in words for the person."""


CANCELLED_MESSAGE = "This session was cancelled, so its walkthrough has stopped."


# --- The session's live state ----------------------------------------------------------------


def find_live(session: TrainingSession) -> LiveSession | None:
    """The session's live state, or None before it was first started."""
    return db.session.get(LiveSession, session.id)


def open_live(session: TrainingSession) -> LiveSession:
    """The session's live row, created on first use and locked for this transaction."""
    live = db.session.scalars(
        select(LiveSession).where(LiveSession.session_id == session.id).with_for_update()
    ).first()
    if live is not None:
        return live
    try:
        with db.session.begin_nested():
            live = LiveSession(session_id=session.id, version=0, board_version=0)
            db.session.add(live)
    except IntegrityError:  # another request created it first
        live = db.session.scalars(
            select(LiveSession).where(LiveSession.session_id == session.id).with_for_update()
        ).one()
    return live


def bump(live: LiveSession, *, seen_by_participants: bool) -> None:
    """Count a change with an atomic UPDATE (never read-modify-write, which loses increments)."""
    values = {LiveSession.board_version: LiveSession.board_version + 1}
    if seen_by_participants:
        values[LiveSession.version] = LiveSession.version + 1
    db.session.flush()
    note_session_change(db.session(), live.session_id)  # copied to the live cache on commit
    db.session.execute(
        update(LiveSession)
        .where(LiveSession.session_id == live.session_id)
        .values(values)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(live, ["version", "board_version", "updated_at"])


def start_session(session: TrainingSession, *, actor, now: datetime) -> LiveSession:
    """Start the timer from zero and put the first step on every screen, also when restarting
    an ended session (whatever step it ended on); raises ``LiveError`` for a cancelled
    session, or before check-in opens (``checkin_opens_at``)."""
    if session.is_cancelled:
        raise LiveError("This session is cancelled, so it cannot be started.")
    if not is_checkin_open(session, now):
        raise LiveError(
            f"The session can be started when check-in opens: {checkin_opening_words(session)}."
        )
    live = open_live(session)
    steps = walkthrough()
    if not steps:
        raise LiveError("There are no walkthrough steps yet. Run `flask --app training seed`.")
    if live.is_running:
        raise LiveError("This session is already running.")
    restarting = live.started_at is not None
    live.started_at, live.ended_at = now, None
    live.current_step = steps[0]
    if restarting:
        # Everyone starts again: the steps pressed Done before are not done now. A call for
        # help stays, until it is lowered. The step kept is the last press's only when that
        # press was the call for help (no Done after it): a Done press replaced the step the
        # help was asked on (perhaps none, before the start), so nothing of it is shown then.
        pressed = select(LiveAttendance).where(
            LiveAttendance.session_id == session.id, LiveAttendance.reported_step_id.is_not(None)
        )
        for attendance in db.session.scalars(pressed):
            if attendance.help_requested_at is None or attendance.done_at is not None:
                attendance.reported_step_id = attendance.help_step_id = None
            attendance.done_at = None
            attendance.revision = LiveAttendance.revision + 1
    if session.walkthrough_started_at is None:
        session.walkthrough_started_at = now  # the session has begun (``has_started``)
    bump(live, seen_by_participants=True)
    record("live.started", actor=actor, session=session)
    return live


def end_session(session: TrainingSession, *, actor, now: datetime) -> None:
    """Stop the timer; participants see that the session has ended."""
    live = open_live(session)
    if not live.is_running:
        raise LiveError("This session is not running.")
    live.ended_at = now
    bump(live, seen_by_participants=True)
    record("live.ended", actor=actor, session=session)


def stop_cancelled_session(session: TrainingSession, *, actor, now: datetime) -> None:
    """End the walkthrough of ``session``, which is being cancelled, if it is running: the
    console and participants' pages stop with it (``rosters.services.cancel_session``)."""
    live = find_live(session)
    if live is None or not live.is_running:
        return
    live = open_live(session)
    live.ended_at = now
    bump(live, seen_by_participants=True)
    record("live.ended", actor=actor, session=session, because="session cancelled")


def go_to_step(session: TrainingSession, step: WalkthroughStep, *, actor) -> None:
    """Show ``step`` on every participant's screen; raises ``LiveError`` unless the session
    is running (before Start, after End)."""
    live = open_live(session)
    _require_running(session, live)
    previous = live.current_step
    live.current_step = step
    bump(live, seen_by_participants=True)
    record(
        "live.step_changed",
        actor=actor,
        session=session,
        old=previous.title if previous is not None else None,
        new=step.title,
    )


def move_step(
    session: TrainingSession, offset: int, *, actor, shown_step_id: int | None = None
) -> WalkthroughStep:
    """Go ``offset`` steps forward (1) or back (-1) from the current one. With
    ``shown_step_id`` (the step the console showed when the button was pressed), refused with
    ``LiveError`` unless that is still the current step: another tab or facilitator moved it."""
    live = open_live(session)
    _require_running(session, live)
    steps = walkthrough()
    ids = [step.id for step in steps]
    index = ids.index(live.current_step_id) if live.current_step_id in ids else -1
    if shown_step_id is not None and shown_step_id != live.current_step_id and index >= 0:
        pressed = "Next step" if offset > 0 else "Back"
        raise LiveError(
            f"Everyone already sees step {index + 1}: {steps[index].title}. It was changed in "
            f"another tab or by another facilitator since your page showed it, so {pressed} "
            "was not applied; press it again if you still want to move from here."
        )
    target = index + offset
    if not 0 <= target < len(steps):
        raise LiveError("That was the last step." if offset > 0 else "This is the first step.")
    go_to_step(session, steps[target], actor=actor)
    return steps[target]


def _require_running(session: TrainingSession, live: LiveSession) -> None:
    """Steps move only while the session runs: not before Start, nor after End, nor once the
    session is cancelled."""
    if session.is_cancelled:
        raise LiveError(CANCELLED_MESSAGE)
    if live.started_at is None:
        raise LiveError("Start the session first.")
    if live.ended_at is not None:
        raise LiveError(
            "The session has ended, so the steps no longer move. "
            "Press Restart the session to start again from the first step."
        )


def save_notes(session: TrainingSession, notes: str, *, actor) -> None:
    """Keep the facilitator's notes with the session."""
    live = open_live(session)
    live.notes = notes.strip() or None
    bump(live, seen_by_participants=False)
    record("live.notes_saved", actor=actor, session=session)


@dataclass(frozen=True)
class ListedSession:
    """A session in the Live sessions list, with its status as the list says it."""

    session: TrainingSession
    status: str  # LIVE_NOW, or the session's timing label with the console's state
    rank: int  # its group in the list: running, under way, ahead, over, cancelled

    @property
    def is_ahead(self) -> bool:
        """Running, under way or upcoming: listed soonest first."""
        return self.rank < ENDED_RANK


LIVE_NOW = "Live now"
NOT_STARTED_ON_CONSOLE = "not started on the console"
ENDED_ON_CONSOLE = "ended on the console"
ENDED_RANK = 3


def list_sessions(sessions: list[TrainingSession], now: datetime) -> list[ListedSession]:
    """``sessions`` with their status: the time's (``TrainingSession.timing_label``, as every
    staff page says it), with the console's own state where it differs ("Under way (not
    started on the console)"), or "Live now" while running. Those running first, then those
    under way, then those ahead (soonest first), then those over and cancelled (latest
    first)."""
    ids = [session.id for session in sessions]
    lives = {
        live.session_id: live
        for live in db.session.scalars(select(LiveSession).where(LiveSession.session_id.in_(ids)))
    }

    def listed(session: TrainingSession) -> ListedSession:
        live = lives.get(session.id)
        label = session.timing_label(now)
        if session.is_cancelled:
            return ListedSession(session, label, ENDED_RANK + 1)
        if live is not None and live.is_running:
            return ListedSession(session, LIVE_NOW, 0)
        timing = session.timing(now)
        if timing == TIMING_UNDER_WAY:
            ended = live is not None and live.ended_at is not None
            console = ENDED_ON_CONSOLE if ended else NOT_STARTED_ON_CONSOLE
            return ListedSession(session, f"{label} ({console})", ENDED_RANK if ended else 1)
        return ListedSession(session, label, 2 if timing == TIMING_UPCOMING else ENDED_RANK)

    def order(item: ListedSession) -> tuple:
        seconds = item.session.starts_at.timestamp()
        return (item.rank, seconds if item.is_ahead else -seconds, item.session.id)

    return sorted((listed(session) for session in sessions), key=order)


# --- Organizations in the session -------------------------------------------------------------


def _attendance(live: LiveSession, signup: Signup) -> LiveAttendance:
    """The organization's row in the live session, created on first use."""
    statement = select(LiveAttendance).where(
        LiveAttendance.session_id == live.session_id, LiveAttendance.signup_id == signup.id
    )
    row = db.session.scalars(statement).first()
    if row is not None:
        return row
    try:
        with db.session.begin_nested():
            row = LiveAttendance(session_id=live.session_id, signup_id=signup.id, revision=0)
            db.session.add(row)
    except IntegrityError:
        row = db.session.scalars(statement).one()
    return row


def _touch(live: LiveSession, attendance: LiveAttendance) -> None:
    attendance.revision = LiveAttendance.revision + 1
    bump(live, seen_by_participants=False)
    db.session.expire(attendance, ["revision"])


def _require_in_session(session: TrainingSession, signup: Signup) -> None:
    if signup.session_id != session.id or signup.status != SIGNUP_CONFIRMED:
        # Named by nothing: a facilitator reads only their own sessions' organizations.
        raise LiveError("That organization is not booked on this session.")


def checkin_opens_at(session: TrainingSession) -> datetime:
    """When facilitators may start checking organizations in: ``LIVE_CHECKIN_OPENS_MINUTES``
    (30 by default) before the session starts."""
    return checkin_opening(session.starts_at)


def checkin_opening(starts_at: datetime) -> datetime:
    """When check-in opens for a session starting at ``starts_at``."""
    minutes = float(current_app.config["LIVE_CHECKIN_OPENS_MINUTES"])
    return starts_at - timedelta(minutes=minutes)


def checkin_opening_words(session: TrainingSession) -> str:
    """When check-in opens, as refusals say it: "Thu, Nov 26, 2026, 8:30 AM PT, 30 minutes
    before the session starts"."""
    opens_at = checkin_opens_at(session)
    minutes = round((session.starts_at - opens_at).total_seconds() / 60)
    return (
        f"{format_moment(opens_at, session.program.zone)}, "
        f"{minutes} minutes before the session starts"
    )


def is_checkin_open(session: TrainingSession, now: datetime) -> bool:
    """Whether organizations of ``session`` can be checked in at ``now``."""
    return now >= checkin_opens_at(session)


def check_in(
    session: TrainingSession, signup: Signup, status: str, *, actor, now: datetime
) -> None:
    """Mark an organization present, joined late or a no-show.

    Raises ``LiveError`` for an unknown status, an organization not booked on ``session``,
    or before check-in opens (``checkin_opens_at``): nobody has come, or missed it, yet.
    """
    if status not in CHECKIN_LABELS:
        raise LiveError("Choose present, joined late or no-show.")
    _require_in_session(session, signup)
    if not is_checkin_open(session, now):
        raise LiveError(f"Check-in opens {checkin_opening_words(session)}.")
    live = open_live(session)
    attendance = _attendance(live, signup)
    if attendance.checkin_status == status:
        return
    attendance.checkin_status = status
    attendance.checked_in_at = None if status == CHECKIN_NO_SHOW else now
    _touch(live, attendance)
    record("live.checked_in", actor=actor, signup=signup, status=CHECKIN_LABELS[status])


def clear_help(session: TrainingSession, signup: Signup, *, actor, now: datetime) -> None:
    """Lower an organization's "needs help" flag once someone has helped it: its page then
    says a facilitator marked it helped (``LiveAttendance.was_helped``)."""
    _require_in_session(session, signup)
    live = open_live(session)
    attendance = _attendance(live, signup)
    if attendance.help_requested_at is None:
        return
    attendance.help_requested_at = None
    attendance.helped_at = now
    _touch(live, attendance)
    record("live.help_cleared", actor=actor, signup=signup)


def request_help(signup: Signup, *, now: datetime) -> None:
    """The organization asks for a facilitator (on the step it is shown). Raises ``LiveError``
    before check-in opens (nobody is watching yet) and once the session is over for
    participants (``is_over_for_participants``)."""
    session = _participant_session(signup)
    if not is_checkin_open(session, now):
        raise LiveError(
            f"You can ask for help from when check-in opens: {checkin_opening_words(session)}. "
            "Until then, write to the training team from your booking page."
        )
    live = open_live(session)
    if is_over_for_participants(session, live, now):
        raise LiveError("The session has ended, so no facilitator is watching for help now.")
    attendance = _attendance(live, signup)
    _joined_by_acting(live, attendance, signup, "I need help", now)
    if attendance.help_requested_at is not None:
        return
    attendance.help_requested_at, attendance.helped_at = now, None
    if live.current_step_id is not None and attendance.reported_step_id != live.current_step_id:
        attendance.reported_step_id, attendance.done_at = live.current_step_id, None
    # Kept after Done and after the help is cleared: the board says it needed help there.
    attendance.help_step_id = attendance.reported_step_id
    _touch(live, attendance)


def withdraw_help(signup: Signup) -> None:
    """The organization no longer needs help (at any time: lowering its own flag harms
    nothing, and writes nothing when there is no flag)."""
    session = _participant_session(signup)
    attendance = db.session.scalars(
        select(LiveAttendance).where(
            LiveAttendance.session_id == session.id, LiveAttendance.signup_id == signup.id
        )
    ).first()
    if attendance is None or attendance.help_requested_at is None:
        return
    live = open_live(session)
    attendance.help_requested_at = None
    _touch(live, attendance)


def mark_step_done(signup: Signup, step: WalkthroughStep | None, *, now: datetime) -> None:
    """The organization says it is done with ``step``, the one on screen: raises ``LiveError``
    for another step (a stale tab, a forged one ahead, or None for no such step), before the
    session starts and once it is over for participants (``is_over_for_participants``)."""
    session = _participant_session(signup)
    live = open_live(session)  # locked: the step cannot move meanwhile
    if is_over_for_participants(session, live, now):
        raise LiveError("The session has ended, so steps can no longer be marked done.")
    if live.started_at is None:
        raise LiveError("The session has not started yet, so there is no step to mark done.")
    if step is None or step.id != live.current_step_id:
        current = live.current_step
        ahead = step is not None and current is not None and step.position > current.position
        raise LiveError(
            "That step is not on screen yet; here is the current one."
            if ahead
            else "That step is no longer on screen; here is the current one."
        )
    attendance = _attendance(live, signup)
    _joined_by_acting(live, attendance, signup, "Done with this step", now)
    if attendance.reported_step_id == step.id and attendance.done_at is not None:
        return
    attendance.reported_step_id, attendance.done_at = step.id, now
    _touch(live, attendance)


def _joined_by_acting(
    live: LiveSession, attendance: LiveAttendance, signup: Signup, pressed: str, now: datetime
) -> None:
    """An organization marked No-show that presses a button of the session is taking part:
    it is checked in as Joined late (audited, by the public, and shown on the board), so the
    board never says No-show beside its presses, nor does it get the no-show email."""
    if attendance.checkin_status != CHECKIN_NO_SHOW:
        return
    attendance.checkin_status, attendance.checked_in_at = CHECKIN_LATE, now
    _touch(live, attendance)
    record(
        "live.checked_in",
        signup=signup,
        status=CHECKIN_LABELS[CHECKIN_LATE],
        because=f"it pressed {pressed} while marked No-show",
    )


def is_over_for_participants(session: TrainingSession, live: LiveSession, now: datetime) -> bool:
    """Whether participants' signals ("I need help", "Done") are no longer taken: after the
    facilitator pressed End, once the follow-up emails went out (whether or not End was
    pressed), or past the scheduled end of a session that is not running. A running session
    takes them past its scheduled end, until End: facilitators may run over."""
    if live.ended_at is not None:
        return True
    followups_sent = db.session.scalar(
        select(LiveAttendance.id)
        .where(
            LiveAttendance.session_id == session.id, LiveAttendance.followup_sent_at.is_not(None)
        )
        .limit(1)
    )
    if followups_sent is not None:
        return True
    return not live.is_running and session.has_ended(now)


def _participant_session(signup: Signup) -> TrainingSession:
    if not signup.is_confirmed or signup.session is None:
        raise LiveError("This booking has no session to follow.")
    return signup.session
