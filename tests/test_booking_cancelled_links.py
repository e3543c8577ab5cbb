"""A cancelled booking's manage link only shows it: every route that takes a manage token,
found in the app's URL map, refuses a change and draws no form."""

import io
import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from conftest import manage_token, page_text, signup_form
from sqlalchemy import select
from test_sandbox_web_activities import activity_form
from werkzeug.routing import Rule
from werkzeug.routing.converters import AnyConverter

from training.booking.models import Program
from training.challenges.models import ChallengeEntry
from training.extensions import db, utcnow
from training.sandbox import downloads
from training.sandbox.models import SandboxActivity, SandboxAttempt

# The challenge entry is made "today": the frozen clock's date in the program's time zone.
pytestmark = pytest.mark.usefixtures("frozen_clock")

REFUSAL = (
    "Sierra Valley Medical Society's booking was cancelled, so its manage link can show it but "
    "no longer change anything: nothing was saved."
)
A_POST_FORM = re.compile(r"<form\b[^>]*\bmethod=\"post\"", re.IGNORECASE)


@dataclass(frozen=True)
class CancelledBooking:
    """A booking that used its sandbox and challenge page, then was cancelled."""

    token: str
    other_session: int
    today: date  # in the program's time zone
    path_values: dict[str, object]


def learner_file():
    return (io.BytesIO(downloads.template_text(",")), "learners.csv")


# What each POST route taking a manage token would be sent from its page: forms that, from a
# booking that is not cancelled, change something. A new route must be added here.
POSTED_FORMS = {
    "booking.change_date": lambda booking: {"session_id": booking.other_session},
    "booking.join_waitlist": lambda booking: {"first_choice": booking.other_session},
    "booking.update_contacts": lambda _: {
        "contact_name": "Dana Ortiz",
        "contact_email": "dana@sierravalley.example.org",
        "attendee_emails": "new@sierravalley.example.org",
    },
    "booking.cancel": lambda _: {"confirm": "y"},
    "sandbox.add_activity": lambda _: activity_form(activity_id="209876543"),
    "sandbox.add_example_activity": lambda _: {},
    "sandbox.remove_activity": lambda _: {"confirm": "y", "asked": "1"},
    "sandbox.upload": lambda _: {"learner_file": learner_file(), "mode": "full"},
    "sandbox.map_columns": lambda _: {"column_0": "", "preview": ""},
    "sandbox.prepare_pars_files": lambda _: {},
    "sandbox.delete_all": lambda _: {"confirm": "y", "include_activities": "y"},
    "challenges.organization": lambda booking: {
        "activity_id": "209876543",
        "entered_on": booking.today.isoformat(),
        "learners": "7",
    },
    "challenges.remove_own_entry": lambda _: {},
    "live.request_help": lambda _: {},
    "live.withdraw_help": lambda _: {},
    "live.step_done": lambda _: {"step_id": "1"},
}


@pytest.fixture
def cancelled(app, client, make_session) -> CancelledBooking:
    session_id, other_session = make_session(), make_session(starts_in=timedelta(days=6))
    token = manage_token(client.post("/signup", data=signup_form(session_id)))
    assert client.post(f"/manage/{token}/sandbox/activities/example").status_code == 303
    client.post(
        f"/manage/{token}/sandbox/uploads",
        data={"learner_file": learner_file()},
        content_type="multipart/form-data",
    )
    with app.app_context():
        today = db.session.scalars(select(Program)).one().today(utcnow())
    client.post(
        f"/manage/{token}/challenges",
        data={"activity_id": "201234567", "entered_on": today.isoformat(), "learners": 5},
    )
    assert client.post(f"/manage/{token}/cancel", data={"confirm": "y"}).status_code == 303
    with app.app_context():
        path_values = {
            "token": token,
            "activity_pk": db.session.scalars(select(SandboxActivity.id)).one(),
            "attempt_id": db.session.scalars(select(SandboxAttempt.id)).one(),
            "entry_id": db.session.scalars(select(ChallengeEntry.id)).one(),
        }
    return CancelledBooking(token, other_session, today, path_values)


def manage_token_rules(app, method: str) -> list[Rule]:
    """Every route under /manage/<token> that answers ``method``."""
    return sorted(
        (
            rule
            for rule in app.url_map.iter_rules()
            if rule.rule.startswith("/manage/<token>") and method in (rule.methods or ())
        ),
        key=lambda rule: rule.rule,
    )


def path_for(rule: Rule, booking: CancelledBooking) -> str:
    """``rule``'s path for the cancelled booking's own records (the first of an ``any``)."""
    values = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        values[name] = (
            sorted(converter.items)[0]
            if isinstance(converter, AnyConverter)
            else booking.path_values[name]
        )
    return rule.build(values)[1]


def everything(app) -> dict[str, list[str]]:
    """Every row of every table, to compare before and after."""
    with app.app_context():
        return {
            table.name: sorted(repr(tuple(row)) for row in db.session.execute(table.select()))
            for table in db.metadata.sorted_tables
        }


def test_every_post_route_with_a_manage_token_refuses_a_cancelled_booking_and_changes_nothing(
    app, client, cancelled
):
    rules = manage_token_rules(app, "POST")
    assert {rule.endpoint for rule in rules} == set(POSTED_FORMS), "POSTED_FORMS is out of date"
    before = everything(app)

    answers = {}
    for rule in rules:
        response = client.post(
            path_for(rule, cancelled),
            data=POSTED_FORMS[rule.endpoint](cancelled),
            content_type="multipart/form-data",
        )
        text = page_text(response)
        answers[rule.endpoint] = (
            response.status_code,
            "This booking is cancelled" in text and REFUSAL in text,
        )

    assert answers == {rule.endpoint: (409, True) for rule in rules}
    assert everything(app) == before


def test_the_refusal_leads_back_to_the_cancelled_booking(client, cancelled):
    response = client.post(f"/manage/{cancelled.token}/sandbox/activities/example")
    assert f'href="/manage/{cancelled.token}"' in response.get_data(as_text=True)
    assert "See the cancelled booking" in page_text(response)


def test_every_page_of_a_cancelled_booking_says_so_and_offers_no_form(app, client, cancelled):
    shown = {}
    for rule in manage_token_rules(app, "GET"):
        response = client.get(path_for(rule, cancelled))
        if response.status_code != 200 or response.mimetype != "text/html":
            continue  # downloads, JSON for polling, and the invite a cancelled booking lacks
        markup = response.get_data(as_text=True)
        shown[rule.endpoint] = (
            "This booking is cancelled" in page_text(response),
            A_POST_FORM.search(markup) is not None,
        )

    assert shown == dict.fromkeys(shown, (True, False))
    assert {
        "booking.manage",
        "booking.confirmation",
        "booking.cancel",
        "sandbox.home",
        "sandbox.add_activity",
        "sandbox.attempt",
        "sandbox.delete_all",
        "challenges.organization",
        "live.follow",
    } <= set(shown)


def test_the_cancel_page_of_a_cancelled_booking_says_it_is_cancelled(client, cancelled):
    response = client.get(f"/manage/{cancelled.token}/cancel")
    text = page_text(response)
    assert "This booking is cancelled" in text
    assert "Cancel your booking?" not in text
    assert "<button" not in response.get_data(as_text=True)


def test_a_cancelled_booking_still_shows_what_it_holds(client, cancelled):
    sandbox = page_text(client.get(f"/manage/{cancelled.token}/sandbox"))
    challenges = page_text(client.get(f"/manage/{cancelled.token}/challenges"))
    assert "200012345" in sandbox  # the example activity
    assert "learners.csv" in sandbox  # the upload
    assert "201234567" in challenges


def test_the_invite_of_a_cancelled_booking_is_gone_with_a_page_that_says_why(client, cancelled):
    response = client.get(f"/manage/{cancelled.token}/invite.ics")

    assert response.status_code == 410
    assert response.mimetype == "text/html"
    text = page_text(response)
    assert "This booking is cancelled" in text
    assert "so it has no calendar invite any more" in text
    assert "Page not found" not in text
    assert f'href="/manage/{cancelled.token}"' in response.get_data(as_text=True)
