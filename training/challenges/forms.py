"""Recording PARS entries, verifying them, and running a drawing."""

from wtforms import (
    RadioField,
    SelectChoice,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange

from training.challenges.eligibility import ACCME, CMA
from training.forms import (
    DayField,
    Form,
    IdSelectField,
    WholeNumberField,
    activity_id_field,
    clean_text,
)

# More learners than any one activity reports: a typing slip, refused with the range.
MAX_LEARNERS = 1_000_000


class EntryForm(Form):
    """An activity whose learners were entered in PARS, as the organization records it."""

    activity_id = activity_id_field("The 9-digit ID PARS shows for the activity.")
    entered_on = DayField(
        "Date you entered the learners in PARS",
        validators=[InputRequired("Enter the date, for example 12/01/2026.")],
    )
    learners = WholeNumberField(
        "Number of learners entered",
        validators=[
            InputRequired("Enter how many learners you entered."),
            NumberRange(
                min=1,
                max=MAX_LEARNERS,
                message=f"Enter a number of learners from 1 to {MAX_LEARNERS:,}.",
            ),
        ],
    )
    submit = SubmitField("Record this activity")


class StaffEntryForm(EntryForm):
    """The entry form, for staff recording on behalf of an organization."""

    signup_id = IdSelectField("Organization")

    def set_organizations(self, signups) -> None:
        """Offer ``signups`` as the organizations to record for."""
        self.signup_id.choices = [
            SelectChoice(signup.id, signup.organization_name) for signup in signups
        ]


class ActionForm(Form):
    """A button that changes one thing (verify, remove): only the CSRF token."""

    submit = SubmitField("Go")


class DrawingForm(Form):
    """Which challenge to draw for, and how many winners."""

    challenge = RadioField(
        "Challenge",
        default=ACCME,
        choices=[SelectChoice(ACCME, "ACCME Challenge"), SelectChoice(CMA, "CMA Challenge")],
    )
    winners = WholeNumberField(
        "Number of winners",
        default=1,
        validators=[InputRequired(), NumberRange(min=1, max=100, message="From 1 to 100.")],
    )
    redraw_reason = TextAreaField(
        "Reason to draw again (admins)",
        filters=[clean_text],
        description="Only to replace a drawing already made; the audit log keeps the reason.",
        validators=[Length(max=1000, message="Keep the reason to 1000 characters or fewer.")],
    )
    submit = SubmitField("Run the drawing")
