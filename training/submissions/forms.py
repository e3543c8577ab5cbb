"""The rules for a form's one-time submission key."""

from wtforms import HiddenField
from wtforms.validators import InputRequired, Regexp

from training.forms import Form, single_line

# What ``secrets.token_urlsafe(24)`` makes, with room for keys from older pages and tests.
KEY_PATTERN = r"^[A-Za-z0-9_\-]{16,64}$"


class SubmissionKeyForm(Form):
    """Reads the key from any posted form; the app-wide CSRF check has already run."""

    class Meta:
        csrf = False

    submission_key = HiddenField(
        filters=[single_line], validators=[InputRequired(), Regexp(KEY_PATTERN)]
    )
