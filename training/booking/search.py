"""Finding organizations by what staff remember of them: one rule for every staff search."""

from sqlalchemy import exists, func, or_
from sqlalchemy.sql.elements import ColumnElement

from training.booking.models import Attendee, Signup
from training.booking.names import organization_key


def signup_matches(text: str) -> ColumnElement[bool] | None:
    """A condition on ``Signup``: its organization, contact name, contact email or an
    attendee's email contains ``text`` (case-insensitively; the organization also ignoring
    accents and punctuation, as the one-per-organization rule does). None for empty text.
    """
    words = " ".join(text.split()).lower()
    if not words:
        return None
    matches = [
        func.lower(column).contains(words, autoescape=True)
        for column in (Signup.organization_name, Signup.contact_name, Signup.contact_email)
    ]
    if key := organization_key(words):
        matches.append(Signup.organization_key.contains(key, autoescape=True))
    matches.append(
        exists().where(
            Attendee.signup_id == Signup.id,
            func.lower(Attendee.email).contains(words, autoescape=True),
        )
    )
    return or_(*matches)
