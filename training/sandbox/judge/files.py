"""A whole learner file: finding its header by content, reading its columns by name (template,
a confirmed mapping, or position), and judging its rows in order."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING, BinaryIO

from training.sandbox import rules
from training.sandbox.columns import (
    TEMPLATE_KEYS,
    ColumnMap,
    by_name,
    header_key,
    header_score,
    is_learner_row,
    lettered_header,
    looks_like_data,
    signature,
    template_width,
    template_with_extras,
)
from training.sandbox.judge.fast import FastRows
from training.sandbox.judge.findings import (
    Finding,
    RowResult,
    Summary,
    column_order,
    make_finding,
)
from training.sandbox.judge.records import JudgeContext
from training.sandbox.judge.rows import LearnerRow, RowJudge
from training.sandbox.judge.stored import StoredPart, change_of, finding_row
from training.sandbox.judge.values import (
    birthday_from_full_date,
    cell_text,
    column_letter,
    listed,
    masked,
    npi_is_valid,
    shown,
    split_name,
    without_odd_characters,
)
from training.sandbox.readers import (
    Cell,
    FileProblem,
    LearnerFile,
    NoValue,
    NumberText,
    SpreadsheetRow,
    open_learner_file,
)

if TYPE_CHECKING:
    from training.sandbox.judge.batches import JudgedBatch

# How the columns were read.
TEMPLATE = "template"  # the template's header, found by content and matched loosely
MAPPED = "mapped"  # a column mapping the organization confirmed
BY_NAME = "by name"  # learners only: template column names in another order or a subset
BY_POSITION = "by position"  # no header: the template's order
UNRECOGNISED = ""
# Why a semicolon file's slash dates may be day first (DATE_MAYBE_DAY_FIRST, DOB_MAYBE_DAY_FIRST).
_SEMICOLONS_DAY_FIRST = (
    "the file is separated by semicolons, as Excel saves CSV in countries that write dates "
    "day first"
)


@dataclass(frozen=True)
class FileLayout:
    """How a learner file was read: which sheet, where its header is, whose columns."""

    kind: str  # "csv", "tsv" or "xlsx"
    columns: str  # TEMPLATE, MAPPED, BY_NAME, BY_POSITION, or UNRECOGNISED (not judged)
    header_row: int | None  # None when the file has no header
    header: tuple[str, ...] = ()
    column_map: ColumnMap | None = None  # for MAPPED and BY_NAME
    width: int = len(rules.HEADERS)  # template columns, for TEMPLATE and BY_POSITION
    sheet_name: str = ""
    hidden_sheets: tuple[str, ...] = ()
    # A workbook's other visible sheets, when none of them was recognised either.
    other_sheets: tuple[str, ...] = ()
    encoding: str = ""
    delimiter: str = ""

    def to_json(self) -> dict:
        """The layout as JSON data, kept with the attempt. Not the header: in a file without
        one, the row taken for it may be a learner's."""
        return {
            "kind": self.kind,
            "columns": self.columns,
            "header_row": self.header_row,
            "width": self.width,
            "sheet_name": self.sheet_name,
            "hidden_sheets": list(self.hidden_sheets),
            "encoding": self.encoding,
            "delimiter": self.delimiter,
        }


@dataclass
class LearnerRows:
    """An open file's layout and its data rows as named fields, with their row numbers."""

    layout: FileLayout
    notes: list[Finding]  # file-level warnings about how it was read
    raw_rows: Iterator[SpreadsheetRow]
    shaper: RowShaper | None = None
    formula_rows: set[int] = field(default_factory=set)  # see LearnerFile.formula_rows
    hidden_rows: set[int] = field(default_factory=set)  # see LearnerFile.hidden_rows
    merged_cells: list[str] = field(default_factory=list)  # see LearnerFile.merged_cells
    quote_rows: dict[int, tuple[int, int, int]] = field(default_factory=dict)  # see LearnerFile
    one_line_data: BinaryIO | None = None  # see LearnerFile
    reread: Callable[[], Iterator[SpreadsheetRow]] | None = None  # see LearnerFile

    def __iter__(self) -> Iterator[tuple[int, LearnerRow, tuple[Cell, ...]]]:
        shape = self.shaper
        assert shape is not None, "the header was not recognised"
        for number, cells in self.raw_rows:
            yield number, shape(cells), cells


@contextmanager
def learner_rows(
    stream: BinaryIO,
    filename: str,
    context: JudgeContext,
    *,
    learners_only: bool = False,
) -> Iterator[LearnerRows]:
    """Open a learner file and find how to read its columns; raises FileProblem.

    The header is the first row (of the first rules.HEADER_SCAN_ROWS) that names the template's
    columns, or is the header of a mapping in ``context.column_maps``; a first row that is
    already a learner row means there is no header. Otherwise the layout is UNRECOGNISED, its
    header the likeliest row, and the file is not to be judged.
    """
    learner_file = open_learner_file(stream, filename, context.max_bytes)
    with learner_file:
        layout, rows = _locate(learner_file, context.column_maps, learners_only)
        notes = [make_finding(code, None, **params) for code, params in learner_file.notes]
        if not layout.columns and learner_file.other_sheets:
            found = _learner_sheet(learner_file, context.column_maps, learners_only)
            if found is None:
                layout = replace(layout, other_sheets=learner_file.other_sheets)
            else:
                first_sheet = layout.sheet_name
                learner_file, layout, rows = found
                notes.append(
                    make_finding(
                        "FILE_OTHER_SHEET",
                        None,
                        first=shown(first_sheet),
                        sheet=shown(layout.sheet_name),
                        whose="is the template's"
                        if layout.columns == TEMPLATE
                        else "matches the column mapping you confirmed"
                        if layout.columns == MAPPED
                        else "names the template's columns",
                    )
                )
        if not layout.columns and layout.kind == "xlsx" and "" in layout.header:
            # A blank cell in the header may be part of a merged block, which the sheet lists
            # after its rows: they are read through (only for a header that is not judged).
            for _row in learner_file.rows:
                pass
        if layout.columns == BY_POSITION:
            notes.append(make_finding("NO_HEADER_ROW", None))
        if layout.columns == TEMPLATE and (extra := extra_columns(layout)) is not None:
            notes.append(extra)
        shaper = RowShaper.for_layout(layout) if layout.columns else None
        yield LearnerRows(
            layout,
            notes,
            rows,
            shaper,
            learner_file.formula_rows,
            learner_file.hidden_rows,
            learner_file.merged_cells,
            learner_file.quote_rows,
            learner_file.one_line_data,
            learner_file.reread,
        )


def _learner_sheet(
    learner_file: LearnerFile, column_maps: tuple[ColumnMap, ...], learners_only: bool
) -> tuple[LearnerFile, FileLayout, Iterator[SpreadsheetRow]] | None:
    """The first other visible sheet of a workbook whose header is recognised (the template's,
    a confirmed mapping's, or template names), its layout and rows; None when there is none.
    A sheet without a header is not taken: a ValidValues sheet starts with "Add"."""
    assert learner_file.open_sheet is not None
    for title in learner_file.other_sheets:
        sheet_file = learner_file.open_sheet(title)
        layout, rows = _locate(sheet_file, column_maps, learners_only)
        if layout.columns in (TEMPLATE, MAPPED, BY_NAME):
            return sheet_file, layout, rows
    return None


def _locate(
    learner_file: LearnerFile, column_maps: tuple[ColumnMap, ...], learners_only: bool
) -> tuple[FileLayout, Iterator[SpreadsheetRow]]:
    def laid_out(columns: str, **found) -> FileLayout:
        return FileLayout(
            kind=learner_file.kind,
            columns=columns,
            sheet_name=learner_file.sheet_name,
            hidden_sheets=learner_file.hidden_sheets,
            encoding=learner_file.encoding,
            delimiter=learner_file.delimiter,
            **found,
        )

    maps = {column_map.signature: column_map for column_map in column_maps}
    scanned: list[SpreadsheetRow] = []
    rows = learner_file.rows
    for number, cells in rows:
        scanned.append((number, cells))
        header = tuple(cell if isinstance(cell, str) else cell_text(cell) for cell in cells)
        if (width := template_width(header)) is not None:
            return laid_out(TEMPLATE, header_row=number, header=header, width=width), rows
        if (extended := template_with_extras(header)) is not None:
            # PARS reads its template's columns; what a provider keeps after them is left out.
            return laid_out(TEMPLATE, header_row=number, header=header, width=extended[0]), rows
        if (column_map := maps.get(signature(header))) is not None:
            return laid_out(MAPPED, header_row=number, header=header, column_map=column_map), rows
        named = by_name(header) if learners_only else None
        if named is not None and not named.missing(rules.LEARNER_CHECK_REQUIRED):
            return laid_out(BY_NAME, header_row=number, header=header, column_map=named), rows
        # No header: the first row is a learner row (only one-cell lines, a guidance or a
        # title, may come before it).
        if is_learner_row(cells) and all(len(row) == 1 for _, row in scanned[:-1]):
            return laid_out(BY_POSITION, header_row=None), chain([(number, cells)], rows)
        if len(scanned) >= rules.HEADER_SCAN_ROWS:
            break
    if not scanned:
        raise FileProblem("FILE_EMPTY", what="no header row and no learner rows")
    # Not the template's: the likeliest header is the first row naming most known columns.
    best = max(scanned, key=lambda item: (header_score(item[1]), -item[0]))
    if header_score(best[1]) < 2:
        # A first row of learner values (after one-cell lines: a title) means no header row,
        # its columns in another order than the template's: they are named by their letters,
        # and that row is a learner's.
        first = next((row for row in scanned if len(row[1]) > 1), scanned[0])
        if looks_like_data(first[1]):
            lettered = lettered_header(len(first[1]))
            from_first = [row for row in scanned if row[0] >= first[0]]
            if (column_map := maps.get(signature(lettered))) is not None:
                found = laid_out(MAPPED, header_row=None, header=lettered, column_map=column_map)
                return found, chain(from_first, rows)
            return laid_out(UNRECOGNISED, header_row=None, header=lettered), iter(from_first)
        best = scanned[0]
    header = tuple(cell if isinstance(cell, str) else cell_text(cell) for cell in best[1])
    following = iter([row for row in scanned if row[0] > best[0]])
    return laid_out(UNRECOGNISED, header_row=best[0], header=header), following


class RowShaper:
    """Turns a row's cells into a LearnerRow, by the positions of the template's columns.

    Built once per file; made for speed, as it runs on every row: one pass strips the cells,
    and C-level itemgetters pick the fields (a column the file lacks reads as "" or as the
    value the mapping fixed for every row). A row holding a character that is not printable (a
    line break, a zero-width space) has it taken out of the fields, and the cell as written
    kept in ``odd_cells`` for the judge to name.
    """

    _FIELDS = (
        rules.RECORD_ACTION,
        rules.ACTIVITY_ID,
        rules.COMPLETION_DATE,
        rules.FIRST_NAME,
        rules.LAST_NAME,
        rules.DATE_OF_BIRTH,
        rules.LICENSING_STATE,
        rules.LICENSE_OR_NPI,
        rules.CME_CREDITS,
        rules.BOARD,
        rules.BOARD_ID,
        rules.BOARD_CREDITS,
    )
    _DATES = (rules.COMPLETION_DATE, rules.DATE_OF_BIRTH)

    def __init__(
        self,
        positions: Mapping[str, int],
        fixed: Mapping[str, str] | None = None,
        *,
        name_position: int | None = None,
        birth_date_position: int | None = None,
    ) -> None:
        fixed = fixed or {}
        used = [*positions.values(), name_position or 0, birth_date_position or 0]
        self.width = width = max(used, default=0) + 1
        # After the row's own texts: "" for a missing column, then the fixed values.
        self.constants = ["", *(fixed.get(name, "") for name in rules.FILLABLE_COLUMNS)]
        fixed_slots = {
            name: width + 1 + index
            for index, name in enumerate(rules.FILLABLE_COLUMNS)
            if name in fixed
        }
        # The columns only the mapping fills, with one value for every row.
        self.fixed_columns = frozenset(name for name in fixed_slots if name not in positions)
        self.fields = itemgetter(
            *(positions.get(name, fixed_slots.get(name, width)) for name in self._FIELDS)
        )
        # The raw cell goes where the date fields' text would be: a date cell stays a date.
        self.dates = [positions[name] for name in self._DATES if name in positions]
        pairs = [
            itemgetter(positions.get(type_column, width), positions.get(credits_column, width))
            for type_column, credits_column in rules.CREDIT_TYPE_PAIRS
            if type_column in positions or credits_column in positions
        ]
        if len(pairs) == 1:
            only = pairs[0]
            self.pairs = lambda texts: (only(texts),)
        else:
            self.pairs = lambda texts: tuple([pair(texts) for pair in pairs])
        split_name = rules.FIRST_NAME not in positions and rules.LAST_NAME not in positions
        self.name_position = name_position if split_name else None
        self.birth_date_position = (
            birth_date_position if rules.DATE_OF_BIRTH not in positions else None
        )
        # The template column each read position holds, to name a cell with odd characters.
        self.columns = {position: name for name, position in positions.items()}
        if self.name_position is not None:
            self.columns[self.name_position] = f"{rules.FIRST_NAME} / {rules.LAST_NAME}"
        if self.birth_date_position is not None:
            self.columns[self.birth_date_position] = rules.DATE_OF_BIRTH
        self._padding = ("",) * width

    @classmethod
    def for_layout(cls, layout: FileLayout) -> RowShaper:
        """The shaper for a recognised layout."""
        if layout.column_map is not None:
            return cls.for_map(layout.column_map)
        return cls({name: index for index, name in enumerate(rules.HEADERS[: layout.width])})

    @classmethod
    def for_map(cls, column_map: ColumnMap) -> RowShaper:
        """The shaper that reads a file through a column mapping."""
        positions = {
            name: position
            for position, name in column_map.targets.items()
            if name in TEMPLATE_KEYS.values()
        }
        return cls(
            positions,
            column_map.fixed,
            name_position=column_map.position_of(rules.NAME_COLUMN),
            birth_date_position=column_map.position_of(rules.BIRTH_DATE_COLUMN),
        )

    def __call__(self, cells: tuple[Cell, ...]) -> LearnerRow:
        width = self.width
        if len(cells) != width:
            cells = cells[:width] if len(cells) > width else cells + self._padding[len(cells) :]
        texts = [cell.strip() if type(cell) is str else cell_text(cell) for cell in cells]
        odd_cells: tuple[tuple[str, str], ...] = ()
        if not "".join(texts).isprintable():  # in C: rare, and costly only then
            cells, odd_cells = self._without_odd_characters(cells, texts)
        texts += self.constants
        for position in self.dates:
            texts[position] = cells[position]
        fields = self.fields(texts)
        if self.name_position is None and self.birth_date_position is None and not odd_cells:
            return tuple.__new__(LearnerRow, (*fields, self.pairs(texts), "", ()))
        row = list(fields)
        name_cell = ""
        if self.name_position is not None:
            name_cell = texts[self.name_position]
            row[3], row[4] = split_name(name_cell)[:2]
        if self.birth_date_position is not None:
            row[5] = birthday_from_full_date(cells[self.birth_date_position])
        return tuple.__new__(LearnerRow, (*row, self.pairs(texts), name_cell, odd_cells))

    def _without_odd_characters(
        self, cells: tuple[Cell, ...], texts: list[str]
    ) -> tuple[tuple[Cell, ...], tuple[tuple[str, str], ...]]:
        """Take the odd characters out of the read cells' texts (in place) and out of the
        cells; returns the cells and (template column, text as written) for each cell."""
        odd_cells = []
        cleaned_cells = list(cells)
        for position, column in self.columns.items():
            text = texts[position]
            if text.isprintable():
                continue
            cleaned = without_odd_characters(text)
            if cleaned != text:
                odd_cells.append((column, text))
                texts[position] = cleaned
                if type(cells[position]) is str:
                    cleaned_cells[position] = cleaned
        return tuple(cleaned_cells), tuple(odd_cells)


def column_of(position: int, layout: FileLayout) -> str:
    """The template column a file column holds ("" when none), for naming a cell."""
    column_map = layout.column_map
    if column_map is None:
        return rules.HEADERS[position] if position < layout.width else ""
    target = column_map.targets.get(position, "")
    if target == rules.NAME_COLUMN:
        return f"{rules.FIRST_NAME} / {rules.LAST_NAME}"
    if target == rules.BIRTH_DATE_COLUMN:
        return rules.DATE_OF_BIRTH
    return target


# --- Judging a file --------------------------------------------------------------------------


class FileJudgement:
    """The results of judging a file, in order: file-level findings, then one RowResult per
    data row. ``layout`` says how the file was read once the first item has been taken.

    Every file-level error is fatal and comes before the first row, except one: a workbook
    whose sheet turns out damaged part-way ends with FILE_UNREADABLE after the rows read so
    far; treat it as failing the whole upload. File-level warnings (how the file was read) do
    not stop the judging; they come before the rows, except FILE_DATES_DAY_FIRST,
    FILE_HIDDEN_ROWS and FILE_MERGED_CELLS, known only once every row was read, which come
    after them.
    """

    def __init__(
        self,
        stream: BinaryIO,
        filename: str,
        context: JudgeContext,
        *,
        learners_only: bool,
        fast_path: bool = True,
    ) -> None:
        self.stream = stream
        self.filename = filename
        self.context = context
        self.learners_only = learners_only
        self.fast_path = fast_path
        self.layout: FileLayout | None = None
        self.fast_rows = 0  # rows judged on the fast path (see judge.fast), once iterated
        self.batch_rows = 0  # of them, rows judged in batches (see judge.batches)

    def __iter__(self) -> Iterator[RowResult | Finding]:
        for item in self.batched():
            if isinstance(item, (RowResult, Finding)):
                yield item
            else:  # a JudgedBatch
                yield from item.results()

    def batched(self) -> Iterator[RowResult | Finding | JudgedBatch]:
        """The same results, a batch of rows judged together left as one JudgedBatch (its
        RowResults made only when asked for; ``summarize`` counts it whole)."""
        try:
            with learner_rows(
                self.stream, self.filename, self.context, learners_only=self.learners_only
            ) as rows:
                self.layout = rows.layout
                if not rows.layout.columns:
                    yield header_mismatch(rows.layout, rows.merged_cells)
                    return
                yield from rows.notes
                yield from self._judge_rows(rows)
        except FileProblem as problem:
            yield make_finding(problem.code, None, **problem.params)

    def stored(self, summary: Summary, every: int) -> Iterator[StoredPart]:
        """What the worker stores, in parts: one after every ``every`` data rows (``whole``),
        and a last one with what is left; each item is counted in ``summary`` as it is
        judged. A batch of rows gives its stored values without a RowResult per row."""
        part = StoredPart(0)
        rows_judged = 0
        for item in self.batched():
            if isinstance(item, Finding):
                summary.add(item)
                part.findings.append(finding_row(item, of_file=True))
                continue
            if isinstance(item, RowResult):
                summary.add(item)
                # The part ends after it if it is the part's last row (below).
                for finding in item.findings:
                    part.findings.append(finding_row(finding))
                change = change_of(item.action, item.record) if item.accepted else None
                if change is not None:
                    part.add_change(change)
                rows_judged += 1
            else:  # a JudgedBatch
                item.count(summary)
                for last, findings, changes in item.stored_rows(rows_judged, every):
                    # A part ends after every ``every`` rows, whether they store anything or not.
                    while last > part.rows_judged + every:
                        part.rows_judged += every
                        part.whole = True
                        yield part
                        part = StoredPart(part.rows_judged)
                    part.findings.extend(findings)
                    for kind, columns in changes:
                        part.add_changes(kind, columns)
                rows_judged += item.judged
                del item  # not held while the next batch is judged
            while rows_judged >= part.rows_judged + every:
                part.rows_judged += every
                part.whole = True
                yield part
                part = StoredPart(part.rows_judged)
        part.rows_judged = rows_judged
        yield part

    def _judge_rows(self, rows: LearnerRows) -> Iterator[RowResult | JudgedBatch]:
        judge = RowJudge(self.context, learners_only=self.learners_only)
        if rows.layout.delimiter == ";":
            judge.day_first_reason = _SEMICOLONS_DAY_FIRST
        shaper = rows.shaper
        assert shaper is not None
        judge.fixed_columns = shaper.fixed_columns
        formula_rows = rows.formula_rows
        quote_rows = rows.quote_rows
        hidden_rows = rows.hidden_rows
        hidden_judged: list[int] = []
        judged = 0
        first_judged = 0
        # Plain rows take the fast path: by their cells when read by the template's positions,
        # else once shaped through the mapping.
        fast = FastRows(judge, shaper.width) if self.fast_path and not self.learners_only else None
        by_template = rows.layout.column_map is None
        if fast is not None and by_template and rows.one_line_data is not None:
            # Every row is one line: the rest of the file is judged in batches.
            first = next(rows.raw_rows, None)
            if first is not None:
                # polars (about 45 MB and 0.4 s) is loaded by the first file judged in batches,
                # not by every process that imports the judge (the web server's).
                from training.sandbox.judge.batches import BatchRows

                layout = rows.layout
                batches = BatchRows(
                    judge, fast, shaper, shaper.width, layout.delimiter, layout.encoding
                )
                yield from batches.judge_lines(rows.one_line_data, first[0])
                self.fast_rows = fast.fast_rows + batches.batch_rows
                self.batch_rows = batches.batch_rows
                if dates := _dates_day_first(judge, rows, first[0]):
                    yield dates
                return
        # A workbook's ID columns, where a number cell may have lost a leading zero.
        id_positions = (
            [
                (position, column)
                for position in range(shaper.width)
                if (column := column_of(position, rows.layout))
                in (rules.LICENSE_OR_NPI, rules.BOARD_ID)
            ]
            if rows.layout.kind == "xlsx"
            else []
        )
        for number, cells in rows.raw_rows:
            judged += 1
            first_judged = first_judged or number
            row = None
            if fast is None:
                result = None
            elif by_template:
                result = fast(number, cells)
            else:
                row = shaper(cells)
                result = fast.shaped(number, row)
            if result is None:
                result = judge.judge(number, row if row is not None else shaper(cells))
            if formula_rows and number in formula_rows:
                formula_rows.discard(number)
                result = _formulas_without_values(result, cells, rows.layout)
            if id_positions and (numbered := _ids_stored_as_numbers(cells, id_positions)):
                result = _with_ids_stored_as_numbers(result, numbered)
            if quote_rows and number in quote_rows:
                result = _quote_not_closed(result, quote_rows[number], rows.layout)
            if hidden_rows and number in hidden_rows:
                hidden_judged.append(number)
            yield result
        if fast is not None:
            self.fast_rows = fast.fast_rows
        if not judged:
            raise FileProblem("FILE_EMPTY", what="a header row but no learner rows")
        if dates := _dates_day_first(judge, rows, first_judged):
            yield dates
        if hidden_judged:
            yield hidden_rows_judged(hidden_judged)
        # The loop above ran to the end, so the sheet's merged blocks are known.
        if merged := merged_blocks_from(rows.merged_cells, first_judged):
            yield merged_cells_judged(merged)


def _dates_day_first(judge: RowJudge, rows: LearnerRows, first_judged: int) -> Finding | None:
    """FILE_DATES_DAY_FIRST once every row was judged, naming the first rows of the dates it
    names: the rows are read once more to find them, only when there is such a warning."""
    if not judge.saw_dates_day_first():
        return None
    shaper = rows.shaper
    assert shaper is not None
    if rows.reread is None:
        return judge.dates_day_first()
    again = ((number, shaper(cells)) for number, cells in rows.reread() if number >= first_judged)
    return judge.dates_day_first(judge.first_dates_day_first(again))


def _formulas_without_values(
    result: RowResult, cells: tuple[Cell, ...], layout: FileLayout
) -> RowResult:
    """Name the cells that hold a formula with no saved value, instead of what their blank
    value would otherwise get; a totals row keeps its one TOTALS_ROW finding."""
    if any(finding.code == "TOTALS_ROW" for finding in result.findings):
        return result  # labelled Total: the formula under it is the total, deleted with it
    columns = [
        column_of(position, layout) or f"Column {column_letter(position + 1)}"
        for position, cell in enumerate(cells)
        if type(cell) is NoValue
    ]
    blanked = {part for column in columns for part in column.split(" / ")}
    # A script's totals row: its only cells are formulas with no saved value (=SUM(I3:I11)),
    # under the credits or in any other column. One finding says it is a totals row, as a
    # saved total would get (and as the same formula written as text in a CSV gets).
    if columns and not any(type(cell) is not NoValue and cell_text(cell).strip() for cell in cells):
        what = f"it holds only a formula with no saved value, in {columns[0]},"
        totals = make_finding("TOTALS_ROW", result.row, columns[0], what=what)
        return RowResult(result.row, "", (totals,), None, False)
    # A row "reports no credit" only because its credits are a formula without a value.
    credits_blanked = bool(blanked & {rules.CME_CREDITS, rules.BOARD})
    findings = [make_finding("FORMULA_NO_VALUE", result.row, column) for column in columns] + [
        finding
        for finding in result.findings
        if finding.column not in blanked
        and not (credits_blanked and finding.code == "NO_CREDIT_REPORTED")
    ]
    findings.sort(key=lambda finding: column_order(finding.column))
    return RowResult(result.row, result.action, tuple(findings), None, False)


def _ids_stored_as_numbers(
    cells: tuple[Cell, ...], id_positions: list[tuple[int, str]]
) -> list[tuple[str, str]]:
    """(column, value) of each ID cell stored as a number, but a valid NPI (10 digits that
    never start with a zero)."""
    return [
        (column, cell)
        for position, column in id_positions
        if position < len(cells)
        and type(cell := cells[position]) is NumberText
        and not npi_is_valid(cell)
    ]


def _with_ids_stored_as_numbers(result: RowResult, numbered: list[tuple[str, str]]) -> RowResult:
    """The row's findings with ID_STORED_AS_NUMBER for each ID cell stored as a number."""
    findings = [
        *result.findings,
        *(
            make_finding("ID_STORED_AS_NUMBER", result.row, column, value=masked(value))
            for column, value in numbered
        ),
    ]
    findings.sort(key=lambda finding: column_order(finding.column))
    return result._replace(findings=tuple(findings))


def _quote_not_closed(
    result: RowResult, swallowed: tuple[int, int, int], layout: FileLayout
) -> RowResult:
    """Name the quote that was never closed, instead of what the swallowed lines' text would
    otherwise get (a name 80 characters long)."""
    position, first, last = swallowed
    column = column_of(position, layout) or f"Column {column_letter(position + 1)}"
    swallowed = (
        f"lines {first}–{last} were read as one row"
        if last > first
        else "the rest of that line (the file's last) was read as one cell"
    )
    finding = make_finding("QUOTE_NOT_CLOSED", result.row, column, first=first, swallowed=swallowed)
    return RowResult(result.row, result.action, (finding,), None, False)


def hidden_rows_judged(numbers: list[int]) -> Finding:
    """The file-level warning that hidden rows were judged (and PARS would upload them)."""
    count = len(numbers)
    which = ", ".join(str(number) for number in numbers[:10])
    if count > 10:
        which += f" and {count - 10:,} more"
    return make_finding(
        "FILE_HIDDEN_ROWS",
        None,
        count=f"{count:,}",
        rows="row" if count == 1 else "rows",
        which=f"row {which}" if count == 1 else f"rows {which}",
        were="was" if count == 1 else "were",
        them="it" if count == 1 else "them",
    )


def merged_blocks_from(blocks: list[str], first_row: int) -> list[str]:
    """The blocks of cells (named like "C5:C9") that reach row ``first_row`` or below, top to
    bottom and left to right."""
    from openpyxl.utils.cell import range_boundaries

    bounds = {block: range_boundaries(block) for block in blocks}
    reaching = [block for block in blocks if (bounds[block][3] or 0) >= first_row]
    return sorted(reaching, key=lambda block: (bounds[block][1], bounds[block][0]))


def merged_cells_judged(blocks: list[str]) -> Finding:
    """The file-level warning that merged cells among the learner rows read as blank."""
    count = len(blocks)
    which = ", ".join(blocks[:10])
    if count > 10:
        which += f" and {count - 10:,} more"
    return make_finding(
        "FILE_MERGED_CELLS",
        None,
        count=f"{count:,}",
        blocks="block" if count == 1 else "blocks",
        which=which,
    )


def judge_file(
    stream: BinaryIO,
    filename: str,
    context: JudgeContext,
    *,
    learners_only: bool = False,
    fast_path: bool = True,
) -> FileJudgement:
    """Judge a learner file: iterate it for file-level findings and one RowResult per data row.

    ``learners_only`` checks who each learner is and nothing of the credits (pre-validation).
    ``fast_path=False`` judges every row with RowJudge alone: the same results, slower (kept
    to compare the fast path with).
    """
    return FileJudgement(
        stream, filename, context, learners_only=learners_only, fast_path=fast_path
    )


def extra_columns(layout: FileLayout) -> Finding | None:
    """The file-level warning naming the columns a template header goes on with, or None."""
    extended = template_with_extras(layout.header)
    if extended is None:
        return None
    width, positions = extended
    named = [
        f"column {column_letter(position + 1)} {shown(layout.header[position].strip())}"
        for position in positions
    ]
    which = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
    return make_finding(
        "FILE_EXTRA_COLUMNS",
        None,
        last=column_letter(width),
        which=which,
        it="it" if len(named) == 1 else "them",
        was="was" if len(named) == 1 else "were",
    )


def header_mismatch(layout: FileLayout, merged_cells: list[str] | None = None) -> Finding:
    """One HEADER_MISMATCH naming the first column that differs from the template (or, for a
    file without a header row, saying so); HEADER_MERGED_CELLS when that column's header cell
    is part of one of ``merged_cells`` (a workbook's merged blocks, like "D1:E1")."""
    if layout.header_row is None:
        return make_finding("HEADER_NOT_FOUND", None)
    header = layout.header
    found = tuple(header_key(cell) for cell in header)
    while found and not found[-1]:
        found = found[:-1]
    expected = rules.HEADERS
    index = next(
        (
            i
            for i, (one, other) in enumerate(zip(found, expected, strict=False))
            if one != header_key(other)
        ),
        min(len(found), len(expected)),
    )
    if index >= len(expected):
        # Past the template's last column: the first one with a name is the extra column (an
        # empty one before it is no column at all).
        index = next((i for i in range(index, len(found)) if found[i]), index)
    wanted = expected[index] if index < len(expected) else ""
    got = header[index].strip() if index < len(found) else ""
    sheets = ""
    if layout.other_sheets:
        others = ", ".join(shown(title) for title in layout.other_sheets)
        sheets = (
            f" The workbook's first sheet, {shown(layout.sheet_name)}, was read, and its other "
            f"sheets ({others}) have no learner header either: if the learners are on one of "
            "them, move that sheet first or delete the others."
        )
    position = f"{index + 1} ({column_letter(index + 1)})"
    if block := _merged_block_at(merged_cells or [], layout.header_row, index + 1):
        return make_finding(
            "HEADER_MERGED_CELLS",
            layout.header_row,
            wanted,
            block=block,
            blanks=_merged_blanks(block, index, found),
            sheets=sheets,
        )
    return make_finding(
        "HEADER_MISMATCH",
        layout.header_row,
        wanted,
        position=position,
        expected=f'"{wanted}"' if wanted else "nothing (no more columns)",
        found=shown(got) if got else "missing",
        sheets=sheets,
    )


def _merged_blanks(block: str, index: int, found: tuple[str, ...]) -> str:
    """Which columns of a merged header block read as blank, from the first that differs from
    the template (``index``, from 0) on, and what each should say: "column 14 (N) reads as
    blank where it should say …", or "columns 14 (N) and 15 (O) read as blank where they
    should say … and …"."""
    from openpyxl.utils.cell import range_boundaries

    _first, _row, last_column, _last_row = range_boundaries(block)
    columns = [index] + [
        i for i in range(index + 1, last_column) if i >= len(found) or not found[i]
    ]
    positions = [f"{i + 1} ({column_letter(i + 1)})" for i in columns]
    expected = [
        f'"{rules.HEADERS[i]}"' if i < len(rules.HEADERS) else "nothing (no more columns)"
        for i in columns
    ]
    if len(columns) == 1:
        return f"column {positions[0]} reads as blank where it should say {expected[0]}"
    return (
        f"columns {listed(positions, len(positions))} read as blank where they should say "
        f"{listed(expected, len(expected))}"
    )


def _merged_block_at(blocks: list[str], row: int, column: int) -> str:
    """The merged block (like "D1:E1") that holds the cell at ``row`` and ``column`` (from 1),
    or ""."""
    from openpyxl.utils.cell import range_boundaries

    for block in blocks:
        first_column, first_row, last_column, last_row = range_boundaries(block)
        if first_column <= column <= last_column and first_row <= row <= last_row:
            return block
    return ""
