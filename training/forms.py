"""What every form shares: the base form, the text filters, and number and date fields that
hold only what the database and the calendar can.

Every form derives from ``Form`` and every text field runs one of the filters below, so a field
missing from a post, a file where text was expected or a value no column can hold ends as the
field's own message, never as an error page.
"""

import re
import unicodedata
from datetime import date
from decimal import Decimal, InvalidOperation

from email_validator import EmailNotValidError, validate_email
from flask import has_request_context, request
from flask_wtf import FlaskForm
from flask_wtf.form import _Auto
from werkzeug.datastructures import CombinedMultiDict, MultiDict
from werkzeug.urls import iri_to_uri
from wtforms import (
    DateField,
    DecimalField,
    Field,
    FileField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TimeField,
)
from wtforms.validators import DataRequired, NumberRange, Regexp, ValidationError

from training.extensions import MAX_ID
from training.paging import page_number

# Control characters (NUL above all, which PostgreSQL refuses) are never meant as text; tab,
# line feed and carriage return are white space.
_CONTROL_CHARACTERS = dict.fromkeys([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
# Bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) redraw the
# text around them in another order, so a name could read on a roster as something it is not.
# The plain direction marks (U+200E, U+200F) only nudge punctuation and stay.
_BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])
# Characters that show as nothing and mean nothing in a name or a line of text: zero-width
# space, word joiner, invisible operators, byte-order mark, soft hyphen, Mongolian vowel
# separator. The zero-width joiner and non-joiner (U+200D, U+200C) stay: emoji and several
# scripts (Persian, the Indic ones) are spelled with them.
_INVISIBLE = dict.fromkeys([0x00AD, 0x180E, 0x200B, *range(0x2060, 0x2065), 0xFEFF])
_NOT_TEXT = {**_CONTROL_CHARACTERS, **_BIDI_CONTROLS, **_INVISIBLE}
# Any script's decimal digit (Python's \d in text patterns), to be read as its ASCII digit.
_ANY_DIGIT = re.compile(r"\d")
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")
_DECIMAL_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_PHONE_NUMBER = re.compile(r"[0-9+().\- ]*(?:(?:x|ext\.?) ?[0-9]+)?", re.IGNORECASE)
PHONE_MESSAGE = (
    "Use digits, spaces and + ( ) - . only, with x or ext before an extension, "
    "for example (916) 555-0100 x12."
)


class Form(FlaskForm):
    """The base of every form: it reads a post only as a browser sends a form.

    Flask-WTF also reads a JSON body and hands uploaded files to any field of the same name;
    here a JSON body counts as an empty form, and files reach only file fields.
    """

    def __init__(self, formdata=_Auto, **kwargs):
        # A form read from the query string (a GET) changes nothing, and a link or a GET form
        # carries no CSRF token: it is checked only when the form is posted.
        if formdata is not _Auto and has_request_context() and formdata is request.args:
            kwargs["meta"] = {**kwargs.get("meta", {}), "csrf": False}
        super().__init__(formdata, **kwargs)
        if csrf_field := self._fields.get("csrf_token"):
            # A page can hold several forms; their tokens' hidden inputs need no id, and would
            # all have had "csrf_token", an id on a page twice.
            csrf_field.render_kw = {**(csrf_field.render_kw or {}), "id": False}

    class Meta:
        def wrap_formdata(self, form, formdata):
            if formdata is None or hasattr(formdata, "getlist"):
                return formdata  # given by the view: the query string, or nothing
            if not form.is_submitted():
                return None
            file_fields = {field.name for field in form if isinstance(field, FileField)}
            files = MultiDict(
                [
                    (name, upload)
                    for name, upload in request.files.items(multi=True)
                    if name in file_fields
                ]
            )
            if files:
                return CombinedMultiDict((files, request.form))
            return request.form or None


def clean_text(value: str | None) -> str:
    """Text as typed, less control characters, bidirectional overrides and isolates, invisible
    characters (zero-width spaces, soft hyphens) and outer white space; a missing field is ""."""
    if value is None:
        return ""
    return value.translate(_NOT_TEXT).strip()


def legible(message: str):
    """A validator: the field, if filled, holds a letter or a digit of some script (one of
    combining marks, symbols or punctuation alone reads as nothing in an email's greeting or
    on a roster); else ``message``."""

    def check(_form, field) -> None:
        if field.data and not any(unicodedata.category(char)[0] in "LN" for char in field.data):
            raise ValidationError(message)

    return check


def single_line(value: str | None) -> str:
    """``clean_text`` with every run of white space, line breaks included, made one space."""
    return " ".join(clean_text(value).split())


def as_typed(value: str | None) -> str:
    """Exactly as typed (passwords); a missing field is ""."""
    return "" if value is None else value


def ascii_digits(text: str) -> str:
    """``text`` in Unicode's NFKC form with every decimal digit, of any script, as ASCII.

    People mean the same number whichever digits their keyboard types: fullwidth "１２３"
    (NFKC makes it "123") and Arabic-Indic "٣٤٥" (Unicode gives each its decimal value) are
    read as "123" and "345", so they match, sort and count as the same ID.
    """
    normalized = unicodedata.normalize("NFKC", text)
    return _ANY_DIGIT.sub(lambda digit: str(unicodedata.decimal(digit.group())), normalized)


def identifier(value: str | None) -> str:
    """``single_line`` text with its digits in ASCII (``ascii_digits``): for what people type
    as digits, such as provider and activity IDs and phone numbers."""
    return ascii_digits(single_line(value))


_ID_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212]")


def activity_id_digits(value: str | None) -> str:
    """An ACCME activity ID as people type it, as its digits: ``identifier`` (any script's
    digits as ASCII), then the spaces and hyphens people group it with dropped ("201 234 567",
    "201-234-567")."""
    return _ID_SEPARATORS.sub("", identifier(value))


def activity_id_field(description: str) -> StringField:
    """The 9-digit ACCME activity ID field every form shares (challenges, sandbox): typed
    with spaces, hyphens or other digits, it is read as its 9 ASCII digits."""
    return StringField(
        "ACCME activity ID",
        description=description,
        filters=[activity_id_digits],
        validators=[
            DataRequired("Enter the activity's 9-digit ACCME ID."),
            Regexp(
                r"^[0-9]{9}$", message="An ACCME activity ID is 9 digits, for example 201234567."
            ),
        ],
    )


# Characters a web address cannot hold as typed (RFC 3986): written as their %-escapes, as a
# browser does when such a link is pasted, so the invite's URL stays a valid address.
# A web address typed without its scheme, as people copy one from a browser's address bar:
# dotted host labels ending in a name of letters (``zoom.us``, ``us02web.zoom.us``), perhaps a
# port, then a path, query or fragment with no space. ``javascript:…``, ``data:…`` and the like
# have no dotted host before their colon, so they are never taken for one.
_BARE_WEB_ADDRESS = re.compile(r"(?:[^\W_](?:[\w-]*[^\W_])?\.)+[^\W\d_]{2,}(?::\d*)?(?:[/?#]\S*)?")


def web_address(value: str | None) -> str:
    """``clean_text``, ``https://`` put before an address typed without a scheme that looks like
    one (``zoom.us/j/123``), then written as a browser sends it (werkzeug's ``iri_to_uri``, RFC
    3987): spaces, ``< > " { } | \\ ^``, the backtick and letters outside ASCII %-escaped as
    UTF-8, a host in another script in its ASCII (IDNA) form, ``%XX`` left as it is. An address
    it cannot convert (a bad port or host) stays as typed, for the form's URL check to refuse."""
    text = clean_text(value)
    if _BARE_WEB_ADDRESS.fullmatch(text):
        text = f"https://{text}"
    try:
        return iri_to_uri(text) if text else text
    except ValueError:  # UnicodeError too: a host label IDNA cannot encode
        return text


TEXT_FILTERS = (clean_text, single_line, as_typed, identifier, activity_id_digits, web_address)


def phone_number(_form, field) -> None:
    """A phone number's rule (the field runs ``identifier``): digits, spaces, + ( ) - . and an
    extension after x or ext; at least 7 digits. Raises ValidationError with what to type."""
    if not field.data:
        return
    if not _PHONE_NUMBER.fullmatch(field.data):
        raise ValidationError(PHONE_MESSAGE)
    if sum(character.isdigit() for character in field.data) < 7:
        raise ValidationError("This phone number looks too short. Include the area code.")


# How much of a typed value a message quotes back.
QUOTED_LENGTH = 80


def quoted(text: str, limit: int = QUOTED_LENGTH) -> str:
    """``text`` as a message quotes it back: whole, or its first ``limit`` characters ending
    in "…", so a cut value never reads as what was typed."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def email_problem(address: str) -> str | None:
    """What is wrong with a typed email address, in words for the person, or None when mail can
    be delivered to it (RFC 5322 syntax via ``email_validator``, no DNS lookup). A domain in any
    script is fine (it is sent in its ASCII form, RFC 5890); letters outside ASCII before the @
    are not: most mail servers, ours included, cannot deliver to them (RFC 6531 is optional)."""
    try:
        validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        if "before the @-sign are not supported" in str(error):
            return (
                f"“{quoted(address)}” has letters outside A–Z before the @, which most mail "
                "servers cannot deliver to. Please give an address with only A–Z, digits and "
                ". _ + - before the @."
            )
        return f"“{quoted(address)}” is not an email address: enter one like name@example.org."
    return None


def email_address(_form, field) -> None:
    """The rule for an email address typed into a form (``email_problem``)."""
    if field.data and (problem := email_problem(field.data)):
        raise ValidationError(problem)


def _number_text(valuelist: list, pattern: re.Pattern, message: str) -> list:
    """The posted text of a number field, digits made ASCII, or ValueError(``message``) for
    anything but an optional sign, ASCII digits and (for decimals) one decimal point.

    Python's ``int`` and ``Decimal`` also read "1_000", exponents and other scripts' digits;
    people mean none of those as a count or an amount, so only plain digits reach them.
    """
    if not valuelist or not isinstance(valuelist[0], str):
        return valuelist
    text = ascii_digits(clean_text(valuelist[0]))
    if text and not pattern.fullmatch(text):
        raise ValueError(message)
    return [text, *valuelist[1:]]


def database_id(value: object) -> int:
    """``value`` as an id the database can hold (0 to ``MAX_ID``; 0 means "none chosen").

    The ``coerce`` of the id choice fields below. Raises ValueError (or TypeError) for anything
    else, which the field shows as its "not a valid choice" message.
    """
    number = int(value)
    if not 0 <= number <= MAX_ID:
        raise ValueError(f"{number} is not an id")
    return number


class _ById:
    """Choices of records by id: a value no id column can hold reads as not a choice."""

    def __init__(self, label=None, validators=None, **kwargs):
        message = kwargs.get("invalid_choice_message") or "Not a valid choice."
        kwargs.setdefault("invalid_value_message", message)
        super().__init__(label, validators, coerce=database_id, **kwargs)


class IdSelectField(_ById, SelectField):
    """One record, chosen by its id (0 for none)."""


class IdSelectMultipleField(_ById, SelectMultipleField):
    """Any number of records, chosen by their ids."""


class DayField(DateField):
    """A calendar date from 1900 to 2199: room for any real date, and far from the ends of
    Python's calendar, where adding a day or a time zone overflows."""

    earliest, latest = date(1900, 1, 1), date(2199, 12, 31)

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            message = "Enter a real date as year-month-day, for example 2026-12-01."
            raise ValueError(message) from None
        if self.data is not None and not self.earliest <= self.data <= self.latest:
            self.data = None
            raise ValueError(
                f"Enter a date from {self.earliest.year} to {self.latest.year}, "
                "for example 2026-12-01."
            )


class ClockTimeField(TimeField):
    """A time of day as a browser's time box sends it (14:30), or typed (2:30 PM is not)."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(
                "Enter a time of day from 00:00 to 23:59, for example 14:30 for 2:30 PM."
            ) from None


class WholeNumberField(IntegerField):
    """An integer that fits the database's INTEGER columns, typed as digits with an optional
    sign (any script's digits read as ASCII); anything else is a field message."""

    def process_formdata(self, valuelist):
        message = self.invalid_value_message or "Enter a whole number in digits, for example 12."
        try:
            valuelist = _number_text(valuelist, _WHOLE_NUMBER, message)
        except ValueError:
            self.data = None
            raise
        super().process_formdata(valuelist)
        if self.data is not None and not -MAX_ID <= self.data <= MAX_ID:
            self.data = None
            # The field's own range, when it has one, says what to enter instead.
            ranges = [v.message for v in self.validators if isinstance(v, NumberRange)]
            message = next((text for text in ranges if text), "That number is too large.")
            raise ValueError(self.invalid_value_message or message)


class PageField(Field):
    """The page of a long list, read as every page number is (``paging.page_number``): pages
    come from links and edited addresses, not from a field anyone sees, so none is refused."""

    def __init__(self, label="Page", **kwargs):
        super().__init__(label, default=1, **kwargs)

    def process_formdata(self, valuelist):
        self.data = page_number(valuelist[0] if valuelist else None)

    def _value(self):
        return str(self.data) if self.data is not None else ""


class FiniteDecimalField(DecimalField):
    """A decimal number people type: finite and at most ``maximum`` either side of zero.

    Typed as digits (any script's, read as ASCII) with an optional sign and one decimal point.
    NaN, Infinity, 1e999, 1_000 and any other text get ``invalid_value_message`` (or a plain
    one).
    """

    def __init__(self, label=None, validators=None, *, maximum: Decimal, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.maximum = maximum

    def process_formdata(self, valuelist):
        message = f"Enter a number from -{self.maximum} to {self.maximum}, for example 1.5."
        try:
            valuelist = _number_text(
                valuelist, _DECIMAL_NUMBER, self.invalid_value_message or message
            )
        except ValueError:
            self.data = None
            raise
        super().process_formdata(valuelist)
        try:
            in_range = self.data is None or abs(self.data) <= self.maximum
        except InvalidOperation:
            in_range = False  # NaN
        if not in_range:
            self.data = None
            message = f"Enter a number from -{self.maximum} to {self.maximum}."
            raise ValueError(self.invalid_value_message or message)
