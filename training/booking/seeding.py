"""Load a program and its sessions from a data file in ``seed/``."""

import tomllib
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from training.booking.models import Program, TrainingSession, session_length_problem
from training.extensions import db

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def current_window_year(today: date, window_ends: str) -> int:
    """This year while this year's window has not ended, else next year."""
    month, day = (int(part) for part in window_ends.split("-"))
    return today.year if today <= date(today.year, month, day) else today.year + 1


def _day(year: int, month_day: str) -> date:
    month, day = (int(part) for part in month_day.split("-"))
    return date(year, month, day)


def _moment(year: int, text: str, zone: ZoneInfo) -> datetime:
    month_day, clock = text.split()
    return datetime.combine(_day(year, month_day), time.fromisoformat(clock), zone).astimezone(UTC)


def _thanksgiving(year: int) -> date:
    november_first = date(year, 11, 1)
    first_thursday = november_first + timedelta(days=(3 - november_first.weekday()) % 7)
    return first_thursday + timedelta(weeks=3)


def seed_program(path: Path, year: int | None, now: datetime) -> tuple[Program | None, int]:
    """Add the program in ``path`` for ``year`` and return it, or None if it is already there.

    Without a year, the current window's year is used and signups open at once if the file's
    opening date is still ahead, so a new user can try booking straight away. Raises
    ``ValueError`` for session times a session cannot have (``session_length_problem``).
    """
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    zone = ZoneInfo(data["timezone"])
    open_now = year is None
    if year is None:
        # The program's own date: at 03:00 UTC on Dec 9 it is still Dec 8 in California.
        year = current_window_year(now.astimezone(zone).date(), data["window_ends"])
    slug = f"{data['slug']}-{year}"
    if db.session.scalar(select(Program.id).where(Program.slug == slug)) is not None:
        return None, year
    opens_at = _moment(year, data["signup_opens"], zone)
    program = Program(
        slug=slug,
        name=f"{data['name']} {year}",
        description=data["description"],
        timezone=data["timezone"],
        window_starts_on=_day(year, data["window_starts"]),
        window_ends_on=_day(year, data["window_ends"]),
        signup_opens_at=min(opens_at, now) if open_now else opens_at,
        signup_closes_at=_moment(year, data["signup_closes"], zone),
        staff_email=data["staff_email"],
        accme_challenge_due_on=_day(year, data["accme_challenge_due"]),
        cma_challenge_due_on=_day(year + 1, data["cma_challenge_due"]),
        attestation_text=" ".join(data["attestation"].split()),
    )
    db.session.add(program)
    sessions = data["sessions"]
    skipped = {_thanksgiving(year), _thanksgiving(year) + timedelta(days=1)}
    day = program.window_starts_on
    while day <= program.window_ends_on:
        weekday = WEEKDAYS[day.weekday()]
        if weekday in sessions["weekdays"] and not (
            sessions.get("skip_thanksgiving") and day in skipped
        ):
            starts, ends = (time.fromisoformat(t) for t in sessions["times"][weekday])
            starts_at = datetime.combine(day, starts, zone).astimezone(UTC)
            ends_at = datetime.combine(day, ends, zone).astimezone(UTC)
            if problem := session_length_problem(starts_at, ends_at):
                raise ValueError(f"{path.name}, {weekday} times: {problem}")
            program.sessions.append(
                TrainingSession(starts_at=starts_at, ends_at=ends_at, seats=sessions["seats"])
            )
        day += timedelta(days=1)
    db.session.flush()
    return program, year
