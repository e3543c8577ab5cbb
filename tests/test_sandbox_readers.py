"""Which learner files the sandbox can open, and how it refuses the ones it cannot: real files."""

import csv
import io
import struct
import zipfile
from datetime import date, datetime
from decimal import Decimal
from unittest.mock import patch

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from training.sandbox import readers, rules
from training.sandbox.judge import (
    Activity,
    BoardRegistration,
    Finding,
    JudgeContext,
    NoRecords,
    Register,
    RowResult,
    judge_file,
)
from training.sandbox.readers import FileProblem, open_learner_file

VALID_ROW = [
    "Add", "123456789", "06/01/2025", "Renée", "O’Brien", "03/15", "CA", "", "1.5",
    "ABIM", "777", "2", "Medical Knowledge", "2",
]  # fmt: skip
CONTEXT = JudgeContext(
    activities={
        "123456789": Activity(
            "123456789",
            "Sepsis update",
            date(2025, 1, 1),
            date(2025, 12, 31),
            Decimal(3),
            {"ABIM": BoardRegistration(Decimal(2), frozenset({"Medical Knowledge"}))},
        )
    },
    register=Register(),
    records=NoRecords(),
    today=date(2025, 6, 10),
)


def csv_text(*rows: list[str], header=rules.HEADERS, delimiter=",") -> str:
    lines = [delimiter.join(header), *(delimiter.join(row) for row in rows)]
    return "\r\n".join(lines) + "\r\n"


def judged(data: bytes, filename: str, **context_changes) -> list[RowResult | Finding]:
    context = JudgeContext(**{**CONTEXT.__dict__, **context_changes})
    return list(judge_file(io.BytesIO(data), filename, context))


def file_code(results: list[RowResult | Finding]) -> str:
    [finding] = results
    assert isinstance(finding, Finding) and finding.row is None and finding.column == ""
    assert finding.severity == "error"
    return finding.code


def write_xlsx(path, *rows, guidance=rules.GUIDANCE_LINE, header=rules.HEADERS) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append([guidance])
    sheet.append(list(header))
    for row in rows:
        sheet.append(row)
    workbook.create_sheet("ValidValues").append(["ABIM", "Medical Knowledge"])
    workbook.save(path)
    return path.read_bytes()


# --- CSV and TSV ----------------------------------------------------------------------------


def test_a_csv_row_is_read_and_numbered_as_the_spreadsheet_shows_it():
    [result] = judged(csv_text(VALID_ROW).encode(), "learners.csv")
    assert result.row == 2 and result.accepted
    assert result.record.first_name == "Renée" and result.record.last_name == "O’Brien"


def test_a_windows_1252_csv_is_read_correctly():
    data = csv_text(VALID_ROW).encode("cp1252")
    assert data.decode("cp1252").count("’") == 1 and b"\x92" in data  # the curly apostrophe
    [result] = judged(data, "learners.csv")
    assert result.accepted
    assert (result.record.first_name, result.record.last_name) == ("Renée", "O’Brien")


def test_a_csv_with_a_utf8_bom_keeps_its_first_header():
    [result] = judged(b"\xef\xbb\xbf" + csv_text(VALID_ROW).encode(), "learners.csv")
    assert isinstance(result, RowResult) and result.accepted


def test_an_undecodable_file_is_refused_for_its_encoding():
    # \x81 is neither UTF-8 nor Windows-1252.
    data = csv_text(VALID_ROW).encode("cp1252").replace(b"Ren\xe9e", b"Ren\x81e")
    assert file_code(judged(data, "learners.csv")) == "FILE_ENCODING"


def test_a_character_cut_at_a_chunk_end_is_not_completed_by_a_later_chunk(monkeypatch):
    # Chunks of ASCII alone are not decoded: "Ã" (C3) cut at a chunk's end, then a chunk of
    # ASCII, then "©" (A9) would read as UTF-8's "é" if the ASCII chunk were passed over.
    text = csv_text(VALID_ROW).replace("O’Brien", "OBrien")
    chunk = text.index("Renée") + 4  # the first chunk ends after "RenÃ" (the rest is ASCII)
    text = text.replace("Renée", "Ren\u00c3" + "e" * chunk + "\u00a9")
    monkeypatch.setattr(readers, "_CHUNK", chunk)
    with open_learner_file(io.BytesIO(text.encode("cp1252")), "l.csv", 10_000) as learner_file:
        assert learner_file.encoding == "cp1252"


def _one_line_rows_whole(data: bytes, limit: int) -> bool:
    """What _one_line_rows says, worked out on the file whole: no quote, every return followed
    by a line end, no line longer than the limit."""
    lines = data.split(b"\n")
    return (
        b'"' not in data
        and data.count(b"\r") == data.count(b"\r\n")
        and max(map(len, lines)) <= limit
    )


@given(
    data=st.lists(st.sampled_from([b"a", b",", b" ", b"\r", b"\n", b"\r\n", "é".encode()])).map(
        b"".join
    ),
    chunk=st.integers(1, 9),
    limit=st.integers(2, 12),
)
def test_one_line_rows_reads_chunks_as_the_file_whole_whatever_their_size(data, chunk, limit):
    # Returns and long lines across a chunk's end are found as in the whole file.
    with patch.object(readers, "_CHUNK", chunk):
        before = csv.field_size_limit(limit)
        try:
            found = readers._one_line_rows(io.BytesIO(data), "utf-8")
        finally:
            csv.field_size_limit(before)
    assert found == _one_line_rows_whole(data, limit)


def test_a_utf16_file_is_refused_for_its_encoding():
    data = csv_text(VALID_ROW).encode("utf-16")
    assert file_code(judged(data, "learners.txt")) == "FILE_ENCODING"


def test_a_tab_delimited_txt_and_tsv_are_read():
    data = csv_text(VALID_ROW, delimiter="\t").encode()
    for name in ("learners.txt", "learners.TSV"):
        [result] = judged(data, name)
        assert result.accepted


def test_a_quoted_line_break_stays_one_row():
    data = csv_text(
        ["Add", "123456789", "06/01/2025", '"Mary\nAnn"', "Lee", "03/15", "CA"], VALID_ROW
    ).encode()
    first, second = judged(data, "learners.csv")
    assert (first.row, second.row) == (2, 3)


def test_the_guidance_line_is_skipped_and_rows_keep_their_numbers():
    data = (f'"{rules.GUIDANCE_LINE}"\r\n' + csv_text(VALID_ROW, VALID_ROW)).encode()
    results = judged(data, "learners.csv")
    assert [result.row for result in results] == [3, 4]


def test_empty_rows_and_trailing_empty_columns_are_ignored():
    other = ",".join(VALID_ROW).replace("Renée", "Ann")
    padded = ",".join(rules.HEADERS) + ",,,\r\n" + ",".join(VALID_ROW) + ",,,,,,,,\r\n"
    data = (padded + ",,,,\r\n\r\n" + other + "\r\n" + " , ,\r\n\r\n").encode()
    results = judged(data, "learners.csv")
    assert [result.row for result in results] == [2, 5]
    assert all(result.accepted for result in results)


def test_a_header_with_up_to_three_more_credit_type_pairs_is_accepted():
    for pairs in range(4):
        header = rules.HEADERS[: len(rules.REQUIRED_HEADERS) + 2 * pairs]
        [result] = judged(csv_text(VALID_ROW, header=header).encode(), "learners.csv")
        assert result.accepted


@pytest.mark.parametrize(
    ("header", "column", "found"),
    [
        ((*rules.HEADERS[:5], "DOB", *rules.HEADERS[6:]), rules.DATE_OF_BIRTH, '"DOB"'),
        (rules.HEADERS[1:], rules.RECORD_ACTION, '"ACCME Activity ID"'),
        (rules.HEADERS[:13], rules.CREDIT_TYPE_CREDITS, "missing"),
        (rules.HEADERS[:15], "Credits Awarded for Additional Credit Type 1", "missing"),
        ((*rules.HEADERS, rules.FIRST_NAME), "", '"First Name"'),
        (
            (*rules.HEADERS[:3], rules.LAST_NAME, rules.FIRST_NAME, *rules.HEADERS[5:]),
            rules.FIRST_NAME,
            '"Last Name"',
        ),
    ],
)
def test_a_header_that_differs_is_one_finding_and_no_row_is_judged(header, column, found):
    results = judged(csv_text(VALID_ROW, header=header).encode(), "learners.csv")
    [finding] = results
    assert (finding.code, finding.row, finding.column) == ("HEADER_MISMATCH", 1, column)
    assert found in finding.message


@pytest.mark.parametrize(
    ("filename", "delimiter", "found", "fix"),
    [
        ("learners.csv", "\t", "separated by tabs", "name it .txt"),
        ("learners.tsv", ",", "separated by commas", "name it .csv"),
        ("learners.txt", ",", "separated by commas", "name it .csv"),
    ],
)
def test_a_file_whose_delimiter_is_not_its_names_is_read_by_its_content_and_says_so(
    filename, delimiter, found, fix
):
    data = csv_text(VALID_ROW, delimiter=delimiter).encode()
    warning, row = judged(data, filename)
    assert (warning.code, warning.severity) == ("FILE_DELIMITER", "warning")
    assert found in warning.message and fix in warning.message
    assert row.accepted and row.findings == ()


def test_an_own_spreadsheet_saved_as_tab_text_named_csv_is_split_at_its_tabs():
    data = b"Surname\tGiven\tDOB\r\nLee\tAnn\t03/15\r\n"
    judgement = judge_file(io.BytesIO(data), "export.csv", CONTEXT)
    [mismatch] = list(judgement)
    assert judgement.layout.delimiter == "\t"
    assert judgement.layout.header == ("Surname", "Given", "DOB")
    assert mismatch.code == "HEADER_MISMATCH"


def test_an_empty_file_is_refused():
    assert file_code(judged(b"", "learners.csv")) == "FILE_EMPTY"
    assert file_code(judged(b"\r\n\r\n,,,\r\n", "learners.csv")) == "FILE_EMPTY"


def test_a_header_without_rows_is_an_empty_file():
    assert file_code(judged(csv_text().encode(), "learners.csv")) == "FILE_EMPTY"


def test_an_unclosed_quote_is_unreadable_before_any_row_is_judged():
    data = csv_text(VALID_ROW).encode() + b'Add,"' + b"x" * 200_000 + b"\r\n"
    assert file_code(judged(data, "learners.csv")) == "FILE_UNREADABLE"


def test_a_line_far_longer_than_any_value_without_quotes_is_unreadable_before_any_row():
    data = csv_text(VALID_ROW).encode() + b"Add," + b"x" * 200_000 + b"\r\n"
    assert file_code(judged(data, "learners.csv")) == "FILE_UNREADABLE"


def test_rows_ended_by_carriage_returns_alone_are_read_one_by_one():
    data = csv_text(VALID_ROW, VALID_ROW).replace("\r\n", "\r").encode()
    assert [result.row for result in judged(data, "learners.csv")] == [2, 3]


# --- File type ------------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40


def test_a_png_renamed_csv_is_refused_for_its_type(tmp_path):
    path = tmp_path / "learners.csv"
    path.write_bytes(PNG)
    with path.open("rb") as stream:
        assert file_code(list(judge_file(stream, path.name, CONTEXT))) == "FILE_TYPE"


@pytest.mark.parametrize("name", ["learners.pdf", "learners", "learners.xls", "learners.json"])
def test_other_file_names_are_refused_for_their_type(name):
    assert file_code(judged(csv_text(VALID_ROW).encode(), name)) == "FILE_TYPE"


@pytest.mark.parametrize("name", [".csv", "C:\\Users\\ana\\.CSV", "learners.v2.csv"])
def test_a_file_named_only_by_its_extension_or_with_dots_is_read_by_it(name):
    [result] = judged(csv_text(VALID_ROW).encode(), name)
    assert result.accepted


def test_a_file_without_an_extension_is_refused_in_plain_words():
    [finding] = judged(csv_text(VALID_ROW).encode(), "learners")
    assert finding.message.startswith(
        "The file is named without an extension (like .csv); upload a .csv, .tsv, .txt"
    )


def test_text_named_xlsx_and_a_workbook_named_csv_are_refused(tmp_path):
    assert file_code(judged(csv_text(VALID_ROW).encode(), "learners.xlsx")) == "FILE_TYPE"
    workbook = write_xlsx(tmp_path / "learners.xlsx", VALID_ROW)
    assert file_code(judged(workbook, "learners.csv")) == "FILE_TYPE"


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (csv_text(VALID_ROW).encode("utf-8-sig"), "The file is CSV text named .xlsx, not an "
         "Excel workbook; rename it to .csv (nothing else in it needs to change)"),
        (csv_text(VALID_ROW, delimiter="\t").encode(), "The file is tab-delimited text named "
         ".xlsx, not an Excel workbook; rename it to .txt"),
        (csv_text(VALID_ROW).encode("utf-16"), "named .xlsx but is not an Excel workbook; "
         "upload a .csv"),
    ],
)  # fmt: skip
def test_text_renamed_xlsx_is_told_to_take_its_own_name_back(data, said):
    [finding] = judged(data, "learners.xlsx")
    assert finding.code == "FILE_TYPE" and said in finding.message


def test_binary_text_is_refused_for_its_type():
    assert file_code(judged(b"Record Action\x00\x01\x02", "learners.csv")) == "FILE_TYPE"


# --- Size -----------------------------------------------------------------------------------


class EndlessUpload(io.RawIOBase):
    """An upload that never ends and cannot seek; it fails the test if read far past a limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.read_so_far = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.read_so_far > self.limit + 64 * 1024:
            raise AssertionError("read past the size limit")
        line = (",".join(VALID_ROW) + "\r\n").encode()
        chunk = (line * (len(buffer) // len(line) + 1))[: len(buffer)]
        buffer[: len(chunk)] = chunk
        self.read_so_far += len(chunk)
        return len(chunk)


class UnreadableBigFile(io.BytesIO):
    """A seekable upload bigger than the limit whose content must never be read."""

    def read(self, *args):
        raise AssertionError("read a file known to be too large")


def test_an_endless_upload_is_refused_as_too_large_after_reading_just_past_the_limit():
    upload = EndlessUpload(limit=1_000_000)
    results = list(
        judge_file(
            upload, "learners.csv", JudgeContext(**{**CONTEXT.__dict__, "max_bytes": 1_000_000})
        )
    )
    assert file_code(results) == "FILE_TOO_LARGE"
    assert upload.read_so_far <= 1_000_001
    assert "1 MB" not in results[0].message and "976.562 KB" in results[0].message


def test_a_seekable_upload_over_the_limit_is_refused_without_reading_it():
    upload = UnreadableBigFile(b"x" * 2048)
    results = list(
        judge_file(upload, "learners.csv", JudgeContext(**{**CONTEXT.__dict__, "max_bytes": 1024}))
    )
    assert file_code(results) == "FILE_TOO_LARGE"


def test_a_file_at_the_limit_is_read():
    data = csv_text(VALID_ROW).encode()
    [result] = judged(data, "learners.csv", max_bytes=len(data))
    assert result.accepted


# --- Workbooks ------------------------------------------------------------------------------


def test_a_workbook_is_read_from_row_3_with_real_date_cells(tmp_path):
    dated = [*VALID_ROW]
    dated[2] = datetime(2025, 6, 1)
    numeric = [*VALID_ROW]
    numeric[1], numeric[8], numeric[10] = 123456789, 1.5, 777
    numeric[3] = "Ann"
    data = write_xlsx(tmp_path / "learners.xlsx", dated, [], numeric, [*VALID_ROW[:3], "Bo"])
    results = judged(data, "learners.xlsx")
    assert [result.row for result in results] == [3, 5, 6]
    assert results[0].accepted and results[1].accepted, results
    assert [f.code for f in results[2].findings] == [
        "LAST_NAME_REQUIRED",
        "DOB_FORMAT",
        "NO_CREDIT_REPORTED",
    ]
    assert results[0].record.completion_date == date(2025, 6, 1)
    assert results[1].record.cme_credits == Decimal("1.5")


def test_a_workbook_date_cell_with_a_time_says_it_has_a_time_and_how_to_drop_it(tmp_path):
    timed = [*VALID_ROW]
    timed[2] = datetime(2025, 6, 1, 15, 45)
    first, second = judged(write_xlsx(tmp_path / "l.xlsx", timed, VALID_ROW), "l.xlsx")
    [finding] = first.findings
    assert finding.code == "DATE_HAS_TIME" and not first.accepted
    assert '"06/01/2025 3:45 PM"' in finding.message and "(3:45 PM)" in finding.message
    assert "=INT()" in finding.message
    assert second.accepted


def test_a_workbook_header_is_checked_on_row_2(tmp_path):
    data = write_xlsx(tmp_path / "l.xlsx", VALID_ROW, header=(*rules.HEADERS[:3], "Given Name"))
    [finding] = judged(data, "l.xlsx")
    assert (finding.code, finding.row, finding.column) == ("HEADER_MISMATCH", 2, rules.FIRST_NAME)


def test_a_workbook_whose_header_row_was_emptied_is_read_by_position_with_a_warning(tmp_path):
    data = write_xlsx(tmp_path / "l.xlsx", VALID_ROW, header=[])
    warning, row = judged(data, "l.xlsx")
    assert (warning.code, warning.severity, warning.row) == ("NO_HEADER_ROW", "warning", None)
    assert row.row == 3 and row.accepted


def test_only_the_first_sheet_is_read(tmp_path):
    path = tmp_path / "l.xlsx"
    write_xlsx(path, VALID_ROW)
    workbook = load_workbook(path)
    workbook["ValidValues"].append(["junk"] * 30)
    workbook.save(path)
    [result] = judged(path.read_bytes(), "l.xlsx")
    assert result.accepted


def test_an_empty_workbook_is_an_empty_file(tmp_path):
    path = tmp_path / "l.xlsx"
    Workbook().save(path)
    assert file_code(judged(path.read_bytes(), "l.xlsx")) == "FILE_EMPTY"


def test_a_truncated_workbook_is_unreadable(tmp_path):
    data = write_xlsx(tmp_path / "l.xlsx", *[VALID_ROW] * 50)
    assert file_code(judged(data[: len(data) // 2], "l.xlsx")) == "FILE_UNREADABLE"


def test_a_workbook_with_a_damaged_part_is_unreadable_before_any_row(tmp_path):
    data = bytearray(write_xlsx(tmp_path / "l.xlsx", *[VALID_ROW] * 50))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        sheet = archive.getinfo("xl/worksheets/sheet1.xml")
    start = sheet.header_offset + 30 + len(sheet.filename) + len(sheet.extra)
    data[start + 20 : start + 40] = b"\xff" * 20  # corrupt the deflated sheet
    assert file_code(judged(bytes(data), "l.xlsx")) == "FILE_UNREADABLE"


def _xlsx_shaped_zip(sheet: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
    return buffer.getvalue()


def test_a_zip_bomb_is_refused_by_its_compression_ratio_before_extracting():
    data = _xlsx_shaped_zip(b" " * (20 * 1024 * 1024))
    assert len(data) < 100_000
    [finding] = judged(data, "learners.xlsx")
    assert finding.code == "FILE_UNREADABLE" and "zip bomb" in finding.message


def test_a_zip_bomb_is_refused_by_its_declared_size_before_extracting():
    data = bytearray(_xlsx_shaped_zip(b"<worksheet/>"))
    directory = data.rfind(b"PK\x01\x02")  # the last member: the sheet
    data[directory + 24 : directory + 28] = struct.pack("<I", 0xFFFF_FF00)
    [finding] = judged(bytes(data), "learners.xlsx")
    assert finding.code == "FILE_UNREADABLE" and "zip bomb" in finding.message


def _macro_enabled(data: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in source.infolist():
            content = source.read(member)
            if member.filename == "[Content_Types].xml":
                content = content.replace(
                    b"spreadsheetml.sheet.main+xml", b"ms-excel.sheet.macroEnabled.main+xml"
                )
            archive.writestr(member, content)
        archive.writestr("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0" + b"\x00" * 60)
    return buffer.getvalue()


@pytest.mark.parametrize("name", ["learners.xlsm", "learners.xlsx"])
def test_a_macro_enabled_workbook_is_refused_by_name_or_content(tmp_path, name):
    data = _macro_enabled(write_xlsx(tmp_path / "l.xlsx", VALID_ROW))
    [finding] = judged(data, name)
    assert finding.code == "FILE_UNREADABLE" and "macro" in finding.message


def _compound_file(*streams: str) -> bytes:
    """An OLE2 compound file (what Excel writes for a password-protected workbook)."""
    header = bytearray(512)
    header[:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    header[24:34] = struct.pack("<HHHH", 0x3E, 3, 0xFFFE, 9) + b"\x06\x00"
    header[48:52] = struct.pack("<I", 0)  # the directory starts at sector 0
    directory = bytearray()
    for name in ("Root Entry", *streams):
        entry = bytearray(128)
        encoded = name.encode("utf-16-le") + b"\x00\x00"
        entry[: len(encoded)] = encoded
        entry[64:66] = struct.pack("<H", len(encoded))
        entry[66] = 5 if name == "Root Entry" else 2
        directory += entry
    return bytes(header + directory.ljust(512, b"\x00") + b"\x00" * 4096)


def test_a_password_protected_workbook_is_unreadable():
    data = _compound_file("EncryptionInfo", "EncryptedPackage")
    [finding] = judged(data, "learners.xlsx")
    assert finding.code == "FILE_UNREADABLE" and "password" in finding.message


def test_an_old_xls_workbook_named_xlsx_is_the_wrong_type():
    assert file_code(judged(_compound_file("Workbook"), "learners.xlsx")) == "FILE_TYPE"


def test_a_zip_that_is_not_a_workbook_is_the_wrong_type():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w/>")
    assert file_code(judged(buffer.getvalue(), "learners.xlsx")) == "FILE_TYPE"


def test_open_learner_file_streams_every_row_with_its_number_header_included():
    data = csv_text(VALID_ROW).encode("cp1252")
    with open_learner_file(io.BytesIO(data), "l.csv", 10_000) as learner_file:
        assert learner_file.encoding == "cp1252" and learner_file.delimiter == ","
        [(header_number, header), (number, cells)] = list(learner_file.rows)
    assert header_number == 1 and header == rules.HEADERS
    assert number == 2 and cells[3] == "Renée"


def test_open_learner_file_raises_file_problems():
    with pytest.raises(FileProblem) as raised:
        open_learner_file(io.BytesIO(b""), "l.csv", 10)
    assert raised.value.code == "FILE_EMPTY"


# --- File messages say what to do -------------------------------------------------------------


def test_excel_unicode_text_says_it_is_utf16_and_to_save_as_csv_utf8():
    # Excel's "Unicode Text": tab-delimited UTF-16 (little-endian) with its byte-order mark.
    data = csv_text(VALID_ROW, delimiter="\t").encode("utf-16")
    [finding] = judged(data, "learners.txt")
    assert finding.message == (
        "The file's text encoding cannot be read (it is UTF-16, as Excel saves \"Unicode "
        'Text"); in Excel, File > Save As, choose CSV UTF-8 (Comma delimited), and upload that '
        "file."
    )


@pytest.mark.parametrize("name", ["learners.xls", "learners.xlsx"])
def test_an_old_xls_workbook_says_to_save_it_as_an_excel_workbook(name):
    [finding] = judged(_compound_file("Workbook"), name)
    assert finding.code == "FILE_TYPE"
    assert "open it in Excel and Save As Excel Workbook (.xlsx)" in finding.message


def test_a_workbook_renamed_csv_says_to_rename_it_xlsx(tmp_path):
    data = write_xlsx(tmp_path / "l.xlsx", VALID_ROW)
    [finding] = judged(data, "learners.csv")
    assert finding.code == "FILE_TYPE"
    assert finding.message.startswith(
        "The file is an Excel workbook named .csv: rename it to .xlsx (or save it as CSV)"
    )


def excel_mac_csv(*rows: list[str], line_end: str = "\r") -> bytes:
    """A CSV as Excel for Mac's old "CSV (Macintosh)" format saves it: Mac Roman text, every
    line ended by a lone carriage return."""
    lines = [",".join(rules.HEADERS), *(",".join(row) for row in rows)]
    return (line_end.join(lines) + line_end).encode("mac_roman")


@pytest.mark.parametrize(
    ("first", "last"),
    [("Rosé", "Lee"), ("Renée", "O’Brien"), ("JOSÉ", "MÜLLER"), ("François", "Ñúñez")],
)
@pytest.mark.parametrize("line_end", ["\r", "\r\n"])
def test_a_mac_roman_csv_keeps_its_accented_letters_and_says_how_to_save_it(first, last, line_end):
    row = [*VALID_ROW[:3], first, last, *VALID_ROW[5:]]
    data = excel_mac_csv(row, line_end=line_end)
    assert data.decode("cp1252", "replace") != data.decode("mac_roman")  # "RosŽ" in Windows
    for fast_path in (True, False):
        note, result = list(
            judge_file(io.BytesIO(data), "learners.csv", CONTEXT, fast_path=fast_path)
        )
        assert note.code == "FILE_MAC_ROMAN" and note.severity == "warning"
        assert "save As, choose CSV UTF-8" in note.message.replace("Save", "save")
        assert result.accepted
        assert (result.record.first_name, result.record.last_name) == (first, last)


@pytest.mark.parametrize("first", ["Renée", "José", "Žižek", "Ørsted", "Zoë", "ÉLODIE"])
def test_a_windows_1252_csv_with_accented_names_is_not_taken_for_mac_roman(first):
    row = [*VALID_ROW[:3], first, *VALID_ROW[4:]]
    data = csv_text(row).encode("cp1252")
    results = judged(data, "learners.csv")
    assert [type(item) for item in results] == [RowResult]
    assert results[0].record.first_name == first


def test_a_mac_roman_tab_delimited_text_is_told_how_to_save_that_kind_of_file():
    """Excel for Mac's "Tab Delimited Text (.txt)": Mac Roman, tabs, lone carriage returns."""
    row = [*VALID_ROW[:3], "Rosé", "Lee", *VALID_ROW[5:]]
    lines = ["\t".join(rules.HEADERS), "\t".join(row)]
    data = ("\r".join(lines) + "\r").encode("mac_roman")
    for fast_path in (True, False):
        note, result = list(
            judge_file(io.BytesIO(data), "learners.txt", CONTEXT, fast_path=fast_path)
        )
        assert note.code == "FILE_MAC_ROMAN"
        assert 'Excel for Mac\'s "Tab Delimited Text (.txt)" format' in note.message
        assert "CSV (Macintosh)" not in note.message
        assert "Excel for Mac has no tab-delimited format in UTF-8" in note.message
        assert result.accepted and result.record.first_name == "Rosé"
