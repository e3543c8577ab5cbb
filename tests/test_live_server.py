"""The browser tests' server: what it does when a browser goes away in the middle of a response."""

import socket
import struct
import threading

from conftest import live_server
from flask import Response


class Body:
    """A response body that says when it is closed (as a static file's open file is)."""

    def __init__(self, browser_gone: threading.Event) -> None:
        self.browser_gone = browser_gone
        self.closed = threading.Event()

    def __iter__(self):
        yield b"body { color: black; }"
        # The browser has taken the bytes and reset the connection (it left the page).
        self.browser_gone.wait(timeout=10)

    def close(self) -> None:
        self.closed.set()


def test_a_response_is_closed_when_the_browser_resets_the_connection_after_reading_it(
    make_live_app,
):
    browser_gone = threading.Event()
    body = Body(browser_gone)
    app = make_live_app()
    app.add_url_rule(
        "/style.css",
        "test_style",
        lambda: Response(body, headers={"Content-Length": "22"}, mimetype="text/css"),
    )

    with live_server(app) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as browser:
            browser.sendall(b"GET /style.css HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            received = b""
            while not received.endswith(b"black; }"):
                received += browser.recv(4096)
            # Leave at once: the kernel answers the server with a reset, not a goodbye.
            browser.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        browser_gone.set()
        assert body.closed.wait(timeout=10), "the response was left open"
