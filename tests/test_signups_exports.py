"""All signups as CSV and XLSX, with formula-like cells neutralized."""

import csv
import io
import re
import uuid
from datetime import UTC, datetime

import pytest
from conftest import ATTESTATION, signup_form
from openpyxl import load_workbook

from training.booking.models import Signup
from training.extensions import db

pytestmark = pytest.mark.clock

HEADER = [
    "Organization",
    "Provider ID",
    "Contact name",
    "Contact email",
    "Contact phone",
    "Attendees",
    "Status",
    "Session date",
    "Signed up at",
    "Attested at",
    "Staff notes",
    "Override reason",
]


@pytest.fixture
def signups(app, client, make_session, program_id):
    """A booked signup through the public form, and a hostile one written straight in."""
    session_id = make_session()
    client.post("/signup", data=signup_form(session_id, provider_id="0012345"))
    with app.app_context():
        moment = datetime(2025, 1, 15, 18, 30, tzinfo=UTC)
        db.session.add(
            Signup(
                program_id=program_id,
                status="waitlisted",
                organization_name='=HYPERLINK("https://evil.example","Click")',
                organization_key="hyperlink",
                contact_name="@SUM(A1:A9)",
                contact_email="-2+3@example.org",
                contact_phone="+1 916 555 0100",
                attestation_text=ATTESTATION,
                attested_at=moment,
                created_at=moment,
                submission_key_hash=uuid.uuid4().hex,
                staff_notes="\tcmd|' /C calc'!A0",
                override_reason="\rsecond place, agreed by phone",
            )
        )
        db.session.commit()
    return session_id


HOSTILE_ROW = [
    '\'=HYPERLINK("https://evil.example","Click")',
    "",
    "'@SUM(A1:A9)",
    "'-2+3@example.org",
    "'+1 916 555 0100",
    "",
    "not waiting for any date",  # waitlisted, with no chosen date: as the list says
    "",
    "2025-01-15 10:30 PT",
    "2025-01-15 10:30 PT",
    "'\tcmd|' /C calc'!A0",
    "'\rsecond place, agreed by phone",
]

# The same row in XLSX: text cells hold the values exactly, with no protective apostrophe (XML
# reads a stored carriage return back as a line feed).
HOSTILE_XLSX_ROW = [
    '=HYPERLINK("https://evil.example","Click")',
    "",
    "@SUM(A1:A9)",
    "-2+3@example.org",
    "+1 916 555 0100",
    "",
    "not waiting for any date",  # waitlisted, with no chosen date: as the list says
    "",
    "2025-01-15 10:30 PT",
    "2025-01-15 10:30 PT",
    "\tcmd|' /C calc'!A0",
    "\nsecond place, agreed by phone",
]


def test_all_signups_download_as_csv_with_formulas_neutralized(client, sign_in_as, signups):
    sign_in_as("staff")
    response = client.get("/staff/signups.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="signups-')
    table = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"), newline="")))
    assert table[0] == HEADER
    # Oldest signup first.
    assert table[1] == HOSTILE_ROW
    booked = table[2]
    assert booked[:7] == [
        "Sierra Valley Medical Society",
        "0012345",
        "Ana Reyes",
        "ana.reyes@sierravalley.example.org",
        "(916) 555-0100",
        "lee@sierravalley.example.org; kim@sierravalley.example.org",
        "booked",  # as the roster export and the signups list call it
    ]
    assert booked[10:] == ["", ""]


def test_all_signups_download_as_xlsx_with_exact_values_in_text_cells(client, sign_in_as, signups):
    sign_in_as("admin")
    response = client.get("/staff/signups.xlsx")
    assert response.status_code == 200
    assert response.mimetype == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    assert sheet.title == "Signups"
    table = [[cell.value or "" for cell in row] for row in sheet.iter_rows()]
    assert table[0] == HEADER
    assert table[1] == HOSTILE_XLSX_ROW
    assert table[2][0] == "Sierra Valley Medical Society"
    assert table[2][6] == "booked"
    assert all(cell.data_type == "s" for row in sheet.iter_rows() for cell in row if cell.value)


@pytest.mark.parametrize("extension", ["csv", "xlsx"])
def test_facilitators_and_visitors_cannot_download_signups(client, sign_in_as, extension):
    response = client.get(f"/staff/signups.{extension}")
    assert response.status_code == 302
    sign_in_as("facilitator")
    assert client.get(f"/staff/signups.{extension}").status_code == 403


@pytest.mark.time_machine(datetime(2026, 12, 2, 3, 0, tzinfo=UTC), tick=True)  # 7 PM, Dec 1 PT
def test_the_export_is_named_for_the_day_in_california_not_in_utc(client, sign_in_as):
    sign_in_as("staff")
    response = client.get("/staff/signups.xlsx")
    assert 'filename="signups-2026-12-01.xlsx"' in response.headers["Content-Disposition"]


def test_the_roster_and_all_signups_downloads_write_a_booking_alike(
    client, sign_in_as, signups, make_session
):
    sign_in_as("staff")

    def download(url: str) -> list[dict]:
        text = client.get(url).get_data().decode("utf-8-sig")
        return list(csv.DictReader(io.StringIO(text, newline="")))

    table = download("/staff/signups.csv")
    everyone = next(row for row in table if row["Organization"] == "Sierra Valley Medical Society")
    roster = download(f"/staff/sessions/{signups}/roster.csv")
    [booked] = [row for row in roster if row["Organization"] == "Sierra Valley Medical Society"]
    assert (
        everyone["Attendees"]
        == booked["Attendees"]
        == ("lee@sierravalley.example.org; kim@sierravalley.example.org")
    )
    assert everyone["Session date"] == booked["Session date"]
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d, \d+:\d\d(?: [AP]M)?–\d+:\d\d [AP]M P[SD]?T", booked["Session date"]
    )
    assert everyone["Signed up at"] == booked["Signed up"]
    assert everyone["Attested at"] == booked["Attested"]
