"""Running a live session: steps, check-in, participants' signals, the board and follow-ups.

Services flush and raise; the request or CLI command that called them commits. Every change
bumps a counter on the session's row with an UPDATE the database does atomically, so ETags
stay right with several web processes on several hosts.
"""

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from flask import url_for
from sqlalchemy import and_, func, select, update
from sqlalchemy.exc import IntegrityError

from training.audit.services import COMMAND_LINE_ACTOR, record
from training.booking.display import format_long_date
from training.booking.links import hash_token, issue_manage_link
from training.booking.models import SIGNUP_CONFIRMED, ManageLink, Signup, TrainingSession
from training.errors import Refused
from training.extensions import db
from training.live.models import (
    CHECKIN_LABELS,
    CHECKIN_NO_SHOW,
    LiveAttendance,
    LiveSession,
    WalkthroughStep,
)
from training.mail.services import public_url, queue_email
from training.sandbox.models import ATTEMPT_DONE, ATTEMPT_FAILED, SandboxAttempt
from training.sandbox.rules import CODES, ERROR

# Links to the sandbox pages (the sandbox feature's own routes).
STEP_FILE = re.compile(r"^(\d{2})-([a-z0-9-]+)\.md$")
NOTES_HEADING = "## Facilitator notes"


class LiveError(Refused):
    """A live-session rule refused the change; the message says why, in words for the person."""


class FollowUpsNotReady(LiveError):
    pass


# --- Walkthrough steps ---------------------------------------------------------------------


@dataclass(frozen=True)
class StepText:
    """A step as written in ``seed/walkthrough/NN-slug.md``."""

    position: int
    slug: str
    title: str
    participant_text: str
    facilitator_notes: str


def parse_step_file(filename: str, text: str) -> StepText:
    """Read a step file: front matter with ``title``, participant text, ``## Facilitator notes``."""
    match = STEP_FILE.match(filename)
    if match is None:
        raise ValueError(f"{filename}: step files are named NN-slug.md")
    _, front, body = text.split("---", 2)
    titles = [
        line.partition(":")[2].strip() for line in front.splitlines() if line.startswith("title:")
    ]
    if not titles or not titles[0]:
        raise ValueError(f"{filename}: the front matter needs a title")
    participant, _, notes = body.partition(f"\n{NOTES_HEADING}\n")
    return StepText(
        position=int(match.group(1)),
        slug=match.group(2),
        title=titles[0],
        participant_text=participant.strip() + "\n",
        facilitator_notes=notes.strip() + "\n" if notes.strip() else "",
    )


def seed_walkthrough(folder: Path) -> int:
    """Add the steps in ``folder`` that are not loaded yet (by slug); return how many."""
    known = set(db.session.scalars(select(WalkthroughStep.slug)))
    taken = set(db.session.scalars(select(WalkthroughStep.position)))
    added = 0
    for path in sorted(folder.glob("*.md")):
        if not STEP_FILE.match(path.name):
            continue
        step = parse_step_file(path.name, path.read_text(encoding="utf-8"))
        if step.slug in known:
            continue
        position = step.position
        while position in taken:  # staff reordered the steps: add this one after them
            position += 100
        db.session.add(
            WalkthroughStep(
                slug=step.slug,
                position=position,
                title=step.title,
                participant_text=step.participant_text,
                facilitator_notes=step.facilitator_notes,
            )
        )
        taken.add(position)
        added += 1
    db.session.flush()
    return added


def walkthrough() -> list[WalkthroughStep]:
    """Every step, in order."""
    return list(db.session.scalars(select(WalkthroughStep).order_by(WalkthroughStep.position)))


# --- The session's live state ----------------------------------------------------------------


def find_live(session: TrainingSession) -> LiveSession | None:
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


def _bump(live: LiveSession, *, seen_by_participants: bool) -> None:
    """Count a change with an atomic UPDATE (never read-modify-write, which loses increments)."""
    values = {LiveSession.board_version: LiveSession.board_version + 1}
    if seen_by_participants:
        values[LiveSession.version] = LiveSession.version + 1
    db.session.flush()
    db.session.execute(
        update(LiveSession)
        .where(LiveSession.session_id == live.session_id)
        .values(values)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(live, ["version", "board_version", "updated_at"])


def start_session(session: TrainingSession, *, actor, now: datetime) -> LiveSession:
    """Start the timer and put the first step on every screen (again, after an end)."""
    live = open_live(session)
    steps = walkthrough()
    if not steps:
        raise LiveError("There are no walkthrough steps yet. Run `flask --app training seed`.")
    if live.is_running:
        raise LiveError("This session is already running.")
    live.started_at, live.ended_at = now, None
    if live.current_step_id is None:
        live.current_step = steps[0]
    _bump(live, seen_by_participants=True)
    record("live.started", actor=actor, session=session)
    return live


def end_session(session: TrainingSession, *, actor, now: datetime) -> None:
    """Stop the timer; participants see that the session has ended."""
    live = open_live(session)
    if not live.is_running:
        raise LiveError("This session is not running.")
    live.ended_at = now
    _bump(live, seen_by_participants=True)
    record("live.ended", actor=actor, session=session)


def go_to_step(session: TrainingSession, step: WalkthroughStep, *, actor) -> None:
    """Show ``step`` on every participant's screen."""
    live = open_live(session)
    if live.started_at is None:
        raise LiveError("Start the session first.")
    previous = live.current_step
    live.current_step = step
    _bump(live, seen_by_participants=True)
    record(
        "live.step_changed",
        actor=actor,
        session=session,
        old=previous.title if previous is not None else None,
        new=step.title,
    )


def move_step(session: TrainingSession, offset: int, *, actor) -> WalkthroughStep:
    """Go ``offset`` steps forward (1) or back (-1) from the current one."""
    live = open_live(session)
    steps = walkthrough()
    ids = [step.id for step in steps]
    index = ids.index(live.current_step_id) if live.current_step_id in ids else -1
    target = index + offset
    if not 0 <= target < len(steps):
        raise LiveError("That was the last step." if offset > 0 else "This is the first step.")
    go_to_step(session, steps[target], actor=actor)
    return steps[target]


def save_notes(session: TrainingSession, notes: str, *, actor) -> None:
    """Keep the facilitator's notes with the session."""
    live = open_live(session)
    live.notes = notes.strip() or None
    _bump(live, seen_by_participants=False)
    record("live.notes_saved", actor=actor, session=session)


# --- Organizations in the session -------------------------------------------------------------


def roster(session: TrainingSession) -> list[Signup]:
    """The organizations booked on ``session``, by name."""
    return list(
        db.session.scalars(
            select(Signup)
            .where(Signup.session_id == session.id, Signup.status == SIGNUP_CONFIRMED)
            .order_by(Signup.organization_name, Signup.id)
        )
    )


def attendances(session: TrainingSession) -> dict[int, LiveAttendance]:
    """Each organization's live row in ``session``, by signup id."""
    rows = db.session.scalars(select(LiveAttendance).where(LiveAttendance.session_id == session.id))
    return {row.signup_id: row for row in rows}


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
    _bump(live, seen_by_participants=False)
    db.session.expire(attendance, ["revision"])


def _require_in_session(session: TrainingSession, signup: Signup) -> None:
    if signup.session_id != session.id or signup.status != SIGNUP_CONFIRMED:
        raise LiveError(f"{signup.organization_name} is not booked on this session.")


def check_in(
    session: TrainingSession, signup: Signup, status: str, *, actor, now: datetime
) -> None:
    """Mark an organization present, joined late or a no-show."""
    if status not in CHECKIN_LABELS:
        raise LiveError("Choose present, joined late or no-show.")
    _require_in_session(session, signup)
    live = open_live(session)
    attendance = _attendance(live, signup)
    if attendance.checkin_status == status:
        return
    attendance.checkin_status = status
    attendance.checked_in_at = None if status == CHECKIN_NO_SHOW else now
    _touch(live, attendance)
    record("live.checked_in", actor=actor, signup=signup, status=CHECKIN_LABELS[status])


def clear_help(session: TrainingSession, signup: Signup, *, actor) -> None:
    """Lower an organization's "needs help" flag once someone has helped it."""
    _require_in_session(session, signup)
    live = open_live(session)
    attendance = _attendance(live, signup)
    if attendance.help_requested_at is None:
        return
    attendance.help_requested_at = None
    _touch(live, attendance)
    record("live.help_cleared", actor=actor, signup=signup)


def request_help(signup: Signup, *, now: datetime) -> None:
    """The organization asks for a facilitator (on the step it is shown)."""
    live = _participant_live(signup)
    attendance = _attendance(live, signup)
    if attendance.help_requested_at is not None:
        return
    attendance.help_requested_at = now
    if live.current_step_id is not None and attendance.reported_step_id != live.current_step_id:
        attendance.reported_step_id, attendance.done_at = live.current_step_id, None
    _touch(live, attendance)


def withdraw_help(signup: Signup) -> None:
    """The organization no longer needs help."""
    live = _participant_live(signup)
    attendance = _attendance(live, signup)
    if attendance.help_requested_at is None:
        return
    attendance.help_requested_at = None
    _touch(live, attendance)


def mark_step_done(signup: Signup, step: WalkthroughStep, *, now: datetime) -> None:
    """The organization says it is done with ``step``."""
    live = _participant_live(signup)
    attendance = _attendance(live, signup)
    if attendance.reported_step_id == step.id and attendance.done_at is not None:
        return
    attendance.reported_step_id, attendance.done_at = step.id, now
    _touch(live, attendance)


def _participant_live(signup: Signup) -> LiveSession:
    if not signup.is_confirmed or signup.session is None:
        raise LiveError("This booking has no session to follow.")
    return open_live(signup.session)


# --- Conditional requests: one cheap query each ---------------------------------------------


def _etag(*parts: object) -> str:
    return hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest()


@dataclass(frozen=True)
class ParticipantTag:
    signup_id: int
    etag: str


def participant_tag(token: str) -> ParticipantTag | None:
    """The manage link's signup and the ETag of its live page, in one indexed query."""
    row = db.session.execute(
        select(
            Signup.id,
            Signup.status,
            Signup.session_id,
            LiveSession.version,
            LiveAttendance.revision,
        )
        .select_from(ManageLink)
        .join(Signup, Signup.id == ManageLink.signup_id)
        .outerjoin(LiveSession, LiveSession.session_id == Signup.session_id)
        .outerjoin(
            LiveAttendance,
            and_(
                LiveAttendance.session_id == Signup.session_id,
                LiveAttendance.signup_id == Signup.id,
            ),
        )
        .where(ManageLink.token_hash == hash_token(token))
        .limit(1)
    ).first()
    if row is None:
        return None
    return ParticipantTag(signup_id=row.id, etag="p" + _etag(*row))


def board_tag(session_id: int) -> str:
    """The ETag of the facilitator's board: live counters, roster and uploads, in one query."""
    in_session = Signup.session_id == session_id
    columns = (
        select(LiveSession.board_version)
        .where(LiveSession.session_id == session_id)
        .scalar_subquery(),
        select(func.count(Signup.id)).where(in_session).scalar_subquery(),
        select(func.max(Signup.updated_at)).where(in_session).scalar_subquery(),
        select(func.max(SandboxAttempt.id))
        .join(Signup, Signup.id == SandboxAttempt.signup_id)
        .where(in_session)
        .scalar_subquery(),
        # A judged attempt changes its own row, not the newest id: count finished ones too.
        select(func.count(SandboxAttempt.finished_at))
        .join(Signup, Signup.id == SandboxAttempt.signup_id)
        .where(in_session)
        .scalar_subquery(),
    )
    return "b" + _etag(session_id, *db.session.execute(select(*columns)).one())


# --- What the pages show -------------------------------------------------------------------


@dataclass(frozen=True)
class UploadSummary:
    """An organization's latest sandbox attempt, as the board and the follow-up show it."""

    uploaded_at: datetime
    status: str
    rows: int
    accepted: int
    rejected: int
    errors: int
    warnings: int
    errors_by_code: dict[str, int] = field(default_factory=dict)

    @property
    def is_judged(self) -> bool:
        return self.status == ATTEMPT_DONE

    @property
    def is_failed(self) -> bool:
        return self.status == ATTEMPT_FAILED


def latest_uploads(signup_ids: Iterable[int]) -> dict[int, UploadSummary]:
    """Each signup's latest sandbox attempt, in one query whatever the number of signups.

    Signups that have uploaded nothing are left out (the board says "no upload yet").
    """
    ids = list(signup_ids)
    if not ids:
        return {}
    latest = (
        select(func.max(SandboxAttempt.id))
        .where(SandboxAttempt.signup_id.in_(ids))
        .group_by(SandboxAttempt.signup_id)
    )
    attempts = db.session.scalars(select(SandboxAttempt).where(SandboxAttempt.id.in_(latest)))
    return {
        attempt.signup_id: UploadSummary(
            uploaded_at=attempt.created_at,
            status=attempt.status,
            rows=attempt.rows_read,
            accepted=attempt.rows_accepted,
            rejected=attempt.rows_rejected,
            errors=attempt.error_count,
            warnings=attempt.warning_count,
            errors_by_code={
                code: count
                for code, count in sorted(
                    (attempt.counts_by_code or {}).items(), key=lambda item: (-item[1], item[0])
                )
                if code in CODES and CODES[code].severity == ERROR
            },
        )
        for attempt in attempts
    }


@dataclass(frozen=True)
class BoardRow:
    """One organization on the facilitator's board."""

    signup: Signup
    attendance: LiveAttendance | None
    upload: UploadSummary | None

    @property
    def needs_help(self) -> bool:
        return self.attendance is not None and self.attendance.needs_help

    @property
    def staff_sandbox_path(self) -> str:
        return url_for("sandbox.staff_sandbox", signup_id=self.signup.id)


def board(session: TrainingSession) -> list[BoardRow]:
    """Every organization in the session with its check-in, signals and latest upload."""
    signups = roster(session)
    rows = attendances(session)
    uploads = latest_uploads(signup.id for signup in signups)
    return [BoardRow(signup, rows.get(signup.id), uploads.get(signup.id)) for signup in signups]


def step_position(step: WalkthroughStep | None, steps: list[WalkthroughStep]) -> int | None:
    """1 for the first step."""
    if step is None:
        return None
    return next((number for number, s in enumerate(steps, 1) if s.id == step.id), None)


def participant_attendance(signup: Signup) -> LiveAttendance | None:
    if signup.session_id is None:
        return None
    return db.session.scalars(
        select(LiveAttendance).where(
            LiveAttendance.session_id == signup.session_id,
            LiveAttendance.signup_id == signup.id,
        )
    ).first()


def sandbox_path(token: str) -> str:
    return url_for("sandbox.home", token=token)


# --- After the session -------------------------------------------------------------------------


@dataclass
class FollowUpReport:
    attended: int = 0
    missed: int = 0
    already_sent: int = 0

    @property
    def sent(self) -> int:
        return self.attended + self.missed


def send_followups(session: TrainingSession, *, actor=None, now: datetime) -> FollowUpReport:
    """Email each organization once: results and next steps if it came, another date if not.

    Every organization must be checked in (present, joined late or no-show) first, so nobody
    who came is told they were missed.
    """
    signups = roster(session)
    rows = attendances(session)
    unmarked = [s.organization_name for s in signups if not _checked_in(rows.get(s.id))]
    if unmarked:
        raise FollowUpsNotReady(
            "Check in every organization first (present, joined late or no-show): "
            + ", ".join(unmarked)
            + "."
        )
    report = FollowUpReport()
    uploads = latest_uploads(signup.id for signup in signups)
    for signup in signups:
        attendance = rows[signup.id]
        claimed = db.session.execute(
            update(LiveAttendance)
            .where(LiveAttendance.id == attendance.id, LiveAttendance.followup_sent_at.is_(None))
            .values(followup_sent_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.expire(attendance, ["followup_sent_at"])
        if not claimed:
            report.already_sent += 1
            continue
        if attendance.has_attended:
            _queue_followup(signup, uploads.get(signup.id))
            report.attended += 1
        else:
            _queue_missed(signup, now)
            report.missed += 1
    if report.sent:
        live = open_live(session)
        _bump(live, seen_by_participants=False)
        record(
            "live.followups_sent",
            actor=actor,
            actor_label=None if actor is not None else COMMAND_LINE_ACTOR,
            session=session,
            attended=report.attended,
            missed=report.missed,
        )
    return report


def _checked_in(attendance: LiveAttendance | None) -> bool:
    return attendance is not None and attendance.checkin_status is not None


def _long_date(day: date) -> str:
    return f"{day:%A, %B} {day.day}, {day.year}"


def _queue_followup(signup: Signup, upload: UploadSummary | None) -> None:
    program = signup.program
    token = issue_manage_link(signup)
    queue_email(
        "live_followup",
        signup.recipients,
        f"After your training: your sandbox results and next steps ({signup.organization_name})",
        signup=signup,
        upload=upload,
        session_date=format_long_date(signup.session.starts_at, program.zone),
        sandbox_url=public_url("sandbox.home", token=token),
        challenges_url=public_url("challenges.organization", token=token),
        accme_due=_long_date(program.accme_challenge_due_on),
        cma_due=_long_date(program.cma_challenge_due_on),
    )


def _queue_missed(signup: Signup, now: datetime) -> None:
    program = signup.program
    open_dates = [
        session
        for session in program.sessions
        if session.is_bookable(now) and not session.is_full and session.id != signup.session_id
    ]
    queue_email(
        "live_missed",
        signup.recipients,
        f"We missed you: book another training date ({signup.organization_name})",
        signup=signup,
        session_date=format_long_date(signup.session.starts_at, program.zone),
        open_dates=open_dates,
        home_url=public_url("booking.index"),
    )
