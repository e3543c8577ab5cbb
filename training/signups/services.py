"""Staff work on all signups: search, export and possible duplicates.

Services flush and raise; the request that called them commits.
"""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from training.audit.services import record
from training.booking.display import format_moment
from training.booking.models import (
    MAX_ATTENDEES,
    SIGNUP_CANCELLED,
    Attendee,
    Signup,
    SignupChoice,
)
from training.booking.names import organization_key
from training.booking.notices import send_people_update
from training.booking.services import BookingError, cancel_signup
from training.constraints import unique_or
from training.extensions import db
from training.signups.duplicates import SignupFacts, find_possible_duplicates
from training.signups.models import DECISION_DISMISSED, DECISION_MERGED, DuplicateReview

SIGNUPS_PER_PAGE = 50

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


class DuplicateReviewError(BookingError):
    """Staff cannot decide on this pair (any more); the message says why."""


@dataclass(frozen=True)
class DuplicatePair:
    """Two active signups that may be one organization, earlier signup first."""

    first: Signup
    second: Signup
    reasons: tuple[str, ...]


def search_signups(text: str, status: str | None, *, page: int) -> Pagination:
    """Signups, newest first, whose organization, contact or attendee matches ``text``."""
    statement = (
        select(Signup)
        .options(
            joinedload(Signup.program),
            joinedload(Signup.session),
            selectinload(Signup.choices).joinedload(SignupChoice.session),
        )
        .order_by(Signup.created_at.desc(), Signup.id.desc())
    )
    if status:
        statement = statement.where(Signup.status == status)
    words = " ".join(text.split()).lower()
    if words:
        matches = [
            func.lower(column).contains(words, autoescape=True)
            for column in (Signup.organization_name, Signup.contact_name, Signup.contact_email)
        ]
        # The key ignores case, accents and punctuation, as the one-per-organization rule does.
        if key := organization_key(words):
            matches.append(Signup.organization_key.contains(key, autoescape=True))
        matches.append(
            exists().where(
                Attendee.signup_id == Signup.id,
                func.lower(Attendee.email).contains(words, autoescape=True),
            )
        )
        statement = statement.where(or_(*matches))
    return db.paginate(statement, page=page, per_page=SIGNUPS_PER_PAGE, error_out=False)


def signup_export(zone: ZoneInfo) -> tuple[tuple[str, ...], list[list[str]]]:
    """The header and one row per signup (all programs, all statuses) for CSV and XLSX."""
    signups = db.session.scalars(
        select(Signup)
        .options(
            joinedload(Signup.program),
            joinedload(Signup.session),
            selectinload(Signup.attendees),
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
            ", ".join(attendee.email for attendee in signup.attendees),
            signup.status,
            format_moment(signup.session.starts_at, signup.program.zone) if signup.session else "",
            format_moment(signup.created_at, zone),
            format_moment(signup.attested_at, zone),
            signup.staff_notes or "",
            signup.override_reason or "",
        ]
        for signup in signups
    ]
    return EXPORT_HEADER, rows


def possible_duplicates() -> list[DuplicatePair]:
    """Pairs of active signups that may be one organization and that no one has reviewed."""
    signups = db.session.scalars(
        select(Signup)
        .where(Signup.status != SIGNUP_CANCELLED)
        .options(
            joinedload(Signup.program),
            joinedload(Signup.session),
            selectinload(Signup.attendees),
        )
    ).all()
    reviewed = set(
        db.session.execute(
            select(DuplicateReview.first_signup_id, DuplicateReview.second_signup_id)
        ).all()
    )
    by_id = {signup.id: signup for signup in signups}
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
    return [
        DuplicatePair(by_id[pair.first_id], by_id[pair.second_id], pair.reasons)
        for pair in find_possible_duplicates(facts, reviewed)
    ]


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
    _add_review(low, high, DECISION_MERGED, note="", now=now, actor=actor)
    cancel_signup(
        drop,
        now=now,
        actor=actor,
        reason=f"merged into {keep.organization_name} (signup {keep.id})",
    )
    moved = _attendees_to_move(keep, drop)
    people_before = keep.mailboxes
    last = max((attendee.position for attendee in keep.attendees), default=0)
    # Appended, not rebuilt: the kept rows stay, so (signup, email) stays unique at every step.
    keep.attendees.extend(
        Attendee(email=email, position=last + offset) for offset, email in enumerate(moved, 1)
    )
    db.session.flush()
    send_people_update(keep, people_before)
    record(
        "signup.duplicate_merged",
        actor=actor,
        signup=keep,
        merged=f"{drop.organization_name} (signup {drop.id})",
        attendees_added=moved or None,
    )
    return moved


def _ordered_pair(first: Signup, second: Signup) -> tuple[Signup, Signup]:
    if first.id == second.id:
        raise DuplicateReviewError("Choose two different signups.")
    if first.program_id != second.program_id:
        raise DuplicateReviewError("These signups are for different programs.")
    return (first, second) if first.id < second.id else (second, first)


def _add_review(
    low: Signup, high: Signup, decision: str, *, note: str, now: datetime, actor
) -> None:
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


def _attendees_to_move(keep: Signup, drop: Signup) -> list[str]:
    known = {attendee.email.lower() for attendee in keep.attendees}
    known.add(keep.contact_email.lower())
    missing = [attendee.email for attendee in drop.attendees if attendee.email.lower() not in known]
    return missing[: max(MAX_ATTENDEES - len(keep.attendees), 0)]
