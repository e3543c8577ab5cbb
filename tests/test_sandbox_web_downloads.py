"""Sandbox downloads: the learner template in three formats, the practice file, the register."""

import csv
import html
import io
import re
from collections import Counter

import pytest
from conftest import page_text
from openpyxl import load_workbook
from sqlalchemy import select

from training.extensions import db
from training.sandbox import judge, rules, services
from training.sandbox.models import SandboxFinding

TYPICAL_MISTAKES = {
    "DOB_HAS_YEAR",
    "STATE_UNKNOWN",
    "CREDITS_NOT_QUARTER",
    "BOARD_NOT_REGISTERED",
    "DUPLICATE_ROW",
    "NAME_LOOKS_SWAPPED",
    "LEARNER_NOT_MATCHED",
    "NPI_INVALID",
    "DATE_IN_FUTURE",
    "LAST_NAME_REQUIRED",
    "DELETE_NOT_FOUND",
    "ACTION_INVALID",
}


def upload(client, token: str, data: bytes, filename: str):
    return client.post(
        f"/manage/{token}/sandbox/uploads",
        data={"learner_file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def finding_codes(app) -> Counter:
    with app.app_context():
        return Counter(db.session.scalars(select(SandboxFinding.code)))


def test_xlsx_template_has_guidance_header_valid_values_and_drop_downs(client, token):
    response = client.get(f"/manage/{token}/sandbox/learner-template.xlsx")

    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="learner-template.xlsx"'
    workbook = load_workbook(io.BytesIO(response.data))
    assert workbook.sheetnames == ["Learners", "ValidValues"]
    sheet = workbook["Learners"]
    assert sheet["A1"].value == rules.GUIDANCE_LINE
    assert tuple(cell.value for cell in sheet[2]) == rules.TEMPLATE_HEADER_ROW
    assert sheet.max_row == 2

    valid = workbook["ValidValues"]
    columns = {valid.cell(1, n).value: n for n in range(1, valid.max_column + 1)}

    def listed(header):
        cells = (valid.cell(row, columns[header]).value for row in range(2, valid.max_row + 1))
        return [value for value in cells if value]

    assert listed(rules.RECORD_ACTION) == ["Add", "Delete"]
    assert listed(rules.BOARD) == list(rules.BOARDS)
    assert set(listed(rules.LICENSING_STATE)) == set(rules.STATES)
    assert "Medical Knowledge" in listed(rules.CREDIT_TYPE)

    letters = {header: chr(ord("A") + n) for n, header in enumerate(rules.HEADERS[:26])}
    lists_by_column = {
        cell_range.split(":")[0].rstrip("0123456789"): validation.formula1
        for validation in sheet.data_validations.dataValidation
        for cell_range in str(validation.sqref).split()
    }
    for header in (rules.RECORD_ACTION, rules.LICENSING_STATE, rules.BOARD, rules.CREDIT_TYPE):
        assert lists_by_column[letters[header]].startswith("ValidValues!$")
    for first, _credits in rules.CREDIT_TYPE_PAIRS:
        assert letters.get(first) is None or letters[first] in lists_by_column
    assert all(validation.type == "list" for validation in sheet.data_validations.dataValidation)


@pytest.mark.parametrize(("kind", "delimiter"), [("csv", ","), ("txt", "\t")])
def test_text_templates_have_the_header_and_optionally_the_guidance_line(
    client, token, kind, delimiter
):
    plain = client.get(f"/manage/{token}/sandbox/learner-template.{kind}")
    guided = client.get(f"/manage/{token}/sandbox/learner-template.{kind}?guidance=1")

    assert plain.headers["Content-Disposition"] == f'attachment; filename="learner-template.{kind}"'
    assert (
        guided.headers["Content-Disposition"]
        == f'attachment; filename="learner-template-with-guidance.{kind}"'
    )
    rows = list(csv.reader(io.StringIO(plain.data.decode("utf-8-sig")), delimiter=delimiter))
    assert rows == [list(rules.TEMPLATE_HEADER_ROW)]
    rows = list(csv.reader(io.StringIO(guided.data.decode("utf-8-sig")), delimiter=delimiter))
    assert rows == [[rules.GUIDANCE_LINE], list(rules.TEMPLATE_HEADER_ROW)]


def test_every_download_on_the_sandbox_page_saves_under_its_own_name(client, token):
    page = client.get(f"/manage/{token}/sandbox").get_data(as_text=True)
    links = sorted(set(re.findall(r'<a href="([^"]+)"[^>]*\bdownload\b', page)))
    assert len(links) >= 7  # the templates, the practice file and its corrections
    names = {}
    for link in links:
        response = client.get(html.unescape(link))
        assert response.status_code == 200, link
        (name,) = re.findall(r'filename="([^"]+)"', response.headers["Content-Disposition"])
        names.setdefault(name, []).append(link)
    assert {name: found for name, found in names.items() if len(found) > 1} == {}


def test_an_empty_template_uploaded_as_is_says_it_has_no_rows(client, token):
    template = client.get(f"/manage/{token}/sandbox/learner-template.xlsx").data
    response = upload(client, token, template, "learner-template.xlsx")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The file could not be checked." in page
    assert "FILE_EMPTY" in page


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_the_practice_file_gets_findings_for_the_typical_mistakes(app, client, token, kind):
    client.post(f"/manage/{token}/sandbox/activities/example")
    practice = client.get(f"/manage/{token}/sandbox/practice-file.{kind}")
    assert practice.headers["Content-Disposition"] == (
        f'attachment; filename="practice-learners.{kind}"'
    )

    response = upload(client, token, practice.data, f"practice-learners.{kind}")

    assert response.status_code == 303
    codes = finding_codes(app)
    assert set(codes) >= TYPICAL_MISTAKES
    assert codes["DUPLICATE_ROW"] == 1


def test_the_practice_file_is_built_for_the_organizations_own_activity(client, token):
    client.post(
        f"/manage/{token}/sandbox/activities/new",
        data={
            "activity_id": "209876543",
            "title": "Surgical Grand Rounds",
            "start_date": "2025-06-01",
            "end_date": "2030-06-01",
            "board_ABS-is_registered": "y",
            "board_ABS-points": "2",
            "board_ABS-credit_types": ["CME"],
        },
    )
    rows = list(
        csv.reader(
            io.StringIO(
                client.get(f"/manage/{token}/sandbox/practice-file.csv").data.decode("utf-8-sig")
            )
        )
    )
    assert rows[0] == list(rules.TEMPLATE_HEADER_ROW)
    assert {row[1] for row in rows[1:]} >= {"209876543"}
    assert "ABS" in {row[9] for row in rows[1:]}


def test_the_corrections_fix_every_rejected_row_of_the_practice_file(app, client, token):
    client.post(f"/manage/{token}/sandbox/activities/example")
    upload(client, token, client.get(f"/manage/{token}/sandbox/practice-file.csv").data, "p.csv")
    corrections = client.get(f"/manage/{token}/sandbox/practice-corrections.xlsx").data

    response = upload(client, token, corrections, "practice-corrections.xlsx")

    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "rows were accepted" in page
    with app.app_context():
        errors = db.session.scalars(
            select(SandboxFinding.code).where(
                SandboxFinding.attempt_id == 2, SandboxFinding.severity == "error"
            )
        ).all()
    assert errors == []


def test_the_fictional_register_has_200_people_with_valid_npis():
    entries = services.read_register_entries()
    assert len(entries) == 200
    npis = [entry.npi for entry in entries if entry.npi]
    assert npis and all(judge.npi_is_valid(npi) for npi in npis)
    assert len({(e.state, e.license_number) for e in entries}) == len(entries)
    boards = {entry.board for entry in entries if entry.board}
    assert boards == set(rules.BOARDS)
    assert all(entry.board_id.isdigit() for entry in entries if entry.board_id)
    assert any((entry.birth_month, entry.birth_day) == (2, 29) for entry in entries)


def test_a_learners_only_check_of_the_practice_file_sums_up_learners_ready_and_to_fix(
    client, token
):
    client.post(f"/manage/{token}/sandbox/activities/example")
    practice = client.get(f"/manage/{token}/sandbox/practice-file.csv").data
    response = client.post(
        f"/manage/{token}/sandbox/uploads",
        data={"learner_file": (io.BytesIO(practice), "practice.csv"), "mode": "learners"},
        content_type="multipart/form-data",
    )
    text = page_text(client.get(response.headers["Location"]))
    summary = text.split("Summary")[1].split("Findings")[0]
    assert "need a fix before the real upload" in text
    assert "Ready" in summary and "Need a fix" in summary
    assert "Accepted" not in summary and "Rejected" not in summary
    history = page_text(client.get(f"/manage/{token}/sandbox"))
    assert " ready " in history and " need a fix " in history
