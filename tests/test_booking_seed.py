"""`flask --app training seed` loads the demo program from seed/ data."""

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from training.booking.models import Program, TrainingSession
from training.booking.seeding import current_window_year, seed_program
from training.extensions import db

pytestmark = pytest.mark.clock

PACIFIC = ZoneInfo("America/Los_Angeles")


def programs(app) -> list[Program]:
    with app.app_context():
        rows = db.session.scalars(select(Program).order_by(Program.id)).all()
        for program in rows:
            _ = program.sessions
        db.session.expunge_all()
        return rows


def test_seed_2023_reproduces_the_pilot(app, runner):
    result = runner.invoke(args=["seed", "--year", "2023"])
    assert result.exit_code == 0, result.output
    assert "Loaded CMA Learner Credit Reporting Training 2023" in result.output
    [program] = programs(app)
    assert program.timezone == "America/Los_Angeles"
    assert (program.window_starts_on, program.window_ends_on) == (
        date(2023, 11, 18),
        date(2023, 12, 8),
    )
    assert program.accme_challenge_due_on == date(2023, 12, 4)
    assert program.cma_challenge_due_on == date(2024, 3, 31)
    assert "permission" in program.attestation_text
    assert 10 <= len(program.sessions) <= 14
    for session in program.sessions:
        local = session.starts_at.astimezone(PACIFIC)
        assert local.weekday() < 5, local
        assert date(2023, 11, 18) <= local.date() <= date(2023, 12, 8)
        assert session.seats == 8
    days = {s.starts_at.astimezone(PACIFIC).date() for s in program.sessions}
    assert date(2023, 11, 23) not in days  # Thanksgiving
    first = program.sessions[0].starts_at.astimezone(PACIFIC)
    assert first == datetime(2023, 11, 20, 10, 0, tzinfo=PACIFIC)


def test_running_seed_twice_changes_nothing(app, runner):
    runner.invoke(args=["seed", "--year", "2023"])
    again = runner.invoke(args=["seed", "--year", "2023"])
    assert again.exit_code == 0
    assert "already loaded; nothing changed" in again.output
    with app.app_context():
        assert db.session.scalar(select(func.count(Program.id))) == 1
        assert db.session.scalar(select(func.count(TrainingSession.id))) == 11


@pytest.mark.parametrize(
    ("moment", "year"),
    [
        (datetime(2026, 6, 1, 18, 0, tzinfo=UTC), 2026),
        # 7 PM on Dec 8 in California (the window's last day) is already Dec 9 in UTC.
        (datetime(2026, 12, 9, 3, 0, tzinfo=UTC), 2026),
        (datetime(2026, 12, 9, 9, 0, tzinfo=UTC), 2027),
    ],
)
def test_seed_without_a_year_opens_the_current_window_for_booking(
    app, runner, client, time_machine, moment, year
):
    time_machine.move_to(moment, tick=False)
    result = runner.invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    [program] = programs(app)
    assert program.window_ends_on == date(year, 12, 8)
    assert program.signup_opens_at <= moment


def test_seed_if_empty_leaves_an_existing_database_alone(app, runner):
    runner.invoke(args=["seed", "--year", "2023"])
    result = runner.invoke(args=["seed", "--if-empty"])
    assert "nothing seeded" in result.output
    assert len(programs(app)) == 1


@pytest.mark.parametrize(
    ("today", "year"),
    [
        (date(2026, 1, 5), 2026),
        (date(2026, 12, 8), 2026),
        (date(2026, 12, 9), 2027),
    ],
)
def test_the_current_window_is_this_years_until_it_ends(today, year):
    assert current_window_year(today, "12-08") == year


def test_seeded_sessions_list_on_the_home_page(runner, client):
    runner.invoke(args=["seed", "--year", "2023"])
    text = client.get("/").get_data(as_text=True)
    assert "Mon, Nov 20, 10:00–11:30 AM PT" in text


def test_seed_data_with_a_session_longer_than_8_hours_is_refused_naming_its_length(app, tmp_path):
    source = Path(__file__).parents[1] / "seed" / "demo_program.toml"
    typo = tmp_path / "demo_program.toml"
    typo.write_text(
        source.read_text(encoding="utf-8").replace(
            'Tue = ["10:00", "11:30"]', 'Tue = ["02:30", "12:45"]'
        ),
        encoding="utf-8",
    )
    with app.app_context(), pytest.raises(ValueError, match="would last 10 hours 15 minutes"):
        seed_program(typo, 2026, datetime(2026, 11, 1, tzinfo=UTC))
