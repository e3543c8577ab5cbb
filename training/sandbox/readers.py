"""Opens a learner file (CSV, TSV/TXT or XLSX) safely and streams its rows with their numbers."""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import shutil
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime, time
from itertools import islice
from typing import BinaryIO

from training.sandbox import rules
from training.sandbox.columns import header_score, is_learner_row


class NoValue(str):
    """A formula cell saved without its value (a file written by a program): blank text that
    the judge can tell from a blank cell."""


class NumberText(str):
    """A workbook's number cell as the text Excel shows (``4217``), that the judge can tell
    from a text cell: an ID stored as a number may have lost a leading zero."""


class YearHiddenDate(datetime):
    """A date cell whose number format shows no year (mm/dd, d-mmm): Excel shows a month and
    day, but the cell holds a full date."""


class TimeShownDate(datetime):
    """A date cell whose number format shows a time of day (m/d/yyyy h:mm, as LMS exports
    write dates): saved as CSV, the time goes with the date."""


FORMULA_WITHOUT_VALUE = NoValue()
# A datetime only from a real Excel date cell (YearHiddenDate when its format hides the year,
# TimeShownDate when it shows a time); NoValue is a str.
Cell = str | datetime
SpreadsheetRow = tuple[int, tuple[Cell, ...]]  # (row number as the person sees it, cells)

_OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
_BINARY_SIGNATURES = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"\x1f\x8b": "a gzip archive",
    b"Rar!": "a RAR archive",
    b"7z\xbc\xaf": "a 7-Zip archive",
    b"{\\rtf": "an RTF document",
}
_WIDE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_SAVE_AS_XLSX = "open it in Excel and Save As Excel Workbook (.xlsx)"
_CHUNK = 1024 * 1024
_SNIFF = 4096
_XLSX_BATCH = 256
# What a number format writes as it is rather than from the value: quoted text, [colours],
# escaped characters.
_LITERALS = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.')


class FileProblem(Exception):
    """The file as a whole cannot be judged: a file-level finding code and its message fields."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass
class LearnerFile:
    """An opened learner file and its rows to come, header included (the judge finds it)."""

    kind: str  # "csv", "tsv" or "xlsx"
    rows: Iterator[SpreadsheetRow]  # non-empty rows, in order; may raise FileProblem part-way
    encoding: str = ""
    delimiter: str = ""
    sheet_name: str = ""  # the worksheet read (xlsx)
    hidden_sheets: tuple[str, ...] = ()  # hidden worksheets skipped before it
    # Numbers of the rows read so far that hold a formula without its value (xlsx); the reader
    # of the rows takes each out as it comes to it, so the set stays small.
    formula_rows: set[int] = field(default_factory=set)
    # Numbers of the rows hidden in the sheet (xlsx), as they are read.
    hidden_rows: set[int] = field(default_factory=set)
    # The sheet's merged blocks of cells as Excel names them ("C5:C9"; xlsx), known once every
    # row was read (a sheet lists them after its rows).
    merged_cells: list[str] = field(default_factory=list)
    # Rows of a text file that swallowed the lines after them because a quote was never
    # closed: row number -> (position of the cell that opened it, first line, last line).
    quote_rows: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    # The text file's bytes when every row is one line that splits at its delimiters (no quote
    # character, no carriage return but in a line end): the judge may read it in batches.
    one_line_data: BinaryIO | None = None
    # The workbook's other visible sheets, in order (xlsx), and how to open one of them by its
    # title, sharing this file's workbook.
    other_sheets: tuple[str, ...] = ()
    open_sheet: Callable[[str], LearnerFile] | None = None
    # The rows again from the top, for a second look once every row was judged (the rows of
    # a FILE_DATES_DAY_FIRST warning): read through once more, only when asked.
    reread: Callable[[], Iterator[SpreadsheetRow]] | None = None
    # File-level warnings about how it was read: (finding code, message fields).
    notes: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    _resources: ExitStack = field(default_factory=ExitStack, repr=False)

    def close(self) -> None:
        """Release the workbook and any spooled copy of the upload."""
        self._resources.close()

    def __enter__(self) -> LearnerFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def human_size(size: int) -> str:
    """A byte count in the units people read (20 MB)."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):g} MB"
    if size >= 1024:
        return f"{size / 1024:g} KB"
    return f"{size} bytes"


def file_extension(filename: str) -> str:
    """The extension of an uploaded file's name, in lower case with its dot ("" when none); a
    name that is only an extension (".csv") has that extension."""
    _stem, dot, extension = os.path.basename(filename).rpartition(".")
    return f".{extension.lower()}" if dot and extension else ""


def open_learner_file(stream: BinaryIO, filename: str, max_bytes: int) -> LearnerFile:
    """Check the upload as a whole and open it for row streaming, or raise FileProblem."""
    extension = file_extension(filename)
    if extension in rules.MACRO_EXTENSIONS:
        raise FileProblem(
            "FILE_UNREADABLE", what="it is a macro-enabled workbook; save it as .xlsx"
        )
    if extension not in rules.ACCEPTED_EXTENSIONS:
        what = f"named {extension}" if extension else "named without an extension (like .csv)"
        if extension == ".xls":
            what += f" (Excel 97-2003): {_SAVE_AS_XLSX}"
        raise _file_type(what)
    resources = ExitStack()
    try:
        data = _bounded_copy(stream, max_bytes, resources)
        learner_file = _open_content(data, extension, resources)
    except BaseException:
        resources.close()
        raise
    learner_file._resources = resources
    return learner_file


def _bounded_copy(stream: BinaryIO, max_bytes: int, resources: ExitStack) -> BinaryIO:
    """A seekable view of the upload, refused as too large before more than max_bytes are read."""
    too_large = FileProblem("FILE_TOO_LARGE", limit=human_size(max_bytes))
    seekable = getattr(stream, "seekable", None)
    if seekable is not None and seekable():
        size = stream.seek(0, io.SEEK_END)
        stream.seek(0)
        if size > max_bytes:
            raise too_large
        if size == 0:
            raise FileProblem("FILE_EMPTY", what="nothing in it")
        return stream
    spool = resources.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 (closed by resources)
    copied = 0
    while chunk := stream.read(min(_CHUNK, max_bytes + 1 - copied)):
        copied += len(chunk)
        if copied > max_bytes:
            raise too_large
        spool.write(chunk)
    if copied == 0:
        raise FileProblem("FILE_EMPTY", what="nothing in it")
    spool.seek(0)
    return spool


def _open_content(data: BinaryIO, extension: str, resources: ExitStack) -> LearnerFile:
    head = data.read(_SNIFF)
    data.seek(0)
    if head.startswith(_OLE2_SIGNATURE):
        if _contains(data, _ENCRYPTED_PACKAGE):
            raise FileProblem(
                "FILE_UNREADABLE",
                what="the workbook is protected with a password; remove the password "
                "(File > Info > Protect Workbook) and save it as .xlsx",
            )
        raise _file_type(
            f"an Excel 97-2003 workbook (.xls) or another Office binary file: {_SAVE_AS_XLSX}"
        )
    if head.startswith(_ZIP_SIGNATURES):
        if extension != ".xlsx":
            what = _zip_kind(_zip_names(data))
            if what == _WORKBOOK:
                raise _file_type(
                    f"an Excel workbook named {extension}: rename it to .xlsx (or save it as CSV)",
                )
            raise _not_a_sheet(what, extension)
        return _open_xlsx(data, resources)
    for signature, what in _BINARY_SIGNATURES.items():
        if head.startswith(signature):
            raise _file_type(f"{what} named {extension}")
    if extension == ".xlsx":
        raise _text_named_xlsx(head)
    if head.startswith(_WIDE_BOMS):
        # UTF-32's byte-order marks start with UTF-16's: they are told apart first.
        wide = "UTF-32" if head.startswith(_WIDE_BOMS[:2]) else "UTF-16"
        if wide == "UTF-16":
            wide += ', as Excel saves "Unicode Text"'
        raise FileProblem("FILE_ENCODING", where=f" (it is {wide})")
    if b"\x00" in head:
        raise _file_type(f"binary data named {extension}, not text")
    return _open_text(data, extension, resources)


def _text_named_xlsx(head: bytes) -> FileProblem:
    """FILE_TYPE for a file named .xlsx that is no workbook: text (a CSV renamed, or saved by a
    program that names its export .xlsx) needs only its right name, as a workbook named .docx
    does; other bytes are told to upload a learner file."""
    if b"\x00" in head:  # binary, or UTF-16 "Unicode Text", which a new name would not fix
        return _file_type("named .xlsx but is not an Excel workbook")
    first_line = head.split(b"\n", 1)[0]
    kind, name = ("tab-delimited text", ".txt") if b"\t" in first_line else ("CSV text", ".csv")
    return _file_type(
        f"{kind} named .xlsx, not an Excel workbook",
        f"rename it to {name} (nothing else in it needs to change) and upload it again",
    )


def _zip_names(data: BinaryIO) -> set[str]:
    """The names in a zip file's directory (none when it cannot be read)."""
    try:
        with zipfile.ZipFile(data) as archive:
            return set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return set()
    finally:
        data.seek(0)


_WORKBOOK = "an Excel workbook"
# The part that names each kind of Office file inside its zip, and the kind in words.
_OFFICE_PARTS = {
    "xl/workbook.xml": _WORKBOOK,
    "word/document.xml": "a Word document",
    "ppt/presentation.xml": "a PowerPoint presentation",
}


def _zip_kind(names: set[str]) -> str:
    """What a zip file is, in words, by the Office part its directory names."""
    return next((what for part, what in _OFFICE_PARTS.items() if part in names), "a zip archive")


_UPLOAD_A_LEARNER_FILE = "upload a .csv, .tsv, .txt (tab-delimited) or .xlsx learner file"


def _file_type(what: str, advice: str = _UPLOAD_A_LEARNER_FILE) -> FileProblem:
    """FILE_TYPE: the file is ``what``; ``advice`` says what to upload instead."""
    return FileProblem("FILE_TYPE", what=what, advice=advice)


def _not_a_sheet(what: str, extension: str) -> FileProblem:
    """FILE_TYPE for a zip file that is not a workbook, named ``extension``: a Word document or
    a presentation is told to save the learner sheet (named .xlsx, it is no workbook to upload
    itself)."""
    if what == "a zip archive":
        return _file_type(f"a zip archive named {extension}")
    instead = (
        "save your learner sheet as an Excel workbook (File > Save As > Excel Workbook, .xlsx) "
        "or as CSV (File > Save As > CSV UTF-8) and upload that"
        if extension == ".xlsx"
        else "save your learner sheet as CSV (File > Save As > CSV UTF-8) or upload the .xlsx "
        "workbook itself"
    )
    return _file_type(f"{what} named {extension}, not a spreadsheet", instead)


def _contains(data: BinaryIO, needle: bytes) -> bool:
    """Whether the bytes occur anywhere in the file, read in chunks."""
    tail = b""
    while chunk := data.read(_CHUNK):
        if needle in tail + chunk:
            data.seek(0)
            return True
        tail = chunk[-len(needle) :]
    data.seek(0)
    return False


# --- Text files ------------------------------------------------------------------------------


def _open_text(data: BinaryIO, extension: str, resources: ExitStack) -> LearnerFile:
    delimiter = _delimiter(data, extension)
    encoding, quote_rows, one_line = _read_through(data, delimiter)

    def rows() -> Iterator[SpreadsheetRow]:
        text = resources.enter_context(_text_stream(data, encoding))
        return _data_rows(_numbered_csv_rows(text, delimiter))

    learner_file = LearnerFile(
        "tsv" if delimiter == "\t" else "csv",
        rows(),
        encoding,
        delimiter,
        quote_rows=quote_rows,
        one_line_data=data if one_line else None,
        reread=rows,
    )
    named = "\t" if extension in rules.TAB_EXTENSIONS else ","
    if encoding == "mac_roman":
        advice = rules.MAC_ROMAN_ADVICE["\t" if delimiter == "\t" else ","]
        learner_file.notes.append(("FILE_MAC_ROMAN", advice))
    if delimiter == ";":
        learner_file.notes.append(("FILE_SEMICOLONS", {}))
    elif delimiter != named:
        learner_file.notes.append(("FILE_DELIMITER", _delimiter_mismatch(extension, delimiter)))
    return learner_file


_DELIMITERS = ("\t", ",", ";")


def _delimiter(data: BinaryIO, extension: str) -> str:
    """The delimiter the first rows make sense with, whatever the extension says: the one that
    finds the header or a learner row, else the one that splits the most rows; on a tie, the
    extension's own (tab for .txt/.tsv, comma for .csv)."""
    named = "\t" if extension in rules.TAB_EXTENSIONS else ","
    head = data.read(_SNIFF * 16).decode("utf-8", "replace")
    data.seek(0)
    lines = head.splitlines()[: rules.HEADER_SCAN_ROWS]

    def score(candidate: str) -> tuple[int, int, bool]:
        rows = list(csv.reader(lines, delimiter=candidate, strict=False))
        known = max((100 if is_learner_row(row) else header_score(row) for row in rows), default=0)
        split = sum(1 for row in rows if len(trimmed_cells(row)) > 1)
        return known, split, candidate == named

    return max(_DELIMITERS, key=score)


def _delimiter_mismatch(extension: str, delimiter: str) -> dict[str, str]:
    if delimiter == "\t":
        return {
            "extension": extension,
            "found": "tabs",
            "fix": "as CSV UTF-8 (File > Save As), or name it .txt",
        }
    return {
        "extension": extension,
        "found": "commas",
        "fix": "as Text (Tab delimited) (File > Save As), or name it .csv",
    }


def _text_stream(data: BinaryIO, encoding: str) -> io.TextIOWrapper:
    data.seek(0)
    return _UnclosingTextWrapper(data, encoding=encoding, newline="")


class _UnclosingTextWrapper(io.TextIOWrapper):
    """A text view that leaves the caller's stream open when it is closed."""

    def close(self) -> None:
        self.detach()


def _read_through(
    data: BinaryIO, delimiter: str
) -> tuple[str, dict[int, tuple[int, int, int]], bool]:
    """The text encoding, UTF-8 (BOM or not) when the whole file decodes as it, else
    Windows-1252, else refuse; the rows that swallowed the lines after them because a quote
    was never closed (see LearnerFile.quote_rows); and whether every row is one line.

    The check reads the whole file once through csv.reader, so a row that cannot be read is
    found before any row is judged rather than half-way.
    """
    for encoding in ("utf-8-sig", ""):
        # Not UTF-8: one of the two single-byte encodings Excel saves CSV in, by its letters.
        encoding = encoding or single_byte_encoding(data)
        swallowed: dict[int, tuple[int, int, int]] = {}
        try:
            if _one_line_rows(data, encoding):
                return encoding, swallowed, True
            with _text_stream(data, encoding) as text:
                reader = csv.reader(text, delimiter=delimiter, strict=False)
                line = 0
                number, cells, first_line = 0, [], 0
                for number, cells in enumerate(reader, start=1):
                    first_line = line + 1
                    if reader.line_num > first_line:  # one row over several lines
                        position = _swallowing_cell(cells, delimiter)
                        if position is not None:
                            swallowed[number] = (position, first_line, reader.line_num)
                    line = reader.line_num
            # A quote opened on the last row runs to the end of the file: it swallows no next
            # row, only the cells after it on its own line.
            if (
                number
                and number not in swallowed
                and cells
                and (delimiter in cells[-1] or _quote_near_end(data, len(cells[-1])))
                and _quote_left_open(data, encoding, delimiter, first_line)
            ):
                swallowed[number] = (len(cells) - 1, first_line, line)
        except UnicodeDecodeError:
            continue
        except csv.Error as error:
            raise csv_problem(error) from None
        return encoding, swallowed, False
    raise FileProblem("FILE_ENCODING", where=" as UTF-8, Windows-1252 or Mac Roman")


# A run of letters (ASCII or not) holding at least one byte above ASCII: a word whose letters
# the two single-byte encodings read differently.
_NON_ASCII_WORD = re.compile(rb"[A-Za-z\x80-\xff'\-]*[\x80-\xff][A-Za-z\x80-\xff'\-]*")
_SCORED_WORDS = 200
# The accented letters of Latin-script names; any other character read from a byte above ASCII
# (™, †, ∑, Ž, ƒ, ı...) is unlikely in a learner file.
_NAME_LETTERS = frozenset("àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿßÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝœŒšŠžŽ")
_NAME_APOSTROPHES = frozenset("’‘–")


def single_byte_encoding(data: BinaryIO) -> str:
    """ "mac_roman" for a text file old Excel for Mac saved as "CSV (Macintosh)", else
    "cp1252" (Windows). The bytes above ASCII mean other letters in each ("Rosé" saved in Mac
    Roman reads "RosŽ" as Windows-1252), so the words holding them are read both ways and the
    reading with more letters plausible in a name wins; Windows-1252 on a tie, unless every
    line ends with a lone carriage return, as only the Mac format writes them.

    Our own check, not charset-normalizer's or chardet's (both installed): on a learner file,
    mostly ASCII with a few accented names, they call a Mac Roman "Rosé" Windows-1252 (both
    readings score no chaos) or guess an unrelated encoding with a confidence near 0.02.
    """
    words: list[bytes] = []
    data.seek(0)
    carriage_returns = line_feeds = 0
    while len(words) < _SCORED_WORDS and (chunk := data.read(_CHUNK)):
        carriage_returns += chunk.count(b"\r")
        line_feeds += chunk.count(b"\n")
        if not chunk.isascii():
            words.extend(_NON_ASCII_WORD.findall(chunk, 0)[: _SCORED_WORDS - len(words)])
    data.seek(0)
    windows, mac = name_letters_score(words, "cp1252"), name_letters_score(words, "mac_roman")
    mac_lines = carriage_returns > 0 and line_feeds == 0
    # A reading of mostly unlikely characters in both is neither: Windows-1252 then refuses
    # the bytes it leaves undefined, rather than Mac Roman reading anything as something.
    return "mac_roman" if mac > max(windows, 0) or (mac == windows and mac_lines) else "cp1252"


def name_letters_score(words: list[bytes], encoding: str) -> float:
    """How plausible ``words`` read in ``encoding`` are as names: one point for each character
    above ASCII that is an accented name letter where a name has it (a capital starts a word or
    follows a capital), or an apostrophe between letters; one off for any other. A word that
    does not decode (Windows-1252 leaves five bytes undefined) makes the reading impossible."""
    score = 0
    for word in words:
        try:
            text = word.decode(encoding)
        except UnicodeDecodeError:
            return float("-inf")
        for at, char in enumerate(text):
            if char.isascii():
                continue
            before = text[at - 1] if at else ""
            after = text[at + 1] if at + 1 < len(text) else ""
            if char in _NAME_APOSTROPHES:
                plausible = before.isalpha() and after.isalpha()
            elif char not in _NAME_LETTERS:
                plausible = False
            elif char.isupper():
                plausible = not before.isalpha() or before.isupper()
            else:  # a small letter right before a capital (OíBrien) is not a name's
                plausible = not after.isupper()
            score += 1 if plausible else -1
    return score


def _one_line_rows(data: BinaryIO, encoding: str) -> bool:
    """Whether every row of the file is one line that csv.reader reads without error: no quote
    character, no carriage return but in a line end, no line longer than csv's field limit.
    Raises UnicodeDecodeError if the file does not decode. Reads the bytes in C, ten times as
    fast as the csv pass it stands in for (which would find nothing in such a file)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    limit = csv.field_size_limit()  # characters: a line of more bytes is looked at with csv
    data.seek(0)
    line = 0  # bytes of the line that goes on into the next chunk
    stray = 0  # returns in that line that end no line (as csv would read them)
    ends_with_return = False  # the chunk before ends with a return: this one may end the line
    # Each chunk is looked at where it is (no copy joined to the line before it); a return is
    # counted once its line is whole, as when lines were looked at whole.
    while chunk := data.read(_CHUNK):
        # ASCII decodes in every encoding tried: decoded only when a character began before it.
        if not chunk.isascii() or decoder.getstate() != (b"", 0):
            decoder.decode(chunk)
        if b'"' in chunk:
            return False
        if ends_with_return and not chunk.startswith(b"\n"):
            stray += 1
        ends_with_return = chunk.endswith(b"\r")
        last = chunk.rfind(b"\n")
        if last < 0:
            stray += _stray_returns(chunk, 0, len(chunk)) - ends_with_return
            line += len(chunk)
            if line > limit:
                return False
            continue
        first = chunk.find(b"\n")
        if (
            stray
            or _stray_returns(chunk, 0, last + 1)
            or line + first > limit
            or _has_long_line(chunk, limit, first + 1, last + 1)
        ):
            return False
        stray = _stray_returns(chunk, last + 1, len(chunk)) - ends_with_return
        line = len(chunk) - last - 1
        if line > limit:
            return False
    decoder.decode(b"", final=True)
    return not stray and not ends_with_return


def _stray_returns(data: bytes, start: int, end: int) -> int:
    """How many returns in ``data[start:end]`` no line end follows (one at ``end - 1`` counts,
    whatever follows it)."""
    returns = data.count(b"\r", start, end)
    return returns and returns - data.count(b"\r\n", start, end)


def _has_long_line(data: bytes, limit: int, start: int, end: int) -> bool:
    """Whether one of the whole lines in ``data[start:end]`` (which ends with a line end) is
    longer than ``limit`` bytes. Such a line holds a whole block of limit // 2 bytes (counted
    from the start) with no line end: the lines are measured only when a block has none."""
    step = max(limit // 2, 1)
    if all(
        data.find(b"\n", block, block + step) >= 0 for block in range(start, end - step + 1, step)
    ):
        return False
    return max(map(len, data[start:end].split(b"\n"))) > limit


def _quote_near_end(data: BinaryIO, length: int) -> bool:
    """Whether a quote is among the file's last bytes, as many as a last cell of ``length``
    characters takes (4 bytes a character at most) and a line end: where a quote left open in
    a last cell with no delimiter (`"1`) would be. Saves reading the last row again strictly
    when the file ends with no quote."""
    end = data.seek(0, io.SEEK_END)
    data.seek(max(0, end - 4 * length - 8))
    return b'"' in data.read()


def _quote_left_open(data: BinaryIO, encoding: str, delimiter: str, first_line: int) -> bool:
    """Whether the file, from line ``first_line`` on (its last row), ends inside a quoted cell:
    read strictly, csv says the data ended unexpectedly. A last cell quoted whole, which may
    hold the delimiter, reads without error."""
    with _text_stream(data, encoding) as text:
        rest = "".join(islice(text, first_line - 1, None))
    try:
        for _cells in csv.reader(io.StringIO(rest, newline=""), delimiter=delimiter, strict=True):
            pass
    except csv.Error as error:
        return "unexpected end of data" in str(error)
    return False


def _swallowing_cell(cells: list[str], delimiter: str) -> int | None:
    """The cell a quote left open: it runs over a line break and past delimiters (a cell
    typed with Alt+Enter holds a line break, not the next row's delimiters)."""
    for position, cell in enumerate(cells):
        if ("\n" in cell or "\r" in cell) and delimiter in cell:
            return position
    return None


def csv_problem(error: csv.Error) -> FileProblem:
    if "field larger than field limit" in str(error):
        return FileProblem(
            "FILE_UNREADABLE",
            what='a cell is far longer than any learner value (often a quote character " '
            "that is never closed); check the quotes",
        )
    return FileProblem("FILE_UNREADABLE", what="it is not a well-formed delimited text file")


def _numbered_csv_rows(text: io.TextIOBase, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    # Rows, not lines: a quoted cell may hold a line break, and the spreadsheet shows one row.
    reader = csv.reader(text, delimiter=delimiter, strict=False)
    try:
        yield from enumerate(reader, start=1)
    except csv.Error as error:
        raise csv_problem(error) from None


def trimmed_cells(cells: list[str]) -> list[str]:
    """The cells without the empty ones at the end of the row."""
    end = len(cells)
    while end and not cells[end - 1].strip():
        end -= 1
    return cells[:end]


def _data_rows(numbered: Iterator[tuple[int, list[str]]]) -> Iterator[SpreadsheetRow]:
    """The rows with something in them, trailing empty cells dropped."""
    for number, cells in numbered:
        if cells and cells[-1].strip():
            yield number, tuple(cells)
        elif trimmed := trimmed_cells(cells):
            yield number, tuple(trimmed)


# --- Workbooks -------------------------------------------------------------------------------


def _open_xlsx(data: BinaryIO, resources: ExitStack) -> LearnerFile:
    _check_workbook_zip(data)
    # openpyxl is imported here so that a CSV upload never pays for it.
    from openpyxl import load_workbook

    data.seek(0)
    try:
        with warnings.catch_warnings():
            # Unsupported extensions (data validation lists, styles) are warned about and
            # dropped; they do not matter for reading values.
            warnings.simplefilter("ignore")
            workbook = load_workbook(data, read_only=True, data_only=True, keep_links=False)
    except Exception:  # a damaged workbook fails in many ways inside openpyxl
        raise FileProblem("FILE_UNREADABLE", what="the workbook is damaged") from None
    resources.callback(workbook.close)
    sheets = workbook.worksheets
    if not sheets:
        raise FileProblem("FILE_EMPTY", what="no worksheet")
    visible = [sheet for sheet in sheets if sheet.sheet_state == "visible"]
    first = visible[0] if visible else workbook.active or sheets[0]
    learner_file = _sheet_file(workbook, first)
    learner_file.other_sheets = tuple(sheet.title for sheet in visible if sheet is not first)
    return learner_file


def _sheet_file(workbook, sheet) -> LearnerFile:
    """One worksheet of an open workbook as a LearnerFile (the workbook closed by the caller)."""
    sheets = workbook.worksheets
    hidden = tuple(
        other.title for other in sheets[: sheets.index(sheet)] if other.sheet_state != "visible"
    )
    cells = _WorkbookCells(workbook, sheet)
    return LearnerFile(
        "xlsx",
        _xlsx_rows(cells.rows()),
        sheet_name=sheet.title,
        hidden_sheets=hidden,
        formula_rows=cells.formula_rows,
        hidden_rows=cells.hidden_rows,
        merged_cells=cells.merged_cells,
        open_sheet=lambda title: _sheet_file(workbook, workbook[title]),
        reread=lambda: _xlsx_rows(_WorkbookCells(workbook, sheet).rows()),
    )


def _check_workbook_zip(data: BinaryIO) -> None:
    """Refuse a damaged workbook, a zip bomb, or a macro-enabled workbook before extracting."""
    try:
        archive = zipfile.ZipFile(data)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise FileProblem("FILE_UNREADABLE", what="the workbook is damaged or cut short") from None
    with archive:
        members = archive.infolist()
        if len(members) > rules.XLSX_MAX_MEMBERS:
            raise FileProblem("FILE_UNREADABLE", what="the workbook holds too many parts")
        declared = 0
        for member in members:
            declared += member.file_size
            if member.flag_bits & 0x1:
                raise FileProblem("FILE_UNREADABLE", what="the workbook is encrypted")
            ratio = member.file_size / max(member.compress_size, 1)
            if (
                member.file_size > rules.XLSX_RATIO_CHECK_FROM_BYTES
                and ratio > rules.XLSX_MAX_COMPRESSION_RATIO
            ) or declared > rules.XLSX_MAX_UNCOMPRESSED_BYTES:
                raise FileProblem(
                    "FILE_UNREADABLE",
                    what="the workbook would expand far beyond any learner file (a zip bomb?)",
                )
        names = {member.filename for member in members}
        if "xl/workbook.xml" not in names or "[Content_Types].xml" not in names:
            what = _zip_kind(names)
            if what in (_WORKBOOK, "a zip archive"):
                raise _file_type("a zip archive but not an Excel workbook")
            raise _not_a_sheet(what, ".xlsx")
        content_types = archive.getinfo("[Content_Types].xml")
        if content_types.file_size > rules.XLSX_SMALL_MEMBER_BYTES:
            raise FileProblem("FILE_UNREADABLE", what="the workbook is damaged")
        try:
            declared_types = archive.read(content_types).decode("utf-8", "replace").casefold()
            if "macroenabled" in declared_types or any(
                name.casefold().endswith("vbaproject.bin") for name in names
            ):
                raise FileProblem(
                    "FILE_UNREADABLE", what="it is a macro-enabled workbook; save it as .xlsx"
                )
            # Inflate every part once (bounded by the sizes checked above) so a damaged part is
            # found before any row is judged.
            for member in members:
                with archive.open(member) as part:
                    shutil.copyfileobj(part, _Discard(), _CHUNK)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError):
            raise FileProblem("FILE_UNREADABLE", what="the workbook is damaged") from None


class _Discard(io.RawIOBase):
    """A sink for inflating a zip member only to check it."""

    def writable(self) -> bool:
        return True

    def write(self, chunk: bytes) -> int:  # type: ignore[override]
        return len(chunk)


class _WorkbookCells:
    """A worksheet's rows as numbered value lists, read with openpyxl's own sheet parser.

    openpyxl's read-only rows give None both for a blank cell and for a formula saved without
    its value; this keeps them apart (FORMULA_WITHOUT_VALUE), shows numbers whose format pads
    them with zeros (a license number formatted 000000) as Excel shows them, marks date cells
    whose format hides the year or shows a time (YearHiddenDate, TimeShownDate), and notes the
    rows hidden in the sheet and its merged blocks of cells.
    """

    def __init__(self, workbook, sheet) -> None:
        self.workbook = workbook
        self.sheet = sheet
        self.formula_rows: set[int] = set()
        self.hidden_rows: set[int] = set()
        self.merged_cells: list[str] = []
        self._padding: dict[int, int | None] = {}
        self._date_kinds: dict[int, type[datetime] | None] = {}

    def rows(self) -> Iterator[tuple[int, list[Cell]]]:
        """(row number, cells as text: dates kept as datetime, None as "") for each row."""
        from openpyxl.worksheet._reader import CELL_TAG, FORMULA_TAG, WorkSheetParser

        parse_row = WorkSheetParser.parse_row
        formula_in_row = f"{CELL_TAG}/{FORMULA_TAG}"
        hidden_rows = self.hidden_rows

        class CellParser(WorkSheetParser):
            def parse_row(self, row):
                number, cells = parse_row(self, row)
                if cells and row.get("hidden") in ("1", "true"):
                    hidden_rows.add(number)
                # One search per row (in C); cells are looked at only in rows with formulas.
                if row.find(formula_in_row) is not None:
                    for cell, element in zip(cells, row, strict=False):
                        if cell["value"] is None and element.find(FORMULA_TAG) is not None:
                            cell["value"] = FORMULA_WITHOUT_VALUE
                return number, cells

        workbook = self.workbook
        with self.sheet._get_source() as source:
            parser = CellParser(
                source,
                self.sheet._shared_strings,
                data_only=True,
                epoch=workbook.epoch,
                date_formats=workbook._date_formats,
                timedelta_formats=workbook._timedelta_formats,
            )
            for number, cells in parser.parse():
                if not cells:
                    continue
                values: list[Cell] = [""] * cells[-1]["column"]
                for cell in cells:
                    value = cell["value"]
                    if type(value) is not str:  # most cells are text: they pass as they are
                        if value is None:
                            continue
                        if value is FORMULA_WITHOUT_VALUE:
                            self.formula_rows.add(number)
                        elif style_id := cell["style_id"]:
                            if type(value) is int:
                                value = self._padded(value, style_id)
                            elif type(value) is datetime and (kind := self._date_kind(style_id)):
                                value = kind.combine(value.date(), value.time())
                        value = _cell_text(value)
                    values[cell["column"] - 1] = value
                yield number, values
            if parser.merged_cells is not None:  # read after the rows, where the sheet keeps it
                self.merged_cells.extend(str(block.ref) for block in parser.merged_cells.mergeCell)

    def _padded(self, value: int, style_id: int) -> object:
        width = self._padding.get(style_id, -1)
        if width == -1:
            width = self._padding[style_id] = self._zero_padding(style_id)
        return value if width is None else f"{value:0{width}d}"

    def _date_kind(self, style_id: int) -> type[datetime] | None:
        """YearHiddenDate or TimeShownDate for a date format that hides the year or shows a
        time of day, else None (a date shown as a date)."""
        if style_id not in self._date_kinds:
            shown = _LITERALS.sub("", self._number_format(style_id)).casefold()
            kind = None
            if "y" not in shown and ("d" in shown or "mmm" in shown):
                kind = YearHiddenDate
            elif "h" in shown or "s" in shown:
                kind = TimeShownDate
            self._date_kinds[style_id] = kind
        return self._date_kinds[style_id]

    def _number_format(self, style_id: int) -> str:
        from openpyxl.styles.numbers import BUILTIN_FORMATS, BUILTIN_FORMATS_MAX_SIZE

        format_id = self.workbook._cell_styles[style_id].numFmtId
        if format_id < BUILTIN_FORMATS_MAX_SIZE:
            return BUILTIN_FORMATS.get(format_id, "General")
        return self.workbook._number_formats[format_id - BUILTIN_FORMATS_MAX_SIZE]

    def _zero_padding(self, style_id: int) -> int | None:
        """The width of a number format made only of zeros (00000), or None."""
        number_format = self._number_format(style_id)
        if number_format == "@":  # Text: a number typed before the column was formatted
            return 1
        digits = number_format.replace('"', "")
        return len(digits) if digits and set(digits) == {"0"} else None


def _xlsx_rows(values: Iterator[tuple[int, list[Cell]]]) -> Iterator[SpreadsheetRow]:
    """Numbered non-empty rows of the sheet, without their empty trailing cells; a sheet whose
    XML turns out damaged part-way raises FileProblem."""
    while True:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                batch = list(islice(values, _XLSX_BATCH))
        except Exception:  # the sheet's XML is damaged part-way
            raise FileProblem("FILE_UNREADABLE", what="the worksheet is damaged") from None
        if not batch:
            return
        for number, cells in batch:
            end = len(cells)
            # A formula without its value is not an empty cell: it is kept, to be named.
            while end and type(cells[end - 1]) is str and not cells[end - 1].strip():
                end -= 1
            if end:
                yield number, tuple(cells[:end])


def _cell_text(value: object) -> Cell:
    """A workbook value as the judge takes it: text, or a datetime for a date cell."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    if isinstance(value, float):
        return NumberText(excel_number(value))
    return NumberText(value)


def excel_number(value: float) -> str:
    """A number as Excel shows it in a General cell: rounded to 15 significant digits."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.{rules.EXCEL_SIGNIFICANT_DIGITS}g}"
