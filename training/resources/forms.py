"""The permission wording builder and the page editor."""

from wtforms import RadioField, SelectChoice, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from training.drawn import drawn_from_field
from training.forms import Form, clean_text, single_line
from training.resources.services import durations, wordings

DURATION_LABELS = {
    "activity": "Per activity",
    "annual": "Annually (this calendar year)",
    "perpetual": "For perpetuity (until withdrawn)",
}


class WordingBuilderForm(Form):
    """Read from the query string: building text changes nothing, so it needs no CSRF token."""

    class Meta:
        csrf = False

    organization = StringField(
        "Your organization's name",
        filters=[single_line],
        validators=[
            DataRequired("Enter your organization's name."),
            Length(max=200, message="Keep the name to 200 characters or fewer."),
        ],
    )
    duration = RadioField("How long the permission lasts", default="activity")
    wording = RadioField("Wording", default="short")
    submit = SubmitField("Build my wording")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.duration.choices = [
            SelectChoice(key, DURATION_LABELS.get(key, key)) for key in durations()
        ]
        self.wording.choices = [SelectChoice(w.key, w.label) for w in wordings()]


class PageForm(Form):
    """Staff's editor for a resource page: its title and Markdown text."""

    drawn_from = drawn_from_field()

    title = StringField(
        "Title",
        filters=[single_line],
        validators=[DataRequired("Give the page a title."), Length(max=200)],
    )
    body = TextAreaField(
        "Text (Markdown)",
        description="Headings with ##, lists with 1. or -, **bold**. HTML is shown as text.",
        filters=[clean_text],
        validators=[
            DataRequired("The page needs some text."),
            Length(max=100_000, message="Keep the page under 100,000 characters."),
        ],
    )
    submit = SubmitField("Save page")


class RestoreForm(Form):
    """The button that brings back a page's shipped text."""

    submit = SubmitField("Restore the default text")
