"""Error pages that tell a person what happened and what to do next, and ``Refused``, the
base of every rule's refusal, which views turn into a message instead of an error page."""

import time
from contextlib import suppress

from flask import Flask, current_app, jsonify, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from training.extensions import db, limiter


class Refused(Exception):
    """A rule refused the change; the message says why, in words for the person.

    Each feature's errors derive from it (``BookingError``, ``LiveError``, ``SandboxError``...);
    ``training.edge.carry_out`` rolls the request back and shows the message.
    """


MESSAGES = {
    400: (
        "Something was wrong with that request",
        "Please go back, reload the page and try again.",
    ),
    403: (
        "This page is not open to your account",
        "Your staff role does not include it, or the session is not one assigned to you. "
        "Ask an admin if you need it.",
    ),
    404: ("Page not found", "We could not find that page. Check the link, or start from the list."),
    405: ("That action is not available here", "Please use the buttons on the page."),
    413: (
        "That form is too large",
        "It holds far more than any form here takes, so nothing in it was saved. Go back with "
        "your browser's Back button (what you typed is usually still there), shorten the text "
        "or send a long list in smaller parts, and send the form again.",
    ),
    429: ("Too many attempts", "Please wait a little and try again."),
    500: ("Something went wrong on our side", "Nothing you entered is lost; please try again."),
}


def init_app(app: Flask) -> None:
    """Answer CSRF failures, HTTP errors and server errors with the error page."""

    @app.errorhandler(CSRFError)
    def csrf_error(_error):
        return render_error(
            400,
            "This form has expired",
            "For your security, forms expire when your browser session ends. "
            "Please go back, reload the page and submit it again.",
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        title, message = MESSAGES.get(error.code or 500, (error.name, error.description))
        if error.code == 404 and error.description != type(error).description:
            message = error.description  # the page said what is not there, and why
        if error.code == 429 and limiter.current_limit is not None:
            message = wait_message(limiter.current_limit.reset_at - time.time())
        back = None
        if error.code == 405 and request.method in ("GET", "HEAD"):
            # An address a form posts to, opened again (a restored tab, a copied address).
            message = "This address only takes a form sent from its page."
            if (page := page_above(request.path)) is not None:
                back = (page, "Go back to that page")
        return render_error(error.code or 500, title, message, back=back)

    @app.errorhandler(500)
    def server_error(_error):
        with suppress(SQLAlchemyError):  # a lost connection needs no rollback; the page no database
            db.session.rollback()
        return render_error(500, *MESSAGES[500])


def page_above(path: str) -> str | None:
    """The nearest address above ``path`` (``/manage/<token>/contacts`` → ``/manage/<token>``)
    that a browser can open (a GET route), or None."""
    adapter = current_app.url_map.bind("localhost")
    parts = path.rstrip("/").split("/")
    while len(parts) > 2:
        parts.pop()
        candidate = "/".join(parts)
        try:
            adapter.match(candidate, method="GET")
        except RequestRedirect:  # the same page with a slash at the end
            return f"{candidate}/"
        except HTTPException:
            continue
        return candidate
    return None


def wait_message(seconds: float) -> str:
    """What the rate-limit page says about a wait of ``seconds`` (the limit's reset time less
    now, as the Retry-After header counts it), to the nearest minute or, from 90 minutes, hour."""
    minutes = max(round(seconds / 60), 1)
    if minutes == 1:
        return "Please wait a minute and try again."
    if minutes < 90:
        return f"Too many attempts for now. Try again in about {minutes} minutes."
    return f"Too many attempts for now. Try again in about {round(minutes / 60)} hours."


def wants_json() -> bool:
    """Whether the request is a page's polling: a ``.json`` address, or JSON asked for first
    (poll.js sends ``Accept: application/json``)."""
    if request.path.endswith(".json"):
        return True
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == (
        "application/json"
    )


def render_error(status: int, title: str, message: str, *, back: tuple[str, str] | None = None):
    """The error page; if even it cannot be drawn, a plain one, never a second error.

    ``back`` is (URL, link text) of the page the person came from, offered before the session
    list. A page's polling (``wants_json``) gets the same title, message and way back as JSON,
    which its script shows in place of the content it can no longer follow.
    """
    if wants_json():
        way_back = {"back": {"url": back[0], "text": back[1]}} if back else {}
        return jsonify(error=title, message=message, **way_back), status
    try:
        # Signed-in staff keep their console's navigation and sign-out, unless the server failed.
        staff = status < 500 and current_user.is_authenticated
        template = "errors/staff_error.html" if staff else "errors/error.html"
        page = render_template(template, title=title, message=message, back=back)
        return page, status
    except Exception:  # whatever broke, a second error here would answer 500
        current_app.logger.exception("The %s error page could not be drawn", status)
        page = Markup(
            '<!doctype html><html lang="en"><meta charset="utf-8"><title>{0}</title>'
            "<h1>{0}</h1><p>{1}</p></html>"
        ).format(title, message)
        return page, status, {"Content-Type": "text/html; charset=utf-8"}
