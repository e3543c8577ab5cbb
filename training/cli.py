"""Command-line tools: ``flask --app training <command>``, using the same services as the web."""

import secrets
import signal
import sys
from datetime import datetime

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from training.booking.display import counted
from training.booking.models import Program, TrainingSession
from training.booking.notices import send_reminders
from training.booking.seeding import seed_program
from training.challenges.services import send_due_challenge_reminders
from training.extensions import db, seed_path, utcnow
from training.live import followups as live_followups
from training.live import services as live_services
from training.live import steps as live_steps
from training.mail.delivery import DeliveryReport, deliver_due, watch
from training.mail.models import OutboxMessage
from training.mail.services import HeldClaim, delivery_figures, requeue_message
from training.sandbox import services as sandbox_services
from training.sandbox import tasks as sandbox_tasks
from training.staff import services as staff_services
from training.staff.models import ROLE_ADMIN, ROLES, StaffMember
from training.workers.services import seen_ago, seen_in, workers_seen


@click.command("seed")
@click.option("--year", type=click.IntRange(2000, 2100), help="Window year (default: current).")
@click.option("--if-empty", is_flag=True, help="Do nothing if any program exists already.")
@with_appcontext
def seed_command(year: int | None, if_empty: bool) -> None:
    """Load the demo program and its sessions; running it again changes nothing."""
    steps = live_steps.seed_walkthrough(seed_path("walkthrough"))
    if steps:
        db.session.commit()
        click.echo(f"Loaded {steps} walkthrough steps.")
    if if_empty and db.session.scalar(select(Program.id).limit(1)) is not None:
        click.echo("Programs exist already; nothing seeded.")
        return
    program, data_year = seed_program(seed_path("demo_program.toml"), year, utcnow())
    if program is None:
        click.echo(f"The {data_year} demo program is already loaded; nothing changed.")
        return
    db.session.commit()
    click.echo(f"Loaded {program.name} with {len(program.sessions)} sessions.")


mail_cli = AppGroup("mail", help="Send queued email and calendar invites.")
# What a watching mail worker queues every minute: the reminders that have come due.
REMINDER_JOBS = (send_reminders, send_due_challenge_reminders)


@mail_cli.command("deliver")
@click.option(
    "--watch", "keep_watching", is_flag=True, help="Keep running; send email as it comes."
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    help="Seconds between looks at the outbox with --watch (default: MAIL_POLL_SECONDS).",
)
def deliver_command(keep_watching: bool, interval: float | None) -> None:
    """Send every email that is due, then exit; with --watch, keep going (the production way)."""
    if not keep_watching:
        _echo_report(deliver_due())
        return
    interval = interval or float(current_app.config["MAIL_POLL_SECONDS"])
    target = current_app.config.get("MAIL_SERVER") or f"{current_app.instance_path}/mail/"
    click.echo(f"Delivering email to {target} every {interval:g} s; Ctrl-C stops.")
    stopping: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: stopping.append(signum))
    try:
        watch(
            interval,
            should_stop=lambda: bool(stopping),
            on_report=_echo_report,
            periodic=REMINDER_JOBS,
        )
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


@mail_cli.command("remind")
def remind_command() -> None:
    """Queue the reminders due now (MAIL_REMINDER_HOURS before each session)."""
    queued = send_reminders(utcnow())
    db.session.commit()
    click.echo(f"Queued {counted(queued, 'reminder')}.")


@mail_cli.command("status")
def status_command() -> None:
    """Count the outbox's messages and recipients by delivery state, with the servers' replies
    to those waiting to retry or failed; say when each worker was last seen."""
    now = utcnow()
    figures = delivery_figures(now)
    for status, count in sorted(figures.messages.items()):
        click.echo(f"{status}: {count}")
    for held in figures.held_long:
        click.echo(f"  {_held_words(held, now)}")
    if figures.recipients:
        states = ", ".join(
            f"{count} {status}" for status, count in sorted(figures.recipients.items())
        )
        click.echo(f"recipients: {states}")
    for reply, count in figures.retrying_because:
        click.echo(f"  {_recipients(count)} waiting to retry ({reply})")
    for reply, count in figures.failed_because:
        click.echo(f"  {_recipients(count)} failed ({reply})")
    for worker in workers_seen(now):
        if worker.last_seen_at is None:
            seen = "never seen"
        else:
            seen = (
                f"last seen {worker.last_seen_at:%Y-%m-%d %H:%M:%S} UTC "
                f"({seen_ago(worker.last_seen_at, now)})"
            )
        if worker.is_stopped:
            warning = "; STOPPED (another runs)"
        elif worker.is_stale:
            warning = f"; NOT RUNNING? start it: {worker.command}"
        else:
            warning = ""
        process = f" on {worker.host} pid {worker.pid}" if worker.pid is not None else ""
        click.echo(f"{worker.name} worker{process}: {seen}{warning}")


@mail_cli.command("retry")
@click.argument("message_ids", nargs=-1, type=int, required=True)
def retry_command(message_ids: tuple[int, ...]) -> None:
    """Queue failed or retrying messages again now, each as the same message."""
    for message_id in message_ids:
        message = db.session.get(OutboxMessage, message_id)
        if message is None or not requeue_message(message):
            db.session.rollback()
            raise click.ClickException(f"Message {message_id} is not failed or retrying.")
    db.session.commit()
    click.echo(f"Queued {counted(len(message_ids), 'message')} again.")


def _echo_report(report: DeliveryReport) -> None:
    click.echo(
        f"Sent {report.sent}, retrying {report.retrying}, failed {report.failed}. "
        f"Recipients: {report.recipients_sent} sent, {report.recipients_retrying} waiting to "
        f"retry, {report.recipients_failed} failed."
    )


def _held_words(held: HeldClaim, now: datetime) -> str:
    messages = counted(held.messages, "message")
    since = f"{held.claimed_at:%Y-%m-%d %H:%M:%S} UTC ({seen_ago(held.claimed_at, now)})"
    release = f"{held.released_at:%Y-%m-%d %H:%M:%S} UTC"
    if held.released_at <= now:
        return (
            f"{messages} held since {since} by a worker that may have stopped; released at "
            f"{release}: the next mail worker round sends them"
        )
    return (
        f"{messages} held since {since} by a worker that may have stopped; released for "
        f"another try at {release} ({seen_in(held.released_at, now)})"
    )


def _recipients(count: int) -> str:
    return f"{count} recipient" if count == 1 else f"{count} recipients"


staff_cli = AppGroup("staff", help="Staff accounts.")
DEMO_ADMIN_EMAIL = "admin@training-desk.localhost"


@staff_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the account may do.")
@click.option("--name", default="", help="The person's name (default: the email).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def staff_create_command(email: str, role: str, name: str, password_stdin: bool) -> None:
    """Create a staff account; the password is asked twice unless --password-stdin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        member = staff_services.create_staff(email, password, role, name=name)
    except staff_services.StaffError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"Created {member.role} account {member.email}.")


@staff_cli.command("list")
def staff_list_command() -> None:
    """List staff accounts with their role and status."""
    for member in db.session.scalars(select(StaffMember).order_by(StaffMember.email)):
        status = "disabled" if member.is_disabled else "active"
        click.echo(f"{member.email}\t{member.role}\t{status}")


@staff_cli.command("disable")
@click.argument("email")
def staff_disable_command(email: str) -> None:
    """Disable an account and sign it out everywhere."""
    member = staff_services.find_staff(email)
    if member is None:
        raise click.ClickException(f"No account for {email}.")
    staff_services.set_disabled(member, True)
    db.session.commit()
    click.echo(f"Disabled {member.email}.")


@staff_cli.command("demo-admin")
def staff_demo_admin_command() -> None:
    """Create a demo admin with a random password when there is no staff account yet; with
    accounts already there, say so and where to sign in (the password was shown once)."""
    if db.session.scalar(select(StaffMember.id).limit(1)) is not None:
        click.echo(
            "Staff accounts exist already, so no demo admin was made: sign in at "
            f"{current_app.config['PUBLIC_URL']}/staff/sign-in with one of them "
            "(`flask --app training staff list` names them; the demo admin's password was "
            "shown once, when it was made)."
        )
        return
    password = secrets.token_urlsafe(12)
    staff_services.create_staff(DEMO_ADMIN_EMAIL, password, ROLE_ADMIN, name="Demo admin")
    db.session.commit()
    click.echo(
        f"Staff console: sign in at {current_app.config['PUBLIC_URL']}/staff/sign-in\n"
        f"  email:    {DEMO_ADMIN_EMAIL}\n  password: {password}\n"
        "This is shown once; create real accounts with `flask --app training staff create`."
    )


challenges_cli = AppGroup("challenges", help="The ACCME and CMA challenges.")


@challenges_cli.command("remind")
def challenges_remind_command() -> None:
    """Queue reminders to organizations that have not met a challenge due within a week."""
    queued = send_due_challenge_reminders(utcnow())
    db.session.commit()
    click.echo(f"Queued {counted(queued, 'challenge reminder')}.")


live_cli = AppGroup("live", help="Live guided sessions.")


@live_cli.command("follow-up")
@click.argument("session_id", type=int)
def live_follow_up_command(session_id: int) -> None:
    """Email each organization of a session its follow-up (once): results, or another date."""
    session = db.session.get(TrainingSession, session_id)
    if session is None:
        raise click.ClickException(f"No session {session_id}.")
    try:
        report = live_followups.send_followups(session, now=utcnow())
    except live_services.LiveError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(
        f"Queued {counted(report.attended, 'follow-up')} and "
        f"{counted(report.missed, 'offer')} of another date; "
        f"{counted(report.already_sent, 'organization')} had theirs already."
    )


sandbox_cli = AppGroup("sandbox", help="The practice upload sandbox.")


@sandbox_cli.command("work")
@click.option(
    "--watch", "keep_watching", is_flag=True, help="Keep running; judge uploads as they come."
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    help="Seconds between looks for waiting uploads with --watch (default: SANDBOX_POLL_SECONDS).",
)
def sandbox_work_command(keep_watching: bool, interval: float | None) -> None:
    """Judge every waiting upload and make the PARS-ready files asked for, then exit; with
    --watch, keep going (the production way)."""
    # Before polars is loaded by the first file judged in batches: jemalloc reads it then.
    sandbox_tasks.use_polars_allocator(current_app.config["SANDBOX_POLARS_MALLOC_CONF"])
    if not keep_watching:
        click.echo(f"Judged {counted(sandbox_tasks.work(), 'upload')}.")
        click.echo(f"Made {counted(sandbox_tasks.make_files(), 'PARS-ready file')}.")
        return
    interval = interval or float(current_app.config["SANDBOX_POLL_SECONDS"])
    click.echo(f"Judging sandbox uploads every {interval:g} s; Ctrl-C stops.")
    stopping: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: stopping.append(signum))
    try:
        sandbox_tasks.watch(
            interval,
            should_stop=lambda: bool(stopping),
            on_judged=lambda count: click.echo(f"Judged {counted(count, 'upload')}."),
        )
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


@sandbox_cli.command("purge")
def sandbox_purge_command() -> None:
    """Delete sandbox records, uploads and findings older than SANDBOX_RETENTION_DAYS."""
    days = int(current_app.config["SANDBOX_RETENTION_DAYS"])
    deleted = sandbox_services.purge_expired(utcnow(), days)
    db.session.commit()
    if deleted.is_nothing:
        click.echo(f"Nothing to delete: no sandbox records or uploads older than {days} days.")
        return
    click.echo(
        f"Deleted {counted(deleted.records, 'sandbox record')} and "
        f"{counted(deleted.attempts, 'upload')} "
        f"older than {days} days."
    )


def init_app(app: Flask) -> None:
    """Register the commands with the app."""
    app.cli.add_command(seed_command)
    app.cli.add_command(mail_cli)
    app.cli.add_command(staff_cli)
    app.cli.add_command(challenges_cli)
    app.cli.add_command(live_cli)
    app.cli.add_command(sandbox_cli)
