"""Judges a learner file row by row the way PARS would: pure code, streamed, no app needed."""

from __future__ import annotations

import calendar
import csv
import io
import re
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import BinaryIO, NamedTuple, Protocol

from training.sandbox import rules
from training.sandbox.readers import Cell, FileProblem, open_learner_file


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


class LearnerKey(NamedTuple):
    """Who the learner is, as compared between rows and records: names folded by name_key()."""

    first_name: str
    last_name: str
    birth_month: int
    birth_day: int


class RecordKey(NamedTuple):
    """What makes two learner records the same: learner, activity, completion date and board."""

    learner: LearnerKey
    activity_id: str
    completion_date: date
    board: str  # "" when the record reports no board


def name_key(name: str) -> str:
    """A name folded for comparison: case-folded, inner whitespace collapsed."""
    return " ".join(name.split()).casefold()


def learner_key(first_name: str, last_name: str, birth_month: int, birth_day: int) -> LearnerKey:
    """The key of a learner from the values a row or record holds."""
    return LearnerKey(name_key(first_name), name_key(last_name), birth_month, birth_day)


def record_key(record: LearnerRecord) -> RecordKey:
    """The key that makes two records the same (see RecordKey)."""
    return RecordKey(
        learner_key(record.first_name, record.last_name, record.birth_month, record.birth_day),
        record.activity_id,
        record.completion_date,
        record.board or "",
    )


class RecordLookup(Protocol):
    """The organization's sandbox records as the judge asks about them."""

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


def state_code(text: str) -> str | None:
    """The 2-letter code of a US state, DC or territory given as code or full name, else None."""
    folded = " ".join(text.split()).casefold()
    code = folded.upper()
    if code in rules.STATES:
        return code
    return rules.STATE_CODES_BY_FOLDED_NAME.get(folded)


def board_code(text: str) -> str | None:
    """The board code as rules.BOARDS spells it (any case accepted), else None."""
    return rules.BOARDS_BY_FOLDED_CODE.get(text.strip().casefold())


def license_key(license_number: str) -> str:
    """A license number folded for comparison: upper case, dashes and spaces dropped."""
    return "".join(license_number.replace("-", " ").split()).upper()


def npi_is_valid(npi: str) -> bool:
    """Whether a 10-digit NPI passes the Luhn check computed with the 80840 prefix."""
    if len(npi) != rules.NPI_DIGITS or not (npi.isascii() and npi.isdigit()):
        return False
    total = 0
    for position, digit in enumerate(reversed(rules.NPI_PREFIX + npi)):
        value = int(digit)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


class Register:
    """The fictional register, indexed by license, NPI, board ID and name."""

    def __init__(self, entries: Iterable[RegisterEntry] = ()) -> None:
        self._by_license: dict[tuple[str, str], list[RegisterEntry]] = defaultdict(list)
        self._by_npi: dict[str, list[RegisterEntry]] = defaultdict(list)
        self._by_board_id: dict[tuple[str, str], list[RegisterEntry]] = defaultdict(list)
        self._birthdays_by_name: dict[tuple[str, str], set[tuple[int, int]]] = defaultdict(set)
        self._size = 0
        for entry in entries:
            self.add(entry)

    def add(self, entry: RegisterEntry) -> None:
        """Index one more entry."""
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

    def knows(self, learner: LearnerKey) -> bool:
        """Whether someone with the learner's names and birthday is in the register."""
        birthdays = self._birthdays_by_name.get((learner.first_name, learner.last_name))
        return birthdays is not None and (learner.birth_month, learner.birth_day) in birthdays


def is_same_person(entry: RegisterEntry, learner: LearnerKey) -> bool:
    """Whether a register entry has the learner's names and birthday."""
    return learner == learner_key(
        entry.first_name, entry.last_name, entry.birth_month, entry.birth_day
    )


@dataclass(frozen=True)
class JudgeContext:
    """Everything the judge compares rows against."""

    activities: Mapping[str, Activity]
    register: Register
    records: RecordLookup
    today: date
    max_bytes: int = rules.DEFAULT_MAX_BYTES


@dataclass(frozen=True)
class Finding:
    """One thing to fix (error) or to know (warning) about a row, a cell or the file."""

    row: int | None  # the row number the person sees in their spreadsheet; None for the file
    column: str  # header name; "" for a row- or file-level finding
    severity: str  # "error" | "warning"
    code: str
    message: str

    @property
    def is_error(self) -> bool:
        """True for an error (the row, or the file, is rejected)."""
        return self.severity == rules.ERROR


def make_finding(code: str, row: int | None, column: str = "", **params: object) -> Finding:
    """A finding with the severity and message rules.CODES gives the code."""
    rule = rules.CODES[code]
    return Finding(
        row, column, rule.severity, code, rule.message.format(column=column, **params).strip()
    )


@dataclass(frozen=True)
class RowResult:
    """What the judge found on one data row."""

    row: int
    action: str  # "Add" | "Delete" | "" when unreadable
    findings: tuple[Finding, ...]
    record: LearnerRecord | None  # the parsed record when the row has no error

    @property
    def accepted(self) -> bool:
        """True when the row has no error (warnings do not block)."""
        return self.record is not None


@dataclass
class Summary:
    """Counts for the results page: rows read, accepted, rejected, findings by code."""

    rows_read: int = 0
    accepted: int = 0
    rejected: int = 0
    warnings: int = 0  # warning findings
    errors: int = 0  # error findings, file-level ones included
    by_code: Counter[str] = field(default_factory=Counter)
    file_findings: list[Finding] = field(default_factory=list)

    @property
    def file_rejected(self) -> bool:
        """True when a file-level error stopped the judging: no row counts."""
        return any(finding.is_error for finding in self.file_findings)

    def add(self, item: RowResult | Finding) -> None:
        """Count one item from judge_file."""
        if isinstance(item, Finding):
            self.file_findings.append(item)
            self._count(item)
            return
        self.rows_read += 1
        if item.accepted:
            self.accepted += 1
        else:
            self.rejected += 1
        for finding in item.findings:
            self._count(finding)

    def _count(self, finding: Finding) -> None:
        self.by_code[finding.code] += 1
        if finding.is_error:
            self.errors += 1
        else:
            self.warnings += 1


def summarize(results: Iterable[RowResult | Finding]) -> Summary:
    """Count the results of judge_file."""
    summary = Summary()
    for item in results:
        summary.add(item)
    return summary


FINDINGS_CSV_HEADER = ("row", "column", "severity", "code", "message")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize(cell: str) -> str:
    """A cell that a spreadsheet program will show as text, never run as a formula."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


def findings_csv(findings: Iterable[Finding]) -> Iterator[str]:
    """Lines of CSV (each ending in CRLF) with the header row,column,severity,code,message."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(FINDINGS_CSV_HEADER)
    for finding in findings:
        yield _take(buffer)
        row = "" if finding.row is None else str(finding.row)
        writer.writerow(
            [
                neutralize(cell)
                for cell in (row, finding.column, finding.severity, finding.code, finding.message)
            ]
        )
    yield _take(buffer)


def _take(buffer: io.StringIO) -> str:
    line = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return line


def judge_file(
    stream: BinaryIO, filename: str, context: JudgeContext
) -> Iterator[RowResult | Finding]:
    """Yield file-level findings (stopping if fatal) and one RowResult per data row, in order.

    Every file-level finding is fatal. All of them come before the first row except one: a
    workbook whose sheet turns out damaged part-way ends with FILE_UNREADABLE after the rows
    read so far; treat it as failing the whole upload.
    """
    try:
        learner_file = open_learner_file(stream, filename, context.max_bytes)
    except FileProblem as problem:
        yield make_finding(problem.code, None, **problem.params)
        return
    with learner_file:
        mismatch = header_mismatch(learner_file.header, learner_file.header_row, learner_file.kind)
        if mismatch is not None:
            yield mismatch
            return
        judge = RowJudge(context, len(learner_file.header))
        judged = 0
        try:
            for number, cells in learner_file.rows:
                judged += 1
                yield judge.judge(number, cells)
        except FileProblem as problem:
            yield make_finding(problem.code, None, **problem.params)
            return
        if not judged:
            yield make_finding("FILE_EMPTY", None, what="a header row but no learner rows")


def column_letter(position: int) -> str:
    """The spreadsheet letter of a 1-based column position (1 → A, 27 → AA)."""
    letters = ""
    while position:
        position, remainder = divmod(position - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def header_mismatch(header: tuple[str, ...], header_row: int, kind: str) -> Finding | None:
    """One HEADER_MISMATCH naming the first column that differs from the template, or None."""
    found = tuple(cell.strip() for cell in header)
    expected = rules.HEADERS
    if len(found) in rules.ACCEPTED_HEADER_LENGTHS and found == expected[: len(found)]:
        return None
    index = next(
        (i for i, (one, other) in enumerate(zip(found, expected, strict=False)) if one != other),
        min(len(found), len(expected)),
    )
    wanted = expected[index] if index < len(expected) else ""
    got = found[index] if index < len(found) else ""
    hint = ""
    if kind == "xlsx":
        hint = "In the workbook, row 1 is the guidance line and row 2 the header."
    elif "\t" in header[0]:
        hint = "The file looks tab-delimited: name it .txt or .tsv, or save it as CSV."
    elif ";" in header[0]:
        hint = "The file looks semicolon-separated: save it as comma-separated CSV."
    return make_finding(
        "HEADER_MISMATCH",
        header_row,
        wanted,
        position=f"{index + 1} ({column_letter(index + 1)})",
        expected=f'"{wanted}"' if wanted else "nothing (no more columns)",
        found=shown(got) if got else "missing",
        hint=hint,
    )


# --- Showing values --------------------------------------------------------------------------

_SHOWN_LENGTH = 40
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def shown(value: str) -> str:
    """A cell value quoted for a message: control characters dropped, long values cut."""
    if not value:
        return "blank"
    cleaned = _CONTROL.sub(" ", value)
    if len(cleaned) > _SHOWN_LENGTH:
        cleaned = cleaned[: _SHOWN_LENGTH - 1] + "…"
    return f'"{cleaned}"'


def masked(value: str) -> str:
    """An identifier with all but its last 4 characters hidden."""
    if not value:
        return "blank"
    keep = value[-4:] if len(value) > 4 else value
    return shown("*" * (len(value) - len(keep)) + keep)


def masked_birthday(value: str) -> str:
    """A date of birth with every digit and letter hidden (its shape kept)."""
    if not value:
        return "blank"
    return shown(re.sub(r"\w", "*", value))


# --- Parsing cells ---------------------------------------------------------------------------

_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_BIRTHDAY = re.compile(r"(\d{1,2})/(\d{1,2})")
_BIRTHDAY_WITH_YEAR = re.compile(
    r"\d{1,2}[/-]\d{1,2}[/-]\d{2,4}|\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{2,4}\s.*"
)
_CREDITS = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_LICENSE = re.compile(r"[A-Za-z0-9-]*[A-Za-z0-9][A-Za-z0-9-]*")
_ACTIONS = {"add": "Add", "delete": "Delete"}
_LEAP_YEAR = 2000


def cell_text(cell: Cell) -> str:
    """A cell as text, stripped (an Excel date cell written MM/DD/YYYY)."""
    if isinstance(cell, datetime):
        return cell.strftime("%m/%d/%Y")
    return cell.strip()


def parse_completion_date(cell: Cell) -> date | None:
    """A completion date from MM/DD/YYYY, YYYY-MM-DD or an Excel date cell with no time."""
    if isinstance(cell, datetime):
        return cell.date() if cell.time() == time() else None
    text = cell.strip()
    match = _US_DATE.fullmatch(text)
    if match:
        month, day, year = (int(part) for part in match.groups())
    elif match := _ISO_DATE.fullmatch(text):
        year, month, day = (int(part) for part in match.groups())
    else:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_birthday(cell: Cell) -> tuple[str | None, int, int]:
    """(finding code or None, month, day) for a Date of Birth cell."""
    if isinstance(cell, datetime):
        return "DOB_HAS_YEAR", 0, 0
    text = cell.strip()
    match = _BIRTHDAY.fullmatch(text)
    if match is None:
        if _BIRTHDAY_WITH_YEAR.fullmatch(text):
            return "DOB_HAS_YEAR", 0, 0
        return "DOB_FORMAT", 0, 0
    month, day = int(match[1]), int(match[2])
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(_LEAP_YEAR, month)[1]):
        return "DOB_INVALID_DAY", 0, 0
    return None, month, day


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _format_day(day: date) -> str:
    return day.strftime("%m/%d/%Y")


_Add = Callable[[Finding], None]


# --- State across rows -----------------------------------------------------------------------


class CompactIndex:
    """A map from 64-bit hashes to small ints in two flat arrays: 12 bytes a slot.

    The judge remembers one entry per distinct row key (for DUPLICATE_ROW and friends); a
    dict would cost about 100 bytes an entry, this about 12-24 (the table stays under 2/3 full).
    A 64-bit hash collision could make two different rows look the same: at a million rows
    the chance is about 3 in 100 million.
    """

    __slots__ = ("_keys", "_mask", "_used", "_values")

    def __init__(self, size_bits: int = 10) -> None:
        size = 1 << size_bits
        self._keys = array("Q", [0]) * size
        self._values = array("I", [0]) * size
        self._mask = size - 1
        self._used = 0

    @staticmethod
    def hash_of(value: object) -> int:
        """The 64-bit key for a hashable value (never 0, which marks a free slot)."""
        return (hash(value) & 0xFFFF_FFFF_FFFF_FFFF) or 1

    def __len__(self) -> int:
        return self._used

    @property
    def nbytes(self) -> int:
        """The memory the two arrays take."""
        return len(self._keys) * 12

    def _slot(self, key: int) -> int:
        keys, mask = self._keys, self._mask
        slot = (key ^ (key >> 32)) & mask
        while True:
            held = keys[slot]
            if held == key or held == 0:
                return slot
            slot = (slot + 1) & mask

    def get(self, key: int) -> int | None:
        """The value for the key, or None."""
        slot = self._slot(key)
        return self._values[slot] if self._keys[slot] == key else None

    def set(self, key: int, value: int) -> None:
        """Set the value for the key."""
        slot = self._slot(key)
        if self._keys[slot] != key:
            self._keys[slot] = key
            self._used += 1
        self._values[slot] = value
        if self._used * 3 > len(self._keys) * 2:
            self._grow()

    def _grow(self) -> None:
        keys, values = self._keys, self._values
        size = len(keys) * 2
        self._keys = array("Q", [0]) * size
        self._values = array("I", [0]) * size
        self._mask = size - 1
        self._used = 0
        for key, value in zip(keys, values, strict=True):
            if key:
                self.set(key, value)


# Flags packed with a row number into one CompactIndex value.
_DELETE = 0b10
_ACCEPTED = 0b01
_CLEARED = 0b1  # for completions: an accepted Delete cleared the learner's completion


# --- The row judge ---------------------------------------------------------------------------


class RowJudge:
    """Judges the data rows of one file in order, remembering what later rows are judged by."""

    def __init__(self, context: JudgeContext, width: int) -> None:
        self.context = context
        self.width = width
        self.pairs = [
            (index, type_column, credits_column)
            for index, (type_column, credits_column) in enumerate(rules.CREDIT_TYPE_PAIRS)
            if len(rules.REQUIRED_HEADERS) + 2 * index <= width  # the pair's columns exist
        ]
        self.earliest_year = context.today.year - rules.OLDEST_YEAR_BACK
        self.rows_by_key = CompactIndex()
        self.completions = CompactIndex()
        self.abs_quarters = CompactIndex()
        self._credit_types: dict[tuple[str, str], dict[str, str]] = {}

    def judge(self, number: int, cells: tuple[Cell, ...]) -> RowResult:
        """Judge one data row (cells in header order)."""
        if len(cells) < self.width:
            cells = cells + ("",) * (self.width - len(cells))
        texts = [cell.strip() if type(cell) is str else cell_text(cell) for cell in cells]
        findings: list[Finding] = []
        add = findings.append
        context = self.context

        action_text = texts[0]
        action = _ACTIONS.get(action_text.casefold(), "")
        if not action:
            add(
                make_finding(
                    "ACTION_INVALID", number, rules.RECORD_ACTION, value=shown(action_text)
                )
            )
        # A row with an unreadable action is judged as an Add so that every problem shows.
        is_add = action != "Delete"

        activity_id = texts[1]
        activity: Activity | None = None
        activity_id_ok = len(activity_id) == rules.ACTIVITY_ID_DIGITS and _is_digits(activity_id)
        if not activity_id_ok:
            add(
                make_finding(
                    "ACTIVITY_ID_FORMAT", number, rules.ACTIVITY_ID, value=shown(activity_id)
                )
            )
        else:
            activity = context.activities.get(activity_id)
            if activity is None:
                add(
                    make_finding("ACTIVITY_NOT_FOUND", number, rules.ACTIVITY_ID, value=activity_id)
                )

        completion = parse_completion_date(cells[2])
        if completion is None:
            shown_date = shown(texts[2])
            add(make_finding("DATE_FORMAT", number, rules.COMPLETION_DATE, value=shown_date))
        elif is_add:
            self._judge_completion(number, completion, activity, add)

        first_name = texts[3]
        last_name = texts[4]
        for name, column, required in (
            (first_name, rules.FIRST_NAME, "FIRST_NAME_REQUIRED"),
            (last_name, rules.LAST_NAME, "LAST_NAME_REQUIRED"),
        ):
            if not name:
                add(make_finding(required, number, column))
            elif len(name) > rules.NAME_MAX_LENGTH:
                add(
                    make_finding(
                        "NAME_TOO_LONG",
                        number,
                        column,
                        length=len(name),
                        limit=rules.NAME_MAX_LENGTH,
                    )
                )

        birthday_problem, birth_month, birth_day = parse_birthday(cells[5])
        if birthday_problem:
            add(
                make_finding(
                    birthday_problem,
                    number,
                    rules.DATE_OF_BIRTH,
                    value=masked_birthday(texts[5]),
                )
            )

        cme_text = texts[8]
        state_text = texts[6]
        state: str | None = None
        if state_text:
            state = state_code(state_text)
            if state is None:
                add(
                    make_finding(
                        "STATE_UNKNOWN", number, rules.LICENSING_STATE, value=shown(state_text)
                    )
                )
            elif is_add and state not in rules.PARS_STATES:
                add(
                    make_finding(
                        "STATE_NOT_PARTICIPATING",
                        number,
                        rules.LICENSING_STATE,
                        value=rules.STATES[state],
                    )
                )
        elif is_add and cme_text:
            add(make_finding("STATE_REQUIRED", number, rules.LICENSING_STATE))

        identifier = texts[7]
        npi: str | None = None
        license_number: str | None = None
        if identifier:
            if len(identifier) == rules.NPI_DIGITS and _is_digits(identifier):
                if npi_is_valid(identifier):
                    npi = identifier
                else:
                    add(
                        make_finding(
                            "NPI_INVALID", number, rules.LICENSE_OR_NPI, value=masked(identifier)
                        )
                    )
            elif len(identifier) <= rules.LICENSE_MAX_LENGTH and _LICENSE.fullmatch(identifier):
                license_number = identifier.upper()
            else:
                add(
                    make_finding(
                        "LICENSE_FORMAT",
                        number,
                        rules.LICENSE_OR_NPI,
                        value=masked(identifier),
                        limit=rules.LICENSE_MAX_LENGTH,
                    )
                )

        cme: Decimal | None = None
        if is_add and cme_text:
            cme = self._credits(number, rules.CME_CREDITS, cme_text, add)
            if cme is not None and activity is not None:
                maximum = activity.max_cme_credits or Decimal(0)
                if cme > maximum:
                    add(
                        make_finding(
                            "CREDITS_EXCEED_ACTIVITY",
                            number,
                            rules.CME_CREDITS,
                            value=cme,
                            maximum=maximum,
                            activity_id=activity_id,
                        )
                    )

        board_text = texts[9]
        board_id_text = texts[10]
        board_credits_text = texts[11]
        pair_texts = [
            (
                index,
                type_column,
                credits_column,
                texts[12 + 2 * index],
                texts[13 + 2 * index],
            )
            for index, type_column, credits_column in self.pairs
        ]
        board: str | None = None
        registration: BoardRegistration | None = None
        if board_text:
            board = board_code(board_text)
            if board is None:
                add(self._board_unknown(number, shown(board_text)))
            elif activity is not None:
                registration = activity.boards.get(board)
                if registration is None:
                    add(
                        make_finding(
                            "BOARD_NOT_REGISTERED",
                            number,
                            rules.BOARD,
                            value=board,
                            activity_id=activity_id,
                            registered=", ".join(sorted(activity.boards)) or "no board",
                        )
                    )
        elif is_add and (
            board_id_text or board_credits_text or any(t or c for _, _, _, t, c in pair_texts)
        ):
            add(self._board_unknown(number, "blank while other board columns are filled in"))

        board_id: str | None = None
        if board_id_text:
            if _is_digits(board_id_text):
                board_id = board_id_text
            else:
                add(
                    make_finding(
                        "BOARD_ID_FORMAT", number, rules.BOARD_ID, value=masked(board_id_text)
                    )
                )
        elif is_add and board is not None and rules.BOARDS[board].board_id_required:
            add(make_finding("BOARD_ID_REQUIRED", number, rules.BOARD_ID, board=board))

        board_credits: Decimal | None = None
        awards: list[tuple[str, Decimal]] = []
        if is_add and board is not None:
            board_credits = self._board_credits(
                number, board, board_credits_text, registration, activity_id, add
            )
            awards = self._credit_awards(
                number, board, activity, registration, board_credits, pair_texts, add
            )

        if is_add and not cme_text and not board_text:
            add(make_finding("NO_CREDIT_REPORTED", number))

        learner: LearnerKey | None = None
        if first_name and last_name and not birthday_problem:
            learner = learner_key(first_name, last_name, birth_month, birth_day)
            if is_add:
                self._judge_identity(
                    number, learner, state, license_number, npi, board, board_id, add
                )

        key: RecordKey | None = None
        if (
            learner is not None
            and activity_id_ok
            and completion is not None
            and (board or not board_text)
        ):
            key = RecordKey(learner, activity_id, completion, board or "")
        has_error = any(finding.severity == rules.ERROR for finding in findings)
        if key is not None and action:
            has_error = self._judge_repeats(number, action, key, board, has_error, add)

        if has_error:
            return RowResult(number, action, tuple(findings), None)
        assert completion is not None and learner is not None  # no error means they parsed
        if action == "Add" and board == "ABS" and board_credits is not None:
            self._judge_abs_day(number, learner, completion, board_credits, add)
        record = LearnerRecord(
            activity_id=activity_id,
            completion_date=completion,
            first_name=first_name,
            last_name=last_name,
            birth_month=birth_month,
            birth_day=birth_day,
            state=state,
            license_or_npi=npi or license_number,
            board=board,
            board_id=board_id,
            cme_credits=cme,
            board_credits=board_credits,
            credit_awards=tuple(awards),
        )
        return RowResult(number, action, tuple(findings), record)

    def _judge_completion(
        self, number: int, completion: date, activity: Activity | None, add: _Add
    ) -> None:
        today = self.context.today
        future = completion > today
        too_old = completion.year < self.earliest_year
        outside = activity is not None and not (
            activity.start_date <= completion <= activity.end_date
        )
        late = (today - completion).days > rules.LATE_REPORT_DAYS
        if not (future or too_old or outside or late):
            return
        value = _format_day(completion)
        column = rules.COMPLETION_DATE
        if future:
            add(make_finding("DATE_IN_FUTURE", number, column, value=value))
        elif too_old:
            earliest = self.earliest_year
            add(make_finding("DATE_TOO_OLD", number, column, value=value, earliest_year=earliest))
        if outside:
            assert activity is not None
            start, end = _format_day(activity.start_date), _format_day(activity.end_date)
            add(
                make_finding(
                    "DATE_OUTSIDE_ACTIVITY", number, column, value=value, start=start, end=end
                )
            )
        # A date that is wrong anyway needs no reminder to report sooner.
        if late and not (too_old or outside):
            days = rules.LATE_REPORT_DAYS
            add(make_finding("LATE_REPORT", number, column, value=value, days=days))

    @staticmethod
    def _credits(number: int, column: str, text: str, add: _Add) -> Decimal | None:
        if not text or not _CREDITS.fullmatch(text) or (value := Decimal(text)) <= 0:
            add(make_finding("CREDITS_FORMAT", number, column, value=shown(text)))
            return None
        if value % rules.CREDIT_STEP:
            add(make_finding("CREDITS_NOT_QUARTER", number, column, value=text))
            return None
        return value

    @staticmethod
    def _board_unknown(number: int, value: str) -> Finding:
        return make_finding(
            "BOARD_UNKNOWN", number, rules.BOARD, value=value, boards=", ".join(rules.BOARDS)
        )

    def _board_credits(
        self,
        number: int,
        board: str,
        text: str,
        registration: BoardRegistration | None,
        activity_id: str,
        add: _Add,
    ) -> Decimal | None:
        credits = self._credits(number, rules.BOARD_CREDITS, text, add)
        if credits is None or registration is None:
            return credits
        maximum = registration.points
        if credits > maximum:
            add(
                make_finding(
                    "BOARD_CREDITS_EXCEED",
                    number,
                    rules.BOARD_CREDITS,
                    value=credits,
                    maximum=maximum,
                    activity_id=activity_id,
                    board=board,
                )
            )
        elif credits != maximum and not rules.BOARDS[board].partial_credit_allowed:
            add(
                make_finding(
                    "ABP_PARTIAL_CREDIT",
                    number,
                    rules.BOARD_CREDITS,
                    value=credits,
                    maximum=maximum,
                )
            )
        return credits

    def _credit_awards(
        self,
        number: int,
        board: str,
        activity: Activity | None,
        registration: BoardRegistration | None,
        board_credits: Decimal | None,
        pair_texts: list[tuple[int, str, str, str, str]],
        add: _Add,
    ) -> list[tuple[str, Decimal]]:
        names = self._credit_type_names(activity, board, registration)
        awards: list[tuple[str, Decimal]] = []
        awarded = Decimal(0)
        exceeded = False
        for index, type_column, credits_column, type_text, credits_text in pair_texts:
            if index and not type_text and not credits_text:
                continue
            credit_type: str | None = None
            if not type_text or (names is not None and type_text.casefold() not in names):
                add(
                    make_finding(
                        "CREDIT_TYPE_INVALID",
                        number,
                        type_column,
                        value=shown(type_text),
                        board=board,
                        allowed=", ".join(sorted(registration.credit_types))
                        if registration
                        else "see the activity",
                    )
                )
            elif names is not None:
                credit_type = names[type_text.casefold()]
            credits = self._credits(number, credits_column, credits_text, add)
            if credits is None:
                continue
            awarded += credits
            if board_credits is not None and awarded > board_credits and not exceeded:
                exceeded = True
                add(
                    make_finding(
                        "CREDIT_TYPE_EXCEEDS_TOTAL",
                        number,
                        credits_column,
                        value=awarded,
                        total=board_credits,
                    )
                )
            if credit_type is not None:
                awards.append((credit_type, credits))
        return awards

    def _credit_type_names(
        self, activity: Activity | None, board: str, registration: BoardRegistration | None
    ) -> dict[str, str] | None:
        """Folded credit type -> as registered, for the activity and board; None if unknown."""
        if activity is None or registration is None:
            return None
        cache_key = (activity.activity_id, board)
        names = self._credit_types.get(cache_key)
        if names is None:
            names = {name.casefold(): name for name in registration.credit_types}
            self._credit_types[cache_key] = names
        return names

    def _judge_identity(
        self,
        number: int,
        learner: LearnerKey,
        state: str | None,
        license_number: str | None,
        npi: str | None,
        board: str | None,
        board_id: str | None,
        add: _Add,
    ) -> None:
        register = self.context.register
        lookups: list[tuple[str, str, list[RegisterEntry]]] = []
        if state and license_number:
            lookups.append(
                (rules.LICENSE_OR_NPI, license_number, register.by_license(state, license_number))
            )
        if npi:
            lookups.append((rules.LICENSE_OR_NPI, npi, register.by_npi(npi)))
        if board and board_id:
            lookups.append((rules.BOARD_ID, board_id, register.by_board_id(board, board_id)))
        for column, identifier, entries in lookups:
            if entries and not any(is_same_person(entry, learner) for entry in entries):
                add(
                    make_finding(
                        "LEARNER_NOT_MATCHED",
                        number,
                        column,
                        value=masked(identifier),
                    )
                )
                break
        first, last, month, day = learner
        if (
            first != last
            and not register.knows(learner)
            and register.knows(LearnerKey(last, first, month, day))
        ):
            add(make_finding("NAME_LOOKS_SWAPPED", number))

    def _judge_repeats(
        self,
        number: int,
        action: str,
        key: RecordKey,
        board: str | None,
        has_error: bool,
        add: _Add,
    ) -> bool:
        """DUPLICATE_ROW, DELETE_NOT_FOUND and DUPLICATE_COMPLETION; whether the row has an error.

        The file is judged as applied in order: a Delete then an Add of the same record is how
        a record is changed, and a Delete may remove a record added earlier in the same file.
        """
        records = self.context.records
        row_key = CompactIndex.hash_of(key)
        earlier = self.rows_by_key.get(row_key)
        earlier_row = None if earlier is None else earlier >> 2
        earlier_deleted = earlier is not None and bool(earlier & _DELETE)
        earlier_accepted = earlier is not None and bool(earlier & _ACCEPTED)
        duplicate = False
        if action == "Add":
            if earlier is not None and not earlier_deleted:
                duplicate = True
                add(make_finding("DUPLICATE_ROW", number, where=f"on row {earlier_row}"))
            elif not (earlier_deleted and earlier_accepted) and records.find(key):
                duplicate = True
                add(
                    make_finding(
                        "DUPLICATE_ROW",
                        number,
                        where="in your sandbox records from an earlier upload",
                    )
                )
        elif earlier is not None and earlier_deleted:
            duplicate = True
            add(make_finding("DUPLICATE_ROW", number, where=f"deleted on row {earlier_row}"))
        elif not (earlier is not None and earlier_accepted) and not records.find(key):
            add(make_finding("DELETE_NOT_FOUND", number))
            has_error = True
        has_error = has_error or duplicate

        if board in rules.ONE_COMPLETION_BOARDS:
            completion_key = CompactIndex.hash_of((board, key.learner, key.activity_id))
            held = self.completions.get(completion_key)
            if action == "Add" and not duplicate:
                if held is not None and not held & _CLEARED:
                    has_error = True
                    add(
                        make_finding(
                            "DUPLICATE_COMPLETION",
                            number,
                            board=board,
                            activity_id=key.activity_id,
                            where=f"on row {held >> 1}",
                        )
                    )
                elif held is None and records.has_completion(key.learner, key.activity_id):
                    has_error = True
                    add(
                        make_finding(
                            "DUPLICATE_COMPLETION",
                            number,
                            board=board,
                            activity_id=key.activity_id,
                            where="in your sandbox records",
                        )
                    )
                if held is None or held & _CLEARED:
                    self.completions.set(completion_key, number << 1)
            elif action == "Delete" and not has_error:
                self.completions.set(completion_key, number << 1 | _CLEARED)

        if earlier is None or earlier_deleted != (action == "Delete"):
            flags = (_DELETE if action == "Delete" else 0) | (0 if has_error else _ACCEPTED)
            self.rows_by_key.set(row_key, number << 2 | flags)
        return has_error

    def _judge_abs_day(
        self, number: int, learner: LearnerKey, completion: date, credits: Decimal, add: _Add
    ) -> None:
        day_key = CompactIndex.hash_of((learner, completion))
        quarters = (self.abs_quarters.get(day_key) or 0) + int(credits / rules.CREDIT_STEP)
        self.abs_quarters.set(day_key, quarters)
        total = Decimal(quarters) * rules.CREDIT_STEP
        if total > rules.ABS_DAILY_LIMIT:
            add(
                make_finding(
                    "ABS_DAILY_LIMIT",
                    number,
                    rules.BOARD_CREDITS,
                    value=total.normalize(),
                    day=_format_day(completion),
                    limit=rules.ABS_DAILY_LIMIT,
                )
            )
