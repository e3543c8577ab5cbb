"""Secrets masked out of text meant for logs: manage and feed tokens, search terms, emails.

One function, ``mask_secrets``, serves every log line (the development server's and gunicorn's
request lines, error messages and tracebacks).

A token is masked by its shape as well as by where the app's routes put it: anyone can send
``/manage//<token>``, ``/Manage/<token>``, ``/<token>`` or ``/manage%2F<token>``, and the log
records those paths too. Every token the app makes is 43 URL-safe characters, so any run of 32
or more of them in a path (a hex key of 32 or more digits too) is a token to the log.
"""

import re
from urllib.parse import parse_qsl

TOKEN_PLACEHOLDER = "<token>"  # noqa: S105 (what a log shows instead of a token)
MASKED = "<masked>"
EMAIL_PLACEHOLDER = "<email>"

# Query parameters whose values never hold a person's words or data (pages, filters by code).
SAFE_QUERY_KEYS = frozenset(
    {"page", "status", "session", "severity", "code", "guidance", "action", "since", "until"}
)

_MANAGE_TOKEN = re.compile(r"(/manage/)[^/?#\s\"'<>]+")
_FEED_TOKEN = re.compile(r"(/feeds/sessions/)[^/?#\s\"'<>]+?(\.ics\b|(?=[/?#\s\"'<>]|$))")
_QUERY = re.compile(r"\?([^\s\"'#<>]*)")
# A path or address as a log line holds it, from its first slash (request lines, "Exception on
# /…" messages, the referrer in gunicorn's access log).
_PATH = re.compile(r"/[^\s\"'<>]*")
# In a path: a percent escape (kept as it is, so "%2F" never starts a token), or a long run of
# URL-safe characters, however long.
_ESCAPE_OR_LONG_RUN = re.compile(r"%[0-9A-Fa-f]{2}|[A-Za-z0-9_\-]{32,}")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")


def mask_secrets(text: str) -> str:
    """``text`` with tokens in paths, query values and email addresses masked.

    ``/manage/abc…/sandbox`` becomes ``/manage/<token>/sandbox``, ``/feeds/sessions/abc….ics``
    becomes ``/feeds/sessions/<token>.ics``, any run of 32 or more URL-safe characters in any
    path becomes ``<token>`` (``/manage%2F<token>``, ``/<token>``), ``?q=ana&page=2`` becomes
    ``?q=<masked>&page=2`` (values of ``SAFE_QUERY_KEYS`` stay) and ``ana@example.org``
    becomes ``<email>``.
    """
    text = mask_manage_token(text)
    text = _FEED_TOKEN.sub(r"\1" + TOKEN_PLACEHOLDER + r"\2", text)
    text = _QUERY.sub(lambda match: "?" + mask_query(match.group(1)), text)
    text = _PATH.sub(lambda path: mask_long_runs(path.group()), text)
    return _EMAIL.sub(EMAIL_PLACEHOLDER, text)


def mask_long_runs(path: str) -> str:
    """``path`` with every run of 32 or more URL-safe characters replaced by ``<token>``."""
    return _ESCAPE_OR_LONG_RUN.sub(
        lambda part: part.group() if part.group().startswith("%") else TOKEN_PLACEHOLDER, path
    )


def mask_manage_token(text: str) -> str:
    """``text`` with the token of every manage path replaced by ``<token>``."""
    return _MANAGE_TOKEN.sub(r"\1" + TOKEN_PLACEHOLDER, text)


def mask_query(query: str) -> str:
    """A query string with every value masked except those of ``SAFE_QUERY_KEYS``."""
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    if not pairs:
        return MASKED
    return "&".join(
        f"{key}={value if key in SAFE_QUERY_KEYS and value.isalnum() else MASKED}"
        if key.replace("_", "").replace("-", "").isalnum()
        else MASKED
        for key, value in pairs
    )
