"""A provider's own spreadsheet: the results page proposes a column mapping, previews the rows,
takes corrections, judges the file through it and remembers it for the organization."""

import csv
import io
import re
import uuid
from datetime import timedelta

import pytest
from conftest import THREE_DAYS_AGO, manage_token, page_text, signup_form
from openpyxl import Workbook
from sqlalchemy import delete, func, select

from training.extensions import db
from training.sandbox import rules, services
from training.sandbox.models import (
    SandboxAttempt,
    SandboxColumnMap,
    SandboxRecord,
    SandboxUpload,
)
from training.staff.services import create_staff

# Completion dates are counted back from now, and judged against the program's today.
# Learners completed the activity three days before the frozen clock's date.
pytestmark = pytest.mark.usefixtures("frozen_clock")

ACTIVITY = "200012345"  # the seeded example activity
# An LMS export: its own headers, one Name column, full birth dates, no action or activity.
LMS_HEADER = ["Learner", "DOB", "License #", "State", "Date Completed", "Credits", "Email"]


@pytest.fixture
def token(token, example_activity):
    """The manage token of a confirmed booking whose sandbox holds the example activity."""
    return token


def licensees(count: int, skip: int = 0):
    """Licensees of the fictional register in states whose boards take PARS data."""
    entries = services.read_register_entries()
    chosen = [
        e for e in entries if e.license_number and not e.board and e.state in rules.PARS_STATES
    ]
    return chosen[skip : skip + count]


def lms_export(entries, *, birth_year: int = 1978) -> bytes:
    """The export as Excel saves it to CSV: "Last, First" names, ISO birth dates."""
    done = THREE_DAYS_AGO
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(LMS_HEADER)
    for entry in entries:
        writer.writerow(
            [
                f"{entry.last_name}, {entry.first_name}",
                f"{birth_year}-{entry.birth_month:02d}-{entry.birth_day:02d}",
                entry.license_number,
                entry.state,
                f"{done.month}/{done.day}/{done.year}",
                "1",
                f"{entry.first_name.lower()}@clinic.example.org",
            ]
        )
    return ("\ufeff" + buffer.getvalue()).encode()


def upload(client, token, data: bytes, filename: str = "lms-export.csv", mode: str = "full"):
    return client.post(
        f"/manage/{token}/sandbox/uploads",
        data={"learner_file": (io.BytesIO(data), filename), "mode": mode},
        content_type="multipart/form-data",
    )


def selected(page, position: int) -> str:
    """The option a column's select shows as chosen."""
    markup = page.get_data(as_text=True)
    select_html = re.search(rf'<select[^>]*id="column_{position}".*?</select>', markup, re.S)
    assert select_html, position
    chosen = re.search(r'<option selected value="([^"]*)"', select_html.group(0))
    return chosen.group(1) if chosen else ""


def mapping_form(**changes) -> dict:
    """The mapping as proposed for the LMS export, with Add and the activity for every row."""
    data = {
        "column_0": rules.NAME_COLUMN,
        "column_1": rules.BIRTH_DATE_COLUMN,
        "column_2": rules.LICENSE_OR_NPI,
        "column_3": rules.LICENSING_STATE,
        "column_4": rules.COMPLETION_DATE,
        "column_5": rules.CME_CREDITS,
        "column_6": "",
        "fill_action": "Add",
        "fill_activity": ACTIVITY,
    }
    data.update(changes)
    return data


def test_the_results_page_proposes_a_mapping_and_previews_the_rows(client, token):
    entries = licensees(3)
    response = upload(client, token, lms_export(entries))
    page = client.get(response.headers["Location"])
    text = page_text(page)

    assert "HEADER_MISMATCH" in text
    assert "Match your columns to the template" in text
    proposed = [selected(page, position) for position in range(len(LMS_HEADER))]
    assert proposed == [
        rules.NAME_COLUMN,  # "Learner": a usual name for one Name column
        rules.BIRTH_DATE_COLUMN,  # "DOB" holds full dates: the year is dropped
        rules.LICENSE_OR_NPI,
        rules.LICENSING_STATE,
        rules.COMPLETION_DATE,
        rules.CME_CREDITS,
        "",  # Email: not used
    ]
    assert 'for="column_1"' in page.get_data(as_text=True)  # every select has its label
    assert "Column B, headed “DOB”" in text
    # The preview splits "Last, First" and shows month and day only.
    first = entries[0]
    birthday = f"{first.birth_month:02d}/{first.birth_day:02d}"
    assert f"{first.first_name} {first.last_name} {birthday}" in text
    assert "1978" not in text.split("The first rows as they will be read")[1]


def test_required_columns_left_unmapped_are_named(client, token):
    attempt_url = upload(client, token, lms_export(licensees(2))).headers["Location"]
    response = client.post(
        f"{attempt_url}/columns", data=mapping_form(fill_action="", fill_activity="", column_4="")
    )
    assert response.status_code == 422
    text = page_text(response)
    assert "Choose a column for Completion Date (required columns)." in text
    # The columns a select can fill for every row are asked for at that select.
    assert "Choose Add for every row, or a column that holds the Record Action." in text
    assert "Choose which of your activities these rows are for" in text


def test_one_template_column_chosen_twice_is_refused_on_the_second(client, token):
    attempt_url = upload(client, token, lms_export(licensees(2))).headers["Location"]
    response = client.post(
        f"{attempt_url}/columns", data=mapping_form(column_6=rules.LICENSE_OR_NPI)
    )
    assert response.status_code == 422
    assert "“Licensing ID or NPI” is already chosen for column C (“License #”)" in page_text(
        response
    )


def test_the_preview_button_shows_the_rows_through_the_corrected_choices(client, token):
    entries = licensees(2)
    attempt_url = upload(client, token, lms_export(entries)).headers["Location"]
    response = client.post(
        f"{attempt_url}/columns",
        data=mapping_form(column_6=rules.BOARD_ID, preview="Show the preview with these columns"),
        follow_redirects=True,
    )
    assert response.status_code == 200
    preview = page_text(response).split("The first rows as they will be read")[1]
    assert "Certifying Board ID" in preview and "@clinic.example.org" in preview


def show_preview(client, attempt_url: str, **changes):
    """Press "Show the preview" with the proposed mapping and ``changes``."""
    return client.post(
        f"{attempt_url}/columns",
        data=mapping_form(**changes, preview="Show the preview with these columns"),
    )


def preview_of(page) -> str:
    return page_text(page).split("The first rows as they will be read")[1]


def test_the_preview_post_redirects_to_a_page_showing_the_preview(client, token):
    attempt_url = upload(client, token, lms_export(licensees(2))).headers["Location"]
    response = show_preview(client, attempt_url, column_6=rules.BOARD_ID)
    assert response.status_code == 303
    location = response.headers["Location"]
    assert re.fullmatch(re.escape(attempt_url) + r"\?mapping=\d+#preview", location)

    page = client.get(location)
    assert page.status_code == 200
    assert "Certifying Board ID" in preview_of(page) and "@clinic.example.org" in preview_of(page)
    assert selected(page, 6) == rules.BOARD_ID  # what was chosen, not what was proposed
    assert 'id="preview" data-focus-on-load' in page.get_data(as_text=True)


def test_reloading_the_preview_page_shows_the_same_preview_again(client, token):
    attempt_url = upload(client, token, lms_export(licensees(2))).headers["Location"]
    location = show_preview(client, attempt_url, column_6=rules.BOARD_ID).headers["Location"]
    first, again = client.get(location), client.get(location)
    assert again.status_code == 200
    assert preview_of(again) == preview_of(first)
    assert selected(again, 6) == rules.BOARD_ID


def test_confirming_from_the_preview_page_checks_the_file_once(app, client, token):
    attempt_url = upload(client, token, lms_export(licensees(2))).headers["Location"]
    client.get(show_preview(client, attempt_url).headers["Location"])
    confirm = mapping_form(submit="Check the file with these columns")
    confirm["submission_key"] = uuid.uuid4().hex  # one drawn form: the same key both times
    first = client.post(f"{attempt_url}/columns", data=confirm)
    twice = client.post(f"{attempt_url}/columns", data=confirm)  # a double click
    assert first.status_code == twice.status_code == 303
    assert twice.headers["Location"] == first.headers["Location"] != attempt_url
    assert "Both rows were accepted" in page_text(client.get(first.headers["Location"]))
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SandboxAttempt)) == 2


def test_a_preview_is_shown_only_for_its_own_upload_and_organization(client, token, make_session):
    attempt_url = upload(client, token, lms_export(licensees(2))).headers["Location"]
    location = show_preview(client, attempt_url).headers["Location"]
    draft = location.split("mapping=")[1].split("#")[0]
    other_upload = upload(client, token, lms_export(licensees(2))).headers["Location"]
    other_token = manage_token(
        client.post(
            "/signup",
            data=signup_form(
                make_session(), organization_name="Coast Clinic", contact_email="al@coast.org"
            ),
        )
    )
    client.post(f"/manage/{other_token}/sandbox/activities/example")
    theirs = upload(client, other_token, lms_export(licensees(2))).headers["Location"]

    for address in (f"{other_upload}?mapping={draft}", f"{theirs}?mapping={draft}"):
        page = client.get(address)
        assert page.status_code == 404
        assert "This preview is not one of this upload's, or is no longer kept" in page_text(page)
        assert "Certifying Board ID" not in page_text(page)
    # Another organization's link never opens this upload, preview or not.
    assert client.get(location.replace(token, other_token)).status_code == 404
    for nonsense in ("", "x", "0", "-1", "99999999999999999999"):
        assert client.get(f"{attempt_url}?mapping={nonsense}").status_code == 404


def test_a_preview_older_than_a_week_is_forgotten_when_another_is_kept(client, token, frozen_clock):
    attempt_url = upload(client, token, lms_export(licensees(2))).headers["Location"]
    old = show_preview(client, attempt_url).headers["Location"]
    frozen_clock.shift(timedelta(days=6))
    show_preview(client, attempt_url)
    assert client.get(old).status_code == 200  # six days on, still kept
    frozen_clock.shift(timedelta(days=2))
    recent = show_preview(client, attempt_url).headers["Location"]
    assert client.get(old).status_code == 404
    assert client.get(recent).status_code == 200


def test_a_confirmed_mapping_judges_the_file_and_is_remembered(app, client, token):
    entries = licensees(3)
    attempt_url = upload(client, token, lms_export(entries)).headers["Location"]
    response = client.post(f"{attempt_url}/columns", data=mapping_form())
    assert response.status_code == 303
    mapped_url = response.headers["Location"]
    assert mapped_url != attempt_url

    text = page_text(client.get(mapped_url))
    assert "All 3 rows were accepted" in text
    assert "read through the column mapping you confirmed" in text
    with app.app_context():
        names = db.session.execute(
            select(SandboxRecord.first_name, SandboxRecord.last_name, SandboxRecord.birth_month)
        ).all()
        assert sorted(names) == sorted((e.first_name, e.last_name, e.birth_month) for e in entries)
        assert db.session.scalar(select(func.count()).select_from(SandboxColumnMap)) == 1
        mapped = db.session.scalars(select(SandboxAttempt).order_by(SandboxAttempt.id)).all()[-1]
        assert mapped.column_map["fixed"] == {
            rules.RECORD_ACTION: "Add",
            rules.ACTIVITY_ID: ACTIVITY,
        }

    # The next export with the same columns is read through the remembered mapping.
    later = upload(client, token, lms_export(licensees(2, skip=3)))
    text = page_text(client.get(later.headers["Location"]))
    assert "HEADER_MISMATCH" not in text
    assert "Both rows were accepted" in text


def test_the_birth_year_is_never_stored(app, client, token):
    attempt_url = upload(client, token, lms_export(licensees(2), birth_year=1966)).headers[
        "Location"
    ]
    client.post(f"{attempt_url}/columns", data=mapping_form())
    with app.app_context():
        records = db.session.scalars(select(SandboxRecord)).all()
        assert len(records) == 2
        stored = " ".join(str(value) for r in records for value in vars(r).values())
        assert "1966" not in stored


def test_learners_only_checks_identities_and_names_the_board_stage(app, client, token):
    right, wrong = licensees(2)
    header = [rules.FIRST_NAME, rules.LAST_NAME, rules.DATE_OF_BIRTH, "Licensing State",
              rules.LICENSE_OR_NPI]  # fmt: skip
    rows = [
        [right.first_name, right.last_name, f"{right.birth_month:02d}/{right.birth_day:02d}",
         right.state, right.license_number],
        [wrong.first_name, wrong.last_name, f"{wrong.birth_month % 12 + 1:02d}/01",
         wrong.state, wrong.license_number],
    ]  # fmt: skip
    data = "\r\n".join(",".join(row) for row in [header, *rows]).encode()
    response = upload(client, token, data, "pre-validation.csv", mode="learners")
    text = page_text(client.get(response.headers["Location"]))

    assert "Learners only" in text
    assert "1 of 2 learners needs a fix" in text
    assert "The board would reject it after upload LEARNER_NOT_MATCHED" in text
    assert "PARS-ready file" not in text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SandboxRecord)) == 0


def test_deleting_the_sandbox_data_forgets_the_column_mappings(app, client, token):
    attempt_url = upload(client, token, lms_export(licensees(2))).headers["Location"]
    client.post(f"{attempt_url}/columns", data=mapping_form())
    client.post(f"/manage/{token}/sandbox/delete", data={"confirm": "y"})
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SandboxColumnMap)) == 0
    again = upload(client, token, lms_export(licensees(2)))
    assert "HEADER_MISMATCH" in page_text(client.get(again.headers["Location"]))


def test_the_results_name_the_sheet_read_and_the_hidden_ones_skipped(client, token):
    workbook = Workbook()
    old = workbook.active
    old.title = "Old learners"
    old.append(["Learner"])
    old.sheet_state = "hidden"
    sheet = workbook.create_sheet("Learners")
    sheet.append([rules.GUIDANCE_LINE])
    sheet.append(list(rules.REQUIRED_HEADERS))
    entry = licensees(1)[0]
    done = THREE_DAYS_AGO
    sheet.append(["Add", ACTIVITY, f"{done:%m/%d/%Y}", entry.first_name, entry.last_name,
                  f"{entry.birth_month:02d}/{entry.birth_day:02d}", entry.state,
                  entry.license_number, "1"])  # fmt: skip
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = upload(client, token, buffer.getvalue(), "learners.xlsx")
    text = page_text(client.get(response.headers["Location"]))
    assert (
        "How the file was read: the sheet “Learners” (hidden sheet “Old learners” skipped): "
        "the template's header on row 2." in text
    )
    assert "The row was accepted" in text


def test_staff_see_a_mapped_upload_read_only(app, client, token):
    attempt_url = upload(client, token, lms_export(licensees(2))).headers["Location"]
    mapped_url = client.post(f"{attempt_url}/columns", data=mapping_form()).headers["Location"]
    with app.app_context():
        create_staff("facilitator@cmadocs.example.org", "correct horse battery staple",
                     "facilitator")  # fmt: skip
        db.session.commit()
        attempt = db.session.scalars(select(SandboxAttempt).order_by(SandboxAttempt.id)).all()[-1]
        path = f"/staff/sandbox/{attempt.signup_id}/attempts/{attempt.id}"
    staff = app.test_client()
    staff.post(
        "/staff/sign-in",
        data={
            "email": "facilitator@cmadocs.example.org",
            "password": "correct horse battery staple",
        },
    )
    page = staff.get(path)
    text = page_text(page)
    assert (
        "Sierra Valley Medical Society's header on row 1, read through the column mapping "
        "Sierra Valley Medical Society confirmed" in text
    )
    assert "Sierra Valley Medical Society's columns, as they were read" in text
    assert "Your column" not in text and "you confirmed" not in text
    assert "Your columns" not in page.get_data(as_text=True)  # the table's label too
    assert "Match your columns" not in text and "Change how your columns" not in text
    assert "/columns" not in page.get_data(as_text=True)
    assert mapped_url.endswith(f"/attempts/{attempt.id}#results")


@pytest.mark.parametrize(
    "changes",
    [
        {"column_0": "\x00"},
        {"column_1": "x" * 10_000, "column_99": rules.FIRST_NAME},
        {"fill_activity": "999999999"},
        {"fill_action": "Delete"},
        {"column_0": "", "column_1": "", "column_2": "", "column_3": "", "column_4": ""},
    ],
)
def test_a_mapping_post_that_is_not_one_of_the_choices_is_refused_with_a_message(
    client, token, changes
):
    attempt_url = upload(client, token, lms_export(licensees(2))).headers["Location"]
    response = client.post(f"{attempt_url}/columns", data=mapping_form(**changes))
    assert response.status_code == 422
    assert "Please correct" in page_text(response)


def test_headers_with_hints_in_parentheses_and_board_points_are_proposed(client, token):
    header = ["Name (Last, First)", "Date of Birth (MM/DD)", "License #", "State",
              "Completion Date (MM/DD/YYYY)", "Credits", "Board", "Board ID",
              "Board Pts"]  # fmt: skip
    entry = licensees(1)[0]
    row = [f"{entry.last_name}, {entry.first_name}", "03/15", entry.license_number, entry.state,
           "11/20/2026", "1", "ABIM", "123456", "1"]  # fmt: skip
    data = "\r\n".join(",".join(f'"{cell}"' for cell in cells) for cells in (header, row))
    page = client.get(upload(client, token, data.encode()).headers["Location"])
    assert [selected(page, position) for position in range(len(header))] == [
        rules.NAME_COLUMN, rules.DATE_OF_BIRTH, rules.LICENSE_OR_NPI, rules.LICENSING_STATE,
        rules.COMPLETION_DATE, rules.CME_CREDITS, rules.BOARD, rules.BOARD_ID,
        rules.BOARD_CREDITS,
    ]  # fmt: skip


def test_the_preview_shows_how_each_name_was_split_and_what_was_left_out(client, token):
    entries = licensees(2)
    data = (
        lms_export(entries)
        .decode("utf-8-sig")
        .replace(
            f"{entries[0].last_name}, {entries[0].first_name}",
            f"Dr. {entries[0].first_name} {entries[0].last_name} Jr.",
        )
    )
    attempt_url = upload(client, token, data.encode()).headers["Location"]
    response = client.post(
        f"{attempt_url}/columns",
        data=mapping_form(preview="Show the preview with these columns"),
        follow_redirects=True,
    )
    preview = page_text(response).split("The first rows as they will be read")[1]
    first, second = entries
    assert "Name in your file How the name was split First Name Last Name" in preview
    assert (
        f"Dr. {first.first_name} {first.last_name} Jr. left out Dr., Jr. "
        f"{first.first_name} {first.last_name}"
    ) in preview
    assert (
        f"{second.last_name}, {second.first_name} as written {second.first_name} {second.last_name}"
    ) in preview

    mapped = client.post(f"{attempt_url}/columns", data=mapping_form()).headers["Location"]
    warned = page_text(client.get(f"{mapped}?code=NAME_SPLIT_CHECK"))
    assert f'Name "Dr. {first.first_name} {first.last_name} Jr." was read as First Name' in warned


def wide_export(entries, extra: int, *, filled: bool) -> bytes:
    """The LMS export with ``extra`` more columns after its own, as a 100+ column export has."""
    rows = list(csv.reader(io.StringIO(lms_export(entries).decode("utf-8-sig"))))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(rows[0] + [f"Custom field {n}" for n in range(1, extra + 1)])
    for row in rows[1:]:
        writer.writerow(row + [f"value {n}" if filled else "" for n in range(1, extra + 1)])
    return buffer.getvalue().encode()


def test_a_wide_export_gets_selects_for_its_columns_with_values(client, token):
    response = upload(client, token, wide_export(licensees(2), 100, filled=False))
    page = client.get(response.headers["Location"])
    text = page_text(page)

    assert "match your columns to the template's below" in text
    assert "Your columns (107): the 7 with values in the first rows" in text
    assert [selected(page, position) for position in range(6)] == mapping_form_targets()
    assert 'id="column_7"' not in page.get_data(as_text=True)
    assert "Not used, being empty in the first rows (100): Custom field 1, Custom field 2" in text
    confirmed = client.post(f"{response.headers['Location']}/columns", data=mapping_form())
    assert confirmed.status_code == 303
    result = page_text(client.get(confirmed.headers["Location"]))
    assert "Both rows were accepted" in result


def mapping_form_targets() -> list[str]:
    """The template columns proposed for the LMS export's first six columns."""
    form = mapping_form()
    return [form[f"column_{position}"] for position in range(6)]


def test_a_wide_export_with_values_everywhere_gets_a_select_per_column(client, token):
    response = upload(client, token, wide_export(licensees(2), 100, filled=True))
    page = client.get(response.headers["Location"])

    assert "Your columns (107)" in page_text(page)
    assert selected(page, 0) == rules.NAME_COLUMN
    assert selected(page, 106) == ""


def test_an_export_too_wide_to_map_says_so_where_the_mapping_would_be(client, token):
    response = upload(client, token, wide_export(licensees(2), 300, filled=True))
    text = page_text(client.get(response.headers["Location"]))

    mapping = text.split("Match your columns to the template")[1]
    assert "Your file has 307 columns, 307 of them with values in the first rows" in mapping
    assert "Delete the columns PARS does not need" in mapping


def test_a_mismatched_file_no_longer_kept_says_to_upload_it_again(app, client, token):
    attempt_url = upload(client, token, lms_export(licensees(2))).headers["Location"]
    with app.app_context():
        db.session.execute(delete(SandboxUpload))
        db.session.commit()
    text = page_text(client.get(attempt_url))

    mapping = text.split("Match your columns to the template")[1]
    assert "file is no longer kept, so its columns cannot be matched here" in mapping


def headerless_export(entries) -> bytes:
    """A list typed by a person with no header row, in their own order (first, last, birthday,
    license, state, completion date, credits), saved by Excel as CSV UTF-8."""
    done = THREE_DAYS_AGO
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for entry in entries:
        writer.writerow(
            [
                entry.first_name,
                entry.last_name,
                f"{entry.birth_month:02d}/{entry.birth_day:02d}",
                entry.license_number,
                entry.state,
                f"{done.month}/{done.day}/{done.year}",
                "1",
            ]
        )
    return ("\ufeff" + buffer.getvalue()).encode()


def test_a_file_without_a_header_row_is_mapped_by_column_letter_and_its_first_row_judged(
    app, client, token
):
    entries = licensees(3)
    attempt_url = upload(client, token, headerless_export(entries)).headers["Location"]
    page = client.get(attempt_url)
    text = page_text(page)
    assert "HEADER_NOT_FOUND" in text and "seems to have no header row" in text
    assert "Column A, headed" not in text
    assert entries[0].first_name in text  # the first row is shown as data to map

    targets = [rules.FIRST_NAME, rules.LAST_NAME, rules.DATE_OF_BIRTH, rules.LICENSE_OR_NPI,
               rules.LICENSING_STATE, rules.COMPLETION_DATE, rules.CME_CREDITS]  # fmt: skip
    form = {f"column_{position}": target for position, target in enumerate(targets)}
    form.update(fill_action="Add", fill_activity=ACTIVITY)
    mapped_url = client.post(f"{attempt_url}/columns", data=form).headers["Location"]
    assert "All 3 rows were accepted" in page_text(client.get(mapped_url))
    with app.app_context():
        names = db.session.execute(select(SandboxRecord.first_name)).scalars().all()
    assert sorted(names) == sorted(entry.first_name for entry in entries)


def test_a_confirmed_mapping_leads_to_the_top_of_the_results_not_to_the_form_errors(client, token):
    attempt_url = upload(client, token, lms_export(licensees(2))).headers["Location"]
    page = client.get(attempt_url).get_data(as_text=True)
    assert re.search(r'<form method="post" action="[^"]*/columns#form-errors"', page)
    # Browsers keep the form's #form-errors on a redirect whose Location has no fragment.
    location = client.post(f"{attempt_url}/columns", data=mapping_form()).headers["Location"]
    path, _, fragment = location.partition("#")
    assert fragment == "results"
    assert '<h1 id="results">' in client.get(path).get_data(as_text=True)


# The tester's own CSV: no Record Action and no activity column, "Given" for the first name.
OWN_HEADER = "Surname,Given,Birth Date,Lic No,State,Completed,CME,Notes"


def own_export(entries) -> bytes:
    """The organization's own spreadsheet saved as CSV by Excel, without an activity column."""
    done = THREE_DAYS_AGO
    lines = [OWN_HEADER] + [
        f"{e.last_name},{e.first_name},{e.birth_month:02d}/{e.birth_day:02d},{e.license_number},"
        f"{e.state},{done.month}/{done.day}/{done.year},1,"
        for e in entries
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


def add_second_activity(client, token) -> str:
    response = client.post(
        f"/manage/{token}/sandbox/activities/new",
        data={
            "activity_id": "200054321",
            "title": "Grand rounds",
            "start_date": "2026-01-05",
            "end_date": "2026-11-23",
            "max_cme_credits": "2",
        },
    )
    assert response.status_code == 303, page_text(response)
    return "200054321"


def test_with_two_activities_the_page_asks_which_one_the_rows_are_for(client, token):
    second = add_second_activity(client, token)
    attempt_url = upload(client, token, own_export(licensees(2))).headers["Location"]
    page = client.get(attempt_url)
    markup = page.get_data(as_text=True)
    activity_select = re.search(r'<select[^>]*id="fill_activity".*?</select>', markup, re.S)
    assert second in activity_select.group(0)
    assert "Taken from the file" not in activity_select.group(0)
    assert "Choose one…" in activity_select.group(0)
    # The preview already says the check would be refused, and where to fix it.
    preview = page_text(page).split("The first rows as they will be read")[1]
    assert "Choose which of your activities these rows are for" in preview

    data = {
        f"column_{n}": target
        for n, target in enumerate(
            [
                rules.LAST_NAME,
                rules.FIRST_NAME,
                rules.DATE_OF_BIRTH,
                rules.LICENSE_OR_NPI,
                rules.LICENSING_STATE,
                rules.COMPLETION_DATE,
                rules.CME_CREDITS,
                "",
            ]
        )
    }
    data.update(fill_action="Add", fill_activity="")
    refused = client.post(f"{attempt_url}/columns", data=data)
    assert refused.status_code == 422
    text = page_text(refused)
    assert (
        "Choose which of your activities these rows are for, or a column that holds their "
        "ACCME Activity ID." in text
    )
    assert "required columns" not in text
    assert 'href="#fill_activity"' in refused.get_data(as_text=True)

    data.update(fill_activity=second)
    checked = client.post(f"{attempt_url}/columns", data=data)
    assert checked.status_code == 303


def test_an_action_column_left_unmapped_points_to_the_select_that_fills_it(client, token):
    attempt_url = upload(client, token, lms_export(licensees(2))).headers["Location"]
    response = client.post(f"{attempt_url}/columns", data=mapping_form(fill_action=""))
    assert response.status_code == 422
    assert "Choose Add for every row, or a column that holds the Record Action." in page_text(
        response
    )


def own_export_with_birth_dates(entries, birth_dates) -> bytes:
    """The organization's own spreadsheet with full birth dates, as Excel set to a day-first
    country saves it to CSV."""
    done = THREE_DAYS_AGO
    lines = [OWN_HEADER] + [
        f"{e.last_name},{e.first_name},{born},{e.license_number},"
        f"{e.state},{done.month}/{done.day}/{done.year},1,"
        for e, born in zip(entries, birth_dates, strict=True)
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


def test_full_birth_dates_written_day_first_are_judged_as_the_template_judges_their_birthdays(
    client, token
):
    entries = licensees(2)
    data = own_export_with_birth_dates(entries, ["25/12/1975", "07/08/1975"])
    attempt_url = upload(client, token, data).headers["Location"]
    page = client.get(attempt_url)
    assert selected(page, 2) == rules.BIRTH_DATE_COLUMN
    # The preview shows what will be kept: the month and day, the year gone.
    preview = page_text(page).split("The first rows as they will be read")[1]
    assert "25/12" in preview and "07/08" in preview
    assert "1975" not in preview

    form = {
        f"column_{n}": target
        for n, target in enumerate(
            [
                rules.LAST_NAME,
                rules.FIRST_NAME,
                rules.BIRTH_DATE_COLUMN,
                rules.LICENSE_OR_NPI,
                rules.LICENSING_STATE,
                rules.COMPLETION_DATE,
                rules.CME_CREDITS,
                "",
            ]
        )
    }
    form.update(fill_action="Add", fill_activity=ACTIVITY)
    mapped_url = client.post(f"{attempt_url}/columns", data=form).headers["Location"]
    mapped = page_text(client.get(mapped_url))

    # What the template layout says of the same birthdays written 25/12 and 07/08.
    template_rows = [
        f"Add,{ACTIVITY},{THREE_DAYS_AGO.month}/{THREE_DAYS_AGO.day}/{THREE_DAYS_AGO.year},"
        f"{e.first_name},{e.last_name},{born},{e.state},{e.license_number},1,,,,,"
        for e, born in zip(entries, ["25/12", "07/08"], strict=True)
    ]
    template_file = (
        "\r\n".join([",".join(rules.REQUIRED_HEADERS), *template_rows]) + "\r\n"
    ).encode()
    template_url = upload(client, token, template_file, "pars.csv").headers["Location"]
    template = page_text(client.get(template_url))

    for code in ("DOB_DAY_FIRST", "FILE_DATES_DAY_FIRST"):
        assert code in mapped and code in template
    assert "DOB_HAS_YEAR" not in mapped
    assert "Date of Birth is written day first (DD/MM)" in mapped
    assert "a Date of Birth on row 3 was read month first" in mapped
    findings = mapped.split("Findings, in row order")[1]
    assert "1975" not in findings and "25/12" not in findings and "07/08" not in findings


def first_values_shown(page) -> list[str]:
    """The "First value" cells of the mapping table, in order."""
    table = page_text(page).split("Template column it holds")[1].split("Columns your file")[0]
    return table


def test_the_first_value_of_a_birth_date_column_shows_no_birth_year(client, token):
    # The tester's export: "Birth Date" proposed as a full birth date, the year kept nowhere.
    rows = [
        ["Surname", "Given", "Birth Date", "Lic No", "State", "Completed", "CME", "Notes"],
        ["Greenleaf", "Talia", "02/04/1971", "A900004", "CA", "11/20/2026", "1", ""],
    ]
    data = "\r\n".join(",".join(row) for row in rows).encode()
    page = client.get(upload(client, token, data, "sierra.csv").headers["Location"])
    text = page_text(page)
    assert "First value" in text
    assert "02/04" in first_values_shown(page)
    assert "1971" not in text


def test_a_full_date_mapped_as_a_date_of_birth_with_a_year_is_not_said_to_be_refused(client, token):
    # "Birth Date" proposed as "Date of birth with a year": only month and day are kept, so
    # nothing is refused; the note belongs to a full date mapped as plain Date of Birth.
    rows = [
        ["Surname", "Given", "Birth Date", "Lic No", "State", "Completed", "CME", "Notes"],
        ["Greenleaf", "Talia", "02/04/1971", "A900004", "CA", "11/20/2026", "1", ""],
    ]
    data = "\r\n".join(",".join(row) for row in rows).encode()
    page = client.get(upload(client, token, data, "sierra.csv").headers["Location"])
    assert rules.BIRTH_DATE_COLUMN in page_text(page)
    shown = first_values_shown(page)
    assert "02/04" in shown
    assert "PARS refuses" not in shown


def test_the_first_value_of_a_column_chosen_as_date_of_birth_shows_no_birth_year(client, token):
    # "DOB" proposed as a full birth date, then chosen as the template's Date of Birth: the
    # first value and the preview show month and day, never the year.
    entries = licensees(2)
    attempt_url = upload(client, token, lms_export(entries, birth_year=1968)).headers["Location"]
    response = client.post(
        f"{attempt_url}/columns",
        data=mapping_form(column_1=rules.DATE_OF_BIRTH, preview="Show the preview"),
        follow_redirects=True,
    )
    text = page_text(response)
    first = entries[0]
    assert f"{first.birth_month:02d}/{first.birth_day:02d}" in first_values_shown(response)
    assert "1968" not in text
    assert "(has a year: PARS refuses it)" in text  # the preview says why it would be refused


def test_staff_view_of_a_refused_upload_points_to_no_mapping_it_does_not_show(app, client, token):
    upload(client, token, lms_export(licensees(2)))
    with app.app_context():
        create_staff("facilitator@cmadocs.example.org", "correct horse battery staple",
                     "facilitator")  # fmt: skip
        db.session.commit()
        attempt = db.session.scalars(select(SandboxAttempt).order_by(SandboxAttempt.id)).all()[-1]
        path = f"/staff/sandbox/{attempt.signup_id}/attempts/{attempt.id}"
    staff = app.test_client()
    staff.post(
        "/staff/sign-in",
        data={
            "email": "facilitator@cmadocs.example.org",
            "password": "correct horse battery staple",
        },
    )
    text = page_text(staff.get(path))
    assert "HEADER_MISMATCH" in text
    assert "below" not in text
    assert "or match your columns to the template's on the organization's results page" in text
    findings = staff.get(f"{path}/findings.csv").get_data(as_text=True)
    assert "below" not in findings
    assert "on this upload's results page" in findings


NAME_FILLS_BOTH = (
    "“Name (first and last name in one column)” (column A, “Learner”) fills both First Name "
    "and Last Name: choose it, or First Name and Last Name, not both."
)


@pytest.mark.parametrize("part", [rules.LAST_NAME, rules.FIRST_NAME])
def test_a_name_column_beside_a_first_or_last_name_column_is_refused_at_the_select(
    client, token, part
):
    attempt_url = upload(client, token, lms_export(licensees(2))).headers["Location"]
    response = show_preview(client, attempt_url, column_6=part)
    assert response.status_code == 422
    # At the select chosen beside the Name column, as a column chosen twice is refused.
    markup = response.get_data(as_text=True)
    at_select = re.search(r'<p class="error" id="column_6-error">([^<]*)</p>', markup)
    assert at_select and page_text(response).count(NAME_FILLS_BOTH) >= 1
    assert "fills both First Name and Last Name" in at_select.group(1)


def test_a_full_birth_date_column_beside_a_date_of_birth_column_is_refused_at_the_select(
    client, token
):
    attempt_url = upload(client, token, lms_export(licensees(2))).headers["Location"]
    response = client.post(
        f"{attempt_url}/columns", data=mapping_form(column_6=rules.DATE_OF_BIRTH)
    )
    assert response.status_code == 422
    assert (
        "“Date of birth with a year (only month and day are kept)” (column B, “DOB”) fills "
        "Date of Birth: choose it, or Date of Birth, not both."
    ) in page_text(response)


def test_the_not_ready_notice_names_a_name_column_beside_a_last_name_column(app):
    from training.sandbox.columns import ColumnMap
    from training.sandbox.forms import ColumnMappingForm

    header = tuple(LMS_HEADER)
    current = ColumnMap(header, {0: rules.NAME_COLUMN, 2: rules.LAST_NAME})
    with app.test_request_context():
        form = ColumnMappingForm(header=header, current=current)
        assert form.gaps()["column_2"] == NAME_FILLS_BOTH


def test_a_name_column_is_not_proposed_beside_a_last_name_column():
    from datetime import date

    from training.sandbox.mapping import propose

    proposals = propose(["Learner Name", "Last Name", "First Name"], today=date(2026, 1, 5))
    assert [proposal.target for proposal in proposals] == [
        rules.NOT_USED,
        rules.LAST_NAME,
        rules.FIRST_NAME,
    ]
