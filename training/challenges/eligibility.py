"""Who met which challenge: pure functions over recorded PARS entries, no app needed."""

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

ACCME = "accme"
CMA = "cma"
# Distinct activities with learners entered, by each challenge's deadline.
ACCME_ACTIVITIES = 2
CMA_ACTIVITIES = 4
NEEDED = {ACCME: ACCME_ACTIVITIES, CMA: CMA_ACTIVITIES}


@dataclass(frozen=True)
class Entry:
    """An organization's record that it entered learners in PARS for one activity."""

    activity_id: str
    entered_on: date


@dataclass(frozen=True)
class ChallengeDates:
    """When entries count: from ``starts_on`` to each challenge's deadline, both days included.

    The program's data sets them (issue 7: the ACCME Challenge by Dec 4, the CMA Challenge by
    Mar 31 of the next year; issue 13: counting from the day signups opened unless the program
    sets its own start).
    """

    starts_on: date
    accme_due: date
    cma_due: date

    def due(self, challenge: str) -> date:
        """The deadline of ``challenge`` (ACCME or CMA)."""
        return self.cma_due if challenge == CMA else self.accme_due

    def counts_toward(self, day: date) -> tuple[str, ...]:
        """The challenges an entry dated ``day`` counts toward: both, the CMA one, or none."""
        return tuple(
            challenge for challenge in (ACCME, CMA) if self.starts_on <= day <= self.due(challenge)
        )


@dataclass(frozen=True)
class Progress:
    """How far an organization is towards each challenge, counted in each one's dates."""

    accme_activities: int
    cma_activities: int
    accme_met: bool
    cma_met: bool

    def met(self, challenge: str) -> bool:
        """Whether ``challenge`` (ACCME or CMA) is met."""
        return self.cma_met if challenge == CMA else self.accme_met

    def activities(self, challenge: str) -> int:
        """Distinct activities counted toward ``challenge``."""
        return self.cma_activities if challenge == CMA else self.accme_activities

    @staticmethod
    def needed(challenge: str) -> int:
        """Distinct activities ``challenge`` asks for: 2 for the ACCME one, 4 for the CMA one."""
        return NEEDED[challenge]


def activities_between(entries: Iterable[Entry], starts_on: date, due: date) -> int:
    """Distinct activities entered from ``starts_on`` to ``due`` (both days included): one
    activity counts once, and an entry dated outside those days does not count."""
    return len({entry.activity_id for entry in entries if starts_on <= entry.entered_on <= due})


def progress(entries: Iterable[Entry], dates: ChallengeDates) -> Progress:
    """The ACCME Challenge needs 2 activities by its deadline; the CMA Challenge needs the
    ACCME Challenge met and 4 activities in all by the later deadline; both count from
    ``dates.starts_on`` (rules: issue 7 and issue 13)."""
    entries = list(entries)
    accme = activities_between(entries, dates.starts_on, dates.accme_due)
    cma = activities_between(entries, dates.starts_on, dates.cma_due)
    accme_met = accme >= ACCME_ACTIVITIES
    return Progress(accme, cma, accme_met, accme_met and cma >= CMA_ACTIVITIES)


def draw(eligible: Sequence[int], winners: int, seed: int) -> list[int]:
    """Pick ``winners`` of ``eligible`` ids; the same ids and seed always pick the same."""
    ordered = sorted(set(eligible))
    return random.Random(seed).sample(ordered, min(winners, len(ordered)))
