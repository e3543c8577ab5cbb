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


@dataclass(frozen=True)
class Entry:
    """An organization's record that it entered learners in PARS for one activity."""

    activity_id: str
    entered_on: date


@dataclass(frozen=True)
class Progress:
    """How far an organization is towards each challenge, counted to its deadline."""

    accme_activities: int
    cma_activities: int
    accme_met: bool
    cma_met: bool

    def met(self, challenge: str) -> bool:
        """Whether ``challenge`` (ACCME or CMA) is met."""
        return self.cma_met if challenge == CMA else self.accme_met


def activities_by(entries: Iterable[Entry], deadline: date) -> int:
    """Distinct activities entered on or before ``deadline``: one activity counts once."""
    return len({entry.activity_id for entry in entries if entry.entered_on <= deadline})


def progress(entries: Iterable[Entry], accme_due: date, cma_due: date) -> Progress:
    """The ACCME Challenge needs 2 activities by its deadline; the CMA Challenge needs the
    ACCME Challenge met and 4 activities in all by the later deadline."""
    entries = list(entries)
    accme = activities_by(entries, accme_due)
    cma = activities_by(entries, cma_due)
    accme_met = accme >= ACCME_ACTIVITIES
    return Progress(accme, cma, accme_met, accme_met and cma >= CMA_ACTIVITIES)


def draw(eligible: Sequence[int], winners: int, seed: int) -> list[int]:
    """Pick ``winners`` of ``eligible`` ids; the same ids and seed always pick the same."""
    ordered = sorted(set(eligible))
    return random.Random(seed).sample(ordered, min(winners, len(ordered)))
