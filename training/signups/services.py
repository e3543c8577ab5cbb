"""Staff work on all signups: search, export and possible duplicates.

Services flush and raise; the request that called them commits.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import exists, select
from sqlalchemy.orm import joinedload, selectinload

from training.audit.services import record
from training.booking.cutoff import can_wait_for_clause
from training.booking.display import (
    export_attendees,
    format_export_moment,
    format_export_session,
    possessive,
)
from training.booking.models import (
    MAX_ATTENDEES,
    SIGNUP_CANCELLED,
    SIGNUP_WAITLISTED,
    Attendee,
    Signup,
    SignupChoice,
    TrainingSession,
)
from training.booking.search import signup_matches
from training.booking.services import (
    BookingError,
    cancel_signup,
    people_changed,
    reinstate_signup,
    status_label,
)
from training.constraints import unique_or
from training.extensions import db
from training.paging import page_shown, paginate
from training.signups.duplicates import SignupFacts, find_possible_duplicates
from training.signups.forms import WAITING_FOR_NO_DATE
from training.signups.models import DECISION_DISMISSED, DECISION_MERGED, DuplicateReview

SIGNUPS_PER_PAGE = 50
# Pairs of possible duplicates shown a page: each carries two forms and both organizations.
DUPLICATES_PER_PAGE = 20

EXPORT_HEADER = (
    "Organization",
    "Provider ID",
    "Contact name",
    "Contact email",
    "Contact phone",
    "Attendees",
    "Status",
    "Session date",
    "Signed up at",
    "Attested at",
    "Staff notes",
    "Override reason",
)


@dataclass(frozen=True)
class DuplicatePage:
    """One page of pairs to review: ``items`` are numbers ``first_number`` onwards of
    ``total``; ``page`` of ``pages`` (at least 1). Its attributes are those the pager
    template reads of a Flask-SQLAlchemy page."""

    items: list["DuplicatePair"]
    page: int
    pages: int
    total: int
    first_number: int

    @property
    def last_number(self) -> int:
        return self.first_number + len(self.items) - 1

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def next_num(self) -> int:
        return self.page + 1


class DuplicateReviewError(BookingError):
    """Staff cannot decide on this pair (any more); the message says why."""


@dataclass(frozen=True)
class DuplicatePair:
    """Two active signups that may be one organization, earlier signup first."""

    first: Signup
    second: Signup
    reasons: tuple[str, ...]


def search_signups(text: str, status: str | None, *, page: int, now: datetime) -> Pagination:
    """Signups, newest first, whose organization, contact or attendee matches ``text``, with
    ``status`` (or ``WAITING_FOR_NO_DATE``: waitlisted, no chosen date a seat can still come
    from at ``now``; ``SIGNUP_WAITLISTED`` then means waitlisted with such a date)."""
    statement = (
        select(Signup)
        .options(
            joinedload(Signup.program),
            joinedload(Signup.session),
            selectinload(Signup.choices).joinedload(SignupChoice.session),
        )
        .order_by(Signup.created_at.desc(), Signup.id.desc())
    )
    # A date it still waits for: one a seat can still come from (``cutoff.can_wait_for``).
    upcoming_choice = (
        select(SignupChoice.session_id)
        .join(TrainingSession, TrainingSession.id == SignupChoice.session_id)
        .where(SignupChoice.signup_id == Signup.id, can_wait_for_clause(now))
    )
    if status == WAITING_FOR_NO_DATE:
        statement = statement.where(Signup.status == SIGNUP_WAITLISTED, ~upcoming_choice.exists())
    elif status == SIGNUP_WAITLISTED:
        # Only those still in line for a date; the rest are under WAITING_FOR_NO_DATE.
        statement = statement.where(Signup.status == SIGNUP_WAITLISTED, upcoming_choice.exists())
    elif status:
        statement = statement.where(Signup.status == status)
    if (matches := signup_matches(text)) is not None:
        statement = statement.where(matches)
    return paginate(statement, page=page, per_page=SIGNUPS_PER_PAGE)


def signup_export(zone: ZoneInfo, now: datetime) -> tuple[tuple[str, ...], list[list[str]]]:
    """The header and one row per signup (all programs, all statuses) for CSV and XLSX; its
    status is the word the list shows at ``now`` (``booking.services.status_label``), in lower
    case as the roster export writes it: "booked", "waitlisted", "not waiting for any date"."""
    signups = db.session.scalars(
        select(Signup)
        .options(
            joinedload(Signup.program),
            joinedload(Signup.session),
            selectinload(Signup.attendees),
            selectinload(Signup.choices).joinedload(SignupChoice.session),
        )
        .order_by(Signup.created_at, Signup.id)
    ).all()
    rows = [
        [
            signup.organization_name,
            signup.provider_id or "",
            signup.contact_name,
            signup.contact_email,
            signup.contact_phone or "",
            export_attendees(signup.attendee_mailboxes),
            status_label(signup, now).lower(),
            format_export_session(session.starts_at, session.ends_at, signup.program.zone)
            if (session := signup.session)
            else "",
            format_export_moment(signup.created_at, zone),
            format_export_moment(signup.attested_at, zone),
            signup.staff_notes or "",
            signup.override_reason or "",
        ]
        for signup in signups
    ]
    return EXPORT_HEADER, rows


def possible_duplicates(*, page: int) -> "DuplicatePage":
    """Page ``page`` (from 1; past the last, the last) of the pairs of active signups that may
    be one organization and that no one has reviewed, in the order ``find_possible_duplicates``
    gives."""
    signups = db.session.scalars(
        select(Signup)
        .where(Signup.status != SIGNUP_CANCELLED)
        .options(selectinload(Signup.attendees))
    ).all()
    reviewed = set(
        db.session.execute(
            select(DuplicateReview.first_signup_id, DuplicateReview.second_signup_id)
        ).all()
    )
    facts = [
        SignupFacts(
            id=signup.id,
            program_id=signup.program_id,
            organization_key=signup.organization_key,
            provider_id=signup.provider_id,
            emails=tuple(signup.recipients),
        )
        for signup in signups
    ]
    found = find_possible_duplicates(facts, reviewed)
    page, pages = page_shown(page, total=len(found), per_page=DUPLICATES_PER_PAGE)
    shown = found[(page - 1) * DUPLICATES_PER_PAGE : page * DUPLICATES_PER_PAGE]
    # Only the signups shown are loaded with their program and session.
    shown_ids = {pair.first_id for pair in shown} | {pair.second_id for pair in shown}
    by_id = {}
    if shown_ids:
        by_id = {
            signup.id: signup
            for signup in db.session.scalars(
                select(Signup)
                .where(Signup.id.in_(shown_ids))
                .options(joinedload(Signup.program), joinedload(Signup.session))
            )
        }
    return DuplicatePage(
        items=[
            DuplicatePair(by_id[pair.first_id], by_id[pair.second_id], pair.reasons)
            for pair in shown
        ],
        page=page,
        pages=pages,
        total=len(found),
        first_number=(page - 1) * DUPLICATES_PER_PAGE + 1,
    )


def dismiss_duplicate(first: Signup, second: Signup, *, note: str, now: datetime, actor) -> None:
    """Record that two signups are different organizations, so the pair is not listed again."""
    low, high = _ordered_pair(first, second)
    _add_review(low, high, DECISION_DISMISSED, note=note, now=now, actor=actor)
    for signup, other in ((low, high), (high, low)):
        record(
            "signup.duplicate_dismissed",
            actor=actor,
            signup=signup,
            other=f"{other.organization_name} (signup {other.id})",
            note=note.strip() or None,
        )


def merge_duplicates(keep: Signup, drop: Signup, *, now: datetime, actor) -> list[str]:
    """Keep one signup of the same organization and cancel the other (its contacts are told).

    Attendee emails only the cancelled signup had move to the kept one, up to the limit.
    Returns the emails moved.
    """
    low, high = _ordered_pair(keep, drop)
    if keep.is_cancelled or drop.is_cancelled:
        raise DuplicateReviewError("One of these signups is already cancelled; nothing to merge.")
    review = _add_review(low, high, DECISION_MERGED, note="", now=now, actor=actor)
    review.kept_signup_id, review.dropped_status = keep.id, drop.status
    cancel_signup(
        drop,
        now=now,
        actor=actor,
        reason=f"merged into {keep.organization_name} (signup {keep.id})",
        merged_into=keep,
    )
    moved = _attendees_to_move(keep, drop)
    people_before = keep.mailboxes
    last = max((attendee.position for attendee in keep.attendees), default=0)
    # Appended, not rebuilt: the kept rows stay, so (signup, email) stays unique at every step.
    keep.attendees.extend(
        Attendee(email=email, position=last + offset) for offset, email in enumerate(moved, 1)
    )
    review.moved_attendees = moved
    db.session.flush()
    people_changed(keep, people_before, now=now, actor=actor)
    record(
        "signup.duplicate_merged",
        actor=actor,
        signup=keep,
        merged=f"{drop.organization_name} (signup {drop.id})",
        attendees_added=moved or None,
    )
    return moved


@dataclass(frozen=True)
class RecentMerge:
    """A merge of the last ``RECENT_MERGES_DAYS`` days, and why it can no longer be undone
    (``blocker``; None while it can)."""

    review: DuplicateReview
    blocker: str | None


# Merges listed with their undo on the duplicates page.
RECENT_MERGES_DAYS = 30


def recent_merges(now: datetime) -> list[RecentMerge]:
    """Merges decided in the last ``RECENT_MERGES_DAYS`` days, newest first."""
    reviews = db.session.scalars(
        select(DuplicateReview)
        .where(
            DuplicateReview.decision == DECISION_MERGED,
            DuplicateReview.decided_at >= now - timedelta(days=RECENT_MERGES_DAYS),
        )
        .options(
            joinedload(DuplicateReview.first_signup).joinedload(Signup.session),
            joinedload(DuplicateReview.second_signup).joinedload(Signup.session),
        )
        .order_by(DuplicateReview.decided_at.desc(), DuplicateReview.id.desc())
    ).all()
    return [RecentMerge(review, undo_blocker(review, now)) for review in reviews]


def undo_blocker(review: DuplicateReview, now: datetime) -> str | None:
    """Why the merge ``review`` can no longer be undone at ``now``, or None if it can.

    A merge can be undone while the cancelled signup is still cancelled and neither
    organization's session has begun (nor been cancelled): after that, the undo would hand out
    a seat in the past or undo what people already acted on.
    """
    if review.kept_signup_id is None:
        return "Merged before merges could be undone."
    dropped = review.dropped
    if not dropped.is_cancelled:
        return f"{possessive(dropped.organization_name)} signup is active again."
    for signup in (review.kept, dropped):
        session = signup.session
        if session is not None and session.has_started(now):
            return f"{possessive(signup.organization_name)} session ({session.when}) has begun."
        if session is not None and session.is_cancelled:
            return f"{possessive(signup.organization_name)} session ({session.when}) was cancelled."
    return None


def undo_merge(review: DuplicateReview, *, now: datetime, actor) -> Signup:
    """Undo a merge: the cancelled signup gets its seat or waitlist place back (its contacts
    get a new confirmation and manage link), the attendees the merge moved leave the kept
    signup, and the pair is listed for review again. Returns the reinstated signup.

    Raises ``DuplicateReviewError`` when ``undo_blocker`` says why not, or when the freed seat
    or the organization's name or provider ID has been taken by another booking meanwhile.
    """
    if review.decision != DECISION_MERGED:
        raise DuplicateReviewError("These two signups were not merged.")
    blocker = undo_blocker(review, now)
    if blocker is not None:
        raise DuplicateReviewError(f"This merge can no longer be undone: {blocker}")
    kept, dropped = review.kept, review.dropped
    taken = f"{dropped.organization_name} has another active booking now; undo it by hand."
    refusals = {
        "uq_signups_active_organization": lambda: DuplicateReviewError(taken),
        "uq_signups_active_provider": lambda: DuplicateReviewError(taken),
    }
    try:
        with unique_or(refusals):
            reinstate_signup(
                dropped,
                review.dropped_status,
                now=now,
                actor=actor,
                reason=f"merge into {kept.organization_name} (signup {kept.id}) undone",
                merged_into=kept,
            )
    except BookingError as error:
        if isinstance(error, DuplicateReviewError):
            raise
        raise DuplicateReviewError(
            f"This merge can no longer be undone: {error} Add the organization by hand."
        ) from None
    moved = {email.lower() for email in review.moved_attendees or []}
    people_before = kept.mailboxes
    for attendee in [a for a in kept.attendees if a.email.lower() in moved]:
        kept.attendees.remove(attendee)
    db.session.delete(review)
    db.session.flush()
    people_changed(kept, people_before, now=now, actor=actor)
    record(
        "signup.duplicate_merge_undone",
        actor=actor,
        signup=kept,
        reinstated=f"{dropped.organization_name} (signup {dropped.id})",
        attendees_removed=sorted(review.moved_attendees or []) or None,
    )
    return dropped


def _ordered_pair(first: Signup, second: Signup) -> tuple[Signup, Signup]:
    if first.id == second.id:
        raise DuplicateReviewError("Choose two different signups.")
    if first.program_id != second.program_id:
        raise DuplicateReviewError("These signups are for different programs.")
    return (first, second) if first.id < second.id else (second, first)


def _add_review(
    low: Signup, high: Signup, decision: str, *, note: str, now: datetime, actor
) -> DuplicateReview:
    review = DuplicateReview(
        first_signup_id=low.id,
        second_signup_id=high.id,
        decision=decision,
        note=note.strip() or None,
        decided_by_id=actor.id,
        decided_at=now,
    )
    reviewed = "Someone has already reviewed these two signups."
    with unique_or({"uq_duplicate_reviews_pair": lambda: DuplicateReviewError(reviewed)}):
        db.session.add(review)
    return review


@dataclass(frozen=True)
class MergePreview:
    """What merging would do: the attendee emails that would move to the kept signup, and of
    the merged signup's other attendees, those the kept one already lists and those left out
    because it is full (``MAX_ATTENDEES``)."""

    moved_attendees: list[str]
    already_listed: list[str]
    left_out: list[str]

    @property
    def has_attendees(self) -> bool:
        """Whether the merged signup lists any attendee at all."""
        return bool(self.moved_attendees or self.already_listed or self.left_out)


def merge_preview(keep: Signup, drop: Signup) -> MergePreview:
    """What ``merge_duplicates(keep, drop)`` would do, changing nothing; raises
    ``DuplicateReviewError`` when it would be refused."""
    low, high = _ordered_pair(keep, drop)
    if keep.is_cancelled or drop.is_cancelled:
        raise DuplicateReviewError("One of these signups is already cancelled; nothing to merge.")
    reviewed = exists().where(
        DuplicateReview.first_signup_id == low.id, DuplicateReview.second_signup_id == high.id
    )
    if db.session.scalar(select(reviewed)):
        raise DuplicateReviewError("Someone has already reviewed these two signups.")
    moved = _attendees_to_move(keep, drop)
    known = _known_mailboxes(keep)
    listed = [attendee.email for attendee in drop.attendees if attendee.email.lower() in known]
    left_out = [
        attendee.email
        for attendee in drop.attendees
        if attendee.email.lower() not in known and attendee.email not in moved
    ]
    return MergePreview(moved, listed, left_out)


def _known_mailboxes(keep: Signup) -> set[str]:
    return {attendee.email.lower() for attendee in keep.attendees} | {keep.contact_email.lower()}


def _attendees_to_move(keep: Signup, drop: Signup) -> list[str]:
    known = _known_mailboxes(keep)
    missing = [attendee.email for attendee in drop.attendees if attendee.email.lower() not in known]
    return missing[: max(MAX_ATTENDEES - len(keep.attendees), 0)]
