"""The PARS learner-file rules as data: columns, codes and messages, boards, states and limits.

This is our best public reading of PARS (see ../shared/spec/pars-learner-file.md); a correction
to a rule should be an edit here and nowhere else.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

# --- Columns ---------------------------------------------------------------------------------

RECORD_ACTION = "Record Action"
ACTIVITY_ID = "ACCME Activity ID"
COMPLETION_DATE = "Completion Date"
FIRST_NAME = "First Name"
LAST_NAME = "Last Name"
DATE_OF_BIRTH = "Date of Birth"
LICENSING_STATE = "Licensing State"
LICENSE_OR_NPI = "Licensing ID or NPI"
CME_CREDITS = "Number of CME Credits"
BOARD = "Certifying Board"
BOARD_ID = "Certifying Board ID"
BOARD_CREDITS = "Total Board Credits"
CREDIT_TYPE = "Credit Type"
CREDIT_TYPE_CREDITS = "Credits Awarded for Credit Type"
ADDITIONAL_PAIRS = 3

# (credit type column, credits column) pairs, the first one and the additional ones.
CREDIT_TYPE_PAIRS: tuple[tuple[str, str], ...] = (
    (CREDIT_TYPE, CREDIT_TYPE_CREDITS),
    *(
        (f"Additional Credit Type {n}", f"Credits Awarded for Additional Credit Type {n}")
        for n in range(1, ADDITIONAL_PAIRS + 1)
    ),
)

REQUIRED_HEADERS: tuple[str, ...] = (
    RECORD_ACTION,
    ACTIVITY_ID,
    COMPLETION_DATE,
    FIRST_NAME,
    LAST_NAME,
    DATE_OF_BIRTH,
    LICENSING_STATE,
    LICENSE_OR_NPI,
    CME_CREDITS,
    BOARD,
    BOARD_ID,
    BOARD_CREDITS,
    CREDIT_TYPE,
    CREDIT_TYPE_CREDITS,
)
# The full header: the column names findings use. A file may stop after column 14 or after any
# additional pair ("up to three more pairs may follow").
HEADERS: tuple[str, ...] = REQUIRED_HEADERS + tuple(
    column for pair in CREDIT_TYPE_PAIRS[1:] for column in pair
)
# What FILE_MAC_ROMAN says of a comma-delimited and of a tab-delimited file: how Excel for Mac
# saved it, and how to save it in UTF-8 instead. Excel for Mac offers "CSV UTF-8 (Comma
# delimited)" but no tab-delimited text in UTF-8: its "Tab Delimited Text (.txt)" writes Mac
# Roman and its "UTF-16 Unicode Text (.txt)" UTF-16, which the sandbox refuses (FILE_ENCODING).
MAC_ROMAN_ADVICE = {
    ",": {
        "how": 'the old "CSV (Macintosh)" format of Excel for Mac saves it',
        "fix": "in Excel, File > Save As, choose CSV UTF-8 (Comma delimited), and upload that "
        "file.",
    },
    "\t": {
        "how": 'Excel for Mac\'s "Tab Delimited Text (.txt)" format saves it',
        "fix": 'Excel for Mac has no tab-delimited format in UTF-8 (its "UTF-16 Unicode Text" '
        "is not UTF-8), so in Excel, File > Save As, choose Excel Workbook (.xlsx) or CSV UTF-8 "
        "(Comma delimited), and upload that file; the PARS-ready tab-delimited file this "
        "sandbox makes from it is UTF-8.",
    },
}

# The header row as ACCME's Excel template spells it, "Credit Type " with its trailing space [R]:
# every file we hand out (the template, the PARS-ready file) writes exactly this.
TEMPLATE_SPELLING = {CREDIT_TYPE: "Credit Type "}
TEMPLATE_HEADER_ROW: tuple[str, ...] = tuple(TEMPLATE_SPELLING.get(name, name) for name in HEADERS)
ACCEPTED_HEADER_LENGTHS = frozenset(
    len(REQUIRED_HEADERS) + 2 * n for n in range(ADDITIONAL_PAIRS + 1)
)

# Row 1 of the XLSX template (kept by Excel when it is saved as CSV or text): one cell. A file
# may keep it or not: the header is found by its content below it.
GUIDANCE_MARKER = "Guidance:"
GUIDANCE_LINE = (
    "Guidance: one learner completion per row, from row 3. Keep this row and the header row "
    "below it as they are. Record Action is Add or Delete. Completion Date as MM/DD/YYYY. "
    "Date of Birth as MM/DD with no year. Credits in steps of 0.25. Valid boards and credit "
    "types are on the ValidValues sheet."
)
XLSX_HEADER_ROW = 2  # row 1 of the template is the guidance line
# The header is found by its content among the first rows (guidance, titles and blank lines
# above it are skipped); a header further down than this is not looked for.
HEADER_SCAN_ROWS = 20
# Additional pairs written without their number: numbered in the order they come.
UNNUMBERED_PAIR = ("Additional Credit Type", "Credits Awarded for Additional Credit Type")
# A first row starting with one of these is a learner row: the file has no header [P: ACCME's
# tab-delimited instructions have the header row deleted].
ACTIONS = ("Add", "Delete")
# What a spreadsheet's totals row is labelled with, in any column, folded (a trailing colon
# is left out).
TOTALS_WORDS = frozenset(("total", "totals", "sum", "grand total", "subtotal", "count"))
# What a note typed into a row of its own starts with, folded (a trailing colon left out).
NOTE_WORDS = frozenset(("note", "notes", "nb", "n.b.", "comment", "comments", "remark", "remarks"))

# --- The provider's own columns (mapping) ----------------------------------------------------

# What a file column can be mapped to besides a template column [D].
NAME_COLUMN = "Name (first and last name in one column)"
BIRTH_DATE_COLUMN = "Date of birth with a year (only month and day are kept)"
# The template columns each of those fills: a mapping chooses it or them, never both.
FILLED_BY: dict[str, tuple[str, ...]] = {
    NAME_COLUMN: (FIRST_NAME, LAST_NAME),
    BIRTH_DATE_COLUMN: (DATE_OF_BIRTH,),
}
# The columns whose values findings never quote whole: a birthday (its text may hold a birth
# year) and the learner's IDs (shown by their last 4 characters).
SENSITIVE_COLUMNS = frozenset({DATE_OF_BIRTH, BIRTH_DATE_COLUMN, LICENSE_OR_NPI, BOARD_ID})
NOT_USED = ""
MAPPING_TARGETS: tuple[str, ...] = (*HEADERS, NAME_COLUMN, BIRTH_DATE_COLUMN)
# Columns a mapped file must have; Record Action and the activity may be one value for every row.
MAPPING_REQUIRED = (
    RECORD_ACTION,
    ACTIVITY_ID,
    COMPLETION_DATE,
    FIRST_NAME,
    LAST_NAME,
    DATE_OF_BIRTH,
)
FILLABLE_COLUMNS = (RECORD_ACTION, ACTIVITY_ID)
# Checking learners only needs who they are; the rest of the row is not judged.
LEARNER_CHECK_REQUIRED = (FIRST_NAME, LAST_NAME, DATE_OF_BIRTH)
LEARNER_CHECK_COLUMNS = (
    FIRST_NAME,
    LAST_NAME,
    DATE_OF_BIRTH,
    LICENSING_STATE,
    LICENSE_OR_NPI,
    BOARD,
    BOARD_ID,
)

# Headers providers' own spreadsheets and LMS exports use, compared after folding case,
# punctuation and spaces (see columns.header_key) [D, from the spec's examples]. Anything else is
# matched fuzzily (rapidfuzz) against these and the template's own names.
COLUMN_SYNONYMS: dict[str, tuple[str, ...]] = {
    RECORD_ACTION: ("Action", "Add/Delete", "Record"),
    ACTIVITY_ID: ("Activity ID", "Activity", "Activity Number", "ACCME ID", "Activity #",
                  "PARS Activity ID", "Course ID"),
    COMPLETION_DATE: ("Date Completed", "Completed", "Completed On", "Completed Date",
                      "Completion", "Date of Completion", "Attended", "Date Attended",
                      "Attendance Date", "Session Date", "Credit Date", "Date Earned", "Date"),
    FIRST_NAME: ("First", "FirstName", "Given Name", "Forename", "Fname", "First Nm"),
    LAST_NAME: ("Last", "LastName", "Surname", "Family Name", "Lname", "Last Nm"),
    DATE_OF_BIRTH: ("DOB", "Birthday", "Birth Day", "DOB (MM/DD)", "Birth Month/Day",
                    "Month/Day of Birth", "Birthdate (MM/DD)", "Birth Date (MM/DD)",
                    "Date of Birth (MM/DD)"),
    BIRTH_DATE_COLUMN: ("Birth Date", "Birthdate", "Date of Birth (full)", "Full DOB"),
    LICENSING_STATE: ("State", "Lic State", "License State", "State of Licensure",
                      "Licensure State", "Licensing State", "St", "State Licensed"),
    LICENSE_OR_NPI: ("License #", "License", "License Number", "License No", "Lic No", "Lic #",
                     "Lic Num", "License ID", "Medical License", "Licence", "NPI",
                     "NPI Number", "NPI #", "License or NPI", "License Num", "Lic Number"),
    CME_CREDITS: ("Credits", "CME Credits", "CME", "Credit Hours", "Credits Earned",
                  "Credits Awarded", "AMA Credits", "AMA PRA Category 1 Credits", "Hours",
                  "CME Hours", "Credits Claimed", "CME Credits Claimed", "Hours Claimed",
                  "CME Credit", "Credit Amount", "Category 1 Credits"),
    BOARD: ("Board", "MOC Board", "Specialty Board", "ABMS Board", "Board Name"),
    BOARD_ID: ("Board ID", "Board Number", "Board #", "Diplomate ID", "Diplomate Number",
               "Diplomate #", "MOC ID", "ABIM ID", "ABP ID", "Board Cert ID", "Board ID Number"),
    BOARD_CREDITS: ("MOC Points", "MOC Pts", "MOC Credits", "Board Credits", "Board Points",
                    "Board Pts", "Board Credit", "Points", "Pts", "Total MOC Points",
                    "Total Board Points", "MOC Points Earned", "Board Points Earned",
                    "Points Earned"),
    CREDIT_TYPE: ("MOC Credit Type", "Type of Credit", "Credit Category"),
    CREDIT_TYPE_CREDITS: ("Credit Type Credits", "Credits for Credit Type", "Type Credits"),
    NAME_COLUMN: ("Name", "Full Name", "Learner", "Learner Name", "Physician", "Physician Name",
                  "Participant", "Participant Name", "Attendee", "Attendee Name", "Last, First",
                  "Name (Last, First)"),
}  # fmt: skip
# How close (0-100, rapidfuzz token_sort_ratio) an unknown header must come to a known name to
# be proposed: typos and abbreviations ("Licence Number", "Completion Dt"), not other words. A
# hint in parentheses ("Completion Date (MM/DD/YYYY)") is left out of a header we do not know
# with it.
FUZZY_MATCH_CUTOFF = 86
# Splitting a Name column (nameparser): PARS wants the legal first and last name, so titles
# (Dr., Ms.) and suffixes or credentials (Jr., III, MD, DO, PhD) are left out. These clinical
# credentials are added to nameparser's own list, which lacks them [D].
NAME_CREDENTIALS = frozenset({"mbbs", "mbchb", "frcp", "frcs", "fnp", "msn", "bsn", "mhs"})

# --- What is judged --------------------------------------------------------------------------

MODE_FULL = "full"  # the whole row, as PARS judges an upload
MODE_LEARNERS = "learners"  # identities only, like ACCME's learner pre-validation template [P]
MODES = {
    MODE_FULL: "The whole file, as PARS would (learners and credits)",
    MODE_LEARNERS: "Learners only: check names, birthdays and IDs, like ACCME's "
    "pre-validation template",
}

# --- Findings --------------------------------------------------------------------------------

ERROR = "error"
WARNING = "warning"


# When PARS would say so [P: ACCME FAQ]: the upload's format checks refuse a record at once;
# accepted records then go to the board, which marks each Accepted or Rejected within about
# 24 hours (identity is checked there).
STAGE_UPLOAD = "upload"
STAGE_BOARD = "board"
STAGE_LABELS = {
    (ERROR, STAGE_UPLOAD): "PARS refuses it at upload",
    (ERROR, STAGE_BOARD): "The board would reject it after upload",
    (WARNING, STAGE_UPLOAD): "PARS accepts it; worth a look",
    (WARNING, STAGE_BOARD): "The board may query it after upload",
}


@dataclass(frozen=True)
class Rule:
    """A finding code: how serious it is, what the person should do about it, and when PARS
    would say so."""

    severity: str
    message: str  # str.format template; the judge passes the named fields it uses
    stage: str = STAGE_UPLOAD

    def stage_label(self) -> str:
        """The stage in words ("PARS refuses it at upload")."""
        return STAGE_LABELS[self.severity, self.stage]


CODES: dict[str, Rule] = {
    # Row: Record Action and activity
    "ACTION_INVALID": Rule(
        ERROR,
        "Record Action is {value}; enter Add or Delete (to change a record, delete it "
        "and add it again).",
    ),
    "ACTIVITY_ID_FORMAT": Rule(
        ERROR,
        "ACCME Activity ID is {value}; enter the 9-digit activity ID from your activity "
        "list, digits only.",
    ),
    "TOTALS_ROW": Rule(
        ERROR,
        "This looks like a totals row ({what} and no learner is named), not a learner; delete "
        "it before the upload: PARS would refuse it.",
    ),
    "NOTES_ROW": Rule(
        ERROR,
        "This looks like a note, not a learner: {column} is {value} and nothing else is filled "
        "in (no name, birthday or ID); delete the row before the upload (keep notes on another "
        "sheet or file): PARS would refuse it.",
    ),
    "ACTIVITY_NOT_FOUND": Rule(
        ERROR,
        "Activity {value} is not among your sandbox activities; add the activity first "
        "(activities come before learners) or correct the ID.",
    ),
    # Completion Date
    "DATE_FORMAT": Rule(
        ERROR, "Completion Date is {value}; enter it as MM/DD/YYYY (or YYYY-MM-DD), with no time."
    ),
    "DATE_HAS_TIME": Rule(
        ERROR,
        "Completion Date is {value}: a date with a time of day ({time}), which PARS refuses. "
        "Keep the date alone: in Excel, put =INT() of the date in a spare column, paste it back "
        "over the dates as values only and format the column as a date (MM/DD/YYYY); or export "
        "the dates from your system without times.",
    ),
    "DATE_MIDNIGHT": Rule(
        WARNING,
        "Completion Date {value} comes with a midnight time ({time}), as many systems export "
        "dates; it was read as {day}. PARS takes the date alone: format the column as a date "
        "without a time (MM/DD/YYYY), or export the dates without times.",
    ),
    "DATE_DAY_FIRST": Rule(
        ERROR,
        "Completion Date is {value}, written day first as Excel writes dates in many "
        "countries; PARS takes month first: write {fixed}.",
    ),
    "DATE_MAYBE_DAY_FIRST": Rule(
        WARNING,
        "Completion Date {value} may be written day first: {why}. PARS reads it month first, "
        "as {read}; if it means {other}, write {fixed}.",
    ),
    "DATE_IS_SERIAL": Rule(
        ERROR,
        "Completion Date is {value}, an Excel date serial number: it means {day}. Format the "
        "column as a date (MM/DD/YYYY) before saving the file, or type the date that way.",
    ),
    "DATE_OUTSIDE_ACTIVITY": Rule(
        ERROR,
        "Completion Date {value} is outside the activity's dates ({start} to {end}); {fix}.",
    ),
    "DATE_IN_FUTURE": Rule(
        ERROR, "Completion Date {value} is in the future; report a completion once it happened."
    ),
    "DATE_TOO_OLD": Rule(
        ERROR,
        "Completion Date {value} is before {earliest_year}; PARS takes completions from "
        "this or last calendar year only.",
    ),
    # Names and date of birth
    "FIRST_NAME_REQUIRED": Rule(ERROR, "First Name is blank; enter the learner's first name."),
    "LAST_NAME_REQUIRED": Rule(ERROR, "Last Name is blank; enter the learner's last name."),
    "NAME_TOO_LONG": Rule(
        ERROR, "{column} is {length} characters long; shorten it to at most {limit}."
    ),
    "DOB_FORMAT": Rule(
        ERROR, "Date of Birth is {value}; enter month and day as MM/DD, for example 03/15."
    ),
    "DOB_HAS_YEAR": Rule(
        ERROR,
        "Date of Birth has a year; PARS stores month and day only: enter MM/DD (if "
        "Excel turns it into a date, format the column as Text).",
    ),
    "DOB_YEAR_HIDDEN": Rule(
        ERROR,
        "Date of Birth is a date cell holding a full date with a birth year, but its format "
        "shows only month and day, so the year cannot be seen; PARS reads the whole date and "
        "refuses the year. Format the column as Text (Format Cells > Text) and type the dates "
        "again as MM/DD.",
    ),
    "DOB_INVALID_DAY": Rule(
        ERROR,
        "Date of Birth is not a day of the year ({value}); check the learner's month and day "
        "and write them MM/DD.",
    ),
    "DOB_DAY_FIRST": Rule(
        ERROR,
        "Date of Birth is written day first ({value}), as Excel writes dates in many "
        "countries; PARS takes month first: write it as MM/DD.",
    ),
    "DOB_MAYBE_DAY_FIRST": Rule(
        WARNING,
        "Date of Birth may be written day first: {why}. PARS reads it month first; if the day "
        "comes first in this row's birthday, swap the two numbers so that it reads MM/DD.",
    ),
    "DOB_MADE_A_DATE": Rule(
        WARNING,
        "Date of Birth was turned into a date by the spreadsheet ({how}); it was read as month "
        "and day. Before the real upload, format the Date of Birth column as Text (Format Cells "
        "> Text) and type the dates again as MM/DD: PARS refuses a date with a year.",
    ),
    "NAME_ONE_WORD": Rule(
        ERROR,
        "Name {value} holds one word; PARS needs the learner's first and last name: write both "
        'in the Name cell ("Last, First" or "First Last").',
    ),
    "NAME_SPLIT_CHECK": Rule(
        WARNING,
        "Name {value} was read as First Name {first} and Last Name {last}{left_out}: {doubt} "
        "Check the split before the real upload, or give first and last names their own "
        "columns.",
    ),
    "NAME_LETTER_LOST": Rule(
        ERROR,
        '{column} {value} holds a "?" where a letter probably was: Excel\'s plain "CSV" '
        'format keeps only Western European letters and saves the others (like "ễ") as '
        '"?". The boards match names letter by letter: save the file as "CSV UTF-8 (Comma '
        'delimited)" and retype the name.',
        STAGE_BOARD,
    ),
    "UNUSUAL_CHARACTER": Rule(
        WARNING,
        "{column} holds {what}; PARS and the boards match names letter by letter, so enter the "
        "learner's legal name in ordinary letters.",
    ),
    # State and identifiers
    "STATE_UNKNOWN": Rule(
        ERROR,
        "Licensing State {value} is not a US state, DC or territory; enter its 2-letter "
        "code (for example CA) or full name.",
    ),
    "STATE_REQUIRED": Rule(
        ERROR,
        "Licensing State is blank but CME credits are reported; enter the state that "
        "licenses the learner.",
    ),
    "NPI_INVALID": Rule(
        ERROR,
        "NPI {value} fails the NPI check digit; check the 10 digits (or enter the state "
        "license number instead).",
    ),
    "LICENSE_FORMAT": Rule(
        ERROR,
        "Licensing ID {value} may hold only letters, digits and dashes (at most {limit} "
        "characters){holds}; correct it or leave it blank.",
    ),
    "ID_STORED_AS_NUMBER": Rule(
        WARNING,
        "{column} {value} is stored as a number in the workbook, not as text: a leading zero "
        "may have been lost (00123 stored as a number is 123). Format the column as Text "
        "(Format Cells > Text) and retype any ID that starts with a zero.",
    ),
    "ID_SCIENTIFIC_NOTATION": Rule(
        ERROR,
        "{column} is {value}: Excel turned the number into scientific notation when it saved "
        "the file, and its digits past the first few are lost. Format the column as Text "
        "(Format Cells > Text) and retype the ID.",
    ),
    # CME credits
    "CREDITS_FORMAT": Rule(
        ERROR, "{column} is {value}; enter a number greater than 0, for example 1 or 1.25."
    ),
    "CREDITS_DECIMAL_COMMA": Rule(
        ERROR,
        "{column} is {value}, written with a decimal comma as Excel writes numbers in many "
        "countries; PARS takes a decimal point: write {dotted}.",
    ),
    "CREDITS_NOT_QUARTER": Rule(
        ERROR, "{column} is {value}; credits go in steps of 0.25 (for example 0.25, 1.5, 2.75)."
    ),
    "CREDITS_EXCEED_ACTIVITY": Rule(
        ERROR,
        "Number of CME Credits {value} is more than the {maximum} CME credits activity "
        "{activity_id} offers; enter at most {maximum}.",
    ),
    # Boards
    "BOARD_UNKNOWN": Rule(
        ERROR,
        "Certifying Board is {value}; enter one of {boards} (leave the board columns "
        "blank when no MOC credit is reported).",
    ),
    "BOARD_NOT_REGISTERED": Rule(
        ERROR,
        "Activity {activity_id} is not registered for {value}; report only the boards it "
        "is registered for ({registered}), or register it first.",
    ),
    "BOARD_TOO_EARLY": Rule(
        ERROR,
        "{value} takes PARS data only for activities starting on or after {since}, and "
        "activity {activity_id} starts {start}; leave the board columns blank for this "
        "activity and report the MOC credit to {value} another way.",
    ),
    "BOARD_ID_REQUIRED": Rule(
        ERROR, "Certifying Board ID is blank; {board} needs the learner's board ID."
    ),
    "BOARD_ID_FORMAT": Rule(
        ERROR,
        "Certifying Board ID {value} may hold digits only{holds}; enter the ID the board issued.",
    ),
    "BOARD_CREDITS_EXCEED": Rule(
        ERROR,
        "Total Board Credits {value} is more than the {maximum} points activity "
        "{activity_id} is registered for with {board}; enter at most {maximum}.",
    ),
    "ABP_PARTIAL_CREDIT": Rule(
        ERROR,
        "Total Board Credits {value} is not the activity's {maximum} ABP points; ABP "
        "takes no partial credit: report the full {maximum}.",
    ),
    "CREDIT_TYPE_INVALID": Rule(
        ERROR,
        "{column} is {value}; enter a credit type the activity registered with {board}: {allowed}.",
    ),
    "CREDIT_TYPE_EXCEEDS_TOTAL": Rule(
        ERROR,
        "The credits awarded by credit type add up to {value}, more than the Total Board "
        "Credits {total}; lower them or correct the total.",
    ),
    # Row rules
    "NO_CREDIT_REPORTED": Rule(
        ERROR,
        "The row reports no credit; enter Number of CME Credits, a Certifying Board with "
        "its credits, or both.",
    ),
    "DUPLICATE_ROW": Rule(
        ERROR,
        "This learner, activity, completion date and board are already {where}; remove "
        "this row (to change a record, delete it and add it again).",
    ),
    "DUPLICATE_COMPLETION": Rule(
        ERROR,
        "{board} accepts one completion per learner per activity and this learner already "
        "has one for activity {activity_id} {where}; remove this row.",
    ),
    "DELETE_NOT_FOUND": Rule(
        ERROR,
        "There is no record to delete with this learner, activity, completion date and "
        "board; check the values against the record you added.",
    ),
    "LEARNER_NOT_MATCHED": Rule(
        ERROR,
        "{column} {value} belongs to a learner with a different name or date of birth; "
        "PARS would take the row at upload, but the board would reject it: check the name, "
        "the date of birth and the ID.",
        STAGE_BOARD,
    ),
    # Warnings
    "LATE_REPORT": Rule(
        WARNING,
        "Completion Date {value} is more than {days} days ago; ACCME asks for learner "
        "completions within {days} days (the row is still accepted).",
    ),
    "STATE_NOT_PARTICIPATING": Rule(
        WARNING,
        "The {value} licensing board does not use PARS data yet; the credit is kept but "
        "the learner may need to report it to the board themselves.",
    ),
    "ABS_DAILY_LIMIT": Rule(
        WARNING,
        "This learner has {value} ABS credits on {day} in this file, more than ABS "
        "accepts in one day ({limit}); check the credits.",
    ),
    "NAME_LOOKS_SWAPPED": Rule(
        WARNING,
        "First and last name look swapped (the register knows this learner the other "
        "way round); check which is which.",
        STAGE_BOARD,
    ),
    # A cell, whatever its column
    "CONTROL_CHARACTER": Rule(
        ERROR,
        "{column} holds {what}; PARS takes each value on one line, with no tabs: type the cell "
        "again without it (in Excel, Alt+Enter makes a line break inside a cell).",
    ),
    "INVISIBLE_CHARACTER": Rule(
        WARNING,
        "{column} holds {what}, which comes with text pasted from web pages and emails and "
        "looks like an ordinary space or nothing at all; {handled} here and in the PARS-ready "
        "file. Type the cell again in your own file.",
    ),
    "LOOKS_LIKE_FORMULA": Rule(
        WARNING,
        "{column} starts with {start}, which a spreadsheet program takes for a formula; PARS "
        "takes it as written. Check that it is really the learner's, and upload the PARS-ready "
        ".txt without opening it in a spreadsheet program first.",
    ),
    "QUOTE_NOT_CLOSED": Rule(
        ERROR,
        'A quote (") opened in {column} on line {first} of the file is never closed, so '
        "{swallowed}; remove that quote (or close it at the end of the cell) and upload the "
        "file again.",
    ),
    "FORMULA_NO_VALUE": Rule(
        ERROR,
        "{column} holds a formula with no saved value (the file was written by a program, not "
        "saved by Excel); open the file in Excel and save it, or copy the column and paste it "
        "back as values only.",
    ),
    # File
    "HEADER_MISMATCH": Rule(
        ERROR,
        "Column {position} should be {expected} but is {found}; use the header row from "
        "the template exactly, in order, or match your columns to the template's below.{sheets}",
    ),
    "HEADER_MERGED_CELLS": Rule(
        ERROR,
        "The header cells {block} are merged, so {blanks}; unmerge them (select {block}, then "
        "Home > Merge & Center), type each column's name in its own cell as the template has "
        "it, and upload the file again.{sheets}",
    ),
    "HEADER_NOT_FOUND": Rule(
        ERROR,
        "The file seems to have no header row: its first row holds learner values (dates, a "
        "birthday, a state), not column names, and its columns are not in the template's order. "
        "Match your columns to the template's below by their letters (that first row is then "
        "judged as a learner), or add the template's header row above it.",
    ),
    "NO_HEADER_ROW": Rule(
        WARNING,
        "The file has no header row (its first row is already a learner row), so its columns "
        "were read in the template's order, as ACCME's tab-delimited instructions lay them "
        "out; check that yours are in that order.",
    ),
    "FILE_EXTRA_COLUMNS": Rule(
        WARNING,
        "The header goes on past the template's last column ({last}) with {which}; {it} "
        "{was} left out of the judging and of the PARS-ready file. PARS takes the template's "
        "columns only: delete {it} before the real upload.",
    ),
    "FILE_OTHER_SHEET": Rule(
        WARNING,
        "The workbook's first sheet, {first}, has no learner header, so sheet {sheet}, whose "
        "header {whose}, was read. PARS reads the first sheet: move {sheet} first "
        "(or delete the other sheets) before the real upload.",
    ),
    "FILE_SEMICOLONS": Rule(
        WARNING,
        "The file is separated by semicolons, as Excel saves CSV in many countries; it was "
        "read that way. PARS takes commas: upload the .xlsx instead, or save as CSV UTF-8 "
        "with the list separator set to a comma (Windows: Region > Additional settings > "
        "List separator). Such files often hold dates written day first and decimal commas "
        "too: PARS takes dates month first (MM/DD/YYYY) and a decimal point (1.5).",
    ),
    "FILE_DELIMITER": Rule(
        WARNING,
        "The file is named {extension} but its columns are separated by {found}; it was read "
        "that way. PARS goes by the name: save it {fix}.",
    ),
    "FILE_MAC_ROMAN": Rule(
        WARNING,
        "The file's text is in Mac Roman, as {how}, and was read that way, so its accented "
        "letters (é, ü, ñ) are the ones typed. PARS may read it as Windows text and change them "
        "(Rosé would become RosŽ), and the boards match names letter by letter: {fix}",
    ),
    "FILE_HIDDEN_ROWS": Rule(
        WARNING,
        "{count} hidden {rows} of the sheet ({which}) {were} judged like the others, and PARS "
        "would upload {them} too: hidden is not left out. Delete the rows of learners who must "
        "not be reported (unhide them first: select all, then Format > Hide & Unhide).",
    ),
    "FILE_DATES_DAY_FIRST": Rule(
        WARNING,
        "{evidence} can only be read day first, so the file probably writes all its dates day "
        "first, as Excel does in many countries. Dates that read either way were read month "
        "first, as PARS reads them: {example}. "
        "Check every date whose day is 12 or less, and write the dates month first "
        "(MM/DD/YYYY, birthdays MM/DD).",
    ),
    "FILE_MERGED_CELLS": Rule(
        WARNING,
        "{count} merged {blocks} of cells among the learner rows ({which}): a merged block "
        "keeps its value in its first cell only, so PARS reads the others as blank and the "
        "rows below the first say so. Unmerge them (select them, then Home > Merge & Center) "
        "and fill the value into every row.",
    ),
    "FILE_TYPE": Rule(
        ERROR,
        "The file is {what}; {advice}.",
    ),
    "FILE_EMPTY": Rule(ERROR, "The file has {what}; fill in the template and upload it again."),
    "FILE_TOO_LARGE": Rule(
        ERROR, "The file is larger than {limit}; split it into smaller files and upload each."
    ),
    "FILE_ENCODING": Rule(
        ERROR,
        "The file's text encoding cannot be read{where}; in Excel, File > Save As, choose "
        "CSV UTF-8 (Comma delimited), and upload that file.",
    ),
    "FILE_UNREADABLE": Rule(ERROR, "The file cannot be read: {what}."),
}

# --- Boards ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Board:
    """A certifying board in the CME for MOC/CC collaboration."""

    code: str
    name: str
    board_id_required: bool
    partial_credit_allowed: bool
    credit_types: tuple[str, ...]  # examples offered in the template and seed activities
    # Takes PARS data only for activities starting on or after this day (None: any activity).
    activities_from: date | None = None


BOARDS: dict[str, Board] = {
    board.code: board
    for board in (
        Board("ABA", "American Board of Anesthesiology", True, True,
              ("Lifelong Learning", "Patient Safety", "Quality Improvement")),
        Board("ABIM", "American Board of Internal Medicine", True, True,
              ("Medical Knowledge", "Practice Assessment", "Patient Safety")),
        Board("ABOHNS", "American Board of Otolaryngology – Head and Neck Surgery", True, True,
              ("Lifelong Learning and Self-Assessment", "Improvement in Medical Practice",
               "Patient Safety")),
        Board("ABOS", "American Board of Orthopaedic Surgery", True, True,
              ("CME", "Self-Assessment")),
        Board("ABP", "American Board of Pediatrics", True, False,
              ("Lifelong Learning and Self-Assessment", "Improving Professional Practice")),
        Board("ABPath", "American Board of Pathology", True, True,
              ("CME", "Self-Assessment Module")),
        # ABPMR joined for activities starting on or after Jan 1, 2025 [P: ACCME data newsletter].
        Board("ABPMR", "American Board of Physical Medicine and Rehabilitation", True, True,
              ("CME", "Self-Assessment", "Patient Safety"), date(2025, 1, 1)),
        Board("ABS", "American Board of Surgery", False, True, ("CME", "Self-Assessment")),
        Board("ABTS", "American Board of Thoracic Surgery", True, True,
              ("CME", "Self-Assessment", "Patient Safety")),
    )
}  # fmt: skip
BOARDS_BY_FOLDED_CODE: dict[str, str] = {code.casefold(): code for code in BOARDS}
ONE_COMPLETION_BOARDS = frozenset({"ABA", "ABP"})  # one completion per learner per activity

# --- States ----------------------------------------------------------------------------------

STATES: dict[str, str] = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
    "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota",
    "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York",
    "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma",
    "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina",
    "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont",
    "VA": "Virginia", "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin",
    "WY": "Wyoming",
    # Territories
    "AS": "American Samoa", "GU": "Guam", "MP": "Northern Mariana Islands",
    "PR": "Puerto Rico", "VI": "U.S. Virgin Islands",
}  # fmt: skip
STATE_ALIASES: dict[str, str] = {
    "washington dc": "DC", "washington, dc": "DC", "washington d.c.": "DC",
    "virgin islands": "VI", "us virgin islands": "VI",
}  # fmt: skip
STATE_CODES_BY_FOLDED_NAME: dict[str, str] = {
    **{name.casefold(): code for code, name in STATES.items()},
    **STATE_ALIASES,
}

# State boards that designated PARS as their source, or actively use it, for relicensure CME:
# data to keep current. Staff update it from the console (Sandboxes > State boards using PARS
# data); this is the list shipped with the code, used until they do.
PARS_STATES = frozenset(
    {"AL", "AK", "CA", "DC", "ID", "ME", "MD", "MS", "NJ", "NC", "ND", "OR", "VI", "WA", "WY"}
)
PARS_STATES_SOURCE = (
    "ACCME, “State Medical Licensing Boards Collaborations” "
    "(https://accme.org/state-medical-licensing-boards-collaborations/)"
)
PARS_STATES_CHECKED_ON = date(2026, 11, 25)

# --- Limits and formats ----------------------------------------------------------------------

NAME_MAX_LENGTH = 50
LICENSE_MAX_LENGTH = 20
ACTIVITY_ID_DIGITS = 9
NPI_DIGITS = 10
NPI_PREFIX = "80840"  # the card issuer prefix the NPI check digit is computed with
CREDIT_STEP = Decimal("0.25")
ABS_DAILY_LIMIT = Decimal(12)
LATE_REPORT_DAYS = 30
OLDEST_YEAR_BACK = 1  # this calendar year or the one before
# Excel keeps 15 significant digits and shows numbers rounded to them: =0.07*25 is stored as
# 1.7500000000000002 and shown as 1.75.
EXCEL_SIGNIFICANT_DIGITS = 15
# A Date of Birth date cell (or a CSV date) whose year is this recent cannot be a physician's
# birth year: it is the year the spreadsheet added to a month and day typed as 09/10 [D].
MADE_DATE_RECENT_YEARS = 18
# Excel date serial numbers a date column of a CSV may hold (1982-10-09 to 2173-10-14).
EXCEL_SERIAL_RANGE = (30_000, 100_000)

# Completion Date as text; a real Excel date cell is accepted as well. Month and day may be one
# digit (Excel writes 3/5/2025 in CSV); the year has four.
COMPLETION_DATE_FORMATS = ("MM/DD/YYYY", "YYYY-MM-DD")
DATE_OF_BIRTH_FORMAT = "MM/DD"

# --- File limits -----------------------------------------------------------------------------

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
ACCEPTED_EXTENSIONS = frozenset({".csv", ".tsv", ".txt", ".xlsx"})
TAB_EXTENSIONS = frozenset({".tsv", ".txt"})
MACRO_EXTENSIONS = frozenset({".xlsm", ".xltm", ".xlsb"})
# A workbook is refused before anything is extracted when its zip directory declares more than
# these (a real 20 MB workbook inflates to a few hundred MB at most; zip bombs go far beyond).
XLSX_MAX_MEMBERS = 10_000
XLSX_MAX_UNCOMPRESSED_BYTES = 512 * 1024 * 1024
XLSX_MAX_COMPRESSION_RATIO = 100
XLSX_RATIO_CHECK_FROM_BYTES = 1024 * 1024  # small members may compress extremely well
XLSX_SMALL_MEMBER_BYTES = 1024 * 1024  # [Content_Types].xml and the like are read whole


# --- Where a file finding points to the column mapping ----------------------------------------

# HEADER_MISMATCH and HEADER_NOT_FOUND point "below", to the mapping section under them on the
# organization's results page. Where that section is not (the staff view, a cancelled booking's
# page, the findings table under it, the findings CSV) the pointer is said another way.
MAPPING_BELOW = "columns to the template's below"
_MAPPING_OR = ", or match your columns to the template's below."
_MAPPING_FIRST = (
    "Match your columns to the template's below by their letters (that first row is then "
    "judged as a learner), or add the template's header row above it."
)


def mapping_pointed(message: str, where: str | None) -> str:
    """A finding's message with its pointer to the mapping section said as ``where`` ("above",
    "on this upload's results page"); with ``where`` None (no mapping can be made there) the
    pointer is left out. Messages without one are returned as they are."""
    if MAPPING_BELOW not in message:
        return message
    if where is None:
        message = message.replace(_MAPPING_OR, ".")
        return message.replace(_MAPPING_FIRST, "Add the template's header row above it.")
    return message.replace(MAPPING_BELOW, f"columns to the template's {where}")
