"""Which of a file's columns hold which template column: the header found by its content,
matched loosely, or a mapping the organization confirmed for its own spreadsheet.

Pure functions over header cells; the judge applies the result to every row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from hashlib import sha256

from training.sandbox import rules

_PUNCTUATION = re.compile(r"[\W_]+")
_HINT = re.compile(r"\([^()]*\)")


def header_key(text: object) -> str:
    """A header cell folded for comparison: case, punctuation and spaces do not matter.

    ``"Credit Type "`` and ``"credit-type"`` both give ``"credit type"``; ``"License #"`` gives
    ``"license"``.
    """
    return " ".join(_PUNCTUATION.sub(" ", str(text).casefold()).split())


def hintless_key(text: object) -> str:
    """header_key of a header without its hints in parentheses: ``"Completion Date
    (MM/DD/YYYY)"`` gives ``"completion date"``."""
    return header_key(_HINT.sub(" ", str(text)))


TEMPLATE_KEYS: dict[str, str] = {header_key(name): name for name in rules.HEADERS}
_UNNUMBERED_KEYS = tuple(header_key(name) for name in rules.UNNUMBERED_PAIR)


@cache
def known_names() -> dict[str, str]:
    """Every header key we recognise (template names and synonyms) -> the mapping target."""
    names = dict(TEMPLATE_KEYS)
    for key in _UNNUMBERED_KEYS:
        names[key] = TEMPLATE_KEYS[f"{key} 1"]
    for target, synonyms in rules.COLUMN_SYNONYMS.items():
        for synonym in synonyms:
            names.setdefault(header_key(synonym), target)
    return names


def _trimmed(cells: Sequence[object]) -> list[str]:
    texts = [cell if isinstance(cell, str) else "" for cell in cells]
    end = len(texts)
    while end and not texts[end - 1].strip():
        end -= 1
    return texts[:end]


def template_width(cells: Sequence[object]) -> int | None:
    """How many template columns the row names, in order, or None when it is not the header.

    Additional pairs may be numbered or not; a row that stops after column 14 or after any
    additional pair is the template's header.
    """
    keys = [header_key(cell) for cell in _trimmed(cells)]
    if len(keys) not in rules.ACCEPTED_HEADER_LENGTHS:
        return None
    required = len(rules.REQUIRED_HEADERS)
    for index, key in enumerate(keys):
        expected = header_key(rules.HEADERS[index])
        if index >= required:
            pair_key = _UNNUMBERED_KEYS[(index - required) % 2]
            if key == pair_key:
                continue
        if key != expected:
            return None
    return len(keys)


def template_with_extras(cells: Sequence[object]) -> tuple[int, list[int]] | None:
    """For a row that is the template's header followed by columns the template does not have
    (a provider's "Internal notes"), the template columns it names and the positions (0-based)
    of the extra columns that have a name; None for any other row.

    An extra column must name no template column: a row that goes on with part of an additional
    pair, or names a template column twice, is not the template's header.
    """
    trimmed = _trimmed(cells)
    template_keys = set(TEMPLATE_KEYS) | set(_UNNUMBERED_KEYS)
    for width in sorted(rules.ACCEPTED_HEADER_LENGTHS, reverse=True):
        if width >= len(trimmed) or template_width(trimmed[:width]) != width:
            continue
        extras = [
            position for position in range(width, len(trimmed)) if header_key(trimmed[position])
        ]
        if any(header_key(trimmed[position]) in template_keys for position in extras):
            return None
        return width, extras
    return None


def is_learner_row(cells: Sequence[object]) -> bool:
    """Whether a row is already a learner row (its first cell Add or Delete) of template width."""
    trimmed = _trimmed(cells)
    return (
        bool(trimmed)
        and trimmed[0].strip().casefold() in {action.casefold() for action in rules.ACTIONS}
        and len(trimmed) <= len(rules.HEADERS)
    )


_DATA_VALUE = re.compile(
    r"\d{1,2}/\d{1,2}/\d{4}"  # a completion date, MM/DD/YYYY
    r"|\d{4}-\d{2}-\d{2}"  # or YYYY-MM-DD
    r"|\d{1,2}/\d{1,2}"  # a birthday, MM/DD
    rf"|\d{{{rules.ACTIVITY_ID_DIGITS}}}"  # an activity ID
)


def looks_like_data(cells: Sequence[object]) -> bool:
    """Whether a row taken for a header holds learner values rather than column names: no
    name we know, and two or more cells that are a date, a birthday (MM/DD), a 9-digit
    activity ID or a state."""
    if header_score(cells) or any(
        isinstance(cell, str) and known_target(cell) is not None for cell in cells
    ):
        return False
    data_like = 0
    for cell in cells:
        if not isinstance(cell, str):  # a date cell
            data_like += 1
            continue
        text = cell.strip()
        if _DATA_VALUE.fullmatch(text) or (
            text.upper() in rules.STATES or text.casefold() in rules.STATE_CODES_BY_FOLDED_NAME
        ):
            data_like += 1
    return data_like >= 2


def lettered_header(width: int) -> tuple[str, ...]:
    """The headings given to the columns of a file without a header row: "Column A", ..."""
    from openpyxl.utils.cell import get_column_letter

    return tuple(f"Column {get_column_letter(position)}" for position in range(1, width + 1))


def known_target(cell: object) -> str | None:
    """The mapping target a header names (template name or synonym), as it is or without its
    hints in parentheses; None when we do not know it."""
    names = known_names()
    target = names.get(header_key(cell))
    return target if target is not None else names.get(hintless_key(cell))


def header_score(cells: Sequence[object]) -> int:
    """How many cells of a row are column names we know (template names or synonyms)."""
    return sum(1 for cell in _trimmed(cells) if cell.strip() and known_target(cell) is not None)


def signature(header: Sequence[object]) -> str:
    """A short fingerprint of a header row, folded as header_key does, to find a saved map."""
    keys = "\x1f".join(header_key(cell) for cell in _trimmed(header))
    return sha256(keys.encode()).hexdigest()[:32]


# --- Column maps -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnMap:
    """Which file column (0-based) holds each template column, for one header.

    ``targets`` maps a column position to a template column name (rules.HEADERS) or to
    rules.NAME_COLUMN / rules.BIRTH_DATE_COLUMN; ``fixed`` gives Record Action or the activity
    ID one value for every row when the file has no such column.
    """

    header: tuple[str, ...]
    targets: Mapping[int, str]
    fixed: Mapping[str, str] = field(default_factory=dict)

    @property
    def signature(self) -> str:
        """The fingerprint of the header this map is for (see ``signature``)."""
        return signature(self.header)

    def position_of(self, target: str) -> int | None:
        """The file column mapped to ``target``, or None."""
        return next((pos for pos, name in self.targets.items() if name == target), None)

    def covers(self, column: str) -> bool:
        """Whether the template column gets a value: mapped, fixed, or split from another."""
        if column in self.fixed or self.position_of(column) is not None:
            return True
        if column in (rules.FIRST_NAME, rules.LAST_NAME):
            return self.position_of(rules.NAME_COLUMN) is not None
        if column == rules.DATE_OF_BIRTH:
            return self.position_of(rules.BIRTH_DATE_COLUMN) is not None
        return False

    def missing(self, required: Iterable[str]) -> list[str]:
        """The required template columns this map leaves without a value."""
        return [column for column in required if not self.covers(column)]

    def to_json(self) -> dict:
        """The map as JSON data (for the database)."""
        return {
            "header": list(self.header),
            "targets": {str(position): name for position, name in sorted(self.targets.items())},
            "fixed": dict(self.fixed),
        }

    @classmethod
    def from_json(cls, data: Mapping) -> ColumnMap:
        """A map from to_json's data; unknown targets are dropped."""
        targets = {
            int(position): name
            for position, name in data.get("targets", {}).items()
            if name in rules.MAPPING_TARGETS
        }
        fixed = {
            column: str(value)
            for column, value in data.get("fixed", {}).items()
            if column in rules.FILLABLE_COLUMNS
        }
        return cls(tuple(data.get("header", ())), targets, fixed)


def by_name(header: Sequence[object]) -> ColumnMap | None:
    """A map for a header whose every named column is a template column, in any order; None if
    a cell names something else or a template column twice."""
    targets: dict[int, str] = {}
    for position, cell in enumerate(_trimmed(header)):
        if not cell.strip():
            continue
        name = TEMPLATE_KEYS.get(header_key(cell))
        if name is None or name in targets.values():
            return None
        targets[position] = name
    return ColumnMap(tuple(_trimmed(header)), targets) if targets else None
