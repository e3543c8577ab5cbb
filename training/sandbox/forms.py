"""The sandbox forms: a practice activity with its boards, an upload, deleting, and filters."""

from datetime import timedelta
from decimal import Decimal

import wtforms
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    FormField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.validators import ValidationError as FieldError
from wtforms.widgets import CheckboxInput, ListWidget

from training.drawn import drawn_from_field
from training.extensions import utcnow
from training.forms import (
    DayField,
    FiniteDecimalField,
    Form,
    activity_id_field,
    quoted,
    single_line,
)
from training.sandbox import rules
from training.sandbox.columns import ColumnMap
from training.sandbox.judge.values import column_letter
from training.sandbox.mapping import duplicate_targets, missing_columns, overlapping_targets
from training.sandbox.readers import human_size
from training.sandbox.services import ActivityDetails, BoardDetails

MAX_CREDITS = Decimal(1000)
CREDITS_MESSAGE = f"Enter a number above 0 and at most {MAX_CREDITS}, for example 1.5."


def _credits_rule(_form, field):
    """Credits above 0, in steps of 0.25, as PARS takes them."""
    if field.data is None:
        return
    if not Decimal(0) < field.data <= MAX_CREDITS:
        raise FieldError(CREDITS_MESSAGE)
    if field.data % rules.CREDIT_STEP:
        raise FieldError("Credits go in steps of 0.25, for example 0.25, 1.5 or 2.75.")


class CheckboxListField(SelectMultipleField):
    """Several choices, each a checkbox with its own label."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class BoardForm(wtforms.Form):
    """One board's registration: whether the activity has it, its points and credit types."""

    is_registered = BooleanField("Registered")
    points = FiniteDecimalField(
        "Points",
        places=2,
        maximum=MAX_CREDITS,
        invalid_value_message=CREDITS_MESSAGE,
        validators=[Optional(), _credits_rule],
        description="The MOC points the activity offers for this board.",
    )
    credit_types = CheckboxListField("Credit types")

    def validate(self, extra_validators=None) -> bool:
        """A registered board needs its points; an unregistered one takes none (what was typed
        for it is refused, never dropped unseen)."""
        valid = super().validate(extra_validators)
        # Here, not in validate_points: Optional() ends the field's own checks when it is blank.
        if self.is_registered.data and self.points.data is None and not self.points.errors:
            self.points.errors.append("Enter the points the activity offers for this board.")
            valid = False
        typed = (self.points.raw_data or [""])[0].strip() or self.credit_types.data
        if not self.is_registered.data and typed:
            self.is_registered.errors.append(
                "You gave points or credit types for this board without ticking “Registered”: "
                "tick it to keep them, or clear them."
            )
            valid = False
        return valid

    def validate_credit_types(self, field):
        """A registered board needs at least one credit type."""
        if self.is_registered.data and not field.data:
            raise FieldError("Choose at least one credit type the activity offers for this board.")


def _board_form(board: rules.Board) -> FormField:
    class OneBoardForm(BoardForm):
        pass

    OneBoardForm.credit_types = CheckboxListField(
        "Credit types", choices=[SelectChoice(kind, kind) for kind in board.credit_types]
    )
    return FormField(OneBoardForm, label=f"{board.code}: {board.name}")


class ActivityForm(Form):
    """A practice activity: its ID, title, dates, CME credits and the boards it is registered
    with."""

    activity_id = activity_id_field("The 9-digit ID of an activity you will report learners for.")
    title = StringField(
        "Activity title",
        filters=[single_line],
        validators=[
            DataRequired("Enter the activity's title."),
            Length(max=200, message="Keep the title to 200 characters or fewer."),
        ],
    )
    start_date = DayField(
        "Start date", validators=[InputRequired("Enter the date the activity starts.")]
    )
    end_date = DayField("End date", validators=[InputRequired("Enter the date the activity ends.")])
    max_cme_credits = FiniteDecimalField(
        "Maximum AMA PRA Category 1 Credits™ (optional)",
        places=2,
        maximum=MAX_CREDITS,
        invalid_value_message=CREDITS_MESSAGE,
        description="Leave blank if the activity offers MOC points only.",
        validators=[Optional(), _credits_rule],
    )
    submit = SubmitField("Add this activity")

    @property
    def board_fields(self) -> list[FormField]:
        """Each board's sub-form, in the order of ``rules.BOARDS``."""
        return [self[f"board_{code}"] for code in rules.BOARDS]

    def validate_end_date(self, field):
        """Not before the start date."""
        if self.start_date.data and field.data and field.data < self.start_date.data:
            raise FieldError("The end date is before the start date; check both dates.")

    def validate(self, extra_validators=None) -> bool:
        """Some credit (CME, a board or both), and no board before it takes PARS data."""
        valid = super().validate(extra_validators)
        credits = self.max_cme_credits
        # Here, not in a validate_ method: Optional() ends the field's own checks when blank.
        if (
            credits.data is None
            and not credits.errors
            and not any(board.is_registered.data for board in self.board_fields)
        ):
            credits.errors.append(
                "Enter the maximum CME credits, register a board below, or both: "
                "a learner row must report some credit."
            )
            valid = False
        for code, board in zip(rules.BOARDS, self.board_fields, strict=True):
            since = rules.BOARDS[code].activities_from
            starts = self.start_date.data
            if board.is_registered.data and since and starts and starts < since:
                board.is_registered.errors.append(
                    f"{code} takes PARS data only for activities starting on or after "
                    f"{since:%m/%d/%Y}; leave it out for this activity."
                )
                valid = False
        return valid

    def details(self) -> ActivityDetails:
        """The form as the sandbox services take it."""
        return ActivityDetails(
            activity_id=self.activity_id.data,
            title=self.title.data,
            start_date=self.start_date.data,
            end_date=self.end_date.data,
            max_cme_credits=self.max_cme_credits.data,
            boards=tuple(
                BoardDetails(code, board.points.data, tuple(board.credit_types.data))
                for code, board in zip(rules.BOARDS, self.board_fields, strict=True)
                if board.is_registered.data
            ),
        )


for _code, _board in rules.BOARDS.items():
    setattr(ActivityForm, f"board_{_code}", _board_form(_board))


class UploadForm(Form):
    """A learner file to judge, and whether to judge it all or check the learners only."""

    learner_file = FileField(
        "Learner file",
        description="A .xlsx from the template, or a .csv, .tsv or .txt (tab-delimited) file.",
        validators=[FileRequired("Choose your learner file to upload.")],
    )
    mode = RadioField(
        "What to check",
        choices=[SelectChoice(value, label) for value, label in rules.MODES.items()],
        default=rules.MODE_FULL,
    )
    submit = SubmitField("Upload and check")

    def __init__(self, *args, max_bytes: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_bytes = max_bytes

    def validate_learner_file(self, field):
        """Not above the upload limit."""
        if self.file_size() > self.max_bytes:
            raise FieldError(
                rules.CODES["FILE_TOO_LARGE"].message.format(limit=human_size(self.max_bytes))
            )

    def file_size(self) -> int:
        """The size of the uploaded file, found without reading it."""
        stream = self.learner_file.data.stream
        stream.seek(0, 2)
        size = stream.tell()
        stream.seek(0)
        return size


class ActionForm(Form):
    """A button that changes something: only its CSRF token to check."""


class DeleteAllForm(Form):
    """The question asked before the sandbox data is deleted."""

    confirm = BooleanField(
        "Yes, delete our sandbox records, uploads and findings",
        validators=[DataRequired("Tick the box to confirm that you want to delete them.")],
    )
    include_activities = BooleanField("Also delete our practice activities")
    submit = SubmitField("Delete our sandbox data")


class RemoveActivityForm(Form):
    """The question asked before an activity is removed with its sandbox records, as before
    the sandbox data is deleted: the box must be ticked when the activity has records
    (``records``); an activity without any goes at once."""

    asked = HiddenField(filters=[single_line])  # sent by the question page only
    confirm = BooleanField("Yes, remove the activity and its sandbox records")
    submit = SubmitField("Remove the activity and its records")

    def __init__(self, *args, records: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.records = records

    def validate_confirm(self, field):
        """An activity with records goes only with the box ticked."""
        if self.records and not field.data:
            raise FieldError("Tick the box to confirm that you want to remove them.")


class FindingsFilterForm(Form):
    """The findings table's filters, sent in the address so a filtered view can be shared."""

    class Meta:
        csrf = False

    code = SelectField("Code", validate_choice=False)
    severity = SelectField(
        "Severity",
        choices=[
            SelectChoice("", "Errors and warnings"),
            SelectChoice(rules.ERROR, "Errors only"),
            SelectChoice(rules.WARNING, "Warnings only"),
        ],
        validate_choice=False,
    )

    def set_codes(self, codes) -> None:
        """Offer the codes the upload's findings have."""
        self.code.choices = [SelectChoice("", "All codes")] + [
            SelectChoice(code, code) for code in codes
        ]


# --- The organization's own columns -----------------------------------------------------------


MAPPING_OPTIONS = [SelectChoice("", "Not used")] + [
    SelectChoice(target, target) for target in rules.MAPPING_TARGETS
]


# What each "when the file has no such column" select fills, and what to say when neither a
# column nor the select gives it: the message points to the select that fixes it.
MAPPING_FILLS = {
    rules.RECORD_ACTION: (
        "fill_action",
        "Choose Add for every row, or a column that holds the Record Action.",
    ),
    rules.ACTIVITY_ID: (
        "fill_activity",
        "Choose which of your activities these rows are for, or a column that holds their "
        "ACCME Activity ID.",
    ),
}
# The activity message when the organization has none to choose from yet.
NO_ACTIVITY_YET = (
    "No activity has been added to your sandbox yet: add the activity these rows are for, "
    "then choose it here, or choose a column that holds their ACCME Activity ID."
)


class ColumnMappingForm(Form):
    """Which template column each column of the file holds (a select per column, labelled with
    the column's letter and heading), and the values for every row when the file has no such
    column.

    ``header`` is the file's header; ``current`` the mapping to start from; ``activities`` the
    organization's practice activities as (activity ID, title).
    """

    required = HiddenField(filters=[single_line])  # carries the message naming missing columns
    fill_action = SelectField(
        "Record Action, when the file has no such column",
        choices=[SelectChoice("Add", "Add, on every row")],
    )
    fill_activity = SelectField(
        "ACCME activity ID, when the file has no such column", validate_choice=False
    )
    preview = SubmitField("Show the preview with these columns")
    submit = SubmitField("Check the file with these columns")

    def __init__(
        self,
        formdata=None,
        *,
        header: tuple[str, ...] = (),
        current: ColumnMap | None = None,
        activities: tuple[tuple[str, str], ...] = (),
        learners_only: bool = False,
        **kwargs,
    ):
        current = current or ColumnMap(tuple(header), {})
        kwargs.setdefault("fill_action", current.fixed.get(rules.RECORD_ACTION, ""))
        kwargs.setdefault("fill_activity", current.fixed.get(rules.ACTIVITY_ID, ""))
        super().__init__(formdata, **kwargs)
        self.header = tuple(header)
        self.learners_only = learners_only
        self.has_activities = bool(activities)
        self.fill_activity.choices = [
            SelectChoice(activity_id, f"{activity_id}: {title}")
            for activity_id, title in activities
        ]
        # A select per column of this file's header, added to the form's own fields so they
        # are validated, and their errors listed, like the others.
        self.column_fields: list[SelectField] = []
        for position, name in enumerate(self.header):
            shown = quoted(name, 60)
            label = f"Column {column_letter(position + 1)}"
            if name != label:  # a file without a header row has its columns named so
                label += f", headed “{shown or '(none)'}”"
            field_name = f"column_{position}"
            field = SelectField(label, choices=MAPPING_OPTIONS).bind(
                form=self, name=field_name, prefix=self._prefix
            )
            field.process(
                self.meta.wrap_formdata(self, formdata), current.targets.get(position, "")
            )
            self._fields[field_name] = field
            self.column_fields.append(field)
        # "Taken from the file" is offered only when a column is chosen for it: otherwise the
        # select asks for a value, rather than starting on a choice that cannot work.
        chosen = {field.data for field in self.column_fields}
        for target, (fill_name, _message) in MAPPING_FILLS.items():
            fill = self[fill_name]
            if target in chosen:
                first = SelectChoice("", "Taken from the file")
            elif fill_name == "fill_activity" and not self.has_activities:
                first = SelectChoice("", "No activity added yet")
            else:
                first = SelectChoice("", "Choose one…")
            fill.choices = [first, *fill.choices]

    def gaps(self) -> dict[str, str]:
        """What the map leaves without a value, by the name of the field that fixes it (a
        "when the file has no such column" select, else ``required``), in words for the page."""
        column_map = self.column_map()
        gaps = self.overlaps()
        missing = missing_columns(column_map, learners_only=self.learners_only)
        gaps |= {
            MAPPING_FILLS[target][0]: MAPPING_FILLS[target][1]
            for target in missing
            if target in MAPPING_FILLS and not self.learners_only
        }
        if "fill_activity" in gaps and not self.has_activities:
            gaps["fill_activity"] = NO_ACTIVITY_YET
        columns = [
            target for target in missing if target not in MAPPING_FILLS or self.learners_only
        ]
        if columns:
            gaps["required"] = "Choose a column for " + ", ".join(columns) + " (required columns)."
        return gaps

    def overlaps(self) -> dict[str, str]:
        """The columns chosen for a template column that a Name (or full date of birth) column
        already fills, by field name, with the refusal in words."""
        refusals = {}
        for overlap in overlapping_targets(self.column_map()):
            filled = rules.FILLED_BY[overlap.filler]
            both = " and ".join(filled)
            refusals[f"column_{overlap.position}"] = (
                f"“{overlap.filler}” (column {column_letter(overlap.filler_position + 1)}, "
                f"“{quoted(self.header[overlap.filler_position], 60)}”) fills "
                f"{'both ' if len(filled) > 1 else ''}{both}: choose it, or {both}, not both."
            )
        return refusals

    def column_map(self) -> ColumnMap:
        """The choices as a ColumnMap for the file's header."""
        targets = {
            position: field.data
            for position, field in enumerate(self.column_fields)
            if field.data in rules.MAPPING_TARGETS
        }
        fixed = {}
        if not self.learners_only:
            if self.fill_action.data and rules.RECORD_ACTION not in targets.values():
                fixed[rules.RECORD_ACTION] = self.fill_action.data
            if self.fill_activity.data and rules.ACTIVITY_ID not in targets.values():
                fixed[rules.ACTIVITY_ID] = self.fill_activity.data
        return ColumnMap(self.header, targets, fixed)

    def validate(self, extra_validators=None) -> bool:
        """Each template column chosen for one column of the file at most, and never beside a
        column whose choice already fills it."""
        valid = super().validate(extra_validators)
        chosen: dict[str, int] = {}
        for position, field in enumerate(self.column_fields):
            if field.data and field.data in chosen:
                first = chosen[field.data]
                field.errors.append(
                    f"“{field.data}” is already chosen for column {column_letter(first + 1)} "
                    f"(“{self.header[first]}”); choose one column for it."
                )
                valid = False
            elif field.data:
                chosen[field.data] = position
        activities = {choice.value for choice in self.fill_activity.choices}
        if self.fill_activity.data and self.fill_activity.data not in activities:
            self.fill_activity.errors.append("Choose one of your practice activities.")
            valid = False
        refusals = self.overlaps() if duplicate_targets(self.column_map()) else self.gaps()
        for name, message in refusals.items():
            self[name].errors.append(message)
            valid = False
        return valid


class ParsStatesForm(Form):
    """Staff's check of the state boards using PARS data."""

    drawn_from = drawn_from_field()

    states = CheckboxListField(
        "State boards using PARS data",
        choices=[SelectChoice(code, f"{name} ({code})") for code, name in rules.STATES.items()],
    )
    source = TextAreaField(
        "Source",
        description="Where the list comes from, with its address, so the next check is quick.",
        filters=[single_line],
        validators=[
            DataRequired("Say where the list comes from."),
            Length(max=1000, message="Keep the source to 1000 characters or fewer."),
        ],
    )
    checked_on = DayField(
        "Last checked on", validators=[InputRequired("Enter the day the list was checked.")]
    )
    submit = SubmitField("Save the list")

    def validate_states(self, field) -> None:
        if not field.data:
            raise FieldError(
                "Tick the state boards that use PARS data: a list with none would flag every "
                "learner's state."
            )

    def validate_checked_on(self, field) -> None:
        # Guam's date, the first in the US to turn: a check made today anywhere there passes.
        if field.data is not None and field.data > (utcnow() + timedelta(hours=10)).date():
            raise FieldError("Enter the day the list was checked: it cannot be after today.")
