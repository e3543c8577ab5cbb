"""Recording PARS entries, challenge progress, reminders and drawings."""

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager

from training.audit.services import SYSTEM_ACTOR, record
from training.booking.links import issue_manage_link
from training.booking.models import (
    SESSION_SCHEDULED,
    SIGNUP_CANCELLED,
    SIGNUP_CONFIRMED,
    Program,
    Signup,
    TrainingSession,
)
from training.booking.notices import subject_for
from training.booking.services import BookingError
from training.challenges.eligibility import (
    ACCME,
    CMA,
    NEEDED,
    ChallengeDates,
    Entry,
    Progress,
    draw,
    progress,
)
from training.challenges.models import (
    ChallengeDrawing,
    ChallengeEntry,
    ChallengeReminder,
    ChallengeReminderRound,
)
from training.constraints import unique_or
from training.extensions import db, utcnow
from training.mail.services import public_url, queue_email

# Reminders go from this long before a deadline (program clocks) up to the deadline day.
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


def challenge_dates(program: Program) -> ChallengeDates:
    """The days entries count for ``program``'s challenges: from its ``challenges_start_on``
    (unset: the day signups opened, on the program's clocks) to each deadline."""
    starts_on = program.challenges_start_on or program.today(program.signup_opens_at)
    return ChallengeDates(starts_on, program.accme_challenge_due_on, program.cma_challenge_due_on)


def deadline(program: Program, challenge: str) -> date:
    """The program's due date for ``challenge``."""
    return challenge_dates(program).due(challenge)


def short_date(day: date) -> str:
    """A day as people read it in a sentence: ``"Dec 4, 2026"``."""
    return f"{day:%b} {day.day}, {day.year}"


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
    (``Program.latest_date``) and must fall in the challenges' dates (``challenge_dates``:
    from their start to the CMA deadline); other dates raise ``ChallengeError``, saying which
    dates count.
    """
    if signup.is_cancelled:
        raise ChallengeError("This booking is cancelled, so it cannot record entries.")
    if entered_on > signup.program.latest_date(now):
        raise ChallengeError("The date entered cannot be in the future.")
    dates = challenge_dates(signup.program)
    if not dates.counts_toward(entered_on):
        raise ChallengeError(
            f"The challenges count learners entered in PARS from {short_date(dates.starts_on)} "
            f"to {short_date(dates.cma_due)}; {short_date(entered_on)} is outside those dates."
        )
    repeated = db.session.scalar(
        select(ChallengeEntry.id).where(
            ChallengeEntry.signup_id == signup.id,
            ChallengeEntry.activity_id == activity_id,
            ChallengeEntry.entered_on == entered_on,
            ChallengeEntry.learners == learners,
        )
    )
    if repeated is not None:
        raise ChallengeError(
            f"Activity {activity_id} is already recorded with {learners} "
            f"{'learner' if learners == 1 else 'learners'} entered on {short_date(entered_on)}, "
            "so it was not recorded again. To correct an entry, remove it and record it again."
        )
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
    """The organization's progress from its ``entries``, each challenge counted in its dates."""
    dates = challenge_dates(signup.program)
    as_entries = [Entry(e.activity_id, e.entered_on) for e in entries]
    verified = [Entry(e.activity_id, e.entered_on) for e in entries if e.is_verified]
    return OrganizationProgress(
        signup, entries, progress(as_entries, dates), progress(verified, dates)
    )


def program_progress(program: Program) -> list[OrganizationProgress]:
    """Every organization signed up for ``program`` (not cancelled), in two queries."""
    return _progress_of(
        db.session.scalars(
            select(Signup)
            .where(Signup.program_id == program.id, Signup.status != SIGNUP_CANCELLED)
            .order_by(Signup.organization_name)
        ).all()
    )


def _progress_of(signups: list[Signup]) -> list[OrganizationProgress]:
    """The progress of ``signups``, their entries read in one query."""
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
    reason given for the first drawing is refused, not dropped unseen. Two first drawings at
    once: the database keeps one and the other raises ``AlreadyDrawn``.
    """
    standing = official_drawing(program, challenge)
    reason = (redraw_reason or "").strip() or None
    if standing is None:
        if reason is not None:
            raise ChallengeError(
                f"The {CHALLENGE_NAMES[challenge]} has no drawing to replace yet, so the reason "
                "to draw again would not be kept: clear it to run the first drawing."
            )
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
    """The challenge reminders due at ``now`` in every program (``send_challenge_reminders``);
    returns how many were queued."""
    return sum(
        send_challenge_reminders(program, now) for program in db.session.scalars(select(Program))
    )


def send_challenge_reminders(program: Program, now: datetime) -> int:
    """Remind organizations that a deadline of ``program`` is near: once per challenge, on the
    first run at or after the day ``REMINDER_LEAD`` before it (program clocks), up to the
    deadline day itself; none once it has passed. Returns how many were queued.

    A round (``ChallengeReminderRound``) is made once per challenge: later runs, and
    organizations that book after it, send nothing. The countdown in the email is from the
    real dates ("5 days left" on a late first run). Reminded: organizations with a booked seat
    (not waitlisted, not cancelled) in a session that starts by the deadline day, that have
    not met the challenge on recorded entries; each gets at most one (``ChallengeReminder``).
    """
    today = program.today(now)
    queued = 0
    for challenge in (ACCME, CMA):
        due = deadline(program, challenge)
        if not due - REMINDER_LEAD <= today <= due or not _start_round(program, challenge, now):
            continue
        for row in _to_remind(program, challenge):
            try:
                with db.session.begin_nested():
                    db.session.add(ChallengeReminder(signup_id=row.signup.id, challenge=challenge))
                    db.session.flush()
            except IntegrityError:
                continue  # already reminded
            _queue_reminder(row, challenge, today)
            queued += 1
    return queued


def reminder_subject(challenge: str, days_left: int) -> str:
    """The reminder's subject ``days_left`` days before the deadline (0: the deadline day)."""
    name = CHALLENGE_NAMES[challenge]
    if days_left == 0:
        return f"The {name} closes today"
    if days_left == 1:
        return f"The {name} closes tomorrow"
    if days_left == 7:
        return f"One week left for the {name}"
    return f"{days_left} days left for the {name}"


def _start_round(program: Program, challenge: str, now: datetime) -> bool:
    """Make ``challenge``'s reminder round for ``program``; False if it was made already."""
    made = db.session.scalar(
        select(ChallengeReminderRound.id).where(
            ChallengeReminderRound.program_id == program.id,
            ChallengeReminderRound.challenge == challenge,
        )
    )
    if made is not None:
        return False
    try:
        with db.session.begin_nested():
            db.session.add(
                ChallengeReminderRound(program_id=program.id, challenge=challenge, ran_at=now)
            )
            db.session.flush()
    except IntegrityError:
        return False  # another worker made it first
    return True


def _to_remind(program: Program, challenge: str) -> list[OrganizationProgress]:
    """Organizations with a seat in a session starting by ``challenge``'s deadline day that
    have not met it on recorded entries."""
    due = deadline(program, challenge)
    booked = db.session.scalars(
        select(Signup)
        .join(Signup.session)
        .options(contains_eager(Signup.session))
        .where(
            Signup.program_id == program.id,
            Signup.status == SIGNUP_CONFIRMED,
            TrainingSession.status == SESSION_SCHEDULED,
        )
        .order_by(Signup.id)
    ).all()
    # A session after the deadline: the challenge counts PARS entries, which such an
    # organization could still make alone, but a countdown before its training would push it
    # to do alone what the session is for; its entries still count if it does.
    in_time = [signup for signup in booked if signup.session.local_starts_at.date() <= due]
    return [row for row in _progress_of(in_time) if not row.recorded.met(challenge)]


def _queue_reminder(row: OrganizationProgress, challenge: str, today: date) -> None:
    """Queue one organization's reminder, counting down from ``today``."""
    signup = row.signup
    dates = challenge_dates(signup.program)
    due = dates.due(challenge)
    days_left = (due - today).days
    queue_email(
        "challenge_reminder",
        [signup.contact_email],
        subject_for(signup, reminder_subject(challenge, days_left)),
        signup=signup,
        challenge=challenge,
        challenge_name=CHALLENGE_NAMES[challenge],
        dates=dates,
        due=due,
        days_left=days_left,
        recorded=row.recorded.activities(challenge),
        needed=NEEDED[challenge],
        challenges_url=public_url("challenges.organization", token=issue_manage_link(signup)),
    )
    record(
        "challenge.reminder_queued",
        actor_label=SYSTEM_ACTOR,
        signup=signup,
        challenge=challenge,
        days_left=days_left,
    )
