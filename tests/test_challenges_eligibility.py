"""Who met which challenge, at the edges; and drawings that can be run again."""

from datetime import date, timedelta

from training.challenges.eligibility import ChallengeDates, Entry, draw, progress

STARTS_ON = date(2023, 11, 1)
ACCME_DUE = date(2023, 12, 4)
CMA_DUE = date(2024, 3, 31)
DATES = ChallengeDates(STARTS_ON, ACCME_DUE, CMA_DUE)


def entries(*pairs) -> list[Entry]:
    return [Entry(activity, day) for activity, day in pairs]


def test_two_activities_entered_by_the_deadline_day_meet_the_accme_challenge():
    result = progress(entries(("100000001", date(2023, 11, 20)), ("100000002", ACCME_DUE)), DATES)
    assert result.accme_activities == 2
    assert result.accme_met


def test_an_entry_the_day_after_the_deadline_does_not_count():
    result = progress(
        entries(("100000001", date(2023, 11, 20)), ("100000002", date(2023, 12, 5))),
        DATES,
    )
    assert result.accme_activities == 1
    assert not result.accme_met


def test_an_activity_counts_once_however_many_times_it_is_entered():
    result = progress(
        entries(
            ("100000001", date(2023, 11, 20)),
            ("100000001", date(2023, 11, 21)),
            ("100000001", date(2023, 11, 22)),
        ),
        DATES,
    )
    assert result.accme_activities == 1
    assert not result.accme_met


def test_cma_challenge_needs_four_activities_by_march_31_and_the_accme_challenge():
    four = entries(
        ("100000001", date(2023, 11, 20)),
        ("100000002", date(2023, 12, 1)),
        ("100000003", date(2024, 2, 1)),
        ("100000004", CMA_DUE),
    )
    assert progress(four, DATES).cma_met
    late_fourth = four[:3] + entries(("100000004", date(2024, 4, 1)))
    assert not progress(late_fourth, DATES).cma_met
    # Four activities, but only one of them by Dec 4: the ACCME Challenge was missed.
    late_start = entries(
        ("100000001", date(2023, 11, 20)),
        ("100000002", date(2024, 1, 5)),
        ("100000003", date(2024, 2, 1)),
        ("100000004", date(2024, 3, 1)),
    )
    result = progress(late_start, DATES)
    assert (result.cma_activities, result.accme_met, result.cma_met) == (4, False, False)


def test_entries_dated_before_the_challenges_start_do_not_count():
    result = progress(
        entries(
            ("100000001", date(1999, 1, 1)),
            ("100000002", STARTS_ON - timedelta(days=1)),
            ("100000003", STARTS_ON),
            ("100000004", date(2023, 11, 20)),
        ),
        DATES,
    )
    assert (result.accme_activities, result.cma_activities) == (2, 2)
    assert result.accme_met and not result.cma_met


def test_an_entry_between_the_deadlines_counts_toward_the_cma_challenge_only():
    assert DATES.counts_toward(date(2023, 12, 5)) == ("cma",)
    assert DATES.counts_toward(ACCME_DUE) == ("accme", "cma")
    assert DATES.counts_toward(STARTS_ON) == ("accme", "cma")
    assert DATES.counts_toward(STARTS_ON - timedelta(days=1)) == ()
    assert DATES.counts_toward(CMA_DUE + timedelta(days=1)) == ()


def test_the_same_seed_draws_the_same_winners_whatever_the_order():
    eligible = [14, 3, 27, 8, 99, 41]
    first = draw(eligible, 2, seed=20231204)
    assert draw(list(reversed(eligible)), 2, seed=20231204) == first
    assert len(set(first)) == 2 and set(first) <= set(eligible)


def test_different_seeds_can_draw_different_winners():
    eligible = list(range(1, 50))
    results = {tuple(draw(eligible, 3, seed=seed)) for seed in range(20)}
    assert len(results) > 1


def test_asking_for_more_winners_than_eligible_draws_everyone():
    assert sorted(draw([5, 6], 10, seed=1)) == [5, 6]
