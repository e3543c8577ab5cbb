"""The loop each ``--watch`` worker runs: a heartbeat, one round of work, a pause; an error that
may pass is logged (its kind, never its data), waited out with a growing pause, and survived."""

import smtplib
import time
from collections.abc import Callable
from datetime import datetime

from flask import current_app
from sqlalchemy.exc import OperationalError

from training.extensions import db, utcnow
from training.workers.services import note_seen

# Errors a later round may not meet: a locked or unreachable database, a mail server that hung
# up or timed out. Anything else is a bug and stops the worker, for its supervisor to restart.
TRANSIENT_ERRORS = (OperationalError, smtplib.SMTPException, ConnectionError, TimeoutError)


def pause_after(failures: int, interval: float, longest: float) -> float:
    """Seconds to wait before the next round: ``interval``, doubled for each failure in a row
    (``interval`` × 2, × 4...), at most ``longest``."""
    if failures == 0:
        return interval
    return min(interval * 2**failures, max(longest, interval))


def describe(error: BaseException) -> str:
    """What to log of a transient error: its kind, and for a database error the driver's first
    line ("database is locked"); no statement, values or addresses."""
    if isinstance(error, OperationalError):
        detail = str(error.orig).strip().splitlines()[0][:200] if str(error.orig).strip() else ""
        return f"{type(error.orig).__name__}: {detail}" if detail else type(error.orig).__name__
    return type(error).__name__


def run(
    name: str,
    work: Callable[[], None],
    *,
    interval: float,
    should_stop: Callable[[], bool],
    now: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Until ``should_stop()``: note the worker ``name`` as seen, run ``work()``, wait
    ``interval`` seconds. A transient error (``TRANSIENT_ERRORS``) rolls back, is logged as a
    warning and makes the next waits longer (up to WORKER_MAX_BACKOFF_SECONDS) until a round
    succeeds. Each round gets a fresh database session."""
    longest = float(current_app.config["WORKER_MAX_BACKOFF_SECONDS"])
    failures = 0
    while not should_stop():
        try:
            note_seen(name, now())
            db.session.commit()
            work()
        except TRANSIENT_ERRORS as error:
            db.session.rollback()
            failures += 1
            current_app.logger.warning(
                "%s worker: %s; trying again in %g s",
                name,
                describe(error),
                pause_after(failures, interval, longest),
            )
        else:
            if failures:
                current_app.logger.info("%s worker: working again", name)
            failures = 0
        finally:
            db.session.remove()  # no stale rows in a long-lived worker
        if not should_stop():
            sleep(pause_after(failures, interval, longest))
