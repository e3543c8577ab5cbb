"""Manage links: the secret address each signup is managed from, kept only as a hash.

Every page an organization reaches from its manage link (booking, live session, sandbox,
challenges) finds its signup here, through ``signup_or_404``, which also keeps a cancelled
booking's link read-only and tells the holder of a revoked link why it opens nothing.

A link is emailed to everyone on the booking, so when someone leaves it (``revoke_manage_links``)
every link sent so far stops working and the people still on it get a fresh one.
"""

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

from flask import abort, current_app, flash, make_response, redirect, request, url_for
from flask import session as browser_session
from sqlalchemy import select, update

from training.booking.display import possessive
from training.booking.models import ManageLink, Signup, TrainingSession
from training.drawn import sent_not_saved
from training.errors import render_error
from training.extensions import db

# Our tokens (manage links, the calendar feed) are 43 characters; much longer is not one of ours.
MAX_TOKEN_LENGTH = 100
# Where a transaction notes the manage links it revoked: (token hashes, (session id, signup id)
# places), for the live cache (training.live.cache) to forget once it commits.
REVOKED_LINKS = "revoked_manage_links"
# Requests that only read; any other method asks to change something.
READING_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# A random value in this browser's session cookie. With a secret it makes the manage links only
# this browser can find again: a signup's first link, and the new address of a booking whose
# links this browser replaced (``successor_token``).
BROWSER_NONCE_KEY = "submission_nonce"
# How many replacements in a row a browser's old tab is followed through to the new address.
SUCCESSORS_FOLLOWED = 5
# Form fields that are the page's own, not something the person typed or chose.
_NOT_TYPED = frozenset({"csrf_token", "submission_key", "drawn_from", "asked_about", "submit"})
# Fields that name a date by its session id: shown as the date.
_DATE_FIELDS = frozenset({"session_id", "first_choice", "second_choice", "third_choice"})
# (blueprint, field name) -> label, for the forms posted to manage-link addresses
# (``label_sent_fields``); by blueprint, as two features' forms may share a field name.
_SENT_LABELS: dict[tuple[str, str], str] = {}
# (blueprint, field name) -> {value: label} for a field with fixed choices: a choice is given
# back by the words the page shows for it, not by the value the form sends.
_SENT_CHOICES: dict[tuple[str, str], dict[str, str]] = {}


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


def browser_nonce() -> str:
    """This browser session's random value, made the first time it is needed."""
    if not isinstance(browser_session.get(BROWSER_NONCE_KEY), str):
        browser_session[BROWSER_NONCE_KEY] = secrets.token_urlsafe(16)
    return browser_session[BROWSER_NONCE_KEY]


def browser_token(purpose: str, value: str, nonce: str) -> str:
    """A token only the browser holding ``nonce`` can make again: HMAC-SHA256, under the app's
    secret key, of ``purpose``, ``value`` and the nonce (256 bits, 43 URL-safe characters,
    like a random token). The nonce is kept in no database."""
    message = f"{purpose}\0{value}\0{nonce}".encode()
    digest = hmac.new(current_app.secret_key.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def successor_token(token: str, nonce: str) -> str:
    """The link that replaces ``token`` for the browser holding ``nonce`` when it revokes it."""
    return browser_token("manage-link-successor", token, nonce)


def working_token(signup: Signup, token: str) -> str:
    """``token`` if it still opens ``signup``; otherwise (the request that used it revoked it)
    a fresh link for the person who made the change, so they are not shut out by it.

    The fresh link is this browser's successor of ``token``, so another tab of this browser
    still holding ``token`` is led to it (``signup_or_404``) and no other browser can be."""
    if signup_for_token(token) == signup:
        return token
    return issue_manage_link(signup, token=successor_token(token, browser_nonce()))


def _new_address_for_this_browser(signup: Signup, token: str) -> str | None:
    """The link that replaced ``token`` for this browser (followed through the replacements it
    made in a row), when this browser made the change that revoked it; None for any other."""
    nonce = browser_session.get(BROWSER_NONCE_KEY)
    if not isinstance(nonce, str):
        return None
    for _ in range(SUCCESSORS_FOLLOWED):
        token = successor_token(token, nonce)
        found = db.session.execute(
            select(ManageLink.signup_id, ManageLink.revoked_at).where(
                ManageLink.token_hash == hash_token(token)
            )
        ).first()
        if found is None or found.signup_id != signup.id:
            return None
        if found.revoked_at is None:
            return token
    return None


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
        abort(_refuse_revoked(found.Signup, token))
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


def _refuse_revoked(signup: Signup, token: str):
    """The answer to a replaced link. The browser whose change replaced it is led to the new
    address (a page is opened there; a form sent is not acted on, and the page there says what
    was sent). Anyone else gets a 410 saying why, with what a form sent listed so nothing typed
    is lost, and never the new link: a person taken off the booking holds the old one too."""
    sent = _sent_not_saved(signup) if request.method not in READING_METHODS else ""
    new_token = _new_address_for_this_browser(signup, token)
    if new_token is not None:
        if request.method in READING_METHODS:
            path = request.full_path.rstrip("?").replace(token, new_token, 1)
            return redirect(request.script_root + path, code=303)
        flash(
            " ".join(
                filter(
                    None,
                    [
                        "This page's address was replaced when you changed the booking's "
                        "contacts in another tab, so what you sent was not acted on. Here is "
                        "the booking at its new address; make your change again.",
                        sent,
                    ],
                )
            ),
            "error",
        )
        return redirect(url_for("booking.manage", token=new_token), code=303)
    return make_response(
        render_error(
            410,
            "This manage link was replaced",
            " ".join(
                filter(
                    None,
                    [
                        "This manage link was replaced when the booking's contacts changed, so it "
                        "no longer opens the booking. Use the link in your latest email from us "
                        f"about this booking, or ask {signup.program.staff_email}.",
                        sent,
                    ],
                )
            ),
        )
    )


def label_sent_fields(blueprint: str, *forms: type) -> None:
    """Name the fields of ``forms`` (form classes posted to ``blueprint``'s manage-link
    addresses) by their labels, and their fixed choices by the words the page shows, when what
    was sent to a replaced link is given back. Called once at start-up by the features whose
    forms they are (this module sits below them and imports none)."""
    for form in forms:
        for name in dir(form):
            field = getattr(form, name)
            if not hasattr(field, "field_class"):
                continue  # not a field
            label = field.args[0] if field.args else field.kwargs.get("label")
            if isinstance(label, str):
                _SENT_LABELS.setdefault((blueprint, name), label)
            choices = field.kwargs.get("choices")
            if isinstance(choices, (list, tuple)):
                _SENT_CHOICES.setdefault((blueprint, name), dict(map(_choice_shown, choices)))


def _choice_shown(choice) -> tuple[str, str]:
    """A choice as (value sent, label shown)."""
    if hasattr(choice, "label"):
        return str(choice.value), str(choice.label)
    if isinstance(choice, (list, tuple)):
        return str(choice[0]), str(choice[1])
    return str(choice), str(choice)


def _sent_not_saved(signup: Signup) -> str:
    """What a form sent to a replaced link, as "What you sent, not saved: Label: value; …"
    (each field by its label on the page, a choice by its words, a date by its day, a ticked
    box by its label, a file by its name); "" for nothing."""
    bp = request.blueprint
    labels = {name: label for (owner, name), label in _SENT_LABELS.items() if owner == bp}
    changes = []
    for name in request.form:
        values = [value.strip() for value in request.form.getlist(name) if value.strip()]
        if name in _NOT_TYPED or not values:
            continue
        label = labels.get(name, name.replace("_", " ").capitalize())
        if name in _DATE_FIELDS:
            values = [_date_named(signup, value) for value in values]
        if values == ["y"]:
            changes.append(label)  # a box ticked
            continue
        choices = _SENT_CHOICES.get((bp, name), {})
        values = [choices.get(value, value) for value in values]
        changes.append(f"{label}: {', '.join(values)}")
    for name, upload in request.files.items(multi=True):
        if upload.filename:
            changes.append(f"{labels.get(name, 'File')}: {upload.filename}")
    return sent_not_saved(changes)


def _date_named(signup: Signup, value: str) -> str:
    """A date field's value as the date it names (a session of the booking's program)."""
    session = db.session.get(TrainingSession, int(value)) if value.isdigit() else None
    if session is None or session.program_id != signup.program_id:
        return value
    return session.when
