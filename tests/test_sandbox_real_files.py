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
from openpyxl.styles import Alignment

from training.sandbox import rules
from training.sandbox.columns import ColumnMap
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


def excel_save_as_text(
    rows, *, delimiter=",", encoding="utf-8-sig", width=14, errors="strict"
) -> bytes:
    """What Excel's Save As writes for a sheet: every row padded to the used width, CRLF,
    quotes only where needed; "CSV UTF-8" has a BOM, "Text (Tab delimited)" is Windows-1252."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    for values in rows:
        writer.writerow([*values, *[""] * (width - len(values))])
    return buffer.getvalue().encode(encoding, errors)


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
    message = first.findings[0].message
    assert "saved as a day and a month name" in message
    assert "Sep" not in message and "10" not in message  # the birthday is described, not shown


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
    # 06/01/2025 and 09/10 read either way in a semicolon file (see the test below).
    assert codes(first) == ["DATE_MAYBE_DAY_FIRST", "DOB_MAYBE_DAY_FIRST"] and first.accepted
    assert second.accepted


def test_decimal_commas_and_day_first_dates_of_a_semicolon_csv_are_named_as_they_are():
    row = [*LEARNERS[0][:2], "01.06.2025", *LEARNERS[0][3:5], "10.09.", *LEARNERS[0][6:8],
           "1,5", *LEARNERS[0][9:11], "2,0", LEARNERS[0][12], "2"]  # fmt: skip
    results = judged(excel_save_as_text([ACCME_HEADER, row], delimiter=";"), "learners.csv")
    [warning] = file_findings(results)
    assert "dates month first (MM/DD/YYYY) and a decimal point" in warning.message
    [result] = rows_of(results)
    assert codes(result) == [
        "DATE_DAY_FIRST", "DOB_DAY_FIRST", "CREDITS_DECIMAL_COMMA", "CREDITS_DECIMAL_COMMA"
    ]  # fmt: skip
    date_finding, birthday, cme, board = result.findings
    assert '"01.06.2025", written day first' in date_finding.message
    assert "write 06/01/2025" in date_finding.message
    assert "day first (DD.MM.)" in birthday.message and "10" not in birthday.message
    assert '"1,5", written with a decimal comma' in cme.message
    assert "write 1.5" in cme.message and "write 2.0" in board.message


def test_ambiguous_dates_of_a_semicolon_csv_say_they_may_be_day_first_and_how_pars_reads_them():
    """The tester's eu_ambiguous.csv, saved by European Excel (UTF-8 BOM, semicolons): a
    date only day first can be is refused as before; one that reads either way is accepted
    with a warning naming both readings, so it cannot reach PARS unsaid; one with both
    numbers the same reads alike either way and is left alone."""
    context = JudgeContext(
        {"123456789": Activity("123456789", "Sepsis update", date(2025, 1, 1),
                               date(2025, 12, 31), Decimal(3), {})},
        Register([]), NoRecords(), date(2025, 9, 20),
    )  # fmt: skip
    learner = ["Ann", "Lee"]
    rows = [
        ["Add", "123456789", "20/11/2025", *learner, "25/12", "CA", "A-12345", "1"],
        ["Add", "123456789", "09/10/2025", *learner, "07/08", "CA", "A-12345", "1"],
        ["Add", "123456789", "09/09/2025", *learner, "03/03", "CA", "A-12345", "1"],
        ["Add", "123456789", "2025-09-15", *learner, "13/08", "CA", "A-12345", "1"],
    ]
    data = excel_save_as_text([ACCME_HEADER, *rows], delimiter=";")
    assert data.startswith(b"\xef\xbb\xbf")
    for results in (judged(data, "eu_ambiguous.csv", context),
                    list(judge_file(io.BytesIO(data), "eu_ambiguous.csv", context,
                                    fast_path=False))):  # fmt: skip
        day_first, either_way, alike, iso = rows_of(results)
        assert codes(day_first) == ["DATE_DAY_FIRST", "DOB_DAY_FIRST"]
        assert codes(either_way) == ["DATE_MAYBE_DAY_FIRST", "DOB_MAYBE_DAY_FIRST"]
        assert either_way.accepted
        completion, birthday = either_way.findings
        assert "separated by semicolons" in completion.message
        assert "PARS reads it month first, as September 10, 2025" in completion.message
        assert "if it means October 9, 2025, write 10/09/2025" in completion.message
        # The birthday itself is never shown (the spec masks Date of Birth in findings).
        assert "swap the two numbers so that it reads MM/DD" in birthday.message
        assert not {"July", "August", "07/08", "08/07"} & set(birthday.message.split())
        assert codes(alike) == [] and codes(iso) == ["DOB_DAY_FIRST"]


def test_a_comma_csv_whose_dates_are_day_first_somewhere_says_so_of_the_others_at_the_end():
    """No semicolons, but a completion date only day first can be (20/11/2025): the rows are
    streamed, so the dates that read either way before and after it are named in one
    file-level warning after the last row, the same on every path."""
    rows = [
        [*LEARNERS[0][:2], "09/10/2025", *LEARNERS[0][3:]],
        [*LEARNERS[0][:2], "20/11/2025", *LEARNERS[0][3:5], "03/15", *LEARNERS[0][6:]],
        [*LEARNERS[0][:2], "2025-06-01", *LEARNERS[0][3:5], "07/08", *LEARNERS[0][6:]],
    ]
    data = excel_save_as_text([ACCME_HEADER, *rows])
    context = JudgeContext(CONTEXT.activities, Register([]), NoRecords(), date(2025, 9, 20))
    for fast_path in (True, False):
        results = list(judge_file(io.BytesIO(data), "learners.csv", context, fast_path=fast_path))
        either_way, day_first, birthday = results[:3]
        assert codes(either_way) == [] and either_way.accepted
        assert codes(day_first) == ["DATE_DAY_FIRST"]
        assert codes(birthday) == ["LATE_REPORT"]
        [warning] = results[3:]
        assert warning.code == "FILE_DATES_DAY_FIRST" and warning.row is None
        assert warning.message.startswith(
            'Completion Date "20/11/2025" on row 3 can only be read day first, so the file '
            "probably writes all its dates day first"
        )
        assert (
            'Completion Date "09/10/2025" on row 2 was read as September 10, 2025, though it may '
            "mean October 9, 2025." in warning.message
        )
    birthdays_only = excel_save_as_text([ACCME_HEADER, rows[2], [*rows[2][:5], "25/12",
                                                                *rows[2][6:]]])  # fmt: skip
    warning = judged(birthdays_only, "learners.csv", context)[-1]
    assert warning.message.startswith(
        "A Date of Birth written DD/MM on row 3 can only be read day first"
    )
    assert (
        "a Date of Birth on row 2 was read month first, though its day may come first."
        in warning.message
    )
    assert "July" not in warning.message and "August" not in warning.message


def test_the_same_dates_in_a_comma_csv_are_read_month_first_without_a_word():
    row = [*LEARNERS[0][:2], "06/01/2025", *LEARNERS[0][3:]]
    [result] = judged(excel_save_as_text([ACCME_HEADER, row]), "learners.csv")
    assert result.findings == ()


def test_a_name_excel_saved_with_a_question_mark_for_a_letter_is_refused_saying_so():
    """Excel's plain "CSV (Comma delimited)" saves in Windows-1252: "Nguyễn" becomes "Nguy?n"."""
    row = [*LEARNERS[0][:3], "Nguyễn Văn", "Lee", *LEARNERS[0][5:7], "B-555", *LEARNERS[0][8:]]
    data = excel_save_as_text([ACCME_HEADER, row], encoding="cp1252", errors="replace")
    assert b"Nguy?n V?n" in data
    for results in (judged(data, "learners.csv"), list(judge_file(
        io.BytesIO(data), "learners.csv", CONTEXT, fast_path=False
    ))):  # fmt: skip
        [result] = rows_of(results)
        [finding] = result.findings
        assert (finding.code, finding.column) == ("NAME_LETTER_LOST", rules.FIRST_NAME)
        assert not result.accepted and result.record is None
        assert '"Nguy?n V?n" holds a "?" where a letter probably was' in finding.message
        assert 'save the file as "CSV UTF-8 (Comma delimited)" and retype' in finding.message


def test_a_long_id_excel_wrote_in_scientific_notation_says_its_digits_are_lost():
    row = [*LEARNERS[0][:7], "1.23457E+09", *LEARNERS[0][8:10], "4.56789E+11",
           *LEARNERS[0][11:]]  # fmt: skip
    [result] = rows_of(judged(excel_save_as_text([ACCME_HEADER, row]), "learners.csv"))
    license, board_id = result.findings
    assert (license.code, license.column) == ("ID_SCIENTIFIC_NOTATION", rules.LICENSE_OR_NPI)
    assert (board_id.code, board_id.column) == ("ID_SCIENTIFIC_NOTATION", rules.BOARD_ID)
    assert license.message == (
        'Licensing ID or NPI is "*******E+09": Excel turned the number into scientific '
        "notation when it saved the file, and its digits past the first few are lost. Format "
        "the column as Text (Format Cells > Text) and retype the ID."
    )
    assert "1.23" not in board_id.message and "E+11" in board_id.message


@pytest.mark.parametrize(
    ("license", "holds"),
    [("A 900004", "a space"), ("A,900004", "a comma"), ("#A900004", 'a "#"'),
     ("ÄA900004", '"Ä"'), ("A.900004", "a period")],
)  # fmt: skip
def test_a_license_with_a_character_it_may_not_hold_says_which(license, holds):
    row = [*LEARNERS[0][:7], license, *LEARNERS[0][8:]]
    [result] = rows_of(judged(excel_save_as_text([ACCME_HEADER, row]), "learners.csv"))
    [finding] = result.findings
    assert finding.code == "LICENSE_FORMAT"
    assert finding.message == (
        'Licensing ID "****0004" may hold only letters, digits and dashes (at most 20 '
        f"characters): it holds {holds}; correct it or leave it blank."
    )


def test_a_board_id_with_a_letter_says_it_holds_one():
    row = [*LEARNERS[0][:10], "A-0042", *LEARNERS[0][11:]]
    [result] = rows_of(judged(excel_save_as_text([ACCME_HEADER, row]), "learners.csv"))
    [finding] = result.findings
    assert finding.message.startswith(
        'Certifying Board ID "**0042" may hold digits only: it holds a letter;'
    )


def test_a_totals_row_at_the_bottom_gets_one_finding_saying_to_delete_it():
    """Excel's Total Row (or a SUM typed under the credits): "Total" in the first column, 2 in
    the credits, nothing else."""
    totals = ["Total", "", "", "", "", "", "", "", "2.5"]
    data = excel_save_as_text([ACCME_HEADER, *LEARNERS, totals])
    for results in (judged(data, "learners.csv"), list(judge_file(
        io.BytesIO(data), "learners.csv", CONTEXT, fast_path=False
    ))):  # fmt: skip
        first, second, total = rows_of(results)
        assert first.accepted and second.accepted
        [finding] = total.findings
        assert (finding.code, finding.column, total.row) == ("TOTALS_ROW", rules.RECORD_ACTION, 4)
        assert finding.message == (
            'This looks like a totals row (Record Action is "Total" and no learner is named), '
            "not a learner; delete it before the upload: PARS would refuse it."
        )


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


def test_ids_stored_as_number_cells_in_a_workbook_may_have_lost_a_leading_zero():
    """A person typed 012345 into a General cell (Excel kept 12345, a number) and a board ID
    the same way; an NPI stored as a number loses nothing (it never starts with 0); a number
    cell formatted 000000 shows its zeros and a text cell keeps them."""
    workbook = template_workbook(LEARNERS)
    sheet = workbook["Learners"]
    sheet["H3"].value = 12345  # was 012345
    sheet["K3"].value = 42  # was 0042
    sheet["H4"].value = 1234567893  # an NPI
    for results in (judged(xlsx_bytes(workbook), "learners.xlsx"), list(judge_file(
        io.BytesIO(xlsx_bytes(workbook)), "learners.xlsx", CONTEXT, fast_path=False
    ))):  # fmt: skip
        first, second = rows_of(results)
        assert [(f.code, f.column) for f in first.findings if f.code == "ID_STORED_AS_NUMBER"] == [
            ("ID_STORED_AS_NUMBER", rules.LICENSE_OR_NPI),
            ("ID_STORED_AS_NUMBER", rules.BOARD_ID),
        ]
        license = first.findings[[f.column for f in first.findings].index(rules.LICENSE_OR_NPI)]
        assert license.severity == "warning" and license.message == (
            'Licensing ID or NPI "*2345" is stored as a number in the workbook, not as text: a '
            "leading zero may have been lost (00123 stored as a number is 123). Format the "
            "column as Text (Format Cells > Text) and retype any ID that starts with a zero."
        )
        assert "ID_STORED_AS_NUMBER" not in codes(second)
    sheet["H3"].number_format = "000000"
    sheet["K3"].value = "0042"
    first, _second = judged(xlsx_bytes(workbook), "learners.xlsx")
    assert "ID_STORED_AS_NUMBER" not in codes(first)
    assert first.record.license_or_npi == "012345"


def test_a_title_and_blank_lines_above_the_header_are_skipped():
    data = excel_save_as_text(
        [["Sierra Valley Medical Society: learners, June"], [], ACCME_HEADER, *LEARNERS]
    )
    results = judged(data, "learners.csv")
    assert [result.row for result in results] == [4, 5]
    assert all(result.accepted for result in results)


# --- Providers' own exports: names in one column, times, hidden rows, stray quotes -------------

OWN_HEADER = ["Name", "DOB", "License #", "State", "Date Completed", "CME Credits"]


def own_export_context() -> JudgeContext:
    """The sandbox with the organization's confirmed mapping for OWN_HEADER (Add, one activity)."""
    targets = [rules.NAME_COLUMN, rules.DATE_OF_BIRTH, rules.LICENSE_OR_NPI,
               rules.LICENSING_STATE, rules.COMPLETION_DATE, rules.CME_CREDITS]  # fmt: skip
    column_map = ColumnMap(
        tuple(OWN_HEADER),
        dict(enumerate(targets)),
        {rules.RECORD_ACTION: "Add", rules.ACTIVITY_ID: "123456789"},
    )
    return JudgeContext(
        CONTEXT.activities, CONTEXT.register, CONTEXT.records, TODAY, column_maps=(column_map,)
    )


def own_export(names: list[str]) -> bytes:
    """An LMS export saved by Excel as CSV UTF-8: one Name column as the LMS writes it."""
    rows = [[name, f"09/{n:02d}", "B-54321", "CA", "6/1/2025", "1"] for n, name in
            enumerate(names, start=1)]  # fmt: skip
    return excel_save_as_text([OWN_HEADER, *rows], width=len(OWN_HEADER))


def test_titles_and_credentials_are_left_out_of_a_split_name_with_a_warning_to_check_it():
    names = ["Odile Frost MD", "Dr. Piers Gallant Jr.", "Dr. Odile Frost", "Piers Gallant, MD",
             "Frost, Odile", "Ana de la Cruz", "José María García Márquez"]  # fmt: skip
    results = rows_of(judged(own_export(names), "export.csv", own_export_context()))
    assert [(r.record.first_name, r.record.last_name) for r in results] == [
        ("Odile", "Frost"), ("Piers", "Gallant"), ("Odile", "Frost"), ("Piers", "Gallant"),
        ("Odile", "Frost"), ("Ana", "de la Cruz"), ("José María García", "Márquez"),
    ]  # fmt: skip
    assert all(result.accepted for result in results)
    warned = {result.row: result.findings[0] for result in results if result.findings}
    assert sorted(warned) == [2, 3, 5, 8]  # a dropped suffix or credential; 3+ names, no comma
    assert {finding.code for finding in warned.values()} == {"NAME_SPLIT_CHECK"}
    suffix = warned[3].message
    assert suffix.startswith(
        'Name "Dr. Piers Gallant Jr." was read as First Name "Piers" and Last Name "Gallant" '
        "(left out: Dr., Jr.)"
    )
    assert "add it back to the last name" in suffix
    assert 'where the last name starts is a guess (write it "Last, First"' in warned[8].message
    assert warned[8].column == "First Name / Last Name"


def test_a_name_column_with_one_word_says_so_not_that_a_first_name_column_is_blank():
    [result] = rows_of(judged(own_export(["Cher"]), "export.csv", own_export_context()))
    [finding] = result.findings
    assert finding.code == "NAME_ONE_WORD" and finding.column == "First Name / Last Name"
    assert finding.message == (
        'Name "Cher" holds one word; PARS needs the learner\'s first and last name: write both '
        'in the Name cell ("Last, First" or "First Last").'
    )


def unknown_learners(count: int) -> list[list[str]]:
    """Learners the register does not know, each completing on another day."""
    return [
        [*LEARNERS[1][:2], f"06/{day:02d}/2025", *LEARNERS[1][3:]] for day in range(1, count + 1)
    ]


def test_a_windows_line_end_inside_a_quoted_cell_is_named_as_one_line_break():
    row = [*LEARNERS[0][:4], '"Lind\r\nqvist"', *LEARNERS[0][5:]]
    data = excel_save_as_text([ACCME_HEADER, LEARNERS[1]]) + (",".join(row) + "\r\n").encode()
    finding = next(
        finding
        for finding in rows_of(judged(data, "learners.csv"))[1].findings
        if finding.code == "CONTROL_CHARACTER"
    )
    assert finding.column == rules.LAST_NAME
    assert "Last Name holds a line break after character 4;" in finding.message, finding.message
    assert "character 5" not in finding.message


def test_line_breaks_tabs_and_invisible_characters_in_names_and_ids_are_named():
    workbook = template_workbook(unknown_learners(6))
    sheet = workbook["Learners"]
    sheet["D3"] = "Ann\nMarie"  # typed with Alt+Enter: Excel wraps the cell
    sheet["D3"].alignment = Alignment(wrap_text=True)
    sheet["E4"] = "O’Brien\u200b"  # pasted from an email
    sheet["D5"] = "\u202eAnn"
    sheet["H6"] = "A-123\t45"  # pasted from another program
    sheet["E7"] = "Lee\u00a0Chan"
    rows = rows_of(judged(xlsx_bytes(workbook), "learners.xlsx"))
    first, second, third, fourth, fifth, sixth = rows
    [finding] = first.findings
    assert (finding.code, finding.column, finding.severity) == (
        "CONTROL_CHARACTER", rules.FIRST_NAME, "error"
    )  # fmt: skip
    assert "a line break after character 3" in finding.message and "Alt+Enter" in finding.message
    assert codes(second) == ["INVISIBLE_CHARACTER"] and second.accepted
    assert "a zero-width space at the end" in second.findings[0].message
    assert second.record.last_name == "O’Brien"  # left out, here and in the PARS-ready file
    assert "it was left out here and in the PARS-ready file" in second.findings[0].message
    assert "a right-to-left override (U+202E) at the start" in third.findings[0].message
    assert third.record.first_name == "Ann"
    assert codes(fourth) == ["CONTROL_CHARACTER"]  # and not LICENSE_FORMAT as well
    assert "a tab after character 5" in fourth.findings[0].message
    assert "a no-break space after character 3" in fifth.findings[0].message
    # The message says what the value became: a space, not nothing.
    assert "it was read as an ordinary space here and in the PARS-ready file" in (
        fifth.findings[0].message
    )
    assert "left out" not in fifth.findings[0].message
    assert fifth.record.last_name == "Lee Chan"
    assert sixth.findings == ()


def test_emoji_and_full_width_letters_in_names_get_a_warning():
    renee, other_day = unknown_learners(2)
    rows = [[*renee[:3], "Ａｎｎ", *renee[4:]], [*other_day[:4], "O’Brien 😀", *other_day[5:]]]
    first, second = rows_of(judged(excel_save_as_text([ACCME_HEADER, *rows]), "learners.csv"))
    assert codes(first) == ["UNUSUAL_CHARACTER"] and first.accepted
    assert "full-width" in first.findings[0].message
    assert codes(second) == ["UNUSUAL_CHARACTER"]
    assert '("😀")' in second.findings[0].message


def test_an_unusual_character_warning_names_every_cause_in_the_name():
    renee = unknown_learners(1)[0]
    rows = [[*renee[:3], "Ｊｏｅ😀", *renee[4:]]]
    (only,) = rows_of(judged(excel_save_as_text([ACCME_HEADER, *rows]), "learners.csv"))

    assert codes(only) == ["UNUSUAL_CHARACTER"] and only.accepted
    message = only.findings[0].message
    assert 'an emoji or symbol ("😀")' in message
    assert 'full-width or joined letters ("Ｊｏｅ", as some keyboard settings type them)' in message


def test_a_completion_date_cell_with_a_time_says_so_and_a_midnight_export_is_read():
    workbook = template_workbook(LEARNERS)
    cell = workbook["Learners"]["C3"]
    cell.value = datetime(2025, 6, 1, 15, 45)
    cell.number_format = "m/d/yyyy h:mm"  # as LMS exports write it
    first, _ = judged(xlsx_bytes(workbook), "learners.xlsx")
    [finding] = first.findings
    assert finding.code == "DATE_HAS_TIME" and "(3:45 PM)" in finding.message

    rows = [[*LEARNERS[0][:2], "2025-06-01 00:00:00", *LEARNERS[0][3:]],
            [*LEARNERS[1][:2], "6/2/2025 3:45 PM", *LEARNERS[1][3:]]]  # fmt: skip
    midnight, afternoon = judged(excel_save_as_text([ACCME_HEADER, *rows]), "learners.csv")
    assert codes(midnight) == ["DATE_MIDNIGHT"] and midnight.accepted
    assert midnight.findings[0].message.startswith(
        'Completion Date "2025-06-01 00:00:00" comes with a midnight time (00:00:00), as many '
        "systems export dates; it was read as 06/01/2025."
    )
    assert midnight.record.completion_date == date(2025, 6, 1)
    assert codes(afternoon) == ["DATE_HAS_TIME"] and not afternoon.accepted
    assert '"6/2/2025 3:45 PM": a date with a time of day (3:45 PM)' in (
        afternoon.findings[0].message
    )


def test_a_completion_date_cell_formatted_with_a_midnight_time_is_read_with_a_warning():
    workbook = template_workbook(LEARNERS)
    workbook["Learners"]["C3"] = datetime(2025, 6, 1)
    workbook["Learners"]["C3"].number_format = "m/d/yyyy h:mm"  # Excel shows 6/1/2025 0:00
    workbook["Learners"]["C4"] = datetime(2025, 6, 2)
    workbook["Learners"]["C4"].number_format = "mm/dd/yyyy"
    first, second = judged(xlsx_bytes(workbook), "learners.xlsx")
    assert codes(first) == ["DATE_MIDNIGHT"] and first.accepted
    assert '"06/01/2025 12:00 AM" comes with a midnight time' in first.findings[0].message
    assert "format the column as a date without a time" in first.findings[0].message
    assert first.record.completion_date == date(2025, 6, 1)
    assert second.findings == ()


def test_a_birth_date_whose_cell_format_hides_the_year_says_the_year_is_hidden():
    workbook = template_workbook(LEARNERS)
    cell = workbook["Learners"]["F3"]
    cell.value = datetime(1975, 9, 10)
    cell.number_format = "mm/dd"  # Excel shows 09/10
    first, _ = judged(xlsx_bytes(workbook), "learners.xlsx")
    [finding] = first.findings
    assert finding.code == "DOB_YEAR_HIDDEN" and not first.accepted
    assert "its format shows only month and day" in finding.message
    assert "1975" not in finding.message


@pytest.mark.parametrize(
    ("typed", "code", "said"),
    [
        ("Sep-10", "DOB_FORMAT", "a month name and a number"),
        ("9/10/2025", "DOB_MADE_A_DATE", "full date with the year the spreadsheet added"),
        ("14/03", "DOB_DAY_FIRST", "day first (DD/MM)"),
        ("02/30", "DOB_INVALID_DAY", "its month has no such day"),
        ("13/45", "DOB_INVALID_DAY", "its month is not 01 to 12"),
        ("N/A", "DOB_FORMAT", '"N/A"'),
    ],
)
def test_date_of_birth_messages_describe_the_value_without_masks_or_a_birth_year(typed, code, said):
    row = [*LEARNERS[0][:5], typed, *LEARNERS[0][6:]]
    [result] = rows_of(judged(excel_save_as_text([ACCME_HEADER, row]), "learners.csv"))
    [finding] = result.findings
    assert finding.code == code and said in finding.message
    assert "*" not in finding.message and "DD/DDDD" not in finding.message
    assert "2025" not in finding.message and "Sep-10" not in finding.message
    if any(char.isdigit() for char in typed):  # text with no number holds no birthday
        assert typed not in finding.message


def test_hidden_rows_of_a_workbook_are_judged_and_named_in_one_warning():
    workbook = template_workbook(LEARNERS * 2)
    sheet = workbook["Learners"]
    sheet.row_dimensions[4].hidden = True  # a learner who has not given permission
    sheet.row_dimensions[6].hidden = True
    results = judged(xlsx_bytes(workbook), "learners.xlsx")
    assert [result.row for result in rows_of(results)] == [3, 4, 5, 6]
    [warning] = file_findings(results)
    assert (warning.code, warning.severity) == ("FILE_HIDDEN_ROWS", "warning")
    assert warning.message.startswith("2 hidden rows of the sheet (rows 4, 6) were judged")
    assert "PARS would upload them too" in warning.message


def test_merged_cells_among_the_learner_rows_are_named_as_the_reason_for_blanks():
    # Two learners of one activity on one day: the person types the activity ID and the date
    # once and merges each down over both rows, as the sheet looks tidier that way.
    second = [*LEARNERS[0][:3], "Bo", "Park", *LEARNERS[0][5:]]
    workbook = template_workbook([LEARNERS[0], second])
    sheet = workbook["Learners"]
    sheet["B4"] = sheet["C4"] = None
    sheet.merge_cells("B3:B4")
    sheet.merge_cells("C3:C4")
    results = judged(xlsx_bytes(workbook), "learners.xlsx")
    first, below = rows_of(results)
    assert first.accepted
    assert {finding.column for finding in below.findings} >= {
        rules.ACTIVITY_ID,
        rules.COMPLETION_DATE,
    }
    [warning] = file_findings(results)
    assert (warning.code, warning.severity) == ("FILE_MERGED_CELLS", "warning")
    assert warning.message.startswith(
        "2 merged blocks of cells among the learner rows (B3:B4, C3:C4)"
    )
    assert "Unmerge them" in warning.message


def test_a_merged_title_above_the_header_is_not_named():
    workbook = template_workbook(LEARNERS)
    workbook["Learners"].merge_cells("A1:F1")  # the guidance row, merged as a title
    results = judged(xlsx_bytes(workbook), "learners.xlsx")
    assert [item.code for item in file_findings(results)] == []
    assert all(result.accepted for result in rows_of(results))


def test_a_quote_never_closed_is_named_with_the_lines_it_swallowed():
    good = excel_save_as_text([ACCME_HEADER, LEARNERS[0]])
    broken = ",".join(LEARNERS[1][:3]) + ',"Renée,' + ",".join(LEARNERS[1][4:]) + "\r\n"
    after = ",".join(LEARNERS[0][:3]) + ",Next," + ",".join(LEARNERS[0][4:]) + "\r\n"
    results = judged(good + (broken + after).encode(), "learners.csv")
    first, second = rows_of(results)
    assert first.accepted
    [finding] = second.findings
    assert (finding.code, finding.column, finding.row) == (
        "QUOTE_NOT_CLOSED", rules.FIRST_NAME, 3
    )  # fmt: skip
    assert 'A quote (") opened in First Name on line 3 of the file is never closed' in (
        finding.message
    )
    assert "lines 3–4 were read as one row" in finding.message


def test_a_cell_typed_over_two_lines_is_not_taken_for_an_open_quote():
    row = [*LEARNERS[1][:3], "Ann\r\nMarie", *LEARNERS[1][4:]]
    [result] = judged(excel_save_as_text([ACCME_HEADER, row]), "learners.csv")
    assert codes(result) == ["CONTROL_CHARACTER"]


def test_a_full_birth_date_written_day_first_with_dots_is_read_as_its_month_and_day():
    header = ["Name", "Geburtsdatum", "License #", "State", "Date Completed", "CME Credits"]
    targets = [rules.NAME_COLUMN, rules.BIRTH_DATE_COLUMN, rules.LICENSE_OR_NPI,
               rules.LICENSING_STATE, rules.COMPLETION_DATE, rules.CME_CREDITS]  # fmt: skip
    column_map = ColumnMap(
        tuple(header), dict(enumerate(targets)), {rules.RECORD_ACTION: "Add",
                                                  rules.ACTIVITY_ID: "123456789"}
    )  # fmt: skip
    context = JudgeContext(
        CONTEXT.activities, CONTEXT.register, CONTEXT.records, TODAY, column_maps=(column_map,)
    )
    row = ["Lee, Ann", "14.03.1975", "B-54321", "CA", "6/1/2025", "1"]
    data = excel_save_as_text([header, row], delimiter=";", width=len(header))
    [result] = rows_of(judged(data, "export.csv", context))
    assert result.accepted
    assert (result.record.birth_month, result.record.birth_day) == (3, 14)


def test_two_physicians_in_a_name_column_with_one_name_and_birthday_are_two_learners():
    """A name written "Last, First" and once with a title: the same names and birthday, but
    two licenses, so two physicians; neither row is a duplicate of the other."""
    rows = [
        ["Gallant, Piers", "09/01", "R1", "CA", "6/1/2025", "1"],
        ["Dr. Piers Gallant Jr.", "09/01", "R2", "CA", "6/1/2025", "1"],
    ]
    data = excel_save_as_text([OWN_HEADER, *rows], width=len(OWN_HEADER))
    results = rows_of(judged(data, "export.csv", own_export_context()))
    assert [result.accepted for result in results] == [True, True]
    assert "DUPLICATE_ROW" not in {code for result in results for code in codes(result)}


# --- Columns a provider keeps after the template's ---------------------------------------------


def test_an_extra_column_after_the_template_is_left_out_and_named_by_letter_and_header():
    """The full template (A-T), column U left empty, the provider's own notes in column V."""
    header = [*rules.TEMPLATE_HEADER_ROW, None, "Internal notes"]
    rows = [[*learner, *[""] * 6, "", "called twice"] for learner in LEARNERS]
    results = judged(xlsx_bytes(template_workbook(rows, header=header)), "learners.xlsx")
    [note] = file_findings(results)
    assert note.code == "FILE_EXTRA_COLUMNS" and note.severity == rules.WARNING
    assert note.message.startswith(
        "The header goes on past the template's last column (T) with column V "
        '"Internal notes"; it was left out of the judging and of the PARS-ready file.'
    )
    assert all(result.accepted for result in rows_of(results))


def test_a_header_going_on_with_part_of_a_pair_names_that_column_not_an_empty_one():
    header = [*rules.TEMPLATE_HEADER_ROW, None, "Additional Credit Type 1"]
    [mismatch] = judged(xlsx_bytes(template_workbook([], header=header)), "learners.xlsx")
    assert mismatch.code == "HEADER_MISMATCH"
    assert mismatch.message.startswith(
        'Column 22 (V) should be nothing (no more columns) but is "Additional Credit Type 1"'
    )


# --- A cover sheet before the learners ---------------------------------------------------------


def with_summary_first(workbook, learners_sheet: str = "Learners"):
    """A cover sheet a person adds before the learner sheet: totals for their manager."""
    summary = workbook.create_sheet("Summary", 0)
    summary.append(["Total", "Learners", "Credits"])
    summary.append(["June", 2, 2.5])
    return workbook


def test_a_summary_sheet_first_is_passed_over_for_the_sheet_with_the_template_header():
    workbook = with_summary_first(template_workbook(LEARNERS))
    results = judged(xlsx_bytes(workbook), "learners.xlsx")
    [note] = file_findings(results)
    assert note.code == "FILE_OTHER_SHEET"
    assert note.message.startswith(
        'The workbook\'s first sheet, "Summary", has no learner header, so sheet "Learners", '
        "whose header is the template's, was read."
    )
    assert [result.row for result in rows_of(results)] == [3, 4]
    assert all(result.accepted for result in rows_of(results))


def test_a_summary_sheet_first_is_passed_over_for_a_sheet_read_through_a_mapping():
    workbook = Workbook()
    export = workbook.active
    export.title = "Export"
    export.append(OWN_HEADER)
    export.append(["Ann Lee", "09/10", "A-12345", "CA", "6/1/2025", 1])
    data = xlsx_bytes(with_summary_first(workbook))
    results = judged(data, "export.xlsx", own_export_context())
    assert (
        "whose header matches the column mapping you confirmed" in file_findings(results)[0].message
    )
    assert [result.accepted for result in rows_of(results)] == [True]


def test_when_no_sheet_has_a_learner_header_the_mismatch_names_the_other_sheets():
    workbook = with_summary_first(template_workbook(LEARNERS, header=["Who", "When"]))
    [mismatch] = judged(xlsx_bytes(workbook), "learners.xlsx")
    assert mismatch.code == "HEADER_MISMATCH"
    assert mismatch.message.startswith('Column 1 (A) should be "Record Action" but is "Total"')
    assert mismatch.message.endswith(
        'The workbook\'s first sheet, "Summary", was read, and its other sheets ("Learners", '
        '"ValidValues") have no learner header either: if the learners are on one of them, move '
        "that sheet first or delete the others."
    )


# --- No header row, columns in the provider's own order -------------------------------------------

# First, Last, birthday, license, state, completion date, credits: no header row.
HEADERLESS = [
    ["Ann", "Lee", "09/10", "A-12345", "CA", "6/1/2025", "1"],
    ["Renée", "O’Brien", "03/15", "00123", "OR", "6/2/2025", "1.5"],
]
HEADERLESS_TARGETS = [rules.FIRST_NAME, rules.LAST_NAME, rules.DATE_OF_BIRTH,
                      rules.LICENSE_OR_NPI, rules.LICENSING_STATE, rules.COMPLETION_DATE,
                      rules.CME_CREDITS]  # fmt: skip


def test_a_first_row_of_learner_values_is_said_to_be_no_header_not_taken_for_headings():
    data = excel_save_as_text(HEADERLESS, width=len(HEADERLESS[0]))
    [finding] = judged(data, "learners.csv")
    assert finding.code == "HEADER_NOT_FOUND"
    assert finding.message.startswith("The file seems to have no header row:")
    assert "Ann" not in finding.message


def test_a_file_without_a_header_mapped_by_column_letter_judges_its_first_learner():
    lettered = tuple(f"Column {letter}" for letter in "ABCDEFG")
    column_map = ColumnMap(
        lettered,
        dict(enumerate(HEADERLESS_TARGETS)),
        {rules.RECORD_ACTION: "Add", rules.ACTIVITY_ID: "123456789"},
    )
    context = JudgeContext(
        CONTEXT.activities, CONTEXT.register, CONTEXT.records, TODAY, column_maps=(column_map,)
    )
    data = excel_save_as_text(HEADERLESS, width=len(HEADERLESS[0]))
    results = rows_of(judged(data, "learners.csv", context))
    assert [(result.row, result.record.first_name) for result in results] == [
        (1, "Ann"),
        (2, "Renée"),
    ]
    assert all(result.accepted for result in results)


# --- A tester's real files: a quote open on the last row, totals and notes rows, merged headers -


def both_paths(data: bytes, filename: str, context: JudgeContext = CONTEXT) -> list[list]:
    """The results of the fast path and of RowJudge alone, which must agree."""
    fast = judged(data, filename, context)
    slow = list(judge_file(io.BytesIO(data), filename, context, fast_path=False))
    assert fast == slow
    return fast


def test_a_quote_never_closed_on_the_last_row_is_named_as_on_any_other_row():
    """The quote opens in Last Name of the file's last row: it swallows no next row, only the
    cells after it, which would otherwise be called a blank birthday and no credit."""
    good = excel_save_as_text([ACCME_HEADER, LEARNERS[0]])
    last = ",".join(LEARNERS[1][:4]) + ',"Thornbury,' + ",".join(LEARNERS[1][5:])
    for ending in ("\r\n", ""):  # Excel ends the file with a line end; a text editor may not
        data = good + (last + ending).encode()
        for fast_path in (True, False):
            results = list(
                judge_file(io.BytesIO(data), "learners.csv", CONTEXT, fast_path=fast_path)
            )
            first, second = rows_of(results)
            assert first.accepted
            [finding] = second.findings
            assert (finding.code, finding.column, finding.row) == (
                "QUOTE_NOT_CLOSED", rules.LAST_NAME, 3
            )  # fmt: skip
            assert finding.message.startswith(
                'A quote (") opened in Last Name on line 3 of the file is never closed, so the '
                "rest of that line (the file's last) was read as one cell; remove that quote"
            )


def test_a_quote_never_closed_in_the_last_cell_of_the_last_row_is_named_with_or_without_a_comma():
    """The tester's last row ends `"1` or `"1,5`: the quote opens in the last cell written, and
    runs to the end of the file whether a delimiter follows it or not."""
    good = excel_save_as_text([ACCME_HEADER, LEARNERS[0]])
    start = "Add,200012345,11/29/2026,Blake,Whitcombe,07/06,AL,AL734984,"
    for cell in ('"1', '"1,5'):
        for ending in ("\r\n", ""):
            data = good + (start + cell + ending).encode()
            for fast_path in (True, False):
                results = list(
                    judge_file(io.BytesIO(data), "learners.csv", CONTEXT, fast_path=fast_path)
                )
                [finding] = rows_of(results)[1].findings
                assert (finding.code, finding.column) == ("QUOTE_NOT_CLOSED", rules.CME_CREDITS)
    closed = good + (start + '"1"\r\n').encode()
    assert "QUOTE_NOT_CLOSED" not in codes(rows_of(judged(closed, "learners.csv"))[1])


def test_a_last_cell_quoted_whole_with_a_comma_in_it_is_not_an_open_quote():
    row = [*LEARNERS[0][:12], "Medical Knowledge", "2"]
    data = (
        excel_save_as_text([ACCME_HEADER, LEARNERS[1]])
        + (",".join(row[:-1]) + ',"2,5"\r\n').encode()
    )
    second = rows_of(judged(data, "learners.csv"))[1]
    assert "QUOTE_NOT_CLOSED" not in codes(second)
    assert codes(second) == ["CREDITS_DECIMAL_COMMA"]


def word_document() -> bytes:
    """A .docx as Word saves it (its parts, much shortened)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships/>')
        archive.writestr("word/document.xml", '<?xml version="1.0"?><w:document/>')
    return buffer.getvalue()


@pytest.mark.parametrize("filename", ["learners.csv", "learners.xlsx"])
def test_a_word_document_renamed_is_said_to_be_a_word_document(filename):
    extension = filename[filename.index(".") :]
    [finding] = judged(word_document(), filename)
    assert finding.code == "FILE_TYPE"
    if extension == ".xlsx":  # no workbook to upload itself: save the sheet as one
        instead = (
            "save your learner sheet as an Excel workbook (File > Save As > Excel Workbook, "
            ".xlsx) or as CSV (File > Save As > CSV UTF-8) and upload that."
        )
    else:
        instead = (
            "save your learner sheet as CSV (File > Save As > CSV UTF-8) or upload the .xlsx "
            "workbook itself."
        )
    assert finding.message == (
        f"The file is a Word document named {extension}, not a spreadsheet; {instead}"
    )  # said once: no "upload a .csv, .tsv, .txt…" after it


def test_an_activity_id_excel_wrote_in_scientific_notation_says_its_digits_are_lost():
    row = [LEARNERS[0][0], "1.23457E+08", *LEARNERS[0][2:]]
    [result] = rows_of(both_paths(excel_save_as_text([ACCME_HEADER, row]), "learners.csv"))
    [finding] = result.findings
    assert (finding.code, finding.column) == ("ID_SCIENTIFIC_NOTATION", rules.ACTIVITY_ID)
    assert finding.message.startswith(
        'ACCME Activity ID is "1.23457E+08": Excel turned the number into scientific notation'
    )


def test_a_line_break_in_a_registered_name_is_named_once_not_as_someone_elses_license():
    """Alt+Enter inside "Ann" (the register's Ann Lee, license A-12345): the line break is
    the error; the license is not said to belong to someone else because of it."""
    broken = [*LEARNERS[0][:3], "An\nn", *LEARNERS[0][4:]]
    [result] = rows_of(both_paths(excel_save_as_text([ACCME_HEADER, broken]), "learners.csv"))
    assert codes(result) == ["CONTROL_CHARACTER"]
    # Someone else with a line break in their name is still not the license's holder.
    other = [*LEARNERS[0][:3], "Ann\nMarie", *LEARNERS[0][4:]]
    [result] = rows_of(both_paths(excel_save_as_text([ACCME_HEADER, other]), "learners.csv"))
    assert codes(result) == ["CONTROL_CHARACTER", "LEARNER_NOT_MATCHED"]


MAPPED_HEADER = ["First", "Last", "DOB", "License #", "State", "Date Completed", "CME Credits"]


def mapped_context() -> JudgeContext:
    """The sandbox with a confirmed mapping for MAPPED_HEADER (Add, one activity, fixed)."""
    targets = [rules.FIRST_NAME, rules.LAST_NAME, rules.DATE_OF_BIRTH, rules.LICENSE_OR_NPI,
               rules.LICENSING_STATE, rules.COMPLETION_DATE, rules.CME_CREDITS]  # fmt: skip
    column_map = ColumnMap(
        tuple(MAPPED_HEADER),
        dict(enumerate(targets)),
        {rules.RECORD_ACTION: "Add", rules.ACTIVITY_ID: "123456789"},
    )
    return JudgeContext(
        CONTEXT.activities, CONTEXT.register, CONTEXT.records, TODAY, column_maps=(column_map,)
    )


MAPPED_LEARNER = ["Ann", "Lee", "09/10", "A-12345", "CA", "6/1/2025", "1.5"]


def test_an_autosum_row_without_a_label_is_one_totals_row_finding_in_every_kind_of_file():
    """Excel's AutoSum under the credits, no label typed: in a CSV, a workbook and a mapped
    export alike, one finding saying it is a totals row, not seven about blank cells."""
    template_sum = ["", "", "", "", "", "", "", "", "3"]
    files = [
        (excel_save_as_text([ACCME_HEADER, *LEARNERS, template_sum]), "learners.csv", CONTEXT),
        (xlsx_bytes(template_workbook([*LEARNERS, template_sum])), "learners.xlsx", CONTEXT),
        (
            excel_save_as_text(
                [MAPPED_HEADER, MAPPED_LEARNER, ["", "", "", "", "", "", "1.5"]],
                width=len(MAPPED_HEADER),
            ),
            "export.csv",
            mapped_context(),
        ),
    ]
    for data, filename, context in files:
        *learners, total = rows_of(both_paths(data, filename, context))
        assert all(learner.accepted for learner in learners), filename
        [finding] = total.findings
        assert (finding.code, finding.column) == ("TOTALS_ROW", rules.CME_CREDITS), filename
        assert finding.message.startswith(
            "This looks like a totals row (it holds only numbers, Number of CME Credits "
        )
        assert finding.message.endswith(
            "and no learner is named), not a learner; delete it before the upload: PARS would "
            "refuse it."
        )


def test_a_totals_formula_a_script_wrote_without_its_value_is_one_totals_row_finding():
    """openpyxl (or any script) writes =SUM(I3:I4) under the credits with no saved value: one
    finding saying it is a totals row to delete, as a saved total gets, not seven about blank
    cells and a formula."""
    workbook = template_workbook([*LEARNERS, [""] * 14])
    sheet = workbook["Learners"]
    last = sheet.max_row
    sheet[f"I{last}"] = "=SUM(I3:I4)"
    sheet[f"L{last}"] = "=SUM(L3:L4)"
    *learners, total = rows_of(both_paths(xlsx_bytes(workbook), "learners.xlsx"))
    assert all(learner.accepted for learner in learners)
    [finding] = total.findings
    assert (finding.code, finding.column) == ("TOTALS_ROW", rules.CME_CREDITS)
    assert finding.message == (
        "This looks like a totals row (it holds only a formula with no saved value, in Number "
        "of CME Credits, and no learner is named), not a learner; delete it before the upload: "
        "PARS would refuse it."
    )
    # A formula beside a learner's values is still named as a formula without its value.
    workbook = template_workbook(LEARNERS)
    workbook["Learners"]["I4"] = "=0.5*2"
    assert codes(rows_of(both_paths(xlsx_bytes(workbook), "learners.xlsx"))[1]) == [
        "FORMULA_NO_VALUE"
    ]


def test_a_labelled_totals_row_with_a_formula_without_its_value_is_only_a_totals_row():
    """Total in Record Action, or TOTAL in Last Name, over =SUM(I3:I4) with no saved value:
    the row is a totals row to delete, and its formula is not named again."""
    for label_cell in ("A", "E"):
        workbook = template_workbook([*LEARNERS, [""] * 14])
        sheet = workbook["Learners"]
        last = sheet.max_row
        sheet[f"{label_cell}{last}"] = "Total" if label_cell == "A" else "TOTAL"
        sheet[f"I{last}"] = "=SUM(I3:I4)"
        *learners, total = rows_of(both_paths(xlsx_bytes(workbook), "learners.xlsx"))
        assert all(learner.accepted for learner in learners)
        assert codes(total) == ["TOTALS_ROW"], label_cell


def test_a_row_holding_only_a_formula_in_column_a_is_one_totals_row_finding():
    """=SUM(I3:I4) alone in column A, with no saved value in a workbook or as text in a CSV:
    one TOTALS_ROW finding, as the same formula under the credits gets."""
    workbook = template_workbook([*LEARNERS, [""] * 14])
    sheet = workbook["Learners"]
    sheet[f"A{sheet.max_row}"] = "=SUM(I3:I4)"
    *learners, total = rows_of(both_paths(xlsx_bytes(workbook), "learners.xlsx"))
    assert all(learner.accepted for learner in learners)
    assert codes(total) == ["TOTALS_ROW"]
    assert "it holds only a formula with no saved value, in Record Action" in (
        total.findings[0].message
    )
    learners_saved = excel_save_as_text([ACCME_HEADER, *LEARNERS])
    padded = excel_save_as_text([ACCME_HEADER, *LEARNERS, ["=SUM(I2:I3)"]])
    for data in (padded, learners_saved + b"=SUM(I2:I3)\r\n"):  # padded by Excel, or alone
        *learners, total = rows_of(both_paths(data, "learners.csv"))
        assert all(learner.accepted for learner in learners)
        assert codes(total) == ["TOTALS_ROW"]


def test_total_typed_under_last_name_of_a_mapped_export_is_a_totals_row():
    rows = [MAPPED_HEADER, MAPPED_LEARNER, ["", "Total", "", "", "", "", "1.5"]]
    data = excel_save_as_text(rows, width=len(MAPPED_HEADER))
    learner, total = rows_of(both_paths(data, "export.csv", mapped_context()))
    assert learner.accepted
    [finding] = total.findings
    assert (finding.code, finding.column) == ("TOTALS_ROW", rules.LAST_NAME)
    assert finding.message.startswith(
        'This looks like a totals row (Last Name is "Total" and no learner is named)'
    )


def test_a_note_typed_in_a_row_of_its_own_is_one_finding_saying_to_delete_it():
    note = ["Notes: these are from the Nov course"]
    for data, filename, context in (
        (excel_save_as_text([ACCME_HEADER, *LEARNERS, note]), "learners.csv", CONTEXT),
        (xlsx_bytes(template_workbook([*LEARNERS, note])), "learners.xlsx", CONTEXT),
        (
            excel_save_as_text([MAPPED_HEADER, MAPPED_LEARNER, note], width=len(MAPPED_HEADER)),
            "export.csv",
            mapped_context(),
        ),
    ):
        *learners, noted = rows_of(both_paths(data, filename, context))
        assert all(learner.accepted for learner in learners)
        [finding] = noted.findings
        column = rules.FIRST_NAME if context is not CONTEXT else rules.RECORD_ACTION
        assert (finding.code, finding.column) == ("NOTES_ROW", column), filename
        assert finding.message == (
            f'This looks like a note, not a learner: {column} is "Notes: these are from the Nov '
            'course" and nothing else is filled in (no name, birthday or ID); delete the row '
            "before the upload (keep notes on another sheet or file): PARS would refuse it."
        )


@pytest.mark.parametrize(
    "row",
    [
        # A learner whose names were left out: a birthday and a license say it is someone.
        ["Total", "123456789", "06/01/2025", "", "", "09/10", "CA", "A-12345", "1.5"],
        # A name alone, and a learner row with only its action typed wrong.
        ["", "", "", "Ann Marie Lee"],
        ["Sum", "123456789", "06/01/2025", "Ann", "Lee", "09/10", "CA", "A-12345", "1.5"],
    ],
)
def test_a_learner_row_with_a_mistake_is_not_taken_for_a_totals_or_notes_row(row):
    data = excel_save_as_text([ACCME_HEADER, row])
    [result] = rows_of(both_paths(data, "learners.csv"))
    assert not {"TOTALS_ROW", "NOTES_ROW"} & set(codes(result)), codes(result)
    assert not result.accepted


def test_a_merged_header_cell_is_named_with_how_to_unmerge_it():
    """ "First Name" merged over D1:E1, so it spans the Last Name column: the header names the
    merged cells, not a missing Last Name."""
    workbook = template_workbook(LEARNERS, guidance=False)
    sheet = workbook["Learners"]
    sheet["E1"].value = None
    sheet.merge_cells("D1:E1")
    [finding] = judged(xlsx_bytes(workbook), "learners.xlsx")
    assert (finding.code, finding.row, finding.column) == (
        "HEADER_MERGED_CELLS", 1, rules.LAST_NAME
    )  # fmt: skip
    assert finding.message.startswith(
        "The header cells D1:E1 are merged, so column 5 (E) reads as blank where it should say "
        '"Last Name"; unmerge them (select D1:E1, then Home > Merge & Center), type each '
        "column's name in its own cell as the template has it, and upload the file again."
    )


def test_a_header_merge_over_three_cells_names_each_blank_column_it_covers():
    workbook = template_workbook(LEARNERS, guidance=False)
    sheet = workbook["Learners"]
    sheet["N1"].value = sheet["O1"].value = None
    sheet.merge_cells("M1:O1")
    [finding] = judged(xlsx_bytes(workbook), "learners.xlsx")
    assert (finding.code, finding.column) == ("HEADER_MERGED_CELLS", rules.CREDIT_TYPE_CREDITS)
    assert finding.message.startswith(
        "The header cells M1:O1 are merged, so columns 14 (N) and 15 (O) read as blank where "
        'they should say "Credits Awarded for Credit Type" and "Additional Credit Type 1"; '
        "unmerge them (select M1:O1, then Home > Merge & Center)"
    )


def test_a_blank_header_cell_that_is_not_merged_is_still_a_mismatch():
    workbook = template_workbook(LEARNERS, guidance=False)
    workbook["Learners"]["E1"].value = None
    [finding] = judged(xlsx_bytes(workbook), "learners.xlsx")
    assert finding.code == "HEADER_MISMATCH"
    assert finding.message.startswith('Column 5 (E) should be "Last Name" but is missing')


def test_dates_day_first_name_the_first_rows_holding_them_in_a_workbook():
    """Dates pasted into a workbook as text, written day first: the warning after the last
    row names the row of the date only day first can be and of the first read either way."""
    learner = [*LEARNERS[0][3:5], "03/15", *LEARNERS[0][6:]]  # a birthday read one way only
    rows = [
        [*LEARNERS[0][:2], completion, *learner]
        for completion in ("2025-06-01", "09/10/2025", "20/11/2025", "08/10/2025")
    ]
    context = JudgeContext(CONTEXT.activities, Register([]), NoRecords(), date(2025, 9, 20))
    data = xlsx_bytes(template_workbook(rows))
    warning = both_paths(data, "learners.xlsx", context)[-1]
    assert warning.code == "FILE_DATES_DAY_FIRST"
    assert warning.message.startswith(
        'Completion Date "20/11/2025" on row 5 can only be read day first'
    )
    assert (
        'Completion Date "09/10/2025" on row 4 was read as September 10, 2025, though it may '
        "mean October 9, 2025." in warning.message
    )
