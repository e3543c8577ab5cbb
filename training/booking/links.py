"""Manage links: the secret address each signup is managed from, kept only as a hash.

Every page an organization reaches from its manage link (booking, live session, sandbox,
challenges) finds its signup here, through ``signup_or_404``, which also keeps a cancelled
booking's link read-only and tells the holder of a revoked link why it opens nothing.

A link is emailed to everyone on the booking, so when someone leaves it (``revoke_manage_links``)
every link sent so far stops working and the people still on it get a fresh one.
"""

import hashlib
import secrets
from datetime import datetime

from flask import abort, make_response, request, url_for
from sqlalchemy import select, update

from training.booking.display import possessive
from training.booking.models import ManageLink, Signup
from training.errors import render_error
from training.extensions import db

# Our tokens (manage links, the calendar feed) are 43 characters; much longer is not one of ours.
MAX_TOKEN_LENGTH = 100
# Where a transaction notes the manage links it revoked: (token hashes, (session id, signup id)
# places), for the live cache (training.live.cache) to forget once it commits.
REVOKED_LINKS = "revoked_manage_links"
# Requests that only read; any other method asks to change something.
READING_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def hash_token(token: str) -> str:
    """The hex SHA-256 of a secret token: what the database keeps instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_manage_token() -> str:
    """A random manage link token: 256 bits, 43 URL-safe characters."""
    return secrets.token_urlsafe(32)


def issue_manage_link(signup: Signup, *, token: str | None = None) -> str:
    """Create a manage link for ``signup`` and return its token (only its hash is kept).

    The token is random unless given.
    """
    token = token or new_manage_token()
    db.session.add(ManageLink(signup=signup, token_hash=hash_token(token)))
    return token


def signup_for_token(token: str) -> Signup | None:
    """The signup a manage link opens, or None for an unknown or revoked link."""
    return db.session.scalars(
        select(Signup)
        .join(ManageLink)
        .where(ManageLink.token_hash == hash_token(token), ManageLink.revoked_at.is_(None))
    ).first()


def revoke_manage_links(signup: Signup, *, now: datetime) -> int:
    """Stop every manage link of ``signup`` issued so far; the number revoked.

    Links issued after this (in the same transaction too) work. The revoked links' hashes and
    the signup's place are noted in the session (``REVOKED_LINKS``) for the live cache to
    forget them once the transaction commits.
    """
    revoked = db.session.scalars(
        update(ManageLink)
        .where(ManageLink.signup_id == signup.id, ManageLink.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(ManageLink.token_hash)
        .execution_options(synchronize_session=False)
    ).all()
    token_hashes, places = db.session.info.setdefault(REVOKED_LINKS, ([], []))
    token_hashes.extend(revoked)
    if signup.session_id is not None:
        places.append((signup.session_id, signup.id))
    return len(revoked)


def working_token(signup: Signup, token: str) -> str:
    """``token`` if it still opens ``signup``; otherwise (the request that used it revoked it)
    a fresh link for the person who made the change, so they are not shut out by it."""
    if signup_for_token(token) == signup:
        return token
    return issue_manage_link(signup)


def signup_or_404(token: str) -> Signup:
    """The signup a manage link opens; a clear 404 for a link that is not valid, a 410 page
    for a revoked one (saying why, and where a working link is).

    A cancelled booking's link only shows it: a request that would change something (any
    method but GET, HEAD or OPTIONS: a form sent from a page opened before the cancellation, a
    sandbox upload, a call for help) ends here with a 409 page saying the booking is cancelled
    and nothing was saved, before the view reads its form.
    """
    found = None
    if len(token) <= MAX_TOKEN_LENGTH:
        # Revoked links too, in the same query: their holder is told why the link stopped.
        found = db.session.execute(
            select(Signup, ManageLink.revoked_at)
            .join(ManageLink)
            .where(ManageLink.token_hash == hash_token(token))
        ).first()
    if found is not None and found.revoked_at is not None:
        abort(_refuse_revoked(found.Signup))
    signup = found.Signup if found is not None else None
    if signup is None:
        abort(404, description="This manage link is not valid. Check the link in your email.")
    if signup.is_cancelled and request.method not in READING_METHODS:
        abort(_refuse_change_to_cancelled(signup, token))
    return signup


def _refuse_change_to_cancelled(signup: Signup, token: str):
    return make_response(
        render_error(
            409,
            "This booking is cancelled",
            f"{possessive(signup.organization_name)} booking was cancelled, so its manage link "
            "can show it but no longer change anything: nothing was saved. To take part, sign up "
            "again from the session list.",
            back=(url_for("booking.manage", token=token), "See the cancelled booking"),
        )
    )


def _refuse_revoked(signup: Signup):
    return make_response(
        render_error(
            410,
            "This manage link was replaced",
            "This manage link was replaced when the booking's contacts changed, so it no longer "
            "opens the booking. Use the link in your latest email from us about this booking, "
            f"or ask {signup.program.staff_email}.",
        )
    )
