"""The audit log's filters, read from the query string."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import Length, Optional, ValidationError

from training.audit.services import AuditFilters
from training.forms import DayField, Form, PageField, clean_text


class AuditFilterForm(Form):
    """A GET form: it changes nothing, so it carries no CSRF token."""

    class Meta:
        csrf = False

    actor = SelectField("Person", default="")
    organization = StringField(
        "Organization",
        filters=[clean_text],
        validators=[Optional(), Length(max=200, message="Search for 200 characters or fewer.")],
    )
    action = SelectField("Action", default="")
    since = DayField("From", validators=[Optional()], format="%Y-%m-%d")
    until = DayField("To", validators=[Optional()], format="%Y-%m-%d")
    page = PageField()

    def set_choices(self, actors: list[str], actions: list[str]) -> None:
        """Offer the actors and actions found in the log."""
        self.actor.choices = [SelectChoice("", "Anyone")] + [SelectChoice(a, a) for a in actors]
        self.action.choices = [SelectChoice("", "Any action")] + [
            SelectChoice(a, a) for a in actions
        ]

    def validate_until(self, field):
        """The “To” day may not be before the “From” day."""
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError("The “To” day must be on or after the “From” day.")

    def filters(self, zone: ZoneInfo) -> AuditFilters:
        """The filters, with the days read in ``zone`` (the “To” day included)."""
        return AuditFilters(
            actor=self.actor.data or None,
            organization=self.organization.data or None,
            action=self.action.data or None,
            since=_start_of(self.since.data, zone) if self.since.data else None,
            before=(
                _start_of(self.until.data + timedelta(days=1), zone) if self.until.data else None
            ),
        )


def _start_of(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)
