"""Sign-in, password and account forms."""

from wtforms import (
    EmailField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, Email, EqualTo, Length

from training.forms import Form, as_typed, clean_text, single_line
from training.staff.models import ROLES
from training.staff.services import MIN_PASSWORD_LENGTH


class SignInForm(Form):
    """Email and password."""

    email = EmailField(
        "Email", filters=[clean_text], validators=[DataRequired("Enter your email address.")]
    )
    password = PasswordField(
        "Password", filters=[as_typed], validators=[DataRequired("Enter your password.")]
    )
    submit = SubmitField("Sign in")


class ChangePasswordForm(Form):
    """The current password, and the new one twice."""

    current_password = PasswordField(
        "Current password",
        filters=[as_typed],
        validators=[DataRequired("Enter your current password.")],
    )
    new_password = PasswordField(
        "New password",
        description=f"At least {MIN_PASSWORD_LENGTH} characters.",
        filters=[as_typed],
        validators=[
            DataRequired("Enter a new password."),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=500,
                message=f"Use at least {MIN_PASSWORD_LENGTH} characters for the password.",
            ),
        ],
    )
    confirm_password = PasswordField(
        "New password again",
        filters=[as_typed],
        validators=[EqualTo("new_password", "The two new passwords do not match.")],
    )
    submit = SubmitField("Change password")


class AccountForm(Form):
    """An admin's form for a new staff account."""

    email = EmailField(
        "Email",
        filters=[clean_text],
        validators=[
            DataRequired("Enter the email address."),
            Email("Enter an email address like name@example.org."),
            Length(max=254),
        ],
    )
    name = StringField("Name", filters=[single_line], validators=[Length(max=120)])
    role = SelectField("Role", choices=[SelectChoice(role, role.capitalize()) for role in ROLES])
    password = PasswordField(
        "Initial password",
        description=f"At least {MIN_PASSWORD_LENGTH} characters; they can change it later.",
        filters=[as_typed],
        validators=[
            DataRequired("Enter an initial password."),
            Length(min=MIN_PASSWORD_LENGTH, max=500),
        ],
    )
    submit = SubmitField("Create account")


class AccountUpdateForm(Form):
    """One row of the accounts table; built with ``prefix=f"account-{id}"`` so ids stay unique."""

    role = SelectField("Role", choices=[SelectChoice(role, role.capitalize()) for role in ROLES])
    status = SelectField(
        "Status", choices=[SelectChoice("active", "Active"), SelectChoice("disabled", "Disabled")]
    )
    submit = SubmitField("Save")
