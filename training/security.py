"""Response headers that keep pages, and the manage links in their URLs, to this site."""

from flask import Flask, Response, request

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)


def init_app(app: Flask) -> None:
    """Send the security headers with every response."""

    @app.after_request
    def set_security_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        # Manage links carry their token in the path: never send it to another site.
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.path.startswith("/manage/") or request.endpoint == "booking.signup":
            response.headers["Cache-Control"] = "no-store"
        return response
