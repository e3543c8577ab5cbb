"""Reading one cell's value as PARS means it, and showing values in messages (masked)."""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from training.sandbox import rules
from training.sandbox.readers import Cell

# --- Showing values --------------------------------------------------------------------------

_SHOWN_LENGTH = 40
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def shown(value: str) -> str:
    """A cell value quoted for a message: control characters dropped, long values cut."""
    if not value:
        return "blank"
    cleaned = _CONTROL.sub(" ", value)
    if len(cleaned) > _SHOWN_LENGTH:
        cleaned = cleaned[: _SHOWN_LENGTH - 1] + "…"
    return f'"{cleaned}"'


def masked(value: str) -> str:
    """An identifier with all but its last 4 characters hidden."""
    if not value:
        return "blank"
    keep = value[-4:] if len(value) > 4 else value
    return shown("*" * (len(value) - len(keep)) + keep)


def masked_birthday(value: str) -> str:
    """A date of birth with every digit and letter hidden (its shape kept)."""
    if not value:
        return "blank"
    return shown(re.sub(r"\w", "*", value))


def format_day(day: date) -> str:
    """A date as PARS writes it: MM/DD/YYYY."""
    return day.strftime("%m/%d/%Y")


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
_BIRTHDAY = re.compile(r"(\d{1,2})/(\d{1,2})")
_BIRTHDAY_WITH_YEAR = re.compile(
    r"\d{1,2}[/-]\d{1,2}[/-]\d{2,4}|\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{2,4}\s.*"
)
# Full dates of birth as providers' own spreadsheets and LMS exports hold them.
_FULL_BIRTH_DATE = re.compile(
    r"(?:(?P<y1>\d{4})-(?P<m1>\d{1,2})-(?P<d1>\d{1,2})(?:[ T]00:00(?::00(?:\.0+)?)?)?"
    r"|(?P<m2>\d{1,2})[/-](?P<d2>\d{1,2})[/-](?P<y2>\d{4}|\d{2}))"
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
    """A completion date from MM/DD/YYYY, YYYY-MM-DD or an Excel date cell with no time."""
    if isinstance(cell, datetime):
        return cell.date() if cell.time() == time() else None
    text = cell.strip()
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
    code: (code, 0, 0, "") for code in ("DOB_FORMAT", "DOB_HAS_YEAR", "DOB_INVALID_DAY")
}


@lru_cache(maxsize=_CACHE_SIZE)
def parse_birthday(cell: Cell, today: date) -> Birthday:
    """Read a Date of Birth: MM/DD, or a date the spreadsheet made of one (with a warning).

    A date whose year is recent (see rules.MADE_DATE_RECENT_YEARS) is what Excel makes of
    09/10 typed in a General cell: month and day are kept. A date with an older year is a
    birth date typed in full: DOB_HAS_YEAR, as PARS stores no birth year.
    """
    if isinstance(cell, datetime):
        return _made_date(cell.year, cell.month, cell.day, today, "a date cell")
    text = cell.strip()
    match = _BIRTHDAY.fullmatch(text)
    if match is not None:
        month, day = int(match[1]), int(match[2])
        return (None, month, day, "") if _month_day(month, day) else _NO_BIRTHDAY["DOB_INVALID_DAY"]
    if match := _DAY_MONTH.fullmatch(text):
        month, day = _MONTHS.get(match[2].casefold(), 0), int(match[1])
        if _month_day(month, day):
            return None, month, day, f"saved as {_shape(text)}"
        return _NO_BIRTHDAY["DOB_FORMAT"]
    if _BIRTHDAY_WITH_YEAR.fullmatch(text):
        full = full_birth_date(text)
        if full is not None:
            return _made_date(*full, today, f"saved as {_shape(text)}")
        return _NO_BIRTHDAY["DOB_HAS_YEAR"]
    if (serial := excel_serial_date(text)) is not None:
        return _made_date(serial.year, serial.month, serial.day, today, "an Excel date number")
    return _NO_BIRTHDAY["DOB_FORMAT"]


def _shape(text: str) -> str:
    """The form of a value without its digits: 10-Sep → DD-Mon, 9/10/2026 → M/DD/YYYY."""
    shape = re.sub(r"[A-Za-z]{3}", "Mon", text)
    return re.sub(r"\d", "D", shape)


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
    else:
        year, month, day = int(match["y2"]), int(match["m2"]), int(match["d2"])
        if year < 100:
            year += 1900  # a two-digit birth year is last century's for any practising physician
    return (year, month, day) if _month_day(month, day) else None


@lru_cache(maxsize=_CACHE_SIZE)
def birthday_from_full_date(cell: Cell) -> Cell:
    """A full date of birth (1975-09-10, 09/10/1975 or a date cell) as MM/DD; the year goes.

    Anything else is left as it is, for the judge to name.
    """
    if isinstance(cell, datetime):
        return f"{cell.month:02d}/{cell.day:02d}"
    full = full_birth_date(cell)
    if full is None:
        return cell
    return f"{full[1]:02d}/{full[2]:02d}"


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


def split_name(text: str) -> tuple[str, str]:
    """(first name, last name) from one Name cell: "Last, First" or "First Last".

    After a comma, a credential or suffix ("Ann Lee, MD") is dropped rather than taken for a
    first name; without one, the last word is the last name, with the small words before it
    that belong to it ("Ana de la Cruz").
    """
    text = " ".join(text.split())
    if "," in text:
        before, after = (part.strip() for part in text.split(",", 1))
        tail = after.split(",")[0].strip()
        if tail.casefold().rstrip(".") in rules.NAME_SUFFIXES or not tail:
            text = before
        else:
            return tail, before
    words = text.split(" ")
    if len(words) < 2:
        return "", text
    start = len(words) - 1
    while start > 1 and words[start - 1].casefold() in rules.NAME_PARTICLES:
        start -= 1
    return " ".join(words[:start]), " ".join(words[start:])


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
