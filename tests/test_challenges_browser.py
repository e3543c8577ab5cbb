"""An organization records its PARS entries in a real browser and sees itself eligible."""

from datetime import timedelta

import pytest
from conftest import accessibility_problems
from playwright.sync_api import expect

# The booking flow's live site and tab fixtures; the browser comes from conftest.
from test_booking_browser import PACIFIC, SITE_MOMENT, page, sign_up_for, site  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.clock]


def test_organization_records_two_activities_and_sees_itself_eligible(page, site):  # noqa: F811
    sign_up_for(page, site.session)
    page.goto(page.url.replace("/confirmation", ""))
    page.get_by_role("link", name="The ACCME and CMA Challenges: record your PARS entries").click()
    expect(page.get_by_role("heading", name="The ACCME and CMA Challenges")).to_be_visible()
    status = page.locator(".challenge-status li")
    expect(status.first).to_contain_text("0 of 2 activities recorded")
    expect(status.last).to_contain_text("0 of 4 activities recorded")

    # The day before the site's frozen Monday, in California.
    yesterday = (SITE_MOMENT.astimezone(PACIFIC) - timedelta(days=1)).date()
    for activity_id in ("201234567", "201234568"):
        page.get_by_label("ACCME activity ID").fill(activity_id)
        page.get_by_label("Date you entered the learners in PARS").fill(yesterday.isoformat())
        page.get_by_label("Number of learners entered").fill("25")
        page.get_by_role("button", name="Record this activity").click()
        expect(page.get_by_role("status")).to_contain_text(f"Recorded activity {activity_id}.")

    expect(status.first).to_contain_text("Met: 2 activities recorded (2 needed)")
    expect(status.last).to_contain_text("2 of 4 activities recorded")
    expect(page.locator(".challenge-status .badge-ok")).to_have_text("Met")
    expect(page.get_by_text("once CMA staff verify your entries")).to_be_visible()

    assert accessibility_problems(page) == []
