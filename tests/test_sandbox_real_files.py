"""Learner files as providers really have them: the ACCME template as people change it and as
Excel saves it, built here the way Excel and people make them, judged as a person expects."""

import csv
import io
import re
import zipfile
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import Workbook

from training.sandbox import rules
from training.sandbox.judge import (
    Activity,
    BoardRegistration,
    Finding,
    JudgeContext,
    NoRecords,
    Register,
    RegisterEntry,
    RowResult,
    judge_file,
)

TODAY = date(2025, 6, 10)
CONTEXT = JudgeContext(
    activities={
        "123456789": Activity(
            "123456789",
            "Sepsis update",
            date(2025, 1, 1),
            date(2025, 12, 31),
            Decimal(3),
            {
                "ABIM": BoardRegistration(
                    Decimal(2), frozenset({"Medical Knowledge", "Practice Assessment"})
                )
            },
        )
    },
    register=Register([RegisterEntry("Ann", "Lee", 9, 10, "CA", "A-12345", None, None, None)]),
    records=NoRecords(),
    today=TODAY,
)
# ACCME's own template writes "Credit Type " with a trailing space.
ACCME_HEADER = [*rules.REQUIRED_HEADERS[:12], "Credit Type ", rules.CREDIT_TYPE_CREDITS]
# Fictional learners, as a person types them into the template.
LEARNERS = [
    ["Add", "123456789", "06/01/2025", "Ann", "Lee", "09/10", "CA", "A-12345", "1.5",
     "ABIM", "0042", "2", "Medical Knowledge", "2"],
    ["Add", "123456789", "06/02/2025", "Renée", "O’Brien", "03/15", "Oregon", "00123", "1",
     "", "", "", "", ""],
]  # fmt: skip


def judged(data: bytes, filename: str, context: JudgeContext = CONTEXT) -> list:
    return list(judge_file(io.BytesIO(data), filename, context))


def rows_of(results) -> list[RowResult]:
    return [item for item in results if isinstance(item, RowResult)]


def file_findings(results) -> list[Finding]:
    return [item for item in results if isinstance(item, Finding)]


def codes(result: RowResult) -> list[str]:
    return [finding.code for finding in result.findings]


# --- How people and Excel make the files ------------------------------------------------------


def template_workbook(
    rows,
    *,
    guidance: bool = True,
    header=ACCME_HEADER,
    hidden_sheet_first: bool = False,
    dates_typed: bool = False,
):
    """The ACCME learner template filled in by a person in Excel: guidance on row 1 (unless
    deleted), header, then rows. With ``dates_typed`` the person typed MM/DD into a General
    Date of Birth cell, which Excel turned into a date of this year (shown 10-Sep)."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Learners"
    if hidden_sheet_first:
        old = workbook.create_sheet("Old learners", 0)
        old.append(["Record Action", "Something else"])
        old.append(["Add", "an old list nobody judges"])
        old.sheet_state = "hidden"
    if guidance:
        sheet.append([rules.GUIDANCE_LINE])
    sheet.append(list(header))
    for values in rows:
        sheet.append([_typed(value, column) for column, value in enumerate(values)])
        if dates_typed:
            cell = sheet.cell(sheet.max_row, 6)
            month, day = (int(part) for part in values[5].split("/"))
            cell.value = datetime(TODAY.year, month, day)
            cell.number_format = "d-mmm"
    workbook.create_sheet("ValidValues").append(["Add", "Delete"])
    return workbook


def _typed(value: str, column: int):
    """What Excel stores for what a person types in a General cell: numbers become numbers,
    except where the template's column keeps text (IDs with leading zeros are typed as text
    there)."""
    if column in (8, 11, 13) and value and re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value) if "." in value else int(value)
    return value


def xlsx_bytes(workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def with_cached_values(data: bytes, values: dict[str, str]) -> bytes:
    """The workbook as Excel saves it: each formula cell (by coordinate) with its computed
    value stored beside it. openpyxl writes formulas without values, as scripts do."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in source.infolist():
            content = source.read(member)
            if member.filename == "xl/worksheets/sheet1.xml":
                text = content.decode()
                for coordinate, value in values.items():
                    text, count = re.subn(
                        rf'(<c r="{coordinate}"[^>]*>)(<f>[^<]*</f>)<v\s*/?>(</v>)?',
                        rf"\1\2<v>{value}</v>",
                        text,
                    )
                    assert count == 1, coordinate
                content = text.encode()
            archive.writestr(member, content)
    return buffer.getvalue()


def excel_save_as_text(rows, *, delimiter=",", encoding="utf-8-sig", width=14) -> bytes:
    """What Excel's Save As writes for a sheet: every row padded to the used width, CRLF,
    quotes only where needed; "CSV UTF-8" has a BOM, "Text (Tab delimited)" is Windows-1252."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    for values in rows:
        writer.writerow([*values, *[""] * (width - len(values))])
    return buffer.getvalue().encode(encoding)


# --- The table of the issue: what providers do to the template ---------------------------------


def test_template_with_guidance_row_deleted_is_read_by_its_header():
    data = xlsx_bytes(template_workbook(LEARNERS, guidance=False))
    first, second = judged(data, "learners.xlsx")
    assert (first.row, second.row) == (2, 3)
    assert first.accepted and second.accepted, (codes(first), codes(second))


def test_template_kept_whole_reads_from_row_3_with_the_trailing_space_header():
    first, second = judged(xlsx_bytes(template_workbook(LEARNERS)), "learners.xlsx")
    assert (first.row, second.row) == (3, 4)
    assert first.findings == () and second.accepted


@pytest.mark.parametrize(
    ("filename", "delimiter", "encoding"),
    [
        ("learners.csv", ",", "utf-8-sig"),  # CSV UTF-8 (Comma delimited)
        ("learners.csv", ",", "cp1252"),  # CSV (Comma delimited)
        ("learners.txt", "\t", "cp1252"),  # Text (Tab delimited)
    ],
)
def test_template_saved_as_csv_or_text_keeps_its_guidance_line_and_is_read(
    filename, delimiter, encoding
):
    data = excel_save_as_text(
        [[rules.GUIDANCE_LINE], ACCME_HEADER, *LEARNERS], delimiter=delimiter, encoding=encoding
    )
    assert data.count(b"\r\n") == 4
    results = judged(data, filename)
    first, second = rows_of(results)
    assert file_findings(results) == []
    assert (first.row, second.row) == (3, 4)
    assert first.findings == () and second.accepted
    assert (second.record.first_name, second.record.last_name) == ("Renée", "O’Brien")


def test_birthdays_excel_turned_into_dates_are_read_as_month_and_day_with_a_warning():
    data = xlsx_bytes(template_workbook(LEARNERS, dates_typed=True))
    first, second = judged(data, "learners.xlsx")
    assert codes(first) == ["DOB_MADE_A_DATE"] and codes(second) == ["DOB_MADE_A_DATE"]
    assert first.accepted and second.accepted
    assert (first.record.birth_month, first.record.birth_day) == (9, 10)
    warning = first.findings[0]
    assert warning.severity == "warning" and warning.column == rules.DATE_OF_BIRTH
    assert "format the Date of Birth column as Text" in warning.message
    assert "09" not in warning.message and "Sep" not in warning.message  # no birthday shown


def test_the_same_saved_as_csv_shows_day_month_and_is_read_with_the_warning():
    rows = [[*LEARNERS[0][:5], "10-Sep", *LEARNERS[0][6:]], [*LEARNERS[1][:5], "15-Mar",
            *LEARNERS[1][6:]]]  # fmt: skip
    data = excel_save_as_text([[rules.GUIDANCE_LINE], ACCME_HEADER, *rows])
    first, second = judged(data, "learners.csv")
    assert codes(first) == ["DOB_MADE_A_DATE"] and codes(second) == ["DOB_MADE_A_DATE"]
    assert (second.record.birth_month, second.record.birth_day) == (3, 15)
    assert "saved as DD-Mon" in first.findings[0].message


def test_a_birth_date_typed_with_its_year_is_still_refused_for_the_year():
    workbook = template_workbook(LEARNERS)
    workbook["Learners"]["F3"].value = datetime(1975, 9, 10)
    workbook["Learners"]["F3"].number_format = "mm/dd/yyyy"
    first, _ = judged(xlsx_bytes(workbook), "learners.xlsx")
    assert codes(first) == ["DOB_HAS_YEAR"] and not first.accepted


def test_a_tab_delimited_file_without_its_header_is_judged_by_position_with_one_warning():
    data = excel_save_as_text(LEARNERS, delimiter="\t", encoding="cp1252")
    results = judged(data, "learners.txt")
    [warning] = file_findings(results)
    assert (warning.code, warning.severity, warning.row) == ("NO_HEADER_ROW", "warning", None)
    first, second = rows_of(results)
    assert (first.row, second.row) == (1, 2)
    assert first.findings == () and second.accepted


def test_unnumbered_additional_credit_type_pairs_are_read_in_order():
    header = [*ACCME_HEADER, *rules.UNNUMBERED_PAIR, *rules.UNNUMBERED_PAIR]
    row = [*LEARNERS[0][:13], "1", "Practice Assessment", "0.5", "", ""]
    [result] = judged(xlsx_bytes(template_workbook([row], header=header)), "learners.xlsx")
    assert result.findings == ()
    assert result.record.credit_awards == (
        ("Medical Knowledge", Decimal(1)),
        ("Practice Assessment", Decimal("0.5")),
    )


def test_numbered_additional_pairs_with_loose_spelling_are_read():
    header = [h.upper() + "  " for h in rules.HEADERS[:16]]
    row = [*LEARNERS[0][:13], "1", "practice assessment", "0.5"]
    [result] = judged(excel_save_as_text([header, row], width=16), "learners.csv")
    assert result.findings == ()
    assert len(result.record.credit_awards) == 2


def test_an_old_hidden_sheet_before_the_visible_one_is_skipped_and_the_sheet_named():
    data = xlsx_bytes(template_workbook(LEARNERS, hidden_sheet_first=True))
    judgement = judge_file(io.BytesIO(data), "learners.xlsx", CONTEXT)
    results = list(judgement)
    assert [result.row for result in results] == [3, 4]
    assert all(result.accepted for result in results)
    assert judgement.layout.sheet_name == "Learners"
    assert judgement.layout.hidden_sheets == ("Old learners",)


def test_a_computed_credit_is_judged_as_excel_shows_it():
    workbook = template_workbook(LEARNERS)
    workbook["Learners"]["I3"] = "=0.07*25"
    data = with_cached_values(xlsx_bytes(workbook), {"I3": "1.7500000000000002"})
    first, _ = judged(data, "learners.xlsx")
    assert first.findings == ()
    assert first.record.cme_credits == Decimal("1.75")


def test_a_computed_credit_in_a_script_made_csv_is_judged_as_excel_would_show_it():
    row = [*LEARNERS[0][:8], "1.7500000000000002", *LEARNERS[0][9:]]
    [result] = judged(excel_save_as_text([ACCME_HEADER, row]), "learners.csv")
    assert result.findings == () and result.record.cme_credits == Decimal("1.75")


def test_a_formula_cell_with_no_saved_value_is_named_not_called_blank():
    workbook = template_workbook(LEARNERS)
    workbook["Learners"]["E3"] = '=PROPER("lee")'
    workbook["Learners"]["I4"] = "=0.5*2"
    first, second = judged(xlsx_bytes(workbook), "learners.xlsx")
    assert codes(first) == ["FORMULA_NO_VALUE"] and not first.accepted
    assert first.findings[0].column == rules.LAST_NAME
    assert "paste it back as values" in first.findings[0].message
    assert codes(second) == ["FORMULA_NO_VALUE"]
    assert second.findings[0].column == rules.CME_CREDITS


def test_an_excel_date_serial_in_a_csv_date_column_is_named_with_its_date():
    row = [*LEARNERS[0][:2], "45809", *LEARNERS[0][3:]]
    [result] = judged(excel_save_as_text([ACCME_HEADER, row]), "learners.csv")
    [finding] = result.findings
    assert (finding.code, finding.column) == ("DATE_IS_SERIAL", rules.COMPLETION_DATE)
    assert "Excel date serial" in finding.message and "06/01/2025" in finding.message


def test_a_semicolon_separated_csv_is_read_and_says_how_to_save_with_commas():
    results = judged(
        excel_save_as_text([[rules.GUIDANCE_LINE], ACCME_HEADER, *LEARNERS], delimiter=";"),
        "learners.csv",
    )
    [warning] = file_findings(results)
    assert warning.code == "FILE_SEMICOLONS" and warning.severity == "warning"
    assert "comma" in warning.message
    first, second = rows_of(results)
    assert first.findings == () and second.accepted


def test_decimal_commas_of_a_semicolon_csv_are_named_as_they_are():
    row = [*LEARNERS[0][:8], "1,5", *LEARNERS[0][9:]]
    results = judged(excel_save_as_text([ACCME_HEADER, row], delimiter=";"), "learners.csv")
    [result] = rows_of(results)
    assert codes(result) == ["CREDITS_FORMAT"] and '"1,5"' in result.findings[0].message


def test_leading_zeros_are_kept_in_every_format():
    workbook = template_workbook(LEARNERS)
    sheet = workbook["Learners"]
    sheet["H4"].value = 4217  # a license number in a cell formatted to show six digits
    sheet["H4"].number_format = "000000"
    first, second = judged(xlsx_bytes(workbook), "learners.xlsx")
    assert first.record.board_id == "0042"
    assert second.record.license_or_npi == "004217"
    text = judged(excel_save_as_text([ACCME_HEADER, *LEARNERS], delimiter="\t"), "l.txt")
    assert [row.record.license_or_npi for row in rows_of(text)] == ["A-12345", "00123"]


def test_a_title_and_blank_lines_above_the_header_are_skipped():
    data = excel_save_as_text(
        [["Sierra Valley Medical Society: learners, June"], [], ACCME_HEADER, *LEARNERS]
    )
    results = judged(data, "learners.csv")
    assert [result.row for result in results] == [4, 5]
    assert all(result.accepted for result in results)
