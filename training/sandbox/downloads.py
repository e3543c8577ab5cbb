"""The files an organization downloads: the learner template (XLSX, CSV, tab-delimited), a
practice file of fictional learners with the typical mistakes and its corrections, the findings,
and the PARS-ready file made from a judged upload.

Pure functions from activities and register entries to bytes; no app needed.
"""

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Protocol

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from training.sandbox import rules
from training.sandbox.judge import Activity, Finding, LearnerRow, RegisterEntry
from training.sandbox.judge.values import (
    as_read,
    birthday_without_year,
    board_code,
    parse_completion_date,
    parse_credits,
    state_code,
    without_odd_characters,
)
from training.spreadsheets import FORMULA_STARTS, csv_lines, neutralize, write_text

# Data validations cover this many rows below the header.
VALIDATED_ROWS = 10_000
ACTIONS = rules.ACTIONS
FINDINGS_CSV_HEADER = ("row", "column", "severity", "code", "message")


# --- The findings ----------------------------------------------------------------------------


def findings_csv(findings: Iterable[Finding]) -> Iterator[str]:
    """Lines of CSV (each ending in CRLF, the first with a byte-order mark for Excel) with the
    header row,column,severity,code,message (``spreadsheets.csv_lines``)."""
    return csv_lines(
        FINDINGS_CSV_HEADER,
        (
            ("" if finding.row is None else str(finding.row), finding.column, finding.severity,
             finding.code, finding.message)
            for finding in findings
        ),
    )  # fmt: skip


# --- The template ----------------------------------------------------------------------------


def template_text(
    delimiter: str, *, guidance: bool = False, rows: Iterable[Sequence[str]] = ()
) -> bytes:
    """The learner file as CSV (``","``) or tab-delimited text, UTF-8 with a BOM for Excel."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    if guidance:
        writer.writerow([rules.GUIDANCE_LINE])
    writer.writerow(rules.TEMPLATE_HEADER_ROW)
    writer.writerows([neutralize(value) for value in row] for row in rows)
    return buffer.getvalue().encode("utf-8-sig")


def template_xlsx(rows: Iterable[Sequence[str]] = ()) -> bytes:
    """The learner workbook: guidance on row 1, the header on row 2, drop-down lists below.

    Every cell is written as text, so Excel keeps 03/15 a month and day rather than a date.
    """
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Learners"
    sheet.append([rules.GUIDANCE_LINE])
    sheet["A1"].alignment = Alignment(wrap_text=False)
    sheet["A1"].font = Font(italic=True)
    sheet.append(list(rules.TEMPLATE_HEADER_ROW))
    for cell in sheet[rules.XLSX_HEADER_ROW]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = f"A{rules.XLSX_HEADER_ROW + 1}"
    for position, header in enumerate(rules.HEADERS, start=1):
        letter = get_column_letter(position)
        sheet.column_dimensions[letter].width = max(14, len(header) + 2)
        sheet.column_dimensions[letter].number_format = "@"
    for number, row in enumerate(rows, start=rules.XLSX_HEADER_ROW + 1):
        for position, value in enumerate(row, start=1):
            cell = sheet.cell(row=number, column=position)
            write_text(cell, value)
            cell.number_format = "@"

    lists = workbook.create_sheet("ValidValues")
    _write_valid_values(lists)
    for cell in lists[1]:
        cell.font = Font(bold=True)
    _add_drop_downs(sheet)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _credit_types() -> list[str]:
    seen: dict[str, None] = {}
    for board in rules.BOARDS.values():
        seen.update(dict.fromkeys(board.credit_types))
    return list(seen)


# ValidValues columns: (header, values); the drop-downs point at columns A to D.
def _valid_value_lists() -> list[tuple[str, list[str]]]:
    return [
        (rules.RECORD_ACTION, list(ACTIONS)),
        (rules.LICENSING_STATE, list(rules.STATES)),
        (rules.BOARD, list(rules.BOARDS)),
        (rules.CREDIT_TYPE, _credit_types()),
    ]


def _valid_values_rows() -> list[list[str | None]]:
    """The ValidValues sheet as rows: the drop-down lists in columns A to D, then each board's
    name and credit types, and the state names."""
    lists = _valid_value_lists()
    first = len(lists) + 2  # one empty column between
    grid: dict[tuple[int, int], str] = {}
    for position, (header, values) in enumerate(lists, start=1):
        grid[1, position] = header
        for offset, value in enumerate(values, start=2):
            grid[offset, position] = value
    for position, header in enumerate(
        ("Board", "Board name", "Credit types", "State code", "State name"), start=first
    ):
        grid[1, position] = header
    for offset, board in enumerate(rules.BOARDS.values(), start=2):
        grid[offset, first] = board.code
        grid[offset, first + 1] = board.name
        grid[offset, first + 2] = "; ".join(board.credit_types)
    for offset, (code, name) in enumerate(rules.STATES.items(), start=2):
        grid[offset, first + 3] = code
        grid[offset, first + 4] = name
    rows = max(row for row, _ in grid)
    columns = max(column for _, column in grid)
    return [
        [grid.get((row, column)) for column in range(1, columns + 1)] for row in range(1, rows + 1)
    ]


def _write_valid_values(sheet) -> None:
    """Fill a ValidValues sheet (an ordinary or a write-only one)."""
    widths = [24] * len(_valid_value_lists()) + [4] + [30] * 5
    for position, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(position)].width = width
    for row in _valid_values_rows():
        sheet.append(row)


def _add_drop_downs(sheet) -> None:
    columns = {header: get_column_letter(n) for n, header in enumerate(rules.HEADERS, start=1)}
    first_row = rules.XLSX_HEADER_ROW + 1
    last_row = rules.XLSX_HEADER_ROW + VALIDATED_ROWS
    credit_type_columns = [pair[0] for pair in rules.CREDIT_TYPE_PAIRS]
    targets = {
        rules.RECORD_ACTION: [rules.RECORD_ACTION],
        rules.LICENSING_STATE: [rules.LICENSING_STATE],
        rules.BOARD: [rules.BOARD],
        rules.CREDIT_TYPE: credit_type_columns,
    }
    for position, (header, values) in enumerate(_valid_value_lists(), start=1):
        letter = get_column_letter(position)
        validation = DataValidation(
            type="list",
            formula1=f"ValidValues!${letter}$2:${letter}${len(values) + 1}",
            allow_blank=True,
            showErrorMessage=True,
            errorStyle="warning",
            errorTitle=f"Check {header}",
            error=f"This is not one of the values on the ValidValues sheet for {header}.",
        )
        validation.promptTitle = header
        sheet.add_data_validation(validation)
        for column in targets[header]:
            validation.add(f"{columns[column]}{first_row}:{columns[column]}{last_row}")


# --- The practice file -----------------------------------------------------------------------


@dataclass(frozen=True)
class PracticeRow:
    """One row of the practice file, with the mistake it shows and the row that fixes it."""

    cells: tuple[str, ...]
    mistake: str = ""  # the finding code it should get; "" for a row that is right
    fixes: tuple[tuple[str, ...], ...] = ()  # the rows to upload instead (none: drop it)


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')).normalize():f}"


def _day(day: date) -> str:
    return f"{day.month:02d}/{day.day:02d}/{day.year}"


@dataclass(frozen=True)
class _Learner:
    """The fourteen cells of a row, by name, so a mistake is one replaced field."""

    action: str
    activity_id: str
    completion: str
    first_name: str
    last_name: str
    birthday: str
    state: str
    license_or_npi: str
    cme: str
    board: str = ""
    board_id: str = ""
    board_credits: str = ""
    credit_type: str = ""
    credit_type_credits: str = ""

    @property
    def cells(self) -> tuple[str, ...]:
        return (
            self.action,
            self.activity_id,
            self.completion,
            self.first_name,
            self.last_name,
            self.birthday,
            self.state,
            self.license_or_npi,
            self.cme,
            self.board,
            self.board_id,
            self.board_credits,
            self.credit_type,
            self.credit_type_credits,
        )


def _preferred_board(activity: Activity) -> str | None:
    """A board of the activity that takes partial credit and many completions (ABIM first)."""
    boards = sorted(activity.boards, key=lambda code: (code != "ABIM", code))
    flexible = [code for code in boards if code not in rules.ONE_COMPLETION_BOARDS]
    return (flexible or boards or [None])[0]


def _broken_npi(npi: str) -> str:
    return npi[:-1] + str((int(npi[-1]) + 1) % 10)


def practice_rows(
    activity: Activity,
    register: Sequence[RegisterEntry],
    today: date,
    pars_states: frozenset[str] = rules.PARS_STATES,
) -> list[PracticeRow]:
    """Fictional learners of ``activity``: most rows right, a dozen with a typical mistake.

    ``pars_states`` are the states whose boards use PARS data (right rows come from them).
    """
    completed = max(min(today, activity.end_date) - timedelta(days=2), activity.start_date)
    cme = (
        _money(min(activity.max_cme_credits, Decimal(1)))
        if activity.max_cme_credits is not None
        else ""
    )
    board = _preferred_board(activity)
    registration = activity.boards.get(board) if board else None
    credit_type = sorted(registration.credit_types)[0] if registration else ""
    points = _money(registration.points) if registration else ""

    licensed = [e for e in register if e.state and e.license_number and not e.board]
    # Learners licensed where the board takes PARS data first, so right rows carry no warning.
    licensed.sort(key=lambda entry: entry.state not in pars_states)
    certified = [e for e in register if board and e.board == board and e.board_id and e.state]
    with_npi = [e for e in licensed if e.npi]

    def learner(entry: RegisterEntry, *, with_board: bool = False) -> _Learner:
        row = _Learner(
            action="Add",
            activity_id=activity.activity_id,
            completion=_day(completed),
            first_name=entry.first_name,
            last_name=entry.last_name,
            birthday=f"{entry.birth_month:02d}/{entry.birth_day:02d}",
            state=entry.state or "",
            license_or_npi=entry.license_number or "",
            cme=cme,
        )
        if (with_board or not cme) and board:
            row = replace(
                row,
                board=board,
                board_id=entry.board_id or "",
                board_credits=points,
                credit_type=credit_type,
                credit_type_credits=points,
            )
        return row

    people = iter(licensed)
    good = [learner(next(people)) for _ in range(6)]
    good += [learner(entry, with_board=True) for entry in certified[:3]]
    rows = [PracticeRow(row.cells) for row in good]

    def mistake(code: str, wrong: _Learner, *fixes: _Learner) -> None:
        rows.append(PracticeRow(wrong.cells, code, tuple(fix.cells for fix in fixes)))

    right = learner(next(people))
    month_day = right.birthday
    mistake("DOB_HAS_YEAR", replace(right, birthday=f"{month_day}/1975"), right)
    right = learner(next(people))
    mistake("STATE_UNKNOWN", replace(right, state="Californa"), right)
    right = learner(next(people))
    if cme:
        mistake("CREDITS_NOT_QUARTER", replace(right, cme="0.3"), replace(right, cme="0.5"))
    unregistered = next(code for code in rules.BOARDS if code not in activity.boards)
    right = learner(next(people))
    wrong_board = replace(
        right,
        board=unregistered,
        board_id="4417021",
        board_credits="1",
        credit_type=rules.BOARDS[unregistered].credit_types[0],
        credit_type_credits="1",
    )
    if cme:
        mistake("BOARD_NOT_REGISTERED", wrong_board, right)
    mistake("DUPLICATE_ROW", good[0])
    if cme:
        right = learner(next(people))
        swapped = replace(
            right, first_name=right.last_name, last_name=right.first_name, license_or_npi=""
        )
        mistake(
            "NAME_LOOKS_SWAPPED",
            swapped,
            replace(swapped, action="Delete"),
            replace(right, license_or_npi=""),
        )
    right = learner(next(people))
    month, day = (int(part) for part in right.birthday.split("/"))
    other_day = f"{month:02d}/{day % 28 + 1:02d}"
    mistake("LEARNER_NOT_MATCHED", replace(right, birthday=other_day), right)
    if with_npi:
        entry = with_npi[-1]
        right = replace(learner(entry), license_or_npi=entry.npi or "")
        mistake("NPI_INVALID", replace(right, license_or_npi=_broken_npi(entry.npi)), right)
    right = learner(next(people))
    mistake("DATE_IN_FUTURE", replace(right, completion=_day(today + timedelta(days=10))), right)
    right = learner(next(people))
    mistake("LAST_NAME_REQUIRED", replace(right, last_name=""), right)
    right = learner(next(people))
    mistake("DELETE_NOT_FOUND", replace(right, action="Delete"))
    right = learner(next(people))
    mistake("ACTION_INVALID", replace(right, action="Update"), right)
    return rows


def practice_file_rows(rows: Sequence[PracticeRow]) -> list[tuple[str, ...]]:
    """The practice file as uploaded first: every row, mistakes included."""
    return [row.cells for row in rows]


def corrected_file_rows(rows: Sequence[PracticeRow]) -> list[tuple[str, ...]]:
    """What to upload after the practice file: only the fixes for the rows it got wrong.

    The rows that were right are already sandbox records; sending them again would be a
    duplicate, just as in PARS.
    """
    return [fix for row in rows if row.mistake for fix in row.fixes]


# --- The PARS-ready file -----------------------------------------------------------------------

PARS_READY_SHEET = "Learners"
REJECTED_SHEET = "Rejected rows"
REJECTED_HEADER = ("Row in your file", *rules.HEADERS, "What to fix")
_DATE_FORMAT = "mm/dd/yyyy"
TEXT_COLUMNS = frozenset(
    {rules.ACTIVITY_ID, rules.DATE_OF_BIRTH, rules.LICENSE_OR_NPI, rules.BOARD_ID}
)
_TEXT_POSITIONS = frozenset(
    position for position, name in enumerate(rules.HEADERS) if name in TEXT_COLUMNS
)


class JudgedFinding(Protocol):
    """A stored finding, as the rejected sheet shows it."""

    code: str
    severity: str
    message: str


class JudgedRow(Protocol):
    """A row of a judged file read again (services.JudgedRow)."""

    row: int
    fields: LearnerRow
    findings: Sequence[JudgedFinding]

    @property
    def accepted(self) -> bool:
        """Whether the row had no error."""
        ...


def pars_ready_cells(
    fields: LearnerRow, activities: Mapping[str, Activity], today: date
) -> list[object]:
    """An accepted row in the template's columns as PARS takes them: Record Action, state,
    board and credit types spelled as the ValidValues sheet lists them, dates as dates, the
    Date of Birth as MM/DD text, credits as numbers. Leading zeros stay (IDs are text)."""
    activity = activities.get(fields.activity_id)
    board = board_code(fields.board) if fields.board else None
    registration = activity.boards.get(board) if activity is not None and board else None
    registered = (
        {name.casefold(): name for name in registration.credit_types} if registration else {}
    )
    pairs: list[object] = []
    for credit_type, credits in fields.credit_types:
        pairs += [registered.get(credit_type.casefold(), credit_type), _number(credits)]
    cells: list[object] = [
        ACTION_SPELLING.get(fields.action.casefold(), fields.action),
        fields.activity_id,
        parse_completion_date(fields.completion_date),
        fields.first_name,
        fields.last_name,
        birthday_without_year(fields.date_of_birth, today),
        (state_code(fields.licensing_state) or "") if fields.licensing_state else "",
        fields.license_or_npi,
        _number(fields.cme_credits),
        board or "",
        fields.board_id,
        _number(fields.board_credits),
        *pairs,
    ]
    return cells + [""] * (len(rules.HEADERS) - len(cells))


ACTION_SPELLING = {action.casefold(): action for action in ACTIONS}


def _number(text: str) -> Decimal | str:
    value = parse_credits(text) if text else None
    return value.normalize() if value is not None else text


def pars_ready_xlsx(
    rows: Iterable[JudgedRow],
    activities: Mapping[str, Activity],
    today: date,
    *,
    has_accepted: bool = True,
) -> bytes:
    """The accepted rows in the ACCME Excel layout (guidance on row 1, the header on row 2),
    the rejected rows with what to fix on a second sheet, and the ValidValues sheet. Without
    an accepted row (``has_accepted``), the workbook opens on the rejected rows.

    Written row by row (openpyxl write-only), so a large file never sits in memory as cells.
    """
    workbook = Workbook(write_only=True)
    learners = workbook.create_sheet(PARS_READY_SHEET)
    rejected = workbook.create_sheet(REJECTED_SHEET)
    if not has_accepted:  # set before any row: a write-only sheet writes its view first
        learners.sheet_view.tabSelected = False
        rejected.sheet_view.tabSelected = True
        workbook.active = 1
    for position, header in enumerate(rules.HEADERS, start=1):
        width = max(14, len(header) + 2)
        learners.column_dimensions[get_column_letter(position)].width = width
        if header in TEXT_COLUMNS:  # typed in later, 03/15 or 00123 stays as written
            learners.column_dimensions[get_column_letter(position)].number_format = "@"
        rejected.column_dimensions[get_column_letter(position + 1)].width = width
    rejected.column_dimensions[get_column_letter(len(REJECTED_HEADER))].width = 80
    learners.freeze_panes = f"A{rules.XLSX_HEADER_ROW + 1}"
    rejected.freeze_panes = "B2"
    guidance = _text_cell(learners, rules.GUIDANCE_LINE)
    guidance.font = Font(italic=True)
    learners.append([guidance])
    learners.append(
        [_text_cell(learners, header, bold=True) for header in rules.TEMPLATE_HEADER_ROW]
    )
    rejected.append([_text_cell(rejected, header, bold=True) for header in REJECTED_HEADER])
    for judged in rows:
        if judged.accepted:
            cells = pars_ready_cells(judged.fields, activities, today)
            learners.append(
                [
                    _text_cell(learners, value)
                    if position in _TEXT_POSITIONS
                    else _cell(learners, value)
                    for position, value in enumerate(cells)
                ]
            )
        else:
            rejected.append(
                [
                    judged.row,
                    *(_text_cell(rejected, value) for value in _as_read(judged.fields, today)),
                    _text_cell(rejected, _what_to_fix(judged.findings)),
                ]
            )
    _write_valid_values(workbook.create_sheet("ValidValues"))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def pars_ready_text(
    rows: Iterable[JudgedRow], activities: Mapping[str, Activity], today: date
) -> bytes:
    """The accepted rows as tab-delimited text with no header row, as ACCME's tab-delimited
    instructions have it; dates MM/DD/YYYY; UTF-8 without a byte-order mark.

    The file is for PARS, not a spreadsheet program: every value is written exactly, one tab
    between values, one row a line (CRLF), no quotes and no apostrophe before a value that
    starts like a formula (the judge warns about those: LOOKS_LIKE_FORMULA). Accepted values
    hold no tab or line break (the judge refuses them); any that did would become a space.
    """
    buffer = io.StringIO()
    for judged in rows:
        if judged.accepted:
            cells = pars_ready_cells(judged.fields, activities, today)
            buffer.write("\t".join(_one_line(_text(value)) for value in cells))
            buffer.write("\r\n")
    return buffer.getvalue().encode("utf-8")


def _one_line(text: str) -> str:
    return text if text.isprintable() else without_odd_characters(text)


def _text(value: object) -> str:
    if isinstance(value, date):
        return value.strftime("%m/%d/%Y")
    if isinstance(value, Decimal):
        return f"{value:f}"
    return "" if value is None else str(value)


_CREDIT_TYPES_FIELD = LearnerRow._fields.index("credit_types")


_BIRTHDAY_FIELD = LearnerRow._fields.index("date_of_birth")


def _as_read(fields: LearnerRow, today: date) -> list[str]:
    """A rejected row's values as the judge read them (a date cell's time of day kept, for
    DATE_HAS_TIME to point at), in the template's columns: the fields
    up to Total Board Credits, then each credit type and its credits (the fields after them say
    how the row was read, and have no column). The Date of Birth is written without its year,
    as every download writes it (``birthday_without_year``); the row's findings say what was
    wrong with it."""
    values = [as_read(value) for value in fields[:_CREDIT_TYPES_FIELD]]
    values[_BIRTHDAY_FIELD] = birthday_without_year(fields.date_of_birth, today)
    for credit_type, credits in fields.credit_types:
        values += [credit_type, credits]
    return values + [""] * (len(rules.HEADERS) - len(values))


def _what_to_fix(findings: Sequence[JudgedFinding]) -> str:
    return "\n".join(
        f"{finding.code} ({rules.CODES[finding.code].stage_label()}): {finding.message}"
        for finding in findings
    )


def _cell(sheet, value: object) -> object:
    """A value for a write-only row: plain text as it is (openpyxl stores it as text), text a
    spreadsheet could take for a formula or an error as a typed text cell, dates formatted."""
    if isinstance(value, str):
        if value.startswith(FORMULA_STARTS) or value in ERROR_CODES:
            return _text_cell(sheet, value)
        return value
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, date):
        cell.number_format = _DATE_FORMAT
    return cell


def _text_cell(sheet, value: str, *, bold: bool = False) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet)
    write_text(cell, value)
    cell.number_format = "@"
    if bold:
        cell.font = Font(bold=True)
    return cell
