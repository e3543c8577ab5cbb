"""Judging one learner row by its named fields, column group by column group, in file order."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from training.sandbox import rules
from training.sandbox.judge.findings import Finding, RowResult, column_order, make_finding
from training.sandbox.judge.index import ACCEPTED, CLEARED, DELETE, CompactIndex
from training.sandbox.judge.records import (
    Activity,
    BoardRegistration,
    JudgeContext,
    LearnerRecord,
    RecordKey,
)
from training.sandbox.judge.register import (
    LearnerKey,
    is_same_person,
    learner_identity,
    learner_key,
)
from training.sandbox.judge.values import (
    ACTIONS,
    LICENSE_PATTERN,
    birthday_problem_detail,
    board_code,
    completion_date_problem,
    credits_problem,
    either_way_date,
    format_day,
    is_digits,
    is_scientific,
    joined_at_breaks,
    masked,
    midnight_time,
    month_and_day,
    npi_is_valid,
    odd_characters,
    parse_birthday,
    parse_completion_date,
    shown,
    shown_in,
    split_name,
    state_code,
    unusual_characters,
    what_it_holds,
    with_decimal_point,
)
from training.sandbox.readers import Cell


class LearnerRow(NamedTuple):
    """One data row as the template's named fields.

    Text fields are stripped, and hold no line break or invisible character; the two date
    fields are the cells as the spreadsheet held them (an Excel date cell stays a datetime).
    ``credit_types`` holds a (credit type, credits) pair for each pair of columns the file
    has. ``name_cell`` is the Name cell first and last name were split from ("" when they have
    their own columns); ``odd_cells`` the (template column, cell as written) of each cell that
    had line breaks or invisible characters taken out.
    """

    action: str
    activity_id: str
    completion_date: Cell
    first_name: str
    last_name: str
    date_of_birth: Cell
    licensing_state: str
    license_or_npi: str
    cme_credits: str
    board: str
    board_id: str
    board_credits: str
    credit_types: tuple[tuple[str, str], ...]
    name_cell: str
    odd_cells: tuple[tuple[str, str], ...]


# What the column groups read, as plain tuples (they are made for every row):
# the learner: (first name, last name, birth month, birth day, LearnerKey or None when a name
# or the birthday cannot be read); the license: (state code, license number, NPI).
_License = tuple[str | None, str | None, str | None]
# The first date only day first can be and the first that reads either way, each with its row:
# (row, (0 for a Completion Date or 1 for a Date of Birth, how it is named)), (row, (the same
# kind, as shown, month, day, year or 0)).
_FirstDates = tuple[tuple[int, tuple[int, str]], tuple[int, tuple[int, str, int, int, int]]]
# Text a spreadsheet program would run as a formula, in the columns that take any text.
_FORMULA_STARTS = frozenset(("=", "+", "-", "@"))


class RowJudge:
    """Judges the data rows of one file in order, remembering what later rows are judged by.

    ``learners_only`` judges who each learner is (names, birthday, state, IDs and the register)
    and nothing of the credits, like ACCME's learner pre-validation: nor, then, whether the
    state's board takes the credit from PARS (``STATE_NOT_PARTICIPATING``).
    """

    def __init__(self, context: JudgeContext, *, learners_only: bool = False) -> None:
        self.context = context
        self.today = context.today
        self.reporting_day = context.reporting_day or context.today
        self.pars_states = context.pars_states
        self.learners_only = learners_only
        self.earliest_year = context.today.year - rules.OLDEST_YEAR_BACK
        self.rows_by_key = CompactIndex()
        self.completions = CompactIndex()
        self.abs_quarters = CompactIndex()
        # How a key becomes the 64-bit number the indexes above remember: Python's hash here;
        # the batch path (judge.batches) puts in one that polars can work out for a column.
        self.row_key_hash = CompactIndex.hash_of
        self.completion_hash = _completion_hash
        self.day_hash = _day_hash
        self._credit_types: dict[tuple[str, str], dict[str, str]] = {}
        # Why the file's slash dates may be written day first ("" when nothing says so), told
        # by the file before any row is judged, so that every path reads every row alike.
        self.day_first_reason = ""
        # What the file's dates say of their order, for FILE_DATES_DAY_FIRST after the last row:
        # the least of each kind seen, so that every path, asking in its own order, ends alike.
        # A date only day first can be: (0 for a Completion Date or 1 for a Date of Birth, how
        # it is named); one that reads either way: (the same kind, as shown, month, day, year
        # or 0).
        self.day_first_seen: tuple[int, str] | None = None
        self.either_way_seen: tuple[int, str, int, int, int] | None = None
        # The columns a confirmed mapping fills with one value for every row (Record Action,
        # the activity), told by the file: they say nothing of whether a row is a learner's.
        self.fixed_columns: frozenset[str] = frozenset()

    def judge(self, number: int, row: LearnerRow) -> RowResult:
        """Judge one data row."""
        # A row without both names may be no learner's at all: a totals row or a note.
        if not (row.first_name and row.last_name) and (
            not_a_learner := _not_a_learner(number, row, self.fixed_columns)
        ):
            return RowResult(number, "", (not_a_learner,), None, False)
        findings: list[Finding] = []
        if row.odd_cells:
            self._odd_cells(number, row.odd_cells, findings.append)
        if self.learners_only:
            return self._check_learner(number, row, findings)
        add = findings.append
        action = self._action(number, row.action, add)
        # A row with an unreadable action is judged as an Add so that every problem shows.
        is_add = action != "Delete"
        activity_id, activity, activity_id_ok = self._activity(number, row.activity_id, add)
        completion = self._completion(number, row.completion_date, activity, is_add, add)
        first_name, last_name, birth_month, birth_day, learner = self._learner(number, row, add)
        license = self._license(number, row, is_add, bool(row.cme_credits), add)
        cme = self._cme(number, row.cme_credits, activity, activity_id, add) if is_add else None
        board, board_id, board_credits, awards = self._board(
            number, row, activity, activity_id, is_add, add
        )
        if is_add and not row.cme_credits and not row.board:
            add(make_finding("NO_CREDIT_REPORTED", number))
        if learner is not None:
            if is_add:
                also = _joined_learner(row, learner) if row.odd_cells else None
                self._identity(number, learner, license, board, board_id, add, also)
            state, license_number, npi = license
            learner = learner._replace(
                identity=learner_identity(state, npi or license_number, board, board_id)
            )

        key: RecordKey | None = None
        if (
            learner is not None
            and activity_id_ok
            and completion is not None
            and (board or not row.board)
        ):
            key = RecordKey(learner, activity_id, completion, board or "")
        has_error = any(finding.severity == rules.ERROR for finding in findings)
        if key is not None and action:
            has_error = self._repeats(number, action, key, board, has_error, add)

        if has_error:
            in_order = _in_order(findings) if row.odd_cells else tuple(findings)
            return RowResult(number, action, in_order, None, False)
        assert completion is not None and learner is not None  # no error means they parsed
        if action == "Add" and board == "ABS" and board_credits is not None:
            self._abs_day(number, learner, completion, board_credits, add)
        state, license_number, npi = license
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
            credit_awards=awards,
        )
        if row.odd_cells:
            return RowResult(number, action, _in_order(findings), record, True)
        return RowResult(number, action, tuple(findings), record, True)

    @staticmethod
    def _odd_cells(number: int, odd_cells: tuple[tuple[str, str], ...], add) -> None:
        """Name the cells that had line breaks or invisible characters taken out: a line
        break, tab or control character is an error (PARS takes a value on one line, and the
        PARS-ready text file could not hold it); an invisible character is a warning."""
        for column, text in odd_cells:
            breaking, invisible, handled = odd_characters(text)
            if breaking:
                add(make_finding("CONTROL_CHARACTER", number, column, what=breaking))
            if invisible:
                add(
                    make_finding(
                        "INVISIBLE_CHARACTER", number, column, what=invisible, handled=handled
                    )
                )

    def _check_learner(self, number: int, row: LearnerRow, findings: list[Finding]) -> RowResult:
        """Who the learner is, and nothing else: names, birthday, state, IDs, the register."""
        add = findings.append
        learner = self._learner(number, row, add)[4]
        license = self._license(number, row, False, False, add)
        board: str | None = None
        if row.board:
            board = board_code(row.board)
            if board is None:
                add(self._board_unknown(number, shown(row.board)))
        board_id = self._board_id(number, row.board_id, board, is_add=True, add=add)
        if learner is not None:
            also = _joined_learner(row, learner) if row.odd_cells else None
            self._identity(number, learner, license, board, board_id, add, also)
        accepted = not any(finding.severity == rules.ERROR for finding in findings)
        in_order = _in_order(findings) if row.odd_cells else tuple(findings)
        return RowResult(number, "", in_order, None, accepted)

    # --- Record Action and activity -----------------------------------------------------------

    @staticmethod
    def _action(number: int, text: str, add) -> str:
        action = ACTIONS.get(text.casefold(), "")
        if not action:
            add(make_finding("ACTION_INVALID", number, rules.RECORD_ACTION, value=shown(text)))
        return action

    def _activity(self, number: int, text: str, add) -> tuple[str, Activity | None, bool]:
        if not (len(text) == rules.ACTIVITY_ID_DIGITS and is_digits(text)):
            # Like a long license or board ID, a long activity ID Excel wrote as 2.00012E+08.
            code = "ID_SCIENTIFIC_NOTATION" if is_scientific(text) else "ACTIVITY_ID_FORMAT"
            add(make_finding(code, number, rules.ACTIVITY_ID, value=shown(text)))
            return text, None, False
        activity = self.context.activities.get(text)
        if activity is None:
            add(make_finding("ACTIVITY_NOT_FOUND", number, rules.ACTIVITY_ID, value=text))
        return text, activity, True

    # --- Completion Date ----------------------------------------------------------------------

    def _completion(
        self, number: int, cell: Cell, activity: Activity | None, is_add: bool, add
    ) -> date | None:
        completion = parse_completion_date(cell)
        column = rules.COMPLETION_DATE
        if completion is None:
            code, params = completion_date_problem(cell)
            add(make_finding(code, number, column, **params))
            if code == "DATE_DAY_FIRST":
                self._saw_day_first((0, f"Completion Date {params['value']}"))
            return None
        if (type(cell) is not str or len(cell) > 10) and (midnight := midnight_time(cell)):
            day = format_day(completion)
            value = shown(cell) if isinstance(cell, str) else f'"{day} {midnight}"'
            add(make_finding("DATE_MIDNIGHT", number, column, value=value, time=midnight, day=day))
        either = either_way_date(cell) if isinstance(cell, str) else None
        if either and not self.day_first_reason:
            self._saw_either_way((0, shown(cell.strip()), *either, completion.year))
        elif either:
            other = completion.replace(month=either[1], day=either[0])
            add(
                make_finding(
                    "DATE_MAYBE_DAY_FIRST",
                    number,
                    column,
                    value=shown(cell.strip()),
                    why=self.day_first_reason,
                    read=f"{month_and_day(completion.month, completion.day)}, {completion.year}",
                    other=f"{month_and_day(other.month, other.day)}, {other.year}",
                    fixed=format_day(other),
                )
            )
        if not is_add:
            return completion
        today = self.today
        future = completion > today
        too_old = completion.year < self.earliest_year
        outside = activity is not None and not (
            activity.start_date <= completion <= activity.end_date
        )
        late = (self.reporting_day - completion).days > rules.LATE_REPORT_DAYS
        if not (future or too_old or outside or late):
            return completion
        value = format_day(completion)
        if future:
            add(make_finding("DATE_IN_FUTURE", number, column, value=value))
        elif too_old:
            earliest = self.earliest_year
            add(make_finding("DATE_TOO_OLD", number, column, value=value, earliest_year=earliest))
        if outside:
            assert activity is not None
            start, end = format_day(activity.start_date), format_day(activity.end_date)
            fix = "enter the date the learner completed it"
            # 03/11/2026 outside a November activity may be 11 March written day first.
            if (
                either
                and activity.start_date
                <= (swapped := completion.replace(month=either[1], day=either[0]))
                <= activity.end_date
            ):
                fixed = format_day(swapped)
                fix = (
                    f"it may mean {fixed}, day first, which is within them: if so, write "
                    f"{fixed}; else {fix}"
                )
            add(
                make_finding(
                    "DATE_OUTSIDE_ACTIVITY",
                    number,
                    column,
                    value=value,
                    start=start,
                    end=end,
                    fix=fix,
                )
            )
        # A date that is wrong anyway needs no reminder to report sooner.
        if late and not (too_old or outside):
            days = rules.LATE_REPORT_DAYS
            add(make_finding("LATE_REPORT", number, column, value=value, days=days))
        return completion

    # --- Names and Date of Birth --------------------------------------------------------------

    def _learner(
        self, number: int, row: LearnerRow, add
    ) -> tuple[str, str, int, int, LearnerKey | None]:
        first_name, last_name = row.first_name, row.last_name
        names_fine = (
            first_name
            and last_name
            and len(first_name) <= rules.NAME_MAX_LENGTH
            and len(last_name) <= rules.NAME_MAX_LENGTH
        )
        one_word = not names_fine and bool(row.name_cell) and bool(first_name or last_name)
        if one_word:  # a Name cell of one word: it is not a blank First or Last Name column
            column = f"{rules.FIRST_NAME} / {rules.LAST_NAME}"
            add(make_finding("NAME_ONE_WORD", number, column, value=shown(row.name_cell)))
        for name, column, required in (
            ()
            if names_fine or one_word
            else (
                (first_name, rules.FIRST_NAME, "FIRST_NAME_REQUIRED"),
                (last_name, rules.LAST_NAME, "LAST_NAME_REQUIRED"),
            )
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
        if row.name_cell:
            self._name_split(number, row.name_cell, add)
        if (
            not (first_name + last_name).isascii()
            or _FORMULA_STARTS & {first_name[:1], last_name[:1]}
            or "?" in first_name
            or "?" in last_name
        ):
            self._name_characters(number, first_name, last_name, add)
        problem, month, day, made_by = parse_birthday(row.date_of_birth, self.today)
        if problem:
            value = birthday_problem_detail(problem, row.date_of_birth)
            add(make_finding(problem, number, rules.DATE_OF_BIRTH, value=value))
            if problem == "DOB_DAY_FIRST":
                self._saw_day_first((1, f"A Date of Birth written {value}"))
            return first_name, last_name, 0, 0, None
        if made_by:
            add(make_finding("DOB_MADE_A_DATE", number, rules.DATE_OF_BIRTH, how=made_by))
        if isinstance(row.date_of_birth, str):
            self._birthday_either_way(number, row.date_of_birth, month, day, add)
        # Who the learner is by identifier is added once the license and board are read.
        key = (
            learner_key(first_name, last_name, month, day, "") if first_name and last_name else None
        )
        return first_name, last_name, month, day, key

    def _birthday_either_way(self, number: int, text: str, month: int, day: int, add) -> None:
        """DOB_MAYBE_DAY_FIRST for a birthday that reads either way in a file that writes
        dates day first; the birthday is named in words, never with a year."""
        if either_way_date(text) is None:
            return
        if not self.day_first_reason:
            self._saw_either_way((1, "", month, day, 0))
            return
        add(
            make_finding(
                "DOB_MAYBE_DAY_FIRST",
                number,
                rules.DATE_OF_BIRTH,
                why=self.day_first_reason,
            )
        )

    def _saw_day_first(self, named: tuple[int, str]) -> None:
        if self.day_first_seen is None or named < self.day_first_seen:
            self.day_first_seen = named

    def _saw_either_way(self, seen: tuple[int, str, int, int, int]) -> None:
        if self.either_way_seen is None or seen < self.either_way_seen:
            self.either_way_seen = seen

    def saw_dates_day_first(self) -> bool:
        """Whether the rows judged so far hold a date only day first can be and another that
        reads either way (FILE_DATES_DAY_FIRST)."""
        return self.day_first_seen is not None and self.either_way_seen is not None

    def dates_day_first(self, first: _FirstDates | None = None) -> Finding | None:
        """FILE_DATES_DAY_FIRST, once every row was judged: a date only day first can be, and
        another that reads either way and was read month first; else None. The rows are
        streamed, not kept: the dates named are the least of each kind seen, the same on every
        path, or, given ``first`` (see first_dates_day_first), the first in the file, named
        with their rows."""
        if self.day_first_seen is None or self.either_way_seen is None:
            return None
        (evidence_row, evidence), (example_row, example) = first or (
            (0, self.day_first_seen),
            (0, self.either_way_seen),
        )
        kind, text, month, day, year = example
        on_row = f" on row {example_row}" if example_row else ""
        if kind == 0:
            read, other = month_and_day(month, day), month_and_day(day, month)
            example = f"Completion Date {text}{on_row} was read as {read}, {year}, though it may "
            example += f"mean {other}, {year}"
        else:  # a birthday is not shown: the spec masks Date of Birth in every finding
            example = f"a Date of Birth{on_row} was read month first, though its day may come first"
        return make_finding(
            "FILE_DATES_DAY_FIRST",
            None,
            evidence=evidence[1] + (f" on row {evidence_row}" if evidence_row else ""),
            example=example,
        )

    def first_dates_day_first(self, rows: Iterable[tuple[int, LearnerRow]]) -> _FirstDates | None:
        """The first date only day first can be and the first date that reads either way in
        ``rows`` (the file's judged rows read again, in order), each with its row: each row's
        dates read as judge() reads them, by a judge of their own."""
        day_first: tuple[int, tuple[int, str]] | None = None
        either_way: tuple[int, tuple[int, str, int, int, int]] | None = None
        probe = RowJudge(self.context, learners_only=self.learners_only)
        ignored: list[Finding] = []
        for number, row in rows:
            if not (row.first_name and row.last_name) and _not_a_learner(
                number, row, self.fixed_columns
            ):
                continue  # judge() reads no date of such a row
            probe.day_first_seen = probe.either_way_seen = None
            if not self.learners_only:
                probe._completion(number, row.completion_date, None, False, ignored.append)
            probe._learner(number, row, ignored.append)
            ignored.clear()
            if day_first is None and probe.day_first_seen is not None:
                day_first = (number, probe.day_first_seen)
            if either_way is None and probe.either_way_seen is not None:
                either_way = (number, probe.either_way_seen)
            if day_first is not None and either_way is not None:
                return day_first, either_way
        return None  # not the rows judged (the judge saw both kinds): the least are named

    @staticmethod
    def _name_characters(number: int, first_name: str, last_name: str, add) -> None:
        for name, column in ((first_name, rules.FIRST_NAME), (last_name, rules.LAST_NAME)):
            if "?" in name:
                add(make_finding("NAME_LETTER_LOST", number, column, value=shown(name)))
            if unusual := unusual_characters(name):
                add(make_finding("UNUSUAL_CHARACTER", number, column, what=unusual))
            if name[:1] in _FORMULA_STARTS:
                add(make_finding("LOOKS_LIKE_FORMULA", number, column, start=f'"{name[0]}"'))

    @staticmethod
    def _name_split(number: int, name_cell: str, add) -> None:
        split = split_name(name_cell)
        if not split.doubt:
            return
        left_out = ", ".join(split.left_out)
        add(
            make_finding(
                "NAME_SPLIT_CHECK",
                number,
                f"{rules.FIRST_NAME} / {rules.LAST_NAME}",
                value=shown(name_cell),
                first=shown(split.first),
                last=shown(split.last),
                left_out=f" (left out: {left_out})" if left_out else "",
                doubt=split.doubt,
            )
        )

    # --- Licensing State and Licensing ID or NPI ----------------------------------------------

    def _license(
        self, number: int, row: LearnerRow, is_add: bool, reports_cme: bool, add
    ) -> _License:
        state_text = row.licensing_state
        state: str | None = None
        if state_text:
            state = state_code(state_text)
            if state is None:
                add(
                    make_finding(
                        "STATE_UNKNOWN", number, rules.LICENSING_STATE, value=shown(state_text)
                    )
                )
            elif is_add and state not in self.pars_states:
                add(
                    make_finding(
                        "STATE_NOT_PARTICIPATING",
                        number,
                        rules.LICENSING_STATE,
                        value=rules.STATES[state],
                    )
                )
        elif is_add and reports_cme:
            add(make_finding("STATE_REQUIRED", number, rules.LICENSING_STATE))

        identifier = row.license_or_npi
        npi: str | None = None
        license_number: str | None = None
        if identifier:
            column = rules.LICENSE_OR_NPI
            if identifier[:1] in _FORMULA_STARTS:
                add(make_finding("LOOKS_LIKE_FORMULA", number, column, start=f'"{identifier[0]}"'))
            if is_scientific(identifier):
                add(
                    make_finding("ID_SCIENTIFIC_NOTATION", number, column, value=masked(identifier))
                )
            elif len(identifier) == rules.NPI_DIGITS and is_digits(identifier):
                if npi_is_valid(identifier):
                    npi = identifier
                else:
                    add(make_finding("NPI_INVALID", number, column, value=masked(identifier)))
            elif len(identifier) <= rules.LICENSE_MAX_LENGTH and LICENSE_PATTERN.fullmatch(
                identifier
            ):
                license_number = identifier.upper()
            else:
                add(
                    make_finding(
                        "LICENSE_FORMAT",
                        number,
                        column,
                        value=masked(identifier),
                        limit=rules.LICENSE_MAX_LENGTH,
                        holds=what_it_holds(identifier, "letters, digits and dashes"),
                    )
                )
        return state, license_number, npi

    # --- Number of CME Credits ----------------------------------------------------------------

    def _cme(
        self, number: int, text: str, activity: Activity | None, activity_id: str, add
    ) -> Decimal | None:
        if not text:
            return None
        cme = self._credits(number, rules.CME_CREDITS, text, add)
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
        return cme

    @staticmethod
    def _credits(number: int, column: str, text: str, add) -> Decimal | None:
        value, problem = credits_problem(text)
        if problem is not None:
            if problem == "CREDITS_FORMAT" and (dotted := with_decimal_point(text)):
                add(
                    make_finding(
                        "CREDITS_DECIMAL_COMMA", number, column, value=shown(text), dotted=dotted
                    )
                )
                return None
            shown_value = shown(text) if problem == "CREDITS_FORMAT" else text
            add(make_finding(problem, number, column, value=shown_value))
        return value

    # --- Certifying Board and its credits -----------------------------------------------------

    def _board(
        self,
        number: int,
        row: LearnerRow,
        activity: Activity | None,
        activity_id: str,
        is_add: bool,
        add,
    ) -> tuple[str | None, str | None, Decimal | None, tuple[tuple[str, Decimal], ...]]:
        """(board code, board ID, Total Board Credits, credits by credit type)."""
        board: str | None = None
        registration: BoardRegistration | None = None
        if row.board:
            board = board_code(row.board)
            if board is None:
                add(self._board_unknown(number, shown(row.board)))
            elif activity is not None:
                registration = self._registration(number, board, activity, add)
        elif is_add and (
            row.board_id or row.board_credits or any(t or c for t, c in row.credit_types)
        ):
            add(self._board_unknown(number, "blank while other board columns are filled in"))
        board_id = self._board_id(number, row.board_id, board, is_add=is_add, add=add)
        if not (is_add and board is not None):
            return board, board_id, None, ()
        credits = self._board_credits(
            number, board, row.board_credits, registration, activity_id, add
        )
        awards = self._credit_awards(
            number, board, activity, registration, credits, row.credit_types, add
        )
        return board, board_id, credits, awards

    def _registration(
        self, number: int, board: str, activity: Activity, add
    ) -> BoardRegistration | None:
        since = rules.BOARDS[board].activities_from
        if since is not None and activity.start_date < since:
            add(
                make_finding(
                    "BOARD_TOO_EARLY",
                    number,
                    rules.BOARD,
                    value=board,
                    since=format_day(since),
                    activity_id=activity.activity_id,
                    start=format_day(activity.start_date),
                )
            )
            return None
        registration = activity.boards.get(board)
        if registration is None:
            add(
                make_finding(
                    "BOARD_NOT_REGISTERED",
                    number,
                    rules.BOARD,
                    value=board,
                    activity_id=activity.activity_id,
                    registered=", ".join(sorted(activity.boards)) or "no board",
                )
            )
        return registration

    @staticmethod
    def _board_id(number: int, text: str, board: str | None, *, is_add: bool, add) -> str | None:
        if text:
            if is_digits(text):
                return text
            if is_scientific(text):
                add(
                    make_finding(
                        "ID_SCIENTIFIC_NOTATION", number, rules.BOARD_ID, value=masked(text)
                    )
                )
                return None
            holds = what_it_holds(text, "digits")
            add(
                make_finding(
                    "BOARD_ID_FORMAT", number, rules.BOARD_ID, value=masked(text), holds=holds
                )
            )
        elif is_add and board is not None and rules.BOARDS[board].board_id_required:
            add(make_finding("BOARD_ID_REQUIRED", number, rules.BOARD_ID, board=board))
        return None

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
        add,
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
        pairs: tuple[tuple[str, str], ...],
        add,
    ) -> tuple[tuple[str, Decimal], ...]:
        names = self._credit_type_names(activity, board, registration)
        awards: list[tuple[str, Decimal]] = []
        awarded = Decimal(0)
        exceeded = False
        for index, (type_text, credits_text) in enumerate(pairs):
            if index and not type_text and not credits_text:
                continue
            type_column, credits_column = rules.CREDIT_TYPE_PAIRS[index]
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
        return tuple(awards)

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

    # --- Identity: the register (the board's check after upload) ------------------------------

    def _identity(
        self,
        number: int,
        learner: LearnerKey,
        license: _License,
        board: str | None,
        board_id: str | None,
        add,
        also: LearnerKey | None = None,
    ) -> None:
        """LEARNER_NOT_MATCHED and NAME_LOOKS_SWAPPED. ``also`` is the learner with the line
        breaks of its names taken out rather than made spaces: a name CONTROL_CHARACTER already
        refuses is not said to be someone else's only for its line break."""
        register = self.context.register
        state, license_number, npi = license
        # Looked up in this order; the first identifier the register holds for someone else
        # is named. Most rows name nobody the register holds: no list is made for them.
        for column, identifier, entries in (
            (
                rules.LICENSE_OR_NPI,
                license_number,
                register.by_license(state, license_number) if state and license_number else (),
            ),
            (rules.LICENSE_OR_NPI, npi, register.by_npi(npi) if npi else ()),
            (
                rules.BOARD_ID,
                board_id,
                register.by_board_id(board, board_id) if board and board_id else (),
            ),
        ):
            if entries and not any(
                is_same_person(entry, learner) or (also is not None and is_same_person(entry, also))
                for entry in entries
            ):
                add(make_finding("LEARNER_NOT_MATCHED", number, column, value=masked(identifier)))
                break
        first, last, month, day, _identity = learner
        # The swapped learner is rarely known: asked first, it spares most rows the second look.
        if (
            first != last
            and register.knows(LearnerKey(last, first, month, day, learner.identity))
            and not register.knows(learner)
            and not (also is not None and register.knows(also))
        ):
            add(make_finding("NAME_LOOKS_SWAPPED", number))

    # --- Across rows: duplicates, deletes, one completion, the ABS day -------------------------

    def _repeats(
        self,
        number: int,
        action: str,
        key: RecordKey,
        board: str | None,
        has_error: bool,
        add,
    ) -> bool:
        """DUPLICATE_ROW, DELETE_NOT_FOUND and DUPLICATE_COMPLETION; whether the row has an error.

        The file is judged as applied in order: a Delete then an Add of the same record is how
        a record is changed, and a Delete may remove a record added earlier in the same file.
        """
        records = self.context.records
        row_key = self.row_key_hash(key)
        earlier = self.rows_by_key.get(row_key)
        earlier_row = None if earlier is None else earlier >> 2
        earlier_deleted = earlier is not None and bool(earlier & DELETE)
        earlier_accepted = earlier is not None and bool(earlier & ACCEPTED)
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
            has_error = self._one_completion(number, action, key, board, has_error, duplicate, add)

        if earlier is None or earlier_deleted != (action == "Delete"):
            flags = (DELETE if action == "Delete" else 0) | (0 if has_error else ACCEPTED)
            self.rows_by_key.set(row_key, number << 2 | flags)
        return has_error

    def _one_completion(
        self,
        number: int,
        action: str,
        key: RecordKey,
        board: str,
        has_error: bool,
        duplicate: bool,
        add,
    ) -> bool:
        records = self.context.records
        completion_key = self.completion_hash(board, key.learner, key.activity_id)
        held = self.completions.get(completion_key)
        if action == "Add" and not duplicate:
            where = None
            if held is not None and not held & CLEARED:
                where = f"on row {held >> 1}"
            elif held is None and records.has_completion(key.learner, key.activity_id):
                where = "in your sandbox records"
            if where is not None:
                has_error = True
                add(
                    make_finding(
                        "DUPLICATE_COMPLETION",
                        number,
                        board=board,
                        activity_id=key.activity_id,
                        where=where,
                    )
                )
            if held is None or held & CLEARED:
                self.completions.set(completion_key, number << 1)
        elif action == "Delete" and not has_error:
            self.completions.set(completion_key, number << 1 | CLEARED)
        return has_error

    def _abs_day(
        self, number: int, learner: LearnerKey, completion: date, credits: Decimal, add
    ) -> None:
        day_key = self.day_hash(learner, completion)
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
                    day=format_day(completion),
                    limit=rules.ABS_DAILY_LIMIT,
                )
            )


# The LearnerRow fields that name a single cell, by their template column.
_ROW_FIELDS = tuple(
    zip(
        LearnerRow._fields[:12],
        (
            rules.RECORD_ACTION, rules.ACTIVITY_ID, rules.COMPLETION_DATE, rules.FIRST_NAME,
            rules.LAST_NAME, rules.DATE_OF_BIRTH, rules.LICENSING_STATE, rules.LICENSE_OR_NPI,
            rules.CME_CREDITS, rules.BOARD, rules.BOARD_ID, rules.BOARD_CREDITS,
        ),
        strict=True,
    )
)  # fmt: skip
_NAME_COLUMN = f"{rules.FIRST_NAME} / {rules.LAST_NAME}"
# Where a learner is named: a totals row holds no number there, and a note only if it says
# it is one ("Notes: ...").
_LEARNER_COLUMNS = frozenset(
    (rules.FIRST_NAME, rules.LAST_NAME, _NAME_COLUMN, rules.DATE_OF_BIRTH, rules.LICENSE_OR_NPI,
     rules.BOARD_ID)
)  # fmt: skip
CREDIT_COLUMNS = frozenset(
    (rules.CME_CREDITS, rules.BOARD_CREDITS, *(pair[1] for pair in rules.CREDIT_TYPE_PAIRS))
)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)")
# A formula written as text (a script's CSV: "=SUM(I3:I11)"), as a totals row may hold one.
_FORMULA = re.compile(r"=\S.*")


def _filled_cells(row: LearnerRow, fixed_columns: frozenset[str]) -> list[tuple[str, Cell]]:
    """(template column, cell) of each filled cell of the row, in column order, but those a
    mapping fills for every row (and the names split from a Name cell: the cell is named)."""
    filled = [
        (column, cell)
        for name, column in _ROW_FIELDS
        if column not in fixed_columns
        and (cell := getattr(row, name))
        and not (row.name_cell and column in (rules.FIRST_NAME, rules.LAST_NAME))
    ]
    if row.name_cell:
        filled.insert(3, (_NAME_COLUMN, row.name_cell))
    for index, pair in enumerate(row.credit_types):
        filled.extend(
            (column, cell)
            for column, cell in zip(rules.CREDIT_TYPE_PAIRS[index], pair, strict=True)
            if cell
        )
    return [(column, cell) for column, cell in filled if not isinstance(cell, str) or cell.strip()]


def _is_totals_label(cell: Cell) -> bool:
    """Whether a cell labels a totals row: Total (Totals, Sum, Grand total...), alone or first
    ("Total credits:")."""
    if not isinstance(cell, str):
        return False
    folded = cell.strip().rstrip(":").strip().casefold()
    return folded in rules.TOTALS_WORDS or folded.split()[0].rstrip(":") in rules.TOTALS_WORDS


def _not_a_learner(number: int, row: LearnerRow, fixed_columns: frozenset[str]) -> Finding | None:
    """TOTALS_ROW or NOTES_ROW for a row that clearly holds no learner, else None.

    A totals row is labelled Total (or Totals, Sum, Count...) in one cell, any column, and
    holds nothing where a learner is named; or, without a label (an AutoSum), holds only
    numbers in credit columns, or only formulas (=SUM(I2:I10)) in any column. A note is one
    cell alone that reads as a sentence ("Notes: these are from the Nov course"); in a name
    column, only one that says it is a note. A learner row with a typo names someone, a
    birthday or an ID: it is judged."""
    filled = _filled_cells(row, fixed_columns)
    if not filled:
        return None
    labels = [(column, cell) for column, cell in filled if _is_totals_label(cell)]
    others = [item for item in filled if item not in labels]
    formulas = [
        isinstance(cell, str) and bool(_FORMULA.fullmatch(cell.strip())) for _column, cell in others
    ]
    numbers = all(
        isinstance(cell, str) and (formula or _NUMBER.fullmatch(cell.strip()))
        for (_column, cell), formula in zip(others, formulas, strict=True)
    )
    if len(labels) == 1 and not _LEARNER_COLUMNS & {column for column, _ in others}:
        column, label = labels[0]
        what = f"{column} is {shown_in(column, label.strip())}"
        return make_finding("TOTALS_ROW", number, column, what=what)
    if not labels and (
        all(formulas) or (numbers and all(column in CREDIT_COLUMNS for column, _ in others))
    ):
        column, total = others[0]
        kind = (
            "a formula" if all(formulas) else "numbers and formulas" if any(formulas) else "numbers"
        )
        what = f"it holds only {kind}, {column} {shown_in(column, total.strip())},"
        return make_finding("TOTALS_ROW", number, column, what=what)
    if (
        len(filled) == 1
        and isinstance(text := filled[0][1], str)
        and _is_note(text, in_name=filled[0][0] in _LEARNER_COLUMNS)
    ):
        column = filled[0][0]
        return make_finding("NOTES_ROW", number, column, value=shown_in(column, text.strip()))
    return None


def _is_note(text: str, *, in_name: bool) -> bool:
    """Whether a cell alone on its row reads as a note: it starts with Note (or Notes:, NB,
    Comment...) or has a colon after its first word; or, outside the columns naming a learner,
    it is a sentence (three words or more, two of them with letters)."""
    words = text.split()
    if not words or text.strip().casefold() in ACTIONS:
        return False
    first = words[0].rstrip(":").casefold()
    if first in rules.NOTE_WORDS or (len(words) > 1 and words[0].endswith(":")):
        return True
    return not in_name and len(words) >= 3 and sum(map(_has_letter, words)) >= 2


def _has_letter(word: str) -> bool:
    return any(char.isalpha() for char in word)


def _joined_learner(row: LearnerRow, learner: LearnerKey) -> LearnerKey | None:
    """The learner with the line breaks in its name cells taken out rather than made spaces,
    or None when its names hold none."""
    names = {rules.FIRST_NAME: learner.first_name, rules.LAST_NAME: learner.last_name}
    for column, text in row.odd_cells:
        if column in names:
            names[column] = joined_at_breaks(text)
        elif column == f"{rules.FIRST_NAME} / {rules.LAST_NAME}":
            names[rules.FIRST_NAME], names[rules.LAST_NAME] = split_name(joined_at_breaks(text))[:2]
    joined = learner_key(names[rules.FIRST_NAME], names[rules.LAST_NAME], *learner[2:])
    return None if joined == learner else joined


def _completion_hash(board: str, learner: LearnerKey, activity_id: str) -> int:
    return CompactIndex.hash_of((board, learner, activity_id))


def _day_hash(learner: LearnerKey, completion: date) -> int:
    return CompactIndex.hash_of((learner, completion))


def _in_order(findings: list[Finding]) -> tuple[Finding, ...]:
    """A row's findings in column order, once odd characters were named. A cell refused for a
    line break or control character has no other finding: they would follow from it (a name
    "too long" because two lines were read as one)."""
    broken = {
        part
        for finding in findings
        if finding.code == "CONTROL_CHARACTER"
        for part in finding.column.split(" / ")
    }
    kept = [
        finding
        for finding in findings
        if finding.code == "CONTROL_CHARACTER" or finding.column not in broken
    ]
    return tuple(sorted(kept, key=lambda finding: column_order(finding.column)))
