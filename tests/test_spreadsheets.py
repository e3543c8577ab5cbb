"""Every export and download is made by one module: formula-safe cells, CSV and XLSX bytes, and
the headers a download is sent with."""

import csv
import io
import zipfile

import pytest
from flask import Flask
from openpyxl import load_workbook

from training.spreadsheets import (
    CALENDAR_MIMETYPE,
    CSV_MIMETYPE,
    PLAIN_TEXT_MIMETYPE,
    TAB_SEPARATED_MIMETYPE,
    XLSX_MIMETYPE,
    attachment,
    csv_bytes,
    file_stem,
    neutralize,
    xlsx_bytes,
)

# What a spreadsheet would run as a formula, and what it would not.
CELLS = [
    ("=1+1", "'=1+1"),
    ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
    ("+1 916", "'+1 916"),
    ("+1 916 555 0100", "'+1 916 555 0100"),
    ("-5", "'-5"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"),
    ("\tcmd", "'\tcmd"),
    ("\rx", "'\rx"),
    ("\rcmd", "'\rcmd"),
    ("Acme = good", "Acme = good"),
    ("North Clinic", "North Clinic"),
    ("a=b", "a=b"),
    ("", ""),
    (None, ""),
    (42, "42"),
]


@pytest.mark.parametrize(("value", "cell"), CELLS)
def test_neutralize_quotes_only_what_a_spreadsheet_would_run(value, cell):
    assert neutralize(value) == cell


def test_csv_starts_with_a_byte_order_mark_for_excel():
    assert csv_bytes(["Name"], [["Zoë"]]) == "\ufeffName\r\nZoë\r\n".encode()


def test_csv_neutralizes_every_cell_header_included():
    body = csv_bytes(["=Header"], [[value] for value, _ in CELLS])
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert rows == [["'=Header"], *([cell] for _, cell in CELLS)]


def test_xlsx_keeps_every_value_exact_in_text_cells_never_a_formula():
    values = [value for value, _ in CELLS if isinstance(value, str) and value]
    body = xlsx_bytes(["=Header"], [[value] for value in [*values, 7, None]])
    sheet = load_workbook(io.BytesIO(body)).active
    # XML reads a stored carriage return back as a line feed.
    exact = [value.replace("\r", "\n") for value in values]
    assert [row[0].value for row in sheet.iter_rows()] == ["=Header", *exact, "7", None]
    assert all(row[0].data_type == "s" for row in sheet.iter_rows() if row[0].value is not None)
    # What Excel or LibreOffice would read: inline strings only, not one formula element.
    with zipfile.ZipFile(io.BytesIO(body)) as package:
        xml = package.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml and "<f " not in xml
    assert xml.count('t="inlineStr"') == len(values) + 3


def test_xlsx_drops_control_characters_and_keeps_the_rest_exact():
    workbook = load_workbook(io.BytesIO(xlsx_bytes(["Name"], [["\x01=1+1"], ["ok\x00"]])))
    assert [row[0].value for row in workbook.active.iter_rows()] == ["Name", "=1+1", "ok"]


def test_xlsx_names_its_sheet_within_excels_31_characters():
    workbook = load_workbook(io.BytesIO(xlsx_bytes(["Name"], [], title="R" * 40)))
    assert workbook.sheetnames == ["R" * 31]


@pytest.fixture
def app():
    return Flask(__name__)


@pytest.mark.parametrize(
    ("mimetype", "content_type"),
    [
        (CSV_MIMETYPE, "text/csv; charset=utf-8"),
        (TAB_SEPARATED_MIMETYPE, "text/tab-separated-values; charset=utf-8"),
        (PLAIN_TEXT_MIMETYPE, "text/plain; charset=utf-8"),
        (CALENDAR_MIMETYPE, "text/calendar; charset=utf-8"),
        (XLSX_MIMETYPE, XLSX_MIMETYPE),
    ],
)
def test_a_download_names_its_charset_once_and_only_for_text(app, mimetype, content_type):
    with app.app_context():
        response = attachment(b"x", filename="f", mimetype=mimetype, personal=False)
    assert response.headers["Content-Type"] == content_type


def test_a_download_of_personal_data_is_never_stored_by_a_browser_or_proxy(app):
    with app.app_context():
        response = attachment(
            b"a,b\r\n", filename="roster-2026-12-01.csv", mimetype=CSV_MIMETYPE, personal=True
        )
    assert response.headers["Content-Disposition"] == 'attachment; filename="roster-2026-12-01.csv"'
    assert response.headers["Cache-Control"] == "no-store"
    assert response.get_data() == b"a,b\r\n"


def test_a_download_of_no_ones_data_may_be_cached(app):
    with app.app_context():
        response = attachment(
            b"", filename="learner-template.csv", mimetype=CSV_MIMETYPE, personal=False
        )
    assert "Cache-Control" not in response.headers


def test_a_download_can_stream_its_lines(app):
    with app.app_context():
        response = attachment(
            iter(["a\r\n", "b\r\n"]), filename="f.csv", mimetype=CSV_MIMETYPE, personal=True
        )
    assert response.is_streamed
    assert response.get_data() == b"a\r\nb\r\n"


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("learners", "learners"),
        ('my "file"\r\nx', "my -file---x"),
        ("Zoë's list", "Zoë's list"),
        ("Q3: learners?", "Q3- learners-"),
        (" ../notes. ", "-notes"),
    ],
)
def test_a_file_name_stem_keeps_any_script_but_not_what_file_systems_refuse(name, stem):
    assert file_stem(name) == stem
