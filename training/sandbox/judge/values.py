"""Reading one cell's value as PARS means it, and showing values in messages (masked)."""

from __future__ import annotations

import calendar
import re
import unicodedata
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import NamedTuple

from nameparser import HumanName
from nameparser.config import Constants

from training.sandbox import rules
from training.sandbox.readers import Cell, TimeShownDate, YearHiddenDate

# --- Showing values --------------------------------------------------------------------------

_SHOWN_LENGTH = 40


def shown(value: str) -> str:
    """A cell value quoted for a message: control and invisible characters made spaces (a
    direction override would turn the message round), long values cut."""
    if not value:
        return "blank"
    cleaned = ODD_CHARACTERS.sub(" ", value)
    if len(cleaned) > _SHOWN_LENGTH:
        cleaned = cleaned[: _SHOWN_LENGTH - 1] + "…"
    return f'"{cleaned}"'


def masked(value: str) -> str:
    """An identifier with all but its last 4 characters hidden."""
    if not value:
        return "blank"
    keep = value[-4:] if len(value) > 4 else value
    return shown("*" * (len(value) - len(keep)) + keep)


# A word holding a digit, in text a sensitive column holds: it may be a birth year or an ID.
_WORD_WITH_DIGIT = re.compile(r"\S*\d\S*")


def shown_in(column: str, value: str) -> str:
    """A cell value quoted for a message, as its column allows: in Date of Birth, Licensing ID
    or NPI and Certifying Board ID (text that is not the value itself, such as a note) every
    word holding a digit is hidden ("Note: DOB ********** to confirm"), so no birth year or ID
    reaches a finding; in other columns as shown()."""
    if column not in rules.SENSITIVE_COLUMNS:
        return shown(value)
    return shown(digits_hidden(value))


def digits_hidden(value: str) -> str:
    """``value`` with every word holding a digit made asterisks ("Note: DOB ********** to
    confirm"): it may be a birth year or an ID."""
    return _WORD_WITH_DIGIT.sub(lambda word: "*" * len(word[0]), value)


_MONTH_NAME = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
# How a Date of Birth that is not MM/DD is described, in words and with a made-up example rather
# than the learner's value, which may hold a birth year: (pattern, description) in order.
_BIRTHDAY_FORMS = (
    (re.compile(rf"{_MONTH_NAME}[ -]\d{{1,2}}", re.I),
     'a month name and a number (like "Mar-15"), which Excel writes for a month and a year '
     "(March 2015), so the day may be lost"),
    (re.compile(rf"\d{{1,2}}[ -]{_MONTH_NAME}", re.I), 'a day and a month name (like "15-Mar")'),
    (re.compile(rf"\d{{1,2}}[ -]{_MONTH_NAME}[ -]\d{{2,4}}", re.I),
     'a day, a month name and a year (like "15-Mar-75")'),
    (re.compile(rf"{_MONTH_NAME}[ -]?\d{{1,2}},?[ -]?\d{{2,4}}", re.I),
     'a month name, a day and a year (like "March 15, 1975")'),
    (re.compile(rf"{_MONTH_NAME}", re.I), 'a month name alone (like "March")'),
    (re.compile(r"\d{1,2}[-.]\d{1,2}"), 'month and day joined by a dash or a dot (like "03-15")'),
    (re.compile(r"\d+"), "a number, not a month and a day (has its slash gone?)"),
)  # fmt: skip


def describe_birthday(value: str) -> str:
    """A Date of Birth that is not MM/DD, described for a message without showing the value:
    ``"Sep-10"`` gives 'a month name and a number (like "Mar-15"), …'. Text holding no digit
    (``"unknown"``) is shown as it is: it holds no birthday."""
    text = value.strip()
    if not text:
        return "blank"
    if not any(char.isdigit() for char in text):
        return shown(text)
    for pattern, description in _BIRTHDAY_FORMS:
        if pattern.fullmatch(text):
            return description
    return "not a month and a day written MM/DD"


def format_day(day: date) -> str:
    """A date as PARS writes it: MM/DD/YYYY."""
    return day.strftime("%m/%d/%Y")


def format_time_of_day(moment: datetime) -> str:
    """A date cell's time of day as Excel shows it: "3:45 PM"."""
    return f"{moment:%I:%M %p}".lstrip("0")


def as_read(cell: Cell) -> str:
    """A cell as text to show the person who wrote it: a date cell written MM/DD/YYYY, with its
    time of day after it when it has one ("11/20/2026 3:45 PM"); text stripped."""
    if isinstance(cell, datetime) and cell.time() != time():
        return f"{format_day(cell)} {format_time_of_day(cell)}"
    return cell_text(cell)


def column_letter(position: int) -> str:
    """The spreadsheet letter of a 1-based column position (1 → A, 27 → AA)."""
    letters = ""
    while position:
        position, remainder = divmod(position - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


# --- Reading cells ---------------------------------------------------------------------------

_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
# A date followed by a time of day, as LMS exports and date cells saved to CSV write them.
_DATE_AND_TIME = re.compile(
    r"(?P<date>\d{1,2}/\d{1,2}/\d{4}|\d{4}-\d{2}-\d{2})[ T]+"
    r"(?P<time>(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.\d+)?)?"
    r"(?:\s*(?P<half>[AaPp])\.?[Mm]\.?)?)(?:\s*(?:Z|[+-]\d{2}:?\d{2}))?"
)
# A date written day first, as Excel writes dates in many countries: 20.11.2026, 20/11/2026.
_DAY_FIRST_DATE = re.compile(r"(\d{1,2})([./-])(\d{1,2})\2(\d{4})")
_BIRTHDAY = re.compile(r"(\d{1,2})/(\d{1,2})")
# Day first, as European Excel writes a month and day: 14.03. or 14.03
_DOTTED_BIRTHDAY = re.compile(r"(\d{1,2})\.(\d{1,2})\.?")
_BIRTHDAY_WITH_YEAR = re.compile(
    r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{2,4}\s.*"
)
# Full dates of birth as providers' own spreadsheets and LMS exports hold them.
_FULL_BIRTH_DATE = re.compile(
    r"(?:(?P<y1>\d{4})-(?P<m1>\d{1,2})-(?P<d1>\d{1,2})(?:[ T]00:00(?::00(?:\.0+)?)?)?"
    r"|(?P<m2>\d{1,2})[/-](?P<d2>\d{1,2})[/-](?P<y2>\d{4}|\d{2})"
    r"|(?P<d3>\d{1,2})\.(?P<m3>\d{1,2})\.(?P<y3>\d{4}))"  # day first with dots (European Excel)
)
# What Excel writes in a CSV for a date it made of "09/10" (its d-mmm format): "10-Sep".
_DAY_MONTH = re.compile(r"(\d{1,2})-([A-Za-z]{3})")
# Excel's English month abbreviations (calendar.month_abbr would follow the server's locale).
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_SERIAL = re.compile(r"\d{5}(?:\.0+)?")
_EXCEL_EPOCH = date(1899, 12, 30)
_CREDITS = re.compile(r"\d+(?:\.\d*)?|\.\d+")
LICENSE_PATTERN = re.compile(r"[A-Za-z0-9-]*[A-Za-z0-9][A-Za-z0-9-]*")
ACTIONS = {action.casefold(): action for action in rules.ACTIONS}
_LEAP_YEAR = 2000
# Parsed values repeat a lot within a file (a few dates, credit values and states), so the pure
# parsers below keep the most recent results.
_CACHE_SIZE = 4096


def cell_text(cell: Cell) -> str:
    """A cell as text, stripped (an Excel date cell written MM/DD/YYYY)."""
    if isinstance(cell, datetime):
        return cell.strftime("%m/%d/%Y")
    return cell.strip()


def is_digits(text: str) -> bool:
    """Whether the text is ASCII digits only (not "²" or "٣")."""
    return text.isascii() and text.isdigit()


@lru_cache(maxsize=_CACHE_SIZE)
def parse_completion_date(cell: Cell) -> date | None:
    """A completion date from MM/DD/YYYY, YYYY-MM-DD or an Excel date cell with no time; text
    with a midnight time after the date (``2026-11-20 00:00:00``) is read as the date, which
    the judge warns about (see midnight_time)."""
    if isinstance(cell, datetime):
        return cell.date() if cell.time() == time() else None
    text = cell.strip()
    if len(text) > 10 and (match := _DATE_AND_TIME.fullmatch(text)) and _is_midnight(match):
        text = match["date"]
    return _day_of(text)


def _day_of(text: str) -> date | None:
    match = _US_DATE.fullmatch(text)
    if match:
        month, day, year = (int(part) for part in match.groups())
    elif match := _ISO_DATE.fullmatch(text):
        year, month, day = (int(part) for part in match.groups())
    else:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _is_midnight(match: re.Match) -> bool:
    hour = int(match["hour"])
    if match["half"]:
        hour = 0 if hour == 12 and match["half"] in "Aa" else hour + 12 * (hour != 12)
    return hour == 0 and int(match["minute"]) == 0 and int(match["second"] or 0) == 0


def midnight_time(cell: Cell) -> str:
    """The midnight time a completion date that was read shows after the date ("00:00:00" in
    text, "12:00 AM" for a date cell formatted with a time), else ""."""
    if type(cell) is TimeShownDate:
        return "12:00 AM"
    if type(cell) is not str or len(cell) <= len("MM/DD/YYYY"):
        return ""
    match = _DATE_AND_TIME.fullmatch(cell.strip())
    return match["time"] if match else ""


def completion_date_problem(cell: Cell) -> tuple[str, dict[str, str]]:
    """Why a completion date cannot be read: (finding code, message fields).

    DATE_HAS_TIME for a date with a time of day (a date cell or text), DATE_DAY_FIRST for a
    date written day first (20.11.2026, 20/11/2026), DATE_IS_SERIAL for an Excel date serial
    number in a text file, else DATE_FORMAT.
    """
    if isinstance(cell, datetime):
        clock = format_time_of_day(cell)
        return "DATE_HAS_TIME", {"value": f'"{format_day(cell)} {clock}"', "time": clock}
    text = cell.strip()
    if (match := _DATE_AND_TIME.fullmatch(text)) and _day_of(match["date"]) is not None:
        return "DATE_HAS_TIME", {"value": shown(text), "time": match["time"]}
    if match := _DAY_FIRST_DATE.fullmatch(text):
        first, separator, second, year = match.groups()
        day, month = int(first), int(second)
        if separator == "." or (day > 12 >= month):
            try:
                fixed = format_day(date(int(year), month, day))
            except ValueError:
                pass
            else:
                return "DATE_DAY_FIRST", {"value": shown(text), "fixed": fixed}
    serial = excel_serial_date(text)
    if serial is not None:
        return "DATE_IS_SERIAL", {"value": shown(text), "day": format_day(serial)}
    return "DATE_FORMAT", {"value": shown(text)}


def excel_serial_date(text: str) -> date | None:
    """The date an Excel date serial number (46353) stands for, or None if it is not one."""
    if not _SERIAL.fullmatch(text):
        return None
    serial = int(float(text))
    low, high = rules.EXCEL_SERIAL_RANGE
    return _EXCEL_EPOCH + timedelta(days=serial) if low <= serial < high else None


_DAYS_OF_THE_YEAR = frozenset(
    (month, day)
    for month in range(1, 13)
    for day in range(1, calendar.monthrange(_LEAP_YEAR, month)[1] + 1)
)


def _month_day(month: int, day: int) -> bool:
    return (month, day) in _DAYS_OF_THE_YEAR


# How a Date of Birth reads: (error code or None, month, day, how the spreadsheet turned the
# month and day into a date, "" when it did not).
Birthday = tuple[str | None, int, int, str]
_NO_BIRTHDAY = {
    code: (code, 0, 0, "")
    for code in (
        "DOB_FORMAT",
        "DOB_HAS_YEAR",
        "DOB_YEAR_HIDDEN",
        "DOB_INVALID_DAY",
        "DOB_DAY_FIRST",
    )
}
# How the spreadsheet turned a month and day into a date, for DOB_MADE_A_DATE.
_MADE_BY_CELL = "a date cell"
_MADE_BY_DAY_MONTH = 'saved as a day and a month name, like "15-Mar"'
_MADE_BY_FULL_DATE = 'saved as a full date with the year the spreadsheet added, like "3/15/2026"'
_MADE_BY_SERIAL = "an Excel date number"


# typed: a YearHiddenDate is equal to the datetime it holds, but is not read the same.
@lru_cache(maxsize=_CACHE_SIZE, typed=True)
def parse_birthday(cell: Cell, today: date) -> Birthday:
    """Read a Date of Birth: MM/DD, or a date the spreadsheet made of one (with a warning).

    A date whose year is recent (see rules.MADE_DATE_RECENT_YEARS) is what Excel makes of
    09/10 typed in a General cell: month and day are kept. A date with an older year is a
    birth date typed in full: DOB_HAS_YEAR, as PARS stores no birth year (DOB_YEAR_HIDDEN when
    the cell's format hides that year). A month and day written day first (14.03., or 14/03
    where 14 cannot be a month) is DOB_DAY_FIRST.
    """
    if isinstance(cell, datetime):
        made = _made_date(cell.year, cell.month, cell.day, today, _MADE_BY_CELL)
        if made[0] == "DOB_HAS_YEAR" and type(cell) is YearHiddenDate:
            return _NO_BIRTHDAY["DOB_YEAR_HIDDEN"]
        return made
    text = cell.strip()
    match = _BIRTHDAY.fullmatch(text)
    if match is not None:
        month, day = int(match[1]), int(match[2])
        if _month_day(month, day):
            return None, month, day, ""
        if month > 12 and _month_day(day, month):
            return _NO_BIRTHDAY["DOB_DAY_FIRST"]
        return _NO_BIRTHDAY["DOB_INVALID_DAY"]
    if match := _DOTTED_BIRTHDAY.fullmatch(text):
        day, month = int(match[1]), int(match[2])
        return _NO_BIRTHDAY["DOB_DAY_FIRST" if _month_day(month, day) else "DOB_FORMAT"]
    if match := _DAY_MONTH.fullmatch(text):
        month, day = _MONTHS.get(match[2].casefold(), 0), int(match[1])
        if _month_day(month, day):
            return None, month, day, _MADE_BY_DAY_MONTH
        return _NO_BIRTHDAY["DOB_FORMAT"]
    if _BIRTHDAY_WITH_YEAR.fullmatch(text):
        full = full_birth_date(text)
        if full is not None:
            return _made_date(*full, today, _MADE_BY_FULL_DATE)
        return _NO_BIRTHDAY["DOB_HAS_YEAR"]
    if (serial := excel_serial_date(text)) is not None:
        return _made_date(serial.year, serial.month, serial.day, today, _MADE_BY_SERIAL)
    return _NO_BIRTHDAY["DOB_FORMAT"]


def birthday_problem_detail(code: str, cell: Cell) -> str:
    """What a message about an unreadable Date of Birth says about the value, without showing
    a birth year: a description for DOB_FORMAT, what is wrong with the day for DOB_INVALID_DAY,
    the form written for DOB_DAY_FIRST."""
    text = cell_text(cell)
    if code == "DOB_INVALID_DAY":  # said without the numbers: they are the learner's birthday
        month = int(text.split("/")[0])
        if not 1 <= month <= 12:
            return "its month is not 01 to 12"
        return "its month has no such day"
    if code == "DOB_DAY_FIRST":
        return "DD.MM." if "." in text else "DD/MM"
    return describe_birthday(text)


def _made_date(year: int, month: int, day: int, today: date, how: str) -> Birthday:
    if year < today.year - rules.MADE_DATE_RECENT_YEARS:
        return _NO_BIRTHDAY["DOB_HAS_YEAR"]
    return None, month, day, how


def full_birth_date(text: str) -> tuple[int, int, int] | None:
    """(year, month, day) from a full date of birth as text, or None."""
    match = _FULL_BIRTH_DATE.fullmatch(text.strip())
    if match is None:
        return None
    if match["y1"]:
        year, month, day = int(match["y1"]), int(match["m1"]), int(match["d1"])
    elif match["y3"]:
        year, month, day = int(match["y3"]), int(match["m3"]), int(match["d3"])
    else:
        year, month, day = int(match["y2"]), int(match["m2"]), int(match["d2"])
        if year < 100:
            year += 1900  # a two-digit birth year is last century's for any practising physician
    return (year, month, day) if _month_day(month, day) else None


@lru_cache(maxsize=_CACHE_SIZE)
def birthday_from_full_date(cell: Cell) -> Cell:
    """A full date of birth (1975-09-10, 09/10/1975 or a date cell) as MM/DD; the year goes.

    A slash date keeps its two numbers in the order written, so that 25/12/1975 becomes 25/12
    and is judged as that birthday would be in the template (DOB_DAY_FIRST, and evidence for
    FILE_DATES_DAY_FIRST); a date of no real day loses its year too, for the judge to name
    without it. Anything else is left as it is, for the judge to name.
    """
    if isinstance(cell, datetime):
        return f"{cell.month:02d}/{cell.day:02d}"
    match = _FULL_BIRTH_DATE.fullmatch(cell.strip())
    if match is None:
        return cell
    if match["y1"]:
        first, second = match["m1"], match["d1"]
    elif match["y3"]:
        first, second = match["m3"], match["d3"]
    else:
        first, second = match["m2"], match["d2"]
    return f"{first.zfill(2)}/{second.zfill(2)}"


def birthday_without_year(cell: Cell, today: date) -> str:
    """A Date of Birth cell as anything the sandbox shows or writes has it (a page, the staff's
    view, every download): MM/DD as PARS reads it; a full date (text or a date cell) with its
    year gone, its two numbers in the order written; anything else that may still hold a year
    (3 digits or more together) with every word holding a digit hidden, as findings hide it;
    other text as it is. No birth year ever leaves the sandbox."""
    problem, month, day, _made_by = parse_birthday(cell, today)
    if problem is None:
        return f"{month:02d}/{day:02d}"
    yearless = cell_text(birthday_from_full_date(cell))
    if yearless != cell_text(cell):
        return yearless
    if written := _yearless_written_date(yearless):
        return written
    return digits_hidden(yearless) if _MAY_HOLD_YEAR.search(yearless) else yearless


_MAY_HOLD_YEAR = re.compile(r"\d{3,}")
# A full date with a time of day (03/28/1968 00:00, 3/28/1968 12:00 AM), and one written year
# first with slashes or dots (1968/03/28): birthday_from_full_date leaves them as they are, for
# the judge to name, but they are written MM/DD all the same.
_WITH_TIME_OF_DAY = re.compile(
    r"(?P<date>[\d/.-]+)[ T]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
    r"(?:\s*[AaPp]\.?[Mm]\.?)?(?:\s*(?:Z|[+-]\d{2}:?\d{2}))?"
)
_YEAR_FIRST = re.compile(r"\d{4}([/.])(?P<month>\d{1,2})\1(?P<day>\d{1,2})")


def is_full_date(cell: Cell) -> bool:
    """Whether a Date of Birth cell is a full date, with its year (a date cell, or text
    birthday_without_year writes as MM/DD without that year)."""
    if isinstance(cell, datetime):
        return True
    text = cell.strip()
    return birthday_from_full_date(text) != text or _yearless_written_date(text) is not None


def _yearless_written_date(text: str) -> str | None:
    """A full date, with or without a time of day, as MM/DD; None for anything else."""
    if match := _WITH_TIME_OF_DAY.fullmatch(text):
        text = match["date"]
    if (written := cell_text(birthday_from_full_date(text))) != text:
        return written
    if match := _YEAR_FIRST.fullmatch(text):
        return f"{match['month'].zfill(2)}/{match['day'].zfill(2)}"
    return None


def looks_like_full_birth_date(cell: object, today: date) -> bool:
    """Whether a sample value is a full date of birth with a birth year (for proposing)."""
    if isinstance(cell, datetime):
        return cell.year < today.year - rules.MADE_DATE_RECENT_YEARS
    full = full_birth_date(cell) if isinstance(cell, str) else None
    return full is not None and full[0] < today.year - rules.MADE_DATE_RECENT_YEARS


@lru_cache(maxsize=_CACHE_SIZE)
def parse_credits(text: str) -> Decimal | None:
    """Credits as a Decimal rounded as Excel shows them (15 significant digits), or None."""
    if not _CREDITS.fullmatch(text):
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:  # pragma: no cover (the pattern admits only plain decimals)
        return None
    # Only a long text can hold more significant digits than Excel keeps.
    if len(text) > rules.EXCEL_SIGNIFICANT_DIGITS and (
        len(value.as_tuple().digits) > rules.EXCEL_SIGNIFICANT_DIGITS
    ):
        places = rules.EXCEL_SIGNIFICANT_DIGITS - value.adjusted() - 1
        value = round(value, places).normalize()
    return value


@lru_cache(maxsize=_CACHE_SIZE)
def state_code(text: str) -> str | None:
    """The 2-letter code of a US state, DC or territory given as code or full name, else None."""
    folded = " ".join(text.split()).casefold()
    code = folded.upper()
    if code in rules.STATES:
        return code
    return rules.STATE_CODES_BY_FOLDED_NAME.get(folded)


def board_code(text: str) -> str | None:
    """The board code as rules.BOARDS spells it (any case accepted), else None."""
    return rules.BOARDS_BY_FOLDED_CODE.get(text.strip().casefold())


def license_key(license_number: str) -> str:
    """A license number folded for comparison: upper case, dashes and spaces dropped."""
    return "".join(license_number.replace("-", " ").split()).upper()


def npi_is_valid(npi: str) -> bool:
    """Whether a 10-digit NPI passes the Luhn check computed with the 80840 prefix."""
    if len(npi) != rules.NPI_DIGITS or not is_digits(npi):
        return False
    total = 0
    for position, digit in enumerate(reversed(rules.NPI_PREFIX + npi)):
        value = int(digit)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


class NameSplit(NamedTuple):
    """How one Name cell was split: the names PARS takes, what was left out, and why the
    person should check it ("" when the split is clear)."""

    first: str
    last: str
    left_out: tuple[str, ...]  # titles, suffixes, credentials and nicknames, as written
    doubt: str


def _name_words() -> Constants:
    words = Constants()
    words.suffix_acronyms.add(*rules.NAME_CREDENTIALS)
    return words


_NAME_WORDS = _name_words()
# Words that make nameparser do more than split in two: titles, suffixes, particles, "and".
_SPECIAL_NAME_WORDS = frozenset(
    word
    for group in (
        _NAME_WORDS.titles,
        _NAME_WORDS.suffix_acronyms,
        _NAME_WORDS.suffix_not_acronyms,
        _NAME_WORDS.prefixes,
        _NAME_WORDS.conjunctions,
    )
    for word in group
)
_NAME_DOUBTS = {
    "parts": "it has more than two names and no comma, so where the last name starts is a "
    'guess (write it "Last, First" to say).',
    "left_out": "PARS wants the legal name, without titles, suffixes or credentials; if the "
    "board knows the learner with a suffix (Jr., III), add it back to the last name.",
}


@lru_cache(maxsize=_CACHE_SIZE)
def split_name(text: str) -> NameSplit:
    """Split one Name cell ("Last, First" or "First Last") into PARS's first and last name.

    nameparser finds titles (Dr., Ms.), suffixes and credentials (Jr., III, MD, PhD), nicknames
    and last-name particles ("de la Cruz"); titles go without a word, and a middle name stays
    with the first name. A single name is the last name (the first is then missing). ``doubt``
    says why the person should check the split: more than two names without a comma, or a
    suffix, credential or nickname left out.
    """
    text = " ".join(text.split())
    if not text:
        return NameSplit("", "", (), "")
    words = text.replace(",", " ").split()
    if len(words) == 2 and not _special(words):
        # The common case, read as nameparser would read it, without its cost.
        before, comma, after = text.partition(",")
        if not comma:
            return NameSplit(words[0], words[1], (), "")
        if before.strip() and after.strip() and "," not in after:
            return NameSplit(after.strip(), before.strip(), (), "")
    name = HumanName(text, constants=_NAME_WORDS)
    first = " ".join(part for part in (name.first, name.middle) if part)
    last = name.last
    suffixes = tuple(part.strip() for part in name.suffix.split(",") if part.strip())
    nicknames = (f'"{name.nickname}"',) if name.nickname else ()
    left_out = (*([name.title] if name.title else []), *suffixes, *nicknames)
    if not first or not last:
        # One name only ("Cher", "Dr. Frost"): the last name, and the first is found missing.
        return NameSplit("", last or first, left_out, _NAME_DOUBTS["left_out"] * bool(left_out))
    if suffixes or nicknames:
        doubt = _NAME_DOUBTS["left_out"]
    elif "," not in text and len((first + " " + last).split()) > 2 and not _particle_only(name):
        doubt = _NAME_DOUBTS["parts"]
    else:
        doubt = ""
    return NameSplit(first, last, left_out, doubt)


def _special(words: list[str]) -> bool:
    first, second = words
    special = _SPECIAL_NAME_WORDS
    return first.casefold().strip(".") in special or second.casefold().strip(".") in special


def _particle_only(name: HumanName) -> bool:
    """Whether the only extra words are a last name's particles ("Ana de la Cruz")."""
    return not name.middle and len(name.first.split()) == 1


# --- Characters --------------------------------------------------------------------------------

# Characters that do not belong inside a value: control characters (line breaks, tabs), format
# characters that cannot be seen (zero-width spaces, direction marks and overrides, soft
# hyphens, byte-order marks), and spaces other than the ordinary one (no-break spaces).
ODD_CHARACTERS = re.compile(
    "[\x00-\x1f\x7f-\x9f\xa0\xad\u0600-\u0605\u061c\u06dd\u070f\u1680\u180e"
    "\u2000-\u200f\u2028-\u202f\u205f-\u2064\u2066-\u206f\u3000\ufeff\ufff9-\ufffb"
    "\U000e0001\U000e0020-\U000e007f]"
)
_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
_CHARACTER_NAMES = {
    "\n": "a line break",
    "\r": "a line break",
    "\t": "a tab",
    "\xa0": "a no-break space",
    "\u200b": "a zero-width space",
    "\ufeff": "a zero-width no-break space (byte-order mark)",
}


class OddCharacters(NamedTuple):
    """What a value holds that does not belong in it, described for a message."""

    breaking: str  # line breaks, tabs and other control characters: the row is refused
    invisible: str  # format characters and odd spaces
    handled: str  # what became of the invisible ones, as without_odd_characters treats them


# What without_odd_characters made of the invisible characters: (any odd space, any other).
_HANDLED = {
    (True, False): "it was read as an ordinary space",
    (False, True): "it was left out",
    (True, True): "the spaces were read as ordinary spaces and the rest left out",
}


def _character_name(char: str) -> str:
    known = _CHARACTER_NAMES.get(char)
    if known is not None:
        return known
    if char in _LINE_BREAKS:
        return f"a line break (U+{ord(char):04X})"
    name = unicodedata.name(char, "").lower() or "control character"
    return f"a {name} (U+{ord(char):04X})"


def _is_breaking(char: str) -> bool:
    return unicodedata.category(char) == "Cc" or char in _LINE_BREAKS


@lru_cache(maxsize=_CACHE_SIZE)
def odd_characters(text: str) -> OddCharacters:
    """Which ODD_CHARACTERS a value holds and where, in words ("a zero-width space after
    character 4"); at most three of each kind are named. A carriage return and line feed
    together (a Windows line end) are one line break."""
    found: dict[bool, list[str]] = {True: [], False: []}
    spaces = others = False
    for match in ODD_CHARACTERS.finditer(text):
        position = match.start()
        char = match.group()
        if char == "\n" and text[position - 1 : position] == "\r":
            continue  # named with its carriage return
        if position == 0:
            where = "at the start"
        elif position == len(text) - 1 or text[position:] == "\r\n":
            where = "at the end"
        else:
            where = f"after character {position}"
        breaking = _is_breaking(char)
        found[breaking].append(f"{_character_name(char)} {where}")
        if not breaking:
            spaces, others = spaces or _is_spacing(char), others or not _is_spacing(char)
    return OddCharacters(
        listed(found[True]), listed(found[False]), _HANDLED.get((spaces, others), "")
    )


def listed(parts: list[str], limit: int = 3) -> str:
    """Parts joined as a sentence lists them ("a, b and c"), at most ``limit`` and a count."""
    if len(parts) > limit:
        parts = [*parts[:limit], f"{len(parts) - limit} more"]
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


@lru_cache(maxsize=_CACHE_SIZE)
def without_odd_characters(text: str) -> str:
    """The value as it is meant: odd spaces and line breaks become one space, other control
    and format characters go (a zero-width space inside a name joins its halves)."""
    cleaned = ODD_CHARACTERS.sub(lambda match: " " if _is_spacing(match.group()) else "", text)
    return " ".join(cleaned.split()) if cleaned != text else text


def joined_at_breaks(text: str) -> str:
    """The value with its line breaks and control characters taken out rather than made
    spaces (as without_odd_characters makes them): "Tal\nia" as "Talia", a name broken in two
    where no space was meant."""
    joined = "".join(char for char in text if not _is_breaking(char))
    return without_odd_characters(joined)


def _is_spacing(char: str) -> bool:
    return char in _LINE_BREAKS or char == "\t" or unicodedata.category(char) == "Zs"


def unusual_characters(name: str) -> str:
    """What a name holds that ordinary keyboards do not type, every cause found: emoji or
    symbols, and letters in a compatibility form (full-width "Ａ", ligatures "ﬁ"), each shown;
    "" when neither. The spec is silent on characters, so this is a warning, not an error [D].
    Only RowJudge asks it: a name that is not printable ASCII never takes the fast or batch
    paths."""
    if name.isascii():
        return ""
    causes = []
    symbols = [char for char in name if unicodedata.category(char) in _SYMBOL_CATEGORIES]
    if symbols:
        causes.append(f'an emoji or symbol ("{"".join(dict.fromkeys(symbols))}")')
    # Letters, not the symbols already named (NFKC spells "™" as "TM").
    composed = unicodedata.normalize("NFC", name)
    letters = [
        char
        for char in composed
        if unicodedata.category(char) not in _SYMBOL_CATEGORIES
        and unicodedata.normalize("NFKC", char) != char
    ]
    if letters:
        causes.append(
            f'full-width or joined letters ("{"".join(letters)}", as some '
            "keyboard settings type them)"
        )
    return listed(causes)


_SYMBOL_CATEGORIES = ("So", "Sk", "Co", "Cs")


# A slash date that reads either way: two numbers up to 12, then perhaps a year.
_EITHER_WAY = re.compile(r"(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?(?=$|[ T])")


@lru_cache(maxsize=_CACHE_SIZE)
def either_way_date(text: str) -> tuple[int, int] | None:
    """(first, second number) of a slash date both of whose numbers can be the month and
    differ ("09/10", "09/10/2026": September 10 month first, October 9 day first), else None."""
    match = _EITHER_WAY.match(text.strip())
    if match is None:
        return None
    first, second = int(match[1]), int(match[2])
    if not (1 <= first <= 12 and 1 <= second <= 12) or first == second:
        return None
    return first, second


def month_and_day(month: int, day: int) -> str:
    """A month and day in words, which no reader takes the wrong way round: "September 10"."""
    return f"{_MONTH_NAMES[month - 1]} {day}"


_MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
# Excel writes a number of 12 or more digits in a CSV as 1.23457E+09 (6 significant digits).
_SCIENTIFIC = re.compile(r"[+-]?\d+(?:[.,]\d*)?[Ee][+-]?\d+")


def is_scientific(text: str) -> bool:
    """Whether an identifier is a number Excel wrote in scientific notation (1.23457E+09)."""
    return _SCIENTIFIC.fullmatch(text) is not None


_CHARACTER_WORDS = {
    " ": "a space",
    ",": "a comma",
    ".": "a period",
    "/": "a slash",
    "_": "an underscore",
    "'": "an apostrophe",
    '"': "a quote",
    "#": 'a "#"',
    "-": "a dash",
}


def what_it_holds(text: str, allowed: str) -> str:
    """The first character of an identifier that is not ``allowed`` ("digits" or "letters,
    digits and dashes"), in words for a message: ": it holds a space", ": it holds "é""; ""
    when every character is allowed."""
    for char in text:
        if char.isascii() and (
            char.isdigit() or (allowed != "digits" and (char.isalpha() or char == "-"))
        ):
            continue
        if char.isascii() and char.isalpha():
            return ": it holds a letter"
        named = _CHARACTER_WORDS.get(char) or '"' + char + '"'
        return f": it holds {named}"
    return ""


_DECIMAL_COMMA = re.compile(r"\d*,\d+")


def with_decimal_point(text: str) -> str | None:
    """A number written with a decimal comma (1,5) as written with a point (1.5), else None."""
    return text.replace(",", ".") if _DECIMAL_COMMA.fullmatch(text) else None


@lru_cache(maxsize=_CACHE_SIZE)
def credits_problem(text: str) -> tuple[Decimal | None, str | None]:
    """(credits, None), or (None, the finding code) for a credits cell that is not a positive
    number in steps of rules.CREDIT_STEP."""
    value = parse_credits(text) if text else None
    if value is None or value <= 0:
        return None, "CREDITS_FORMAT"
    if value % rules.CREDIT_STEP:
        return None, "CREDITS_NOT_QUARTER"
    return value, None
