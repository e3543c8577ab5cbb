"""Mapping a provider's own spreadsheet to the template: a proposal for each column (known
names first, then the closest name by rapidfuzz), and a preview of rows as they would be read.

Pure functions; the mapping page and its services call them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache

from rapidfuzz import fuzz, process

from training.sandbox import rules
from training.sandbox.columns import (
    TEMPLATE_KEYS,
    ColumnMap,
    header_key,
    hintless_key,
    known_names,
)
from training.sandbox.judge.files import RowShaper
from training.sandbox.judge.values import (
    birthday_without_year,
    cell_text,
    is_full_date,
    looks_like_full_birth_date,
    parse_birthday,
    split_name,
)
from training.sandbox.readers import Cell

# How the proposal found a column's target, in words for the page.
REASONS = {
    "template": "same name as the template",
    "synonym": "a usual name for it",
    "similar": "a similar name",
    "values": "its values are full dates of birth",
    "saved": "as you mapped it before",
    "": "",
}


@dataclass(frozen=True)
class Proposal:
    """A proposed target for one file column, and why."""

    position: int  # 0-based column of the file
    header: str  # the file's own header for it
    target: str  # a rules.MAPPING_TARGETS name, or rules.NOT_USED
    reason: str  # a key of REASONS


@cache
def _choices() -> tuple[list[str], list[str]]:
    names = known_names()
    return list(names), list(names.values())


def propose(
    header: Sequence[str],
    samples: Sequence[Sequence[Cell]] = (),
    *,
    today: date,
    saved: ColumnMap | None = None,
) -> list[Proposal]:
    """A target for each column of ``header``: what ``saved`` (the organization's map for a
    header like this) says, else the template's own name, a known synonym, or the closest name
    (rapidfuzz token_sort_ratio, at least rules.FUZZY_MATCH_CUTOFF); a header we do not know as
    it is is looked for again without its hints in parentheses ("Completion Date (MM/DD/YYYY)").
    Each target goes to one column at most, the best match. ``samples`` (the first rows)
    refine it: a birthday column that holds full dates is proposed as
    rules.BIRTH_DATE_COLUMN, whose year is dropped.
    """
    keys, targets = _choices()
    names = known_names()
    saved_targets = _saved_targets(saved, header)
    candidates: list[tuple[float, int, str, str]] = []  # (score, position, target, reason)
    for position, cell in enumerate(header):
        key = header_key(cell)
        if key not in names and (bare := hintless_key(cell)):
            key = bare
        if position in saved_targets:
            candidates.append((102.0, position, saved_targets[position], "saved"))
        elif not key:
            continue
        elif key in TEMPLATE_KEYS:
            candidates.append((101.0, position, TEMPLATE_KEYS[key], "template"))
        elif key in names:
            candidates.append((100.0, position, names[key], "synonym"))
        else:
            match = process.extractOne(
                key, keys, scorer=fuzz.token_sort_ratio, score_cutoff=rules.FUZZY_MATCH_CUTOFF
            )
            if match is not None:
                candidates.append((match[1], position, targets[match[2]], "similar"))
    chosen: dict[int, tuple[str, str]] = {}
    taken: set[str] = set()
    for _score, position, target, reason in sorted(candidates, key=lambda c: (-c[0], c[1])):
        if target in taken or position in chosen or _overlaps_taken(target, taken):
            continue
        chosen[position] = (target, reason)
        taken.add(target)
    for position, (target, reason) in list(chosen.items()):
        values = [row[position] for row in samples if position < len(row) and row[position]]
        if (
            target == rules.DATE_OF_BIRTH
            and reason != "saved"
            and rules.BIRTH_DATE_COLUMN not in taken
            and values
            and all(looks_like_full_birth_date(value, today) for value in values)
        ):
            chosen[position] = (rules.BIRTH_DATE_COLUMN, "values")
    return [
        Proposal(position, cell, *chosen.get(position, (rules.NOT_USED, "")))
        for position, cell in enumerate(header)
    ]


def _overlaps_taken(target: str, taken: set[str]) -> bool:
    """Whether ``target`` fills a template column already taken, or is filled by one taken."""
    if taken.intersection(rules.FILLED_BY.get(target, ())):
        return True
    return any(target in filled and filler in taken for filler, filled in rules.FILLED_BY.items())


def _saved_targets(saved: ColumnMap | None, header: Sequence[str]) -> dict[int, str]:
    """The saved map's targets for the columns of this header with the same name."""
    if saved is None:
        return {}
    by_name = {
        header_key(name): saved.targets[position]
        for position, name in enumerate(saved.header)
        if position in saved.targets
    }
    return {
        position: by_name[header_key(cell)]
        for position, cell in enumerate(header)
        if header_key(cell) in by_name
    }


def proposed_map(proposals: Sequence[Proposal], header: Sequence[str]) -> ColumnMap:
    """The proposals as a ColumnMap (no fixed values)."""
    return ColumnMap(
        tuple(header),
        {proposal.position: proposal.target for proposal in proposals if proposal.target},
    )


def duplicate_targets(column_map: ColumnMap) -> list[str]:
    """Template columns that more than one file column is mapped to."""
    seen: set[str] = set()
    twice: list[str] = []
    for target in column_map.targets.values():
        if target in seen and target not in twice:
            twice.append(target)
        seen.add(target)
    return twice


@dataclass(frozen=True)
class Overlap:
    """A file column mapped to a template column that another column's target already fills
    (First Name beside a Name column that holds first and last name)."""

    position: int  # 0-based column mapped to the filled template column
    filler_position: int  # the column whose target fills it
    filler: str  # rules.NAME_COLUMN or rules.BIRTH_DATE_COLUMN


def overlapping_targets(column_map: ColumnMap) -> list[Overlap]:
    """The columns mapped to a template column that another mapped column already fills
    (rules.FILLED_BY), in file order."""
    overlaps = []
    for filler, filled in rules.FILLED_BY.items():
        filler_position = column_map.position_of(filler)
        if filler_position is None:
            continue
        overlaps.extend(
            Overlap(position, filler_position, filler)
            for position, target in column_map.targets.items()
            if target in filled
        )
    return sorted(overlaps, key=lambda overlap: overlap.position)


def missing_columns(column_map: ColumnMap, *, learners_only: bool) -> list[str]:
    """The required template columns the map gives no value (named on the page)."""
    required = rules.LEARNER_CHECK_REQUIRED if learners_only else rules.MAPPING_REQUIRED
    return column_map.missing(required)


# The preview's columns that show how a Name column was split, before First Name.
NAME_AS_WRITTEN = "Name in your file"
NAME_SPLIT = "How the name was split"


def preview(
    column_map: ColumnMap, samples: Sequence[tuple[int, Sequence[Cell]]], *, today: date
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The first rows as the judge would read them through the map: (columns shown, [(row
    number, their values)]). A Date of Birth shows as MM/DD: the year is never kept. With a
    Name column, the name as written and what was left out or needs a look come first."""
    shaper = RowShaper.for_map(column_map)
    shown_columns = [column for column in rules.HEADERS if column_map.covers(column)]
    splits_names = shaper.name_position is not None
    if splits_names:
        at = shown_columns.index(rules.FIRST_NAME)
        shown_columns[at:at] = [NAME_AS_WRITTEN, NAME_SPLIT]
    fields = {
        rules.RECORD_ACTION: "action",
        rules.ACTIVITY_ID: "activity_id",
        rules.COMPLETION_DATE: "completion_date",
        rules.FIRST_NAME: "first_name",
        rules.LAST_NAME: "last_name",
        rules.DATE_OF_BIRTH: "date_of_birth",
        rules.LICENSING_STATE: "licensing_state",
        rules.LICENSE_OR_NPI: "license_or_npi",
        rules.CME_CREDITS: "cme_credits",
        rules.BOARD: "board",
        rules.BOARD_ID: "board_id",
        rules.BOARD_CREDITS: "board_credits",
    }
    pair_columns = {
        column: (index, side)
        for index, pair in enumerate(rules.CREDIT_TYPE_PAIRS)
        for side, column in enumerate(pair)
    }
    rows: list[tuple[int, list[str]]] = []
    for number, cells in samples:
        row = shaper(tuple(cells))
        values: list[str] = []
        for column in shown_columns:
            if column == NAME_AS_WRITTEN:
                values.append(row.name_cell)
            elif column == NAME_SPLIT:
                values.append(_name_split_shown(row.name_cell))
            elif column == rules.DATE_OF_BIRTH:
                values.append(birthday_shown(row.date_of_birth, today))
            elif column in fields:
                values.append(cell_text(getattr(row, fields[column])))
            else:
                index, side = pair_columns[column]
                pairs = row.credit_types
                values.append(pairs[index][side] if index < len(pairs) else "")
        rows.append((number, values))
    return shown_columns, rows


def _name_split_shown(name_cell: str) -> str:
    split = split_name(name_cell)
    notes = []
    if split.left_out:
        notes.append(f"left out {', '.join(split.left_out)}")
    if split.doubt and not split.left_out:
        notes.append("check where the last name starts")
    if name_cell and not (split.first and split.last):
        notes.append("a name is missing")
    return "; ".join(notes) or "as written"


# The targets whose values are birthdays: the page never shows their year.
BIRTHDAY_TARGETS = frozenset({rules.DATE_OF_BIRTH, rules.BIRTH_DATE_COLUMN})


def shown_value(cell: Cell, targets: Iterable[str], *, today: date, mapped_as: str = "") -> str:
    """One cell of the file as the mapping page shows it, for a column proposed, in use or
    chosen as any of ``targets``: a birthday as the preview shows it (MM/DD, never the year),
    anything else as it is. A full date says PARS refuses its year only when the column is
    ``mapped_as`` the template's Date of Birth: mapped as a date of birth with a year, only
    its month and day are kept, and nothing is refused."""
    if BIRTHDAY_TARGETS.intersection(targets):
        return birthday_shown(cell, today, year_refused=mapped_as == rules.DATE_OF_BIRTH)
    return cell_text(cell)


def birthday_shown(cell: Cell, today: date, *, year_refused: bool = True) -> str:
    """A Date of Birth cell as the page shows it (``values.birthday_without_year``, as every
    download writes it), a full date noted, when ``year_refused``, as one whose year PARS
    refuses."""
    shown = birthday_without_year(cell, today)
    if year_refused and is_full_date(cell) and parse_birthday(cell, today)[0] is not None:
        return f"{shown} (has a year: PARS refuses it)"
    return shown
