"""The live walkthrough's shared cache: an unchanged participant poll answered before Flask.

A participant's page polls ``/manage/<token>/live/state.json`` every second with the ETag it
has. ``FastPoll`` wraps the WSGI app: for that one path it computes the participant's current
ETag from a Redis hash (one ``HMGET``: the live session's version and the organization's
revision) and answers ``304 Not Modified`` when the ETag is unchanged, without dispatching the
request, opening a database transaction or rendering anything. A changed ETag is answered 200
from the body this process's Flask view rendered for the same session, version and signals
(``keep_body``), with the manage token and fresh one-time submission keys put in and the CSRF
fields left empty (live.js fills them from the page, whose session they belong to). Anything
else, a miss or Redis unreachable, goes on to the Flask view, which reads the database as
before: the polling fallback and the no-JavaScript Refresh are untouched.

The database stays the truth; Redis holds a copy that every process and host shares:

- After a commit that changed a live session (``bump``) or an organization's live row, the new
  version and revisions are read back from the database and written with "set if greater", so a
  value written late never hides a newer one.
- Each full answer and each live page load writes what it read the same way, which fills the
  hash, and mends a copy lost by a process killed between its commit and Redis (as does the
  session's next change).
- A booking that changes (cancelled, moved to another session, deleted) leaves a tombstone in
  place of its revision: for ``TOMBSTONE_SECONDS`` its link takes the full path (which shows a
  cancelled booking no step), whatever a full answer that read the database just before the
  change writes.

The key of the shared state is the signup and session ids a manage token opens, kept under the
token's SHA-256 (never the token): in Redis (``t:{sha256}``, written by the full path for
confirmed bookings only, so every process learns it from any one's answer) and in each
process's bounded map in front of it. A cached answer is never decided from it alone: a moved
or cancelled booking finds a tombstone in the session's hash.

Layout: hash ``{LIVE_CACHE_PREFIX}{session_id}``; field ``v`` the live session's version,
field ``a{signup_id}`` the organization's row: ``revision|needs help (0/1)|reported step id|done
(0/1)|marked helped (0/1)`` (revision ``-1`` before it has a row; a row written before the last
part was added reads as not marked helped, as every row was then), or ``x<unix time>`` for a
tombstone; key ``{LIVE_CACHE_PREFIX}t:{token sha256}``: ``signup_id:session_id``. Both expire
``LIVE_CACHE_SECONDS`` after their last write.
"""

import json
import logging
import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import redis
from flask import Flask, current_app, has_app_context
from sqlalchemy import event, inspect, select, tuple_
from sqlalchemy.orm import Session
from werkzeug.http import parse_etags

from training.booking.links import MAX_TOKEN_LENGTH, REVOKED_LINKS, hash_token
from training.booking.models import SIGNUP_CONFIRMED, Signup
from training.database import BEGIN_DEFERRED, SQLITE_BEGIN
from training.extensions import db
from training.live.board import participant_etag
from training.live.models import LiveAttendance, LiveSession
from training.security import CONTENT_SECURITY_POLICY

log = logging.getLogger(__name__)

EXTENSION = "live_cache"
VERSION_FIELD = b"v"
NO_ROW = -1
TOMBSTONE = "x"
# How long the process leaves Redis alone after an error before trying again (seconds).
RETRY_AFTER_ERROR_SECONDS = 5.0
# How many manage tokens a process remembers (about 200 bytes each), and for how long before it
# asks Redis again (seconds): less than a tombstone lives, so a revoked link, whose shared key is
# deleted and whose row is buried, is refused by every process before the row can come back.
MAPPING_SIZE = 20_000
TOKEN_RECHECK_SECONDS = 10.0

# A tombstone outlives any full answer that read the database before the change and writes
# after it (gunicorn ends a request after 30 s).
TOMBSTONE_SECONDS = 60

# Set each field to its value if that is greater than what the field holds (a missing field is
# smaller). A tombstone ("x" and Redis's clock) is always written, and replaced by a number
# only once it is ARGV[2] seconds old. The hash then lives ARGV[1] more seconds.
_SET_IF_GREATER = """
local now = tonumber(redis.call('TIME')[1])
local function number(text) return tonumber(string.match(text, '^-?%d+')) end
for i = 3, #ARGV, 2 do
  local field, value = ARGV[i], ARGV[i + 1]
  local held = redis.call('HGET', KEYS[1], field)
  if value == 'x' then
    redis.call('HSET', KEYS[1], field, 'x' .. now)
  elseif held == false then
    redis.call('HSET', KEYS[1], field, value)
  elseif string.sub(held, 1, 1) == 'x' then
    if now - tonumber(string.sub(held, 2)) >= tonumber(ARGV[2]) then
      redis.call('HSET', KEYS[1], field, value)
    end
  elseif number(value) > number(held) then
    redis.call('HSET', KEYS[1], field, value)
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""

# Stand-ins in a kept body: the manage token and each one-time submission key.
TOKEN_MARK = "LIVETOKENMARK"  # noqa: S105 (a stand-in, not a secret)
KEY_MARK = "LIVEKEYMARK"
# secrets.token_urlsafe's alphabet: safe in JSON and HTML as it is.
_TOKEN_CHARACTERS = re.compile(r"[A-Za-z0-9_-]+")
# A CSRF token's hidden input as training.forms.Form renders it (no id: a page holds several).
_CSRF_VALUE = re.compile(r'(<input name="csrf_token" type="hidden" value=")[^"]*"')
_KEY_VALUE = re.compile(r'(<input name="submission_key" type="hidden" value=")[^"]*"')
BODIES_SIZE = 2_000

_PATH_PREFIX = "/manage/"
_PATH_SUFFIX = "/live/state.json"
_CHANGES = "live_cache_changes"


class LiveCache:
    """One app's connection to the shared cache, and its process's token map."""

    def __init__(self, url: str, *, prefix: str, seconds: int) -> None:
        self.client = redis.Redis.from_url(
            url, socket_timeout=0.25, socket_connect_timeout=0.25, health_check_interval=0
        )
        self.prefix = prefix
        self.seconds = seconds
        # token SHA-256 -> (signup id, session id, when to ask Redis again: time.monotonic())
        self.tokens: dict[str, tuple[int, int, float]] = {}
        # (session id, version) -> (step id, {(needs help, done, marked helped): JSON body with
        # stand-ins})
        self.bodies: dict[
            tuple[int, int], tuple[int | None, dict[tuple[bool, bool, bool], str]]
        ] = {}
        self._set_if_greater = self.client.register_script(_SET_IF_GREATER)
        self._resting_until = 0.0

    def key(self, session_id: int) -> str:
        """The Redis key of a session's hash."""
        return f"{self.prefix}{session_id}"

    def token_key(self, token_hash: str) -> str:
        """The Redis key naming the signup and session of a manage token (by its SHA-256)."""
        return f"{self.prefix}t:{token_hash}"

    # --- reading (the fast path) ---

    def current(self, token_hash: str) -> "Following | None":
        """The participant's current state from the shared cache, or None when it cannot tell."""
        if time.monotonic() < self._resting_until:
            return None
        try:
            known = self._known_token(token_hash) or self._shared_token(token_hash)
            if known is None:
                return None
            signup_id, session_id = known
            version, row = self.client.hmget(
                self.key(session_id), (VERSION_FIELD, b"a%d" % signup_id)
            )
        except redis.RedisError as error:
            self._rest(error)
            return None
        if version is None or row is None or row.startswith(b"x"):
            return None
        revision, needs_help, reported, done, *helped = row.decode().split("|")
        return Following(
            signup_id=signup_id,
            session_id=session_id,
            version=int(version),
            revision=None if int(revision) == NO_ROW else int(revision),
            needs_help=needs_help == "1",
            reported_step_id=int(reported) if reported else None,
            done=done == "1",
            helped=helped == ["1"],
        )

    def body(self, following: "Following", token: str) -> bytes | None:
        """The 200 answer's body for ``following``, from a body kept at its version; or None."""
        kept = self.bodies.get((following.session_id, following.version))
        if kept is None:
            return None
        step_id, variants = kept
        is_done = following.done and step_id is not None and following.reported_step_id == step_id
        template = variants.get((following.needs_help, is_done, following.was_helped))
        if template is None:
            return None
        pieces = template.replace(TOKEN_MARK, token).split(KEY_MARK)
        keys = (uuid.uuid4().hex for _ in range(len(pieces) - 1))
        return "".join(piece + next(keys, "") for piece in pieces).encode()

    def keep_body(
        self,
        *,
        session_id: int,
        version: int,
        step_id: int | None,
        needs_help: bool,
        is_done: bool,
        was_helped: bool,
        payload: dict,
        token: str,
    ) -> None:
        """Keep a participant's 200 body for every participant with the same signals."""
        if not _TOKEN_CHARACTERS.fullmatch(token) or TOKEN_MARK in token:
            return
        html = _CSRF_VALUE.sub(r'\1"', payload["html"].replace(token, TOKEN_MARK))
        html = _KEY_VALUE.sub(rf'\1{KEY_MARK}"', html)
        template = json.dumps({**payload, "html": html})
        if len(self.bodies) >= BODIES_SIZE:
            self.bodies.clear()
        kept = self.bodies.setdefault((session_id, version), (step_id, {}))
        kept[1][(needs_help, is_done, was_helped)] = template

    # --- writing ---

    def remember(
        self,
        token: str,
        *,
        signup_id: int,
        status: str,
        session_id: int | None,
        version: int | None,
        revision: int | None,
        needs_help: bool = False,
        reported_step_id: int | None = None,
        done: bool = False,
        helped: bool = False,
    ) -> None:
        """Keep what a full answer read from the database: the token's ids and the values."""
        if status != SIGNUP_CONFIRMED or session_id is None or version is None:
            return
        row = _row_field(revision, needs_help, reported_step_id, done, helped)
        self._write(session_id, [("v", version), (f"a{signup_id}", row)])
        token_hash = hash_token(token)
        if self._known_token(token_hash) != (signup_id, session_id):
            try:  # every process learns the token from any one's full answer
                self.client.set(
                    self.token_key(token_hash), f"{signup_id}:{session_id}", ex=self.seconds
                )
            except redis.RedisError as error:
                self._rest(error)
            self._learn(token_hash, (signup_id, session_id))

    def _shared_token(self, token_hash: str) -> tuple[int, int] | None:
        """The token's ids as another process wrote them, kept in this one's map."""
        held = self.client.get(self.token_key(token_hash))
        if held is None:
            return None
        signup_id, session_id = (int(part) for part in held.split(b":"))
        self._learn(token_hash, (signup_id, session_id))
        return signup_id, session_id

    def _known_token(self, token_hash: str) -> tuple[int, int] | None:
        """The token's ids as this process learned them, until it is time to ask Redis again."""
        known = self.tokens.get(token_hash)
        if known is None or known[2] <= time.monotonic():
            return None
        return known[0], known[1]

    def _learn(self, token_hash: str, ids: tuple[int, int]) -> None:
        if len(self.tokens) >= MAPPING_SIZE:
            self.tokens.clear()
        self.tokens[token_hash] = (*ids, time.monotonic() + TOKEN_RECHECK_SECONDS)

    def forget_tokens(self, token_hashes: Iterable[str]) -> None:
        """Drop revoked manage tokens (by SHA-256): from Redis, so no process learns them again,
        and from this process's map."""
        hashes = list(token_hashes)
        for token_hash in hashes:
            self.tokens.pop(token_hash, None)
        if not hashes:
            return
        try:
            self.client.delete(*(self.token_key(token_hash) for token_hash in hashes))
        except redis.RedisError as error:
            self._rest(error)

    def publish(self, sessions: Iterable[int], attendances: Iterable[tuple[int, int]]) -> None:
        """Copy the committed versions and revisions of these sessions and organizations."""
        sessions, attendances = set(sessions), set(attendances)
        fields: dict[int, list[tuple[str, object]]] = {}
        # A read of its own, begun without SQLite's write lock (another may hold it meanwhile).
        with db.engine.connect().execution_options(**{SQLITE_BEGIN: BEGIN_DEFERRED}) as connection:
            if sessions:
                for session_id, version in connection.execute(
                    select(LiveSession.session_id, LiveSession.version).where(
                        LiveSession.session_id.in_(sessions)
                    )
                ):
                    fields.setdefault(session_id, []).append(("v", version))
            if attendances:
                for row in connection.execute(
                    select(
                        LiveAttendance.session_id,
                        LiveAttendance.signup_id,
                        LiveAttendance.revision,
                        LiveAttendance.help_requested_at,
                        LiveAttendance.reported_step_id,
                        LiveAttendance.done_at,
                        LiveAttendance.helped_at,
                    ).where(
                        tuple_(LiveAttendance.session_id, LiveAttendance.signup_id).in_(attendances)
                    )
                ):
                    value = _row_field(
                        row.revision,
                        row.help_requested_at is not None,
                        row.reported_step_id,
                        row.done_at is not None,
                        row.helped_at is not None,
                    )
                    fields.setdefault(row.session_id, []).append((f"a{row.signup_id}", value))
        for session_id, values in fields.items():
            self._write(session_id, values)

    def bury(self, places: Iterable[tuple[int, int]]) -> None:
        """Leave a tombstone for each (session id, signup id): its link takes the full path."""
        for session_id, signup_id in set(places):
            self._write(session_id, [(f"a{signup_id}", TOMBSTONE)])

    def _write(self, session_id: int, values: list[tuple[str, object]]) -> None:
        arguments: list[object] = [self.seconds, TOMBSTONE_SECONDS]
        for field, value in values:
            arguments += [field, value]
        try:
            self._set_if_greater(keys=[self.key(session_id)], args=arguments)
        except redis.RedisError as error:
            self._rest(error)

    def _rest(self, error: Exception) -> None:
        if time.monotonic() >= self._resting_until:
            log.warning(
                "Live cache unavailable (%s); polls take the full path for %.0f s",
                type(error).__name__,
                RETRY_AFTER_ERROR_SECONDS,
            )
        self._resting_until = time.monotonic() + RETRY_AFTER_ERROR_SECONDS


@dataclass(frozen=True)
class Following:
    """A participant's live state as the shared cache holds it."""

    signup_id: int
    session_id: int
    version: int
    revision: int | None
    needs_help: bool
    reported_step_id: int | None
    done: bool
    helped: bool = False

    @property
    def was_helped(self) -> bool:
        """Whether a facilitator marked it helped and it has not asked again since."""
        return self.helped and not self.needs_help

    @property
    def etag(self) -> str:
        """The participant's live page's ETag (as ``board.participant_tag`` gives it)."""
        return participant_etag(
            self.signup_id, SIGNUP_CONFIRMED, self.session_id, self.version, self.revision
        )


def _row_field(
    revision: int | None, needs_help: bool, reported: int | None, done: bool, helped: bool
) -> str:
    revision = NO_ROW if revision is None else revision
    reported_text = "" if reported is None else reported
    return f"{revision}|{int(needs_help)}|{reported_text}|{int(done)}|{int(helped)}"


def live_cache() -> LiveCache | None:
    """The current app's cache, or None when ``LIVE_REDIS_URL`` is not set."""
    return current_app.extensions.get(EXTENSION) if has_app_context() else None


class FastPoll:
    """WSGI middleware: a participant's poll answered before Flask when the cache can.

    Only ``GET /manage/<token>/live/state.json`` of a token this process has seen confirmed is
    answered here: ``304 Not Modified`` when ``If-None-Match`` names the ETag the shared state
    gives, 200 with a kept body for that state; every other request is passed on unchanged.
    """

    def __init__(self, app: Flask, cache: LiveCache) -> None:
        self.wsgi_app = app.wsgi_app
        self.cache = cache

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if (
            environ.get("REQUEST_METHOD") == "GET"
            and path.startswith(_PATH_PREFIX)
            and path.endswith(_PATH_SUFFIX)
        ):
            token = path[len(_PATH_PREFIX) : -len(_PATH_SUFFIX)]
            if token and len(token) <= MAX_TOKEN_LENGTH and _TOKEN_CHARACTERS.fullmatch(token):
                following = self.cache.current(hash_token(token))
                if following is not None:
                    etag = following.etag
                    asked = environ.get("HTTP_IF_NONE_MATCH")
                    if asked and parse_etags(asked).contains(etag):
                        start_response("304 Not Modified", _headers(etag))
                        return [b""]
                    body = self.cache.body(following, token)
                    if body is not None:
                        start_response(
                            "200 OK",
                            [
                                ("Content-Type", "application/json"),
                                ("Content-Length", str(len(body))),
                                *_headers(etag),
                            ],
                        )
                        return [body]
        return self.wsgi_app(environ, start_response)


def _headers(etag: str) -> list[tuple[str, str]]:
    # The headers the Flask view's answers carry (training.security and live.views).
    return [
        ("ETag", f'"{etag}"'),
        ("Cache-Control", "no-store"),
        ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
    ]


# --- Noting changes in the database session, copying them after the commit ---------------------


def note_session_change(session: Session, session_id: int) -> None:
    """Note that live session ``session_id``'s version may change with this transaction."""
    session.info.setdefault(_CHANGES, ([], [], []))[0].append(session_id)


@event.listens_for(Session, "after_flush")
def _note_changes(session: Session, _flush_context) -> None:
    attendances, graves = [], []
    for instance in (*session.new, *session.dirty):
        if isinstance(instance, LiveAttendance):
            attendances.append((instance.session_id, instance.signup_id))
    for instance in session.dirty:  # a new booking has no live state to hide
        if isinstance(instance, Signup):
            state = inspect(instance)
            moved = state.attrs.session_id.history
            if state.attrs.status.history.has_changes() or moved.has_changes():
                graves += [
                    (session_id, instance.id)
                    for session_id in (*moved.deleted, *moved.unchanged, *moved.added)
                    if session_id is not None
                ]
    for instance in session.deleted:
        if isinstance(instance, Signup) and instance.session_id is not None:
            graves.append((instance.session_id, instance.id))
    if attendances or graves:
        noted = session.info.setdefault(_CHANGES, ([], [], []))
        noted[1].extend(attendances)
        noted[2].extend(graves)


@event.listens_for(Session, "after_commit")
def _copy_changes(session: Session) -> None:
    noted = session.info.pop(_CHANGES, None)
    revoked = session.info.pop(REVOKED_LINKS, None)
    cache = live_cache()
    if (noted is None and revoked is None) or cache is None:
        return
    sessions, attendances, graves = noted or ([], [], [])
    if revoked is not None:
        token_hashes, places = revoked
        graves = [*graves, *places]
    try:
        if revoked is not None:
            cache.forget_tokens(token_hashes)
        cache.bury(graves)
        cache.publish(sessions, attendances)
    except Exception:  # the commit stands; the next change or full answer copies it again
        log.exception("Could not copy a live session's change to the live cache")


@event.listens_for(Session, "after_rollback")
def _drop_changes(session: Session) -> None:
    """What a rolled-back transaction noted never happened."""
    session.info.pop(_CHANGES, None)
    session.info.pop(REVOKED_LINKS, None)


def init_app(app: Flask) -> None:
    """Serve unchanged polls from the shared cache when ``LIVE_REDIS_URL`` is set."""
    url = app.config.get("LIVE_REDIS_URL")
    if not url:
        return
    cache = LiveCache(
        url, prefix=app.config["LIVE_CACHE_PREFIX"], seconds=int(app.config["LIVE_CACHE_SECONDS"])
    )
    app.extensions[EXTENSION] = cache
    app.wsgi_app = FastPoll(app, cache)
