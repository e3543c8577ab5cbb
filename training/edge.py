"""The edge of a request that changes data: run the service, then commit, or roll back and say
why, in the spirit of Indico's request handler committing once at the edge.

Services flush and raise ``Refused`` (a rule said no); they never commit. Every view that
changes data ends through ``carry_out``, so a request commits exactly once, after its service
succeeded, and a refused change leaves nothing behind (the form's one-time key included, so the
person can send the corrected form again).
"""

from collections.abc import Callable
from typing import TypeVar

from flask import flash, redirect
from flask.typing import ResponseReturnValue

from training.errors import Refused
from training.extensions import db
from training.submissions.guard import commit_and_redirect

Result = TypeVar("Result")
Page = Callable[[], ResponseReturnValue]
RefusalAnswer = Callable[[Refused], ResponseReturnValue]

__all__ = ["Refused", "carry_out", "flashed_above", "shown_under"]


def carry_out(
    change: Callable[[], Result],
    *,
    redirect_to: str | Callable[[Result], str] | None = None,
    respond: Callable[[Result], ResponseReturnValue] | None = None,
    done: str | Callable[[Result], str | None] | None = None,
    refused: str | Callable[[Refused], ResponseReturnValue] | None = None,
    after: Callable[[Result], object] | None = None,
) -> ResponseReturnValue:
    """Run ``change`` (one service call), then end the request with one commit or a rollback.

    When it succeeds: flash ``done`` (a message, or one made from the change's result), commit,
    run ``after(result)`` (work that must follow the commit, like judging a small upload while
    the person waits), and redirect (303) to ``redirect_to`` (a URL, or one made from the
    result), where a repeat of the same form is sent too; or, with ``respond``, return
    ``respond(result)`` instead (a download, a page shown once).

    When a rule refuses it (``Refused``): roll back all the request wrote, then return
    ``refused(error)``, or flash the error and redirect to ``refused`` (a URL) or, by default,
    to ``redirect_to``. Any other exception propagates to the 500 page, which rolls back.
    """
    if (redirect_to is None) == (respond is None):
        raise TypeError("carry_out needs either redirect_to or respond")
    try:
        result = change()
    except Refused as error:
        db.session.rollback()
        if callable(refused):
            return refused(error)
        back = refused if refused is not None else redirect_to
        if not isinstance(back, str):
            raise TypeError("a refused change needs a page to go back to") from error
        flash(str(error), "error")
        return redirect(back, code=303)
    message = done(result) if callable(done) else done
    if message:
        flash(message, "success")
    if respond is not None:
        db.session.commit()
        if after is not None:
            after(result)
        return respond(result)
    location = redirect_to(result) if callable(redirect_to) else redirect_to
    response = commit_and_redirect(location)
    if after is not None:
        after(result)
    return response


def flashed_above(page: Page) -> RefusalAnswer:
    """A ``refused`` answer: ``page()``, drawn with the refusal's message flashed above it."""

    def answer(error: Refused) -> ResponseReturnValue:
        flash(str(error), "error")
        return page()

    return answer


def shown_under(field, page: Page) -> RefusalAnswer:
    """A ``refused`` answer: ``page()``, drawn with the refusal's message under the form's
    ``field``, as its own validators' messages are."""

    def answer(error: Refused) -> ResponseReturnValue:
        field.errors.append(str(error))
        return page()

    return answer
