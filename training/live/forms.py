"""The facilitator's and the participants' buttons and fields, with their rules."""

from wtforms import SelectChoice, SelectField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length
from wtforms.widgets import HiddenInput

from training.drawn import drawn_from_field
from training.forms import Form, IdSelectField, WholeNumberField, clean_text
from training.live.models import CHECKIN_LABELS

NOTES_MAX_LENGTH = 20_000


class ActionForm(Form):
    """A button that needs nothing but the CSRF token (start, next, I need help...)."""


class MoveStepForm(Form):
    """The console's Next and Back buttons, naming the step the console showed (none: a page
    drawn before they did), so that two tabs pressing Next move on one step, not two."""

    from_step = WholeNumberField(widget=HiddenInput())


class JumpForm(Form):
    """The console's list of steps to go to."""

    step_id = IdSelectField("Go to step", validators=[InputRequired()])

    def set_steps(self, steps) -> None:
        """Offer ``steps``, numbered from 1."""
        self.step_id.choices = [
            SelectChoice(step.id, f"{number}. {step.title}") for number, step in enumerate(steps, 1)
        ]


class CheckInForm(Form):
    """An organization's check-in: present, joined late or no-show."""

    # Each check-in button sends its own value of ``status``.
    status = SelectField(
        "Check-in",
        choices=[SelectChoice(value, label) for value, label in CHECKIN_LABELS.items()],
        validators=[InputRequired(message="Choose present, joined late or no-show.")],
    )


class NotesForm(Form):
    """The facilitator's notes on the session."""

    drawn_from = drawn_from_field()

    notes = TextAreaField(
        "Session notes",
        description="Kept with this session; organizations never see them.",
        filters=[clean_text],
        validators=[
            Length(max=NOTES_MAX_LENGTH, message="Keep the notes under 20,000 characters.")
        ],
    )


class DoneForm(Form):
    """The participant's “done with this step” button, naming the step it saw."""

    step_id = WholeNumberField(widget=HiddenInput(), validators=[DataRequired()])
