"""The judge's batch path: a text file whose every row is one line, judged in batches (polars).

polars splits a batch of lines into the template's columns and finds in one pass which rows
are plain (as ``judge.fast`` says: printable ASCII, names and identifiers RowJudge would find
nothing in). Each column group's distinct values in the batch are asked of RowJudge's own
checks once (the fast path's remembered verdicts, as a join), and the findings of a row are
its groups' findings put together, once per distinct combination. What is left to Python for
each row is what crosses rows (duplicates, Deletes, one completion, the ABS day: RowJudge's own
methods, with its remembered state), the register for the rows whose identifiers or swapped
names it holds, and the RowResult with its LearnerRecord. A row that is not plain goes, in its
place, to the fast path or to RowJudge, exactly as before.
"""

from __future__ import annotations

import codecs
import csv
from collections import Counter
from collections.abc import Callable, Iterator
from hashlib import sha256
from typing import Any, BinaryIO

import polars as pl

from training.sandbox import rules
from training.sandbox.judge.fast import FastRows, collect, record_of, stamped
from training.sandbox.judge.findings import Finding, RowResult, Summary
from training.sandbox.judge.records import RecordKey
from training.sandbox.judge.register import LearnerKey
from training.sandbox.judge.rows import LearnerRow, RowJudge
from training.sandbox.judge.stored import (
    Change,
    change_of,
    credit_awards_row,
    finding_row,
)
from training.sandbox.readers import csv_problem, trimmed_cells

# Bytes read at a time; a batch is the whole lines among them (about 2,500 learner rows), so
# memory does not grow with the file.
_CHUNK = 256 * 1024
# A step's remembered verdicts are forgotten when they reach this many distinct values.
_MEMO_LIMIT = 65_536
# Joins the parts of a step's key: plain rows are printable ASCII, which never holds it.
_SEPARATOR = "\x1f"
_FORMULA_START = r"^[=+\-@]"

# What a line of a batch is: blank (no row), plain (judged from the batch's verdicts), or
# judged whole by the fast path or RowJudge.
BLANK, PLAIN, WHOLE = 0, 1, 2

# The column groups, in the order RowJudge adds their findings.
_STEPS = ("action", "activity", "completion", "birthday", "state", "cme", "board", "no_credit")


def line_batches(data: BinaryIO, encoding: str, first_line: int) -> Iterator[tuple[int, list]]:
    """(number of the batch's first line, its lines without their line ends), from line
    ``first_line`` on; lines are numbered from 1 as csv.reader numbers one-line rows."""
    decoder = codecs.getincrementaldecoder(encoding)()
    data.seek(0)
    number = 1
    tail = ""
    while True:
        chunk = data.read(_CHUNK)
        at_end = not chunk
        lines = (tail + decoder.decode(chunk, final=at_end)).split("\n")
        del chunk  # not held while the batch is judged
        if not at_end:
            tail = lines.pop()
        elif lines and not lines[-1]:
            lines.pop()  # the file ends with a line end: no row after it
        count = len(lines)
        if number + count > first_line:
            skip = max(0, first_line - number)
            if skip:
                del lines[:skip]
            yield number + skip, lines
        del lines
        number += count
        if at_end:
            return


def _luhn_ok(identifier: pl.Expr) -> pl.Expr:
    """Whether a 10-digit identifier passes the NPI check (values.npi_is_valid, vectorized)."""
    digits = rules.NPI_PREFIX + "0" * rules.NPI_DIGITS
    total: Any = pl.lit(_luhn_sum(digits[: len(rules.NPI_PREFIX)], rules.NPI_DIGITS))
    for index in range(rules.NPI_DIGITS):
        digit = identifier.str.slice(index, 1).cast(pl.Int32, strict=False)
        if (rules.NPI_DIGITS - 1 - index) % 2:
            digit = pl.when(digit > 4).then(digit * 2 - 9).otherwise(digit * 2)
        total = total + digit
    return total % 10 == 0


def _luhn_sum(prefix: str, after: int) -> int:
    """The prefix's part of the Luhn sum, its digits ``after`` places from the right end."""
    total = 0
    for position, digit in enumerate(reversed(prefix), start=after):
        value = int(digit)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total


class BatchRows:
    """Judges the data rows of a one-line-per-row text file read by the template's positions,
    batch by batch, with the same RowJudge (and its remembered state) as the other paths."""

    def __init__(
        self,
        judge: RowJudge,
        fast: FastRows,
        shaper: Callable[[tuple[str, ...]], LearnerRow],
        width: int,
        delimiter: str,
        encoding: str,
    ) -> None:
        self.judge = judge
        self.fast = fast
        self.shaper = shaper
        self.width = width
        self.delimiter = delimiter
        self.encoding = encoding
        self.batch_rows = 0  # rows judged from the batch's verdicts, for tests and benchmarks
        self._memos: dict[str, dict[str, tuple[Any, int]]] = {step: {} for step in _STEPS}
        self._template_ids: dict[tuple[Finding, ...], int] = {(): 0}
        self._templates: list[tuple[Finding, ...]] = [()]
        # The findings of rows, put together: step template ids -> index (never 0, so a
        # lookup's result is true) in the list of (findings for row 0, whether one is an error).
        self._combination_of: dict[tuple[int, ...], int] = {}
        self._combinations: list[tuple[tuple[Finding, ...], bool]] = [((), False)]
        known = judge.context.register.known_keys()
        self._register = {
            "licenses": pl.Series(sorted(known.license_keys), dtype=pl.String),
            "npis": pl.Series(sorted(known.npis), dtype=pl.String),
            "board_ids": pl.Series(sorted(known.board_ids), dtype=pl.String),
            "names": pl.Series(
                sorted(f"{first}{_SEPARATOR}{last}" for first, last in known.names),
                dtype=pl.String,
            ),
        }

    def judge_lines(self, data: BinaryIO, first_line: int) -> Iterator[JudgedBatch]:
        """The data rows from line ``first_line`` on, judged batch by batch."""
        for number, lines in line_batches(data, self.encoding, first_line):
            if lines:
                yield self._judge_batch(number, lines)

    # --- One batch -----------------------------------------------------------------------

    def _columns(self, lines: pl.Series) -> pl.DataFrame:
        """The batch's cells, stripped, "" in every cell of a row that is not plain; and for
        each row whether it is plain, blank, and held by the register in some way."""
        width = self.width
        delimiter = self.delimiter
        spaces = "[ \\t]" if delimiter == "\t" else f"[ {delimiter}]"
        printable = r"^[\t -~]*$" if delimiter == "\t" else r"^[ -~]*$"
        line = pl.col("line").str.strip_suffix("\r")
        # Split once (an eager select would split again for each field taken out).
        frame = (
            lines.to_frame()
            .select(
                line.str.contains(printable).alias("printable"),
                line.str.contains(f"^{spaces}*$").alias("blank"),
                line.str.splitn(delimiter, width + 1).alias("cells"),
            )
            .unnest("cells")
            .select(
                "printable",
                "blank",
                # The date cells as written: their steps read them unstripped.
                pl.col("field_2").fill_null("").alias("completion_cell"),
                pl.col("field_5").fill_null("").alias("birthday_cell"),
                *(
                    pl.col(f"field_{index}").fill_null("").str.strip_chars(" ")
                    for index in range(width)
                ),
                pl.col(f"field_{width}").fill_null("").alias("rest"),
            )
        )
        cell = [pl.col(f"field_{index}") for index in range(width)]
        first, last, identifier, board_id = cell[3], cell[4], cell[7], cell[10]
        names_ok = pl.all_horizontal(
            name.str.contains(r"^[^=+\-@]") & (name.str.len_chars() <= rules.NAME_MAX_LENGTH)
            for name in (first, last)
        )
        npi_shaped = identifier.str.contains(f"^[0-9]{{{rules.NPI_DIGITS}}}$")
        license_shaped = identifier.str.contains(r"^[A-Za-z0-9-]*[A-Za-z0-9][A-Za-z0-9-]*$") & (
            identifier.str.len_chars() <= rules.LICENSE_MAX_LENGTH
        )
        # The check digit is worked out only in a batch that has NPIs.
        npi_ok = (
            _luhn_ok(identifier) if frame.select(npi_shaped.any()).item() else pl.lit(value=False)
        )
        identifier_ok = (identifier == "") | (
            ~identifier.str.contains(_FORMULA_START)
            & pl.when(npi_shaped).then(npi_ok).otherwise(license_shaped)
        )
        plain = (
            pl.col("printable")
            & ~pl.col("blank")
            & pl.col("rest").str.contains(f"^{spaces}*$")
            & names_ok
            & board_id.str.contains(r"^[0-9]*$")
            & identifier_ok
        )
        frame = frame.with_columns(plain.alias("plain"))
        frame = frame.with_columns(
            *(
                pl.when(pl.col("plain")).then(column).otherwise(pl.lit("")).alias(f"field_{i}")
                for i, column in enumerate(cell)
            )
        )
        # Names folded as learner keys are (name_key: spaces collapsed, case folded).
        first_key = first.str.replace_all(" +", " ").str.to_lowercase()
        last_key = last.str.replace_all(" +", " ").str.to_lowercase()
        register = self._register
        held = (
            identifier.str.to_uppercase()
            .str.replace_all("-", "")
            .is_in(register["licenses"].implode())
            | identifier.is_in(register["npis"].implode())
            | board_id.is_in(register["board_ids"].implode())
            | (
                (first_key != last_key)
                & pl.concat_str(last_key, pl.lit(_SEPARATOR), first_key).is_in(
                    register["names"].implode()
                )
            )
        )
        return frame.with_columns(
            first_key.alias("first_key"),
            last_key.alias("last_key"),
            (pl.col("plain") & held).alias("held"),
            pl.when(npi_shaped).then(identifier).alias("npi"),
            pl.when(~npi_shaped & (identifier != ""))
            .then(identifier.str.to_uppercase())
            .alias("license"),
        )

    def _keys(self, frame: pl.DataFrame) -> dict[str, pl.Series]:
        """Each step's key: the cells its verdict depends on (see FastRows), joined."""
        cell = [pl.col(f"field_{index}") for index in range(self.width)]
        action, activity, state, cme, board = cell[0], cell[1], cell[6], cell[8], cell[9]
        board_id, board_credits, pairs = cell[10], cell[11], cell[12:]

        def raw_cell(name: str) -> pl.Expr:
            return pl.when(pl.col("plain")).then(pl.col(name)).otherwise(pl.lit(""))

        def joined(*parts: pl.Expr) -> pl.Expr:
            return pl.concat_str(*parts, separator=_SEPARATOR)

        def flag(expression: pl.Expr) -> pl.Expr:
            return pl.when(expression).then(pl.lit("1")).otherwise(pl.lit(""))

        keys = frame.select(
            action.alias("action"),
            activity.alias("activity"),
            joined(raw_cell("completion_cell"), activity, action).alias("completion"),
            raw_cell("birthday_cell").alias("birthday"),
            joined(state, action, flag(cme != "")).alias("state"),
            joined(cme, activity, action).alias("cme"),
            joined(board, flag(board_id != ""), board_credits, activity, action, *pairs).alias(
                "board"
            ),
            joined(action, flag(cme == ""), flag(board == "")).alias("no_credit"),
        )
        return {step: keys[step] for step in _STEPS}

    def _judge_batch(self, first_number: int, lines: list[str]) -> JudgedBatch:
        """Judge a batch of lines; the list is emptied (its text goes to polars) so that Python
        holds as little as it can while the batch is judged."""
        line_column = pl.Series("line", lines, dtype=pl.String)
        count = len(lines)
        lines.clear()
        # The row keys' table grows now, if it must, rather than half-way through the rows.
        self.judge.rows_by_key.reserve(count)
        frame = self._columns(line_column).with_columns(line_column)
        keys = self._keys(frame)
        values: dict[str, list[Any]] = {}
        template_ids = []
        for step in _STEPS:
            memo = self._memos[step]
            verdicts = [memo.get(key) or self._verdict(step, key) for key in keys[step].to_list()]
            values[step] = [value for value, _template in verdicts]
            template_ids.append([template for _value, template in verdicts])
        combination_of = self._combination_of
        combination_ids = [
            combination_of.get(combination) or self._combination(combination)
            for combination in zip(*template_ids, strict=True)
        ]
        batch = JudgedBatch(first_number, values, self._combinations, combination_ids)
        self._across_rows(batch, count, frame)
        return batch

    def _combination(self, template_ids: tuple[int, ...]) -> int:
        """The id of a row's findings put together from its steps' findings, remembered."""
        if len(self._combinations) >= _MEMO_LIMIT:  # batches made before keep the old list
            self._combination_of = {}
            self._combinations = [((), False)]
        templates = tuple(
            finding for template_id in template_ids for finding in self._templates[template_id]
        )
        has_error = any(finding.severity == rules.ERROR for finding in templates)
        combination_id = self._combination_of[template_ids] = len(self._combinations)
        self._combinations.append((templates, has_error))
        return combination_id

    def _across_rows(self, batch: JudgedBatch, count: int, frame: pl.DataFrame) -> None:
        """What each row's findings and acceptance owe to other rows and to the register, in
        row order (RowJudge's own methods and state); rows that are not plain judged whole."""
        judge = self.judge
        repeats = judge._repeats
        identity = judge._identity
        abs_day = judge._abs_day
        # The identifiers only of the rows the register may hold: few, and made Python strings.
        held = pl.col("held")
        columns = frame.select(
            "plain",
            "blank",
            "first_key",
            "last_key",
            "held",
            *(pl.when(held).then(pl.col(name)).alias(name) for name in ("npi", "license")),
            pl.when(held).then(pl.col("field_10")).alias("field_10"),
        )
        names = columns.columns
        lists = {name: columns[name].to_list() for name in names}
        # Kept as columns (a few bytes a value) until the RowResults are asked for.
        batch.people = frame.select(
            "field_3", "field_4", "npi", "license", "field_10", "first_key", "last_key"
        )
        kinds = batch.kinds
        accepted = batch.accepted
        extras = batch.extras
        values = batch.values
        combined = batch.combined
        first_number = batch.first_number
        rows = zip(
            range(first_number, first_number + count),
            batch.combination_ids,
            values["action"],
            values["activity"],
            values["completion"],
            values["birthday"],
            values["state"],
            values["board"],
            *(lists[name] for name in names),
            strict=True,
        )
        for (number, combination, (action, is_add), (activity_id, _activity, activity_id_ok),
             completion, (birth_month, birth_day, birthday_ok), state,
             (board, board_id_kept, board_credits, _awards, board_ok), plain, blank, first_key,
             last_key, held, npi, license_number, board_id) in rows:  # fmt: skip
            if not plain:
                line = None if blank else frame.item(number - first_number, "line")
                result = None if line is None else self._judge_line(number, line)
                if result is None:
                    kinds.append(BLANK)
                else:
                    kinds.append(WHOLE)
                    extras[number] = result
                accepted.append(False)
                continue
            kinds.append(PLAIN)
            self.batch_rows += 1
            has_error = combined[combination][1]
            found: list[Finding] = []
            learner = None
            if birthday_ok:
                learner = LearnerKey(first_key, last_key, birth_month, birth_day)
                if is_add and held:
                    identity(
                        number,
                        learner,
                        (state, license_number, npi),
                        board,
                        board_id if board_id_kept else None,
                        found.append,
                    )
                    has_error = has_error or any(
                        finding.severity == rules.ERROR for finding in found
                    )
            if (
                learner is not None
                and activity_id_ok
                and completion is not None
                and board_ok
                and action
            ):
                has_error = repeats(
                    number,
                    action,
                    RecordKey(learner, activity_id, completion, board or ""),
                    board,
                    has_error,
                    found.append,
                )
            if not has_error and action == "Add" and board == "ABS" and board_credits is not None:
                abs_day(number, learner, completion, board_credits, found.append)
            accepted.append(not has_error)
            if found:
                extras[number] = found

    def _judge_line(self, number: int, line: str) -> RowResult | None:
        """A row that is not plain, read as csv.reader reads it and judged as before; None for
        a row with nothing in it."""
        try:
            cells = next(csv.reader([line.removesuffix("\r")], delimiter=self.delimiter))
        except csv.Error as error:
            raise csv_problem(error) from None
        cells = trimmed_cells(cells)
        if not cells:
            return None
        row = tuple(cells)
        return self.fast(number, row) or self.judge.judge(number, self.shaper(row))

    # --- Verdicts of distinct values -----------------------------------------------------

    def _verdict(self, step: str, key: str) -> tuple[Any, int]:
        """(what the step reads, id of its findings for row 0), remembered."""
        memo = self._memos[step]
        verdict = memo.get(key)
        if verdict is None:
            value, found = getattr(self, f"_ask_{step}")(*key.split(_SEPARATOR))
            template_id = self._template_ids.get(found)
            if template_id is None:
                template_id = self._template_ids[found] = len(self._templates)
                self._templates.append(found)
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            verdict = memo[key] = (value, template_id)
        return verdict

    def _is_add(self, action_text: str) -> bool:
        return self._verdict("action", action_text)[0][1]

    def _activity(self, activity_text: str) -> tuple[str, Any, bool]:
        return self._verdict("activity", activity_text)[0]

    def _ask_action(self, text: str) -> tuple[tuple[str, bool], tuple[Finding, ...]]:
        action, found = collect(self.judge._action, text)
        return (action, action != "Delete"), found

    def _ask_activity(self, text: str) -> tuple[Any, tuple[Finding, ...]]:
        return collect(self.judge._activity, text)

    def _ask_completion(self, cell: str, activity_text: str, action_text: str):
        activity = self._activity(activity_text)[1]
        return collect(self.judge._completion, cell, activity, self._is_add(action_text))

    def _ask_birthday(self, cell: str):
        return self.fast._birthday(cell)

    def _ask_state(self, state_text: str, action_text: str, reports_cme: str):
        return self.fast._state(state_text, self._is_add(action_text), bool(reports_cme))

    def _ask_cme(self, cme_text: str, activity_text: str, action_text: str):
        if not self._is_add(action_text):
            return None, ()
        activity_id, activity, _ok = self._activity(activity_text)
        return collect(self.judge._cme, cme_text, activity, activity_id)

    def _ask_board(
        self,
        board_text: str,
        has_board_id: str,
        board_credits_text: str,
        activity_text: str,
        action_text: str,
        *pair_cells: str,
    ):
        activity_id, activity, _ok = self._activity(activity_text)
        credit_types = tuple(
            (pair_cells[index], pair_cells[index + 1]) for index in range(0, len(pair_cells), 2)
        )
        (board, board_id_kept, credits, awards), found = self.fast._board(
            board_text,
            bool(has_board_id),
            board_credits_text,
            credit_types,
            activity,
            activity_id,
            self._is_add(action_text),
        )
        return (board, board_id_kept, credits, awards, bool(board) or not board_text), found

    def _ask_no_credit(self, action_text: str, cme_blank: str, board_blank: str):
        if self._is_add(action_text) and cme_blank and board_blank:
            return None, self.fast._no_credit
        return None, ()


class JudgedBatch:
    """A batch of judged rows, kept as the batch's columns and verdicts: its RowResults are
    made only when asked for (``results``), and ``count`` adds it to a Summary without them."""

    def __init__(
        self,
        first_number: int,
        values: dict[str, list[Any]],
        combined: list[tuple[tuple[Finding, ...], bool]],
        combination_ids: list[int],
    ) -> None:
        self.first_number = first_number
        self.values = values
        self.combined = combined
        self.combination_ids = combination_ids
        self.kinds: list[int] = []
        self.accepted: list[bool] = []
        # Row number -> findings from across rows and the register (plain rows), or the
        # RowResult of a row judged whole.
        self.extras: dict[int, Any] = {}
        # First and last name, NPI, license number, Board ID and the names' keys of each line.
        self.people = pl.DataFrame()

    def _rows(self) -> Iterator[tuple]:
        """Each line's number, kind, acceptance, combination of findings, verdicts and people's
        cells, in row order."""
        values = self.values
        return zip(
            range(self.first_number, self.first_number + len(self.kinds)),
            self.kinds,
            self.accepted,
            self.combination_ids,
            values["action"],
            values["activity"],
            values["completion"],
            values["birthday"],
            values["state"],
            values["cme"],
            values["board"],
            *(column.to_list() for column in self.people.iter_columns()),
            strict=True,
        )

    def results(self) -> Iterator[RowResult]:
        """The batch's RowResults, in row order."""
        extras = self.extras
        combined = self.combined
        rows = self._rows()
        for (number, kind, accepted, combination, (action, _is_add), activity, completion,
             (birth_month, birth_day, _ok), state, cme,
             (board, board_id_kept, board_credits, awards, _board_ok), first_name, last_name,
             npi, license_number, board_id, _first_key, _last_key) in rows:  # fmt: skip
            if kind != PLAIN:
                if kind == WHOLE:
                    yield extras[number]
                continue
            templates = combined[combination][0]
            findings = stamped(templates, number) if templates else []
            extra = extras.get(number)
            if extra is not None:
                findings += extra
            if not accepted:
                yield RowResult(number, action, tuple(findings), None, False)
                continue
            record = record_of(
                activity[0],
                completion,
                first_name,
                last_name,
                birth_month,
                birth_day,
                state,
                npi or license_number,
                board,
                board_id if board_id_kept else None,
                cme,
                board_credits,
                awards,
            )
            yield RowResult(number, action, tuple(findings), record, True)

    def stored_rows(self) -> Iterator[tuple[list[dict[str, Any]], Change | None]]:
        """Each row's findings and change as the worker stores them (``judge.stored``), in row
        order, made from the batch's columns and verdicts without a RowResult."""
        extras = self.extras
        combined = self.combined
        finding_rows: dict[int, tuple[dict[str, Any], ...]] = {}
        # One list a distinct credits by credit type (the rows share it: it is only read).
        awards_rows: dict[tuple, list[list[str]]] = {}
        rows = self._rows()
        for (number, kind, accepted, combination, (action, _is_add), activity, completion,
             (birth_month, birth_day, _ok), state, cme,
             (board, board_id_kept, board_credits, awards, _board_ok), first_name, last_name,
             npi, license_number, board_id, first_key, last_key) in rows:  # fmt: skip
            if kind != PLAIN:
                if kind == WHOLE:
                    result = extras[number]
                    yield (
                        [finding_row(finding) for finding in result.findings],
                        change_of(result.action, result.record) if result.accepted else None,
                    )
                continue
            templates = finding_rows.get(combination)
            if templates is None:
                templates = finding_rows[combination] = tuple(
                    finding_row(finding) for finding in combined[combination][0]
                )
            findings = [{**template, "row": number} for template in templates]
            extra = extras.get(number)
            if extra is not None:
                findings += [finding_row(finding) for finding in extra]
            if not accepted:
                yield findings, None
                continue
            # key_digest's texts, made here at once: the learner's is part of the record's.
            activity_id = activity[0]
            learner = f"{first_key}\x1f{last_key}\x1f{birth_month}\x1f{birth_day}"
            record_key = sha256(
                f"{learner}\x1f{activity_id}\x1f{completion.isoformat()}\x1f{board or ''}".encode()
            ).hexdigest()
            if action == "Delete":
                yield findings, ("delete", {"digest": record_key})
                continue
            awards_row = awards_rows.get(awards)
            if awards_row is None:
                awards_row = awards_rows[awards] = credit_awards_row(awards)
            record = {
                "activity_id": activity_id,
                "completion_date": completion,
                "first_name": first_name,
                "last_name": last_name,
                "birth_month": birth_month,
                "birth_day": birth_day,
                "state": state,
                "license_or_npi": npi or license_number,
                "board": board,
                "board_id": board_id if board_id_kept else None,
                "cme_credits": cme,
                "board_credits": board_credits,
                "credit_awards": awards_row,
                "record_key": record_key,
                "learner_key": sha256(learner.encode()).hexdigest(),
            }
            yield findings, ("add", record)

    def count(self, summary: Summary) -> None:
        """Add the batch's rows and findings to ``summary``."""
        kinds = self.kinds
        plain = [combination for combination, kind in zip(self.combination_ids, kinds,
                 strict=True) if kind == PLAIN]  # fmt: skip
        summary.rows_read += len(plain)
        accepted = sum(self.accepted)
        summary.accepted += accepted
        summary.rejected += len(plain) - accepted
        by_code = summary.by_code
        for combination, times in Counter(plain).items():
            for finding in self.combined[combination][0]:
                by_code[finding.code] += times
                if finding.severity == rules.ERROR:
                    summary.errors += times
                else:
                    summary.warnings += times
        for number, extra in self.extras.items():
            if kinds[number - self.first_number] == WHOLE:
                summary.add(extra)
                continue
            for finding in extra:
                by_code[finding.code] += 1
                if finding.severity == rules.ERROR:
                    summary.errors += 1
                else:
                    summary.warnings += 1
