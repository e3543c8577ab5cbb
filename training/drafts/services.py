"""Keep a form's entries as a draft for its preview page, find it for its owner only, and
forget drafts once they are old."""

import json
from datetime import datetime, timedelta

from sqlalchemy import delete

from training.drafts.models import Draft
from training.extensions import MAX_ID, db

# A preview is looked at for minutes; a week covers a tab left open over a weekend.
DRAFTS_KEPT = timedelta(days=7)


def save_draft(kind: str, content: dict, *, now: datetime, member=None, signup=None) -> Draft:
    """Keep ``content`` (JSON-able) as a ``kind`` draft of ``member`` (staff) or ``signup`` (an
    organization), and delete every draft older than ``DRAFTS_KEPT`` at ``now``."""
    if (member is None) == (signup is None):
        raise TypeError("a draft belongs to a staff member or to a signup")
    db.session.execute(delete(Draft).where(Draft.created_at < now - DRAFTS_KEPT))
    draft = Draft(
        kind=kind,
        staff_member_id=member.id if member is not None else None,
        signup_id=signup.id if signup is not None else None,
        payload=json.dumps(content),
        created_at=now,
    )
    db.session.add(draft)
    db.session.flush()
    return draft


def draft_of(kind: str, draft_id: object, *, member=None, signup=None) -> Draft | None:
    """The ``kind`` draft ``draft_id`` (a number, or its digits) of ``member`` or ``signup``;
    None for another's, another kind's, one that is gone, or an id that is not one."""
    if isinstance(draft_id, str):
        if not (draft_id.isascii() and draft_id.isdigit() and len(draft_id) < 11):
            return None
        draft_id = int(draft_id)
    if not isinstance(draft_id, int) or not 0 < draft_id <= MAX_ID:
        return None
    draft = db.session.get(Draft, draft_id)
    if draft is None or draft.kind != kind:
        return None
    if member is not None and draft.staff_member_id == member.id:
        return draft
    if signup is not None and draft.signup_id == signup.id:
        return draft
    return None


def mark_used(draft: Draft | None, now: datetime) -> None:
    """Note that the form ``draft`` previewed was acted on (the first time only)."""
    if draft is not None and draft.used_at is None:
        draft.used_at = now
