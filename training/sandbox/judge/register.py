"""The fictional licensee and diplomate register the identity check compares learners with."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from training.sandbox import rules
from training.sandbox.judge.values import board_code, license_key, state_code


@dataclass(frozen=True)
class RegisterEntry:
    """One person in the fictional licensee and diplomate register."""

    first_name: str
    last_name: str
    birth_month: int
    birth_day: int
    state: str | None
    license_number: str | None
    npi: str | None
    board: str | None
    board_id: str | None


class LearnerKey(NamedTuple):
    """Who the learner is, as compared between rows and records: names folded by name_key(),
    birthday, and the identifiers the learner was reported under (``learner_identity``)."""

    first_name: str
    last_name: str
    birth_month: int
    birth_day: int
    identity: str


def name_key(name: str) -> str:
    """A name folded for comparison: case-folded, inner whitespace collapsed."""
    return " ".join(name.split()).casefold()


def learner_identity(
    state: str | None, license_or_npi: str | None, board: str | None, board_id: str | None
) -> str:
    """The identifiers a learner is reported under, as one text: an NPI, or the licensing state
    and license (``CA:ZZ111``, folded by license_key()), then ``board#ID`` when a board is
    given ("" for none). PARS tells learners apart by them: two people with the same names and
    birthday are two learners when their identifiers differ."""
    parts = []
    if license_or_npi:
        if len(license_or_npi) == rules.NPI_DIGITS and license_or_npi.isdigit():
            parts.append(license_or_npi)
        else:
            parts.append(f"{state or ''}:{license_key(license_or_npi)}")
    if board and board_id:
        parts.append(f"{board}#{board_id}")
    return " ".join(parts)


def learner_key(
    first_name: str, last_name: str, birth_month: int, birth_day: int, identity: str
) -> LearnerKey:
    """The key of a learner from the values a row or record holds (``identity``: what
    learner_identity() gives for its identifiers)."""
    return LearnerKey(name_key(first_name), name_key(last_name), birth_month, birth_day, identity)


def person_of(entry: RegisterEntry) -> tuple[str, str, int, int]:
    """A register entry's names (folded by name_key()) and birthday."""
    return name_key(entry.first_name), name_key(entry.last_name), entry.birth_month, entry.birth_day


def is_same_person(entry: RegisterEntry, learner: LearnerKey) -> bool:
    """Whether a register entry has the learner's names and birthday (the register is asked
    who holds an identifier: the identifiers the learner was reported under are not compared)."""
    return learner[:4] == person_of(entry)


class KnownKeys(NamedTuple):
    """Every identifier and name the register looks learners up by (for finding, in one pass
    over a batch of rows, the few it may hold)."""

    license_keys: frozenset[str]  # license_key() of each license number, any state
    npis: frozenset[str]
    board_ids: frozenset[str]  # any board
    names: frozenset[tuple[str, str]]  # (first, last), folded by name_key()


# Joins the parts of a key in KnownPeople's texts.
KEY_SEPARATOR = "\x1f"


class KnownPeople(NamedTuple):
    """Who the register holds under each identifier it looks learners up by: for finding, in
    one pass over a batch of rows, those whose identifiers name someone else. Each key and
    (key, learner) pair is a text, its parts joined by KEY_SEPARATOR."""

    license_keys: frozenset[str]  # (state, license_key())
    by_license: frozenset[str]  # (state, license_key(), *learner)
    npis: frozenset[str]
    by_npi: frozenset[str]  # (NPI, *learner)
    board_ids: frozenset[str]  # (board code, ID)
    by_board_id: frozenset[str]  # (board code, ID, *learner)
    learners: frozenset[str]  # (*learner)


class Register:
    """The fictional register, indexed by license, NPI, board ID and name (read once per
    process: what the batches ask of it is worked out as it is read, not per file)."""

    def __init__(self, entries: Iterable[RegisterEntry] = ()) -> None:
        self._by_license: dict[tuple[str, str], list[RegisterEntry]] = defaultdict(list)
        self._by_npi: dict[str, list[RegisterEntry]] = defaultdict(list)
        self._by_board_id: dict[tuple[str, str], list[RegisterEntry]] = defaultdict(list)
        self._birthdays_by_name: dict[tuple[str, str], set[tuple[int, int]]] = defaultdict(set)
        self._size = 0
        self._known: tuple[KnownKeys, KnownPeople] | None = None
        for entry in entries:
            self.add(entry)
        self._index()

    def add(self, entry: RegisterEntry) -> None:
        """Index one more entry."""
        self._known = None
        self._size += 1
        state = state_code(entry.state) if entry.state else None
        if state and entry.license_number:
            self._by_license[state, license_key(entry.license_number)].append(entry)
        if entry.npi:
            self._by_npi[entry.npi.strip()].append(entry)
        board = board_code(entry.board) if entry.board else None
        if board and entry.board_id:
            self._by_board_id[board, entry.board_id.strip()].append(entry)
        names = (name_key(entry.first_name), name_key(entry.last_name))
        self._birthdays_by_name[names].add((entry.birth_month, entry.birth_day))

    def __len__(self) -> int:
        return self._size

    def by_license(self, state: str, license_number: str) -> list[RegisterEntry]:
        """Entries licensed in this state (2-letter code) under this number."""
        return self._by_license.get((state, license_key(license_number)), [])

    def by_npi(self, npi: str) -> list[RegisterEntry]:
        """Entries with this NPI."""
        return self._by_npi.get(npi, [])

    def by_board_id(self, board: str, board_id: str) -> list[RegisterEntry]:
        """Entries certified by this board (code) under this ID."""
        return self._by_board_id.get((board, board_id), [])

    def known_keys(self) -> KnownKeys:
        """The identifiers and names this register holds."""
        return self._index()[0]

    def known_people(self) -> KnownPeople:
        """Who this register holds under each identifier, and everyone it holds."""
        return self._index()[1]

    def _index(self) -> tuple[KnownKeys, KnownPeople]:
        if self._known is None:

            def joined(*parts: object) -> str:
                return KEY_SEPARATOR.join(map(str, parts))

            def keys(index: dict) -> frozenset[str]:
                return frozenset(joined(*key) if isinstance(key, tuple) else key for key in index)

            def people(index: dict) -> frozenset[str]:
                return frozenset(
                    joined(*key if isinstance(key, tuple) else (key,), *person_of(entry))
                    for key, entries in index.items()
                    for entry in entries
                )  # fmt: skip

            self._known = (
                KnownKeys(
                    frozenset(license for _state, license in self._by_license),
                    frozenset(self._by_npi),
                    frozenset(board_id for _board, board_id in self._by_board_id),
                    frozenset(self._birthdays_by_name),
                ),
                KnownPeople(
                    keys(self._by_license),
                    people(self._by_license),
                    keys(self._by_npi),
                    people(self._by_npi),
                    keys(self._by_board_id),
                    people(self._by_board_id),
                    frozenset(
                        joined(first, last, month, day)
                        for (first, last), birthdays in self._birthdays_by_name.items()
                        for month, day in birthdays
                    ),
                ),
            )
        return self._known

    def knows(self, learner: LearnerKey) -> bool:
        """Whether someone with the learner's names and birthday is in the register."""
        birthdays = self._birthdays_by_name.get((learner.first_name, learner.last_name))
        return birthdays is not None and (learner.birth_month, learner.birth_day) in birthdays
