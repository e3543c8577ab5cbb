"""Staff pages in a real browser: the password fields look like every other field."""

import pytest
from conftest import PASSWORD, accessibility_problems, live_server

from training.extensions import db
from training.staff.services import create_staff

pytestmark = pytest.mark.browser

# What makes a field readable at a glance: its box, its border and its text.
LOOKS = ["height", "padding-left", "border-top-width", "border-top-color", "font-size"]


def looks(page, selector: str) -> dict[str, str]:
    """The computed style of the field ``selector`` names, for the LOOKS properties."""
    return page.eval_on_selector(
        selector,
        "(field, names) => Object.fromEntries("
        "names.map(name => [name, getComputedStyle(field).getPropertyValue(name)]))",
        LOOKS,
    )


@pytest.fixture
def site(make_live_app):
    app = make_live_app()
    with app.app_context():
        create_staff("boss@cmadocs.example.org", PASSWORD, "admin")
        db.session.commit()
    with live_server(app) as url:
        yield url


def test_password_fields_look_like_the_email_field_on_sign_in_and_accounts(site, browser):
    page = browser.new_page()
    page.goto(f"{site}/staff/sign-in")
    email, password = looks(page, "input[type=email]"), looks(page, "input[type=password]")
    assert password == email
    # A comfortable target, not the browser's thin default box.
    assert page.locator("input[type=password]").bounding_box()["height"] >= 36
    assert accessibility_problems(page) == []

    page.get_by_label("Email").fill("boss@cmadocs.example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{site}/staff/accounts")
    assert looks(page, "#password") == looks(page, "#email")
    assert page.get_by_label("Role", exact=True).first.input_value() == "facilitator"
    assert accessibility_problems(page) == []
    page.close()
