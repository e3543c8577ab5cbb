"""The learner-file rules as data: columns, codes, boards, states, and the small pure checks."""

import csv
import io
import string
from datetime import date
from decimal import Decimal

import pytest

from training.sandbox import rules
from training.sandbox.judge import (
    Activity,
    BoardRegistration,
    CompactIndex,
    Finding,
    JudgeContext,
    NoRecords,
    Register,
    RowResult,
    board_code,
    column_letter,
    judge_file,
    masked,
    npi_is_valid,
    state_code,
)

SPEC_CODES = [
    "ACTION_INVALID", "ACTIVITY_ID_FORMAT", "ACTIVITY_NOT_FOUND", "DATE_FORMAT",
    "DATE_OUTSIDE_ACTIVITY", "DATE_IN_FUTURE", "DATE_TOO_OLD", "FIRST_NAME_REQUIRED",
    "LAST_NAME_REQUIRED", "NAME_TOO_LONG", "DOB_FORMAT", "DOB_HAS_YEAR", "DOB_INVALID_DAY",
    "STATE_UNKNOWN", "STATE_REQUIRED", "NPI_INVALID", "LICENSE_FORMAT", "CREDITS_FORMAT",
    "CREDITS_NOT_QUARTER", "CREDITS_EXCEED_ACTIVITY", "BOARD_UNKNOWN", "BOARD_NOT_REGISTERED",
    "BOARD_ID_REQUIRED", "BOARD_ID_FORMAT", "BOARD_CREDITS_EXCEED", "ABP_PARTIAL_CREDIT",
    "CREDIT_TYPE_INVALID", "CREDIT_TYPE_EXCEEDS_TOTAL", "NO_CREDIT_REPORTED", "HEADER_MISMATCH",
    "DUPLICATE_ROW", "DUPLICATE_COMPLETION", "DELETE_NOT_FOUND", "LEARNER_NOT_MATCHED",
    "LATE_REPORT", "STATE_NOT_PARTICIPATING", "ABS_DAILY_LIMIT", "NAME_LOOKS_SWAPPED",
    "FILE_TYPE", "FILE_EMPTY", "FILE_TOO_LARGE", "FILE_ENCODING", "FILE_UNREADABLE",
]  # fmt: skip
# Our own, for what spreadsheets do to learner files (the spec's "each named for what it is").
DESIGN_CODES = [
    "DOB_MADE_A_DATE", "DATE_IS_SERIAL", "FORMULA_NO_VALUE", "BOARD_TOO_EARLY", "NO_HEADER_ROW",
    "FILE_SEMICOLONS", "FILE_DELIMITER", "FILE_HIDDEN_ROWS", "DATE_HAS_TIME", "DATE_MIDNIGHT",
    "DATE_DAY_FIRST", "DOB_YEAR_HIDDEN", "DOB_DAY_FIRST", "CREDITS_DECIMAL_COMMA",
    "NAME_SPLIT_CHECK", "UNUSUAL_CHARACTER", "CONTROL_CHARACTER", "INVISIBLE_CHARACTER",
    "LOOKS_LIKE_FORMULA", "QUOTE_NOT_CLOSED", "FILE_MERGED_CELLS", "FILE_EXTRA_COLUMNS",
    "FILE_OTHER_SHEET", "HEADER_NOT_FOUND", "NAME_ONE_WORD", "DATE_MAYBE_DAY_FIRST",
    "DOB_MAYBE_DAY_FIRST", "NAME_LETTER_LOST", "ID_SCIENTIFIC_NOTATION", "TOTALS_ROW",
    "FILE_DATES_DAY_FIRST", "ID_STORED_AS_NUMBER", "NOTES_ROW", "HEADER_MERGED_CELLS",
    "FILE_MAC_ROMAN",
]  # fmt: skip
WARNINGS = {
    "LATE_REPORT", "STATE_NOT_PARTICIPATING", "ABS_DAILY_LIMIT", "NAME_LOOKS_SWAPPED",
    "DOB_MADE_A_DATE", "NO_HEADER_ROW", "FILE_SEMICOLONS", "FILE_DELIMITER", "FILE_HIDDEN_ROWS",
    "DATE_MIDNIGHT", "NAME_SPLIT_CHECK", "UNUSUAL_CHARACTER", "INVISIBLE_CHARACTER",
    "LOOKS_LIKE_FORMULA", "FILE_MERGED_CELLS", "FILE_EXTRA_COLUMNS",
    "FILE_OTHER_SHEET", "DATE_MAYBE_DAY_FIRST", "DOB_MAYBE_DAY_FIRST", "FILE_DATES_DAY_FIRST",
    "ID_STORED_AS_NUMBER", "FILE_MAC_ROMAN",
}  # fmt: skip
BOARD_STAGE = {"LEARNER_NOT_MATCHED", "NAME_LOOKS_SWAPPED", "NAME_LETTER_LOST"}


# One activity registered with every board for 2 points, judged on a day in 2025.
EVERY_BOARD = Activity(
    "123456789",
    "Sepsis update",
    date(2025, 1, 1),
    date(2025, 12, 31),
    Decimal(3),
    {
        code: BoardRegistration(Decimal(2), frozenset(board.credit_types))
        for code, board in rules.BOARDS.items()
    },
)
CONTEXT = JudgeContext({"123456789": EVERY_BOARD}, Register(), NoRecords(), date(2025, 6, 10))


def row_for(board: str, *, board_id: str = "777", credits: str = "2") -> list[str]:
    """A valid row reporting ``credits`` of ``board``'s first credit type (of 2 registered)."""
    credit_type = sorted(rules.BOARDS[board].credit_types)[0]
    return [
        "Add", "123456789", "06/01/2025", "Ann", "Lee", "03/15", "CA", "B-555", "1.5",
        board, board_id, credits, credit_type, credits,
    ]  # fmt: skip


def judge_rows(header, rows) -> list:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return list(judge_file(io.BytesIO(buffer.getvalue().encode()), "learners.csv", CONTEXT))


def codes_of(results) -> list[str]:
    [result] = results
    assert isinstance(result, RowResult), result
    return [finding.code for finding in result.findings]


def test_the_codes_are_exactly_the_spec_codes_with_their_severity_and_stage():
    assert set(rules.CODES) == set(SPEC_CODES) | set(DESIGN_CODES)
    for code, rule in rules.CODES.items():
        assert rule.severity == (rules.WARNING if code in WARNINGS else rules.ERROR), code
        assert rule.stage == (rules.STAGE_BOARD if code in BOARD_STAGE else rules.STAGE_UPLOAD)


def test_a_board_stage_error_says_the_board_would_reject_it_after_upload():
    assert rules.CODES["LEARNER_NOT_MATCHED"].stage_label() == (
        "The board would reject it after upload"
    )
    assert rules.CODES["DOB_FORMAT"].stage_label() == "PARS refuses it at upload"


def test_every_message_says_what_to_do_and_names_only_known_fields():
    known = {
        "value", "column", "limit", "length", "maximum", "activity_id", "start", "end",
        "earliest_year", "boards", "registered", "board", "allowed", "total", "where", "days",
        "day", "position", "expected", "found", "hint", "what", "how", "since", "time", "fixed",
        "dotted", "first", "last", "left_out", "doubt", "extension", "fix", "count",
        "rows", "which", "were", "them", "handled", "blocks", "it", "was",
        "sheet", "whose", "sheets", "why", "read", "other", "holds",
        "evidence", "example", "swallowed", "block", "blanks", "advice",
    }  # fmt: skip
    for code, rule in rules.CODES.items():
        fields = {name for _, name, _, _ in string.Formatter().parse(rule.message) if name}
        assert fields <= known, code
        assert rule.message.rstrip().endswith((".", "}")), code


def test_the_header_is_the_template_columns_in_order():
    assert rules.HEADERS[:3] == ("Record Action", "ACCME Activity ID", "Completion Date")
    assert len(rules.HEADERS) == 20 and len(set(rules.HEADERS)) == 20
    assert rules.HEADERS[-2:] == (
        "Additional Credit Type 3",
        "Credits Awarded for Additional Credit Type 3",
    )
    assert rules.GUIDANCE_LINE.startswith(rules.GUIDANCE_MARKER)


def test_a_file_may_stop_after_any_whole_credit_type_pair():
    judged_lengths = {
        length
        for length in range(13, 21)
        if not any(
            isinstance(item, Finding) and item.code == "HEADER_MISMATCH"
            for item in judge_rows(rules.HEADERS[:length], [row_for("ABIM")])
        )
    }
    assert judged_lengths == {14, 16, 18, 20}


def test_boards_say_which_need_an_id_and_which_take_partial_credit():
    assert set(rules.BOARDS) == {
        "ABA", "ABIM", "ABOHNS", "ABOS", "ABP", "ABPath", "ABPMR", "ABS", "ABTS",
    }  # fmt: skip
    assert "Medical Knowledge" in rules.BOARDS["ABIM"].credit_types
    assert all(board.credit_types for board in rules.BOARDS.values())
    without_id = {
        board: codes_of(judge_rows(rules.HEADERS[:14], [row_for(board, board_id="")]))
        for board in rules.BOARDS
    }
    assert {board for board, codes in without_id.items() if not codes} == {"ABS"}
    assert all(
        codes == ["BOARD_ID_REQUIRED"] for board, codes in without_id.items() if board != "ABS"
    )
    partial = {
        board: codes_of(judge_rows(rules.HEADERS[:14], [row_for(board, credits="1.5")]))
        for board in rules.BOARDS
    }
    assert {board for board, codes in partial.items() if codes} == {"ABP"}
    assert partial["ABP"] == ["ABP_PARTIAL_CREDIT"]


@pytest.mark.parametrize("text", ["abpath", "ABPATH", " ABPath "])
def test_board_codes_are_matched_in_any_case(text):
    assert board_code(text) == "ABPath"


def test_states_cover_the_states_dc_and_territories():
    assert len(rules.STATES) == 56
    assert set(rules.STATES) >= rules.PARS_STATES
    assert {"DC", "PR", "GU", "VI", "AS", "MP"} <= set(rules.STATES)


@pytest.mark.parametrize(
    ("text", "code"),
    [("ca", "CA"), ("California", "CA"), ("new  york", "NY"), ("Washington DC", "DC"),
     ("Puerto Rico", "PR"), ("Calif.", None), ("XX", None)],
)  # fmt: skip
def test_states_are_found_by_code_or_name(text, code):
    assert state_code(text) == code


@pytest.mark.parametrize(
    ("npi", "valid"),
    [("1234567893", True), ("1234567890", False), ("123456789", False), ("12345678931", False),
     ("１２３４５６７８９３", False)],
)  # fmt: skip
def test_the_npi_check_digit_uses_the_80840_prefix(npi, valid):
    assert npi_is_valid(npi) is valid


def test_identifiers_are_masked_beyond_their_last_four_characters():
    assert masked("A1234567") == '"****4567"'
    assert masked("123") == '"123"'
    assert masked("") == "blank"


def test_column_letters_follow_the_spreadsheet():
    assert [column_letter(n) for n in (1, 14, 26, 27)] == ["A", "N", "Z", "AA"]


def test_the_compact_index_remembers_many_keys_in_little_memory():
    index = CompactIndex()
    keys = [CompactIndex.hash_of(("learner", n)) for n in range(50_000)]
    for n, key in enumerate(keys):
        index.set(key, n)
    assert len(index) == 50_000
    assert all(index.get(key) == n for n, key in enumerate(keys))
    assert index.get(CompactIndex.hash_of(("someone else", 1))) is None
    assert index.nbytes <= 12 * 3 * 50_000
