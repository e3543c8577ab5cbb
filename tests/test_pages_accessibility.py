"""Every page a person can reach by following links, an organization's and every staff page,
in a real browser: no serious accessibility problem (axe), no id used twice, no error page."""

# Fixtures are imported to be used by name, which ruff reads as redefining them.
# ruff: noqa: F811

import re
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pytest
from conftest import PASSWORD, accessibility_problems, live_server, signup_form
from playwright.sync_api import Page, expect
from test_app_fuzz import world  # noqa: F401  (records for every path value)
from test_pages_phone import database_url, html_pages, longest_dates  # noqa: F401

from training.booking.seeding import seed_program
from training.extensions import db, seed_path, utcnow
from training.live import steps as live_steps
from training.staff.services import create_staff

pytestmark = [pytest.mark.browser, pytest.mark.clock]

# Signups open (they opened Nov 1), the demo program's sessions from Nov 18 still ahead.
SITE_MOMENT = datetime(2026, 11, 10, 18, 0, tzinfo=UTC)
TIMEOUT_MS = 10_000
# Files, and links that end something rather than show it.
NOT_PAGES = re.compile(r"\.(csv|xlsx|txt|ics|pdf|json)$|/sign-out$|/status$|/poll$")
# Pages of one kind (sessions/1, sessions/2...; a path with a filter or page 2) are looked at
# this many times: they share a template.
PER_KIND = 2


@pytest.fixture
def site(make_live_app, time_machine):
    time_machine.move_to(SITE_MOMENT, tick=True)
    app = make_live_app()
    with app.app_context():
        live_steps.seed_walkthrough(seed_path("walkthrough"))
        seed_program(seed_path("demo_program.toml"), 2026, utcnow())
        create_staff("boss@cmadocs.example.org", PASSWORD, "admin", name="Dana Boss")
        db.session.commit()
    with live_server(app) as url:
        yield url


@pytest.fixture
def page(browser, site):
    context = browser.new_context(base_url=site)
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    yield tab
    context.close()


def crawl(page: Page, site: str, start: str, *, within: str) -> list[str]:
    """Visit every page reachable from ``start`` by links whose path starts with ``within``;
    return the problems found, one line each (pages visited are named by their address)."""
    problems: list[str] = []
    seen: set[str] = set()
    kinds: dict[str, int] = {}
    waiting = deque([start])
    while waiting:
        address = waiting.popleft()
        if address in seen:
            continue
        seen.add(address)
        response = page.goto(address)
        assert response is not None
        if response.status >= 500 or response.status == 404:
            problems.append(f"{address}: HTTP {response.status}")
            continue
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        problems += accessibility_problems(page, address)
        for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)"):
            link, _fragment = urldefrag(href)
            parts = urlsplit(link)
            if link.rstrip("/") + "/" == site.rstrip("/") + "/" and within != "/":
                continue
            if not link.startswith(site) or not parts.path.startswith(within):
                continue
            local = parts.path + (f"?{parts.query}" if parts.query else "")
            if NOT_PAGES.search(parts.path) or local in seen or local in waiting:
                continue
            kind = re.sub(r"/\d+(?=/|$)", "/N", parts.path) + ("?" if parts.query else "")
            kinds[kind] = kinds.get(kind, 0) + 1
            if kinds[kind] > PER_KIND:
                continue
            waiting.append(local)
    assert len(seen) > 3, seen  # the crawl went somewhere
    return problems


def sign_up(page: Page) -> str:
    """Sign an organization up for the first open date; return its manage page's path."""
    page.goto("/signup")
    page.get_by_label("Organization name").fill("Sierra Valley Medical Society")
    page.get_by_label("Contact name").fill("Ana Reyes")
    page.get_by_label("Contact email").fill("ana.reyes@sierravalley.example.org")
    page.get_by_label("Emails of staff who will attend").fill("lee@sierravalley.example.org")
    page.get_by_label("Your date").select_option(index=1)
    page.get_by_role("checkbox", name=re.compile("each learner's permission")).check()
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/manage/[\w-]+/confirmation$"))
    return urlsplit(page.url).path.removesuffix("/confirmation")


def test_every_page_an_organization_reaches_is_accessible(page, site, tmp_path):
    manage = sign_up(page)
    page.goto(f"{manage}/sandbox")
    page.get_by_role("button", name="Start from the example activity").click()
    # The page after it has the same link: wait for it, or the click is lost in the navigation.
    expect(page.get_by_role("status").first).to_contain_text("Added the example activity")
    with page.expect_download() as info:
        page.get_by_role("link", name="Practice file (.csv)", exact=True).click()
    practice = Path(tmp_path / "practice.csv")
    info.value.save_as(practice)
    page.get_by_label("Learner file", exact=True).set_input_files(practice)
    page.get_by_role("button", name="Upload and check").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Results")

    problems = crawl(page, site, "/", within="/")
    problems += crawl(page, site, manage, within=manage)
    assert not problems, "\n".join(problems)


def test_every_staff_page_an_admin_reaches_is_accessible(page, site):
    sign_up(page)  # a booking, so rosters, signups and the audit log have a row
    page.context.clear_cookies()
    page.goto("/staff/sign-in")
    page.get_by_label("Email").fill("boss@cmadocs.example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/staff/?$"))

    problems = crawl(page, site, "/staff/", within="/staff")
    assert not problems, "\n".join(problems)


def test_every_page_of_the_url_map_has_no_serious_accessibility_problem(
    longest_dates, app, world, browser
):
    problems = []
    with live_server(app) as url:
        for role in ("anonymous", "admin"):
            context = browser.new_context(base_url=url)
            if world.cookies.get(role):
                context.add_cookies([{"name": "session", "value": world.cookies[role], "url": url}])
            page = context.new_page()
            for endpoint, path in html_pages(context, app, world, role):
                page.goto(path)
                problems += accessibility_problems(page, f"{endpoint} {path}")
            context.close()
    assert not problems, "\n".join(problems)


TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def test_every_focusable_scroll_box_is_a_named_region():
    """A box that scrolls a table takes keyboard focus (tabindex="0"), so it must say what it
    is: every one is drawn by the ``table_scroll`` macro (role="region" and a label) or carries
    them itself."""
    unnamed = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        for number, line in enumerate(template.read_text(encoding="utf-8").splitlines(), 1):
            focusable_box = 'tabindex="0"' in line and "table-scroll" in line
            if focusable_box and ('role="region"' not in line or "aria-label" not in line):
                unnamed.append(f"{template.relative_to(TEMPLATES)}:{number}")
    assert unnamed == []


def test_the_challenges_table_scroll_box_is_named(client, token):
    client.post(
        f"/manage/{token}/challenges",
        data={"activity_id": "201234567", "entered_on": utcnow().date().isoformat(), "learners": 3},
    )
    markup = client.get(f"/manage/{token}/challenges").get_data(as_text=True)
    assert (
        'class="table-scroll" tabindex="0" role="region" '
        'aria-label="Activities entered, with their learners and status"'
    ) in markup


def test_every_focusable_element_gets_the_same_3px_focus_ring():
    """ "Show past sessions" (a summary) and the scroll boxes had a 1px or 2px ring."""
    css = (Path(__file__).resolve().parent.parent / "training/static/style.css").read_text()
    rules = re.findall(r"([^{}]+)\{([^}]*)\}", re.sub(r"/\*.*?\*/", "", css, flags=re.S))
    focus_rules = [(selectors, body) for selectors, body in rules if "focus" in selectors]
    ring = next(body for selectors, body in focus_rules if "a:focus-visible" in selectors)
    ringed = next(selectors for selectors, body in focus_rules if body == ring)
    assert "3px solid" in ring
    assert "summary:focus-visible" in ringed and '[tabindex="0"]:focus-visible' in ringed
    assert [s for s, body in focus_rules if "outline:" in body and "3px" not in body] == []


def landmark_names(markup: str) -> list[str]:
    """The names a screen reader lists the page's regions by: each labelled section's heading
    and each scroll box's label."""
    headings = dict(re.findall(r'<h\d id="([^"]+)">(.*?)</h\d>', markup, re.S))
    sections = re.findall(r'<section[^>]*aria-labelledby="([^"]+)"', markup)
    boxes = re.findall(r'role="region" aria-label="([^"]+)"', markup)
    return [re.sub(r"\s+", " ", headings[id]).strip() for id in sections] + boxes


def test_each_pair_of_possible_duplicates_is_a_region_named_by_its_organizations(
    client, sign_in_as, make_session
):
    session_id = make_session()
    for name, email in (
        ("Sierra Valley Medical Society", "ana@sierravalley.example.org"),
        ("Sierra Valley Medical Societies", "pat@sierravalley.example.org"),
        ("Sierra Valley Med Society", "lee@sierravalley.example.org"),
    ):
        client.post(
            "/signup",
            data=signup_form(session_id, organization_name=name, contact_email=email),
        )
    sign_in_as("staff")

    names = landmark_names(client.get("/staff/duplicates").get_data(as_text=True))

    assert (
        "Sierra Valley Medical Society (signup 1) and Sierra Valley Medical Societies "
        "(signup 2), side by side"
    ) in names
    assert len(names) == len(set(names))


def test_the_dashboard_names_no_two_regions_alike(client, sign_in_as):
    sign_in_as("admin")

    names = landmark_names(client.get("/staff/").get_data(as_text=True))

    assert "Background workers" in names
    assert len(names) == len(set(names))
