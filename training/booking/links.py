"""Manage links: the secret address each signup is managed from, kept only as a hash.

Every page an organization reaches from its manage link (booking, live session, sandbox,
challenges) finds its signup here, through ``signup_or_404``, which also keeps a cancelled
booking's link read-only.
"""

import hashlib
import secrets

from flask import abort, make_response, request, url_for
from sqlalchemy import select

from training.booking.display import possessive
from training.booking.models import ManageLink, Signup
from training.errors import render_error
from training.extensions import db

# Our tokens (manage links, the calendar feed) are 43 characters; much longer is not one of ours.
MAX_TOKEN_LENGTH = 100
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
    """The signup a manage link opens, or None for an unknown link."""
    return db.session.scalars(
        select(Signup).join(ManageLink).where(ManageLink.token_hash == hash_token(token))
    ).first()


def signup_or_404(token: str) -> Signup:
    """The signup a manage link opens; a clear 404 for a link that is not valid.

    A cancelled booking's link only shows it: a request that would change something (any
    method but GET, HEAD or OPTIONS: a form sent from a page opened before the cancellation, a
    sandbox upload, a call for help) ends here with a 409 page saying the booking is cancelled
    and nothing was saved, before the view reads its form.
    """
    signup = signup_for_token(token) if len(token) <= MAX_TOKEN_LENGTH else None
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
