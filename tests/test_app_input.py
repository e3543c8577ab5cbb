"""Odd input gets the field's own message or a 404, never an error page: missing fields, ids no
column can hold, numbers that are not numbers, values another organization holds, bodies that
are not forms; and the mechanisms every form and route share to make it so."""

import importlib
import io
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import last_program_day, manage_token, page_text, signup_form
from flask_wtf import FlaskForm
from jinja2 import DictLoader
from sqlalchemy import UniqueConstraint, select

# The staff-access walk's ``world`` fixture (sessions, signups, an entry, an account per role).
from test_sandbox_web_activities import activity_form
from test_staff_access import client_for
from test_staff_access import world as world
from werkzeug.routing import ValidationError
from wtforms import (
    DateField,
    DecimalField,
    FormField,
    IntegerField,
    SelectFieldBase,
    StringField,
    TelField,
)
from wtforms.fields.core import UnboundField
from wtforms.validators import NumberRange, Regexp

import training
from training import PROJECT_ROOT, forms
from training.booking.models import Signup, TrainingSession
from training.extensions import MAX_ID, db
from training.live import steps as live_steps
from training.live.models import LiveSession
from training.resources import services as resource_services
from training.resources.models import ResourcePage
from training.routing import IdConverter
from training.sandbox import downloads
from training.sandbox.forms import CREDITS_MESSAGE
from training.sandbox.models import SandboxActivity
from training.staff.models import StaffMember

TOO_BIG = (str(MAX_ID + 1), str(2**63), "9" * 20)


@pytest.fixture
def token(client, make_session) -> str:
    """The manage token of a confirmed booking with ACCME provider ID 0012345."""
    return manage_token(
        client.post("/signup", data=signup_form(make_session(), provider_id="0012345"))
    )


def one(app, model, **where):
    with app.app_context():
        row = db.session.scalars(select(model).filter_by(**where)).one()
        db.session.expunge(row)
        return row


# --- A field missing from the post --------------------------------------------------------------


def test_staff_notes_posted_without_the_notes_field_are_saved_blank(app, world):
    staff = client_for(app, "staff")
    notes = f"/staff/sessions/{world.assigned}/signups/{world.signup}/notes"
    staff.post(notes, data={"staff_notes": "Call first."})
    assert one(app, Signup, id=world.signup).staff_notes == "Call first."

    response = staff.post(notes, data={})

    assert response.status_code == 303
    assert "Saved the notes on Sierra Valley Medical Society." in page_text(
        staff.get(response.headers["Location"])
    )
    assert one(app, Signup, id=world.signup).staff_notes is None


def test_live_notes_posted_without_the_notes_field_are_saved_blank(app, world):
    staff = client_for(app, "staff")
    staff.post(f"/staff/live/{world.assigned}/notes", data={"notes": "Slow start."})
    assert one(app, LiveSession, session_id=world.assigned).notes == "Slow start."

    response = staff.post(f"/staff/live/{world.assigned}/notes", data={})

    assert response.status_code == 303
    assert "Notes saved." in page_text(staff.get(response.headers["Location"]))
    assert one(app, LiveSession, session_id=world.assigned).notes is None


def test_an_account_posted_without_a_name_field_is_named_by_its_email(app, world):
    admin = client_for(app, "admin")

    response = admin.post(
        "/staff/accounts",
        data={
            "email": "new@cmadocs.example.org",
            "role": "staff",
            "password": "a long enough password",
        },
    )

    assert response.status_code == 303
    assert one(app, StaffMember, email="new@cmadocs.example.org").name == "new@cmadocs.example.org"


def test_each_required_field_missing_from_a_post_gets_its_message(app, world):
    for role, path, message in (
        ("anonymous", "/signup", "Enter your organization's name."),
        ("anonymous", "/staff/sign-in", "Enter your email address."),
        ("staff", f"/staff/sessions/{world.assigned}/cancel", "Say why the session is cancelled"),
        ("staff", "/staff/sessions/new", "Enter the session's date."),
        ("staff", "/staff/challenges", "Enter the activity's 9-digit ACCME ID."),
        ("admin", "/staff/password", "Enter your current password."),
    ):
        response = client_for(app, role).post(path, data={})
        assert response.status_code == 200, path
        assert message in page_text(response)


# --- Ids no column can hold -----------------------------------------------------------------


def test_huge_session_id_in_path_is_not_found(app, world):
    admin = client_for(app, "admin")
    for method, path in (
        ("GET", "/staff/sessions/{n}"),
        ("GET", "/staff/sessions/{n}/edit"),
        ("POST", "/staff/sessions/{session}/signups/{n}/notes"),
        ("GET", "/staff/live/{n}/board.json"),
        ("POST", "/staff/live/{session}/check-in/{n}"),
        ("GET", "/staff/sandbox/{n}"),
        ("POST", "/staff/accounts/{n}"),
        ("POST", "/staff/challenges/entries/{n}/verify"),
        ("POST", "/staff/duplicates/{n}/{signup}/dismiss"),
    ):
        for number in TOO_BIG:
            url = path.format(n=number, session=world.assigned, signup=world.signup)
            response = admin.open(url, method=method)
            assert response.status_code == 404, url
            assert "Page not found" in page_text(response)


def test_huge_ids_in_a_manage_link_path_are_not_found(client, token):
    for path in ("/sandbox/attempts/{n}", "/sandbox/attempts/{n}/status", "/challenges/{n}/remove"):
        for number in TOO_BIG:
            url = f"/manage/{token}" + path.format(n=number)
            response = client.open(url, method="POST" if path.endswith("remove") else "GET")
            assert response.status_code == 404, url


@pytest.mark.parametrize("path", ["/staff/signups", "/staff/audit/"])
@pytest.mark.parametrize("asked", ["9" * 20, "2", "0", "-1", "abc", " "])
def test_any_page_number_in_a_search_shows_a_page_of_results(app, world, path, asked):
    response = client_for(app, "admin").get(path, query_string={"page": asked})

    assert response.status_code == 200
    assert "Page 1 of 1" not in page_text(response)  # one page of results: no pager
    assert "Please correct" not in page_text(response)
    assert "Pages start at 1" not in page_text(response)


def _findings_pages(client, token, rows: int):
    """Upload a file whose ``rows`` rows each get a finding; its results page's address."""
    lines = downloads.template_text(",").decode("utf-8-sig").splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("Record Action"))
    body = "\n".join(lines[: header + 1] + ["Add,,,,,,,,,,,,,,,,,,,"] * rows) + "\n"
    upload = client.post(
        f"/manage/{token}/sandbox/uploads",
        data={"learner_file": (io.BytesIO(body.encode()), "learners.csv")},
        content_type="multipart/form-data",
    )
    return upload.headers["Location"]


def test_findings_pages_past_the_last_show_the_last_and_others_the_first(client, token):
    results = _findings_pages(client, token, 120)
    last = page_text(client.get(results))
    pages = int(last.split("Page 1 of ")[1].split()[0])
    assert pages > 1

    for asked in (str(pages + 1), "9" * 21, "999999999999999999999"):
        response = client.get(results, query_string={"page": asked})
        assert response.status_code == 200
        assert f"Page {pages} of {pages}" in page_text(response), asked
    for asked in ("0", "-5", "abc", ""):
        response = client.get(results, query_string={"page": asked})
        assert f"Page 1 of {pages}" in page_text(response), asked


def test_a_huge_session_in_a_signup_link_offers_the_form_with_no_date_chosen(client, make_session):
    make_session()

    response = client.get("/signup", query_string={"session": "9" * 20})

    assert response.status_code == 200
    assert '<option selected value="0">Choose a date</option>' in response.get_data(as_text=True)


def test_a_huge_date_choice_on_the_signup_form_is_not_a_valid_choice(app, client, make_session):
    response = client.post("/signup", data=signup_form(make_session(), first_choice=str(2**63)))

    assert response.status_code == 200
    assert "Not a valid choice" in page_text(response)
    with app.app_context():
        assert db.session.scalars(select(Signup)).all() == []


@pytest.mark.parametrize(
    ("path", "data", "message"),
    [
        ("/staff/live/{session}/step", {"step_id": str(2**63)}, "Choose a step from the list."),
        (
            "/staff/sessions/{session}/signups/{signup}/move",
            {"session_id": str(2**63)},
            "That session cannot take them; choose one from the list.",
        ),
    ],
)
def test_a_huge_id_chosen_in_a_staff_form_is_refused_with_a_message(
    app, world, path, data, message
):
    staff = client_for(app, "staff")

    response = staff.post(path.format(session=world.assigned, signup=world.signup), data=data)

    assert response.status_code == 303
    assert message in page_text(staff.get(response.headers["Location"]))


def test_a_huge_step_marked_done_is_refused_with_a_message(app, client, token):
    with app.app_context():
        live_steps.seed_walkthrough(Path(PROJECT_ROOT) / "seed" / "walkthrough")
        db.session.commit()

    response = client.post(f"/manage/{token}/live/done", data={"step_id": str(2**63)})

    assert response.status_code == 303
    text = page_text(client.get(response.headers["Location"]))
    assert "That step is no longer on screen; here is the current one." in text


# --- Dates at the ends of the calendar -------------------------------------------------------


def test_a_date_at_the_end_of_the_calendar_is_refused_with_a_message(app, world):
    admin = client_for(app, "admin")
    message = "Enter a date from 1900 to 2199, for example 2026-12-01."

    audit = admin.get("/staff/audit/", query_string={"until": "9999-12-31"})
    session = admin.post(
        "/staff/sessions/new",
        data={"day": "9999-12-31", "starts_at": "22:00", "ends_at": "23:00", "seats": "5"},
    )

    assert audit.status_code == 400
    assert message in page_text(audit)
    assert session.status_code == 200
    assert message in page_text(session)
    with app.app_context():
        assert len(db.session.scalars(select(TrainingSession)).all()) == 2  # the world's own


# --- Decimal numbers ---------------------------------------------------------------------------


def test_nan_credits_are_refused_with_a_message(app, client, token):
    data = activity_form()
    for field in ("max_cme_credits", "board_ABIM-points"):
        for value in ("NaN", "sNaN", "Infinity", "-Infinity", "1e999", "1" * 40):
            response = client.post(
                f"/manage/{token}/sandbox/activities/new", data=data | {field: value}
            )
            assert response.status_code == 422, (field, value)
            assert CREDITS_MESSAGE in page_text(response)
            assert f'value="{value}"' in response.get_data(as_text=True)  # kept as typed
    with app.app_context():
        assert db.session.scalars(select(SandboxActivity)).all() == []


# --- Values another record holds ---------------------------------------------------------------


@pytest.fixture
def other_token(client, make_session) -> str:
    """The manage token of another organization's booking, with no provider ID."""
    return manage_token(
        client.post(
            "/signup",
            data=signup_form(
                make_session(),
                organization_name="Coast Range Hospital",
                contact_email="cy@coast.example.org",
            ),
        )
    )


def save_contacts(client, token: str, provider_id: str):
    return client.post(
        f"/manage/{token}/contacts",
        data={
            "provider_id": provider_id,
            "contact_name": "Cy Okafor",
            "contact_email": "cy@coast.example.org",
            "attendee_emails": "",
        },
    )


def test_manage_page_provider_id_held_by_another_org_keeps_input(app, client, token, other_token):
    response = save_contacts(client, other_token, "001-2345")

    assert response.status_code == 409
    text = page_text(response)
    assert "Another organization has signed up with this ACCME provider ID." in text
    html = response.get_data(as_text=True)
    assert 'value="001-2345"' in html
    assert 'value="Cy Okafor"' in html
    coast = one(app, Signup, organization_name="Coast Range Hospital")
    assert (coast.provider_id, coast.contact_name) == (None, "Ana Reyes")


def test_a_page_first_saved_by_two_people_at_once_keeps_the_typed_text(app, world, monkeypatch):
    staff = client_for(app, "staff")
    with app.app_context():
        db.session.add(ResourcePage(slug="faq", title="Their FAQ", body="Their text."))
        db.session.commit()
    # The other person's save committed after this request looked for an edited page.
    monkeypatch.setattr(resource_services, "edited_page", lambda slug: None)

    response = staff.post("/staff/resources/faq", data={"title": "My FAQ", "body": "My text."})

    assert response.status_code == 200
    assert "Someone else saved this page at the same moment." in page_text(response)
    assert "My text." in response.get_data(as_text=True)
    assert one(app, ResourcePage, slug="faq").title == "Their FAQ"


# Every unique constraint and index, and what a person who runs into it is told.
UNIQUE_CONSTRAINTS = {
    "uq_signups_active_provider": "test_manage_page_provider_id_held_by_another_org_keeps_input; "
    "on the signup form the same ID is the same organization (test_booking_signup)",
    "uq_signups_active_organization": "the already-signed-up page (test_booking_signup)",
    "uq_signups_submission_key_hash": "the same form sent twice shows its booking "
    "(test_booking_signup)",
    "uq_staff_members_email": "test_a_duplicate_account_email_is_refused_with_a_message",
    "uq_resource_pages_slug": "test_a_page_first_saved_by_two_people_at_once_keeps_the_typed_text",
    "uq_sandbox_activities_signup_activity": "test_the_same_activity_id_twice_is_refused_"
    "with_a_message",
    "uq_duplicate_reviews_pair": "test_a_pair_cannot_be_decided_twice",
    "uq_attendees_signup_email": "addresses are de-duplicated before saving; a concurrent save "
    "says the contacts changed meanwhile",
    "uq_signup_choices_signup_session": "the form refuses the same date twice "
    "(test_booking_waitlist)",
    "uq_sandbox_activity_boards_board": "one sub-form per board: a board cannot be sent twice",
    "uq_sandbox_column_maps_signup_header": "a mapping confirmed twice at once: the one saved "
    "first is read back and updated",
    "uq_live_attendances_session_signup": "made on first use; a concurrent insert is read back",
    "uq_sandbox_pars_files_attempt_kind": "a PARS-ready file asked for twice at once: the second "
    "request's row is dropped and the page shows the first's progress",
    "uq_challenge_drawings_first": "the drawing that stands is shown (test_a_drawing_run_again_"
    "shows_the_one_that_stands_unless_an_admin_gives_a_reason)",
    # No person chooses these values:
    "uq_programs_slug": "programs come from seed files",
    "uq_walkthrough_steps_slug": "steps come from seed files",
    "uq_walkthrough_steps_position": "steps come from seed files",
    "uq_manage_links_token_hash": "random 256-bit tokens",
    "uq_calendar_feeds_token_hash": "random 256-bit tokens",
    "uq_staff_sessions_token_hash": "random 256-bit tokens",
    "uq_form_submissions_key_hash": "a repeat is sent where the first answer went "
    "(test_submissions_repeats)",
    "uq_outbox_messages_message_id": "generated Message-IDs",
    "uq_outbox_recipients_message_address": "written by queue_email, one row per mailbox",
    "uq_reminders_once": "written by the reminder job",
    "uq_challenge_reminders_signup_challenge": "written by the reminder job",
    "uq_challenge_reminder_rounds_program_challenge": "written by the reminder job",
}


def test_every_unique_constraint_is_accounted_for(app):
    names = set()
    for table in db.metadata.tables.values():
        names |= {index.name for index in table.indexes if index.unique}
        names |= {
            constraint.name
            for constraint in table.constraints
            if isinstance(constraint, UniqueConstraint)
        }
    assert names - UNIQUE_CONSTRAINTS.keys() == set(), "say what a person who hits these is told"
    assert UNIQUE_CONSTRAINTS.keys() - names == set(), "these constraints no longer exist"


# --- Bodies that are not what a browser sends ---------------------------------------------------


def test_a_json_body_is_read_as_an_empty_form(client):
    response = client.post(
        "/staff/sign-in", json={"email": "ana@example.org", "password": "long enough pw"}
    )

    assert response.status_code == 200
    assert "Email: Enter your email address." in page_text(response)


def test_a_json_signup_has_no_submission_key_and_books_nothing(app, client, make_session):
    response = client.post("/signup", json=signup_form(make_session()))

    assert response.status_code == 400
    assert "This form is out of date" in page_text(response)
    with app.app_context():
        assert db.session.scalars(select(Signup)).all() == []


@pytest.mark.parametrize("document", ["[1, 2]", '"text"', "null", "12", "{not json"])
def test_a_json_body_that_is_not_an_object_is_an_empty_form(client, document):
    response = client.post("/staff/sign-in", data=document, content_type="application/json")

    assert response.status_code == 200
    assert "Password: Enter your password." in page_text(response)


def test_a_file_sent_in_a_text_field_is_not_read_as_text(client, token):
    response = client.post(
        f"/manage/{token}/contacts",
        data={
            "contact_name": (io.BytesIO(b"Ana"), "name.txt"),
            "contact_email": "ana@sierravalley.example.org",
        },
        content_type="multipart/form-data",
    )

    assert response.status_code == 422
    assert "Enter the name of the person we should contact." in page_text(response)


def test_text_sent_in_the_file_field_asks_for_a_file(client, token):
    response = client.post(f"/manage/{token}/sandbox/uploads", data={"learner_file": "not a file"})

    assert response.status_code == 422
    assert "Choose your learner file to upload." in page_text(response)


# --- Error pages and redirects -----------------------------------------------------------------


def test_an_error_page_that_cannot_be_drawn_still_answers_with_its_status(app, client):
    app.jinja_env.loader = DictLoader({})  # every template is gone

    response = client.get("/no-such-page")

    assert response.status_code == 404
    assert "Page not found" in page_text(response)


@pytest.mark.parametrize("target", ["/staff/sessions\r\nSet-Cookie: a=b", "/\\evil.example.org"])
def test_a_next_address_that_could_leave_the_site_goes_to_the_console_home(app, world, target):
    response = app.test_client().post(
        "/staff/sign-in",
        query_string={"next": target},
        data={"email": "staff@cmadocs.example.org", "password": "correct horse battery staple"},
    )

    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/"


# --- The shared mechanisms ----------------------------------------------------------------------


def package_forms() -> list[type[FlaskForm]]:
    """Every form class the package defines (all its modules imported)."""
    for module in pkgutil.walk_packages(training.__path__, "training."):
        importlib.import_module(module.name)
    return [form for form in _subclasses(FlaskForm) if form.__module__.startswith("training.")]


def _subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _unbound_fields(form_class: type) -> Iterator[tuple[str, UnboundField]]:
    for name in dir(form_class):
        value = getattr(form_class, name)
        if not isinstance(value, UnboundField):
            continue
        if issubclass(value.field_class, FormField):
            yield from _unbound_fields(value.args[0])
        else:
            yield f"{form_class.__qualname__}.{name}", value


def test_every_form_reads_posts_through_the_shared_base_form():
    strays = [form.__qualname__ for form in package_forms() if not issubclass(form, forms.Form)]
    assert strays == []


def test_every_text_field_runs_a_shared_text_filter():
    unfiltered = [
        name
        for form in package_forms()
        for name, field in _unbound_fields(form)
        if issubclass(field.field_class, StringField)
        and not set(field.kwargs.get("filters", ())) & set(forms.TEXT_FILTERS)
    ]
    assert unfiltered == []


def test_every_date_field_keeps_to_the_calendar_the_code_can_count_in():
    unbounded = [
        name
        for form in package_forms()
        for name, field in _unbound_fields(form)
        if issubclass(field.field_class, DateField)
        and not issubclass(field.field_class, forms.DayField)
    ]
    assert unbounded == []


def test_every_number_field_holds_only_what_the_database_can():
    unbounded = [
        name
        for form in package_forms()
        for name, field in _unbound_fields(form)
        if (
            issubclass(field.field_class, IntegerField)
            and not issubclass(field.field_class, forms.WholeNumberField)
        )
        or (
            issubclass(field.field_class, DecimalField)
            and not issubclass(field.field_class, forms.FiniteDecimalField)
        )
        or (issubclass(field.field_class, SelectFieldBase) and field.kwargs.get("coerce") is int)
    ]
    assert unbounded == []


def test_every_number_range_names_both_its_ends():
    # A refused number says what to enter instead: "from 1 up" for 99999999 leaves the person
    # guessing the upper limit.
    one_ended = [
        f"{name}: {validator.message}"
        for form in package_forms()
        for name, field in _unbound_fields(form)
        for validator in (
            *field.kwargs.get("validators", ()),
            *(field.args[1] if len(field.args) > 1 else ()),
        )
        if isinstance(validator, NumberRange)
        and validator.min is not None
        and validator.max is not None
        and not (
            re.search(rf"\b{validator.min:,}\b|\b{validator.min}\b", validator.message or "")
            and re.search(
                rf"\b{validator.max:,}(?!\d)|\b{validator.max}(?!\d)", validator.message or ""
            )
        )
    ]
    assert one_ended == []


def test_every_number_in_a_path_is_a_bounded_id(app):
    rules = [rule.rule for rule in app.url_map.iter_rules()]
    assert [rule for rule in rules if re.search(r"<(int|float)\b", rule)] == []
    assert app.url_map.converters["id"] is IdConverter
    assert any("<id:" in rule for rule in rules)


def test_the_largest_id_is_still_an_id_and_one_more_is_not(app):
    converter = IdConverter(app.url_map)
    assert converter.to_python(str(MAX_ID)) == MAX_ID
    for outside in ("0", str(MAX_ID + 1), "1" * 5000):
        with pytest.raises(ValidationError):
            converter.to_python(outside)


def test_text_filters_take_a_missing_field():
    assert forms.clean_text(None) == forms.single_line(None) == forms.as_typed(None) == ""
    assert forms.clean_text("  a\x00b\r\nc \t") == "ab\r\nc"
    assert forms.single_line(" a \r\n b\x07 ") == "a b"
    assert forms.as_typed("  pass word ") == "  pass word "


# --- Digits of any script, plain numbers, phone numbers, direction controls --------------------

ARABIC_INDIC_0012345 = "٠٠١٢٣٤٥"
FULLWIDTH_0012345 = "００１２３４５"


def test_digits_of_any_script_are_read_as_the_same_ascii_digits():
    assert forms.identifier(ARABIC_INDIC_0012345) == "0012345"
    assert forms.identifier(FULLWIDTH_0012345) == "0012345"
    assert forms.identifier(" ２０１２３４５６７ ") == "201234567"
    assert forms.identifier("(916) ５５５-0100") == "(916) 555-0100"


@pytest.mark.parametrize("typed", [ARABIC_INDIC_0012345, FULLWIDTH_0012345, "００１-２３４５"])
def test_a_provider_id_in_other_digits_is_the_id_another_org_holds(
    app, client, token, other_token, typed
):
    response = save_contacts(client, other_token, typed)

    assert response.status_code == 409
    assert "Another organization has signed up with this ACCME provider ID." in page_text(response)
    assert one(app, Signup, organization_name="Coast Range Hospital").provider_id is None


def test_a_signup_with_a_provider_id_in_other_digits_is_the_organization_already_signed_up(
    app, client, make_session, token
):
    response = client.post(
        "/signup",
        data=signup_form(
            make_session(),
            organization_name="Coast Range Hospital",
            contact_email="cy@coast.example.org",
            provider_id=ARABIC_INDIC_0012345,
        ),
    )

    assert response.status_code == 409
    with app.app_context():
        assert db.session.scalars(select(Signup.provider_id)).all() == ["0012345"]


def test_an_activity_id_in_fullwidth_digits_is_saved_in_ascii(app, client, token):
    response = client.post(
        f"/manage/{token}/sandbox/activities/new",
        data=activity_form(activity_id="２０１２３４５６７", max_cme_credits="１.５"),
    )

    assert response.status_code == 303
    activity = one(app, SandboxActivity, activity_id="201234567")
    assert str(activity.max_cme_credits) == "1.50"


@pytest.mark.parametrize("typed", ["1_000", "1e2", "1.2.3", "+-1", "1,5", "0x10", "٣ ٣"])
def test_a_decimal_takes_only_digits_a_sign_and_one_point(app, client, token, typed):
    response = client.post(
        f"/manage/{token}/sandbox/activities/new", data=activity_form(max_cme_credits=typed)
    )

    assert response.status_code == 422
    assert CREDITS_MESSAGE in page_text(response)
    assert f'value="{typed}"' in response.get_data(as_text=True)  # kept as typed
    with app.app_context():
        assert db.session.scalars(select(SandboxActivity)).all() == []


def new_session_with_seats(app, seats: str):
    # A day ahead inside the program's dates, whenever the test runs.
    return client_for(app, "staff").post(
        "/staff/sessions/new",
        data={
            "day": last_program_day(app),
            "starts_at": "08:00",
            "ends_at": "09:00",
            "seats": seats,
        },
    )


@pytest.mark.parametrize(("typed", "seats"), [("٣", 3), ("１２", 12), ("+7", 7)])
def test_a_whole_number_in_any_scripts_digits_is_that_number(app, world, typed, seats):
    response = new_session_with_seats(app, typed)

    assert response.status_code == 303
    assert one(app, TrainingSession, seats=seats).seats == seats


@pytest.mark.parametrize("typed", ["1_000", "12.0", "1e3", "--4"])
def test_a_whole_number_takes_only_digits_and_a_sign(app, world, typed):
    response = new_session_with_seats(app, typed)

    assert response.status_code == 200
    assert "Enter a whole number in digits, for example 12." in page_text(response)
    with app.app_context():
        assert len(db.session.scalars(select(TrainingSession)).all()) == 2  # the world's own


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("(916) 555-0100 x12", "(916) 555-0100 x12"),
        ("+1 916.555.0100 ext. 7", "+1 916.555.0100 ext. 7"),
        ("９１６ ５５５ ０１００", "916 555 0100"),
    ],
)
def test_a_phone_number_of_digits_and_punctuation_is_saved(app, client, make_session, typed, kept):
    response = client.post("/signup", data=signup_form(make_session(), contact_phone=typed))

    assert response.status_code == 303
    assert one(app, Signup, organization_name="Sierra Valley Medical Society").contact_phone == kept


@pytest.mark.parametrize("typed", ["call me", "916-555-0100 or email", "916/555/0100 #"])
def test_a_phone_number_with_other_text_is_refused_saying_what_is_allowed(
    app, client, make_session, typed
):
    response = client.post("/signup", data=signup_form(make_session(), contact_phone=typed))

    assert response.status_code == 200
    assert forms.PHONE_MESSAGE in page_text(response)
    with app.app_context():
        assert db.session.scalars(select(Signup)).all() == []


def test_direction_overrides_and_isolates_are_dropped_from_typed_text(app, client, make_session):
    spoofed = "Sierra \u202eyellaV\u202c \u2066Medical\u2069 Society"
    response = client.post(
        "/signup",
        data=signup_form(make_session(), organization_name=spoofed, contact_name="Ana\u202dReyes"),
    )

    assert response.status_code == 303
    signup = one(app, Signup, contact_name="AnaReyes")
    assert signup.organization_name == "Sierra yellaV Medical Society"
    for control in ("\u202a", "\u202e", "\u2066", "\u2069"):
        assert forms.single_line(f"a{control}b") == forms.clean_text(f"a{control}b") == "ab"
    assert forms.single_line("\u200fשלום\u200e") == "\u200fשלום\u200e"  # marks, not overrides


def test_no_field_pattern_takes_digits_of_other_scripts():
    """A pattern's \\d also matches Arabic-Indic or fullwidth digits, which then reach the
    database as different text: patterns say [0-9], and the field's ``identifier`` filter
    reads every script's digits as ASCII first."""
    loose = [
        name
        for form in package_forms()
        for name, field in _unbound_fields(form)
        for validator in field.kwargs.get(
            "validators", field.args[1] if len(field.args) > 1 else ()
        )
        if isinstance(validator, Regexp) and "\\d" in validator.regex.pattern
    ]
    assert loose == []


def test_every_phone_field_checks_the_number_by_the_shared_rule():
    unchecked = [
        name
        for form in package_forms()
        for name, field in _unbound_fields(form)
        if issubclass(field.field_class, TelField)
        and (
            forms.phone_number not in field.kwargs.get("validators", ())
            or forms.identifier not in field.kwargs.get("filters", ())
        )
    ]
    assert unchecked == []
