"""Noting that a worker is alive, and telling staff which workers are."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from training.extensions import db
from training.workers.models import WorkerHeartbeat

MAIL_WORKER = "mail"
SANDBOX_WORKER = "sandbox"
# The workers `make run` and the README's production section start, with their commands.
WORKERS = {
    MAIL_WORKER: "flask --app training mail deliver --watch",
    SANDBOX_WORKER: "flask --app training sandbox work --watch",
}


@dataclass(frozen=True)
class WorkerSeen:
    """A worker as staff see it: when it was last seen (None: never) and whether that is too
    long ago."""

    name: str
    command: str
    last_seen_at: datetime | None
    is_stale: bool


def note_seen(name: str, now: datetime) -> None:
    """Record that the worker ``name`` is running at ``now`` (its first statement writes, so
    it waits its turn for SQLite's write lock rather than failing). The caller commits."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(WorkerHeartbeat).values(name=name, last_seen_at=now)
    db.session.execute(
        statement.on_conflict_do_update(
            index_elements=[WorkerHeartbeat.name],
            set_={"last_seen_at": statement.excluded.last_seen_at},
        )
    )


def stale_threshold() -> timedelta:
    """How long a worker may go unseen before staff are warned (WORKER_STALE_SECONDS)."""
    return timedelta(seconds=float(current_app.config["WORKER_STALE_SECONDS"]))


def workers_seen(now: datetime, *, stale_after: timedelta | None = None) -> list[WorkerSeen]:
    """Every known worker, and any other that left a heartbeat, by name; stale when not seen
    within ``stale_after`` (default: ``stale_threshold()``) or never."""
    stale_after = stale_threshold() if stale_after is None else stale_after
    seen = dict(
        db.session.execute(select(WorkerHeartbeat.name, WorkerHeartbeat.last_seen_at)).all()
    )
    names = list(WORKERS) + sorted(set(seen) - set(WORKERS))
    return [
        WorkerSeen(
            name,
            WORKERS.get(name, ""),
            seen.get(name),
            seen.get(name) is None or now - seen[name] > stale_after,
        )
        for name in names
    ]


def stalled_worker(name: str, now: datetime) -> WorkerSeen | None:
    """The worker ``name`` when it has not been seen within ``stale_threshold()`` (or never), for
    a page whose work waits on it to say so; None while it runs."""
    last_seen_at = db.session.scalar(
        select(WorkerHeartbeat.last_seen_at).where(WorkerHeartbeat.name == name)
    )
    if last_seen_at is not None and now - last_seen_at <= stale_threshold():
        return None
    return WorkerSeen(name, WORKERS.get(name, ""), last_seen_at, is_stale=True)


def seen_ago(seen: datetime, now: datetime) -> str:
    """How long ago ``seen`` was, in words a person reads at a glance ("40 s ago", "3 min
    ago", "2 h ago", "5 days ago")."""
    return f"{_span(now - seen)} ago"


def seen_in(moment: datetime, now: datetime) -> str:
    """How long until ``moment``, as ``seen_ago`` words it ("in 4 min")."""
    return f"in {_span(moment - now)}"


def _span(elapsed: timedelta) -> str:
    seconds = max(int(elapsed.total_seconds()), 0)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"
