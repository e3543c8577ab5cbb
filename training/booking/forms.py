"""The signup and manage forms, with each field's rules and the messages people see."""

import re

from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    SelectChoice,
    StringField,
    SubmitField,
    TelField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from training.booking.models import MAX_ATTENDEES, Program
from training.booking.names import organization_key, provider_id_digits
from training.booking.services import SignupDetails
from training.drawn import drawn_from_field
from training.forms import (
    Form,
    IdSelectField,
    clean_text,
    email_address,
    email_problem,
    identifier,
    legible,
    phone_number,
    single_line,
)
from training.mail.services import one_per_mailbox

NO_CHOICE = 0


def program_session_ids(program: Program) -> list[SelectChoice]:
    """Every session of ``program`` as an unlabeled choice, what a posted date is checked
    against: a date that filled, started, was cancelled or passed its change cutoff while the
    page was open is still a choice here, and the booking service refuses it saying why; only
    an id that is no session of the program is "Not a valid choice"."""
    return [SelectChoice(session.id, "") for session in program.sessions]


def _parse_attendee_emails(text: str) -> list[str]:
    """The addresses typed, one per line (or separated by commas or semicolons), each mailbox
    once (``one_per_mailbox``): the same address typed twice counts once toward the limit."""
    return one_per_mailbox([item for item in re.split(r"[\s,;]+", text or "") if item])


class OrganizationField(Form):
    """Declared before the contact fields so forms list them in the order the page shows."""

    organization_name = StringField(
        "Organization name",
        filters=[single_line],
        validators=[
            DataRequired("Enter your organization's name."),
            Length(max=200, message="Keep the organization name to 200 characters or fewer."),
        ],
    )


class ContactFields(Form):
    """The fields an organization may update later from its manage link."""

    provider_id = StringField(
        "ACCME provider ID (optional)",
        filters=[identifier],
        validators=[Optional(), Length(max=20, message="An ACCME provider ID is 7 digits.")],
        description="The 7-digit ID ACCME gave your organization, if you know it.",
    )
    contact_name = StringField(
        "Contact name",
        filters=[single_line],
        validators=[
            DataRequired("Enter the name of the person we should contact."),
            legible("Enter the contact's name using letters."),
            Length(max=120, message="Keep the contact name to 120 characters or fewer."),
        ],
    )
    contact_email = EmailField(
        "Contact email",
        filters=[clean_text],
        validators=[
            DataRequired("Enter the email address of the person we should contact."),
            Length(max=254, message="This email address is too long."),
            email_address,
        ],
    )
    contact_phone = TelField(
        "Phone (optional)",
        filters=[identifier],
        description="Digits, spaces and + ( ) - . are fine; put x or ext before an extension.",
        validators=[
            Optional(),
            Length(max=40, message="Keep the phone number to 40 characters or fewer."),
            phone_number,
        ],
    )
    attendee_emails = TextAreaField(
        f"Emails of staff who will attend (up to {MAX_ATTENDEES})",
        filters=[clean_text],
        description="One address per line. Each gets the confirmation and the calendar invite.",
    )

    def validate_provider_id(self, field):
        """Seven ASCII digits, once spaces and dashes are dropped."""
        if field.data and not re.fullmatch(r"[0-9]{7}", provider_id_digits(field.data)):
            raise ValidationError(
                "An ACCME provider ID is 7 digits, for example 0012345. "
                "Leave it blank if you don't know it."
            )

    def validate_attendee_emails(self, field):
        """At most ``MAX_ATTENDEES`` addresses, each an email address."""
        addresses = _parse_attendee_emails(field.data)
        if len(addresses) > MAX_ATTENDEES:
            raise ValidationError(
                f"List up to {MAX_ATTENDEES} attendees; you listed {len(addresses)}."
            )
        for address in addresses:
            if problem := email_problem(address):
                raise ValidationError(f"{problem} Put one address on each line.")

    def details(self, organization_name: str) -> SignupDetails:
        """The form as the booking services take it, for ``organization_name``."""
        return SignupDetails(
            organization_name=organization_name,
            provider_id=provider_id_digits(self.provider_id.data or "") or None,
            contact_name=self.contact_name.data,
            contact_email=self.contact_email.data,
            contact_phone=self.contact_phone.data or None,
            attendee_emails=tuple(_parse_attendee_emails(self.attendee_emails.data)),
        )


class RankedDates:
    """The rules of a first choice with up to two alternates (fields ``first_choice``,
    ``second_choice``, ``third_choice``): no date twice, no third before a second."""

    def validate_second_choice(self, field):
        """Not the first choice again."""
        if field.data != NO_CHOICE and field.data == self.first_choice.data:
            raise ValidationError(
                "Your second choice is the same date as your first. Pick a different date, "
                "or “No other choice”."
            )

    def validate_third_choice(self, field):
        """Neither date above again, and only after a second choice."""
        if field.data == NO_CHOICE:
            return
        if field.data in (self.first_choice.data, self.second_choice.data):
            raise ValidationError(
                "Your third choice repeats a date chosen above. Pick a different date, "
                "or “No other choice”."
            )
        if self.second_choice.data == NO_CHOICE:
            raise ValidationError("Choose a second choice before a third.")

    def ranked_session_ids(self) -> list[int]:
        """The chosen session ids, first choice first."""
        picked = (self.first_choice.data, self.second_choice.data, self.third_choice.data)
        return [session_id for session_id in picked if session_id != NO_CHOICE]


class SignupForm(RankedDates, OrganizationField, ContactFields):
    """The public signup form: organization, contacts, up to three dates, the attestation."""

    # choices.js names a date taken by one list, where the others disable it, by "data-choice".
    first_choice = IdSelectField(
        "Your date", validators=[InputRequired()], render_kw={"data-choice": "your date"}
    )
    second_choice = IdSelectField(
        "Second choice (for the waitlist)",
        default=NO_CHOICE,
        render_kw={"data-choice": "your second choice"},
    )
    third_choice = IdSelectField(
        "Third choice (for the waitlist)",
        default=NO_CHOICE,
        render_kw={"data-choice": "your third choice"},
    )
    join_waitlist = BooleanField(
        "If none of our dates has a seat left, put us on the waitlist", default=True
    )
    attest = BooleanField(
        validators=[
            DataRequired(
                "Please confirm that your organization has or will collect its learners' "
                "permission before reporting their credit."
            )
        ]
    )
    submit = SubmitField("Sign up")

    def set_sessions(self, options: list[SelectChoice], attestation: str) -> None:
        """Offer ``options`` (session ids) as dates and show the attestation in full."""
        self.first_choice.choices = [SelectChoice(NO_CHOICE, "Choose a date"), *options]
        alternates = [SelectChoice(NO_CHOICE, "No other choice"), *options]
        self.second_choice.choices = alternates
        self.third_choice.choices = alternates
        self.attest.label.text = attestation

    def validate_organization_name(self, field):
        """A name with at least one letter or digit (the key duplicates are found by)."""
        if field.data and not organization_key(field.data):
            raise ValidationError("Enter your organization's name using letters or numbers.")

    def validate_first_choice(self, field):
        """A date must be chosen."""
        if field.data == NO_CHOICE:
            raise ValidationError("Choose the date you would like to attend.")


class ContactsForm(ContactFields):
    """The manage page's form for the contacts and attendees."""

    drawn_from = drawn_from_field()
    submit = SubmitField("Save contacts")


class ChangeDateForm(Form):
    """The manage page's form to move the booking to another date (or, waiting, book one)."""

    session_id = IdSelectField("New date", validators=[InputRequired()])
    submit = SubmitField("Change date")

    def say_booking_a_first_date(self) -> None:
        """Word the form for an organization that holds no date: it books one, moves nothing."""
        self.session_id.label.text = "Date"
        self.submit.label.text = "Book this date"

    def validate_session_id(self, field):
        """A date must be chosen."""
        if field.data == NO_CHOICE:
            raise ValidationError("Choose the date you would like to move to.")


class WaitlistForm(RankedDates, Form):
    """The manage page's form for an organization waiting for no date: full dates to wait for,
    ranked like the signup form's."""

    first_choice = IdSelectField("First choice", validators=[InputRequired()])
    second_choice = IdSelectField("Second choice", default=NO_CHOICE)
    third_choice = IdSelectField("Third choice", default=NO_CHOICE)
    submit = SubmitField("Join the waitlist")

    def set_sessions(self, options: list[SelectChoice]) -> None:
        """Offer ``options`` (session ids) in each list."""
        self.first_choice.choices = [SelectChoice(NO_CHOICE, "Choose a date"), *options]
        alternates = [SelectChoice(NO_CHOICE, "No other choice"), *options]
        self.second_choice.choices = alternates
        self.third_choice.choices = alternates

    def validate_first_choice(self, field):
        """A date must be chosen."""
        if field.data == NO_CHOICE:
            raise ValidationError("Choose the date you would like to wait for.")


class CancelForm(Form):
    """The question asked before a booking is cancelled."""

    confirm = BooleanField(
        "Yes, cancel our booking",
        validators=[DataRequired("Tick the box to confirm that you want to cancel.")],
    )
    # What the page asked about: "booked:<session id>" or "waitlisted" (``Signup.place``).
    asked_about = HiddenField(filters=[clean_text], render_kw={"id": False})
    submit = SubmitField("Cancel booking")


class ResendLinkForm(Form):
    """The “already signed up” page's button: a signed reference to the signup."""

    signup_ref = HiddenField(filters=[clean_text], validators=[DataRequired()])
    submit = SubmitField("Email the manage link to our contact on file")
