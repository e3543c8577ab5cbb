"""Spreadsheet files and downloads: every export and download of the app is made here.

Cells are neutralized so no spreadsheet runs them as formulas (OWASP's CSV injection rule), CSV
and XLSX bytes are built from a header and rows, and ``attachment`` sends a file with the
headers a download needs: its name, one charset for text, and ``Cache-Control: no-store`` for
personal data.
"""

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

from flask import Response, current_app, send_file
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

# A cell starting with one of these is run as a formula by some spreadsheet (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# Text types carry no charset here: the response adds "; charset=utf-8" to text/* once.
CSV_MIMETYPE = "text/csv"
TAB_SEPARATED_MIMETYPE = "text/tab-separated-values"
PLAIN_TEXT_MIMETYPE = "text/plain"
CALENDAR_MIMETYPE = "text/calendar"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def neutralize(value: object) -> str:
    """The value as text, with a leading ``'`` when a spreadsheet would run it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_lines(header: Sequence[object], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """CSV for spreadsheets, a line at a time (each ending in CRLF, every cell neutralized),
    the first starting with a byte-order mark: Excel then reads the UTF-8 as UTF-8 (accents,
    curly quotes, en dashes), not as the system's code page."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow([neutralize(value) for value in header])
    for row in rows:
        yield _taken(buffer)
        writer.writerow([neutralize(value) for value in row])
    yield _taken(buffer)


def _taken(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def csv_bytes(header: Sequence[object], rows: Iterable[Sequence[object]]) -> bytes:
    """UTF-8 CSV with a byte-order mark, so Excel reads accents right (``csv_lines``)."""
    return "".join(csv_lines(header, rows)).encode("utf-8")


def xlsx_bytes(
    header: Sequence[object], rows: Iterable[Sequence[object]], *, title: str = "Export"
) -> bytes:
    """One worksheet, every cell a text cell holding the value exactly as written.

    A text cell is never run as a formula, so ``=HYPERLINK(...)`` or ``+1 (916)...`` reads as
    typed, with no protective ``'`` (that belongs to CSV only, which has no cell types).
    """
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])
    for row in (header, *rows):
        sheet.append([_text_cell(sheet, value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def write_text(cell, value: str) -> None:
    """Store text in a workbook cell exactly as written: never run as a formula, no ``'``
    shown (the cell is typed as text, which is what the apostrophe would have asked for)."""
    cell.value = _xml_safe(value)
    cell.data_type = "s"


def _text_cell(sheet, value: object) -> WriteOnlyCell:
    """A write-only cell typed as text (openpyxl would take ``=...`` for a formula)."""
    cell = WriteOnlyCell(sheet)
    write_text(cell, "" if value is None else str(value))
    return cell


def _xml_safe(value: object) -> object:
    """Drop the control characters XML cannot hold (openpyxl refuses them rather than drop)."""
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def attachment(
    body: bytes | Iterable[str], *, filename: str, mimetype: str, personal: bool
) -> Response:
    """A download of ``body`` (bytes, or text streamed line by line) saved as ``filename``.

    ``personal`` files (anything naming an organization's people or learners) are sent with
    ``Cache-Control: no-store``, so neither the browser nor a proxy keeps a copy.
    """
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if personal:
        headers["Cache-Control"] = "no-store"
    return current_app.response_class(body, mimetype=mimetype, headers=headers)


def named_attachment(body: bytes, *, filename: str, mimetype: str) -> Response:
    """A download of learner data named after the person's own file, in any script.

    ``send_file`` writes ``filename*`` (UTF-8, RFC 6266) with an ASCII fallback for old
    clients, and adds the charset of a text type once; the file is personal, so it is sent with
    ``Cache-Control: no-store``.
    """
    response = send_file(
        io.BytesIO(body),
        mimetype=mimetype,
        as_attachment=True,
        download_name=filename,
        conditional=False,
        etag=False,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def file_stem(name: str) -> str:
    """A file name stem as the person wrote it, in any script, without what no file system
    takes in a name (path separators, quotes, control characters)."""
    return "".join(
        char if char.isprintable() and char not in '\\/:*?"<>|' else "-" for char in name
    ).strip(" .")
