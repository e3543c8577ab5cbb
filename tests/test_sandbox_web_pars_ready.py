"""The PARS-ready file made from a judged upload: the ACCME Excel layout and tab-delimited text,
read back with openpyxl and judged again by the sandbox with no finding."""

import csv
import io
from datetime import datetime

import pytest
from conftest import PASSWORD, THREE_DAYS_AGO, page_text
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from training.audit.models import AuditEvent
from training.extensions import db
from training.sandbox import attempts, downloads, judge, rules, services, tasks
from training.sandbox.models import SandboxAttempt
from training.staff.services import create_staff

# Completion dates are counted back from now, and judged against the program's today.
# Learners completed the activity three days before the frozen clock's date.
pytestmark = pytest.mark.usefixtures("frozen_clock")

ACTIVITY = "200012345"  # the seeded example activity: ABIM, ABS and ABP registered
HOSTILE_NAME = '=HYPERLINK("https://evil.example","Click")'


@pytest.fixture
def token(token, example_activity):
    """The manage token of a confirmed booking whose sandbox holds the example activity."""
    return token


def completed() -> str:
    done = THREE_DAYS_AGO
    return f"{done.month}/{done.day}/{done.year}"


def learners():
    """Three licensees in Oregon and California (their boards take PARS data)."""
    entries = services.read_register_entries()
    return [e for e in entries if e.license_number and not e.board and e.state in ("CA", "OR")]


def provider_file() -> bytes:
    """The template as a person fills it and Excel saves it to CSV: a birthday Excel turned into
    "10-Sep", a state spelled out, a board and credit type typed in lower case, a license
    number with a leading zero, a name that looks like a formula, and one row to fix."""
    first, second, third, fourth = learners()[:4]
    rows = [
        ["Add", ACTIVITY, completed(), first.first_name, first.last_name,
         f"{first.birth_day}-{datetime(2000, first.birth_month, 1):%b}",
         rules.STATES[first.state], first.license_number, "1.5", "abim", "0042", "2",
         "medical knowledge", "2"],
        ["Add", ACTIVITY, completed(), HOSTILE_NAME, "Quill", "03/15", second.state, "", "1",
         "", "", "", "", ""],
        ["add", ACTIVITY, completed(), third.first_name, third.last_name,
         f"{third.birth_month:02d}/{third.birth_day:02d}", third.state, "0" + "7" * 6, "0.75",
         "", "", "", "", ""],
        ["Add", ACTIVITY, completed(), fourth.first_name, fourth.last_name, "09/10/1975",
         fourth.state, fourth.license_number, "1.3", "", "", "", "", ""],
    ]  # fmt: skip
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([rules.GUIDANCE_LINE] + [""] * 13)
    writer.writerow(rules.REQUIRED_HEADERS)
    writer.writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode()


def upload(client, token, data: bytes, filename: str = "learners.csv"):
    response = client.post(
        f"/manage/{token}/sandbox/uploads",
        data={"learner_file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    return response.headers["Location"]


def judge_again(app, data: bytes, filename: str) -> list:
    """Judge a file as the sandbox does for this organization, but with no held records."""
    with app.app_context():
        attempt = db.session.scalars(select(SandboxAttempt)).first()
        context = attempts.judge_context(attempt, tasks.judging_day(attempt), 1 << 24)
        context = judge.JudgeContext(
            context.activities, context.register, judge.NoRecords(), context.today
        )
        return list(judge.judge_file(io.BytesIO(data), filename, context))


def test_the_pars_ready_workbook_has_the_template_layout_and_judges_clean(app, client, token):
    attempt_url = upload(client, token, provider_file())
    page = page_text(client.get(attempt_url))
    assert "1 of 4 rows was rejected" in page
    assert "PARS-ready file (Excel .xlsx)" in page

    response = client.get(f"{attempt_url}/pars-ready.xlsx")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    disposition = response.headers["Content-Disposition"]
    assert disposition == "attachment; filename=learners-pars-ready.xlsx"
    workbook = load_workbook(io.BytesIO(response.data))
    assert workbook.sheetnames == ["Learners", "Rejected rows", "ValidValues"]
    sheet = workbook["Learners"]
    assert sheet["A1"].value == rules.GUIDANCE_LINE
    assert tuple(cell.value for cell in sheet[2]) == rules.TEMPLATE_HEADER_ROW
    assert sheet["M2"].value == "Credit Type "  # as ACCME's template spells it
    first = learners()[0]
    row = list(sheet[3])
    assert row[5].value == f"{first.birth_month:02d}/{first.birth_day:02d}"
    assert row[5].data_type == "s"  # Date of Birth is text, never a date
    # ... in Text-formatted cells, so editing one in Excel keeps it text (not a date, no zeros lost)
    assert [row[n].number_format for n in (1, 5, 7, 10)] == ["@"] * 4
    assert isinstance(row[2].value, datetime) and row[2].is_date  # Completion Date is a date
    assert row[6].value == first.state  # spelled out in the upload, a code as ValidValues has it
    assert (row[9].value, row[10].value, row[12].value) == ("ABIM", "0042", "Medical Knowledge")
    assert row[8].value == 1.5
    hostile = sheet[4][3]
    assert (hostile.value, hostile.data_type) == (HOSTILE_NAME, "s")  # exact text, no apostrophe
    assert sheet[5][0].value == "Add" and sheet[5][7].value == "0777777"
    assert sheet.max_row == 5

    rejected = workbook["Rejected rows"]
    assert rejected["A1"].value == "Row in your file"
    assert rejected["A2"].value == 6
    fix = rejected.cell(2, len(downloads.REJECTED_HEADER)).value
    assert "DOB_HAS_YEAR (PARS refuses it at upload)" in fix
    assert "CREDITS_NOT_QUARTER" in fix

    again = judge_again(app, response.data, "learners-pars-ready.xlsx")
    assert [item.row for item in again] == [3, 4, 5]
    assert [(f.code, f.severity) for item in again for f in item.findings] == [
        ("LOOKS_LIKE_FORMULA", "warning")  # the name that looks like a formula, kept as it is
    ]


def test_a_rejected_row_sits_under_the_template_headers_with_what_to_fix_last(client, token):
    learner = learners()[0]
    row = ["Add", ACTIVITY, completed(), learner.first_name, learner.last_name, "09/10/1975",
           learner.state, learner.license_number, "1", "ABIM", "4417021", "1",
           "Medical Knowledge", "1"]  # fmt: skip
    data = provider_file().decode("utf-8-sig").rstrip("\r\n") + "\r\n" + ",".join(row) + "\r\n"
    attempt_url = upload(client, token, data.encode())
    workbook = load_workbook(io.BytesIO(client.get(f"{attempt_url}/pars-ready.xlsx").data))
    rejected = workbook["Rejected rows"]
    header = [cell.value for cell in rejected[1]]
    assert header == list(downloads.REJECTED_HEADER)
    last = {name: cell.value for name, cell in zip(header, rejected[rejected.max_row], strict=True)}
    assert last["Row in your file"] == 7
    board = (last["Certifying Board"], last["Certifying Board ID"], last["Total Board Credits"])
    assert board == ("ABIM", "4417021", "1")
    credit = (last["Credit Type"], last["Credits Awarded for Credit Type"])
    assert credit == ("Medical Knowledge", "1")
    assert last["Additional Credit Type 1"] is None
    assert "DOB_HAS_YEAR" in last["What to fix"]


def test_a_rejected_completion_date_cell_shows_the_time_of_day_it_was_refused_for(client, token):
    learner = learners()[0]
    done = THREE_DAYS_AGO
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(rules.REQUIRED_HEADERS)
    sheet.append(
        ["Add", ACTIVITY, datetime(done.year, done.month, done.day, 15, 45), learner.first_name,
         learner.last_name, f"{learner.birth_month:02d}/{learner.birth_day:02d}", learner.state,
         learner.license_number, "1"]
    )  # fmt: skip
    sheet["C2"].number_format = "m/d/yyyy h:mm AM/PM"  # as Excel shows a date with a time
    buffer = io.BytesIO()
    workbook.save(buffer)
    attempt_url = upload(client, token, buffer.getvalue(), "learners.xlsx")
    made = load_workbook(io.BytesIO(client.get(f"{attempt_url}/pars-ready.xlsx").data))
    rejected = made["Rejected rows"]
    header = [cell.value for cell in rejected[1]]
    row = {name: cell.value for name, cell in zip(header, rejected[2], strict=True)}
    assert row["Completion Date"] == f"{done:%m/%d/%Y} 3:45 PM"
    assert "DATE_HAS_TIME" in row["What to fix"] and "(3:45 PM)" in row["What to fix"]


def test_every_download_writes_a_birth_date_as_month_and_day_never_its_year(client, token):
    """Birth dates typed in full, as an old Excel date cell, as a recent date cell (Excel's
    09/10) and inside a note: the rejected rows show MM/DD (the note with its year hidden),
    and each row still says what was wrong with it."""
    first, second, third, fourth = learners()[:4]
    done = THREE_DAYS_AGO
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(rules.REQUIRED_HEADERS)
    rows = [
        (first, "03/28/1968", "1"),
        (second, datetime(1968, 3, 28), "1"),
        (third, datetime(done.year, 4, 1), "one"),  # accepted but for its credits
        (fourth, "Note: DOB 1968 to confirm", "1"),
    ]
    for learner, birthday, credits in rows:
        sheet.append(
            ["Add", ACTIVITY, f"{done:%m/%d/%Y}", learner.first_name, learner.last_name,
             birthday, learner.state, learner.license_number, credits]
        )  # fmt: skip
    sheet["F3"].number_format = sheet["F4"].number_format = "mm/dd/yyyy"
    buffer = io.BytesIO()
    workbook.save(buffer)
    attempt_url = upload(client, token, buffer.getvalue(), "learners.xlsx")

    response = client.get(f"{attempt_url}/pars-ready.xlsx")
    assert response.headers["Content-Disposition"].endswith("learners-rejected-rows.xlsx")
    made = load_workbook(io.BytesIO(response.data))
    rejected = made["Rejected rows"]
    header = [cell.value for cell in rejected[1]]
    shown = [
        {name: cell.value for name, cell in zip(header, row, strict=True)}
        for row in rejected.iter_rows(min_row=2)
    ]
    assert [row["Date of Birth"] for row in shown] == [
        "03/28",
        "03/28",
        "04/01",
        "Note: DOB **** to confirm",
    ]
    assert "DOB_HAS_YEAR" in shown[0]["What to fix"]
    assert "DOB_HAS_YEAR" in shown[1]["What to fix"]
    assert "DOB_FORMAT" in shown[3]["What to fix"]
    every_cell = " ".join(
        str(cell.value) for sheet in made for row in sheet.iter_rows() for cell in row
    )
    assert "1968" not in every_cell


def test_a_birth_date_with_a_time_or_written_year_first_is_written_month_and_day(client, token):
    """A full birth date with a time of day, as an LMS exports it, or year first: the rejected
    rows show MM/DD, not a masked cell, while the row still says DOB_HAS_YEAR; what is not a
    date stays masked."""
    written = [
        "03/28/1968 00:00",
        "3/28/1968 12:00 AM",
        "1968-03-28 00:00:00",
        "1968/03/28",
        "03/28/1968 later",
    ]
    done = THREE_DAYS_AGO
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(rules.REQUIRED_HEADERS)
    for learner, birthday in zip(learners(), written, strict=False):
        sheet.append(
            ["Add", ACTIVITY, f"{done:%m/%d/%Y}", learner.first_name, learner.last_name,
             birthday, learner.state, learner.license_number, "1"]
        )  # fmt: skip
    buffer = io.BytesIO()
    workbook.save(buffer)
    attempt_url = upload(client, token, buffer.getvalue(), "learners.xlsx")

    made = load_workbook(io.BytesIO(client.get(f"{attempt_url}/pars-ready.xlsx").data))
    rejected = made["Rejected rows"]
    header = [cell.value for cell in rejected[1]]
    shown = [
        {name: cell.value for name, cell in zip(header, row, strict=True)}
        for row in rejected.iter_rows(min_row=2)
    ]
    assert [row["Date of Birth"] for row in shown] == [
        "03/28",
        "03/28",
        "03/28",
        "03/28",
        "********** later",
    ]
    assert all("DOB_HAS_YEAR" in row["What to fix"] for row in shown[:2])
    every_cell = " ".join(
        str(cell.value) for sheet in made for row in sheet.iter_rows() for cell in row
    )
    assert "1968" not in every_cell


def test_the_pars_ready_text_holds_the_values_exactly_one_row_a_line_with_no_bom(
    app, client, token
):
    attempt_url = upload(client, token, provider_file())
    response = client.get(f"{attempt_url}/pars-ready.txt")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.data.startswith(b"Add\t")  # no byte-order mark before the first value
    lines = response.data.decode("utf-8").split("\r\n")
    rows = [line.split("\t") for line in lines[:-1]]
    assert len(rows) == 3 and lines[-1] == ""
    assert {len(row) for row in rows} == {len(rules.HEADERS)}
    first = learners()[0]
    assert rows[0][:2] == ["Add", ACTIVITY]
    assert rows[0][5] == f"{first.birth_month:02d}/{first.birth_day:02d}"
    assert rows[0][6] == first.state and rows[0][8] == "1.5"
    assert rows[1][3] == HOSTILE_NAME  # exactly: no apostrophe, no quotes around it
    # The results page warned about that name instead.
    warned = page_text(client.get(f"{attempt_url}?code=LOOKS_LIKE_FORMULA"))
    assert 'First Name starts with "=", which a spreadsheet program takes for a formula' in warned

    again = judge_again(app, response.data, "learners-pars-ready.txt")
    assert [item.row for item in again if not isinstance(item, judge.Finding)] == [1, 2, 3]
    assert [f.code for item in again for f in getattr(item, "findings", [item])] == [
        "NO_HEADER_ROW",  # a file-level warning: ACCME's tab-delimited files have no header
        "LOOKS_LIKE_FORMULA",
    ]


def test_a_mapped_file_comes_back_in_the_template_layout(app, client, token):
    entry = learners()[0]
    export = (
        "Name,Birth Date,License #,State,Date Completed,Credits\r\n"
        f'"{entry.first_name} {entry.last_name}",1971-{entry.birth_month:02d}-'
        f"{entry.birth_day:02d},{entry.license_number},{entry.state},{completed()},1\r\n"
    ).encode()
    attempt_url = upload(client, token, export, "export.csv")
    mapped = client.post(
        f"{attempt_url}/columns",
        data={
            "column_0": rules.NAME_COLUMN,
            "column_1": rules.BIRTH_DATE_COLUMN,
            "column_2": rules.LICENSE_OR_NPI,
            "column_3": rules.LICENSING_STATE,
            "column_4": rules.COMPLETION_DATE,
            "column_5": rules.CME_CREDITS,
            "fill_action": "Add",
            "fill_activity": ACTIVITY,
        },
    ).headers["Location"]
    mapped = mapped.partition("#")[0]  # the results open at #results
    workbook = load_workbook(io.BytesIO(client.get(f"{mapped}/pars-ready.xlsx").data))
    values = [cell.value for cell in workbook["Learners"][3]]
    assert values[:2] == ["Add", ACTIVITY]
    assert values[3:6] == [entry.first_name, entry.last_name, f"{entry.birth_month:02d}/"
                           f"{entry.birth_day:02d}"]  # fmt: skip
    assert "1971" not in " ".join(str(value) for value in values)
    assert not judge_again(app, client.get(f"{mapped}/pars-ready.xlsx").data, "x.xlsx")[0].findings


def test_no_pars_ready_file_for_a_file_that_could_not_be_read(client, token):
    attempt_url = upload(client, token, b"Learner,Email\r\nLee,ann@example.org\r\n", "x.csv")
    assert "PARS-ready file (Excel .xlsx)" not in page_text(client.get(attempt_url))
    assert client.get(f"{attempt_url}/pars-ready.xlsx").status_code == 404


def test_a_file_with_no_accepted_row_offers_its_rejected_rows_named_so_not_for_pars(client, token):
    data = provider_file().decode().split("\r\n")
    # Only the row to fix (a birthday with its year) is left: nothing is accepted.
    row_to_fix_only = "\r\n".join([data[0], data[1], data[5], ""]).encode()
    attempt_url = upload(client, token, row_to_fix_only)
    page = page_text(client.get(attempt_url))
    assert "The row was rejected. Fix it and upload the file again." in page
    laid_out = "lists the rejected row as ACCME's template lays it out, with what to fix: fix it"
    assert laid_out in page
    assert "accepted row" not in page and "(s)" not in page
    assert "Nothing to upload to PARS yet" in page
    assert "Rejected rows with what to fix (Excel .xlsx)" in page
    assert "This is the file to upload to PARS" not in page
    assert "PARS-ready file (tab-delimited .txt" not in page
    response = client.get(f"{attempt_url}/pars-ready.xlsx")
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=learners-rejected-rows.xlsx"
    )
    workbook = load_workbook(io.BytesIO(response.data))
    assert workbook["Learners"].max_row == 2  # the guidance and the header: no learner
    assert workbook["Rejected rows"].max_row > 1  # the row, with what to fix
    assert workbook.active.title == "Rejected rows"  # it opens on the sheet that has rows
    # The text file, not linked, holds only accepted rows: its address says there are none.
    text = client.get(f"{attempt_url}/pars-ready.txt")
    assert text.status_code == 404 and "Content-Disposition" not in text.headers
    assert "No row of this upload was accepted, so there is no PARS-ready text file" in page_text(
        text
    )


def test_a_workbook_with_accepted_rows_opens_on_them(client, token):
    attempt_url = upload(client, token, provider_file())
    workbook = load_workbook(io.BytesIO(client.get(f"{attempt_url}/pars-ready.xlsx").data))
    assert workbook.active.title == "Learners"


def test_the_files_of_an_upload_with_nothing_to_give_say_why(client, token):
    learners_only = client.post(
        f"/manage/{token}/sandbox/uploads",
        data={"learner_file": (io.BytesIO(provider_file()), "l.csv"), "mode": "learners"},
        content_type="multipart/form-data",
    ).headers["Location"]
    unread = upload(client, token, b"Learner,Email\r\nLee,ann@example.org\r\n", "x.csv")
    for attempt_url, said in (
        (learners_only, "A learners-only check makes no PARS-ready file"),
        (unread, "No learner row of this upload could be read"),
    ):
        for kind in ("xlsx", "txt"):
            response = client.get(f"{attempt_url}/pars-ready.{kind}")
            assert response.status_code == 404 and said in page_text(response)
            assert "Nothing to download" in page_text(response)
            assert "Page not found" not in page_text(response)
            assert "Back to this upload's results" in page_text(response)
            assert f'<a href="{attempt_url}#pars-ready">' in response.get_data(as_text=True)


def test_staff_keep_the_list_of_state_boards_using_pars_data(app, client, token):
    with app.app_context():
        create_staff("staff@cmadocs.example.org", PASSWORD, "staff")
        db.session.commit()
    client.post("/staff/sign-in", data={"email": "staff@cmadocs.example.org", "password": PASSWORD})
    page = client.get("/staff/sandbox/pars-states")
    assert "the list shipped with Training Desk" in page_text(page)
    assert "accme.org" in page_text(page)

    refused = client.post("/staff/sandbox/pars-states", data={"states": ["CA"], "source": ""})
    assert refused.status_code == 422
    assert "Say where the list comes from." in page_text(refused)

    kept = sorted((rules.PARS_STATES - {"CA"}) | {"NY"})
    saved = client.post(
        "/staff/sandbox/pars-states",
        data={
            "states": kept,
            "source": "ACCME state collaborations page",
            "checked_on": "2026-11-21",
        },
    )
    assert saved.status_code == 303
    text = page_text(client.get("/staff/sandbox/pars-states"))
    assert "11/21/2026, saved by staff@cmadocs.example.org" in text
    with app.app_context():
        assert services.pars_states().states == frozenset(kept)
        event = db.session.scalars(select(AuditEvent)).all()[-1]
        assert event.action == "sandbox.pars_states_updated"
        assert event.details["removed"] == ["CA"] and event.details["added"] == ["NY"]

    attempt_url = upload(client, token, provider_file())
    findings = page_text(client.get(f"{attempt_url}?code=STATE_NOT_PARTICIPATING"))
    assert "The California licensing board does not use PARS data yet" in findings


def test_the_state_list_is_not_saved_empty_or_checked_after_today(app, client):
    with app.app_context():
        create_staff("admin@cmadocs.example.org", PASSWORD, "admin")
        db.session.commit()
    client.post("/staff/sign-in", data={"email": "admin@cmadocs.example.org", "password": PASSWORD})
    # The frozen clock: Tue, Nov 24, 2026, 10 AM in California; already the 25th in Guam.
    refused = client.post(
        "/staff/sandbox/pars-states",
        data={"source": "ACCME page", "checked_on": "2026-11-26"},
    )
    assert refused.status_code == 422
    text = page_text(refused)
    assert "Tick the state boards that use PARS data" in text
    assert "Enter the day the list was checked: it cannot be after today." in text
    saved = client.post(
        "/staff/sandbox/pars-states",
        data={"states": ["CA"], "source": "ACCME page", "checked_on": "2026-11-25"},
    )
    assert saved.status_code == 303
    with app.app_context():
        assert services.pars_states().states == frozenset({"CA"})


def test_the_state_list_source_keeps_no_control_characters(app, client):
    with app.app_context():
        create_staff("admin@cmadocs.example.org", PASSWORD, "admin")
        db.session.commit()
    client.post("/staff/sign-in", data={"email": "admin@cmadocs.example.org", "password": PASSWORD})
    saved = client.post(
        "/staff/sandbox/pars-states",
        data={"states": ["CA"], "source": "ACCME\x00 page\r\nchecked", "checked_on": "2026-11-21"},
    )
    assert saved.status_code == 303
    with app.app_context():
        assert services.pars_states().source == "ACCME page checked"


def test_the_pars_ready_text_never_splits_a_row_over_lines_or_extra_tabs(app, client, token):
    """Names typed with Alt+Enter or pasted with tabs and invisible characters, as Excel saves
    them to CSV: refused or cleaned, so every line of the .txt is one learner of 20 values."""
    names = ["Ann\nMarie", "Tab\tIn", "Zero\u200bWidth", "\u202eRTL", "Non\u00a0Break", "Plain"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, dialect="excel")
    writer.writerow(rules.TEMPLATE_HEADER_ROW[:14])
    for day, name in enumerate(names, start=1):
        writer.writerow(["Add", ACTIVITY, completed(), name, "Quill", f"03/{day:02d}", "CA", "",
                         "1", "", "", "", "", ""])  # fmt: skip
    attempt_url = upload(client, token, buffer.getvalue().encode("utf-8"))
    assert "2 of 6 rows were rejected" in page_text(client.get(attempt_url))

    data = client.get(f"{attempt_url}/pars-ready.txt").data
    lines = data.decode("utf-8").split("\r\n")[:-1]
    assert [line.split("\t")[3] for line in lines] == ["ZeroWidth", "RTL", "Non Break", "Plain"]
    assert all(len(line.split("\t")) == len(rules.HEADERS) for line in lines)
    assert b"\n" not in data.replace(b"\r\n", b"") and b"\xe2\x80" not in data


@pytest.mark.parametrize(
    ("uploaded", "disposition"),
    [
        ("Résumé 😀 learners.csv",
         """attachment; filename="Resume  learners-pars-ready.xlsx"; """
         "filename*=UTF-8''R%C3%A9sum%C3%A9%20%F0%9F%98%80%20learners-pars-ready.xlsx"),
        ("学習者.csv",
         "attachment; filename=-pars-ready.xlsx; "
         "filename*=UTF-8''%E5%AD%A6%E7%BF%92%E8%80%85-pars-ready.xlsx"),
        ("Q3: learners?.csv", 'attachment; filename="Q3- learners--pars-ready.xlsx"'),
        (".csv", "attachment; filename=learners-pars-ready.xlsx"),
    ],
)  # fmt: skip
def test_the_pars_ready_file_keeps_the_name_the_file_was_uploaded_with(
    client, token, uploaded, disposition
):
    """The name in any script (filename*, RFC 6266), with an ASCII fallback for old clients."""
    attempt_url = upload(client, token, provider_file(), uploaded)
    response = client.get(f"{attempt_url}/pars-ready.xlsx")
    assert response.headers["Content-Disposition"] == disposition
    assert response.headers["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )


def test_a_mac_roman_csv_comes_back_with_its_accented_names_and_a_warning(client, token):
    """Old Excel for Mac's "CSV (Macintosh)": Mac Roman, lines ended by a lone return."""
    entry = learners()[0]
    row = ["Add", ACTIVITY, completed(), "Rosé", entry.last_name,
           f"{entry.birth_month:02d}/{entry.birth_day:02d}", entry.state,
           "", "1", "", "", "", "", ""]  # fmt: skip
    data = "\r".join([",".join(rules.REQUIRED_HEADERS), ",".join(row), ""]).encode("mac_roman")
    assert b"Ros\x8e" in data
    attempt_url = upload(client, token, data)
    page = page_text(client.get(attempt_url))
    assert "FILE_MAC_ROMAN" in page and "Text encoded as Mac Roman." in page
    assert "choose CSV UTF-8 (Comma delimited)" in page
    text = client.get(f"{attempt_url}/pars-ready.txt").data.decode("utf-8")
    assert "\tRosé\t" in text and "RosŽ" not in text
