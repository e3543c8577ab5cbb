"""Every staff URL, walked by every role and by an anonymous visitor."""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from conftest import PASSWORD, signup_form

from training.booking.models import Signup, TrainingSession
from training.challenges.services import challenge_dates, record_entry
from training.extensions import db, utcnow
from training.rosters.services import assign_facilitators
from training.staff.services import create_staff, find_staff

ROLES = ("anonymous", "facilitator", "staff", "admin")
SIGN_IN = "sign-in"  # a redirect to the sign-in page
OK, FORBIDDEN, MISSING = 200, 403, 404
ANY_REDIRECT = 302


@dataclass(frozen=True)
class World:
    assigned: int  # a session the facilitator runs
    other: int  # a session the facilitator does not run
    signup: int  # booked on the assigned session
    second_signup: int
    entry: int
    member: int


@pytest.fixture
def world(app, client, make_session) -> World:
    assigned, other = make_session(), make_session(starts_in=timedelta(days=6))
    client.post("/signup", data=signup_form(assigned))
    client.post("/signup", data=signup_form(other, organization_name="Sierra Valley Med Soc"))
    with app.app_context():
        for role in ("facilitator", "staff", "admin"):
            create_staff(f"{role}@cmadocs.example.org", PASSWORD, role)
        facilitator = find_staff("facilitator@cmadocs.example.org")
        assign_facilitators(
            db.session.get(TrainingSession, assigned), [facilitator], actor=facilitator
        )
        first, second = db.session.scalars(db.select(Signup).order_by(Signup.id)).all()
        counted_from = challenge_dates(first.program).starts_on
        entry = record_entry(first, "201234567", counted_from, 5, now=utcnow())
        db.session.commit()
        return World(assigned, other, first.id, second.id, entry.id, facilitator.id)


def client_for(app, role):
    client = app.test_client()
    if role != "anonymous":
        response = client.post(
            "/staff/sign-in", data={"email": f"{role}@cmadocs.example.org", "password": PASSWORD}
        )
        assert response.status_code == 303, role
    return client


def get_cases(w: World) -> dict[str, tuple[str, tuple]]:
    """endpoint: (path, expected answer for anonymous, facilitator, staff, admin)."""
    s, o = w.assigned, w.other
    return {
        "staff.home": ("/staff/", (SIGN_IN, OK, OK, OK)),
        "staff.sign_in": ("/staff/sign-in", (OK, ANY_REDIRECT, ANY_REDIRECT, ANY_REDIRECT)),
        "staff.change_password": ("/staff/password", (SIGN_IN, OK, OK, OK)),
        "staff.accounts": ("/staff/accounts", (SIGN_IN, FORBIDDEN, FORBIDDEN, OK)),
        "audit.index": ("/staff/audit/", (SIGN_IN, FORBIDDEN, FORBIDDEN, OK)),
        "rosters.sessions": ("/staff/sessions", (SIGN_IN, OK, OK, OK)),
        "rosters.roster": (f"/staff/sessions/{s}", (SIGN_IN, OK, OK, OK)),
        "rosters.roster (not assigned)": (f"/staff/sessions/{o}", (SIGN_IN, FORBIDDEN, OK, OK)),
        "rosters.new_session": ("/staff/sessions/new", (SIGN_IN, FORBIDDEN, OK, OK)),
        "rosters.email_organizations": (
            f"/staff/sessions/email?session={s}",
            (SIGN_IN, FORBIDDEN, OK, OK),
        ),
        "rosters.edit_session": (f"/staff/sessions/{s}/edit", (SIGN_IN, FORBIDDEN, OK, OK)),
        "rosters.cancel_session": (f"/staff/sessions/{s}/cancel", (SIGN_IN, FORBIDDEN, OK, OK)),
        "rosters.add_signup": (f"/staff/sessions/{s}/signups/new", (SIGN_IN, FORBIDDEN, OK, OK)),
        "rosters.print_roster": (f"/staff/sessions/{s}/print", (SIGN_IN, OK, OK, OK)),
        "rosters.print_roster (not assigned)": (
            f"/staff/sessions/{o}/print",
            (SIGN_IN, FORBIDDEN, OK, OK),
        ),
        "rosters.export_roster": (
            f"/staff/sessions/{s}/roster.csv",
            (SIGN_IN, FORBIDDEN, OK, OK),
        ),
        "rosters.calendar_feed": ("/staff/calendar-feed", (SIGN_IN, FORBIDDEN, OK, OK)),
        "rosters.feed": ("/feeds/sessions/not-the-token.ics", (MISSING,) * 4),
        "signups.index": ("/staff/signups", (SIGN_IN, FORBIDDEN, OK, OK)),
        "signups.export": ("/staff/signups.xlsx", (SIGN_IN, FORBIDDEN, OK, OK)),
        "signups.duplicates": ("/staff/duplicates", (SIGN_IN, FORBIDDEN, OK, OK)),
        "signups.confirm_merge": (
            f"/staff/duplicates/{w.signup}/{w.second_signup}/merge"
            f"?pair-{w.signup}-{w.second_signup}-merge-keep=first",
            (SIGN_IN, FORBIDDEN, OK, OK),
        ),
        "challenges.progress": ("/staff/challenges", (SIGN_IN, FORBIDDEN, OK, OK)),
        "challenges.export": ("/staff/challenges.csv", (SIGN_IN, FORBIDDEN, OK, OK)),
        "resources.edit": ("/staff/resources/faq", (SIGN_IN, FORBIDDEN, OK, OK)),
        "live.index": ("/staff/live/", (SIGN_IN, OK, OK, OK)),
        "live.console": (f"/staff/live/{s}", (SIGN_IN, OK, OK, OK)),
        "live.console (not assigned)": (f"/staff/live/{o}", (SIGN_IN, FORBIDDEN, OK, OK)),
        "live.board_state": (f"/staff/live/{s}/board.json", (SIGN_IN, OK, OK, OK)),
        "sandbox.staff_index": ("/staff/sandbox", (SIGN_IN, OK, OK, OK)),
        "sandbox.staff_sandbox": (f"/staff/sandbox/{w.signup}", (SIGN_IN, OK, OK, OK)),
        "sandbox.staff_attempt": (
            f"/staff/sandbox/{w.signup}/attempts/999999",
            (SIGN_IN, MISSING, MISSING, MISSING),
        ),
        "sandbox.staff_findings_csv": (
            f"/staff/sandbox/{w.signup}/attempts/999999/findings.csv",
            (SIGN_IN, MISSING, MISSING, MISSING),
        ),
        "sandbox.pars_states": ("/staff/sandbox/pars-states", (SIGN_IN, FORBIDDEN, OK, OK)),
    }


def post_cases(w: World) -> dict[str, tuple[str, tuple]]:
    """Changes: visitors must sign in; roles without the right are refused before anything."""
    s, o, g = w.assigned, w.other, w.signup
    manage_only = (SIGN_IN, FORBIDDEN, None, None)  # None: allowed, not posted here
    admin_only = (SIGN_IN, FORBIDDEN, FORBIDDEN, None)
    other_session = (SIGN_IN, FORBIDDEN, None, None)
    return {
        "staff.sign_out": ("/staff/sign-out", (SIGN_IN, None, None, None)),
        "staff.update_account": (f"/staff/accounts/{w.member}", admin_only),
        "staff.accounts": ("/staff/accounts", admin_only),
        "rosters.new_session": ("/staff/sessions/new", manage_only),
        "rosters.email_organizations": ("/staff/sessions/email", manage_only),
        "rosters.edit_session": (f"/staff/sessions/{s}/edit", manage_only),
        "rosters.cancel_session": (f"/staff/sessions/{s}/cancel", manage_only),
        "rosters.add_signup": (f"/staff/sessions/{s}/signups/new", manage_only),
        "rosters.move_signup": (f"/staff/sessions/{s}/signups/{g}/move", manage_only),
        "rosters.cancel_signup": (f"/staff/sessions/{s}/signups/{g}/cancel", manage_only),
        "rosters.promote_signup": (f"/staff/sessions/{s}/signups/{g}/promote", manage_only),
        "rosters.save_notes": (f"/staff/sessions/{s}/signups/{g}/notes", manage_only),
        "rosters.resend_email": (f"/staff/sessions/{s}/emails/1/resend", manage_only),
        "rosters.calendar_feed": ("/staff/calendar-feed", manage_only),
        "signups.dismiss_duplicate": (
            f"/staff/duplicates/{g}/{w.second_signup}/dismiss",
            manage_only,
        ),
        "signups.merge_duplicate": (f"/staff/duplicates/{g}/{w.second_signup}/merge", manage_only),
        "signups.undo_merge": ("/staff/duplicates/merges/999999/undo", manage_only),
        "challenges.progress": ("/staff/challenges", manage_only),
        "challenges.verify": (f"/staff/challenges/entries/{w.entry}/verify", manage_only),
        "challenges.remove": (f"/staff/challenges/entries/{w.entry}/remove", manage_only),
        "challenges.drawing": ("/staff/challenges/drawing", manage_only),
        "resources.edit": ("/staff/resources/faq", manage_only),
        "resources.restore": ("/staff/resources/faq/restore", manage_only),
        "sandbox.pars_states": ("/staff/sandbox/pars-states", manage_only),
        "staff.change_password": ("/staff/password", (SIGN_IN, None, None, None)),
        "staff.sign_in": ("/staff/sign-in", (None, None, None, None)),
        **{
            f"live.{name}": (f"/staff/live/{o}/{path}", other_session)
            for name, path in (
                ("start", "start"),
                ("end", "end"),
                ("next_step", "next"),
                ("previous_step", "back"),
                ("jump", "step"),
                ("notes", "notes"),
                ("follow_ups", "follow-ups"),
                ("check_in", f"check-in/{w.second_signup}"),
                ("clear_help", f"help/{w.second_signup}/clear"),
            )
        },
    }


def check(response, expected, label):
    if expected == SIGN_IN:
        assert response.status_code == 302, label
        assert response.headers["Location"].startswith("/staff/sign-in"), label
    else:
        assert response.status_code == expected, label


def test_every_staff_url_is_covered_by_this_walk(app, world):
    gets = {case.split(" ")[0] for case in get_cases(world)}
    posts = {case.split(" ")[0] for case in post_cases(world)}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/staff", "/feeds")):
            if "GET" in rule.methods:
                assert rule.endpoint in gets, f"GET {rule.rule} is not walked"
            if "POST" in rule.methods:
                assert rule.endpoint in posts, f"POST {rule.rule} is not walked"


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_the_pages_it_may_see_and_no_others(app, world, role):
    client = client_for(app, role)
    for label, (path, expected) in get_cases(world).items():
        check(client.get(path), expected[ROLES.index(role)], f"{role} GET {label} {path}")


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_refused_changes_it_may_not_make(app, world, role):
    client = client_for(app, role)
    for label, (path, expected) in post_cases(world).items():
        outcome = expected[ROLES.index(role)]
        if outcome is not None:
            check(client.post(path, data={}), outcome, f"{role} POST {label} {path}")
