"""The facilitator's and the participants' buttons and fields, with their rules."""

from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectChoice, SelectField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length
from wtforms.widgets import HiddenInput

from training.live.models import CHECKIN_LABELS

NOTES_MAX_LENGTH = 20_000
# Control characters (NUL above all, which PostgreSQL refuses) are never meant as text.
_CONTROL_CHARACTERS = dict.fromkeys([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])


def _strip(value):
    return value.translate(_CONTROL_CHARACTERS).strip() if isinstance(value, str) else value


class ActionForm(FlaskForm):
    """A button that needs nothing but the CSRF token (start, next, I need help...)."""


class JumpForm(FlaskForm):
    step_id = SelectField("Go to step", coerce=int, validators=[InputRequired()])

    def set_steps(self, steps) -> None:
        self.step_id.choices = [
            SelectChoice(step.id, f"{number}. {step.title}") for number, step in enumerate(steps, 1)
        ]


class CheckInForm(FlaskForm):
    # Each check-in button sends its own value of ``status``.
    status = SelectField(
        "Check-in",
        choices=[SelectChoice(value, label) for value, label in CHECKIN_LABELS.items()],
        validators=[InputRequired(message="Choose present, joined late or no-show.")],
    )


class NotesForm(FlaskForm):
    notes = TextAreaField(
        "Session notes",
        description="Kept with this session; organizations never see them.",
        filters=[_strip],
        validators=[
            Length(max=NOTES_MAX_LENGTH, message="Keep the notes under 20,000 characters.")
        ],
    )


class DoneForm(FlaskForm):
    step_id = IntegerField(widget=HiddenInput(), validators=[DataRequired()])
