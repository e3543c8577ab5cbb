"""The public booking flow in a real browser: headless Chromium against the app on a live port."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import ATTESTATION, accessibility_problems, live_server, program_values
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from training.booking.models import Program, Signup, TrainingSession
from training.extensions import db, utcnow
from training.mail.models import OutboxMessage
from training.sandbox.models import SandboxAttempt

pytestmark = [pytest.mark.browser, pytest.mark.clock]

PACIFIC = ZoneInfo("America/Los_Angeles")
# Short waits: every page here is served from loopback, so a slow step is a failure.
TIMEOUT_MS = 5_000
CONFIRMATION_URL = re.compile(r"/manage/([\w-]+)/confirmation$")


@dataclass(frozen=True)
class BookableSession:
    """A session on the live site, and how the pages write its date."""

    id: int
    starts_at: datetime

    @property
    def when(self) -> str:
        """As the session list writes it: "Tue, Nov 28, 10:00–11:30 AM PT"."""
        local = self.starts_at.astimezone(PACIFIC)
        return f"{local:%a, %b} {local.day}, 10:00–11:30 AM PT"

    @property
    def long_date(self) -> str:
        """As the booking summary writes it: "Saturday, November 28, 2026"."""
        local = self.starts_at.astimezone(PACIFIC)
        return f"{local:%A, %B} {local.day}, {local.year}"


@dataclass(frozen=True)
class LiveSite:
    """The app serving on a loopback port, and the sessions it offers."""

    url: str
    app: Flask
    session: BookableSession  # open, 8 seats, 10:00–11:30 AM Pacific in three days
    later_session: BookableSession  # open, 8 seats, 10:00–11:30 AM Pacific in five days


def _pacific_morning(days_ahead: int) -> datetime:
    """10:00 AM Pacific ``days_ahead`` days from today (the site's frozen clock), in UTC."""
    day = utcnow().astimezone(PACIFIC).date() + timedelta(days=days_ahead)
    return datetime.combine(day, time(10, 0), tzinfo=PACIFIC).astimezone(UTC)


def _add_program_and_sessions() -> tuple[BookableSession, BookableSession]:
    """The program people sign up for: two open sessions, a full one and one already held."""
    now = utcnow()
    program = Program(**program_values(now))
    sessions = [
        TrainingSession(starts_at=_pacific_morning(days), seats=8, seats_booked=booked)
        for days, booked in ((3, 0), (5, 0), (7, 8), (-1, 3))
    ]
    for session in sessions:
        session.ends_at = session.starts_at + timedelta(minutes=90)
        program.sessions.append(session)
    db.session.add(program)
    db.session.commit()
    return tuple(BookableSession(s.id, s.starts_at) for s in sessions[:2])


# The site's clock: a Monday morning in California, ticking from there (the server's pages and
# the dates the tests pick read it; the browser's own clock is not used).
SITE_MOMENT = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)


@pytest.fixture
def site(make_live_app, time_machine):
    """The real app, CSRF on, on a fresh SQLite database, served on a free loopback port."""
    time_machine.move_to(SITE_MOMENT, tick=True)
    app = make_live_app()
    with app.app_context():
        session, later_session = _add_program_and_sessions()
    with live_server(app) as url:
        yield LiveSite(url=url, app=app, session=session, later_session=later_session)


@pytest.fixture
def page(browser, site):
    """A fresh browser context (no cookies) and tab on the live site."""
    tab = open_tab(browser, site)
    yield tab
    tab.context.close()


@pytest.fixture
def page_without_script(browser, site):
    """A tab with JavaScript turned off, as some people browse."""
    tab = open_tab(browser, site, java_script_enabled=False)
    yield tab
    tab.context.close()


def open_tab(browser: Browser, site: LiveSite, **context_options) -> Page:
    """A tab in a new browser context on ``site``; the caller closes its context."""
    context = browser.new_context(base_url=site.url, **context_options)
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


def fill_signup(
    page: Page,
    *,
    organization: str = "Sierra Valley Medical Society, Inc.",
    contact_name: str = "Ana Reyes",
    contact_email: str = "ana.reyes@sierravalley.example.org",
    attendees: str = "lee@sierravalley.example.org\nkim@sierravalley.example.org",
) -> None:
    """Fill in the signup form by the labels a person reads, and tick the attestation."""
    page.get_by_label("Organization name").fill(organization)
    page.get_by_label("Contact name").fill(contact_name)
    page.get_by_label("Contact email").fill(contact_email)
    page.get_by_label("Phone (optional)").fill("(916) 555-0100")
    page.get_by_label("Emails of staff who will attend").fill(attendees)
    page.get_by_label(ATTESTATION, exact=True).check()


def sign_up_for(page: Page, session: BookableSession, **details) -> None:
    """Start from the home page, sign up for ``session`` and wait for the confirmation."""
    page.goto("/")
    page.get_by_role("link", name=f"Sign up for {session.when}").click()
    fill_signup(page, **details)
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(CONFIRMATION_URL)


def wait_until(page: Page, condition: Callable[[], bool]) -> None:
    """Let the browser's events run until ``condition`` holds, or fail after the usual wait."""
    for _ in range(TIMEOUT_MS // 50):
        if condition():
            return
        page.wait_for_timeout(50)
    pytest.fail("the browser did not get there in time")


def manage_token(page: Page) -> str:
    """The manage token in the address of the confirmation page the browser is on."""
    match = CONFIRMATION_URL.search(page.url)
    assert match, page.url
    return match.group(1)


def signups(site: LiveSite) -> list[tuple[str, str, int | None]]:
    """Every signup on record as (organization, status, session id)."""
    with site.app.app_context():
        rows = db.session.execute(
            select(Signup.organization_name, Signup.status, Signup.session_id).order_by(Signup.id)
        )
        return [tuple(row) for row in rows]


def test_person_signs_up_from_the_session_list_and_gets_a_calendar_invite(page, site):
    page.goto("/")
    page.get_by_role("link", name=f"Sign up for {site.session.when}").click()
    expect(page.get_by_role("heading", name="Sign up for a training session")).to_be_visible()
    expect(page.get_by_label("Your date")).to_have_value(str(site.session.id))

    page.get_by_label("Organization name").fill("Sierra Valley Medical Society, Inc.")
    page.get_by_label("ACCME provider ID (optional)").fill("0012345")
    page.get_by_label("Contact name").fill("Ana Reyes")
    page.get_by_label("Contact email").fill("ana.reyes@sierravalley.example.org")
    page.get_by_label("Phone (optional)").fill("(916) 555-0100")
    page.get_by_label("Emails of staff who will attend").fill(
        "lee@sierravalley.example.org\nkim@sierravalley.example.org"
    )
    page.get_by_label(ATTESTATION, exact=True).check()
    page.get_by_role("button", name="Sign up").click()

    expect(page).to_have_url(CONFIRMATION_URL)
    token = manage_token(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("You're booked")
    expect(page.locator(".lead")).to_contain_text(
        f"Sierra Valley Medical Society, Inc. is booked for {site.session.when}."
    )
    expect(page.locator("main")).to_contain_text(f"{site.session.long_date}, 10:00–11:30 AM PT")
    manage_link = page.get_by_role("link", name=f"{site.url}/manage/{token}", exact=True)
    expect(manage_link).to_have_attribute("href", f"/manage/{token}")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Add to your calendar (.ics)").click()
    download = download_info.value
    assert download.suggested_filename == "training-session.ics"
    invite = Path(download.path()).read_text()
    assert invite.startswith("BEGIN:VCALENDAR")
    assert "METHOD:REQUEST" in invite
    assert f"DTSTART:{site.session.starts_at:%Y%m%dT%H%M%S}Z" in invite

    manage_link.click()
    expect(page.get_by_role("heading", name="Manage your booking")).to_be_visible()
    expect(page.locator("dl.summary")).to_contain_text("Sierra Valley Medical Society, Inc.")


def test_second_signup_under_another_spelling_is_refused_without_showing_the_contact(page, site):
    sign_up_for(page, site.session)

    page.goto(f"/signup?session={site.later_session.id}")
    fill_signup(
        page,
        organization="SIERRA VALLEY MEDICAL SOCIETY LLC",
        contact_name="Jordan Park",
        contact_email="jordan.park@sierravalley.example.org",
        attendees="",
    )
    page.get_by_role("button", name="Sign up").click()

    expect(page.get_by_role("alert")).to_contain_text(
        f"Your organization already holds a place on {site.session.when}."
    )
    resend = page.get_by_role("button", name="Email the manage link to our contact on file")
    expect(resend).to_be_visible()
    markup = page.content()
    assert "Ana Reyes" not in markup
    assert "ana.reyes@sierravalley.example.org" not in markup

    resend.click()
    confirmation = page.get_by_role("status")
    expect(confirmation).to_contain_text(
        "We have emailed the manage link to the contact we have on file for that signup."
    )
    expect(confirmation).to_contain_text("It can take a few minutes to arrive.")
    with site.app.app_context():
        sent = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "manage_link"))
        assert [message.recipients for message in sent] == [["ana.reyes@sierravalley.example.org"]]
    assert [status for _name, status, _session in signups(site)] == ["confirmed"]


def test_double_clicking_sign_up_books_once(page, site):
    page.goto(f"/signup?session={site.session.id}")
    fill_signup(page)

    page.get_by_role("button", name="Sign up").dblclick()

    expect(page).to_have_url(CONFIRMATION_URL)
    page.wait_for_load_state("networkidle")  # a second request, if sent, has been answered
    expect(page.get_by_role("heading", level=1)).to_have_text("You're booked")
    assert signups(site) == [("Sierra Valley Medical Society, Inc.", "confirmed", site.session.id)]
    page.goto("/")
    expect(page.get_by_role("row").filter(has_text=site.session.when)).to_contain_text("7 of 8")


def test_form_sent_again_while_the_first_is_on_its_way_books_once(page_without_script, site):
    # Without JavaScript nothing stops a second click: the server must book the form once.
    page = page_without_script
    page.goto(f"/signup?session={site.session.id}")
    fill_signup(page)
    posts = []
    page.route(
        "**/signup",
        lambda route: posts.append(route) if route.request.method == "POST" else route.continue_(),
    )
    button = page.get_by_role("button", name="Sign up").bounding_box()
    x, y = button["x"] + button["width"] / 2, button["y"] + button["height"] / 2

    page.mouse.click(x, y)
    wait_until(page, lambda: len(posts) == 1)
    posts[0].fetch(max_redirects=0)  # the server books, but its answer is slow to come back
    page.mouse.click(x, y)
    wait_until(page, lambda: len(posts) == 2)
    posts[1].fulfill(response=posts[1].fetch(max_redirects=0))

    expect(page).to_have_url(CONFIRMATION_URL)
    expect(page.get_by_role("heading", level=1)).to_have_text("You're booked")
    assert signups(site) == [("Sierra Valley Medical Society, Inc.", "confirmed", site.session.id)]


def test_keyboard_user_skips_to_the_form_fills_it_and_signs_up(page, site):
    page.goto("/signup")

    def tab_to(target):
        page.keyboard.press("Tab")
        expect(target).to_be_focused()

    skip_link = page.get_by_role("link", name="Skip to main content")
    tab_to(skip_link)
    expect(skip_link).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    tab_to(page.get_by_label("Organization name"))
    page.keyboard.type("Sierra Valley Medical Society")
    tab_to(page.get_by_label("ACCME provider ID (optional)"))
    tab_to(page.get_by_label("Contact name"))
    page.keyboard.type("Ana Reyes")
    tab_to(page.get_by_label("Contact email"))
    page.keyboard.type("ana.reyes@sierravalley.example.org")
    tab_to(page.get_by_label("Phone (optional)"))
    tab_to(page.get_by_label("Emails of staff who will attend"))
    page.keyboard.type("lee@sierravalley.example.org")
    date = page.get_by_label("Your date")
    tab_to(date)
    page.keyboard.press("ArrowDown")
    expect(date).to_have_value(str(site.session.id))
    tab_to(page.get_by_label("Second choice (for the waitlist)"))
    tab_to(page.get_by_label("Third choice (for the waitlist)"))
    tab_to(page.get_by_label("If none of our dates has a seat left, put us on the waitlist"))
    attest = page.get_by_label(ATTESTATION, exact=True)
    tab_to(attest)
    page.keyboard.press("Space")
    expect(attest).to_be_checked()
    tab_to(page.get_by_role("button", name="Sign up"))
    page.keyboard.press("Enter")

    expect(page).to_have_url(CONFIRMATION_URL)
    expect(page.get_by_role("heading", level=1)).to_have_text("You're booked")
    expect(page.locator(".lead")).to_contain_text(site.session.when)


def test_public_pages_have_no_accessibility_problems(page, site):
    problems: list[str] = []

    def check(page_name: str) -> None:
        problems.extend(accessibility_problems(page, page_name))

    page.goto("/")
    check("home page")
    page.goto(f"/signup?session={site.session.id}")
    check("signup page")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("alert")).to_contain_text("Please correct")
    check("signup page with errors")
    fill_signup(page)
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(CONFIRMATION_URL)
    check("confirmation page")
    page.get_by_role("link", name=f"{site.url}/manage/{manage_token(page)}").click()
    expect(page.get_by_role("heading", name="Manage your booking")).to_be_visible()
    check("manage page")

    assert not problems, "\n".join(problems)


def test_empty_signup_shows_each_problem_by_its_field_and_keeps_what_was_typed(page, site):
    page.goto("/signup")
    page.get_by_label("ACCME provider ID (optional)").fill("0012345")
    page.get_by_label("Phone (optional)").fill("(916) 555-0100")
    page.get_by_label("Emails of staff who will attend").fill("lee@sierravalley.example.org")

    page.get_by_role("button", name="Sign up").click()

    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Please correct the 5 problems below.")
    expect(summary).to_be_focused()
    required = {
        "Organization name": "Enter your organization's name.",
        "Contact name": "Enter the name of the person we should contact.",
        "Contact email": "Enter the email address of the person we should contact.",
        "Your date": "Choose the date you would like to attend.",
        ATTESTATION: (
            "Please confirm that your organization has or will collect its learners' "
            "permission before reporting their credit."
        ),
    }
    for label, message in required.items():
        field = page.get_by_label(label, exact=True)
        expect(field).to_have_accessible_description(message)
        expect(field).to_have_attribute("aria-invalid", "true")
        # The message sits in the field's own box, where the eye looks for it.
        box = page.locator(".field", has=field)
        expect(box.locator(".error")).to_have_text(message)
    expect(page.get_by_label("ACCME provider ID (optional)")).to_have_value("0012345")
    expect(page.get_by_label("Phone (optional)")).to_have_value("(916) 555-0100")
    expect(page.get_by_label("Emails of staff who will attend")).to_have_value(
        "lee@sierravalley.example.org"
    )
    expect(
        page.get_by_label("If none of our dates has a seat left, put us on the waitlist")
    ).to_be_checked()

    summary.get_by_role("link", name=re.compile(r"^Organization name:")).click()
    expect(page.get_by_label("Organization name")).to_be_focused()
    assert signups(site) == []


def full_session_id(site: LiveSite) -> int:
    """The site's full session (offered as "full: waitlist")."""
    with site.app.app_context():
        return db.session.scalars(
            select(TrainingSession.id).where(
                TrainingSession.seats_booked == TrainingSession.seats,
                TrainingSession.starts_at > utcnow(),
            )
        ).one()


def test_each_date_list_disables_the_dates_chosen_in_the_others(page, site):
    full = full_session_id(site)
    page.goto("/signup")
    first = page.get_by_label("Your date")
    second = page.get_by_label("Second choice (for the waitlist)")
    third = page.get_by_label("Third choice (for the waitlist)")

    def option(select, session_id):
        return select.locator(f'option[value="{session_id}"]')

    first.select_option(str(full))
    expect(option(second, full)).to_be_disabled()
    expect(option(third, full)).to_be_disabled()
    expect(option(second, site.session.id)).to_be_enabled()

    second.select_option(str(site.session.id))
    expect(option(first, site.session.id)).to_be_disabled()
    expect(option(third, site.session.id)).to_be_disabled()
    expect(option(third, site.later_session.id)).to_be_enabled()
    expect(third.locator('option[value="0"]')).to_be_enabled()  # "No other choice" stays

    third.select_option(str(site.later_session.id))
    expect(option(first, site.later_session.id)).to_be_disabled()
    expect(option(second, site.later_session.id)).to_be_disabled()
    problems = accessibility_problems(page, "signup page with three choices")

    # Taking another date off a list frees it in the others.
    third.select_option("0")
    expect(option(first, site.later_session.id)).to_be_enabled()
    expect(option(second, site.later_session.id)).to_be_enabled()

    fill_signup(page)
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(CONFIRMATION_URL)
    expect(page.locator(".lead")).to_contain_text(f"is booked for {site.session.when}.")
    assert not problems, "\n".join(problems)


def test_dates_chosen_before_going_back_still_exclude_each_other(page, site):
    page.goto(f"/signup?session={site.session.id}")
    second = page.get_by_label("Second choice (for the waitlist)")
    third = page.get_by_label("Third choice (for the waitlist)")
    second.select_option(str(site.later_session.id))
    page.get_by_role("link", name="Resources").first.click()
    page.go_back()
    # The browser put the second choice back; the other lists must know it.
    expect(second).to_have_value(str(site.later_session.id))
    expect(third.locator(f'option[value="{site.later_session.id}"]')).to_be_disabled()
    expect(
        page.get_by_label("Your date").locator(f'option[value="{site.later_session.id}"]')
    ).to_be_disabled()


def test_without_javascript_a_repeated_choice_is_refused_saying_to_pick_another_date(
    page_without_script, site
):
    page = page_without_script
    page.goto(f"/signup?session={site.session.id}")
    fill_signup(page)
    second = page.get_by_label("Second choice (for the waitlist)")
    second.select_option(str(site.session.id))  # the first choice again: nothing stops it here
    page.get_by_role("button", name="Sign up").click()

    message = (
        "Your second choice is the same date as your first. Pick a different date, "
        "or “No other choice”."
    )
    expect(page.get_by_role("alert")).to_contain_text(message)
    expect(second).to_have_accessible_description(message)
    expect(page.get_by_label("Organization name")).to_have_value(
        "Sierra Valley Medical Society, Inc."
    )
    expect(page.get_by_label("Contact email")).to_have_value("ana.reyes@sierravalley.example.org")
    expect(page.get_by_label("Emails of staff who will attend")).to_have_value(
        "lee@sierravalley.example.org\nkim@sierravalley.example.org"
    )
    expect(page.get_by_label("Your date")).to_have_value(str(site.session.id))
    expect(second).to_have_value(str(site.session.id))
    assert signups(site) == []

    second.select_option(str(site.later_session.id))
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(CONFIRMATION_URL)
    assert signups(site) == [("Sierra Valley Medical Society, Inc.", "confirmed", site.session.id)]


def test_a_date_inside_the_cutoff_is_marked_and_its_booking_offers_only_cancelling(page, site):
    with site.app.app_context():
        program = db.session.scalars(select(Program)).one()
        starts_at = utcnow().replace(second=0, microsecond=0) + timedelta(hours=20)
        soon = TrainingSession(
            program=program, starts_at=starts_at, ends_at=starts_at + timedelta(hours=1), seats=8
        )
        db.session.add(soon)
        db.session.commit()
        soon_id = soon.id

    page.goto("/signup")
    date = page.get_by_label("Your date")
    expect(date.locator(f'option[value="{soon_id}"]')).to_have_text(
        re.compile(r"\(8 seats left; starts within 24 hours\)$")
    )
    expect(date.locator(f'option[value="{site.session.id}"]')).to_have_text(
        re.compile(r"\(8 seats left\)$")
    )
    expect(date).to_have_accessible_description(
        re.compile(r"^Dates marked “starts within 24 hours” are inside our change cutoff")
    )
    date.select_option(str(soon_id))
    fill_signup(page)
    page.get_by_role("button", name="Sign up").click()

    expect(page).to_have_url(CONFIRMATION_URL)
    expect(page.locator("#inside-cutoff")).to_contain_text(
        "Your session starts within 24 hours, inside our change cutoff, so its date and "
        "contacts can no longer be changed. You can still cancel until it starts"
    )
    page.goto(f"/manage/{manage_token(page)}")
    expect(page.locator("#change-window")).to_contain_text("You can still cancel until")
    expect(page.get_by_role("heading", name="Change your date")).to_have_count(0)
    expect(page.get_by_role("button", name="Save contacts")).to_have_count(0)
    expect(page.get_by_role("link", name="Cancel this booking")).to_be_visible()
    problems = accessibility_problems(page, "manage page inside the cutoff")
    assert not problems, "\n".join(problems)


def test_a_cancelled_booking_pages_show_it_and_offer_nothing_to_send(page, site):
    sign_up_for(page, site.session)
    token = manage_token(page)
    page.goto(f"/manage/{token}")
    page.get_by_role("link", name="Cancel this booking").click()
    page.get_by_label("Yes, cancel our booking").check()
    page.get_by_role("button", name="Cancel booking").click()
    expect(page.get_by_role("status").first).to_contain_text("Your booking is cancelled.")

    problems: list[str] = []
    for path, name in (
        (f"/manage/{token}", "manage page"),
        (f"/manage/{token}/cancel", "cancel page"),
        (f"/manage/{token}/sandbox", "sandbox"),
        (f"/manage/{token}/challenges", "challenges page"),
    ):
        page.goto(path)
        expect(page.locator("#booking-cancelled")).to_contain_text("This booking is cancelled.")
        expect(page.locator("main form[method=post]")).to_have_count(0)
        expect(page.locator("main button")).to_have_count(0)
        problems += accessibility_problems(page, f"cancelled booking's {name}")
    page.goto(f"/manage/{token}/cancel")
    expect(page.get_by_role("heading", level=1)).to_have_text("This booking is cancelled")
    assert not problems, "\n".join(problems)


def test_a_manage_tab_left_open_cannot_drop_an_attendee_added_in_another(page, site):
    sign_up_for(page, site.session)
    token = manage_token(page)
    tab_a, tab_b = page, page.context.new_page()
    tab_a.goto(f"/manage/{token}")
    tab_b.goto(f"/manage/{token}")
    attendees = tab_b.get_by_label("Emails of staff who will attend (up to 5)")
    attendees.fill(attendees.input_value() + "\ncolleague@kb.example")
    tab_b.get_by_role("button", name="Save contacts").click()
    expect(tab_b.get_by_role("status").first).to_contain_text("Your contact details are saved.")

    tab_a.get_by_label("Phone (optional)").fill("(916) 555-0199")
    tab_a.get_by_role("button", name="Save contacts").click()

    expect(tab_a.locator("main")).to_contain_text(
        "This booking was changed in another tab or by someone else since you opened this page."
    )
    expect(tab_a.locator("main")).to_contain_text("Phone (optional): (916) 555-0199")
    expect(tab_a.get_by_label("Emails of staff who will attend (up to 5)")).to_contain_text(
        "colleague@kb.example"
    )
    with site.app.app_context():
        signup = db.session.scalars(select(Signup)).one()
        assert "colleague@kb.example" in [attendee.email for attendee in signup.attendees]
        subjects = db.session.scalars(select(OutboxMessage.subject)).all()
    assert not any(subject.startswith("Removed") for subject in subjects)


def test_a_manage_tab_whose_link_another_tab_replaced_keeps_what_was_typed(page, site):
    sign_up_for(page, site.session)
    token = manage_token(page)
    tab_a, tab_b = page, page.context.new_page()
    tab_a.goto(f"/manage/{token}")
    tab_b.goto(f"/manage/{token}")
    tab_a.get_by_label("Emails of staff who will attend (up to 5)").fill("")
    tab_a.get_by_role("button", name="Save contacts").click()
    expect(tab_a.get_by_role("status").first).to_contain_text("this page has a new address")

    tab_b.get_by_label("Phone (optional)").fill("(916) 555-0199")
    tab_b.get_by_role("button", name="Save contacts").click()

    expect(tab_b).to_have_url(tab_a.url)
    expect(tab_b.locator("main")).to_contain_text("what you sent was not acted on")
    expect(tab_b.locator("main")).to_contain_text("Phone (optional): (916) 555-0199")


def test_an_upload_from_a_sandbox_tab_whose_link_another_tab_replaced_says_what_was_sent(
    page, site, tmp_path
):
    sign_up_for(page, site.session)
    token = manage_token(page)
    sandbox_tab, manage_tab = page, page.context.new_page()
    sandbox_tab.goto(f"/manage/{token}/sandbox")
    manage_tab.goto(f"/manage/{token}")
    manage_tab.get_by_label("Emails of staff who will attend (up to 5)").fill("")
    manage_tab.get_by_role("button", name="Save contacts").click()
    expect(manage_tab.get_by_role("status").first).to_contain_text("this page has a new address")
    learners = tmp_path / "clean.csv"
    learners.write_text("Record Action,First Name\nAdd,Ana\n", encoding="utf-8")

    sandbox_tab.get_by_label("Learner file", exact=True).set_input_files(learners)
    sandbox_tab.get_by_role("button", name="Upload and check").click()

    expect(sandbox_tab).to_have_url(manage_tab.url)
    expect(sandbox_tab.locator("main")).to_contain_text("what you sent was not acted on")
    expect(sandbox_tab.locator("main")).to_contain_text("Learner file: clean.csv")


def test_an_upload_from_a_sandbox_tab_left_open_after_cancelling_is_refused(page, site, tmp_path):
    sign_up_for(page, site.session)
    token = manage_token(page)
    page.goto(f"/manage/{token}/sandbox")
    other_tab = page.context.new_page()
    other_tab.goto(f"/manage/{token}/cancel")
    other_tab.get_by_label("Yes, cancel our booking").check()
    other_tab.get_by_role("button", name="Cancel booking").click()
    expect(other_tab.get_by_role("status").first).to_contain_text("Your booking is cancelled.")
    learners = tmp_path / "learners.csv"
    learners.write_text("Record Action,First Name\nAdd,Ana\n", encoding="utf-8")

    page.get_by_label("Learner file", exact=True).set_input_files(learners)
    page.get_by_role("button", name="Upload and check").click()

    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text("This booking is cancelled")
    expect(heading).to_be_focused()
    expect(page.locator("main")).to_contain_text("nothing was saved")
    with site.app.app_context():
        assert db.session.scalars(select(SandboxAttempt)).all() == []


def test_a_date_disabled_in_a_list_says_which_choice_took_it(page, site):
    page.goto("/signup")
    first = page.get_by_label("Your date")
    second = page.get_by_label("Second choice (for the waitlist)")
    third = page.get_by_label("Third choice (for the waitlist)")
    taken = str(site.session.id)

    first.select_option(taken)
    for other in (second, third):
        expect(other.locator(f'option[value="{taken}"]')).to_have_text(
            re.compile(rf"^{re.escape(site.session.when)} \(.*\) — chosen as your date$")
        )
    third.select_option(str(site.later_session.id))
    expect(second.locator(f'option[value="{site.later_session.id}"]')).to_contain_text(
        "— chosen as your third choice"
    )
    # The option a list holds itself names no other list.
    expect(first.locator(f'option[value="{taken}"]')).not_to_contain_text("chosen as")

    first.select_option("0")
    expect(second.locator(f'option[value="{taken}"]')).not_to_contain_text("chosen as")
    expect(second.locator(f'option[value="{taken}"]')).to_be_enabled()
