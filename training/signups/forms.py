"""The signup search and the forms that decide on a possible duplicate."""

from wtforms import RadioField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from training.booking.models import (
    SIGNUP_CANCELLED,
    SIGNUP_CONFIRMED,
    SIGNUP_STATUS_LABELS,
    SIGNUP_WAITLISTED,
    WAITS_FOR_NO_DATE_LABEL,
)
from training.forms import Form, PageField, clean_text

# A filter, not a status: waitlisted, with no chosen date still to come.
WAITING_FOR_NO_DATE = "waiting-for-no-date"


class SignupSearchForm(Form):
    """Read from the query string (a GET form: nothing changes, so no CSRF token)."""

    class Meta:
        csrf = False

    q = StringField(
        "Organization, person or email",
        filters=[clean_text],
        validators=[Optional(), Length(max=200, message="Search for 200 characters or fewer.")],
    )
    status = SelectField(
        "Status",
        choices=[
            SelectChoice("", "Any status"),
            SelectChoice(SIGNUP_CONFIRMED, SIGNUP_STATUS_LABELS[SIGNUP_CONFIRMED]),
            SelectChoice(SIGNUP_WAITLISTED, SIGNUP_STATUS_LABELS[SIGNUP_WAITLISTED]),
            SelectChoice(WAITING_FOR_NO_DATE, WAITS_FOR_NO_DATE_LABEL),
            SelectChoice(SIGNUP_CANCELLED, SIGNUP_STATUS_LABELS[SIGNUP_CANCELLED]),
        ],
        default="",
    )
    page = PageField()


class DismissDuplicateForm(Form):
    """Mark two signups as different organizations, with an optional note."""

    note = TextAreaField(
        "Note (optional)",
        filters=[clean_text],
        validators=[Length(max=1000, message="Keep the note to 1000 characters or fewer.")],
    )


class MergeDuplicateForm(Form):
    """Which signup of a pair stays."""

    keep = RadioField(
        "Which signup stays?",
        choices=[SelectChoice("first", "The earlier signup"), SelectChoice("second", "The later")],
        default="first",
    )

    def name_choices(self, first_label: str, second_label: str) -> None:
        """Show the organizations' own names beside the radio buttons."""
        self.keep.choices = [
            SelectChoice("first", first_label),
            SelectChoice("second", second_label),
        ]


class UndoMergeForm(Form):
    """The undo button of a recent merge: nothing to fill in."""
