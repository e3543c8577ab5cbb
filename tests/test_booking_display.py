"""Session times as people read them, in the program's zone."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from training.booking.display import (
    format_day,
    format_long_date,
    format_moment,
    format_session_when,
    format_session_when_dated,
    possessive,
)
from training.booking.models import Program, TrainingSession

PACIFIC = ZoneInfo("America/Los_Angeles")


def test_session_shows_weekday_date_and_pacific_time_range():
    starts = datetime(2023, 11, 28, 18, 0, tzinfo=UTC)  # 10:00 AM PST
    ends = datetime(2023, 11, 28, 19, 30, tzinfo=UTC)
    assert format_session_when(starts, ends, PACIFIC) == "Tue, Nov 28, 10:00–11:30 AM PT"


def test_session_across_noon_names_both_halves_of_the_day():
    starts = datetime(2023, 12, 5, 19, 30, tzinfo=UTC)  # 11:30 AM PST
    ends = datetime(2023, 12, 5, 21, 0, tzinfo=UTC)
    assert format_session_when(starts, ends, PACIFIC) == "Tue, Dec 5, 11:30 AM–1:00 PM PT"


def test_summer_time_is_still_called_pacific_time():
    starts = datetime(2024, 7, 9, 17, 0, tzinfo=UTC)  # 10:00 AM PDT
    ends = datetime(2024, 7, 9, 18, 0, tzinfo=UTC)
    assert format_session_when(starts, ends, PACIFIC) == "Tue, Jul 9, 10:00–11:00 AM PT"


def test_long_date_and_moment_use_the_programs_zone():
    late_evening_utc = datetime(2023, 11, 29, 1, 0, tzinfo=UTC)  # 5:00 PM on Nov 28 in California
    assert format_long_date(late_evening_utc, PACIFIC) == "Tuesday, November 28, 2023"
    assert format_moment(late_evening_utc, PACIFIC) == "Tue, Nov 28, 2023, 5:00 PM PT"


def test_staff_lists_put_the_year_with_the_date_as_moments_do():
    starts = datetime(2026, 11, 18, 21, 0, tzinfo=UTC)  # 1:00 PM PST
    ends = datetime(2026, 11, 18, 22, 30, tzinfo=UTC)
    dated = format_session_when_dated(starts, ends, PACIFIC)
    assert dated == "Wed, Nov 18, 2026, 1:00–2:30 PM PT"
    # The same order as a moment's "Wed, Nov 18, 2026, 1:00 PM PT".
    assert format_moment(starts, PACIFIC).startswith(dated.split("–")[0])


def test_a_calendar_date_reads_as_a_long_date():
    assert format_day(datetime(2026, 12, 4).date()) == "Friday, December 4, 2026"


def test_a_name_ending_in_s_takes_the_apostrophe_alone():
    assert possessive("Coastal Health Partners") == "Coastal Health Partners'"
    assert possessive("ACME CLINICS") == "ACME CLINICS'"
    assert possessive("Sierra Valley Medical Society") == "Sierra Valley Medical Society's"
    assert possessive("Acme Inc.") == "Acme Inc.'s"


def test_a_session_outside_the_programs_year_shows_its_year():
    program = Program(
        timezone="America/Los_Angeles",
        window_starts_on=date(2026, 11, 18),
        window_ends_on=date(2026, 12, 8),
    )
    in_window = TrainingSession(
        program=program,
        starts_at=datetime(2026, 12, 1, 18, 0, tzinfo=UTC),
        ends_at=datetime(2026, 12, 1, 19, 30, tzinfo=UTC),
    )
    next_year = TrainingSession(
        program=program,
        starts_at=datetime(2027, 1, 5, 18, 0, tzinfo=UTC),
        ends_at=datetime(2027, 1, 5, 19, 30, tzinfo=UTC),
    )
    assert in_window.when == "Tue, Dec 1, 10:00–11:30 AM PT"
    assert next_year.when == "Tue, Jan 5, 2027, 10:00–11:30 AM PT"


def test_a_program_across_new_year_dates_only_its_january_sessions():
    program = Program(
        timezone="America/Los_Angeles",
        window_starts_on=date(2026, 12, 1),
        window_ends_on=date(2027, 1, 15),
    )
    december, january = (
        TrainingSession(
            program=program,
            starts_at=datetime(year, month, day, 18, 0, tzinfo=UTC),
            ends_at=datetime(year, month, day, 19, 30, tzinfo=UTC),
        )
        for year, month, day in ((2026, 12, 29), (2027, 1, 5))
    )
    assert december.when == "Tue, Dec 29, 10:00–11:30 AM PT"
    assert january.when == "Tue, Jan 5, 2027, 10:00–11:30 AM PT"
