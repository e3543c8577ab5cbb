"""Forms a script sends (the sandbox upload, sent with XMLHttpRequest for its progress bar)
end where the same form sent by the browser ends.

A script follows a redirect itself: the page it fetches there shows, and so uses up, the
messages flashed for it ("What you sent, not saved: …"), and the page the browser then opens
at that address has none. So a request marked with ``SCRIPT_HEADER`` is not redirected:
it gets ``204 No Content`` naming the address in ``GO_TO_HEADER``, and the script opens that
address as a navigation, where the messages show once, as they do without JavaScript.
"""

from flask import Flask, Response, request

SCRIPT_HEADER = "X-Sent-By-Script"
GO_TO_HEADER = "X-Go-To"


def init_app(app: Flask) -> None:
    """Turn a redirect answering a script-sent request into the address the script opens."""

    @app.after_request
    def redirect_as_navigation(response: Response) -> Response:
        if not request.headers.get(SCRIPT_HEADER) or "Location" not in response.headers:
            return response
        if response.status_code not in (301, 302, 303, 307, 308):
            return response
        # The same response made a 204, so every header the other hooks set stays on it.
        response.headers[GO_TO_HEADER] = response.headers.pop("Location")
        response.status_code = 204
        response.set_data(b"")
        return response
