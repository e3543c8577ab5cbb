"""The judge's fast path: plain rows judged from remembered verdicts of their cells.

Most cells of a learner file repeat (a few actions, activities, dates, birthdays, states,
credits and boards), and what RowJudge finds in such a cell depends only on its value and on a
few other cells of its row (the activity, whether it is an Add, whether CME credits are given).
The fast path asks RowJudge's own checks once for each distinct combination and remembers the
answer (findings made for row 0, given each row's number), so its findings are RowJudge's by
construction. Names, License or NPI and Board ID are looked at only to prove that RowJudge
would find nothing in them; the register and every rule across rows (duplicates, Deletes, one
completion, the ABS day) are judged for every row by RowJudge's own methods, with the same
remembered state. A row that is not plain goes to RowJudge whole.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from decimal import Decimal
from typing import Any

from training.sandbox import rules
from training.sandbox.judge.findings import Finding, RowResult, make_finding
from training.sandbox.judge.records import LearnerRecord, RecordKey
from training.sandbox.judge.register import LearnerKey, learner_identity
from training.sandbox.judge.rows import LearnerRow, RowJudge
from training.sandbox.judge.values import LICENSE_PATTERN, npi_is_valid
from training.sandbox.readers import Cell

# A verdict cache is emptied when it reaches this many combinations, so a file of all-distinct
# values costs no more memory than a file of repeated ones.
_MEMO_LIMIT = 4096
# Text that a spreadsheet would run as a formula (see rows._FORMULA_STARTS).
_FORMULA_STARTS = frozenset(("=", "+", "-", "@"))
_new = object.__new__
_set = object.__setattr__
_record_fields = tuple(LearnerRecord.__dataclass_fields__)


def stamped(templates: tuple[Finding, ...], number: int) -> list[Finding]:
    """Findings made for row 0, given row ``number`` (a message never holds its own row)."""
    stamped = []
    for template in templates:
        finding = _new(Finding)
        fields = finding.__dict__  # filled in place: the frozen class forbids only setattr
        fields.update(template.__dict__)
        fields["row"] = number
        stamped.append(finding)
    return stamped


def record_of(*values: Any) -> LearnerRecord:
    """A LearnerRecord made without the frozen dataclass's per-field setattr (a third of the
    cost of a row); equal to LearnerRecord(*values)."""
    record = _new(LearnerRecord)
    _set(record, "__dict__", dict(zip(_record_fields, values, strict=True)))
    return record


class FastRows:
    """Judges the data rows of a file, taking plain rows on the fast path and leaving the others
    to ``judge``: called with a row's cells for a file read by the template's positions
    (TEMPLATE or BY_POSITION layout), or ``shaped`` with the LearnerRow of a mapped file.

    A row is plain when every cell is text of printable ASCII characters only, it has no more
    cells than the template's columns the file has, both names are 1 to NAME_MAX_LENGTH
    characters long, start with no formula character and hold no "?" (a letter lost), the
    License or NPI is blank, a valid NPI or a license number (no formula character first), and
    the Board ID blank or digits.
    """

    def __init__(self, judge: RowJudge, width: int) -> None:
        self.judge = judge
        self.width = width
        self._padding = ("",) * width
        # One verdict cache a step: its inputs -> (what it read, findings for row 0).
        self._actions: dict[Hashable, Any] = {}
        self._activities: dict[Hashable, Any] = {}
        self._completions: dict[Hashable, Any] = {}
        self._birthdays: dict[Hashable, Any] = {}
        self._states: dict[Hashable, Any] = {}
        self._cmes: dict[Hashable, Any] = {}
        self._boards: dict[Hashable, Any] = {}
        self._no_credit = collect(_no_credit_reported)[1]
        self.fast_rows = 0  # rows judged on the fast path, for tests and the benchmark

    @staticmethod
    def _remember(memo: dict[Hashable, Any], key: Hashable, verdict: Any) -> Any:
        if len(memo) >= _MEMO_LIMIT:
            memo.clear()
        memo[key] = verdict
        return verdict

    def __call__(self, number: int, cells: tuple[Cell, ...]) -> RowResult | None:
        """The row's RowResult, or None when the row is not plain (judge it with RowJudge).

        RowJudge.judge step by step, each cell-level step's verdict remembered."""
        width = self.width
        if len(cells) != width:
            if len(cells) > width:
                return None
            cells = cells + self._padding[len(cells) :]
        return self._plain(number, cells, "")

    def shaped(self, number: int, row: LearnerRow) -> RowResult | None:
        """The same for a row read through a column mapping (a fixed Record Action, names split
        from one Name cell, birth years dropped), shaped by RowShaper."""
        if row.odd_cells:
            return None
        cells = (*row[:12], *(cell for pair in row.credit_types for cell in pair))
        return self._plain(number, cells, row.name_cell)

    def _plain(self, number: int, cells: tuple[Cell, ...], name_cell: str) -> RowResult | None:
        try:
            # Text only: a date cell cannot be joined. A formula without its value (NoValue) is
            # blank text, and RowJudge reads it as blank too.
            joined = "".join(cells) + name_cell
        except TypeError:
            return None
        if not (joined.isascii() and joined.isprintable()):
            return None
        (action_text, activity_text, completion_cell, first_name, last_name, birthday_cell,
         state_text, identifier, cme_text, board_text, board_id, board_credits_text,
         *pair_cells) = cells  # fmt: skip
        first_name, last_name = first_name.strip(), last_name.strip()
        identifier, board_id = identifier.strip(), board_id.strip()
        if not (
            0 < len(first_name) <= rules.NAME_MAX_LENGTH
            and 0 < len(last_name) <= rules.NAME_MAX_LENGTH
            and first_name[0] not in _FORMULA_STARTS
            and last_name[0] not in _FORMULA_STARTS
            and "?" not in first_name
            and "?" not in last_name
            and (not board_id or board_id.isdigit())
        ):
            return None
        npi: str | None = None
        license_number: str | None = None
        if identifier:
            if identifier[0] in _FORMULA_STARTS:
                return None
            if len(identifier) == rules.NPI_DIGITS and identifier.isdigit():
                if not npi_is_valid(identifier):
                    return None
                npi = identifier
            elif len(identifier) <= rules.LICENSE_MAX_LENGTH and LICENSE_PATTERN.fullmatch(
                identifier
            ):
                license_number = identifier.upper()
            else:
                return None
        self.fast_rows += 1
        judge = self.judge
        remember = self._remember
        action_text = action_text.strip()
        activity_text = activity_text.strip()
        state_text = state_text.strip()
        cme_text = cme_text.strip()
        board_text = board_text.strip()
        board_credits_text = board_credits_text.strip()
        credit_types = (
            ((pair_cells[0].strip(), pair_cells[1].strip()),)
            if len(pair_cells) == 2
            else tuple(
                (pair_cells[index].strip(), pair_cells[index + 1].strip())
                for index in range(0, len(pair_cells), 2)
            )
        )

        verdict = self._actions.get(action_text)
        if verdict is None:
            verdict = remember(self._actions, action_text, collect(judge._action, action_text))
        action, templates = verdict
        is_add = action != "Delete"
        verdict = self._activities.get(activity_text)
        if verdict is None:
            verdict = remember(
                self._activities, activity_text, collect(judge._activity, activity_text)
            )
        (activity_id, activity, activity_id_ok), found = verdict
        templates += found
        key = (completion_cell, activity_text, is_add)
        verdict = self._completions.get(key)
        if verdict is None:
            verdict = remember(
                self._completions,
                key,
                collect(judge._completion, completion_cell, activity, is_add),
            )
        completion, found = verdict
        templates += found
        head: list[Finding] | None = None
        if name_cell:  # RowJudge names a doubtful split after the names, before the birthday
            head = stamped(templates, number)
            judge._name_split(number, name_cell, head.append)
            templates = ()
        verdict = self._birthdays.get(birthday_cell)
        if verdict is None:
            verdict = remember(self._birthdays, birthday_cell, self._birthday(birthday_cell))
        (birth_month, birth_day, birthday_ok), found = verdict
        templates += found
        key = (state_text, is_add, bool(cme_text))
        verdict = self._states.get(key)
        if verdict is None:
            verdict = remember(self._states, key, self._state(*key))
        state, found = verdict
        templates += found
        cme = None
        if is_add:
            key = (cme_text, activity_text)
            verdict = self._cmes.get(key)
            if verdict is None:
                verdict = remember(
                    self._cmes, key, collect(judge._cme, cme_text, activity, activity_id)
                )
            cme, found = verdict
            templates += found
        has_board_id = bool(board_id)
        key = (board_text, has_board_id, board_credits_text, credit_types, activity_text, is_add)
        verdict = self._boards.get(key)
        if verdict is None:
            verdict = remember(
                self._boards, key, self._board(*key[:4], activity, activity_id, is_add)
            )
        (board, board_id_kept, board_credits, awards), found = verdict
        templates += found
        kept_board_id = board_id if board_id_kept else None
        if is_add and not cme_text and not board_text:
            templates += self._no_credit

        findings = stamped(templates, number) if templates else []
        if head is not None:
            findings = head + findings
        add = findings.append
        learner: LearnerKey | None = None
        if birthday_ok:
            identity = learner_identity(state, npi or license_number, board, kept_board_id)
            if "  " in first_name or "  " in last_name:
                learner = LearnerKey(
                    " ".join(first_name.split()).lower(),
                    " ".join(last_name.split()).lower(),
                    birth_month,
                    birth_day,
                    identity,
                )
            else:
                learner = LearnerKey(
                    first_name.lower(), last_name.lower(), birth_month, birth_day, identity
                )
            if is_add:
                judge._identity(
                    number, learner, (state, license_number, npi), board, kept_board_id, add
                )
        has_error = False
        for finding in findings:
            if finding.severity == rules.ERROR:
                has_error = True
                break
        if (
            learner is not None
            and activity_id_ok
            and completion is not None
            and (board or not board_text)
            and action
        ):
            has_error = judge._repeats(
                number, action, RecordKey(learner, activity_id, completion, board or ""),
                board, has_error, add,
            )  # fmt: skip
        if has_error:
            return RowResult(number, action, tuple(findings), None, False)
        if action == "Add" and board == "ABS" and board_credits is not None:
            judge._abs_day(number, learner, completion, board_credits, add)
        record = record_of(
            activity_id,
            completion,
            first_name,
            last_name,
            birth_month,
            birth_day,
            state,
            npi or license_number,
            board,
            kept_board_id,
            cme,
            board_credits,
            awards,
        )
        return RowResult(number, action, tuple(findings), record, True)

    # Each step below is RowJudge's own, asked of a row whose other cells are plain.

    def _birthday(self, cell: str) -> tuple[tuple[int, int, bool], tuple[Finding, ...]]:
        row = _probe(first_name="A", last_name="B", date_of_birth=cell)
        (_first, _last, month, day, learner), found = collect(self.judge._learner, row)
        return (month, day, learner is not None), found

    def _state(
        self, state_text: str, is_add: bool, reports_cme: bool
    ) -> tuple[str | None, tuple[Finding, ...]]:
        row = _probe(licensing_state=state_text)
        (state, _license, _npi), found = collect(self.judge._license, row, is_add, reports_cme)
        return state, found

    def _board(
        self,
        board_text: str,
        has_board_id: bool,
        board_credits_text: str,
        credit_types: tuple[tuple[str, str], ...],
        activity,
        activity_id: str,
        is_add: bool,
    ) -> tuple[tuple[str | None, bool, Decimal | None, tuple], tuple[Finding, ...]]:
        row = _probe(
            board=board_text,
            board_id="1" if has_board_id else "",
            board_credits=board_credits_text,
            credit_types=credit_types,
        )
        (board, board_id, credits, awards), found = collect(
            self.judge._board, row, activity, activity_id, is_add
        )
        return (board, board_id is not None, credits, awards), found


_PROBE = LearnerRow("", "", "", "", "", "", "", "", "", "", "", "", (), "", ())


def _probe(**fields: Any) -> LearnerRow:
    return _PROBE._replace(**fields)


def collect(step: Callable[..., Any], *arguments: Any) -> tuple[Any, tuple[Finding, ...]]:
    """What one of RowJudge's steps returns for row 0, and the findings it adds."""
    found: list[Finding] = []
    outcome = step(0, *arguments, found.append)
    return outcome, tuple(found)


def _no_credit_reported(number: int, add) -> None:
    """RowJudge's NO_CREDIT_REPORTED, which it adds inline."""
    add(make_finding("NO_CREDIT_REPORTED", number))
