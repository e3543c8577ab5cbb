"""The practice upload sandbox in a real browser: headless Chromium against the app on a live
port, from the manage link to an accepted corrected file."""

import csv
import io
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import THREE_DAYS_AGO, accessibility_problems, live_server, program_values
from flask import Flask
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from training.booking.models import Program, TrainingSession
from training.booking.services import SignupDetails, book_signup
from training.extensions import db, utcnow
from training.sandbox import rules, services, tasks

pytestmark = [pytest.mark.browser, pytest.mark.clock]

TIMEOUT_MS = 10_000
RESULTS_URL = re.compile(r"/sandbox/attempts/(\d+)$")


@dataclass(frozen=True)
class LiveSite:
    url: str
    app: Flask
    token: str


def _book_an_organization() -> str:
    """A program, a session and a confirmed booking; returns its manage token."""
    now = utcnow()
    program = Program(**program_values(now))
    session = TrainingSession(
        starts_at=now + timedelta(days=3), ends_at=now + timedelta(days=3, hours=1), seats=8
    )
    program.sessions.append(session)
    db.session.add(program)
    db.session.flush()
    _signup, token = book_signup(
        program,
        SignupDetails("Sierra Valley Medical Society", "Ana Reyes", "ana@sierra.example.org"),
        [session],
        submission_key="browser-sandbox-test-key",
        join_waitlist=True,
        now=now,
    )
    db.session.commit()
    return token


@pytest.fixture
def site(make_live_app, frozen_clock):
    """The real app, CSRF on, on a fresh SQLite database, served on a free loopback port, its
    clock frozen (ticking) on a Tuesday morning."""
    app = make_live_app(SANDBOX_POLL_SECONDS=0.2)
    with app.app_context():
        token = _book_an_organization()
    with live_server(app) as url:
        yield LiveSite(url=url, app=app, token=token)


def _tab(browser, site: LiveSite, **options) -> Page:
    context = browser.new_context(base_url=site.url, accept_downloads=True, **options)
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


@pytest.fixture
def page(browser, site):
    tab = _tab(browser, site)
    yield tab
    tab.context.close()


@pytest.fixture
def page_without_script(browser, site):
    tab = _tab(browser, site, java_script_enabled=False)
    yield tab
    tab.context.close()


def download(page: Page, link_name: str, tmp_path: Path) -> Path:
    """Click a download link and keep the file under its suggested name."""
    with page.expect_download() as info:
        page.get_by_role("link", name=link_name, exact=True).click()
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    return target


def start_from_the_example_activity(page: Page) -> None:
    """Add the example activity, and wait for the page that says so: a link clicked on the page
    before it (which has the same download links) would be lost in the navigation."""
    page.get_by_role("button", name="Start from the example activity").click()
    expect(page.get_by_role("status").first).to_contain_text("Added the example activity 200012345")


def open_sandbox(page: Page, site: LiveSite) -> None:
    page.goto(f"/manage/{site.token}")
    page.get_by_role("link", name=re.compile("^Practice upload sandbox")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Practice upload sandbox")
    # A click's navigation is waited for only until the page shows: the deferred sandbox.js
    # (the upload's size check, its progress bar) has run by the load event, as it has by the
    # time a person clicks.
    page.wait_for_load_state("load")


def upload(page: Page, path: Path) -> None:
    page.get_by_label("Learner file", exact=True).set_input_files(path)
    page.get_by_role("button", name="Upload and check").click()
    expect(page).to_have_url(RESULTS_URL)


def test_organization_practises_an_upload_from_template_to_accepted_file(page, site, tmp_path):
    open_sandbox(page, site)
    start_from_the_example_activity(page)

    template = load_workbook(download(page, "Learner template (Excel .xlsx)", tmp_path))
    assert template.active["A1"].value == rules.GUIDANCE_LINE
    assert tuple(cell.value for cell in template.active[2]) == rules.TEMPLATE_HEADER_ROW

    upload(page, download(page, "Practice file (.xlsx)", tmp_path))
    expect(page.get_by_role("heading", level=1)).to_have_text("Results: practice-learners.xlsx")
    expect(page.locator("main")).to_contain_text("rows were rejected")
    findings = page.locator("table.findings")
    expect(findings).to_contain_text("DOB_HAS_YEAR")
    expect(findings).to_contain_text("Date of Birth has a year")
    expect(findings).to_contain_text("BOARD_NOT_REGISTERED")

    page.get_by_label("Code", exact=True).select_option("DUPLICATE_ROW")
    page.get_by_role("button", name="Show").click()
    expect(findings.locator("tbody tr")).to_have_count(1)
    expect(findings).to_contain_text("DUPLICATE_ROW")
    page.screenshot(path=str(tmp_path / "results.png"), full_page=True)

    findings_file = download(page, "Download the findings (.csv)", tmp_path)
    assert findings_file.read_bytes().startswith("\ufeff".encode())  # a BOM: Excel reads UTF-8
    lines = findings_file.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "row,column,severity,code,message"
    codes = {row["code"] for row in csv.DictReader(io.StringIO("\n".join(lines)))}
    assert {"DOB_HAS_YEAR", "STATE_UNKNOWN", "DUPLICATE_ROW", "DELETE_NOT_FOUND"} <= codes

    page.get_by_role("link", name="Back to your sandbox and its upload history").click()
    upload(page, download(page, "Corrections for the practice file (.xlsx)", tmp_path))
    expect(page.get_by_role("heading", level=1)).to_have_text("Results: practice-corrections.xlsx")
    expect(page.locator("main")).to_contain_text(re.compile(r"All \d+ rows were accepted"))

    page.get_by_role("link", name="Back to your sandbox and its upload history").click()
    history = page.locator("#history table")
    expect(history.locator("tbody tr")).to_have_count(2)
    expect(history).to_contain_text("Checked, no errors")


def test_a_large_file_shows_progress_and_then_its_results(page, site, tmp_path):
    site.app.config["SANDBOX_INLINE_MAX_ROWS"] = 1
    open_sandbox(page, site)
    start_from_the_example_activity(page)
    upload(page, download(page, "Practice file (.csv)", tmp_path))
    expect(page.get_by_role("heading", name="Checking the file")).to_be_visible()
    expect(page.locator(".judging-text")).to_have_text("Waiting for its turn to be checked")
    with site.app.app_context():
        assert tasks.work() == 1

    # The page polls its status and shows the results once the worker is done.
    expect(page.locator("main")).to_contain_text(
        re.compile(r"\d+ of [\d,]+ rows? (was|were) rejected")
    )
    expect(page.locator("table.findings")).to_contain_text("DOB_HAS_YEAR")
    expect(page.get_by_role("heading", name="Checking the file")).to_have_count(0)


def test_the_upload_works_without_javascript(page_without_script, site, tmp_path):
    page = page_without_script
    page.goto(f"/manage/{site.token}/sandbox")
    path = tmp_path / "learners.csv"
    path.write_text(",".join(rules.HEADERS) + "\r\n")
    upload(page, path)
    expect(page.get_by_role("alert")).to_contain_text("The file could not be checked.")
    expect(page.get_by_role("alert")).to_contain_text("FILE_EMPTY")


def test_a_file_over_the_limit_is_stopped_before_it_is_sent(page, site, tmp_path):
    site.app.config["SANDBOX_MAX_UPLOAD_BYTES"] = 100
    open_sandbox(page, site)
    path = tmp_path / "big.csv"
    path.write_text("x" * 500)
    page.get_by_label("Learner file", exact=True).set_input_files(path)
    page.get_by_role("button", name="Upload and check").click()
    expect(page.locator(".upload-progress-text")).to_have_text(
        "The file is larger than 100 bytes; split it into smaller files and upload each."
    )
    expect(page).to_have_url(re.compile(r"/sandbox$"))


def test_sandbox_pages_have_no_serious_accessibility_problems(page, site, tmp_path):
    problems: list[str] = []

    def check(page_name: str) -> None:
        problems.extend(accessibility_problems(page, page_name))

    open_sandbox(page, site)
    check("sandbox home, empty")
    page.get_by_role("link", name="Add an activity").click()
    check("activity form")
    page.get_by_role("button", name="Add this activity").click()
    expect(page.get_by_role("alert")).to_contain_text("Please correct")
    check("activity form with errors")
    page.goto(f"/manage/{site.token}/sandbox")
    start_from_the_example_activity(page)
    upload(page, download(page, "Practice file (.csv)", tmp_path))
    check("results page")
    page.get_by_role("link", name="Back to your sandbox and its upload history").click()
    check("sandbox home with an upload")
    page.get_by_role("link", name="Delete all of our sandbox data").click()
    check("delete page")
    page.get_by_role("button", name="Delete our sandbox data").click()
    check("delete page with errors")

    assert not problems, "\n".join(problems)


def _lms_export(path: Path) -> list:
    """A provider's own spreadsheet, saved as CSV: its own headers, family name first."""
    entries = [
        entry
        for entry in services.read_register_entries()
        if entry.license_number and not entry.board and entry.state in rules.PARS_STATES
    ][:3]
    done = THREE_DAYS_AGO
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(["Surname", "Given", "Birth Date", "Lic No", "State", "Completed",
                         "CME", "Notes"])  # fmt: skip
        for entry in entries:
            writer.writerow(
                [entry.last_name, entry.first_name,
                 f"1979-{entry.birth_month:02d}-{entry.birth_day:02d}", entry.license_number,
                 entry.state, f"{done:%m/%d/%Y}", "1", "attended in person"]
            )  # fmt: skip
    return entries


def test_a_provider_maps_its_own_spreadsheet_and_downloads_a_pars_ready_file(page, site, tmp_path):
    problems: list[str] = []

    def check(page_name: str) -> None:
        problems.extend(accessibility_problems(page, page_name))

    open_sandbox(page, site)
    start_from_the_example_activity(page)
    entries = _lms_export(tmp_path / "lms-export.csv")
    upload(page, tmp_path / "lms-export.csv")
    expect(page.get_by_role("heading", name="Match your columns to the template")).to_be_visible()
    check("results with a column mapping to confirm")

    # The proposal, in labelled selects: "Surname" is a known name, "Given" is not.
    expect(page.get_by_label("Column A, headed “Surname”")).to_have_value(rules.LAST_NAME)
    expect(page.get_by_label("Column C, headed “Birth Date”")).to_have_value(
        rules.BIRTH_DATE_COLUMN
    )
    given = page.get_by_label("Column B, headed “Given”")
    expect(given).to_have_value("")
    given.focus()
    given.select_option(label=rules.FIRST_NAME)
    page.get_by_role("button", name="Show the preview with these columns").click()
    preview = page.get_by_role("table", name="The first rows as they will be read")
    first = entries[0]
    expect(preview).to_contain_text(first.first_name)
    expect(preview).to_contain_text(f"{first.birth_month:02d}/{first.birth_day:02d}")
    expect(preview).not_to_contain_text("1979")
    check("mapping preview")

    page.get_by_role("button", name="Check the file with these columns").press("Enter")
    expect(page.locator("main")).to_contain_text("All 3 rows were accepted")
    expect(page.locator("main")).to_contain_text("read through the column mapping you confirmed")
    check("results of the mapped file")

    workbook = load_workbook(download(page, "PARS-ready file (Excel .xlsx)", tmp_path))
    sheet = workbook["Learners"]
    assert sheet["A1"].value == rules.GUIDANCE_LINE
    assert tuple(cell.value for cell in sheet[2]) == rules.TEMPLATE_HEADER_ROW
    assert [cell.value for cell in sheet[3]][:6][3:] == [
        first.first_name,
        first.last_name,
        f"{first.birth_month:02d}/{first.birth_day:02d}",
    ]
    text = download(page, "PARS-ready file (tab-delimited .txt, accepted rows only, no header "
                    "row)", tmp_path).read_text(encoding="utf-8")  # fmt: skip
    assert len(text.splitlines()) == 3 and text.startswith("Add\t200012345\t")
    assert not problems, "\n".join(problems)


def test_the_column_mapping_works_without_javascript(page_without_script, site, tmp_path):
    page = page_without_script
    page.goto(f"/manage/{site.token}/sandbox")
    start_from_the_example_activity(page)
    _lms_export(tmp_path / "lms-export.csv")
    upload(page, tmp_path / "lms-export.csv")
    page.get_by_label("Column B, headed “Given”").select_option(label=rules.FIRST_NAME)
    page.get_by_role("button", name="Check the file with these columns").click()
    expect(page.locator("main")).to_contain_text("All 3 rows were accepted")


def _name_export(path: Path) -> None:
    """An LMS export with one Name column, titles and credentials as the LMS keeps them."""
    entries = [
        entry
        for entry in services.read_register_entries()
        if entry.license_number and not entry.board and entry.state in rules.PARS_STATES
    ][:2]
    done = THREE_DAYS_AGO
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(["Name", "DOB (MM/DD)", "Lic No", "State", "Completed", "CME"])
        for title, entry in zip(("Dr.", "Ms."), entries, strict=True):
            writer.writerow(
                [f"{title} {entry.first_name} {entry.last_name}, MD",
                 f"{entry.birth_month:02d}/{entry.birth_day:02d}", entry.license_number,
                 entry.state, f"{done:%m/%d/%Y}", "1"]
            )  # fmt: skip


def test_keyboard_focus_follows_the_preview_and_the_mapping_errors(page, site, tmp_path):
    problems: list[str] = []

    def check(page_name: str) -> None:
        problems.extend(accessibility_problems(page, page_name))

    open_sandbox(page, site)
    start_from_the_example_activity(page)
    _name_export(tmp_path / "lms-export.csv")
    upload(page, tmp_path / "lms-export.csv")
    page.get_by_role("button", name="Show the preview with these columns").press("Enter")
    preview = page.get_by_role("region", name="The first rows as they will be read")
    expect(preview).to_be_focused()
    expect(preview).to_contain_text("left out Dr., MD")
    check("mapping preview with names split")

    page.get_by_label("Column D, headed “State”").select_option(label="Not used")
    page.get_by_label("Column C, headed “Lic No”").select_option(label="Not used")
    page.get_by_label("Column E, headed “Completed”").select_option(label="Not used")
    page.get_by_role("button", name="Check the file with these columns").press("Enter")
    summary = page.get_by_role("alert").filter(has_text="Please correct")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Completion Date")
    check("mapping refused")
    assert not problems, "\n".join(problems)


def test_a_large_file_s_pars_ready_file_is_prepared_by_the_worker_then_downloaded(
    page, site, tmp_path
):
    site.app.config["SANDBOX_INLINE_MAX_ROWS"] = 1
    open_sandbox(page, site)
    start_from_the_example_activity(page)
    upload(page, download(page, "Practice file (.csv)", tmp_path))
    with site.app.app_context():
        assert tasks.work() == 1
    expect(page.locator("main")).to_contain_text(
        re.compile(r"\d+ of [\d,]+ rows? (was|were) rejected")
    )
    expect(page.get_by_role("link", name="PARS-ready file (Excel .xlsx)")).to_have_count(0)
    problems = accessibility_problems(page, "results with a file to prepare")

    page.get_by_role("button", name="Prepare the PARS-ready file").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#pars-ready .judging-text")).to_have_text(
        "The Excel file (1 of 2) is waiting for its turn to be prepared"
    )
    expect(page.get_by_label("Rows written to the files")).to_be_visible()
    problems += accessibility_problems(page, "results while the file is prepared")
    with site.app.app_context():
        assert tasks.make_files() == 2

    # The page polls the files' status and shows the links once the worker is done.
    workbook = load_workbook(download(page, "PARS-ready file (Excel .xlsx)", tmp_path))
    assert workbook.sheetnames == ["Learners", "Rejected rows", "ValidValues"]
    assert workbook["Learners"]["A1"].value == rules.GUIDANCE_LINE
    assert not problems, "\n".join(problems)


def test_a_file_being_prepared_is_followed_without_javascript(page_without_script, site, tmp_path):
    page = page_without_script
    site.app.config["SANDBOX_INLINE_MAX_ROWS"] = 1
    page.goto(f"/manage/{site.token}/sandbox")
    start_from_the_example_activity(page)
    path = download(page, "Practice file (.csv)", tmp_path)
    upload(page, path)
    with site.app.app_context():
        assert tasks.work() == 1
    page.get_by_role("link", name="Refresh this page").click()
    page.get_by_role("button", name="Prepare the PARS-ready file").click()
    expect(page.locator("#pars-ready .judging-text")).to_contain_text("waiting for its turn")
    with site.app.app_context():
        assert tasks.make_files() == 2
    page.get_by_role("link", name="Refresh this page").click()
    name = "PARS-ready file (tab-delimited .txt, accepted rows only, no header row)"
    assert download(page, name, tmp_path).read_bytes().count(b"\r\n") >= 1


def test_a_tab_following_an_upload_deleted_from_another_keeps_only_the_message(
    page, site, tmp_path
):
    site.app.config["SANDBOX_INLINE_MAX_ROWS"] = 1
    open_sandbox(page, site)
    start_from_the_example_activity(page)
    upload(page, download(page, "Practice file (.csv)", tmp_path))
    expect(page.get_by_role("heading", name="Checking the file")).to_be_visible()

    # Another tab deletes the sandbox data while this one follows the check.
    other = page.context.new_page()
    other.goto(f"/manage/{site.token}/sandbox/delete")
    other.locator("form.stacked input[type=checkbox]").first.check()
    other.locator("form.stacked button[type=submit]").click()
    expect(other.get_by_role("status").first).to_contain_text("Deleted")

    main = page.locator("main")
    expect(main.get_by_role("alert")).to_contain_text("This upload is not in your sandbox")
    expect(page.get_by_role("heading", name="Checking the file")).to_have_count(0)
    expect(main).not_to_contain_text("Refresh this page")
    expect(main).not_to_contain_text("Waiting for its turn")
    page.get_by_role("link", name="Back to your sandbox").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Practice upload sandbox")
