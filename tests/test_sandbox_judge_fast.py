"""The judge's fast path says exactly what RowJudge says, row for row, on any mixture of valid
rows and every kind of mistake the rules name; and it takes the plain rows."""

import csv
import io
from datetime import date
from decimal import Decimal
from unittest.mock import patch

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from training.sandbox import rules
from training.sandbox.judge import (
    FINDING_FIELDS,
    Activity,
    BoardRegistration,
    CompactIndex,
    FileJudgement,
    Finding,
    JudgeContext,
    LearnerKey,
    NoRecords,
    RecordKey,
    Register,
    RegisterEntry,
    RowResult,
    Summary,
    batches,
    judge_file,
    key_digest,
    learner_digest,
    learner_identity,
    learner_key,
    record_digest,
    runs,
    summarize,
)

TODAY = date(2025, 6, 10)
BOARDS = {
    "ABIM": BoardRegistration(Decimal(2), frozenset({"Medical Knowledge", "Practice Assessment"})),
    "ABP": BoardRegistration(Decimal(2), frozenset({"Lifelong Learning and Self-Assessment"})),
    "ABA": BoardRegistration(Decimal(1), frozenset({"Lifelong Learning"})),
    "ABS": BoardRegistration(Decimal(8), frozenset({"CME", "Self-Assessment"})),
}
ACTIVITIES = {
    activity.activity_id: activity
    for activity in (
        Activity("123456789", "Sepsis", date(2025, 1, 1), date(2025, 12, 31), Decimal(3), BOARDS),
        Activity("987654321", "MOC only", date(2025, 3, 1), date(2025, 5, 31), None, BOARDS),
        Activity("222222222", "Old", date(2020, 1, 1), date(2025, 12, 31), Decimal(3), BOARDS),
        Activity(
            "333333333",
            "Rehab",
            date(2025, 1, 1),
            date(2025, 12, 31),
            Decimal(3),
            {"ABPMR": BoardRegistration(Decimal(2), frozenset({"CME"}))},
        ),
    )
}
REGISTER = Register(
    [
        RegisterEntry("Ann", "Lee", 3, 15, "CA", "A-12345", "1234567893", "ABIM", "123456"),
        RegisterEntry("Maria", "Garcia", 7, 4, "OR", "MD99881", None, None, None),
        RegisterEntry("Lee", "Ann", 1, 2, None, None, None, None, None),
    ]
)


class HeldRecords:
    """Records held from an earlier upload, as the web side looks them up."""

    def __init__(self, *keys: RecordKey) -> None:
        self.keys = set(keys)

    def find(self, key: RecordKey) -> bool:
        return key in self.keys

    def has_completion(self, learner: LearnerKey, activity_id: str) -> bool:
        return any(k.learner == learner and k.activity_id == activity_id for k in self.keys)


class HeldKeys(HeldRecords):
    """The same records, also giving every key at once as the web side's HeldRecords does
    (so that batches look them up as a column)."""

    def held_keys(self) -> tuple[list[int], list[int]]:
        def key64(digest: str) -> int:
            return int(digest[:16], 16)

        return (
            [key64(record_digest(key)) for key in self.keys],
            [
                key64(key_digest((learner_digest(key.learner), key.activity_id)))
                for key in self.keys
            ],
        )


HELD = HeldRecords(
    RecordKey(
        learner_key("Ann", "Lee", 3, 15, learner_identity("CA", "A-12345", "ABIM", "777")),
        "123456789", date(2025, 6, 1), "ABIM",
    ),
    RecordKey(
        learner_key("Mary Ann", "Day", 1, 2, learner_identity("NY", "B-555", None, None)),
        "987654321", date(2025, 5, 2), "",
    ),
    RecordKey(
        learner_key("Bo", "Day", 1, 2, learner_identity("NY", "B-555", "ABP", "1")),
        "123456789", date(2025, 6, 2), "ABP",
    ),
)  # fmt: skip

# Each column's values: (plain ones, the rules' mistakes and what RowJudge alone reads).
VALUES = {
    rules.RECORD_ACTION: (["Add", "Delete", "add", " Add "], ["Remove", "", "Add\u200b", "Total"]),
    rules.ACTIVITY_ID: (["123456789", "987654321", "222222222", "333333333"],
                        ["111111111", "12345", "", "12345678a"]),
    rules.COMPLETION_DATE: (["06/01/2025", "6/2/2025", "2025-06-01", "03/15/2025"],
                            ["01/02/2024", "12/01/2025", "01/01/2019", "2025-13-01",
                             "20.11.2024", "2025-06-01 00:00:00", "06/01/2025 10:30", "45800",
                             "", "June 1", "06/01/2025\n"]),
    rules.FIRST_NAME: (["Ann", "Bo", "Lee", "Mary Ann", "Ann  Marie", " Ann ", "O'Neil"],
                       ["", "A" * 51, "Renée", "=Ann", "Ann\u200b", "An\nn", "Ｈnn", "-Jo",
                        "Nguy?n", "?"]),
    rules.LAST_NAME: (["Lee", "Day", "Ann", "Garcia", "O'Brien", "van Dyk"],
                      ["", "B" * 51, "+Lee", "Lee\t", "Ñu", "Van?"]),
    rules.DATE_OF_BIRTH: (["03/15", "01/02", "1/2", "07/04"],
                          ["03/15/1970", "15.03.", "02/30", "13/25", "Mar-15", "15-Mar", "",
                           "3/15/2025", "unknown", "25000"]),
    rules.LICENSING_STATE: (["CA", "NY", "ny", "Oregon", "OR", "TX", ""], ["XX", "Caifornia"]),
    rules.LICENSE_OR_NPI: (["A-12345", "B-555", "MD99881", "1234567893", "", "a-12345"],
                           ["1234567890", "-12", "L" * 21, "ab cd", "=1+1", "1.23457E+09",
                            "A 900004"]),
    rules.CME_CREDITS: (["1.5", "1", "0.25", "", "2.50"], ["1.3", "0", "5", "abc", "1,5"]),
    rules.BOARD: (["ABIM", "abp", "ABS", "ABA", ""], ["ABPMR", "XYZ"]),
    rules.BOARD_ID: (["123456", "777", ""], ["12a", "4.56789E+11"]),
    rules.BOARD_CREDITS: (["2", "1", "4", "8", ""], ["1.5", "3", "x"]),
    rules.CREDIT_TYPE: (["Medical Knowledge", "Lifelong Learning and Self-Assessment", "CME",
                         "Lifelong Learning", ""], ["medical knowledge", "Other"]),
    rules.CREDIT_TYPE_CREDITS: (["2", "1", "4", ""], ["0.3"]),
}  # fmt: skip
EXTRA_PAIR = ["", "Practice Assessment", "Self-Assessment"], ["", "1", "2"]


def cell(plain: list[str], mistakes: list[str]) -> st.SearchStrategy[str]:
    """Mostly a plain value: each plain value is drawn three times as often as a mistake."""
    return st.sampled_from(plain * 3 + mistakes)


row_values = st.fixed_dictionaries({column: cell(*values) for column, values in VALUES.items()})


def csv_file(rows: list[list[str]], header: tuple[str, ...]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def both_ways(data: bytes, context: JudgeContext):
    """The results and summaries of the fast path and of RowJudge alone, and the fast rows."""
    fast = judge_file(io.BytesIO(data), "learners.csv", context)
    fast_results = list(fast)
    slow_results = list(judge_file(io.BytesIO(data), "learners.csv", context, fast_path=False))
    return fast_results, slow_results, fast.fast_rows


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pool=st.lists(row_values, min_size=1, max_size=12),
    picks=st.lists(
        st.tuples(st.integers(0, 11), st.sampled_from(["", "Add", "Delete"]), st.booleans()),
        min_size=1,
        max_size=40,
    ),
    extra_pair=st.tuples(st.sampled_from(EXTRA_PAIR[0]), st.sampled_from(EXTRA_PAIR[1])),
    held=st.booleans(),
)
def test_fast_path_gives_every_row_the_findings_and_record_row_judge_gives(
    pool, picks, extra_pair, held
):
    """Rows drawn from a small pool, so that duplicates, Deletes of earlier rows, second
    completions and ABS days over the limit come up, with the action changed or a row cut
    short; findings, records and totals are the same both ways."""
    header = rules.HEADERS[:16]
    rows = []
    for index, action, cut in picks:
        values = pool[index % len(pool)]
        cells = [values[column] for column in rules.REQUIRED_HEADERS] + list(extra_pair)
        if action:
            cells[0] = action
        if cut:
            cells = cells[:9]
        rows.append(cells)
    context = JudgeContext(ACTIVITIES, REGISTER, HELD if held else NoRecords(), TODAY)
    fast, slow, _fast_rows = both_ways(csv_file(rows, header), context)
    assert fast == slow
    assert summarize(fast) == summarize(slow)


def test_plain_rows_take_the_fast_path_and_the_others_row_judge():
    """Valid rows, rows with warnings and rows with the common cell mistakes are plain; a name
    with a letter outside ASCII is judged by RowJudge alone."""
    valid = ["Add", "123456789", "06/01/2025", "Ann", "Lee", "03/15", "CA", "B-555", "1.5",
             "ABIM", "777", "2", "Medical Knowledge", "2"]  # fmt: skip
    rows = [
        valid,
        [*valid[:2], "01/02/2025", *valid[3:]],  # late: a warning
        [*valid[:8], "1.3", *valid[9:]],  # not a quarter: an error
        [*valid[:3], "Renée", *valid[4:]],
    ]
    context = JudgeContext(ACTIVITIES, REGISTER, NoRecords(), TODAY)
    fast, slow, fast_rows = both_ways(csv_file(rows, rules.REQUIRED_HEADERS), context)
    assert fast == slow
    assert fast_rows == 3
    assert [result.accepted for result in fast] == [True, True, False, True]


# Valid rows of a few learners, so that rules across rows come up often.
LEARNERS = [
    ("Ann", "Lee", "03/15", "CA", "A-12345"),
    ("Mary Ann", "Day", "01/02", "NY", "B-555"),
    ("Mary  Ann", "Day", "01/02", "NY", ""),
    ("Ann", "Lee", "01/02", "OR", "1234567893"),
    ("Lee", "Ann", "01/02", "TX", "MD99881"),
    ("Ann", "Lee", "01/02", "CA", "Z-1"),  # swapped names, nothing else the register holds
    # The same names and birthday under other identifiers: other learners, or the same ones
    # written another way (a license in lower case, without its dash).
    ("Ann", "Lee", "03/15", "NY", "Q-999"),
    ("Ann", "Lee", "03/15", "CA", "a12345"),
    ("Mary Ann", "Day", "01/02", "CA", "B-555"),
    ("Mary Ann", "Day", "01/02", "NY", "1234567893"),
]
BOARD_CELLS = [
    ("ABIM", "777", "2", "Medical Knowledge", "2"),
    ("ABIM", "123456", "2", "Practice Assessment", "1"),
    ("ABP", "1", "2", "Lifelong Learning and Self-Assessment", "2"),
    ("ABS", "5", "8", "CME", "8"),
    ("ABS", "5", "4", "Self-Assessment", "4"),
    ("ABA", "9", "1", "Lifelong Learning", "1"),
    ("", "", "", "", ""),
    # Other board IDs, or none, for the same board: other learners to the rules across rows.
    ("ABIM", "", "2", "Medical Knowledge", "2"),
    ("ABP", "2", "2", "Lifelong Learning and Self-Assessment", "2"),
    ("ABS", "6", "4", "Self-Assessment", "4"),
]
MISTAKES = [(column, value) for column, (_plain, wrong) in VALUES.items() for value in wrong]

valid_row = st.builds(
    lambda action, activity, completion, learner, cme, board: [
        action, activity, completion, *learner[:3], *learner[3:], cme, *board
    ],
    st.sampled_from(["Add", "Add", "Add", "Delete"]),
    st.sampled_from(["123456789", "987654321", "222222222"]),
    st.sampled_from(["04/01/2025", "05/02/2025", "2025-05-02"]),
    st.sampled_from(LEARNERS),
    st.sampled_from(["1.5", "1.5", ""]),
    st.sampled_from(BOARD_CELLS),
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(valid_row, st.none() | st.none() | st.none() | st.sampled_from(MISTAKES)),
        min_size=1,
        max_size=30,
    ),
    held=st.booleans(),
)
def test_fast_path_judges_rows_across_the_file_as_row_judge_does(rows, held):
    """Valid rows of a few learners, now and then with one mistake: duplicates, Deletes, one
    completion per board, the ABS day, the register and held records come out the same."""
    cells = []
    for values, mistake in rows:
        if mistake is not None:
            column, value = mistake
            values = list(values)
            values[rules.REQUIRED_HEADERS.index(column)] = value
        cells.append(values)
    context = JudgeContext(ACTIVITIES, REGISTER, HELD if held else NoRecords(), TODAY)
    fast, slow, _fast_rows = both_ways(csv_file(cells, rules.REQUIRED_HEADERS), context)
    assert fast == slow
    assert summarize(fast) == summarize(slow)


def test_fast_path_judges_each_rule_across_rows_as_row_judge_does():
    """One file with each rule across rows: a duplicate, a Delete and the Add that changes the
    record, a Delete of nothing held, a second completion for ABP, an ABS day over the limit, a
    record held from an earlier upload, and a blank state with and without CME credits."""
    ann = ["Ann", "Lee", "03/15", "CA", "A-12345"]
    bo = ["Bo", "Day", "01/02", "NY", "B-555"]
    abs_day = ["1.5", *BOARD_CELLS[3]]
    rows = [
        ["Add", "123456789", "05/02/2025", *ann, "1.5", *BOARD_CELLS[0]],
        ["Add", "123456789", "05/02/2025", *ann, "1.5", *BOARD_CELLS[0]],
        ["Delete", "123456789", "05/02/2025", *ann, "1.5", *BOARD_CELLS[0]],
        ["Add", "123456789", "05/02/2025", *ann, "1", *BOARD_CELLS[0]],
        ["Delete", "123456789", "05/03/2025", *ann, "1.5", *BOARD_CELLS[0]],
        ["Add", "123456789", "05/02/2025", *bo, "1.5", *BOARD_CELLS[2]],
        ["Add", "123456789", "05/03/2025", *bo, "1.5", *BOARD_CELLS[2]],
        ["Add", "123456789", "05/04/2025", *ann, *abs_day],
        ["Add", "222222222", "05/04/2025", *ann, *abs_day],
        ["Add", "123456789", "06/01/2025", *ann, "1.5", *BOARD_CELLS[0]],
        ["Add", "123456789", "05/05/2025", *bo[:3], "", "", "", *BOARD_CELLS[0]],
        ["Add", "123456789", "05/05/2025", *bo[:3], "", "", "1.5", *BOARD_CELLS[0]],
    ]
    context = JudgeContext(ACTIVITIES, REGISTER, HELD, TODAY)
    fast, slow, fast_rows = both_ways(csv_file(rows, rules.REQUIRED_HEADERS), context)
    assert fast == slow
    assert fast_rows == len(rows)
    codes = {code for result in fast for code in (finding.code for finding in result.findings)}
    assert {
        "DUPLICATE_ROW",
        "DELETE_NOT_FOUND",
        "DUPLICATE_COMPLETION",
        "ABS_DAILY_LIMIT",
        "STATE_REQUIRED",
    } <= codes


def test_a_workbook_is_judged_the_same_both_ways():
    """A template workbook: text cells, numbers, a date cell and a formula without its value."""
    from datetime import datetime

    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append([rules.GUIDANCE_LINE])
    sheet.append(list(rules.TEMPLATE_HEADER_ROW[:14]))
    valid = ["Add", "123456789", "06/01/2025", "Ann", "Lee", "03/15", "CA", "B-555", 1.5,
             "ABIM", 777, 2, "Medical Knowledge", 2]  # fmt: skip
    sheet.append(valid)
    sheet.append([*valid[:2], datetime(2025, 6, 2), *valid[3:]])
    sheet.append([*valid[:4], '=PROPER("lee")', *valid[5:]])
    sheet.append([*valid[:8], "1.3", *valid[9:]])
    buffer = io.BytesIO()
    workbook.save(buffer)
    context = JudgeContext(ACTIVITIES, REGISTER, NoRecords(), TODAY)
    fast = judge_file(io.BytesIO(buffer.getvalue()), "learners.xlsx", context)
    fast_results = list(fast)
    slow = judge_file(io.BytesIO(buffer.getvalue()), "learners.xlsx", context, fast_path=False)
    assert fast_results == list(slow)
    assert [result.row for result in fast_results] == [3, 4, 5, 6]
    assert fast.fast_rows == 2  # not the date cell, nor the name left blank by a formula
    assert fast_results[2].findings[0].code == "FORMULA_NO_VALUE"


OWN_HEADER = (
    "Learner", "Course ID", "Birth Date", "State", "License #", "Date Completed", "Credits",
    "Board", "Board ID", "MOC Points", "MOC Credit Type", "Type Credits",
)  # fmt: skip
NAME_CELLS = [
    "Lee, Ann", "Ann Lee", "Day, Mary Ann", "Mary Ann Day", "Dr. Ann Lee", "Lee Jr., Ann", "Ann",
    "Lee, Renée", "Ann de la Cruz", "Lee,  Ann", "=Lee, Ann", "",
]  # fmt: skip
BIRTH_DATES = ["1975-03-15", "03/15/1975", "3/15/75", "15.03.1975", "03/15", "1975-02-30", "",
               "Mar 15"]  # fmt: skip


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(
            valid_row,
            st.sampled_from(NAME_CELLS),
            st.sampled_from(BIRTH_DATES),
            st.none() | st.none() | st.sampled_from(MISTAKES),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_fast_path_judges_a_mapped_spreadsheet_as_row_judge_does(rows):
    """A provider's own spreadsheet read through a confirmed mapping: names split from one cell
    (doubtful splits named), full birth dates made MM/DD, the Record Action fixed."""
    from training.sandbox.columns import ColumnMap

    targets = [rules.NAME_COLUMN, rules.ACTIVITY_ID, rules.BIRTH_DATE_COLUMN,
               rules.LICENSING_STATE, rules.LICENSE_OR_NPI, rules.COMPLETION_DATE,
               rules.CME_CREDITS, rules.BOARD, rules.BOARD_ID, rules.BOARD_CREDITS,
               rules.CREDIT_TYPE, rules.CREDIT_TYPE_CREDITS]  # fmt: skip
    column_map = ColumnMap(OWN_HEADER, dict(enumerate(targets)), {rules.RECORD_ACTION: "Add"})
    cells = []
    for values, name, birth_date, mistake in rows:
        values = list(values)
        if mistake is not None:
            column, value = mistake
            values[rules.REQUIRED_HEADERS.index(column)] = value
        cells.append([name, values[1], birth_date, values[6], values[7], values[2], *values[8:]])
    context = JudgeContext(ACTIVITIES, REGISTER, HELD, TODAY, column_maps=(column_map,))
    fast, slow, _fast_rows = both_ways(csv_file(cells, OWN_HEADER), context)
    assert fast == slow
    assert summarize(fast) == summarize(slow)


@given(
    st.lists(
        st.tuples(st.integers(1, 2**64 - 1) | st.integers(1, 40), st.integers(0, 2**32 - 1)),
        max_size=300,
    )
)
def test_the_compact_index_remembers_what_a_dict_would(entries):
    """Keys set, overwritten and looked up through the table's growth (small keys collide)."""
    index, expected = CompactIndex(size_bits=2), {}
    for key, value in entries:
        assert index.get(key) == expected.get(key)
        index.set(key, value)
        expected[key] = value
    assert len(index) == len(expected)
    assert all(index.get(key) == value for key, value in expected.items())
    assert index.get(2**63 + 12345) == expected.get(2**63 + 12345)


def judged_in_batches(data: bytes, context: JudgeContext, filename: str = "learners.csv"):
    """The results row by row, the summary counted batch by batch (no RowResult made), and the
    rows judged in batches; then the same file's results from RowJudge alone. What the worker
    stores of the file (its parts, made from the batches without RowResults) is checked to be
    what it stores of RowJudge's results."""
    judgement = judge_file(io.BytesIO(data), filename, context)
    results = list(judgement)
    counted = summarize(judge_file(io.BytesIO(data), filename, context))
    slow = list(judge_file(io.BytesIO(data), filename, context, fast_path=False))
    stored, stored_summary = stored_parts(judge_file(io.BytesIO(data), filename, context))
    expected = stored_parts(judge_file(io.BytesIO(data), filename, context, fast_path=False))
    assert (stored, stored_summary) == expected
    assert stored_summary == summarize(slow)
    return results, counted, judgement.batch_rows, slow


def stored_parts(judgement: FileJudgement, every: int = 7) -> tuple[list, Summary]:
    """What the worker stores of a judgement, part by part, and the totals it counts."""
    summary = Summary()
    parts = [
        (part.rows_judged, part.whole, part.findings, part.changes)
        for part in judgement.stored(summary, every)
    ]
    return parts, summary


def delimited(rows: list[list[str]], delimiter: str, line_end: str, blank_every: int) -> bytes:
    """A text file as a spreadsheet program or a script writes one: no quotes, the given line
    end, and now and then an empty line or one of delimiters only."""
    lines = [delimiter.join(rules.REQUIRED_HEADERS)]
    for index, cells in enumerate(rows, start=1):
        if blank_every and index % blank_every == 0:
            lines.append(delimiter * (index % 3))
        lines.append(delimiter.join(cells))
    return (line_end.join(lines) + line_end).encode()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(
            valid_row,
            st.none() | st.none() | st.sampled_from(MISTAKES),
            st.sampled_from(["", " ", "  "]),
            st.booleans(),
        ),
        min_size=1,
        max_size=30,
    ),
    held=st.booleans(),
    delimiter=st.sampled_from([",", "\t", ";"]),
    line_end=st.sampled_from(["\n", "\r\n"]),
    blank_every=st.integers(0, 4),
    chunk=st.sampled_from([64, 300, 1 << 20]),
    spill=st.sampled_from([1, 3, runs.SPILL_KEYS]),
)
def test_rows_judged_in_batches_get_what_row_judge_gives(
    rows, held, delimiter, line_end, blank_every, chunk, spill
):
    """Valid rows of a few learners, now and then a mistake, spaces around a cell or empty cells
    at the end; tabs, semicolons, Windows line ends and empty lines; batches as small as a row
    or two, so that rules across rows cross batches, and earlier rows' keys in files from the
    first key on: every row's findings and record, and the totals counted batch by batch, are
    RowJudge's."""
    cells = []
    for values, mistake, padding, trailing in rows:
        values = list(values)
        if mistake is not None:
            column, value = mistake
            values[rules.REQUIRED_HEADERS.index(column)] = value
        values = [
            padding + value + padding if value and delimiter not in value else value
            for value in values
        ]
        cells.append([*values, "", ""] if trailing else values)
    context = JudgeContext(ACTIVITIES, REGISTER, HELD if held else NoRecords(), TODAY)
    data = delimited(cells, delimiter, line_end, blank_every)
    with patch.object(batches, "_CHUNK", chunk), patch.object(runs, "SPILL_KEYS", spill):
        results, counted, _batch_rows, slow = judged_in_batches(data, context)
    assert results == slow
    assert counted == summarize(slow)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(valid_row, st.none() | st.none() | st.sampled_from(MISTAKES)),
        min_size=1,
        max_size=30,
    ),
    chunk=st.sampled_from([64, 300, 1 << 20]),
)
def test_rows_judged_in_batches_against_held_keys_get_what_row_judge_gives(rows, chunk):
    """Records held from an earlier upload, looked up a batch at a time by their keys (as the
    worker's HeldRecords gives them): every row's findings and record are RowJudge's."""
    cells = []
    for values, mistake in rows:
        values = list(values)
        if mistake is not None:
            column, value = mistake
            values[rules.REQUIRED_HEADERS.index(column)] = value
        cells.append(values)
    context = JudgeContext(ACTIVITIES, REGISTER, HeldKeys(*HELD.keys), TODAY)
    with patch.object(batches, "_CHUNK", chunk):
        results, counted, _batch_rows, slow = judged_in_batches(
            delimited(cells, ",", "\n", 0), context
        )
    assert results == slow
    assert counted == summarize(slow)


def test_a_file_of_one_line_rows_is_judged_in_batches_and_a_quoted_one_row_by_row():
    """Plain rows of a file without quotes are judged in batches; a row that is not plain (a
    name outside ASCII) is judged by RowJudge in its place; a file with a quoted cell is read
    by csv.reader and judged row by row, the same."""
    valid = ["Add", "123456789", "06/01/2025", "Ann", "Lee", "03/15", "CA", "B-555", "1.5",
             "ABIM", "777", "2", "Medical Knowledge", "2"]  # fmt: skip
    rows = [valid, [*valid[:8], "1.3", *valid[9:]], [*valid[:3], "Renée", *valid[4:]]]
    context = JudgeContext(ACTIVITIES, REGISTER, NoRecords(), TODAY)
    results, counted, batch_rows, slow = judged_in_batches(delimited(rows, ",", "\n", 0), context)
    assert results == slow
    assert counted == summarize(slow)
    assert batch_rows == 2
    assert [result.accepted for result in results] == [True, False, True]
    quoted = csv_file(rows, rules.REQUIRED_HEADERS).replace(b"Ann", b'"Ann"')
    results, counted, batch_rows, slow = judged_in_batches(quoted, context)
    assert results == slow
    assert batch_rows == 0


def test_a_row_with_more_cells_than_the_columns_is_judged_in_a_batch_as_row_judge_judges_it():
    """A batch whose rows all fit the columns, and batches where one row has cells past them
    (blank ones, which are nothing; one holding text, which leaves the row to RowJudge
    whole): every row's findings and record, and the totals, are RowJudge's."""
    valid = ["Add", "123456789", "06/01/2025", "Ann", "Lee", "03/15", "CA", "B-555", "1.5",
             "ABIM", "777", "2", "Medical Knowledge", "2"]  # fmt: skip
    rows = [[*valid[:3], f"Ann{n}", *valid[4:]] for n in range(40)]
    context = JudgeContext(ACTIVITIES, REGISTER, NoRecords(), TODAY)
    for extra in ([], ["", " "], ["", "", "a note"], ["x"]):
        cells = [*rows[:20], [*rows[20], *extra], *rows[21:]]
        with patch.object(batches, "_CHUNK", 1024):
            results, counted, batch_rows, slow = judged_in_batches(
                delimited(cells, ",", "\r\n", 0), context
            )
        assert results == slow
        assert counted == summarize(slow)
        assert batch_rows == len(rows) - (1 if "".join(extra).strip() else 0)


def test_the_register_names_in_batches_whom_row_judge_names_and_leaves_its_own_learners_alone():
    """Learners the register holds as written find nothing; a license, NPI or board ID it
    holds for someone else, and names it holds only the other way round, are named in
    batches as RowJudge names them (most rows it holds are never asked of it one by one)."""
    valid = ["Add", "123456789", "06/01/2025", "Ann", "Lee", "03/15", "CA", "A-12345", "1.5",
             "ABIM", "123456", "2", "Medical Knowledge", "2"]  # fmt: skip

    positions = {"first": 3, "birthday": 5, "state": 6, "identifier": 7, "board_id": 10}

    def row(**changes: str) -> list[str]:
        cells = list(valid)
        for column, value in changes.items():
            cells[positions[column]] = value
        return cells

    rows = [
        row(),  # Ann Lee as the register holds her
        row(first="Bob"),  # her license and board ID, someone else's name
        row(first="Bob", identifier="a12345", board_id=""),  # her license, written otherwise
        row(identifier="1234567893", board_id=""),  # Ann Lee by her NPI
        row(first="Zed", identifier="1234567893", board_id=""),  # her NPI, someone else
        row(first="Bob", identifier="", board_id="123456"),  # her board ID, someone else
        row(birthday="01/02", identifier="", board_id=""),  # Lee Ann, names swapped
        row(first="Bob", state="OR", identifier="A-12345", board_id=""),  # not in that state
    ]
    context = JudgeContext(ACTIVITIES, REGISTER, NoRecords(), TODAY)
    results, counted, batch_rows, slow = judged_in_batches(delimited(rows, ",", "\n", 0), context)
    assert results == slow
    assert counted == summarize(slow)
    assert batch_rows == len(rows)
    named = [
        [
            finding.code
            for finding in result.findings
            if finding.code in {"LEARNER_NOT_MATCHED", "NAME_LOOKS_SWAPPED"}
        ]
        for result in results
    ]
    assert named == [
        [],
        ["LEARNER_NOT_MATCHED"],
        ["LEARNER_NOT_MATCHED"],
        [],
        ["LEARNER_NOT_MATCHED"],
        ["LEARNER_NOT_MATCHED"],
        ["NAME_LOOKS_SWAPPED"],
        [],
    ]


def test_a_batch_of_generated_rows_is_counted_as_its_rows_would_be():
    """Thousands of rows in several batches, errors and warnings among them: the totals counted
    batch by batch are those counted row by row."""
    learners = [LEARNERS[0], LEARNERS[1], LEARNERS[3]]
    rows = []
    for n in range(3000):
        first, last, birthday, state, identifier = learners[n % 3]
        rows.append(
            ["Add", "123456789", f"{n % 5 + 1:02d}/{n % 27 + 1:02d}/2025", f"{first}{n}", last,
             birthday, state, identifier, "1.3" if n % 7 == 0 else "1.5", *BOARD_CELLS[n % 7]]
        )  # fmt: skip
    context = JudgeContext(ACTIVITIES, REGISTER, HELD, TODAY)
    # Earlier batches' keys past 500 go to files, as a large file's do past SPILL_KEYS.
    with patch.object(batches, "_CHUNK", 32 * 1024), patch.object(runs, "SPILL_KEYS", 500):
        results, counted, batch_rows, slow = judged_in_batches(
            delimited(rows, ",", "\r\n", 0), context
        )
    assert results == slow
    assert counted == summarize(slow)
    assert batch_rows == 3000
    assert counted.rejected and counted.warnings


def test_a_batch_stores_its_findings_as_columns_that_share_each_text():
    """What the worker stores of a batch is a list a field, not a dict a finding: rows with the
    same mistake hold one message, column and code between them, however many rows there are."""
    valid = ["Add", "123456789", "06/01/2025", "Ann", "Lee", "03/15", "CA", "B-555", "1.3",
             "ABIM", "777", "2", "Medical Knowledge", "2"]  # fmt: skip
    rows = [[*valid[:3], f"Ann{n}", *valid[4:]] for n in range(3)]
    context = JudgeContext(ACTIVITIES, REGISTER, NoRecords(), TODAY)
    (part,) = judge_file(io.BytesIO(delimited(rows, ",", "\n", 0)), "learners.csv", context).stored(
        Summary(), 500
    )
    findings = part.findings
    assert findings.fields == FINDING_FIELDS
    assert findings.lists[1] == [2, 3, 4]
    assert [findings.lists[4][0]] * 3 == findings.lists[4]
    columns, messages = findings.lists[2], findings.lists[5]
    assert columns[1] is columns[0] and messages[1] is messages[0] and messages[2] is messages[0]


# Two physicians with the same names and birthday, told apart by their licenses (as an
# outside tester wrote them), and the same physician written twice.
JOHN_SMITH = ["Add", "123456789", "06/01/2025", "John", "Smith", "01/01"]
TWO_JOHN_SMITHS = [[*JOHN_SMITH, "CA", "ZZ111", "1", *[""] * 5],
                   [*JOHN_SMITH, "OR", "QQ999", "1", *[""] * 5]]  # fmt: skip


def codes_of(results) -> list[list[str]]:
    return [[finding.code for finding in result.findings] for result in results]


def test_two_physicians_with_one_name_and_birthday_are_both_accepted_on_every_path():
    """Same names, birthday, activity and completion date, other licenses: two learners, not
    a duplicate row, whether the file is judged in batches, by the fast path or by RowJudge."""
    context = JudgeContext(ACTIVITIES, REGISTER, NoRecords(), TODAY)
    results, _counted, batch_rows, slow = judged_in_batches(
        delimited(TWO_JOHN_SMITHS, ",", "\n", 0), context
    )
    assert batch_rows == 2
    fast, by_row, fast_rows = both_ways(csv_file(TWO_JOHN_SMITHS, rules.REQUIRED_HEADERS), context)
    assert fast_rows == 2
    for judged in (results, slow, fast, by_row):
        assert [result.accepted for result in judged] == [True, True]
        assert codes_of(judged) == [[], []]


def test_the_same_physician_twice_is_still_a_duplicate_row_on_every_path():
    """The same license written another way (lower case, a dash) is the same learner."""
    rows = [TWO_JOHN_SMITHS[0], [*JOHN_SMITH, "CA", "zz-111", "1", *[""] * 5]]
    context = JudgeContext(ACTIVITIES, REGISTER, NoRecords(), TODAY)
    results, _counted, _batch_rows, slow = judged_in_batches(delimited(rows, ",", "\n", 0), context)
    fast, by_row, _fast_rows = both_ways(csv_file(rows, rules.REQUIRED_HEADERS), context)
    for judged in (results, slow, fast, by_row):
        assert codes_of(judged) == [[], ["DUPLICATE_ROW"]]


def test_one_completion_and_the_abs_day_count_each_physician_apart():
    """ABP's one completion and the ABS daily limit are per learner: a second physician with
    the same names and birthday (another board ID) has a completion and a day of their own."""
    abp = ["1", "ABP", "1", "2", "Lifelong Learning and Self-Assessment", "2"]
    abs_day = ["1", "ABS", "5", "8", "CME", "8"]
    rows = [
        [*JOHN_SMITH[:2], "05/20/2025", *JOHN_SMITH[3:], "CA", "ZZ111", *abp],
        [*JOHN_SMITH[:2], "05/21/2025", *JOHN_SMITH[3:], "CA", "QQ999", *abp[:2], "2", *abp[3:]],
        [*JOHN_SMITH[:2], "05/22/2025", *JOHN_SMITH[3:], "CA", "ZZ111", *abs_day],
        ["Add", "222222222", "05/22/2025", *JOHN_SMITH[3:], "CA", "QQ999", *abs_day[:2], "6",
         *abs_day[3:]],
    ]  # fmt: skip
    context = JudgeContext(ACTIVITIES, REGISTER, NoRecords(), TODAY)
    results, _counted, _batch_rows, slow = judged_in_batches(delimited(rows, ",", "\n", 0), context)
    fast, by_row, _fast_rows = both_ways(csv_file(rows, rules.REQUIRED_HEADERS), context)
    for judged in (results, slow, fast, by_row):
        assert codes_of(judged) == [[], [], [], []]


def test_a_held_record_of_another_physician_is_no_duplicate_and_a_delete_still_finds_its_own():
    """Held from an earlier upload: John Smith licensed ZZ111 in CA. Another John Smith with
    the same birthday is added; a Delete of the held one (its license written in lower case)
    finds it, on every path."""
    held = learner_key("John", "Smith", 1, 1, learner_identity("CA", "ZZ111", None, None))
    key = RecordKey(held, "123456789", date(2025, 6, 1), "")
    rows = [TWO_JOHN_SMITHS[1], ["Delete", *TWO_JOHN_SMITHS[0][1:7], "zz111", "1", *[""] * 5]]
    for records in (HeldRecords(key), HeldKeys(key)):
        context = JudgeContext(ACTIVITIES, REGISTER, records, TODAY)
        results, _counted, _batch_rows, slow = judged_in_batches(
            delimited(rows, ",", "\n", 0), context
        )
        fast, by_row, _fast_rows = both_ways(csv_file(rows, rules.REQUIRED_HEADERS), context)
        for judged in (results, slow, fast, by_row):
            assert codes_of(judged) == [[], []]
            assert [result.accepted for result in judged] == [True, True]


def test_what_excel_and_people_do_is_judged_alike_on_every_path():
    """A semicolon file (European Excel) with dates that read either way, a name whose letter
    Excel saved as "?", an ID in scientific notation, a license with a space and a totals row:
    judged in batches, by the fast path and by RowJudge alone, with the same findings."""
    rows = [
        ["Add", "123456789", "06/01/2025", "John", "Smith", "01/02", "CA", "ZZ111", "1", *[""] * 5],
        ["Add", "123456789", "06/02/2025", "Nguy?n", "Van?", "01/02", "CA", "ZZ112", "1",
         *[""] * 5],
        ["Add", "123456789", "06/03/2025", "John", "Smith", "01/02", "CA", "1.23457E+09", "1",
         *[""] * 5],
        ["Add", "123456789", "06/04/2025", "John", "Smith", "01/02", "CA", "A 900004", "1",
         *[""] * 5],
        ["Total", "", "", "", "", "", "", "", "4", *[""] * 5],
    ]  # fmt: skip
    context = JudgeContext(ACTIVITIES, REGISTER, NoRecords(), TODAY)
    expected = [
        ["DATE_MAYBE_DAY_FIRST", "DOB_MAYBE_DAY_FIRST"],
        ["DATE_MAYBE_DAY_FIRST", "NAME_LETTER_LOST", "NAME_LETTER_LOST", "DOB_MAYBE_DAY_FIRST"],
        ["DATE_MAYBE_DAY_FIRST", "DOB_MAYBE_DAY_FIRST", "ID_SCIENTIFIC_NOTATION"],
        ["DATE_MAYBE_DAY_FIRST", "DOB_MAYBE_DAY_FIRST", "LICENSE_FORMAT"],
        ["TOTALS_ROW"],
    ]
    results, counted, batch_rows, slow = judged_in_batches(delimited(rows, ";", "\r\n", 0), context)
    assert results == slow
    assert counted == summarize(slow)
    assert batch_rows == 1
    data = delimited(rows, ";", "\r\n", 0).replace(b"ZZ111", b'"ZZ111"')  # read row by row
    fast, by_row, fast_rows = both_ways(data, context)
    assert fast_rows == 1
    for judged in (results, slow, fast, by_row):
        assert [finding.code for finding in judged if isinstance(finding, Finding)] == [
            "FILE_SEMICOLONS"
        ]
        assert codes_of(row_results(judged)) == expected
    accepted = [result.accepted for result in row_results(fast)]
    assert accepted == [True, False, False, False, False]
    comma = delimited(rows, ",", "\n", 0)
    for judged in (judged_in_batches(comma, context)[0], both_ways(comma, context)[0]):
        assert [codes[0] for codes in codes_of(row_results(judged))[1:]] == [
            "NAME_LETTER_LOST", "ID_SCIENTIFIC_NOTATION", "LICENSE_FORMAT", "TOTALS_ROW"
        ]  # fmt: skip
        assert codes_of(row_results(judged))[0] == []


def row_results(results) -> list[RowResult]:
    return [result for result in results if isinstance(result, RowResult)]


def test_a_file_whose_dates_are_day_first_somewhere_says_so_at_the_end_on_every_path():
    """A comma file: one completion date only day first can be, the others read either way;
    the file-level warning after the last row names the same dates, the first of each kind
    with its row, on every path, whatever order each path asks its verdicts in."""
    learner = ["John", "Smith", "01/01", "CA", "ZZ111", "1", *[""] * 5]
    rows = [
        ["Add", "123456789", day, *learner]
        for day in ("06/05/2025", "25/05/2025", "06/03/2025", "06/04/2025", "2025-06-02")
    ]
    context = JudgeContext(ACTIVITIES, REGISTER, NoRecords(), TODAY)
    results, counted, batch_rows, slow = judged_in_batches(delimited(rows, ",", "\n", 0), context)
    assert results == slow
    assert counted == summarize(slow)
    assert batch_rows == len(rows)
    fast, by_row, fast_rows = both_ways(csv_file(rows, rules.REQUIRED_HEADERS), context)
    assert fast_rows == len(rows)
    for judged in (results, slow, fast, by_row):
        *_rows, warning = judged
        assert warning.code == "FILE_DATES_DAY_FIRST"
        assert warning.message.startswith(
            'Completion Date "25/05/2025" on row 3 can only be read day'
        )
        assert 'Completion Date "06/05/2025" on row 2 was read as June 5, 2025' in (warning.message)


# Text in a sensitive column alone on a row (a note, a total) and the parts of it no finding
# may show: each birth year, and each ID beyond its last 4 characters.
SENSITIVE_NOTES = [
    (rules.DATE_OF_BIRTH, "Note: DOB 03/15/1975 to confirm", ["1975", "03/15"]),
    (rules.DATE_OF_BIRTH, "Total 1975", ["1975"]),
    (rules.DATE_OF_BIRTH, "Comment: born 1968-07-04, check", ["1968"]),
    (rules.LICENSE_OR_NPI, "Note: license A574656 renewed", ["A57", "74656"]),
    (rules.LICENSE_OR_NPI, "Note: NPI 1234567893 to check", ["123456", "67893"]),
    (rules.LICENSE_OR_NPI, "Total MD99881", ["MD9", "99881"]),
    (rules.BOARD_ID, "Note: ABIM 94659944 pending", ["9465", "59944"]),
    (rules.BOARD_ID, "Note: board ID 123456, ask her", ["12", "23456"]),
]


def test_no_finding_shows_a_birth_year_or_an_id_beyond_its_last_four_from_a_note_or_total():
    """A note or a total written in Date of Birth, Licensing ID or NPI or Certifying Board ID
    is still named as one, but its finding hides every word holding a digit, in a file read in
    batches, a quoted file read row by row (fast path and RowJudge alike) and a workbook."""
    from openpyxl import Workbook

    valid = ["Add", "123456789", "06/01/2025", "Ann", "Lee", "03/15", "CA", "A-12345", "1.5",
             "ABIM", "123456", "2", "Medical Knowledge", "2"]  # fmt: skip
    rows = [valid, [*valid[:3], "Bo", "Day", "01/02", *valid[6:]]]
    for column, text, _hidden in SENSITIVE_NOTES:
        cells = [""] * len(rules.REQUIRED_HEADERS)
        cells[rules.REQUIRED_HEADERS.index(column)] = text
        rows.append(cells)
    context = JudgeContext(ACTIVITIES, REGISTER, NoRecords(), TODAY)
    plain = delimited([row for row in rows if "," not in "".join(row)], ",", "\n", 0)
    workbook = Workbook()
    workbook.active.append(rules.REQUIRED_HEADERS)
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    judged = [
        judged_in_batches(plain, context),
        judged_in_batches(csv_file(rows, rules.REQUIRED_HEADERS), context),
        judged_in_batches(buffer.getvalue(), context, "learners.xlsx"),
    ]
    for results, _counted, _batch_rows, slow in judged:
        for result in (*results, *slow):
            findings = [finding for finding in result.findings if finding.row == result.row]
            if result.row <= 3:
                continue
            assert [finding.code for finding in findings] in (["NOTES_ROW"], ["TOTALS_ROW"])
            for _column, text, hidden in SENSITIVE_NOTES:
                for part in hidden:
                    assert part not in findings[0].message, (text, findings[0].message)
    messages = [finding.message for result in judged[1][0] for finding in result.findings]
    assert any('"Note: DOB ********** to confirm"' in message for message in messages)
    assert any('"Note: license ******* renewed"' in message for message in messages)
    assert any('"Total ****"' in message for message in messages)


def test_a_slash_date_outside_the_activity_that_fits_read_day_first_says_what_it_may_mean():
    """A November activity: 29/11/2026 is day first, so 03/11/2026 (March, outside) may be
    11 March written day first and says so; 03/10/2026 would be outside either way."""
    november = Activity(
        "200012345", "Nov", date(2026, 11, 1), date(2026, 11, 30), Decimal(3), BOARDS
    )
    valid = ["Add", "200012345", "11/20/2026", "Ann", "Lee", "03/15", "CA", "A-12345", "1.5",
             "", "", "", "", ""]  # fmt: skip
    rows = [valid] + [
        [*valid[:2], completed, name, *valid[4:]]
        for completed, name in (("29/11/2026", "Bo"), ("03/11/2026", "Cy"), ("03/10/2026", "Di"))
    ]
    context = JudgeContext({"200012345": november}, REGISTER, NoRecords(), date(2026, 12, 2))
    for data in (delimited(rows, ",", "\n", 0), csv_file(rows, rules.REQUIRED_HEADERS)):
        results, _counted, _batch_rows, slow = judged_in_batches(data, context)
        assert results == slow
        outside = {
            finding.row: finding.message
            for result in results
            if isinstance(result, RowResult)
            for finding in result.findings
            if finding.code == "DATE_OUTSIDE_ACTIVITY"
        }
        assert outside == {
            4: "Completion Date 03/11/2026 is outside the activity's dates (11/01/2026 to "
            "11/30/2026); it may mean 11/03/2026, day first, which is within them: if so, "
            "write 11/03/2026; else enter the date the learner completed it.",
            5: "Completion Date 03/10/2026 is outside the activity's dates (11/01/2026 to "
            "11/30/2026); enter the date the learner completed it.",
        }


def test_a_space_before_a_delimiter_where_a_batch_ends_is_stripped_as_row_judge_strips_it():
    """A name with a space after it ("Lee ,"), the batch's bytes ending at that space and the
    next batch's starting at the delimiter: the next batch still strips its cells."""
    valid = ["Add", "123456789", "06/01/2025", "Ann", "Lee", "03/15", "CA", "B-555", "1.5",
             "ABIM", "777", "2", "Medical Knowledge", "2"]  # fmt: skip
    padded = [*valid[:4], "Lee ", *valid[5:]]
    data = delimited([valid, padded, valid], ",", "\n", 0)
    context = JudgeContext(ACTIVITIES, REGISTER, NoRecords(), TODAY)
    with patch.object(batches, "_CHUNK", data.index(b" ,") + 1):
        results, _counted, _batch_rows, slow = judged_in_batches(data, context)
    assert results == slow


def test_a_totals_formula_written_as_text_is_one_totals_row_finding_on_every_path():
    """A script's CSV with =SUM(I3:I4) under the credits: one TOTALS_ROW finding, whether the
    file is judged in batches, by the fast path or by RowJudge alone."""
    rows = [
        ["Add", "123456789", "06/01/2025", "Ann", "Lee", "01/02", "CA", "ZZ111", "1", *[""] * 5],
        ["", "", "", "", "", "", "", "", "=SUM(I3:I4)", *[""] * 5],
    ]
    context = JudgeContext(ACTIVITIES, REGISTER, NoRecords(), TODAY)
    data = delimited(rows, ",", "\r\n", 0)
    results, counted, _batch_rows, slow = judged_in_batches(data, context)
    assert results == slow
    assert counted == summarize(slow)
    fast, by_row, _fast_rows = both_ways(data, context)
    for judged in (results, slow, fast, by_row):
        total = row_results(judged)[-1]
        assert [finding.code for finding in total.findings] == ["TOTALS_ROW"]
        assert total.findings[0].message.startswith(
            'This looks like a totals row (it holds only a formula, Number of CME Credits "=SUM('
        )


def test_a_formula_alone_in_the_first_column_is_one_totals_row_finding_on_every_path():
    """A CSV line that is just =SUM(I2:I10): one TOTALS_ROW finding, as under the credits."""
    rows = [
        ["Add", "123456789", "06/01/2025", "Ann", "Lee", "01/02", "CA", "ZZ111", "1", *[""] * 5],
        ["=SUM(I2:I10)", *[""] * 13],
    ]
    context = JudgeContext(ACTIVITIES, REGISTER, NoRecords(), TODAY)
    data = delimited(rows, ",", "\r\n", 0)
    results, counted, _batch_rows, slow = judged_in_batches(data, context)
    assert results == slow
    assert counted == summarize(slow)
    fast, by_row, _fast_rows = both_ways(data, context)
    for judged in (results, slow, fast, by_row):
        total = row_results(judged)[-1]
        assert [finding.code for finding in total.findings] == ["TOTALS_ROW"]
