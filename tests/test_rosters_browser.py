"""A staff member moves an organization in a real browser and downloads the roster."""

import csv
import io
from datetime import timedelta

import pytest
from conftest import ATTESTATION, PASSWORD, accessibility_problems, live_server
from playwright.sync_api import expect

from training.booking.models import Program, TrainingSession
from training.booking.services import SignupDetails, book_signup
from training.extensions import db, utcnow
from training.staff.services import create_staff

pytestmark = [pytest.mark.browser, pytest.mark.clock]

TIMEOUT_MS = 5_000


@pytest.fixture
def site(make_live_app, frozen_clock):
    """The app, CSRF on, with two sessions and one organization booked on the first, its clock
    frozen (ticking) on a Tuesday morning."""
    app = make_live_app()
    with app.app_context():
        now = utcnow().replace(second=0, microsecond=0)
        program = Program(
            slug="learner-credit",
            name="Learner Credit Reporting Training",
            description="Small-group sessions.",
            timezone="America/Los_Angeles",
            window_starts_on=now.date(),
            window_ends_on=(now + timedelta(days=30)).date(),
            signup_opens_at=now - timedelta(days=1),
            signup_closes_at=now + timedelta(days=20),
            staff_email="staff@training.example.org",
            accme_challenge_due_on=(now + timedelta(days=9)).date(),
            cma_challenge_due_on=(now + timedelta(days=90)).date(),
            attestation_text=ATTESTATION,
        )
        sessions = [
            TrainingSession(
                program=program,
                starts_at=now + timedelta(days=days),
                ends_at=now + timedelta(days=days, minutes=90),
                seats=8,
            )
            for days in (3, 6)
        ]
        db.session.add_all(sessions)
        db.session.flush()
        book_signup(
            program,
            SignupDetails("North Clinic", "Ana Reyes", "ana@north.example.org"),
            [sessions[0]],
            submission_key="browser-test-submission",
            join_waitlist=False,
            now=now,
        )
        create_staff("pat@cmadocs.example.org", PASSWORD, "staff")
        db.session.commit()
        session_ids = [session.id for session in sessions]
    with live_server(app) as url:
        yield url, session_ids


@pytest.fixture
def page(browser, site):
    context = browser.new_context(base_url=site[0], accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


def test_staff_move_an_organization_and_download_the_roster(site, page):
    _url, (first, second) = site
    page.goto(f"/staff/sessions/{first}")
    page.get_by_label("Email").fill("pat@cmadocs.example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Booked (1)")).to_be_visible()

    page.get_by_label("Move to").select_option(str(second))
    page.get_by_role("button", name="Move North Clinic").click()
    expect(page.get_by_text("Moved North Clinic to")).to_be_visible()
    expect(page.get_by_role("heading", name="Booked (0)")).to_be_visible()

    console = page.get_by_role("navigation", name="Staff console")
    console.get_by_role("link", name="Sessions", exact=True).click()
    page.locator(f'a[href="/staff/sessions/{second}"]').click()
    expect(page.get_by_role("heading", name="North Clinic")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    assert download.value.suggested_filename.startswith("roster-")
    with open(download.value.path(), encoding="utf-8-sig") as exported:
        rows = list(csv.reader(io.StringIO(exported.read())))
    assert [row[0] for row in rows] == ["Organization", "North Clinic"]


def test_the_print_view_prints_organizations_and_a_check_in_column_without_controls(site, page):
    _url, (first, _second) = site
    page.goto(f"/staff/sessions/{first}")
    page.get_by_label("Email").fill("pat@cmadocs.example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Print view").click()
    table = page.get_by_role("table", name="Organizations booked")
    expect(table.get_by_role("columnheader", name="Checked in")).to_be_visible()
    expect(table.get_by_role("rowheader", name="North Clinic")).to_be_visible()
    expect(table).to_contain_text("ana@north.example.org")
    expect(page.get_by_role("button", name="Print this roster")).to_be_visible()
    assert accessibility_problems(page) == []

    page.emulate_media(media="print")
    # On paper: the table, and nothing to click, choose or type into.
    expect(table).to_be_visible()
    for control in ("a", "button", "form", "select", "textarea", "input", "nav"):
        assert not page.locator(control).filter(visible=True).count(), control
