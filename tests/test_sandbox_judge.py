"""How the sandbox judges learner rows: every finding code, triggered and not, without an app."""

import csv
import io
import tracemalloc
from datetime import date
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nameparser import HumanName

from training.sandbox import rules
from training.sandbox.downloads import findings_csv
from training.sandbox.judge import (
    Activity,
    BoardRegistration,
    Finding,
    JudgeContext,
    LearnerKey,
    LearnerRecord,
    NoRecords,
    RecordKey,
    Register,
    RegisterEntry,
    RowResult,
    batches,
    judge_file,
    learner_identity,
    learner_key,
    record_key,
    summarize,
)
from training.sandbox.judge.values import split_name

TODAY = date(2025, 6, 10)
ACTIVITY_ID = "123456789"
ACTIVITY = Activity(
    activity_id=ACTIVITY_ID,
    title="Sepsis update",
    start_date=date(2025, 1, 1),
    end_date=date(2025, 12, 31),
    max_cme_credits=Decimal(3),
    boards={
        "ABIM": BoardRegistration(
            Decimal(2), frozenset({"Medical Knowledge", "Practice Assessment"})
        ),
        "ABP": BoardRegistration(Decimal(2), frozenset({"Lifelong Learning and Self-Assessment"})),
        "ABA": BoardRegistration(Decimal(1), frozenset({"Lifelong Learning"})),
        "ABS": BoardRegistration(Decimal(8), frozenset({"CME", "Self-Assessment"})),
    },
)
NO_CME_ACTIVITY = Activity(
    "987654321", "MOC only", date(2025, 1, 1), date(2025, 12, 31), None, ACTIVITY.boards
)
LONG_ACTIVITY = Activity(
    "222222222", "Year-round", date(2023, 1, 1), date(2025, 12, 31), Decimal(3), ACTIVITY.boards
)
ABPMR = {"ABPMR": BoardRegistration(Decimal(2), frozenset({"CME"}))}
ABPMR_ACTIVITY = Activity(
    "333333333", "Rehab update", date(2025, 1, 1), date(2025, 12, 31), Decimal(3), ABPMR
)
OLD_ABPMR_ACTIVITY = Activity(
    "444444444", "Rehab update, 2024", date(2024, 12, 31), date(2025, 12, 31), Decimal(3), ABPMR
)
REGISTER = [
    RegisterEntry("Ann", "Lee", 3, 15, "CA", "A-12345", "1234567893", "ABIM", "123456"),
    RegisterEntry("Maria", "Garcia", 7, 4, "OR", "MD99881", None, None, None),
]
VALID = {
    rules.RECORD_ACTION: "Add",
    rules.ACTIVITY_ID: ACTIVITY_ID,
    rules.COMPLETION_DATE: "06/01/2025",
    rules.FIRST_NAME: "Ann",
    rules.LAST_NAME: "Lee",
    rules.DATE_OF_BIRTH: "03/15",
    rules.LICENSING_STATE: "CA",
    rules.LICENSE_OR_NPI: "B-555",
    rules.CME_CREDITS: "1.5",
    rules.BOARD: "ABIM",
    rules.BOARD_ID: "777",
    rules.BOARD_CREDITS: "2",
    rules.CREDIT_TYPE: "Medical Knowledge",
    rules.CREDIT_TYPE_CREDITS: "2",
}


class HeldRecords:
    """Sandbox records held from earlier uploads, as the web side would look them up."""

    def __init__(self, *records: LearnerRecord) -> None:
        self.keys = {record_key(record) for record in records}

    def find(self, key: RecordKey) -> bool:
        return key in self.keys

    def has_completion(self, learner: LearnerKey, activity_id: str) -> bool:
        return any(k.learner == learner and k.activity_id == activity_id for k in self.keys)


def context(records=None, today=TODAY) -> JudgeContext:
    return JudgeContext(
        activities={
            activity.activity_id: activity
            for activity in (
                ACTIVITY,
                NO_CME_ACTIVITY,
                LONG_ACTIVITY,
                ABPMR_ACTIVITY,
                OLD_ABPMR_ACTIVITY,
            )
        },
        register=Register(REGISTER),
        records=records or NoRecords(),
        today=today,
    )


def row(**overrides: str) -> dict[str, str]:
    """The valid row with some columns changed (keyword names are column names, _ for spaces)."""
    values = dict(VALID)
    for name, value in overrides.items():
        values[COLUMN_BY_KEYWORD[name]] = value
    return values


COLUMN_BY_KEYWORD = {column.replace(" ", "_").lower(): column for column in rules.HEADERS}


def csv_bytes(rows: list[dict[str, str]], header=rules.HEADERS) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for values in rows:
        writer.writerow([values.get(column, "") for column in header])
    return buffer.getvalue().encode()


def judge(*rows: dict[str, str], records=None, today=TODAY) -> list[RowResult]:
    results = list(
        judge_file(io.BytesIO(csv_bytes(list(rows))), "learners.csv", context(records, today))
    )
    assert all(isinstance(result, RowResult) for result in results), results
    return results


def codes(result: RowResult) -> list[str]:
    return [finding.code for finding in result.findings]


def test_the_valid_row_is_accepted_with_no_findings():
    [result] = judge(row())
    assert result.accepted and result.findings == ()
    assert result.row == 2 and result.action == "Add"
    assert result.record == LearnerRecord(
        activity_id=ACTIVITY_ID,
        completion_date=date(2025, 6, 1),
        first_name="Ann",
        last_name="Lee",
        birth_month=3,
        birth_day=15,
        state="CA",
        license_or_npi="B-555",
        board="ABIM",
        board_id="777",
        cme_credits=Decimal("1.5"),
        board_credits=Decimal(2),
        credit_awards=(("Medical Knowledge", Decimal(2)),),
    )


# Every column blank: a row's overrides then fill in only what they name.
BLANK_ROW = dict.fromkeys(COLUMN_BY_KEYWORD, "")
# (code, the column it names, overrides that trigger it, overrides close by that do not)
ROW_CODES = [
    ("ACTION_INVALID", rules.RECORD_ACTION, {"record_action": "Update"}, {"record_action": "ADD"}),
    ("ACTION_INVALID", rules.RECORD_ACTION, {"record_action": ""}, {"record_action": " add "}),
    ("ACTIVITY_ID_FORMAT", rules.ACTIVITY_ID, {"accme_activity_id": "12345678"}, {}),
    ("ACTIVITY_ID_FORMAT", rules.ACTIVITY_ID, {"accme_activity_id": "12345678a"}, {}),
    ("ACTIVITY_NOT_FOUND", rules.ACTIVITY_ID, {"accme_activity_id": "111111111"}, {}),
    ("DATE_FORMAT", rules.COMPLETION_DATE, {"completion_date": "June 1, 2025"},
     {"completion_date": "2025-06-01"}),
    ("DATE_HAS_TIME", rules.COMPLETION_DATE, {"completion_date": "06/01/2025 10:00"},
     {"completion_date": "6/1/2025"}),
    ("DATE_HAS_TIME", rules.COMPLETION_DATE, {"completion_date": "6/1/2025 3:45 PM"},
     {"completion_date": "6/1/2025 12:00 AM"}),
    ("DATE_MIDNIGHT", rules.COMPLETION_DATE, {"completion_date": "2025-06-01 00:00:00"},
     {"completion_date": "2025-06-01"}),
    ("DATE_DAY_FIRST", rules.COMPLETION_DATE, {"completion_date": "01.06.2025"},
     {"completion_date": "06/01/2025"}),
    ("DATE_DAY_FIRST", rules.COMPLETION_DATE, {"completion_date": "25/05/2025"},
     {"completion_date": "05/25/2025"}),
    ("DATE_FORMAT", rules.COMPLETION_DATE, {"completion_date": "02/30/2025"}, {}),
    ("DATE_IS_SERIAL", rules.COMPLETION_DATE, {"completion_date": "45809"},
     {"completion_date": "06/01/2025"}),
    ("DATE_OUTSIDE_ACTIVITY", rules.COMPLETION_DATE, {"completion_date": "06/01/2024"},
     {"completion_date": "01/01/2025"}),
    ("DATE_IN_FUTURE", rules.COMPLETION_DATE, {"completion_date": "06/11/2025"},
     {"completion_date": "06/10/2025"}),
    ("DATE_TOO_OLD", rules.COMPLETION_DATE,
     {"completion_date": "12/31/2023", "accme_activity_id": "222222222"},
     {"completion_date": "01/01/2024", "accme_activity_id": "222222222"}),
    ("FIRST_NAME_REQUIRED", rules.FIRST_NAME, {"first_name": "  "}, {"first_name": "A"}),
    ("LAST_NAME_REQUIRED", rules.LAST_NAME, {"last_name": ""}, {"last_name": "Li"}),
    ("NAME_TOO_LONG", rules.FIRST_NAME, {"first_name": "A" * 51}, {"first_name": "A" * 50}),
    ("NAME_TOO_LONG", rules.LAST_NAME, {"last_name": "L" * 51}, {"last_name": "L" * 50}),
    ("CONTROL_CHARACTER", rules.FIRST_NAME, {"first_name": "Ann\nMarie"},
     {"first_name": "Ann Marie"}),
    ("CONTROL_CHARACTER", rules.LICENSE_OR_NPI, {"licensing_id_or_npi": "A-12\t345"},
     {"licensing_id_or_npi": "A-12345"}),
    ("INVISIBLE_CHARACTER", rules.LAST_NAME, {"last_name": "Lee\u200b"}, {"last_name": "Lee"}),
    ("INVISIBLE_CHARACTER", rules.FIRST_NAME, {"first_name": "\u202eAnn"},
     {"first_name": "Ann"}),
    ("UNUSUAL_CHARACTER", rules.FIRST_NAME, {"first_name": "Ａｎｎ"}, {"first_name": "Ann"}),
    # Excel's plain "CSV" (Windows-1252) saves a letter it cannot hold as "?".
    ("NAME_LETTER_LOST", rules.LAST_NAME, {"last_name": "Nguy?n"}, {"last_name": "Nguyễn"}),
    ("NAME_LETTER_LOST", rules.FIRST_NAME, {"first_name": "Van?"}, {"first_name": "Vanê"}),
    ("TOTALS_ROW", rules.RECORD_ACTION,
     {"record_action": "Total", "first_name": "", "last_name": "", "accme_activity_id": "",
      "completion_date": "", "date_of_birth": "", "licensing_state": "",
      "licensing_id_or_npi": "", "number_of_cme_credits": "2", "certifying_board_id": ""},
     {"record_action": "Add"}),
    ("TOTALS_ROW", rules.RECORD_ACTION,
     {"record_action": "Grand total:", "first_name": "", "last_name": "", "date_of_birth": "",
      "licensing_id_or_npi": "", "certifying_board_id": ""}, {}),
    # Under a name, or no label at all (an AutoSum): nothing but numbers in credit columns.
    ("TOTALS_ROW", rules.LAST_NAME, {**BLANK_ROW, "last_name": "Totals"}, {}),
    ("TOTALS_ROW", rules.CME_CREDITS,
     {**BLANK_ROW, "number_of_cme_credits": "4", "total_board_credits": "6"},
     {}),
    ("NOTES_ROW", rules.RECORD_ACTION,
     {**BLANK_ROW, "record_action": "Notes: these are from the Nov course"},
     {}),
    ("NOTES_ROW", rules.LAST_NAME, {**BLANK_ROW, "last_name": "Note: two left"},
     {}),
    ("ID_SCIENTIFIC_NOTATION", rules.ACTIVITY_ID, {"accme_activity_id": "1.23457E+08"}, {}),
    ("UNUSUAL_CHARACTER", rules.LAST_NAME, {"last_name": "Lee😀"}, {"last_name": "Lée"}),
    ("LOOKS_LIKE_FORMULA", rules.LAST_NAME, {"last_name": "-Lee"}, {"last_name": "Lee-Chan"}),
    ("LOOKS_LIKE_FORMULA", rules.LICENSE_OR_NPI, {"licensing_id_or_npi": "-12345"},
     {"licensing_id_or_npi": "12345-"}),
    ("DOB_FORMAT", rules.DATE_OF_BIRTH, {"date_of_birth": "March 15"},
     {"date_of_birth": "3/15"}),
    ("DOB_FORMAT", rules.DATE_OF_BIRTH, {"date_of_birth": ""}, {}),
    ("DOB_HAS_YEAR", rules.DATE_OF_BIRTH, {"date_of_birth": "03/15/1970"}, {}),
    ("DOB_HAS_YEAR", rules.DATE_OF_BIRTH, {"date_of_birth": "1970-03-15"}, {}),
    ("DOB_INVALID_DAY", rules.DATE_OF_BIRTH, {"date_of_birth": "02/30"},
     {"date_of_birth": "02/29"}),
    ("DOB_INVALID_DAY", rules.DATE_OF_BIRTH, {"date_of_birth": "13/32"}, {}),
    # (a completion date that reads one way only: with 06/01/2025 the file would also get
    # FILE_DATES_DAY_FIRST, see test_sandbox_real_files)
    ("DOB_DAY_FIRST", rules.DATE_OF_BIRTH,
     {"date_of_birth": "15/03", "completion_date": "2025-06-01"},
     {"date_of_birth": "03/15"}),
    ("DOB_DAY_FIRST", rules.DATE_OF_BIRTH,
     {"date_of_birth": "15.03.", "completion_date": "2025-06-01"},
     {"date_of_birth": "3/15"}),
    ("DOB_MADE_A_DATE", rules.DATE_OF_BIRTH, {"date_of_birth": "15-Mar"},
     {"date_of_birth": "03/15"}),
    ("DOB_MADE_A_DATE", rules.DATE_OF_BIRTH, {"date_of_birth": "3/15/2025"},
     {"date_of_birth": "3/15"}),
    ("STATE_UNKNOWN", rules.LICENSING_STATE, {"licensing_state": "ZZ"},
     {"licensing_state": "california"}),
    ("STATE_REQUIRED", rules.LICENSING_STATE, {"licensing_state": ""},
     {"licensing_state": "", "number_of_cme_credits": ""}),
    ("NPI_INVALID", rules.LICENSE_OR_NPI, {"licensing_id_or_npi": "1234567890"},
     {"licensing_id_or_npi": "1234567893"}),
    ("LICENSE_FORMAT", rules.LICENSE_OR_NPI, {"licensing_id_or_npi": "A 12345"},
     {"licensing_id_or_npi": "a-12345"}),
    ("LICENSE_FORMAT", rules.LICENSE_OR_NPI, {"licensing_id_or_npi": "A" * 21},
     {"licensing_id_or_npi": ""}),
    # How Excel writes a long number in a CSV.
    ("ID_SCIENTIFIC_NOTATION", rules.LICENSE_OR_NPI, {"licensing_id_or_npi": "1.23457E+09"},
     {"licensing_id_or_npi": "123457000"}),
    ("ID_SCIENTIFIC_NOTATION", rules.BOARD_ID, {"certifying_board_id": "1.23457E+11"},
     {"certifying_board_id": "123457000000"}),
    ("CREDITS_FORMAT", rules.CME_CREDITS, {"number_of_cme_credits": "1½"},
     {"number_of_cme_credits": ".5"}),
    ("CREDITS_DECIMAL_COMMA", rules.CME_CREDITS, {"number_of_cme_credits": "1,5"},
     {"number_of_cme_credits": "1.5"}),
    ("CREDITS_DECIMAL_COMMA", rules.BOARD_CREDITS,
     {"total_board_credits": "1,75", "credits_awarded_for_credit_type": "1.75"},
     {"total_board_credits": "1.75", "credits_awarded_for_credit_type": "1.75"}),
    ("CREDITS_FORMAT", rules.CME_CREDITS, {"number_of_cme_credits": "0"}, {}),
    ("CREDITS_FORMAT", rules.BOARD_CREDITS, {"total_board_credits": ""}, {}),
    ("CREDITS_NOT_QUARTER", rules.CME_CREDITS, {"number_of_cme_credits": "1.3"},
     {"number_of_cme_credits": "1.75"}),
    ("CREDITS_NOT_QUARTER", rules.BOARD_CREDITS,
     {"total_board_credits": "1.1", "credits_awarded_for_credit_type": "1"},
     {"total_board_credits": "1.25", "credits_awarded_for_credit_type": "1"}),
    ("CREDITS_EXCEED_ACTIVITY", rules.CME_CREDITS, {"number_of_cme_credits": "3.25"},
     {"number_of_cme_credits": "3"}),
    ("CREDITS_EXCEED_ACTIVITY", rules.CME_CREDITS, {"accme_activity_id": "987654321"},
     {"accme_activity_id": "987654321", "number_of_cme_credits": "",
      "licensing_state": ""}),
    ("BOARD_UNKNOWN", rules.BOARD, {"certifying_board": "ABQ"}, {"certifying_board": "abim"}),
    ("BOARD_UNKNOWN", rules.BOARD, {"certifying_board": ""},
     {"certifying_board": "", "certifying_board_id": "", "total_board_credits": "",
      "credit_type": "", "credits_awarded_for_credit_type": ""}),
    ("BOARD_NOT_REGISTERED", rules.BOARD, {"certifying_board": "ABTS"},
     {"certifying_board": "ABIM"}),
    ("BOARD_TOO_EARLY", rules.BOARD,
     {"accme_activity_id": "444444444", "certifying_board": "ABPMR", "credit_type": "CME"},
     {"accme_activity_id": "333333333", "certifying_board": "ABPMR", "credit_type": "CME"}),
    ("BOARD_ID_REQUIRED", rules.BOARD_ID, {"certifying_board_id": ""},
     {"certifying_board": "ABS", "certifying_board_id": "", "credit_type": "CME"}),
    ("BOARD_ID_FORMAT", rules.BOARD_ID, {"certifying_board_id": "AB-123"},
     {"certifying_board_id": "0042"}),
    ("BOARD_CREDITS_EXCEED", rules.BOARD_CREDITS, {"total_board_credits": "2.25"},
     {"total_board_credits": "1.75", "credits_awarded_for_credit_type": "1.75"}),
    ("ABP_PARTIAL_CREDIT", rules.BOARD_CREDITS,
     {"certifying_board": "ABP", "total_board_credits": "1.5",
      "credit_type": "Lifelong Learning and Self-Assessment",
      "credits_awarded_for_credit_type": "1.5"},
     {"certifying_board": "ABP", "credit_type": "lifelong learning and self-assessment"}),
    ("CREDIT_TYPE_INVALID", rules.CREDIT_TYPE, {"credit_type": "Patient Safety"},
     {"credit_type": "practice assessment"}),
    ("CREDIT_TYPE_INVALID", rules.CREDIT_TYPE, {"credit_type": ""}, {}),
    ("CREDIT_TYPE_INVALID", "Additional Credit Type 2",
     {"additional_credit_type_2": "Nonsense",
      "credits_awarded_for_additional_credit_type_2": "0.5",
      "credits_awarded_for_credit_type": "1"},
     {"additional_credit_type_2": "Practice Assessment",
      "credits_awarded_for_additional_credit_type_2": "0.5",
      "credits_awarded_for_credit_type": "1"}),
    ("CREDIT_TYPE_EXCEEDS_TOTAL", rules.CREDIT_TYPE_CREDITS,
     {"total_board_credits": "1", "credits_awarded_for_credit_type": "1.25"},
     {"total_board_credits": "1", "credits_awarded_for_credit_type": "1"}),
    ("CREDIT_TYPE_EXCEEDS_TOTAL", "Credits Awarded for Additional Credit Type 1",
     {"additional_credit_type_1": "Practice Assessment",
      "credits_awarded_for_credit_type": "1.5",
      "credits_awarded_for_additional_credit_type_1": "0.75"},
     {"additional_credit_type_1": "Practice Assessment",
      "credits_awarded_for_credit_type": "1.25",
      "credits_awarded_for_additional_credit_type_1": "0.75"}),
    ("NO_CREDIT_REPORTED", "",
     {"number_of_cme_credits": "", "certifying_board": "", "certifying_board_id": "",
      "total_board_credits": "", "credit_type": "", "credits_awarded_for_credit_type": ""},
     {"number_of_cme_credits": "", "certifying_board_id": "", "certifying_board": "ABS",
      "credit_type": "CME"}),
    ("LEARNER_NOT_MATCHED", rules.LICENSE_OR_NPI,
     {"licensing_id_or_npi": "a12345", "date_of_birth": "03/16"},
     {"licensing_id_or_npi": "A-12345", "first_name": "  ann ", "last_name": "LEE"}),
    ("LEARNER_NOT_MATCHED", rules.LICENSE_OR_NPI,
     {"licensing_id_or_npi": "1234567893", "first_name": "Anne"},
     {"licensing_id_or_npi": "1234567893"}),
    ("LEARNER_NOT_MATCHED", rules.BOARD_ID,
     {"certifying_board_id": "123456", "first_name": "Anne"},
     {"certifying_board_id": "123456"}),
    ("LATE_REPORT", rules.COMPLETION_DATE, {"completion_date": "05/10/2025"},
     {"completion_date": "05/11/2025"}),
    ("STATE_NOT_PARTICIPATING", rules.LICENSING_STATE,
     {"licensing_state": "NY", "licensing_id_or_npi": ""},
     {"licensing_state": "Oregon", "licensing_id_or_npi": ""}),
    ("NAME_LOOKS_SWAPPED", "",
     {"first_name": "Garcia", "last_name": "Maria", "date_of_birth": "07/04",
      "licensing_id_or_npi": ""},
     {"first_name": "Maria", "last_name": "Garcia", "date_of_birth": "07/04",
      "licensing_id_or_npi": ""}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("code", "column", "trigger", "near_miss"),
    ROW_CODES,
    ids=[f"{code}-{n}" for n, (code, *_) in enumerate(ROW_CODES)],
)
def test_each_row_code_is_found_where_it_applies_and_not_next_to_it(
    code, column, trigger, near_miss
):
    [triggered] = judge(row(**trigger))
    found = [finding for finding in triggered.findings if finding.code == code]
    assert len(found) == 1, codes(triggered)
    assert found[0].column == column
    assert found[0].severity == rules.CODES[code].severity
    assert triggered.accepted == (rules.CODES[code].severity == rules.WARNING)
    [missed] = judge(row(**near_miss))
    assert code not in codes(missed)
    assert missed.accepted, codes(missed)


def test_every_row_code_of_the_spec_has_a_row_case():
    row_level = {code for code, *_ in ROW_CODES}
    cross_row = {"DUPLICATE_ROW", "DUPLICATE_COMPLETION", "DELETE_NOT_FOUND", "ABS_DAILY_LIMIT"}
    file_level = {code for code in rules.CODES if code.startswith("FILE_")} | {
        "HEADER_MISMATCH",
        "HEADER_MERGED_CELLS",
        "HEADER_NOT_FOUND",
        "NO_HEADER_ROW",
    }
    # test_sandbox_real_files builds these files: a workbook, a mapped Name column, a CSV quote
    # test_sandbox_real_files builds a semicolon CSV for these (the file says dates are day first)
    semicolon_only = {"DATE_MAYBE_DAY_FIRST", "DOB_MAYBE_DAY_FIRST"}
    workbook_only = {
        "ID_STORED_AS_NUMBER",
        "FORMULA_NO_VALUE",
        "DOB_YEAR_HIDDEN",
        "NAME_SPLIT_CHECK",
        "NAME_ONE_WORD",
        "QUOTE_NOT_CLOSED",
    }
    assert row_level | cross_row | file_level | workbook_only | semicolon_only == set(rules.CODES)


def test_a_bad_row_shows_all_its_problems_at_once():
    [result] = judge(
        row(record_action="Upd", completion_date="1/2/25", date_of_birth="Mar 3", first_name="")
    )
    assert codes(result) == ["ACTION_INVALID", "DATE_FORMAT", "FIRST_NAME_REQUIRED", "DOB_FORMAT"]
    assert result.action == "" and result.record is None


def test_messages_mask_the_date_of_birth_and_identifiers_beyond_the_last_four():
    [result] = judge(
        row(date_of_birth="03/15/1970", licensing_id_or_npi="AB 987654", certifying_board_id="X7")
    )
    messages = " ".join(finding.message for finding in result.findings)
    assert "1970" not in messages and "03/15" not in messages
    assert '"*****7654"' in messages and "AB 98" not in messages
    assert '"X7"' in messages  # four characters or fewer: nothing beyond the last four


def test_names_never_appear_in_messages():
    [result] = judge(row(first_name="Zebulon" * 8, last_name="Quux", date_of_birth="03/16"))
    assert all("Zebulon" not in f.message and "Quux" not in f.message for f in result.findings)


def test_a_delete_needs_no_credits_and_deletes_a_held_record():
    held = judge(row())[0].record
    [result] = judge(
        row(record_action="delete", number_of_cme_credits="", total_board_credits="x"),
        records=HeldRecords(held),
    )
    assert result.accepted and result.action == "Delete"
    assert record_key(result.record) == record_key(held)


def test_delete_of_a_record_the_sandbox_does_not_hold_is_refused():
    [missing] = judge(row(record_action="Delete"))
    assert codes(missing) == ["DELETE_NOT_FOUND"]
    held = judge(row())[0].record
    [found] = judge(row(record_action="Delete"), records=HeldRecords(held))
    assert found.accepted


def test_a_record_added_earlier_in_the_file_can_be_deleted_later_in_it():
    added, deleted = judge(row(), row(record_action="Delete"))
    assert added.accepted and deleted.accepted


def test_the_same_row_twice_is_a_duplicate_pointing_at_the_first():
    first, other_board, second, third = judge(
        row(),
        row(certifying_board="ABS", credit_type="CME"),
        row(first_name="ANN", number_of_cme_credits="1"),
        row(),
    )
    assert first.accepted and other_board.accepted
    assert codes(second) == ["DUPLICATE_ROW"] and "row 2" in second.findings[0].message
    assert "row 2" in third.findings[0].message  # always the first, not the latest


def test_the_same_row_as_a_held_record_is_a_duplicate():
    held = judge(row())[0].record
    [result] = judge(row(), records=HeldRecords(held))
    assert codes(result) == ["DUPLICATE_ROW"] and "earlier upload" in result.findings[0].message


def test_delete_then_add_again_is_how_a_record_changes():
    held = judge(row())[0].record
    deleted, added = judge(
        row(record_action="Delete"), row(number_of_cme_credits="1"), records=HeldRecords(held)
    )
    assert deleted.accepted and added.accepted


def test_a_second_delete_of_one_record_is_a_duplicate():
    held = judge(row())[0].record
    _, again = judge(
        row(record_action="Delete"), row(record_action="Delete"), records=HeldRecords(held)
    )
    assert codes(again) == ["DUPLICATE_ROW"]


ABP = {
    "certifying_board": "ABP",
    "credit_type": "Lifelong Learning and Self-Assessment",
}


def test_abp_takes_one_completion_per_learner_per_activity():
    first, later, other_learner = judge(
        row(**ABP),
        row(**ABP, completion_date="06/02/2025"),
        row(**ABP, first_name="Bo", licensing_id_or_npi=""),
    )
    assert first.accepted and other_learner.accepted
    assert codes(later) == ["DUPLICATE_COMPLETION"] and "row 2" in later.findings[0].message


def test_abim_takes_more_than_one_completion_per_activity():
    first, later = judge(row(), row(completion_date="06/02/2025"))
    assert first.accepted and later.accepted


def test_an_aba_completion_already_held_is_a_duplicate_completion():
    held = judge(
        row(
            certifying_board="ABA",
            total_board_credits="1",
            credit_type="Lifelong Learning",
            credits_awarded_for_credit_type="1",
            certifying_board_id="555",
        )
    )[0].record
    aba = {
        "certifying_board": "ABA",
        "total_board_credits": "1",
        "credit_type": "Lifelong Learning",
        "credits_awarded_for_credit_type": "1",
        "certifying_board_id": "555",
    }
    [again] = judge(row(**aba, completion_date="06/03/2025"), records=HeldRecords(held))
    assert codes(again) == ["DUPLICATE_COMPLETION"]
    deleted, replaced = judge(
        row(**aba, record_action="Delete"), row(**aba, completion_date="06/03/2025"),
        records=HeldRecords(held),
    )  # fmt: skip
    assert deleted.accepted and replaced.accepted


ABS = {
    "certifying_board": "ABS",
    "certifying_board_id": "",
    "credit_type": "CME",
    "number_of_cme_credits": "",
    "licensing_state": "",
}


def test_more_than_twelve_abs_credits_on_one_day_is_a_warning():
    first, second, other_day = judge(
        row(**ABS, total_board_credits="8", credits_awarded_for_credit_type="8"),
        row(**ABS, total_board_credits="4.25", credits_awarded_for_credit_type="4",
            accme_activity_id="987654321"),
        row(**ABS, total_board_credits="8", credits_awarded_for_credit_type="8",
            completion_date="06/02/2025"),
    )  # fmt: skip
    assert first.findings == () and other_day.findings == ()
    assert codes(second) == ["ABS_DAILY_LIMIT"] and second.accepted
    assert "12.25" in second.findings[0].message


def test_exactly_twelve_abs_credits_on_one_day_is_fine():
    results = judge(
        row(**ABS, total_board_credits="8", credits_awarded_for_credit_type="8"),
        row(**ABS, total_board_credits="4", credits_awarded_for_credit_type="4",
            accme_activity_id="987654321"),
    )  # fmt: skip
    assert all(result.findings == () for result in results)


def test_learner_keys_ignore_case_and_spacing():
    assert learner_key(" Ann ", "de  la Cruz", 3, 15, "") == learner_key(
        "ANN", "De La Cruz", 3, 15, ""
    )


def test_a_learner_is_told_apart_by_license_npi_and_board_id_written_any_way():
    """The identifiers a learner is reported under: the license folded (case, dashes), its
    state, an NPI whatever state it is written with, the board ID only with a board."""
    assert learner_identity("CA", "zz-111", None, None) == learner_identity(
        "CA", "ZZ111", None, None
    )
    assert learner_identity("CA", "ZZ111", None, None) != learner_identity(
        "OR", "ZZ111", None, None
    )
    assert learner_identity("CA", "1234567893", None, None) == learner_identity(
        None, "1234567893", None, None
    )
    assert learner_identity("CA", "ZZ111", "ABIM", "777") != learner_identity(
        "CA", "ZZ111", "ABIM", "778"
    )
    assert learner_identity(None, None, None, "777") == ""


def test_summary_counts_rows_and_codes():
    results = judge(row(), row(first_name=""), row(completion_date="05/01/2025", first_name="B"))
    summary = summarize(results)
    assert (summary.rows_read, summary.accepted, summary.rejected) == (3, 2, 1)
    assert summary.warnings == 1 and summary.errors == 1
    assert summary.by_code == {"FIRST_NAME_REQUIRED": 1, "LATE_REPORT": 1}
    assert not summary.file_rejected


def test_summary_of_a_refused_file_counts_the_file_finding():
    summary = summarize(judge_file(io.BytesIO(b""), "learners.csv", context()))
    assert summary.rows_read == 0 and summary.file_rejected
    assert summary.by_code == {"FILE_EMPTY": 1}


def test_findings_csv_has_the_exact_header_and_neutralizes_formulas():
    findings = [
        Finding(3, rules.RECORD_ACTION, "error", "ACTION_INVALID", "=HYPERLINK(1)"),
        Finding(None, "", "error", "FILE_EMPTY", '-1+2, "quoted"\nnext'),
        Finding(4, "@col", "warning", "LATE_REPORT", "+tab\tand\rcr"),
    ]
    text = "".join(findings_csv(findings))
    parsed = list(csv.reader(io.StringIO(text)))
    assert text.startswith("\ufeffrow,column,severity,code,message\r\n")
    assert parsed[1] == ["3", "Record Action", "error", "ACTION_INVALID", "'=HYPERLINK(1)"]
    assert parsed[2] == ["", "", "error", "FILE_EMPTY", '\'-1+2, "quoted"\nnext']
    assert parsed[3][1] == "'@col" and parsed[3][4] == "'+tab\tand\rcr"


def test_findings_csv_of_nothing_is_the_header_alone():
    assert list(findings_csv([])) == ["\ufeffrow,column,severity,code,message\r\n"]


def _generated_csv(path, rows: int) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(rules.HEADERS)
        for n in range(rows):
            values = row(first_name=f"Learner{n}", licensing_id_or_npi=f"L{n}")
            if n % 10 == 0:
                values[rules.CME_CREDITS] = "1.3"
            writer.writerow([values.get(column, "") for column in rules.HEADERS])


def _peak_judging(path) -> tuple[int, int]:
    judge_context = context()
    tracemalloc.start()
    try:
        with path.open("rb") as stream:
            summary = summarize(judge_file(stream, path.name, judge_context))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return summary.rows_read, peak


def test_memory_does_not_grow_with_the_rows_beyond_a_few_bytes_of_key_each(tmp_path):
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    _generated_csv(small, 10_000)
    _generated_csv(large, 100_000)
    small_rows, small_peak = _peak_judging(small)
    large_rows, large_peak = _peak_judging(large)
    assert (small_rows, large_rows) == (10_000, 100_000)
    # What does grow is the index of row keys behind DUPLICATE_ROW: at most 54 bytes a row
    # (12-byte slots, at least 1/3 full, plus the old table while it doubles). The rows
    # themselves (about 100 bytes each on disk, more as Python objects) are never held.
    assert large_peak - small_peak < 54 * (large_rows - small_rows)
    assert large_peak < large.stat().st_size / 2


NAME_WORDS = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzÁÉÖñçßABCDEFGHIJKLMNOPQRSTUVWXYZ'.-"),
    min_size=1,
    max_size=9,
).filter(
    lambda word: (
        any(char.isalpha() for char in word)
        and word.casefold().strip(".") not in rules.NAME_CREDENTIALS
    )  # added to nameparser's list
)


@settings(max_examples=300, deadline=None)
@given(first=NAME_WORDS, last=NAME_WORDS, comma=st.booleans())
def test_a_two_word_name_is_split_as_nameparser_splits_it(first, last, comma):
    text = f"{last}, {first}" if comma else f"{first} {last}"
    name = HumanName(text)
    expected = (" ".join(part for part in (name.first, name.middle) if part), name.last)
    if all(expected):  # names nameparser finds whole; a title or suffix alone is judged apart
        assert split_name(text)[:2] == expected


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("Lee\u200b", "it was left out here"),
        ("Lee\u00a0Chan", "it was read as an ordinary space here"),
        ("Lee\u00a0\u200bChan", "the spaces were read as ordinary spaces and the rest left out"),
    ],
)
def test_an_invisible_character_message_says_what_the_value_became(value, said):
    [result] = judge(row(last_name=value))
    [finding] = result.findings
    assert finding.code == "INVISIBLE_CHARACTER"
    assert said in finding.message


@settings(deadline=None)  # the first example loads polars
@given(
    first=st.text(min_size=1, max_size=12),
    month=st.integers(1, 12),
    seed=st.integers(0, 2**64 - 1),
)
def test_a_completion_and_abs_day_key_is_the_same_number_row_by_row_and_in_a_column(
    first, month, seed
):
    # RowJudge's rows and a batch's columns meet in the same runs: their in-file keys agree.
    learner = LearnerKey(first, "lee", month, 15, "CA:A12345 ABIM#123456")
    day = date(2025, 6, 1)
    text = pl.Series(
        [
            f"ABIM\x1f{batches._learner_text(learner)}\x1f{ACTIVITY_ID}",
            f"{batches._learner_text(learner)}\x1f{day.isoformat()}",
        ]
    ).to_frame("text")
    in_columns = text.select(batches._seeded_key64(pl.col("text"), seed)).to_series().to_list()
    assert in_columns == [
        batches._completion_key64(seed, "ABIM", learner, ACTIVITY_ID),
        batches._day_key64(seed, learner, day),
    ]


def test_a_state_board_without_pars_data_is_named_only_where_credit_is_reported():
    """STATE_NOT_PARTICIPATING is about credit reported to a state board; a learners-only check
    reports no credit, so it checks the state is one (STATE_UNKNOWN) and says nothing of its
    board."""
    rows = [row(licensing_state="NY", licensing_id_or_npi=""), row(licensing_state="Narnia")]
    data = csv_bytes(rows)

    full = list(judge_file(io.BytesIO(data), "learners.csv", context()))
    learners = list(judge_file(io.BytesIO(data), "learners.csv", context(), learners_only=True))

    assert "STATE_NOT_PARTICIPATING" in codes(full[0])
    assert "STATE_NOT_PARTICIPATING" not in codes(learners[0])
    assert "STATE_UNKNOWN" in codes(learners[1])
