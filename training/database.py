"""How transactions lock an SQLite database: reads take no write lock, writes take it up front.

SQLite lets one connection write at a time. A transaction that reads and then writes must hold
the write lock from its ``BEGIN`` (``BEGIN IMMEDIATE``): one that upgrades a read lock to a
write lock later fails at once with "database is locked" when another connection wrote in the
meantime, without waiting out the busy timeout. That lock also keeps capacity and uniqueness
under concurrency, the way row locks do on PostgreSQL. A transaction that only reads, or whose
first statement writes, needs no lock up front (a deferred ``BEGIN``): in WAL mode readers and
the one writer do not wait for each other.

So on SQLite (PostgreSQL is untouched):

- transactions begin ``IMMEDIATE`` unless something says they read first: the transactions of
  a GET, HEAD or OPTIONS request (a GET view that writes after reading, such as a download
  noted in the audit log, is marked ``@writes_after_reading``), and code run inside
  ``deferred_transactions()`` (the workers' long reads). The request is asked at each
  ``BEGIN``, and a body streamed after its view returned (a findings CSV, read in batches while
  it is sent, even for a view that wrote first) only reads: it begins deferred. Holding the
  lock, such a download kept every other writer waiting for as long as it took;
- a deferred transaction that writes after reading raises ``ReadThenWriteWarning`` in tests
  (pytest turns warnings into errors), naming the statement that should have been declared;
- file databases use WAL with ``synchronous=NORMAL``: a commit survives a crash of the
  process, and a power cut can lose only the last commits, never corrupt the file.

On PostgreSQL, a transaction that sent only SELECTs ends with COMMIT rather than ROLLBACK, so
psycopg keeps the statements it prepared (``configure_psycopg``).
"""

import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import TypeVar

import psycopg
from flask import Flask, current_app, g, has_request_context, request
from psycopg.pq import TransactionStatus
from sqlalchemy import BindParameter, Table, bindparam, event
from sqlalchemy.engine import Engine

BEGIN_IMMEDIATE = "IMMEDIATE"
BEGIN_DEFERRED = "DEFERRED"
# An execution option naming how one connection's transactions begin, ahead of the default.
SQLITE_BEGIN = "sqlite_begin"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Set by ``deferred_transactions()``; unset, the request (if any) decides, else IMMEDIATE.
_default_begin: ContextVar[str | None] = ContextVar("sqlite_begin", default=None)
_WRITE_STATEMENT = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
# What a connection's current transaction has done, kept in its ``info``.
_STATE = "training_transaction"
_LOCKED, _NOTHING_YET, _READ = "holds the write lock", "nothing yet", "read"
# PostgreSQL: whether the connection's current transaction has sent anything but a SELECT.
_SENT_MORE_THAN_SELECT = "training_sent_more_than_select"
_SELECT_STATEMENT = re.compile(r"\s*SELECT\b", re.IGNORECASE)

View = TypeVar("View", bound=Callable)


class ReadThenWriteWarning(UserWarning):
    """A transaction begun without the write lock wrote after reading (SQLite)."""


def configure_sqlite(engine: Engine, *, busy_timeout_ms: int) -> None:
    """Set up an SQLite engine: foreign keys, the busy timeout, WAL for a file, and how each
    transaction begins (see the module's docstring)."""
    in_memory = engine.url.database in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" below sends BEGIN
        dbapi_connection.execute("PRAGMA foreign_keys = ON")
        dbapi_connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if not in_memory:
            dbapi_connection.execute("PRAGMA journal_mode = WAL")
            dbapi_connection.execute("PRAGMA synchronous = NORMAL")

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        mode = (
            connection.get_execution_options().get(SQLITE_BEGIN)
            or _default_begin.get()
            or _request_begin()
        )
        if mode not in (BEGIN_IMMEDIATE, BEGIN_DEFERRED):
            raise ValueError(f"{SQLITE_BEGIN} must be {BEGIN_IMMEDIATE} or {BEGIN_DEFERRED}")
        connection.info[_STATE] = _LOCKED  # BEGIN itself is no read
        connection.exec_driver_sql(f"BEGIN {mode}")
        connection.info[_STATE] = _LOCKED if mode == BEGIN_IMMEDIATE else _NOTHING_YET

    @event.listens_for(engine, "before_cursor_execute")
    def _on_statement(connection, _cursor, statement, _parameters, _context, _executemany):
        state = connection.info.get(_STATE, _LOCKED)
        if state == _LOCKED:
            return
        if _WRITE_STATEMENT.match(statement):
            connection.info[_STATE] = _LOCKED
            if state == _READ:
                warnings.warn(
                    "a transaction begun without the write lock wrote after reading; under "
                    "load it fails with 'database is locked'. Begin it IMMEDIATE (a POST, "
                    "@writes_after_reading, or outside deferred_transactions()): "
                    + statement.split("\n", 1)[0][:80],
                    ReadThenWriteWarning,
                    stacklevel=2,
                )
        else:
            connection.info[_STATE] = _READ


def configure_psycopg(engine: Engine) -> None:
    """Set up a PostgreSQL engine (psycopg): its connections read times in UTC, and a
    transaction that sent only SELECTs ends with COMMIT instead of ROLLBACK, so the connection
    keeps its prepared statements.

    Each connection asks for the session time zone UTC when it opens (``options``, no round
    trip). psycopg reads a ``timestamptz`` in the session's zone: on a server set to another
    one (``Etc/UTC`` counts as another), each value was built in that ``ZoneInfo`` and then
    moved to UTC again by ``UTCDateTime``, about 0.2 ms of CPU for the current program and its
    sessions (120 times) on every page. In UTC both steps are skipped. No SQL here does date
    arithmetic in the session's zone: dates are worked out in Python, in the program's zone.

    psycopg prepares a statement on the server once a connection has run it five times
    (``prepare_threshold``); later runs skip PostgreSQL's parse and plan, about half of a
    signup's time in the database. But psycopg forgets every prepared statement, and every
    count towards one, at each ROLLBACK, and SQLAlchemy ends a transaction it was not asked to
    commit with one: every request that only reads (``/healthz``, each page) did, so no
    statement was ever prepared. For a transaction of SELECTs alone, COMMIT and ROLLBACK end
    it the same way (its locks are released, nothing was written; this app's SELECTs call no
    function that writes). A transaction that sent anything else, or failed, still rolls back.
    """

    @event.listens_for(engine, "do_connect")
    def _in_utc(_dialect, _record, _args, parameters):
        parameters["options"] = f"{parameters.get('options', '')} -c TimeZone=UTC".lstrip()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.info[_SENT_MORE_THAN_SELECT] = False

    @event.listens_for(engine, "before_cursor_execute")
    def _on_statement(connection, _cursor, statement, _parameters, _context, _executemany):
        if not _SELECT_STATEMENT.match(statement):
            connection.info[_SENT_MORE_THAN_SELECT] = True

    @event.listens_for(engine, "rollback")
    def _on_rollback(connection):
        if connection.invalidated or connection.info.get(_SENT_MORE_THAN_SELECT, True):
            return  # a connection found broken is only discarded
        driver_connection = connection.connection.driver_connection
        if driver_connection.info.transaction_status != TransactionStatus.INTRANS:
            return  # failed (INERROR) or already ended: the rollback proceeds as asked
        # A broken connection: the rollback that follows meets the same error.
        with suppress(psycopg.Error):
            driver_connection.commit()  # the ROLLBACK that follows finds nothing to end


@contextmanager
def deferred_transactions() -> Iterator[None]:
    """Begin the transactions started inside without SQLite's write lock: for code that reads,
    or whose transactions write first (each takes the lock at its first write)."""
    token = _default_begin.set(BEGIN_DEFERRED)
    try:
        yield
    finally:
        _default_begin.reset(token)


def writes_after_reading(view: View) -> View:
    """Mark a GET view that writes after reading: its request's transactions begin with the
    write lock, like a POST's."""
    view.writes_after_reading = True  # type: ignore[attr-defined]
    return view


def init_app(app: Flask) -> None:
    """Note when a request's view has returned (see ``_request_begin``)."""

    @app.teardown_request
    def _view_returned(_error=None):
        # Flask tears a request down before it sends a streamed body, then pushes its contexts
        # again (the same ``g``) to run the body's generator.
        g.sqlite_view_returned = True


def _request_begin() -> str:
    """How the current request's transactions begin: deferred for a GET, HEAD or OPTIONS
    request whose view is not marked ``@writes_after_reading``, and for a body streamed after
    its view returned; outside a request, IMMEDIATE."""
    if not has_request_context():
        return BEGIN_IMMEDIATE
    if g.get("sqlite_view_returned"):
        return BEGIN_DEFERRED
    view = current_app.view_functions.get(request.endpoint or "")
    if request.method in SAFE_METHODS and not getattr(view, "writes_after_reading", False):
        return BEGIN_DEFERRED
    return BEGIN_IMMEDIATE


def column_parameters(
    table: Table, prefix: str = "", *, leave_out: tuple[str, ...] = ()
) -> dict[str, BindParameter]:
    """A bound parameter for each column of ``table`` but its primary key and ``leave_out``,
    named ``prefix`` + the column and typed as it: the values of an INSERT built once (its
    compiled form cached) and given its rows when executed."""
    return {
        column.key: bindparam(prefix + column.key, type_=column.type)
        for column in table.columns
        if not column.primary_key and column.key not in leave_out
    }
