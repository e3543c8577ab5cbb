"""Every state-changing form carries a one-time key; the view acts once per key.

Templates draw ``{{ submission_key() }}`` in each form that changes something (a new random
key each time it is drawn, so two forms on a page never share one). Views that take such forms
are wrapped in ``once_per_submission``: before the view runs, the key is claimed in the
request's own transaction (``training.submissions.services.claim_submission``), so it is kept
exactly when the view commits its change. A copy of a form already acted on does nothing and
is sent where the first answer sent the person. Sign-in and sign-out carry no key: sending
either again changes nothing more.
"""

import hashlib
import secrets
from collections.abc import Callable
from functools import partial, wraps
from urllib.parse import urlsplit

from flask import Flask, Response, flash, g, redirect, request, url_for
from flask_login import current_user
from markupsafe import Markup

from training.errors import render_error
from training.extensions import db
from training.masking import TOKEN_PLACEHOLDER, mask_manage_token
from training.submissions.forms import SubmissionKeyForm
from training.submissions.models import FormSubmission
from training.submissions.services import (
    AlreadySubmitted,
    claim_submission,
    submission_identity,
)

SUBMISSION_KEY = "submission_key"
REPEAT_MESSAGE = "That form was sent twice; it was acted on once."
_NOT_PART_OF_THE_FORM = frozenset({"csrf_token", SUBMISSION_KEY})

RepeatHandler = Callable[[FormSubmission, str], Response]


def init_app(app: Flask) -> None:
    """Offer ``submission_key()`` to templates."""
    app.add_template_global(submission_key_input, "submission_key")


def new_submission_key() -> str:
    return secrets.token_urlsafe(24)


def submission_key_input() -> Markup:
    """A hidden field holding a new one-time key."""
    return Markup('<input name="{}" type="hidden" value="{}">').format(
        SUBMISSION_KEY, new_submission_key()
    )


def once_per_submission(
    view=None,
    *,
    on_repeat: RepeatHandler | None = None,
    leads_to: Callable[[], str] | None = None,
):
    """Let a view act on a posted form at most once per submission key.

    A POST without a valid key gets the 400 "form is out of date" page. A repeat of a form
    already acted on runs ``on_repeat(earlier_submission, key)``; by default it flashes a note
    and redirects (303) to where the first answer went. ``leads_to()``, when given, is where the
    view redirects when it acts (a manage link's token may stand as ``TOKEN_PLACEHOLDER``): the
    claim is written with it, so the commit has no second write to make for it.
    """
    if view is None:
        return partial(once_per_submission, on_repeat=on_repeat, leads_to=leads_to)

    @wraps(view)
    def wrapped(*args, **kwargs):
        if request.method != "POST":
            return view(*args, **kwargs)
        form = SubmissionKeyForm()
        if not form.validate():
            return render_error(
                400,
                "This form is out of date",
                "Please go back, reload the page and send the form again.",
            )
        key = form.submission_key.data
        try:
            g.submission = claim_submission(
                _identity(key),
                endpoint=request.endpoint or "",
                result_path=mask_manage_token(
                    leads_to() if leads_to is not None else _page_the_form_was_on()
                ),
            )
        except AlreadySubmitted as repeat:
            return (on_repeat or redirect_to_first_answer)(repeat.submission, key)
        return view(*args, **kwargs)

    wrapped.once_per_submission = True
    return wrapped


def current_submission_identity() -> str:
    """What names the submission this request is acting on: the hex SHA-256 of its one-time
    key and its content (``submission_identity``).

    Anything kept to recognize the same submission later is keyed on this, never on the key
    alone: a key sent again with other values (an edited form, a replayed key) is another
    submission, and must never find the first one's record.
    """
    return g.submission.key_hash


def current_submission_content() -> str:
    """The hex SHA-256 of what this request's form says, without its one-time key: equal for
    the same form sent again with a new key (Back, then send again), unequal for any edit."""
    return _identity("")


def remember_result(location: str) -> None:
    """Send a repeat of this request's form to ``location`` (kept in the same transaction)."""
    submission = g.get("submission")
    result_path = mask_manage_token(location)
    # Set only when it changed: setting the same value still marks the record for the flush,
    # which the commit would then run for nothing (the usual case: claimed with ``leads_to``).
    if submission is not None and submission.result_path != result_path:
        submission.result_path = result_path


def commit_and_redirect(location: str) -> Response:
    """Commit the request's change and redirect (303) to ``location``, where a repeat goes too."""
    remember_result(location)
    db.session.commit()
    return redirect(location, code=303)


def redirect_to_first_answer(submission: FormSubmission, _key: str) -> Response:
    flash(REPEAT_MESSAGE, "info")
    return redirect(_with_this_token(submission.result_path), code=303)


def _with_this_token(path: str) -> str:
    """The stored path with this request's manage token put back (the repeat came with it)."""
    token = (request.view_args or {}).get("token")
    if TOKEN_PLACEHOLDER not in path:
        return path
    if token is None:
        return url_for("booking.index")
    return path.replace(f"/manage/{TOKEN_PLACEHOLDER}", f"/manage/{token}")


def _identity(key: str) -> str:
    files = []
    for name, upload in request.files.items(multi=True):
        digest = hashlib.sha256()
        for chunk in iter(partial(upload.stream.read, 1 << 16), b""):
            digest.update(chunk)
        upload.stream.seek(0)
        files.append((name, upload.filename or "", digest.digest()))
    return submission_identity(
        key,
        path=request.path,
        account_id=current_user.id if current_user.is_authenticated else None,
        values=entered_values(),
        files=files,
    )


def entered_values() -> list[tuple[str, str]]:
    """The posted form's values as the person entered them: without its CSRF token and
    one-time key, which every form carries."""
    return [
        (name, value)
        for name, value in request.form.items(multi=True)
        if name not in _NOT_PART_OF_THE_FORM
    ]


def _page_the_form_was_on() -> str:
    """Where to send a repeat until the view says better: the page the form came from."""
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path.startswith("/"):
        return referrer.path + (f"?{referrer.query}" if referrer.query else "")
    if request.url_rule is not None and "GET" in (request.url_rule.methods or ()):
        return request.path
    return url_for("staff.home") if request.path.startswith("/staff/") else url_for("booking.index")
