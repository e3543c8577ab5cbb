"""What rows are judged against: activities, records already held, and today."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import NamedTuple, Protocol

from training.sandbox import rules
from training.sandbox.columns import ColumnMap
from training.sandbox.judge.register import LearnerKey, Register, learner_identity, learner_key


@dataclass(frozen=True)
class BoardRegistration:
    """What an activity registered for one certifying board."""

    points: Decimal
    credit_types: frozenset[str]


@dataclass(frozen=True)
class Activity:
    """A practice activity the organization entered in its sandbox."""

    activity_id: str
    title: str
    start_date: date
    end_date: date
    max_cme_credits: Decimal | None  # None: the activity offers no CME credit
    boards: Mapping[str, BoardRegistration]  # board code (as in rules.BOARDS) -> registration


@dataclass(frozen=True)
class LearnerRecord:
    """An accepted row as kept in the sandbox (for Delete rows: the record to delete)."""

    activity_id: str
    completion_date: date
    first_name: str
    last_name: str
    birth_month: int
    birth_day: int
    state: str | None  # two-letter code
    license_or_npi: str | None
    board: str | None  # board code as in rules.BOARDS
    board_id: str | None
    cme_credits: Decimal | None
    board_credits: Decimal | None
    # (credit type as the activity registered it, credits), in the order of the file.
    credit_awards: tuple[tuple[str, Decimal], ...] = ()


class RecordKey(NamedTuple):
    """What makes two learner records the same: learner (with the identifiers reported),
    activity, completion date and board."""

    learner: LearnerKey
    activity_id: str
    completion_date: date
    board: str  # "" when the record reports no board


def record_key(record: LearnerRecord) -> RecordKey:
    """The key that makes two records the same (see RecordKey)."""
    return RecordKey(
        learner_key(
            record.first_name,
            record.last_name,
            record.birth_month,
            record.birth_day,
            learner_identity(record.state, record.license_or_npi, record.board, record.board_id),
        ),
        record.activity_id,
        record.completion_date,
        record.board or "",
    )


class RecordLookup(Protocol):
    """The organization's sandbox records as the judge asks about them.

    A lookup may also have ``held_keys()``: (the held records' keys, the held completions'
    keys), two sequences (a list, an ``array("Q")``) of the first 64 bits, as an int, of the
    SHA-256 digest the records store (``record_key``; and of the learner key's digest and the
    activity, joined). The batch path then looks a whole batch up at once; without it, it asks
    ``find`` row by row.
    """

    def find(self, key: RecordKey) -> bool:
        """True when the sandbox holds a record with this key."""
        ...

    def has_completion(self, learner: LearnerKey, activity_id: str) -> bool:
        """True when the sandbox holds any record of this learner for this activity."""
        ...


class NoRecords:
    """A RecordLookup for an organization with no sandbox records yet."""

    def find(self, key: RecordKey) -> bool:
        """Nothing is held."""
        return False

    def has_completion(self, learner: LearnerKey, activity_id: str) -> bool:
        """Nothing is held."""
        return False


@dataclass(frozen=True)
class JudgeContext:
    """Everything the judge compares rows against.

    ``pars_states`` are the states whose boards use PARS data (staff keep the list current;
    ``pars_states_checked_on`` says when it was last checked). ``column_maps`` are the column
    mappings the organization confirmed for its own spreadsheets: a file whose header is one of
    theirs is read through it.

    ``today`` is the latest date anywhere in the US (nothing dated on it is "in the future");
    ``reporting_day``, the program's own date, is the one LATE_REPORT counts its 30 days back
    from, so the warning does not come a day early in the program's zone (``today`` when None).
    """

    activities: Mapping[str, Activity]
    register: Register
    records: RecordLookup
    today: date
    max_bytes: int = rules.DEFAULT_MAX_BYTES
    pars_states: frozenset[str] = rules.PARS_STATES
    column_maps: tuple[ColumnMap, ...] = ()
    reporting_day: date | None = None
