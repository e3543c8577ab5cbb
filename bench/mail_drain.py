"""Drain N queued emails through the outbox worker vs plain smtplib, both to a local SMTP sink.

    .venv/bin/python bench/mail_drain.py [-n 500] [--database URL] [--rounds 1]

The worker claims, sends and records each message (its bytes were built when it was queued);
smtplib only sends the same prebuilt bytes over one connection. The ratio is what the outbox's
bookkeeping costs per email. The sink (aiosmtpd) runs in a process of its own, as a real server
would: in the sender's process its thread would compete for the GIL with the sender's threads.
With ``--rounds R`` the two take turns R times on the same messages (queued again between
rounds), each going first in every other round, so a drift in the machine's load falls on both.
"""

import argparse
import json
import multiprocessing
import os
import platform
import smtplib
import socket
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiosmtpd.controller import Controller
from harness import bench_program

from training import create_app
from training.booking import notices, services
from training.booking.models import TrainingSession
from training.extensions import db, utcnow
from training.mail.delivery import deliver_due, envelope_for
from training.mail.message import build_message, to_bytes
from training.mail.models import MAIL_QUEUED, OutboxMessage, OutboxRecipient
from training.mail.services import public_url

RESULTS = Path(__file__).resolve().parent / "results"


class CountingSink:
    def __init__(self, count):
        self.count = count

    async def handle_DATA(self, server, session, envelope):
        with self.count.get_lock():
            self.count.value += 1
        return "250 OK"


def serve_sink(port: int, count, ready) -> None:
    """Run the counting sink on ``port`` until the process is terminated."""
    Controller(CountingSink(count), hostname="127.0.0.1", port=port).start()
    ready.set()
    threading.Event().wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def queue_confirmations(count: int) -> None:
    """One real booking, then ``count`` confirmation emails with invites for it."""
    now = utcnow()
    program = bench_program(now)
    session = TrainingSession(
        program=program,
        starts_at=now + timedelta(days=3),
        ends_at=now + timedelta(days=3, minutes=90),
        seats=8,
        meeting_url="https://meet.example.org/bench",
        dial_in="+1 555 0100",
    )
    db.session.add_all([program, session])
    db.session.flush()
    signup, token = services.book_signup(
        program,
        services.SignupDetails(
            organization_name="Sierra Valley Medical Society",
            contact_name="Ana Reyes",
            contact_email="ana@example.org",
            attendee_emails=("lee@example.org", "kim@example.org"),
        ),
        [session],
        submission_key="bench",
        join_waitlist=False,
        now=now,
    )
    for _ in range(count - 1):
        notices.queue_with_invite(
            "booking_confirmed",
            [signup.contact_email, "lee@example.org", "kim@example.org"],
            "You're booked",
            signup,
            invite=notices.invite_details(signup),
            method="REQUEST",
            manage_url=public_url("booking.manage", token=token),
        )
    db.session.commit()


def queue_again() -> None:
    """Every outbox message and recipient back to queued and due, as if never tried."""
    for model in (OutboxMessage, OutboxRecipient):
        db.session.execute(
            db.update(model).values(
                status=MAIL_QUEUED,
                attempts=0,
                claim_token=None,
                last_error=None,
                sent_at=None,
                next_attempt_at=utcnow(),
            )
        )
    db.session.execute(db.update(OutboxMessage).values(lease_expires_at=None))
    db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--count", type=int, default=500)
    parser.add_argument("--database", help="SQLAlchemy URL of an EMPTY database (default: SQLite)")
    parser.add_argument("--rounds", type=int, default=1, help="turns each takes (default: 1)")
    args = parser.parse_args()

    port = free_port()
    spawn = multiprocessing.get_context("spawn")
    received, ready = spawn.Value("i", 0), spawn.Event()
    sink = spawn.Process(target=serve_sink, args=(port, received, ready), daemon=True)
    sink.start()
    if not ready.wait(60):
        raise SystemExit("the SMTP sink did not start")
    with tempfile.TemporaryDirectory() as folder:
        os.environ["TRAINING_INSTANCE_PATH"] = folder
        url = args.database or f"sqlite:///{folder}/bench.sqlite3"
        app = create_app(
            {
                "SECRET_KEY": "bench",
                "SQLALCHEMY_DATABASE_URI": url,
                "MAIL_SERVER": "127.0.0.1",
                "MAIL_PORT": port,
                "PUBLIC_URL": "https://training.example.org",
            }
        )
        app.logger.disabled = True
        with app.app_context():
            db.create_all()
            queue_confirmations(args.count)
            sender = app.config["MAIL_DEFAULT_SENDER"]
            prebuilt = [
                (message.recipients, to_bytes(build_message(envelope_for(message, sender))))
                for message in db.session.scalars(db.select(OutboxMessage))
            ]
            db.session.remove()

            def drain_with_worker() -> tuple[float, float]:
                started, cpu_started = time.perf_counter(), time.process_time()
                report = deliver_due()
                timings = time.perf_counter() - started, time.process_time() - cpu_started
                assert report.sent == args.count, report
                db.session.remove()
                return timings

            def send_with_smtplib() -> tuple[float, float]:
                started, cpu_started = time.perf_counter(), time.process_time()
                with smtplib.SMTP("127.0.0.1", port) as connection:
                    for recipients, data in prebuilt:
                        connection.sendmail("no-reply@training-desk.localhost", recipients, data)
                return time.perf_counter() - started, time.process_time() - cpu_started

            rounds = []
            for number in range(args.rounds):
                if number:
                    queue_again()
                if number % 2 == 0:
                    worker, baseline = drain_with_worker(), send_with_smtplib()
                else:
                    baseline, worker = send_with_smtplib(), drain_with_worker()
                rounds.append((worker, baseline))
            worker_seconds = sum(worker[0] for worker, _ in rounds)
            worker_cpu_seconds = sum(worker[1] for worker, _ in rounds)
            smtplib_seconds = sum(baseline[0] for _, baseline in rounds)
            smtplib_cpu_seconds = sum(baseline[1] for _, baseline in rounds)
            dialect = db.engine.dialect.name
            db.drop_all()
            db.engine.dispose()
    sink.terminate()
    sink.join()
    assert received.value == 2 * args.count * args.rounds, received.value
    emails = args.count * args.rounds

    result = {
        "benchmark": "mail_drain",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "messages": args.count,
        "rounds": args.rounds,
        # Each round's worker share of smtplib's speed, worker first in the odd-numbered ones.
        "round_shares": [round(baseline[0] / worker[0], 3) for worker, baseline in rounds],
        "database": dialect,
        "message_bytes": len(prebuilt[0][1]),
        "worker_seconds": round(worker_seconds, 3),
        "smtplib_seconds": round(smtplib_seconds, 3),
        # CPU of this process (the sink's is its own): the worker's threads, smtplib's one.
        "worker_cpu_seconds": round(worker_cpu_seconds, 3),
        "smtplib_cpu_seconds": round(smtplib_cpu_seconds, 3),
        "worker_per_second": round(emails / worker_seconds, 1),
        "smtplib_per_second": round(emails / smtplib_seconds, 1),
        "ratio": round(worker_seconds / smtplib_seconds, 2),
        "load_average": [round(load, 2) for load in os.getloadavg()],
        "sink": "aiosmtpd in its own process",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"mail_drain-{dialect}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"{args.count} emails × {args.rounds} rounds ({result['message_bytes']} bytes each, "
        f"{dialect}): "
        f"worker {worker_seconds:.2f} s ({result['worker_per_second']}/s), "
        f"smtplib {smtplib_seconds:.2f} s ({result['smtplib_per_second']}/s), "
        f"ratio {result['ratio']}x (worker at {smtplib_seconds / worker_seconds:.0%} of smtplib), "
        f"CPU worker {worker_cpu_seconds:.2f} s, smtplib {smtplib_cpu_seconds:.2f} s, "
        f"load average {result['load_average'][0]}; rounds: "
        + ", ".join(f"{share:.0%}" for share in result["round_shares"])
        + ". "
        + f"Saved {path.relative_to(RESULTS.parent.parent)}"
    )


if __name__ == "__main__":
    main()
