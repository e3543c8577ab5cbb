"""The permission wording builder in a real browser: copy buttons, and boxes that fit."""

import pytest
from conftest import accessibility_problems, live_server
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

BUILDER = (
    "/resources/permission-wording/builder?organization=North+Clinic&duration=annual&wording=short"
)


@pytest.fixture
def site(make_live_app):
    with live_server(make_live_app()) as url:
        yield url


@pytest.mark.parametrize("width", [1280, 375])
def test_each_wording_has_a_copy_button_and_its_box_fits_the_page(site, browser, width):
    context = browser.new_context(base_url=site, viewport={"width": width, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site)
    page = context.new_page()
    page.goto(BUILDER)
    for label, button in (
        ("Plain text, to paste into a form", "Copy the plain text"),
        ("HTML, to paste into a web page", "Copy the HTML"),
    ):
        box = page.get_by_label(label)
        page.get_by_role("button", name=button).click()
        expect(page.get_by_role("status").filter(has_text="Copied.")).to_have_count(1)
        assert page.evaluate("navigator.clipboard.readText()") == box.input_value()
        assert "North Clinic" in box.input_value()
        main = page.locator("main").bounding_box()
        field = box.bounding_box()
        assert field["x"] >= main["x"] and field["x"] + field["width"] <= main["x"] + main["width"]
        # The next copy starts from a clear status.
        page.evaluate("document.querySelectorAll('.copy-status').forEach(s => s.textContent = '')")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert accessibility_problems(page) == []
    context.close()
