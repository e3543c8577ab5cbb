"""Recording PARS entries, challenge progress, reminders and drawings."""

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from training.audit.services import SYSTEM_ACTOR, record
from training.booking.links import issue_manage_link
from training.booking.models import SIGNUP_CANCELLED, Program, Signup
from training.booking.services import BookingError
from training.challenges.eligibility import ACCME, CMA, Entry, Progress, draw, progress
from training.challenges.models import ChallengeDrawing, ChallengeEntry, ChallengeReminder
from training.constraints import unique_or
from training.extensions import db, utcnow
from training.mail.services import public_url, queue_email

REMINDER_LEAD = timedelta(days=7)
CHALLENGE_NAMES = {ACCME: "ACCME Challenge", CMA: "CMA Challenge"}


class ChallengeError(BookingError):
    """A challenge rule refused the change; the message says why."""


class AlreadyDrawn(ChallengeError):
    """The challenge has its drawing; ``drawing`` is the official one."""

    def __init__(self, drawing: ChallengeDrawing):
        super().__init__(
            f"The {CHALLENGE_NAMES[drawing.challenge]} was already drawn (drawing "
            f"{drawing.id}, below); its winners stand. An admin may draw again, giving a reason."
        )
        self.drawing = drawing


@dataclass(frozen=True)
class OrganizationProgress:
    """An organization's entries and its progress, on all entries and on verified ones."""

    signup: Signup
    entries: list[ChallengeEntry]
    recorded: Progress  # counting every recorded entry
    verified: Progress  # counting staff-verified entries only


def deadline(program: Program, challenge: str) -> date:
    """The program's due date for ``challenge``."""
    return program.cma_challenge_due_on if challenge == CMA else program.accme_challenge_due_on


def record_entry(
    signup: Signup,
    activity_id: str,
    entered_on: date,
    learners: int,
    *,
    now: datetime,
    actor=None,
) -> ChallengeEntry:
    """Record that learners were entered in PARS for an activity (by the organization or staff).

    ``entered_on`` may be as late as the latest date anywhere in the US at ``now``
    (``Program.latest_date``); later dates raise ``ChallengeError``.
    """
    if signup.is_cancelled:
        raise ChallengeError("This booking is cancelled, so it cannot record entries.")
    if entered_on > signup.program.latest_date(now):
        raise ChallengeError("The date entered cannot be in the future.")
    entry = ChallengeEntry(
        signup=signup,
        activity_id=activity_id,
        entered_on=entered_on,
        learners=learners,
        recorded_by_id=actor.id if actor is not None else None,
    )
    db.session.add(entry)
    db.session.flush()
    record(
        "challenge.entry_recorded",
        actor=actor,
        signup=signup,
        activity_id=activity_id,
        entered_on=entered_on.isoformat(),
        learners=learners,
    )
    return entry


def remove_entry(entry: ChallengeEntry, *, actor=None) -> None:
    """Remove an entry recorded by mistake; organizations cannot remove verified ones."""
    if actor is None and entry.is_verified:
        raise ChallengeError("Staff have verified this entry; email them to change it.")
    record(
        "challenge.entry_removed", actor=actor, signup=entry.signup, activity_id=entry.activity_id
    )
    db.session.delete(entry)
    db.session.flush()


def verify_entry(entry: ChallengeEntry, *, actor) -> None:
    """Mark an entry checked in PARS by staff (``actor``)."""
    entry.verified_at, entry.verified_by_id = utcnow(), actor.id
    record(
        "challenge.entry_verified", actor=actor, signup=entry.signup, activity_id=entry.activity_id
    )


def organization_progress(signup: Signup, entries: list[ChallengeEntry]) -> OrganizationProgress:
    """The organization's progress from its ``entries``, to each deadline."""
    program = signup.program
    due = (program.accme_challenge_due_on, program.cma_challenge_due_on)
    as_entries = [Entry(e.activity_id, e.entered_on) for e in entries]
    verified = [Entry(e.activity_id, e.entered_on) for e in entries if e.is_verified]
    return OrganizationProgress(
        signup, entries, progress(as_entries, *due), progress(verified, *due)
    )


def program_progress(program: Program) -> list[OrganizationProgress]:
    """Every organization signed up for ``program`` (not cancelled), in two queries."""
    signups = db.session.scalars(
        select(Signup)
        .where(Signup.program_id == program.id, Signup.status != SIGNUP_CANCELLED)
        .order_by(Signup.organization_name)
    ).all()
    entries: dict[int, list[ChallengeEntry]] = {signup.id: [] for signup in signups}
    for entry in db.session.scalars(
        select(ChallengeEntry)
        .where(ChallengeEntry.signup_id.in_(entries))
        .order_by(ChallengeEntry.entered_on, ChallengeEntry.id)
    ):
        entries[entry.signup_id].append(entry)
    return [organization_progress(signup, entries[signup.id]) for signup in signups]


def official_drawing(program: Program, challenge: str) -> ChallengeDrawing | None:
    """The drawing that stands for ``challenge``: the latest, or None before the first."""
    return db.session.scalars(
        select(ChallengeDrawing)
        .where(ChallengeDrawing.program_id == program.id, ChallengeDrawing.challenge == challenge)
        .order_by(ChallengeDrawing.id.desc())
        .limit(1)
    ).first()


def run_drawing(
    program: Program, challenge: str, winners: int, *, actor, redraw_reason: str | None = None
) -> ChallengeDrawing:
    """Draw ``winners`` among organizations that met ``challenge`` on verified entries.

    One drawing stands per challenge. Once there is one, raises ``AlreadyDrawn`` unless an
    admin gives a ``redraw_reason`` (recorded with the new drawing, which then stands); a
    reason given for the first drawing is not recorded. Two first drawings at once: the
    database keeps one and the other raises ``AlreadyDrawn``.
    """
    standing = official_drawing(program, challenge)
    reason = (redraw_reason or "").strip() or None
    if standing is None:
        reason = None
    elif reason is None:
        raise AlreadyDrawn(standing)
    elif not actor.is_admin:
        raise ChallengeError("Only an admin can draw again.")
    eligible = [row.signup.id for row in program_progress(program) if row.verified.met(challenge)]
    if not eligible:
        raise ChallengeError(
            f"No organization has met the {CHALLENGE_NAMES[challenge]} on verified entries yet."
        )
    seed = secrets.randbits(64)
    drawing = ChallengeDrawing(
        program=program,
        challenge=challenge,
        seed=str(seed),
        eligible_signup_ids=sorted(eligible),
        winner_signup_ids=draw(eligible, winners, seed),
        drawn_by_id=actor.id,
        redraw_reason=reason,
    )
    refusal = {
        "uq_challenge_drawings_first": lambda: AlreadyDrawn(official_drawing(program, challenge))
    }
    with unique_or(refusal):
        db.session.add(drawing)
    record(
        "challenge.drawing",
        actor=actor,
        program=program,
        challenge=challenge,
        seed=drawing.seed,
        eligible=drawing.eligible_signup_ids,
        winners=drawing.winner_signup_ids,
        redraw_reason=reason,
        replaces=standing.id if standing is not None else None,
    )
    return drawing


def check_drawing(drawing: ChallengeDrawing) -> bool:
    """Run the drawing again from its recorded seed and eligible list: same winners?"""
    again = draw(drawing.eligible_signup_ids, len(drawing.winner_signup_ids), int(drawing.seed))
    return again == drawing.winner_signup_ids


def send_due_challenge_reminders(now: datetime) -> int:
    """Challenge reminders for every program whose deadline is a week away or nearer."""
    queued = 0
    for program in db.session.scalars(select(Program)):
        queued += send_challenge_reminders(program, program.today(now))
    return queued


def send_challenge_reminders(program: Program, today: date) -> int:
    """A week before each deadline, remind organizations that have not met it; once each."""
    queued = 0
    for challenge in (ACCME, CMA):
        due = deadline(program, challenge)
        if not (due - REMINDER_LEAD <= today <= due):
            continue
        for row in program_progress(program):
            if row.recorded.met(challenge):
                continue
            try:
                with db.session.begin_nested():
                    db.session.add(ChallengeReminder(signup_id=row.signup.id, challenge=challenge))
                    db.session.flush()
            except IntegrityError:
                continue  # already reminded
            _queue_reminder(row, challenge, due)
            queued += 1
    return queued


def _queue_reminder(row: OrganizationProgress, challenge: str, due: date) -> None:

    signup = row.signup
    queue_email(
        "challenge_reminder",
        [signup.contact_email],
        f"One week left for the {CHALLENGE_NAMES[challenge]}",
        signup=signup,
        challenge_name=CHALLENGE_NAMES[challenge],
        due=due,
        progress=row.recorded,
        needed=4 if challenge == CMA else 2,
        challenges_url=public_url("challenges.organization", token=issue_manage_link(signup)),
    )
    record(
        "challenge.reminder_queued", actor_label=SYSTEM_ACTOR, signup=signup, challenge=challenge
    )
