"""Sign-in, password and account forms."""

from wtforms import (
    EmailField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, EqualTo, Length

from training.drawn import drawn_from_field
from training.forms import Form, as_typed, clean_text, email_address, single_line
from training.staff.models import ROLE_FACILITATOR, ROLES
from training.staff.services import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, PASSWORD_LENGTH_RULE

# Roles from the least privilege up, as the account forms offer them.
ROLE_CHOICES = [SelectChoice(role, role.capitalize()) for role in reversed(ROLES)]
LENGTH_LIMITS = f"{MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"


def password_length() -> Length:
    """The password length rule, its message naming both limits."""
    return Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH, message=PASSWORD_LENGTH_RULE)


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
        description=f"{LENGTH_LIMITS}.",
        filters=[as_typed],
        validators=[DataRequired("Enter a new password."), password_length()],
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
            email_address,
            Length(max=254),
        ],
    )
    name = StringField("Name", filters=[single_line], validators=[Length(max=120)])
    # The least privilege unless the admin chooses more.
    role = SelectField("Role", choices=ROLE_CHOICES, default=ROLE_FACILITATOR)
    password = PasswordField(
        "Initial password",
        description=f"{LENGTH_LIMITS}; they can change it later.",
        filters=[as_typed],
        validators=[DataRequired("Enter an initial password."), password_length()],
    )
    submit = SubmitField("Create account")


class AccountUpdateForm(Form):
    """One row of the accounts table; built with ``prefix=f"account-{id}"`` so ids stay unique."""

    drawn_from = drawn_from_field()

    role = SelectField("Role", choices=ROLE_CHOICES)
    status = SelectField(
        "Status", choices=[SelectChoice("active", "Active"), SelectChoice("disabled", "Disabled")]
    )
    submit = SubmitField("Save")
