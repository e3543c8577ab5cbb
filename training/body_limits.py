"""How large a request's body may be: a form's few hundred kilobytes (``MAX_CONTENT_LENGTH``),
unless its view is marked ``@takes_upload``; and the 413 page worded for what was sent.

Werkzeug answers 413 when a body is longer than ``request.max_content_length`` (the one bound
on a urlencoded form, which is read whole) or when a text field of a multipart body is longer
than ``request.max_form_memory_size`` (``MAX_FORM_MEMORY_SIZE``), whatever the view. A view that
takes a file raises the first to its own limit before anything reads the body.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from flask import Flask, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from training.errors import MESSAGES, render_error

View = TypeVar("View", bound=Callable)


@dataclass(frozen=True)
class Upload:
    """What a view that takes a file allows: ``max_bytes()`` for the whole request, read as
    each request comes (the setting may change), and ``too_large()``, its own 413 page."""

    max_bytes: Callable[[], int]
    too_large: Callable[[], object]


def takes_upload(max_bytes: Callable[[], int], too_large: Callable[[], object]):
    """Mark a view that takes a file: its request may be up to ``max_bytes()`` long, and a
    longer one gets ``too_large()``, the page naming the file limit."""

    def mark(view: View) -> View:
        view.takes_upload = Upload(max_bytes, too_large)  # type: ignore[attr-defined]
        return view

    return mark


def _upload() -> Upload | None:
    """What the current request's view allows as an upload, or None: it takes a form."""
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "takes_upload", None)


def init_app(app: Flask) -> None:
    """Give an upload view's request its limit (call before ``csrf.init_app``: its check is the
    first to read a form), and answer a body too large with the page of its kind."""

    @app.before_request
    def allow_upload() -> None:
        if (upload := _upload()) is not None:
            request.max_content_length = upload.max_bytes()

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_error: RequestEntityTooLarge):
        upload = _upload()
        length = request.content_length
        # An upload within its limit was refused for a text field above MAX_FORM_MEMORY_SIZE.
        if upload is not None and (length is None or length > upload.max_bytes()):
            return upload.too_large()
        return render_error(413, *MESSAGES[413])
