"""Every page fits a 375 px phone screen: nothing scrolls sideways but a wide table inside its
own box, with its first column kept in view."""

# The fuzz test's `world` fixture is imported to be used by name, which ruff reads as redefining it.
# ruff: noqa: F811

from datetime import UTC, datetime

import pytest
from conftest import live_server
from test_app_fuzz import World, world  # noqa: F401  (records for every path value)
from werkzeug.routing import Rule

pytestmark = [pytest.mark.browser, pytest.mark.clock]

PHONE = {"width": 375, "height": 740}
# What a page may name beside its path: the merge page needs to know which signup stays.
QUERY = {"signups.confirm_merge": "?pair-{first_id}-{second_id}-merge-keep=first"}

OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  const inScrollBox = (element) => element.closest('.table-scroll') !== null;
  return [...document.querySelectorAll('body *')]
    .filter((element) => element.getBoundingClientRect().right > width + 0.5)
    .filter((element) => !inScrollBox(element) || element.classList.contains('table-scroll'))
    .map((element) => element.tagName.toLowerCase() + (element.id ? '#' + element.id : '')
      + (element.className && typeof element.className === 'string'
         ? '.' + element.className.trim().split(/\\s+/).join('.') : ''))
    .slice(0, 3);
}"""


@pytest.fixture
def longest_dates(time_machine):
    """The clock on a Sunday at 11:30 AM in California: the world's sessions fall on a
    Wednesday and a Saturday in December and run past noon, the longest dates and times a
    page shows ("Wednesday, December 2, 2026, 11:30 AM – 1:00 PM")."""
    time_machine.move_to(datetime(2026, 11, 29, 19, 30, tzinfo=UTC), tick=True)


@pytest.fixture
def database_url(tmp_path):
    """One database is enough to see the pages: SQLite."""
    return f"sqlite:///{tmp_path / 'phone.sqlite3'}"


def page_paths(app, world: World) -> list[tuple[str, str]]:
    """(endpoint, path) of every page a person opens with GET, with real path values."""
    paths = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        values = {name: _value(rule, name, world) for name in rule.arguments}
        path = _build(rule, values) + QUERY.get(rule.endpoint, "").format(**values)
        paths.append((rule.endpoint, path))
    return paths


def html_pages(context, app, world: World, role: str):
    """(endpoint, path) of every page of ``page_paths`` that ``role`` ("anonymous": public and
    manage pages; "admin": staff pages) opens as HTML in ``context``, asked first without a
    tab: downloads, feeds and JSON are not pages."""
    for endpoint, path in page_paths(app, world):
        if path.startswith("/staff") != (role == "admin"):
            continue
        headers = context.request.get(path, max_redirects=0).headers
        if "text/html" not in headers.get("content-type", "") or (
            "attachment" in headers.get("content-disposition", "")
        ):
            continue
        yield endpoint, path


def _value(rule: Rule, name: str, world: World) -> str:
    """A real value for the path parameter ``name``: one of an ``any(...)``'s words, else a
    record of the world."""
    items = getattr(rule._converters[name], "items", None)
    return sorted(items)[0] if items else world.path_values(name)[0]


def _build(rule: Rule, values: dict[str, str]) -> str:
    return rule.build(values, append_unknown=False)[1]


def test_every_page_fits_a_phone_screen_without_sideways_scrolling(
    longest_dates, app, world, browser
):
    problems = []
    with live_server(app) as url:
        for role in ("anonymous", "admin"):
            context = browser.new_context(base_url=url, viewport=PHONE)
            if world.cookies.get(role):
                context.add_cookies([{"name": "session", "value": world.cookies[role], "url": url}])
            page = context.new_page()
            for endpoint, path in html_pages(context, app, world, role):
                page.goto(path)
                wide = page.evaluate("document.documentElement.scrollWidth")
                if wide > PHONE["width"]:
                    problems.append(f"{endpoint} {path}: {wide}px, {page.evaluate(OVERFLOWING)}")
            context.close()
    assert not problems, "\n".join(problems)


def test_a_wide_table_scrolls_in_its_own_box_keeping_its_first_column(
    longest_dates, app, world, browser
):
    with live_server(app) as url:
        context = browser.new_context(base_url=url, viewport=PHONE)
        context.add_cookies([{"name": "session", "value": world.cookies["admin"], "url": url}])
        page = context.new_page()
        page.goto("/staff/audit/")
        box = page.locator(".table-scroll").first
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert box.evaluate("box => box.scrollWidth > box.clientWidth")
        first_cell = box.locator("tbody tr").first.locator("td, th").first
        before = first_cell.bounding_box()["x"]
        box.evaluate("box => { box.scrollLeft = 200; }")
        # The rest of the row moved; the first column stayed where it was.
        assert first_cell.bounding_box()["x"] == before
        assert box.locator("tbody tr").first.locator("td").nth(2).bounding_box()["x"] < 375
        context.close()
