"""Staff forms for sessions and rosters, with each field's rules and the messages staff see."""

from datetime import UTC, date, datetime, time
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from wtforms import (
    BooleanField,
    HiddenField,
    SelectChoice,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import (
    URL,
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
    ValidationError,
)
from wtforms.widgets import CheckboxInput

from training.booking.forms import ContactFields, OrganizationField
from training.booking.models import session_length_problem
from training.booking.names import organization_key
from training.drawn import drawn_from_field
from training.forms import (
    ClockTimeField,
    DayField,
    Form,
    IdSelectField,
    IdSelectMultipleField,
    WholeNumberField,
    clean_text,
    single_line,
    web_address,
)
from training.rosters.outreach import MAX_BODY_CHARS, MAX_SUBJECT_CHARS
from training.rosters.services import SessionDetails
from training.staff.models import StaffMember

MAX_SEATS = 500


def local_moment(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """``day`` at ``clock`` on the wall clocks of ``zone``, as UTC.

    Raises ValueError for a time that does not exist there (the hour skipped when clocks go
    forward), which would otherwise be silently shifted, and for one that happens twice (the
    hour repeated when they go back), which would otherwise silently be the first.
    """
    moment = datetime.combine(day, clock, tzinfo=zone)
    if moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment.replace(tzinfo=None):
        raise ValueError(f"{clock:%H:%M} on {day:%b} {day.day} does not exist in {zone.key}.")
    if moment.replace(fold=1).astimezone(UTC) != moment.astimezone(UTC):
        raise ValueError(
            f"{clock:%H:%M} on {day:%b} {day.day} happens twice in {zone.key}, as the clocks go "
            "back an hour; choose a time outside that hour."
        )
    return moment.astimezone(UTC)


def _real_port(_form, field):
    """A link whose port no address can have (https://host:99999/) says so, before the general
    web address check would call it not a web address at all."""
    try:
        _port = urlsplit(field.data or "").port  # urlsplit checks the port only when asked
    except ValueError:
        raise StopValidation(
            "The meeting link's port (the number after the colon) cannot be right: copy the "
            "link again from the meeting invitation."
        ) from None


def _web_address(_form, field):
    if field.data and urlsplit(field.data).scheme not in ("http", "https"):
        raise ValidationError("Enter the meeting link starting with https://")


class SessionForm(Form):
    """Staff's form for a session: its day and times in the program's zone, seats, joining details
    and facilitators."""

    drawn_from = drawn_from_field()
    day = DayField("Date", validators=[InputRequired("Enter the session's date.")])
    starts_at = ClockTimeField("Start time", validators=[InputRequired("Enter the start time.")])
    ends_at = ClockTimeField("End time", validators=[InputRequired("Enter the end time.")])
    seats = WholeNumberField(
        "Seats",
        description="Organizations, not people: each books one seat.",
        validators=[
            InputRequired("Enter how many organizations can book."),
            NumberRange(min=1, max=MAX_SEATS, message=f"Use between 1 and {MAX_SEATS} seats."),
        ],
    )
    meeting_url = StringField(
        "Meeting link",
        filters=[web_address],
        validators=[
            Optional(),
            Length(max=500, message="Keep the meeting link to 500 characters or fewer."),
            _real_port,
            URL(message="Enter the meeting link as a full web address, like https://…"),
            _web_address,
        ],
    )
    passcode = StringField(
        "Passcode",
        filters=[clean_text],
        validators=[Optional(), Length(max=64, message="Keep the passcode to 64 characters.")],
    )
    dial_in = StringField(
        "Dial-in",
        filters=[single_line],
        validators=[Optional(), Length(max=200, message="Keep the dial-in to 200 characters.")],
    )
    facilitators = IdSelectMultipleField(
        "Facilitators",
        description="They see this session's roster.",
        invalid_choice_message="Choose facilitators from the list.",
        option_widget=CheckboxInput(),
    )
    # Offered when a session of the program already starts at this time.
    create_anyway = BooleanField("Create it anyway: a second session at the same time is intended")
    # Offered to admins when the start is in the past (recording a session held off the books).
    in_past = BooleanField("Schedule it in the past: I know this start has gone by")
    in_past_reason = TextAreaField(
        "Why it belongs in the past",
        filters=[clean_text],
        description="The audit log keeps it. Nobody is emailed about a session in the past.",
        validators=[Length(max=1000, message="Keep the reason to 1000 characters or fewer.")],
    )
    # Offered when a move puts a session with bookings inside the change cutoff.
    move_inside_cutoff = BooleanField(
        "Move it inside the cutoff: the organizations booked can then only cancel"
    )
    submit = SubmitField("Save session")

    def __init__(self, *args, zone: ZoneInfo, accounts: list[StaffMember], **kwargs):
        """``accounts`` are the facilitators to offer; times are read in ``zone``."""
        super().__init__(*args, **kwargs)
        self.zone = zone
        self.facilitator_accounts = {member.id: member for member in accounts}
        self.facilitators.choices = [
            SelectChoice(member.id, _facilitator_label(member)) for member in accounts
        ]
        self.day.description = f"Times are in {zone.key}."

    def validate_starts_at(self, field):
        """A time that exists on that day in the program's zone."""
        if self.day.data and field.data:
            try:
                local_moment(self.day.data, field.data, self.zone)
            except ValueError as error:
                raise ValidationError(str(error)) from None

    def validate_ends_at(self, field):
        """After the start, on the same day, a time that exists then, and no longer than a
        session lasts (``session_length_problem``)."""
        if self.starts_at.data and field.data and field.data <= self.starts_at.data:
            raise ValidationError("The session must end after it starts, on the same day.")
        if self.day.data and field.data:
            try:
                ends_at = local_moment(self.day.data, field.data, self.zone)
            except ValueError as error:
                raise ValidationError(str(error)) from None
            try:
                starts_at = local_moment(self.day.data, self.starts_at.data, self.zone)
            except (TypeError, ValueError):
                return  # the start's own message says what is wrong with it
            if problem := session_length_problem(starts_at, ends_at):
                raise ValidationError(problem)

    def validate_in_past_reason(self, field):
        """A reason whenever the start in the past is confirmed."""
        if self.in_past.data and not field.data:
            raise ValidationError("Say why this session goes in the past; the audit log keeps it.")

    def past_reason(self) -> str | None:
        """The reason to put the session in the past, when the box is ticked."""
        return self.in_past_reason.data if self.in_past.data else None

    def details(self) -> SessionDetails:
        """The form as the rosters services take it, times in UTC."""
        return SessionDetails(
            starts_at=local_moment(self.day.data, self.starts_at.data, self.zone),
            ends_at=local_moment(self.day.data, self.ends_at.data, self.zone),
            seats=self.seats.data,
            meeting_url=self.meeting_url.data or None,
            dial_in=self.dial_in.data or None,
            passcode=self.passcode.data or None,
        )

    def chosen_facilitators(self) -> list[StaffMember]:
        """The accounts ticked as facilitators."""
        return [self.facilitator_accounts[member_id] for member_id in self.facilitators.data or []]


def _facilitator_label(member: StaffMember) -> str:
    label = member.name if member.name == member.email else f"{member.name} ({member.email})"
    return label + (" (disabled)" if member.is_disabled else "")


class CancelSessionForm(Form):
    """Why a session is cancelled (organizations read it)."""

    reason = TextAreaField(
        "Why is it cancelled?",
        filters=[clean_text],
        description="Each organization booked on it reads this in its email.",
        validators=[
            DataRequired("Say why the session is cancelled; organizations will see it."),
            Length(max=1000, message="Keep the reason to 1000 characters or fewer."),
        ],
    )
    submit = SubmitField("Cancel the session")


def _a_session_chosen(_form, field):
    # "Choose a date…" (0) is offered first so that no date is moved to by default.
    if not field.data:
        raise ValidationError("Choose the session to move them to.")


class MoveSignupForm(Form):
    """The session to move (or book) an organization into."""

    session_id = IdSelectField(
        "Move to",
        validators=[InputRequired("Choose the session to move them to."), _a_session_chosen],
        invalid_choice_message="That session cannot take them; choose one from the list.",
    )
    submit = SubmitField("Move")


class CancelSignupForm(Form):
    """Why staff cancel a booking (the audit log keeps it)."""

    reason = StringField(
        "Reason",
        filters=[single_line],
        validators=[
            DataRequired("Say why you are cancelling this booking; the audit log keeps it."),
            Length(max=500, message="Keep the reason to 500 characters or fewer."),
        ],
    )
    submit = SubmitField("Cancel booking")


class NotesForm(Form):
    """Staff's notes on a signup."""

    drawn_from = drawn_from_field()
    staff_notes = TextAreaField(
        "Staff notes",
        filters=[clean_text],
        validators=[Length(max=5000, message="Keep notes to 5000 characters or fewer.")],
    )
    submit = SubmitField("Save notes")


class ResendForm(Form):
    """The button that queues a failed email again."""

    submit = SubmitField("Resend")


class FeedForm(Form):
    """The button that makes a new calendar feed address."""

    submit = SubmitField("Create a new feed address")


class AddSignupForm(OrganizationField, ContactFields):
    """The public signup form's fields, for an organization that phoned in."""

    join_waitlist = BooleanField("If the session is full, put them on its waitlist")
    attest = BooleanField(
        validators=[
            DataRequired(
                "Confirm that the organization has or will collect its learners' permission "
                "(ask them, and read them the statement)."
            )
        ]
    )
    override_reason = TextAreaField(
        "Reason to book them anyway",
        filters=[clean_text],
        description="Required to book an organization that already holds a place; it is "
        "recorded with the signup and in the audit log.",
        validators=[Length(max=1000, message="Keep the reason to 1000 characters or fewer.")],
    )
    submit = SubmitField("Add signup")

    def set_attestation(self, attestation: str) -> None:
        """Show the program's attestation as the box's label."""
        self.attest.label.text = attestation

    def validate_organization_name(self, field):
        """A name with at least one letter or digit."""
        if field.data and not organization_key(field.data):
            raise ValidationError("Enter the organization's name using letters or numbers.")


def _at_least_one(_form, field):
    # Not DataRequired: that would mark every checkbox "required", as if all had to be ticked.
    if not field.data:
        raise ValidationError("Tick at least one session.")


class OrganizationsEmailForm(Form):
    """Staff's message to the organizations of the sessions ticked: previewed, then sent."""

    sessions = IdSelectMultipleField(
        "Sessions",
        description="Every organization booked on a session ticked gets the message once.",
        invalid_choice_message="Choose sessions from the list.",
        option_widget=CheckboxInput(),
        validators=[_at_least_one],
    )
    include_waitlist = BooleanField("Also the organizations on these sessions' waitlists")
    subject = StringField(
        "Subject",
        filters=[single_line],
        validators=[
            DataRequired("Enter a subject."),
            Length(
                max=MAX_SUBJECT_CHARS,
                message=f"Keep the subject to {MAX_SUBJECT_CHARS} characters.",
            ),
        ],
    )
    body = TextAreaField(
        "Message",
        description="Plain text. Each email starts with “Hello” and the contact's name (unless "
        "your message starts with a greeting of its own: Hello, Hi, Dear…), and ends with the "
        "session it is about and how to reach the program's staff.",
        filters=[clean_text],
        validators=[
            DataRequired("Write the message."),
            Length(max=MAX_BODY_CHARS, message=f"Keep the message to {MAX_BODY_CHARS} characters."),
        ],
    )
    # The draft previewed, when Send is pressed on its preview page (then marked sent).
    draft = HiddenField(filters=[clean_text], render_kw={"id": False})
    preview = SubmitField("Preview")
    send = SubmitField("Send")

    def offer(self, sessions: list, now: datetime) -> None:
        """Offer ``sessions`` (not cancelled ones), each named by when it is; those ended at
        ``now`` are noted (``ended_ids``) for the page to put behind their own disclosure."""
        offered = [session for session in sessions if not session.is_cancelled]
        self.sessions.choices = [
            SelectChoice(session.id, session.when_dated) for session in offered
        ]
        self.ended_ids = frozenset(session.id for session in offered if session.has_ended(now))

    def options_by_timing(self) -> tuple[list, list]:
        """The session tick boxes: those still to come (or under way), and those ended."""
        options = list(self.sessions)
        ended_ids = getattr(self, "ended_ids", frozenset())
        return (
            [option for option in options if option.data not in ended_ids],
            [option for option in options if option.data in ended_ids],
        )


class FindForm(Form):
    """Find organizations on the sessions list or a roster (a GET form, sent in the address)."""

    q = StringField(
        "Find an organization, contact or email",
        filters=[single_line],
        validators=[Length(max=200, message="Keep the search to 200 characters.")],
    )
