"""The judge's batch path: a text file whose every row is one line, judged in batches (polars).

polars splits a batch of lines into the template's columns and finds in one pass which rows
are plain (as ``judge.fast`` says: printable ASCII, names and identifiers RowJudge would find
nothing in). Each column group's distinct values in the batch are asked of RowJudge's own
checks once (remembered verdicts, given to the rows as ids), and the findings of a row are its
groups' findings put together, once per distinct combination. The rules across rows are
columns too: a row's record, completion and ABS-day keys are 64-bit numbers (the record's a
SHA-256 prefix, as the held records' keys are; the others an xxh3 seeded for the file), looked
up in sorted runs of the keys of earlier batches (``judge.runs``) and counted within the batch;
a row that shares no key with another row or a held record, and that the register does not
name, finds nothing across rows. Only the others (a Delete, a repeat, a learner the register
holds) are judged in Python, in row order, by RowJudge's own methods. A row that is not plain
goes, in its place, to the fast path or to RowJudge, exactly as before.
"""

from __future__ import annotations

import codecs
import csv
import operator
import secrets
from collections.abc import Callable, Iterator
from functools import lru_cache, partial
from hashlib import sha256
from typing import Any, BinaryIO, NamedTuple

import polars as pl
import polars_hash  # noqa: F401 (adds SHA-256 and xxh3 to polars: `.chash`, `.nchash`)
from xxhash import xxh3_64_intdigest

from training.sandbox import rules
from training.sandbox.judge.fast import FastRows, collect, record_of, stamped
from training.sandbox.judge.findings import Finding, RowResult, Summary
from training.sandbox.judge.index import ACCEPTED
from training.sandbox.judge.records import NoRecords, RecordKey
from training.sandbox.judge.register import KEY_SEPARATOR, KnownKeys, KnownPeople, LearnerKey
from training.sandbox.judge.rows import LearnerRow, RowJudge
from training.sandbox.judge.runs import BatchIndex, KeyRuns
from training.sandbox.judge.stored import (
    DIGEST_FIELDS,
    FINDING_FIELDS,
    RECORD_FIELDS,
    Columns,
    change_of,
    credit_awards_row,
    finding_row,
)
from training.sandbox.readers import csv_problem, trimmed_cells

# A batch is the whole lines among this many bytes (about 22,000 learner rows), so memory does
# not grow with the file; polars holds its text, Python a piece of it at a time.
_CHUNK = 2 * 1024 * 1024
_PIECE = 256 * 1024
# A step's remembered verdicts are forgotten when they reach this many distinct values.
_MEMO_LIMIT = 65_536
# Joins the parts of a step's key: plain rows are printable ASCII, which never holds it.
_SEPARATOR = KEY_SEPARATOR
_FORMULA_START = r"^[=+\-@]"
# The bytes of a line of printable ASCII (tested a piece of the file at a time).
_PRINTABLE = bytes(range(0x20, 0x7F)) + b"\r\n"

# A batch's plans are collected in memory: the streaming engine, polars' default, took about a
# tenth more CPU on a batch's frames (which are in memory already).
_ENGINE = "in-memory"

# What a line of a batch is: blank (no row), plain (judged from the batch's verdicts), or
# judged whole by the fast path or RowJudge.
BLANK, PLAIN, WHOLE = 0, 1, 2

# The column groups, in the order RowJudge adds their findings.
_STEPS = ("action", "activity", "completion", "birthday", "state", "cme", "board", "no_credit")
# A Record Action as a number: unreadable, Add, Delete.
_NO_ACTION, _ADD, _DELETE = 0, 1, 2
# Above this many quarter credits, one ABS row alone is over the day's limit.
_QUARTERS_A_DAY = int(rules.ABS_DAILY_LIMIT // rules.CREDIT_STEP)


def _action_columns(value: tuple[str, bool]) -> tuple:
    action = value[0]
    return (_ADD if action == "Add" else _DELETE if action == "Delete" else _NO_ACTION,)


def _activity_columns(value: tuple) -> tuple:
    activity_id, _activity, activity_id_ok = value
    return activity_id, activity_id_ok


def _completion_columns(value: Any) -> tuple:
    return (None if value is None else value.isoformat(),)


def _birthday_columns(value: tuple) -> tuple:
    # The month and day as a learner key joins them (made once a birthday, not a row).
    month, day, _ok = value
    return *value, None if month is None or day is None else f"{month}{_SEPARATOR}{day}"


def _board_columns(value: tuple) -> tuple:
    board, _board_id_kept, credits, _awards, board_ok = value
    return board, board_ok, None if credits is None else int(credits / rules.CREDIT_STEP)


# What the rules across rows read of a step's verdict, as columns: (name, type), and how.
_COLUMNS: dict[str, tuple[dict[str, Any], Callable[[Any], tuple]]] = {
    "action": ({"action_code": pl.UInt8}, _action_columns),
    "activity": ({"activity_id": pl.String, "activity_ok": pl.Boolean}, _activity_columns),
    "completion": ({"completion_text": pl.String}, _completion_columns),
    "birthday": (
        {
            "birth_month": pl.Int32,
            "birth_day": pl.Int32,
            "birthday_ok": pl.Boolean,
            "birthday_text": pl.String,
        },
        _birthday_columns,
    ),
    "state": ({"state_code": pl.String}, lambda state: (state,)),
    "board": ({"board": pl.String, "board_ok": pl.Boolean, "quarters": pl.Int64}, _board_columns),
}


class _Verdicts:
    """One step's verdicts by id: its keys' ids, what each key reads and its findings'
    template id, and the same as polars columns for a batch's rows to gather."""

    def __init__(self, step: str) -> None:
        names, self._columns_of = _COLUMNS.get(step, ({}, lambda _value: ()))
        self.schema = {**names, "template": pl.UInt32}
        self.ids: dict[str, int] = {}
        self.values: list[Any] = []
        self.templates: list[int] = []
        self._new: list[tuple] = []
        self._frame = pl.DataFrame(schema=self.schema)

    def add(self, key: str, value: Any, template_id: int) -> int:
        """Keep a key's verdict; its id."""
        verdict_id = self.ids[key] = len(self.values)
        self.values.append(value)
        self.templates.append(template_id)
        self._new.append((*self._columns_of(value), template_id))
        return verdict_id

    def columns(self) -> pl.DataFrame:
        """The verdicts as columns, a row an id."""
        if self._new:
            added = pl.DataFrame(self._new, schema=self.schema, orient="row")
            self._frame = pl.concat([self._frame, added]).rechunk()
            self._new = []
        return self._frame


# What the worker stores of a run of rows: (the data row it ends at, findings, changes as
# runs of one kind).
Stored = tuple[int, Columns, list[tuple[str, Columns]]]

# Findings by id: (the template or row number they belong to, their order in it, their id
# in the lists of their stored fields that are text: column, severity, code, message).
_FINDING_FRAME = {"key": pl.Int64, "order": pl.Int64, "finding": pl.Int64}


def _add_finding(
    frame: dict[str, list[int]], fields: list[list[str]], key: int, order: int, finding: Finding
) -> None:
    """Keep a finding's stored text in ``fields`` and its (key, order, id) in ``frame``."""
    _of_file, _row, *texts = finding_row(finding)
    frame["key"].append(key)
    frame["order"].append(order)
    frame["finding"].append(len(fields[0]))
    for values, text in zip(fields, texts, strict=True):
        values.append(text)


def _part_ends(places: pl.Series, every: int) -> dict[int, tuple[int, int]]:
    """For sorted places (data rows from the file's first), each part's (count, last place)."""
    counted = (
        places.to_frame("place")
        .group_by(((pl.col("place") - 1) // every).alias("part"), maintain_order=True)
        .agg(pl.len(), pl.col("place").max().alias("last"))
    )
    return {part: (count, last) for part, count, last in counted.iter_rows()}


def _picked(frame: pl.DataFrame, where: pl.Expr, *columns: str | pl.Expr) -> pl.DataFrame:
    """The columns of the rows where ``where`` holds (only those columns are filtered: a
    batch's frames are wide)."""
    return frame.lazy().filter(where).select(*columns).collect(engine=_ENGINE)


def _lists(frame: pl.DataFrame) -> list[list[Any]]:
    """A frame's columns as Python lists (quicker to zip than its rows to take)."""
    return [column.to_list() for column in frame.iter_columns()]


def _gathered(values: list[Any], ids: list[int]) -> list[Any]:
    """``values[i]`` for each ``i`` of ``ids``, in order: ``itemgetter``'s loop is in C, a
    little quicker than a list comprehension (a tuple of one is no tuple, so a single id is
    looked up as one)."""
    if len(ids) > 1:
        return list(operator.itemgetter(*ids)(values))
    return [values[i] for i in ids]


def _key64(text: str) -> int:
    """A key's 64-bit number: the first 8 bytes of its text's SHA-256 (as HeldRecords keeps a
    record's key), the same whether worked out here or for a column."""
    return int.from_bytes(sha256(text.encode()).digest()[:8], "big")


def _hex_digest(text: pl.Expr) -> pl.Expr:
    """Each text's SHA-256 in hex (null for null), as ``stored.key_digest`` gives it."""
    return text.chash.sha2_256()


def _hex_key64(hex_digest: pl.Expr) -> pl.Expr:
    """The 64-bit number of a hex SHA-256 digest: its first 8 bytes, as ``_key64`` takes them."""
    return hex_digest.str.slice(0, 16).str.to_integer(base=16, dtype=pl.UInt64)


def _learner_text(learner: LearnerKey | None) -> str:
    return "" if learner is None else _SEPARATOR.join(str(part) for part in learner)


def _record_key64(key: RecordKey) -> int:
    learner, activity_id, completion, board = key
    return _key64(
        f"{_learner_text(learner)}{_SEPARATOR}{activity_id}{_SEPARATOR}"
        f"{completion.isoformat()}{_SEPARATOR}{board}"
    )


# A learner's completion and ABS-day keys are only compared within one file's judgement (no
# record held is keyed so): a 64-bit xxh3 of their text with the file's own random seed (so
# that no file can be made to collide), a tenth of SHA-256's cost on a column.
def _seeded_key64(text: pl.Expr, seed: int) -> pl.Expr:
    return text.nchash.xxh3_64(seed=seed)


def _completion_key64(seed: int, board: str, learner: LearnerKey, activity_id: str) -> int:
    text = f"{board}{_SEPARATOR}{_learner_text(learner)}{_SEPARATOR}{activity_id}"
    return xxh3_64_intdigest(text.encode(), seed)


def _day_key64(seed: int, learner: LearnerKey, completion: Any) -> int:
    text = f"{_learner_text(learner)}{_SEPARATOR}{completion.isoformat()}"
    return xxh3_64_intdigest(text.encode(), seed)


@lru_cache(maxsize=4)
def _register_columns(known: KnownKeys, people: KnownPeople) -> dict[str, pl.Series]:
    """What the batches ask of a register, as columns: the identifiers and names it holds, and
    who it holds under each identifier (``{key}_people``: the key and the learner, joined).
    Made once per register (a process reads it once), not per file."""

    def texts(values) -> pl.Series:
        return pl.Series(list(values), dtype=pl.String)

    return {
        "licenses": texts(known.license_keys),
        "npis": texts(known.npis),
        "board_ids": texts(known.board_ids),
        "names": texts(f"{first}{_SEPARATOR}{last}" for first, last in known.names),
        "license_keys": texts(people.license_keys),
        "license_people": texts(people.by_license),
        "npi_keys": texts(people.npis),
        "npi_people": texts(people.by_npi),
        "board_id_keys": texts(people.board_ids),
        "board_id_people": texts(people.by_board_id),
        "learners": texts(people.learners),
    }


class LineFlags(NamedTuple):
    """What a batch's text may hold, asked of its bytes as they are read (False: it holds none):
    a byte that is not printable ASCII (``printable`` False), a space beside a delimiter or at a
    line's start or end (``padded``), two spaces in a row (``spaced``)."""

    printable: bool
    padded: bool
    spaced: bool


def _spaces_in(text: str, delimiter: str) -> tuple[bool, bool]:
    """Whether ``text`` holds a space beside a delimiter or a line end (before its "\r", if
    any), and whether two spaces in a row. Asked in polars, one regex scan (literal pairs, the
    delimiter as its code point): a fifth of the CPU of Python's five ``in`` scans of a piece
    (a space is common, and each scan stops at every one)."""
    mark = f"\\x{{{ord(delimiter):x}}}"
    found = (
        pl.DataFrame({"text": [text]})
        .select(
            pl.col("text").str.contains(f" [{mark}\\r\\n]|[{mark}\\n] ").alias("padded"),
            pl.col("text").str.contains("  ", literal=True).alias("spaced"),
        )
        .row(0)
    )
    return bool(found[0]), bool(found[1])


def line_batches(
    data: BinaryIO, encoding: str, first_line: int, delimiter: str = ","
) -> Iterator[tuple[int, pl.Series, LineFlags]]:
    """(number of the batch's first line, its lines without their line ends, what they may
    hold), from line ``first_line`` on; lines are numbered from 1 as csv.reader numbers
    one-line rows. The text is decoded and split a piece at a time, so that Python never holds
    a batch (polars' split of a batch's joined text, and a scan of it joined again, left about
    six times its size resident)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    # Every carriage return of a file of one-line rows ends a line (readers._one_line_rows).
    allowed = _PRINTABLE + (b"\t" if delimiter == "\t" else b"")
    data.seek(0)
    number = 1
    unfinished: list[str] = []  # the line being read, as read so far
    before = "\n"  # the last character read (a file starts a line)
    at_end = False
    while not at_end:
        pieces = []
        # The unfinished line is the batch's first: asked again, from its start.
        printable = all(not text.encode().translate(None, allowed) for text in unfinished)
        padded, spaced = _spaces_in("\n" + "".join(unfinished), delimiter)
        size = 0
        while size < _CHUNK and not at_end:
            chunk = data.read(min(_PIECE, _CHUNK))
            at_end = not chunk
            size += len(chunk)
            # A byte outside printable ASCII deletes nothing: the whole piece is kept (no copy).
            printable = printable and not chunk.translate(None, allowed)
            text = decoder.decode(chunk, final=at_end)
            del chunk  # not held while the batch is judged
            # With the character before, and a line end after the file's last.
            piece_padded, piece_spaced = _spaces_in(
                before + text + ("\n" if at_end else ""), delimiter
            )
            padded, spaced = padded or piece_padded, spaced or piece_spaced
            before = text[-1:] or before
            piece_lines = text.split("\n")
            del text
            if len(piece_lines) > 1:
                piece_lines[0] = "".join([*unfinished, piece_lines[0]])
                unfinished = []
            unfinished.append(piece_lines.pop())
            if piece_lines:
                pieces.append(pl.Series("line", piece_lines, dtype=pl.String))
            del piece_lines
        if at_end and (last := "".join(unfinished)):
            pieces.append(pl.Series("line", [last]))  # the file's last line has no line end
        lines = (
            pl.concat(pieces, rechunk=True) if pieces else pl.Series("line", [], dtype=pl.String)
        )
        del pieces
        count = len(lines)
        if number + count > first_line:
            skip = max(0, first_line - number)
            yield number + skip, lines.slice(skip), LineFlags(printable, padded, spaced)
        del lines
        number += count


def _luhn_ok(identifier: pl.Expr) -> pl.Expr:
    """Whether a 10-digit identifier passes the NPI check (values.npi_is_valid, vectorized)."""
    number = identifier.cast(pl.Int64, strict=False)
    total: Any = pl.lit(_luhn_sum(rules.NPI_PREFIX, rules.NPI_DIGITS))
    for index in range(rules.NPI_DIGITS):
        digit = number // 10 ** (rules.NPI_DIGITS - 1 - index) % 10
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
        self._tables = {step: _Verdicts(step) for step in _STEPS}
        self._template_ids: dict[tuple[Finding, ...], int] = {(): 0}
        self._templates: list[tuple[Finding, ...]] = [()]
        # Whether each template has an error (a row has one if a step's template has).
        self._template_errors: list[bool] = [False]
        # The templates' findings as stored: (template id, order, finding id) a row, and by
        # finding id the texts (the rows share them: one string each, however many rows).
        self._template_findings = pl.DataFrame(schema=_FINDING_FRAME)
        self._finding_texts: list[list[str]] = [[], [], [], []]
        register = judge.context.register
        self._register = _register_columns(register.known_keys(), register.known_people())
        # RowJudge remembers keys as the batches do, so that a row judged whole and a row of a
        # batch see each other.
        judge.row_key_hash = _record_key64
        self._seed = secrets.randbits(64)
        judge.completion_hash = partial(_completion_key64, self._seed)
        judge.day_hash = partial(_day_key64, self._seed)
        judge.rows_by_key = BatchIndex(KeyRuns())  # type: ignore[assignment]
        judge.completions = BatchIndex(KeyRuns())  # type: ignore[assignment]
        judge.abs_quarters = BatchIndex(KeyRuns())  # type: ignore[assignment]
        # The held records' keys, to find in a column (None: asked row by row).
        records = judge.context.records
        held_keys = getattr(records, "held_keys", None)
        self._held: tuple[pl.Series, pl.Series] | None = None
        if isinstance(records, NoRecords) or held_keys is not None:
            record_keys, completion_keys = held_keys() if held_keys is not None else ((), ())
            self._held = (
                pl.Series(record_keys, dtype=pl.UInt64),
                pl.Series(completion_keys, dtype=pl.UInt64),
            )

    def judge_lines(self, data: BinaryIO, first_line: int) -> Iterator[JudgedBatch]:
        """The data rows from line ``first_line`` on, judged batch by batch."""
        for number, lines, flags in line_batches(data, self.encoding, first_line, self.delimiter):
            if len(lines):
                batch = self._judge_batch(number, lines, flags)
                del lines
                yield batch
                del batch  # not held while the next batch is read and judged

    # --- One batch -----------------------------------------------------------------------

    def _columns(self, lines: pl.Series, flags: LineFlags) -> pl.DataFrame:
        """The batch's lines and cells, stripped, "" in every cell of a row that is not plain;
        for each row whether it is plain, blank, and held by the register in some way; and each
        step's key (``{step}_key``). ``flags``: what the batch's text may hold (each line is
        asked whether it is printable ASCII only if the batch may hold a byte that is not; cells
        are stripped and names' runs of spaces folded only if it may hold such spaces: most
        batches have none, and the work a line is then left out)."""
        width = self.width
        delimiter = self.delimiter
        spaces = "[ \\t]" if delimiter == "\t" else f"[ {delimiter}]"
        blank_characters = " \t" if delimiter == "\t" else f" {delimiter}"
        allowed = "\\t -~" if delimiter == "\t" else " -~"
        line = pl.col("line").str.strip_suffix("\r")
        printable, padded, spaced = flags
        # Split once (an eager select would split again for each field taken out), in one
        # plan (the line's "\r" is stripped once for the blank check and the split).
        frame = (
            lines.to_frame()
            .lazy()
            .select(
                "line",
                (pl.lit(value=True) if printable else ~line.str.contains(f"[^{allowed}]")).alias(
                    "printable"
                ),
                line.str.contains(f"^{spaces}*$").alias("blank"),
                line.str.splitn(delimiter, width + 1).alias("cells"),
            )
            .unnest("cells")
            .select(
                "line",
                "printable",
                "blank",
                # The date cells as written: their steps read them unstripped.
                pl.col("field_2").fill_null("").alias("completion_cell"),
                pl.col("field_5").fill_null("").alias("birthday_cell"),
                *(
                    pl.col(f"field_{index}").fill_null("").str.strip_chars(" ")
                    if padded
                    else pl.col(f"field_{index}").fill_null("")
                    for index in range(width)
                ),
                pl.col(f"field_{width}").fill_null("").alias("rest"),
            )
            .collect(engine=_ENGINE)
        )
        cell = [pl.col(f"field_{index}") for index in range(width)]
        first, last, identifier, board_id = cell[3], cell[4], cell[7], cell[10]
        names_ok = pl.all_horizontal(
            name.str.contains(r"^[^=+\-@?][^?]*$") & (name.str.len_chars() <= rules.NAME_MAX_LENGTH)
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
            # Past the template's cells a row is mostly empty: a strip is quicker there than a
            # regex, which costs about 40 ns a cell however short.
            & (pl.col("rest").str.strip_chars(blank_characters) == "")
            & names_ok
            & ~board_id.str.contains(r"[^0-9]")
            & identifier_ok
        )
        # Names folded as learner keys are (name_key: spaces collapsed, case folded).
        first_key = (first.str.replace_all(" {2,}", " ") if spaced else first).str.to_lowercase()
        last_key = (last.str.replace_all(" {2,}", " ") if spaced else last).str.to_lowercase()
        register = self._register
        # As license_key() folds a license (a plain row's has no spaces).
        license_folded = identifier.str.to_uppercase().str.replace_all("-", "", literal=True)
        held = (
            license_folded.is_in(register["licenses"].implode())
            | identifier.is_in(register["npis"].implode())
            | board_id.is_in(register["board_ids"].implode())
            | (
                (first_key != last_key)
                & pl.concat_str(last_key, pl.lit(_SEPARATOR), first_key).is_in(
                    register["names"].implode()
                )
            )
        )
        # The rest in one plan, collected once.
        return (
            frame.lazy()
            .with_columns(plain.alias("plain"))
            .with_columns(
                pl.when(pl.col("plain")).then(column).otherwise(pl.lit("")).alias(f"field_{i}")
                for i, column in enumerate(cell)
            )
            .with_columns(
                first_key.alias("first_key"),
                last_key.alias("last_key"),
                (pl.col("plain") & held).alias("held"),
                pl.when(npi_shaped).then(identifier).alias("npi"),
                pl.when(~npi_shaped & (identifier != ""))
                .then(identifier.str.to_uppercase())
                .alias("license"),
                pl.when(~npi_shaped & (identifier != "")).then(license_folded).alias("license_key"),
                *self._keys(),
            )
            .collect(engine=_ENGINE)
        )

    def _keys(self) -> list[pl.Expr]:
        """Each step's key (``{step}_key``): the cells its verdict depends on (see FastRows),
        joined."""
        cell = [pl.col(f"field_{index}") for index in range(self.width)]
        action, activity, state, cme, board = cell[0], cell[1], cell[6], cell[8], cell[9]
        board_id, board_credits, pairs = cell[10], cell[11], cell[12:]

        def raw_cell(name: str) -> pl.Expr:
            return pl.when(pl.col("plain")).then(pl.col(name)).otherwise(pl.lit(""))

        def joined(*parts: pl.Expr) -> pl.Expr:
            return pl.concat_str(*parts, separator=_SEPARATOR)

        def flag(expression: pl.Expr) -> pl.Expr:
            return pl.when(expression).then(pl.lit("1")).otherwise(pl.lit(""))

        keys = {
            "action": action,
            "activity": activity,
            "completion": joined(raw_cell("completion_cell"), activity, action),
            "birthday": raw_cell("birthday_cell"),
            "state": joined(state, action, flag(cme != "")),
            "cme": joined(cme, activity, action),
            "board": joined(board, flag(board_id != ""), board_credits, activity, action, *pairs),
            "no_credit": joined(action, flag(cme == ""), flag(board == "")),
        }
        return [keys[step].alias(f"{step}_key") for step in _STEPS]

    def _judge_batch(self, first_number: int, lines: pl.Series, flags: LineFlags) -> JudgedBatch:
        """Judge a batch of lines (``flags``: what their text may hold)."""
        frame = self._columns(lines.alias("line"), flags)
        tables = {step: self._verdicts_for(step) for step in _STEPS}
        # Each step's distinct keys (one plan for all), each asked once; a row's verdict id is
        # its key's place among them (an Enum of the keys: one lookup, not a join), gathered.
        distinct_keys = frame.select(
            pl.col(f"{step}_key").unique().implode() for step in _STEPS
        ).row(0)
        places = {}
        for step, distinct in zip(_STEPS, distinct_keys, strict=True):
            known = tables[step].ids
            step_ids = [
                verdict_id if (verdict_id := known.get(key)) is not None else self._add(step, key)
                for key in distinct
            ]
            places[step] = (
                pl.Series(step_ids, dtype=pl.UInt32),
                pl.Enum(pl.Series(distinct, dtype=pl.String)),
            )
        # The rows' verdict ids, what the rules across rows read of them and whether a row has
        # an error: one lazy plan, collected once. (Common subexpressions are not sought: with
        # series literals, polars 2.1 once read one literal's column as another's.)
        verdict = {
            step: pl.lit(step_ids).gather(pl.col(f"{step}_key").cast(enum).to_physical())
            for step, (step_ids, enum) in places.items()
        }
        errors = pl.Series(self._template_errors, dtype=pl.Boolean)
        rows = (
            frame.lazy()
            .select(
                "plain", "blank", "line", "field_3", "field_4", "npi", "license", "license_key",
                "field_10", "first_key", "last_key", "held",
                pl.int_range(first_number, first_number + frame.height, dtype=pl.Int64)
                .alias("number"),
                *(verdict[step].alias(f"{step}_verdict") for step in _STEPS),
            )
            .with_columns(
                *(
                    pl.lit(tables[step].columns()[name]).gather(pl.col(f"{step}_verdict"))
                    .alias(name)
                    for step, (names, _columns_of) in _COLUMNS.items()
                    for name in names
                ),
                *(
                    pl.lit(tables[step].columns()["template"]).gather(pl.col(f"{step}_verdict"))
                    .alias(f"{step}_template")
                    for step in _STEPS
                ),
            )
            .with_columns(
                pl.any_horizontal(
                    pl.lit(errors).gather(pl.col(f"{step}_template")) for step in _STEPS
                ).alias("has_error")
            )
            .collect(engine=_ENGINE, optimizations=pl.QueryOptFlags(comm_subexpr_elim=False))
        )  # fmt: skip
        # The cells and the step keys are not held while the rows are judged across rows.
        del frame
        batch = JudgedBatch(
            first_number, tables, self._templates, self._stored_templates(), self._finding_texts
        )
        self._across_rows(batch, rows)
        return batch

    def _stored_templates(self) -> pl.DataFrame:
        """The findings of every template so far as stored: (template id, order, fields)."""
        known = self._template_findings
        done = known["key"].max() if known.height else 0
        added: dict[str, list[int]] = {name: [] for name in _FINDING_FRAME}
        for template_id in range(done + 1, len(self._templates)):
            for order, finding in enumerate(self._templates[template_id]):
                _add_finding(added, self._finding_texts, template_id, order, finding)
        if added["key"]:
            known = self._template_findings = pl.concat(
                [known, pl.DataFrame(added, schema=_FINDING_FRAME)]
            ).rechunk()
        return known

    def _across_rows(self, batch: JudgedBatch, rows: pl.DataFrame) -> None:
        """What each row's acceptance and findings owe to the register and to other rows.

        The register is asked first, in Python, for the few rows it may hold. Then a row is
        left to polars when it shares none of its keys (its record, its completion for a
        one-completion board, its ABS day) with another row of the batch, an earlier row or a
        record held, is an Add, and has no ABS day over the limit on its own: it finds nothing
        across rows, and its keys are remembered as columns. Every other row is judged in row
        order by RowJudge's own methods, with its keys' values looked up beforehand; so is
        every row of a batch that has a row judged whole (its keys are known only once it is
        judged), and of a file whose held records can only be asked one at a time."""
        judge = self.judge
        keyed = (
            pl.col("plain")
            & pl.col("birthday_ok")
            & pl.col("activity_ok")
            & pl.col("completion_text").is_not_null()
            & pl.col("board_ok")
            & (pl.col("action_code") != _NO_ACTION)
        )
        abs_day = (
            pl.col("plain")
            & (pl.col("action_code") == _ADD)
            & (pl.col("board") == "ABS").fill_null(value=False)
            & pl.col("quarters").is_not_null()
        )
        # The identifiers as learner_identity() joins them: NPI, or state:license (dashes
        # dropped), then board#ID when a board is given (a part is null when it is missing).
        license_part = pl.concat_str(
            pl.col("state_code").fill_null(""), pl.lit(":"), pl.col("license_key")
        )
        board_part = pl.concat_str(
            "board", pl.lit("#"), pl.when(pl.col("field_10") != "").then("field_10")
        )
        identity = pl.concat_str(
            pl.coalesce("npi", license_part), board_part, separator=" ", ignore_nulls=True
        )
        rows = rows.with_columns(identity.alias("identity")).with_columns(
            pl.concat_str(
                "first_key", "last_key", "birthday_text", "identity", separator=_SEPARATOR
            ).alias("learner"),
            keyed.alias("keyed"),
            (
                keyed
                & pl.col("board").is_in(sorted(rules.ONE_COMPLETION_BOARDS)).fill_null(value=False)
            ).alias("one_completion"),
            abs_day.alias("abs_day"),
            (abs_day & pl.col("birthday_ok") & pl.col("completion_text").is_not_null()).alias(
                "day_keyed"
            ),
        )
        # The keys' SHA-256 taken in polars, a column at a time (null where a row has none).
        rows = rows.with_columns(
            _hex_digest(pl.when("keyed").then(
                pl.concat_str(
                    "learner", "activity_id", "completion_text",
                    pl.col("board").fill_null(""), separator=_SEPARATOR,
                )
            )).alias("record_hex"),
            _seeded_key64(pl.when("one_completion").then(
                pl.concat_str("board", "learner", "activity_id", separator=_SEPARATOR)
            ), self._seed).alias("completion_key"),
            _seeded_key64(pl.when("day_keyed").then(
                pl.concat_str("learner", "completion_text", separator=_SEPARATOR)
            ), self._seed).alias("day_key"),
        ).with_columns(_hex_key64(pl.col("record_hex")).alias("record_key"))  # fmt: skip
        indexes = (
            ("record_key", "keyed", judge.rows_by_key),
            ("completion_key", "one_completion", judge.completions),
            ("day_key", "day_keyed", judge.abs_quarters),
        )
        rows = rows.with_columns(
            self._earlier(rows, key, where, index.runs).alias(f"{key}_earlier")
            for key, where, index in indexes
        )
        rows = self._identities(batch, rows)
        whole = rows.select((~pl.col("plain") & ~pl.col("blank")).any()).item()
        if self._held is None or whole:
            apart = pl.col("plain")
        else:
            apart = pl.col("plain") & self._apart(rows, *self._held)
        rows = rows.with_columns(
            # A row the columns cannot say (null) is judged apart.
            apart.fill_null(value=True).alias("apart"),
            (pl.col("plain") & ~pl.col("has_error")).alias("accepted"),
        )
        # What the rows left to polars leave for later rows.
        together = ~pl.col("apart")
        left = {
            "record_key": _picked(
                rows, together & pl.col("keyed"), pl.col("record_key").alias("key"),
                (pl.col("number") * 4 + pl.col("accepted").cast(pl.Int64) * ACCEPTED)
                .alias("value"),
            ),
            "completion_key": _picked(
                rows, together & pl.col("one_completion"), pl.col("completion_key").alias("key"),
                (pl.col("number") * 2).alias("value"),
            ),
            "day_key": _picked(
                rows, together & pl.col("day_keyed") & pl.col("accepted"),
                pl.col("day_key").alias("key"), pl.col("quarters").alias("value"),
            ),
        }  # fmt: skip
        self.batch_rows += rows["plain"].sum()
        rows = self._rows_apart(batch, rows, indexes)
        for key, _where, index in indexes:
            index.flush(left[key])
        batch.rows = rows.select(
            "number", "kind", "accepted", *(f"{step}_verdict" for step in _STEPS),
            pl.col("field_3").alias("first_name"), pl.col("field_4").alias("last_name"),
            "npi", "license", pl.col("field_10").alias("board_id"), "learner", "record_hex",
            # What a record takes of its verdicts that columns hold, and the steps' findings.
            "activity_id", "birth_month", "birth_day", "board",
            *(f"{step}_template" for step in _STEPS),
            pl.coalesce("npi", "license").alias("license_or_npi"),
            # An accepted row's learner key as stored.
            _hex_digest(pl.when(pl.col("accepted") & (pl.col("kind") == PLAIN)).then("learner"))
            .alias("learner_hex"),
        )  # fmt: skip

    @staticmethod
    def _apart(rows: pl.DataFrame, record_keys: pl.Series, completion_keys: pl.Series) -> pl.Expr:
        """Which plain rows share a key with another row or a held record, or are not Adds, or
        have an ABS day over the limit on their own."""
        held_completion: pl.Expr = pl.lit(value=False)
        if len(completion_keys):
            # As HeldRecords keeps them: the learner's digest and the activity, digested.
            learner_hex = _hex_digest(pl.when("one_completion").then("learner"))
            held_completion = _hex_key64(
                _hex_digest(pl.concat_str(learner_hex, "activity_id", separator=_SEPARATOR))
            ).is_in(completion_keys.implode())
        return (
            (pl.col("keyed") & (
                (pl.col("action_code") != _ADD)
                | pl.col("record_key_earlier").is_not_null()
                | pl.col("record_key").is_duplicated()
                | pl.col("record_key").is_in(record_keys.implode())
            ))
            | (pl.col("one_completion") & (
                pl.col("completion_key_earlier").is_not_null()
                | pl.col("completion_key").is_duplicated()
                | held_completion
            ))
            | (pl.col("abs_day") & (
                ~pl.col("day_keyed")
                | pl.col("day_key_earlier").is_not_null()
                | pl.col("day_key").is_duplicated()
                | (pl.col("quarters") > _QUARTERS_A_DAY)
            ))
        )  # fmt: skip

    @staticmethod
    def _earlier(rows: pl.DataFrame, key: str, where: str, runs: KeyRuns) -> pl.Series:
        """What earlier batches remember of each row's key (null: nothing, or no key)."""
        nothing = pl.repeat(None, rows.height, dtype=pl.UInt32, eager=True)
        mask = rows[where]
        if runs.empty or not mask.any():
            return nothing
        return nothing.scatter(mask.arg_true(), runs.lookup(rows[key].filter(mask)))

    def _identities(self, batch: JudgedBatch, rows: pl.DataFrame) -> pl.DataFrame:
        """The register's findings for the rows whose identifiers or swapped names it holds
        (RowJudge's ``_identity``: few rows, asked before the rules across rows as RowJudge
        asks them); returns the rows with their errors."""
        named = _picked(
            rows,
            pl.col("plain") & pl.col("held") & pl.col("birthday_ok")
            & (pl.col("action_code") != _DELETE),
            "number", "first_key", "last_key", "birth_month", "birth_day", "state_verdict",
            "license", "npi", "board_verdict", "field_10", "board",
            # Names and birthday, as the register compares them.
            pl.concat_str(
                "first_key", "last_key", "birth_month", "birth_day", separator=_SEPARATOR
            ).alias("person"),
        )  # fmt: skip
        if named.height:
            # Asked of the few rows held, not of the batch.
            named = named.filter(self._may_name(batch)).drop("board", "person")
        if not named.height:
            return rows
        identity = self.judge._identity
        states = batch.tables["state"].values
        boards = batch.tables["board"].values
        extras = batch.extras
        first = batch.first_number
        errors: list[int] = []
        for (number, first_key, last_key, birth_month, birth_day, state_id, license_number, npi,
             board_id_id, board_id) in zip(*_lists(named), strict=True):  # fmt: skip
            board, board_id_kept, _credits, _awards, _board_ok = boards[board_id_id]
            found: list[Finding] = []
            identity(
                number,
                # The register compares names and birthday only: no identity is needed.
                LearnerKey(first_key, last_key, birth_month, birth_day, ""),
                (states[state_id], license_number, npi),
                board,
                board_id if board_id_kept else None,
                found.append,
            )
            if found:
                extras[number] = found
                if any(finding.severity == rules.ERROR for finding in found):
                    errors.append(number - first)
        if not errors:
            return rows
        return rows.with_columns(rows["has_error"].scatter(errors, True))

    def _may_name(self, batch: JudgedBatch) -> pl.Expr:
        """Whether the register may have findings for a row (RowJudge's ``_identity``): it holds
        an identifier of the row for someone else, or the learner's names swapped and not as
        written. The others (the register holds the learner under each identifier it knows:
        most rows it holds at all) find nothing there, and are not asked."""
        register = self._register
        states = pl.Series(batch.tables["state"].values, dtype=pl.String)
        boards = batch.tables["board"].values
        kept = pl.Series([value[1] for value in boards], dtype=pl.Boolean)
        learner = pl.col("person")

        def quiet(key: pl.Expr, name: str) -> pl.Expr:
            # Nobody under the key (or no key), or the learner among those under it.
            return (
                key.is_null()
                | ~key.is_in(register[f"{name}_keys"].implode())
                | pl.concat_str(key, learner, separator=_SEPARATOR).is_in(
                    register[f"{name}_people"].implode()
                )
            )

        # The keys as RowJudge asks for them: none where a part is missing or empty.
        state = pl.lit(states).gather(pl.col("state_verdict"))
        license_number = pl.when(state != "").then(
            pl.col("license").str.replace_all("-", "", literal=True)
        )
        board = pl.col("board")
        board_id = pl.when(pl.lit(kept).gather(pl.col("board_verdict")) & (board != "")).then(
            pl.col("field_10")
        )
        swapped = pl.concat_str(
            "last_key", "first_key", "birth_month", "birth_day", separator=_SEPARATOR
        )
        learners = register["learners"].implode()
        return ~(
            quiet(pl.concat_str(state, license_number, separator=_SEPARATOR), "license")
            & quiet(pl.col("npi"), "npi")
            & quiet(
                pl.concat_str(board, pl.when(board_id != "").then(board_id), separator=_SEPARATOR),
                "board_id",
            )
            & (
                (pl.col("first_key") == pl.col("last_key"))
                | ~swapped.is_in(learners)
                | learner.is_in(learners)
            )
        )

    def _rows_apart(self, batch: JudgedBatch, rows: pl.DataFrame, indexes: tuple) -> pl.DataFrame:
        """Judge the rows left apart, and the rows judged whole, in row order with RowJudge's
        own methods; returns the rows with each one's kind and acceptance."""
        judge = self.judge
        for key, where, index in indexes:
            loaded = _picked(rows, pl.col("apart") & pl.col(where), key, f"{key}_earlier")
            index.load(loaded[key].to_list(), loaded[f"{key}_earlier"].to_list())
        picked = _picked(
            rows, pl.col("apart") | (~pl.col("plain") & ~pl.col("blank")),
            "number", "plain", "line", "has_error", "first_key", "last_key", "identity",
            *(f"{step}_verdict" for step in ("action", "activity", "completion", "birthday",
                                             "board")),
        )  # fmt: skip
        kinds = rows["plain"].cast(pl.UInt8) * PLAIN  # BLANK otherwise, until judged whole
        if picked.height == 0:
            return rows.with_columns(kinds.alias("kind"))
        repeats = judge._repeats
        abs_day = judge._abs_day
        tables = batch.tables
        actions = tables["action"].values
        activities = tables["activity"].values
        completions = tables["completion"].values
        birthdays = tables["birthday"].values
        boards = tables["board"].values
        extras = batch.extras
        first = batch.first_number
        judged_at: list[int] = []
        judged_accepted: list[bool] = []
        whole_at: list[int] = []
        for (number, plain, line, has_error, first_key, last_key, identity, action_id,
             activity_id_id,
             completion_id, birthday_id, board_id_id,
             ) in zip(*_lists(picked), strict=True):  # fmt: skip
            if not plain:
                result = self._judge_line(number, line)
                if result is not None:
                    whole_at.append(number - first)
                    extras[number] = result
                continue
            action, _is_add = actions[action_id]
            activity_id, _activity, activity_id_ok = activities[activity_id_id]
            completion = completions[completion_id]
            birth_month, birth_day, birthday_ok = birthdays[birthday_id]
            board, _board_id_kept, board_credits, _awards, board_ok = boards[board_id_id]
            # After the register's findings, if any.
            found: list[Finding] = extras.pop(number, [])
            learner = (
                LearnerKey(first_key, last_key, birth_month, birth_day, identity)
                if birthday_ok
                else None
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
            judged_at.append(number - first)
            judged_accepted.append(not has_error)
            if found:
                extras[number] = found
        accepted = rows["accepted"]
        if judged_at:
            accepted = accepted.scatter(judged_at, judged_accepted)
        if whole_at:
            kinds = kinds.scatter(whole_at, WHOLE)
        return rows.with_columns(accepted.alias("accepted"), kinds.alias("kind"))

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

    def _verdicts_for(self, step: str) -> _Verdicts:
        """The step's verdicts for the next batch: forgotten once they reach the limit (a batch
        made before keeps the ones it used)."""
        table = self._tables[step]
        if len(table.values) >= _MEMO_LIMIT:
            table = self._tables[step] = _Verdicts(step)
        return table

    def _add(self, step: str, key: str) -> int:
        """Ask the step's verdict on a key the batch path has not seen; its id."""
        value, found = getattr(self, f"_ask_{step}")(*key.split(_SEPARATOR))
        template_id = self._template_ids.get(found)
        if template_id is None:
            template_id = self._template_ids[found] = len(self._templates)
            self._templates.append(found)
            self._template_errors.append(any(finding.severity == rules.ERROR for finding in found))
        return self._tables[step].add(key, value, template_id)

    def _verdict(self, step: str, key: str) -> tuple[Any, int]:
        """(what the step reads, id of its findings for row 0), remembered."""
        table = self._tables[step]
        verdict_id = table.ids.get(key)
        if verdict_id is None:
            verdict_id = self._add(step, key)
        return table.values[verdict_id], table.templates[verdict_id]

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
    """A batch of judged rows, kept as columns (each row's kind, acceptance, verdict ids and
    their findings' template ids, and the cells a record takes) with the verdicts they point to:
    its RowResults are made only when asked for (``results``), what the worker stores is made
    straight from the columns (``stored_rows``), and ``count`` adds it to a Summary."""

    def __init__(
        self,
        first_number: int,
        tables: dict[str, _Verdicts],
        step_findings: list[tuple[Finding, ...]],
        templates: pl.DataFrame,
        finding_texts: list[list[str]],
    ) -> None:
        self.first_number = first_number
        self.tables = tables
        self.step_findings = step_findings  # by template id, for row 0 (only added to)
        self.templates = templates  # the steps' findings as stored (_FINDING_FRAME)
        self.finding_texts = finding_texts  # their texts by finding id (shared, only added to)
        # Row number -> findings from across rows and the register (plain rows), or the
        # RowResult of a row judged whole.
        self.extras: dict[int, Any] = {}
        self.rows = pl.DataFrame()

    def _verdicts(self) -> tuple[list[Any], ...]:
        """What the verdicts of the steps that records take read, by id."""
        steps = ("action", "activity", "completion", "birthday", "state", "cme", "board")
        return tuple(self.tables[step].values for step in steps)

    def results(self) -> Iterator[RowResult]:
        """The batch's RowResults, in row order."""
        extras = self.extras
        step_findings = self.step_findings
        # A row's findings for row 0: its steps' templates' put together, once a combination.
        combined: dict[tuple[int, ...], tuple[Finding, ...]] = {}
        actions, activities, completions, birthdays, states, cmes, boards = self._verdicts()
        for (number, kind, accepted, action_id, activity_id, completion_id, birthday_id,
             state_id, cme_id, board_id_id, first_name, last_name, npi, license_number,
             board_id, *template_ids,
             ) in self.rows.select(
                 "number", "kind", "accepted",
                 *(f"{step}_verdict" for step in _STEPS if step != "no_credit"),
                 "first_name", "last_name", "npi", "license", "board_id",
                 *(f"{step}_template" for step in _STEPS),
             ).iter_rows():  # fmt: skip
            if kind != PLAIN:
                if kind == WHOLE:
                    yield extras[number]
                continue
            key = tuple(template_ids)
            templates = combined.get(key)
            if templates is None:
                templates = combined[key] = tuple(
                    finding for template_id in key for finding in step_findings[template_id]
                )
            findings = stamped(templates, number) if templates else []
            extra = extras.get(number)
            if extra is not None:
                findings += extra
            action = actions[action_id][0]
            if not accepted:
                yield RowResult(number, action, tuple(findings), None, False)
                continue
            birth_month, birth_day, _ok = birthdays[birthday_id]
            board, board_id_kept, board_credits, awards, _board_ok = boards[board_id_id]
            record = record_of(
                activities[activity_id][0],
                completions[completion_id],
                first_name,
                last_name,
                birth_month,
                birth_day,
                states[state_id],
                npi or license_number,
                board,
                board_id if board_id_kept else None,
                cmes[cme_id],
                board_credits,
                awards,
            )
            yield RowResult(number, action, tuple(findings), record, True)

    @property
    def judged(self) -> int:
        """How many data rows the batch judged (its blank lines are none)."""
        return self.rows.select((pl.col("kind") != BLANK).sum()).item()

    def stored_rows(self, rows_before: int, every: int) -> Iterator[Stored]:
        """What the worker stores of the batch (``judge.stored``), made from the columns and
        verdicts without a RowResult, in row order and cut where the worker's parts end (one
        after every ``every`` data rows, ``rows_before`` of them judged before the batch):
        (the data row the findings and changes end at, from the file's first; the findings;
        the changes, as runs of one kind)."""
        rows = self.rows.with_columns(
            ((pl.col("kind") != BLANK).cum_sum().cast(pl.Int64) + rows_before).alias("place")
        )
        texts = [list(values) for values in self.finding_texts]  # with the batch's own
        findings = self._stored_findings(rows, texts)
        finding_parts = _part_ends(findings["place"], every)
        change_parts = self._stored_changes(rows, every)
        at = 0
        for part in sorted(finding_parts.keys() | change_parts.keys()):
            count, last = finding_parts.get(part, (0, 0))
            # Made a part at a time: the rows share each text, the batch's are never all made.
            taken = findings.slice(at, count)
            ids = taken["finding"].to_list()
            part_findings = Columns(FINDING_FIELDS, [
                [False] * count, taken["row"].to_list(),
                *(_gathered(values, ids) for values in texts),
            ])  # fmt: skip
            at += count
            changes_last, changes = change_parts.get(part, (0, []))
            yield (
                max(last, changes_last),
                part_findings,
                [(kind, make()) for kind, make in changes],
            )

    def _stored_findings(self, rows: pl.DataFrame, texts: list[list[str]]) -> pl.DataFrame:
        """Every finding the batch stores, in row order: (place, row, finding id in
        ``texts``, to which the findings from across rows and the register are added). A
        plain row's are its steps' findings in step order, then those from across rows and
        the register; a row judged whole has its RowResult's."""
        # One lazy plan, collected once (the steps' frames, their join and the sort).
        plain = (
            rows.lazy()
            .filter(pl.col("kind") == PLAIN)
            .select("number", "place", *(f"{step}_template" for step in _STEPS))
        )
        by_step = pl.concat(
            [
                plain.select(
                    "number", "place", pl.lit(index, dtype=pl.Int64).alias("step"),
                    pl.col(f"{step}_template").cast(pl.Int64).alias("key"),
                ).filter(pl.col("key") != 0)
                for index, step in enumerate(_STEPS)
            ]
        )  # fmt: skip
        frames = [by_step.join(self.templates.lazy(), on="key").drop("key")]
        extras: dict[str, list[int]] = {name: [] for name in _FINDING_FRAME}
        for number, extra in self.extras.items():
            whole = isinstance(extra, RowResult)
            for order, finding in enumerate(extra.findings if whole else extra):
                _add_finding(extras, texts, number, order, finding)
        if extras["key"]:
            # A row judged whole has no steps' findings; the others' come after them.
            extras_frame = pl.LazyFrame(extras, schema=_FINDING_FRAME).rename({"key": "number"})
            frames.append(
                extras_frame.join(rows.lazy().select("number", "place"), on="number").with_columns(
                    pl.lit(len(_STEPS), dtype=pl.Int64).alias("step")
                )
            )
        return (
            pl.concat(frames, how="diagonal")
            # By row, step and order as one number (a row has fewer than 65,536 findings).
            .sort((pl.col("number") * 16 + pl.col("step")) * 65536 + pl.col("order"))
            .select("place", pl.col("number").alias("row"), "finding")
            .collect(engine=_ENGINE)
        )

    def _stored_changes(
        self, rows: pl.DataFrame, every: int
    ) -> dict[int, tuple[int, list[tuple[str, Callable[[], Columns]]]]]:
        """The record changes the batch stores, by part: (the place of its last change, its
        changes as runs of one kind in row order, each made when called)."""
        actions, _activities, completions, _birthdays, states, cmes, boards = self._verdicts()
        is_delete = pl.Series([action == "Delete" for action, _is_add in actions])
        plain = rows.filter((pl.col("kind") == PLAIN) & pl.col("accepted")).with_columns(
            pl.lit(is_delete).gather(pl.col("action_verdict")).alias("is_delete")
        )
        # The rows judged whole with a change, in row order: (number, place, kind, values).
        whole = []
        whole_rows = _picked(rows, pl.col("kind") == WHOLE, "number", "place")
        for number, place in whole_rows.iter_rows():
            result = self.extras[number]
            change = change_of(result.action, result.record) if result.accepted else None
            if change is not None:
                whole.append((number, place, *change))
        kept = pl.Series([value[1] for value in boards], dtype=pl.Boolean)
        # Only what a record takes, in the order _record_columns reads it.
        adds = _picked(
            plain, ~pl.col("is_delete"),
            "activity_id", "completion_verdict", "first_name", "last_name", "birth_month",
            "birth_day", "state_verdict", "license_or_npi", "board",
            pl.when(pl.lit(kept).gather(pl.col("board_verdict"))).then("board_id"),
            "cme_verdict", "board_verdict", "record_hex", "learner_hex",
        )  # fmt: skip
        deletes = plain.filter(pl.col("is_delete"))
        # One list a distinct credits by credit type (the rows share it: it is only read).
        awards_rows: dict[tuple, list[list[str]]] = {}
        by_verdict = (
            completions,
            states,
            cmes,
            [value[2] for value in boards],
            [
                awards_rows.get(value[3]) or awards_rows.setdefault(
                    value[3], credit_awards_row(value[3])
                )
                for value in boards
            ],
        )  # fmt: skip

        def run_columns(deleting: bool, start: int, count: int, from_whole: list[int]) -> Columns:
            """A run's changes, made when its part is stored: ``count`` plain rows' from
            ``start`` on among the adds or the deletes, in row order with those of the rows
            judged whole (``from_whole``: an index in ``whole``, or -1 for the next plain)."""
            lists = (
                [deletes["record_hex"].slice(start, count).to_list()]
                if deleting
                else self._record_columns(adds.slice(start, count), by_verdict)
            )
            fields = DIGEST_FIELDS if deleting else RECORD_FIELDS
            if not from_whole:
                return Columns(fields, lists)
            columns = Columns(fields)
            plain_rows = zip(*lists, strict=True)
            for index in from_whole:
                columns.append(next(plain_rows) if index < 0 else whole[index][3])
            return columns

        # Where each change comes from, in row order: (place, is a delete, index in whole or -1).
        order = pl.concat(
            [
                plain.select(
                    "number", "place", "is_delete", pl.lit(-1, dtype=pl.Int64).alias("whole")
                ),
                pl.DataFrame(
                    {
                        "number": [number for number, *_rest in whole],
                        "place": [place for _number, place, *_rest in whole],
                        "is_delete": [kind == "delete" for _n, _p, kind, _v in whole],
                        "whole": range(len(whole)),
                    },
                    schema={
                        "number": pl.Int64,
                        "place": pl.Int64,
                        "is_delete": pl.Boolean,
                        "whole": pl.Int64,
                    },
                ),
            ]
        ).sort("number")
        parts: dict[int, tuple[int, list[tuple[str, Callable[[], Columns]]]]] = {}
        taken = {False: 0, True: 0}  # rows of the plain adds and deletes taken so far
        part_of = (pl.col("place") - 1) // every
        runs = order.with_columns(part_of.alias("part")).with_columns(
            ((pl.col("part") != pl.col("part").shift()) | (pl.col("is_delete") != pl.col(
                "is_delete").shift())).fill_null(value=True).cum_sum().alias("run")
        )  # fmt: skip
        # Each run: whether it deletes, its part, its last place, how many of its rows are
        # plain, and whether a row judged whole is among them.
        counted = runs.group_by("run", maintain_order=True).agg(
            pl.col("is_delete").first(),
            pl.col("part").first(),
            pl.col("place").max().alias("last"),
            (pl.col("whole") < 0).sum().alias("count"),
            (pl.col("whole") >= 0).any().alias("mixed"),
        )
        for run, deleting, part, run_last, count, mixed in counted.iter_rows():
            from_whole = runs.filter(pl.col("run") == run)["whole"].to_list() if mixed else []
            start = taken[deleting]
            taken[deleting] = start + count
            last, changes = parts.get(part, (0, []))
            make = partial(run_columns, deleting, start, count, from_whole)
            changes.append(("delete" if deleting else "add", make))
            parts[part] = (max(last, run_last), changes)
        return parts

    @staticmethod
    def _record_columns(adds: pl.DataFrame, by_verdict: tuple[list[Any], ...]) -> list[list[Any]]:
        """The added records' values as stored (RECORD_FIELDS' order), a list a field;
        ``by_verdict``: what the completion, state, CME and board verdicts give a record."""
        completions, states, cmes, board_credits, awards = by_verdict
        # One list a column, taken in the frame's order (a column looked up by name costs more
        # than its values, in a part of a few hundred rows).
        (activity_ids, completion_ids, first_names, last_names, birth_months, birth_days,
         state_ids, licenses, boards, board_ids, cme_ids, board_verdicts, record_hexes,
         learner_hexes) = _lists(adds)  # fmt: skip
        return [
            activity_ids,
            _gathered(completions, completion_ids),
            first_names,
            last_names,
            birth_months,
            birth_days,
            _gathered(states, state_ids),
            licenses,
            boards,
            board_ids,
            _gathered(cmes, cme_ids),
            _gathered(board_credits, board_verdicts),
            _gathered(awards, board_verdicts),
            record_hexes,
            learner_hexes,
        ]

    def count(self, summary: Summary) -> None:
        """Add the batch's rows and findings to ``summary``."""
        plain = _picked(
            self.rows, pl.col("kind") == PLAIN, "accepted",
            *(f"{step}_template" for step in _STEPS),
        )  # fmt: skip
        summary.rows_read += plain.height
        accepted = plain["accepted"].sum()
        summary.accepted += accepted
        summary.rejected += plain.height - accepted
        by_code = summary.by_code
        # A row's findings are its steps' templates' findings: counted a template at a time.
        # One lazy plan, collected once.
        used = pl.concat(
            [plain.lazy().select(pl.col(f"{step}_template").cast(pl.Int64).alias("key"))
             for step in _STEPS]
        ).filter(pl.col("key") != 0)  # fmt: skip
        counted = (
            used.group_by("key").len().join(self.templates.lazy(), on="key").collect(engine=_ENGINE)
        )
        _columns, severities, codes, _messages = self.finding_texts
        for _key, times, _order, finding in counted.iter_rows():
            code, severity = codes[finding], severities[finding]
            by_code[code] += times
            if severity == rules.ERROR:
                summary.errors += times
            else:
                summary.warnings += times
        for extra in self.extras.values():
            if isinstance(extra, RowResult):
                summary.add(extra)
                continue
            for finding in extra:
                by_code[finding.code] += 1
                if finding.severity == rules.ERROR:
                    summary.errors += 1
                else:
                    summary.warnings += 1
