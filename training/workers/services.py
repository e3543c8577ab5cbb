"""Noting that a worker is alive, and telling staff which workers are."""

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select
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
    """A worker process as staff see it (host and process id; None: no process of its kind
    was ever seen), when it was last seen and whether that is too long ago; stopped is stale
    while another process of its kind runs."""

    name: str
    command: str
    last_seen_at: datetime | None
    is_stale: bool
    host: str | None = None
    pid: int | None = None
    others_running: bool = False

    @property
    def is_stopped(self) -> bool:
        """Not seen lately while another worker of its kind is: that one still does the work."""
        return self.is_stale and self.others_running


def note_seen(name: str, now: datetime, *, host: str | None = None, pid: int | None = None) -> None:
    """Record that this process (or ``host`` and ``pid``), a worker ``name``, is running at
    ``now``, and forget processes of its kind not seen for WORKER_FORGET_SECONDS (its first
    statement writes, so it waits its turn for SQLite's write lock rather than failing). The
    caller commits."""
    host = socket.gethostname() if host is None else host
    pid = os.getpid() if pid is None else pid
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(WorkerHeartbeat).values(name=name, host=host, pid=pid, last_seen_at=now)
    db.session.execute(
        statement.on_conflict_do_update(
            index_elements=[WorkerHeartbeat.name, WorkerHeartbeat.host, WorkerHeartbeat.pid],
            set_={"last_seen_at": statement.excluded.last_seen_at},
        )
    )
    forget_after = forget_threshold()
    db.session.execute(
        delete(WorkerHeartbeat).where(
            WorkerHeartbeat.name == name, WorkerHeartbeat.last_seen_at < now - forget_after
        )
    )


def stale_threshold() -> timedelta:
    """How long a worker may go unseen before staff are warned (WORKER_STALE_SECONDS)."""
    return timedelta(seconds=float(current_app.config["WORKER_STALE_SECONDS"]))


def forget_threshold() -> timedelta:
    """How long a worker process may go unseen before it is dropped from the list
    (WORKER_FORGET_SECONDS)."""
    return timedelta(seconds=float(current_app.config["WORKER_FORGET_SECONDS"]))


def workers_seen(now: datetime, *, stale_after: timedelta | None = None) -> list[WorkerSeen]:
    """Every process of every known kind of worker, and of any other kind that left a
    heartbeat, by kind and latest first (a kind never seen: one entry without a process);
    stale when not seen within ``stale_after`` (default: ``stale_threshold()``) or never.
    Processes not seen for WORKER_FORGET_SECONDS are left out."""
    stale_after = stale_threshold() if stale_after is None else stale_after
    forget_after = forget_threshold()
    rows = db.session.execute(
        select(WorkerHeartbeat)
        .where(WorkerHeartbeat.last_seen_at >= now - forget_after)
        .order_by(WorkerHeartbeat.last_seen_at.desc(), WorkerHeartbeat.host, WorkerHeartbeat.pid)
    ).scalars()
    by_name: dict[str, list[WorkerHeartbeat]] = {}
    for row in rows:
        by_name.setdefault(row.name, []).append(row)
    names = list(WORKERS) + sorted(set(by_name) - set(WORKERS))
    seen = []
    for name in names:
        processes = by_name.get(name, [])
        if not processes:
            seen.append(WorkerSeen(name, WORKERS.get(name, ""), None, True))
            continue
        stale = [now - process.last_seen_at > stale_after for process in processes]
        running = stale.count(False)
        seen += [
            WorkerSeen(
                name,
                WORKERS.get(name, ""),
                process.last_seen_at,
                is_stale,
                host=process.host,
                pid=process.pid,
                others_running=running > (0 if is_stale else 1),
            )
            for process, is_stale in zip(processes, stale, strict=True)
        ]
    return seen


def stalled_worker(name: str, now: datetime) -> WorkerSeen | None:
    """The worker ``name`` when it has not been seen within ``stale_threshold()`` (or never), for
    a page whose work waits on it to say so; None while it runs."""
    last_seen_at = db.session.scalar(
        select(func.max(WorkerHeartbeat.last_seen_at)).where(WorkerHeartbeat.name == name)
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
