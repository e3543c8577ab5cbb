"""Edit forms drawn from an old state: a save from a page opened before someone else's change
is refused with what the record holds now, and undoes nothing."""

import html
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import last_program_day, manage_token, page_text, signup_form
from sqlalchemy import select

from training.booking.models import Signup, TrainingSession
from training.extensions import db
from training.mail.models import OutboxMessage
from training.sandbox.services import pars_states
from training.staff.models import StaffMember
from training.staff.services import create_staff

pytestmark = pytest.mark.clock

CONTACT = "ana.reyes@sierravalley.example.org"
COLLEAGUE = "colleague@kb.example"
CHANGED_MEANWHILE = "was changed in another tab or by someone else since you opened this page"


def drawn_from(response, action: str | None = None) -> str:
    """The hidden ``drawn_from`` of the form posting to ``action`` (None: the page's edit form)."""
    for opening, inside in re.findall(
        r"<form([^>]*)>(.*?)</form>", response.get_data(as_text=True), re.S
    ):
        if action is None or f'action="{action}"' in opening:
            value = re.search(
                r'<input[^>]*name="(?:[\w-]+-)?drawn_from"[^>]*value="([^"]*)"', inside
            )
            if value:
                return html.unescape(value.group(1))
    raise AssertionError(f"no form with drawn_from for {action or 'this page'}")


def contacts(drawn: str, **overrides) -> dict:
    """The manage page's contacts form as the booking was made, with ``overrides``."""
    data = {
        "provider_id": "",
        "contact_name": "Ana Reyes",
        "contact_email": CONTACT,
        "contact_phone": "(916) 555-0100",
        "attendee_emails": "lee@sierravalley.example.org\nkim@sierravalley.example.org",
        "drawn_from": drawn,
    }
    return {**data, **overrides}


def outbox_subjects(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(OutboxMessage.subject).order_by(OutboxMessage.id)))


def the_signup(app) -> tuple[str, list[str]]:
    with app.app_context():
        signup = db.session.scalars(select(Signup)).one()
        return signup.contact_phone, sorted(attendee.email for attendee in signup.attendees)


@pytest.fixture
def token(client, make_session) -> str:
    return manage_token(client.post("/signup", data=signup_form(make_session())))


def test_a_tab_opened_before_an_attendee_was_added_cannot_remove_them(app, client, token):
    action = f"/manage/{token}/contacts"
    tab_a = drawn_from(client.get(f"/manage/{token}"), action)
    tab_b = drawn_from(client.get(f"/manage/{token}"), action)
    attendees = f"lee@sierravalley.example.org\nkim@sierravalley.example.org\n{COLLEAGUE}"
    added = client.post(action, data=contacts(tab_b, attendee_emails=attendees))
    assert "Your contact details are saved" in page_text(client.get(added.headers["Location"]))
    emails_before = outbox_subjects(app)

    stale = client.post(action, data=contacts(tab_a, contact_phone="(916) 555-0199"))

    assert stale.status_code == 409
    text = page_text(stale)
    assert f"This booking {CHANGED_MEANWHILE}" in text
    assert "What you sent, not saved: Phone (optional): (916) 555-0199" in text
    assert COLLEAGUE in stale.get_data(as_text=True)  # the form as the booking is now
    assert "Your contact details are saved" not in text
    phone, on_booking = the_signup(app)
    assert phone == "(916) 555-0100"
    assert COLLEAGUE in on_booking
    assert outbox_subjects(app) == emails_before  # no "Removed" email, no CANCEL invite

    again = client.post(
        action,
        data=contacts(
            drawn_from(stale, action), contact_phone="(916) 555-0199", attendee_emails=attendees
        ),
    )
    assert again.status_code == 303
    assert the_signup(app) == ("(916) 555-0199", sorted([*attendees.split("\n")]))
    assert not any(subject.startswith("Removed") for subject in outbox_subjects(app))


def test_the_same_contacts_form_sent_twice_is_acted_on_once(app, client, token):
    action = f"/manage/{token}/contacts"
    form = contacts(
        drawn_from(client.get(f"/manage/{token}"), action),
        contact_phone="(916) 555-0199",
        submission_key=uuid.uuid4().hex,
    )
    first, second = client.post(action, data=form), client.post(action, data=form)
    assert first.status_code == second.status_code == 303
    assert second.headers["Location"] == first.headers["Location"]
    assert "That form was sent twice; it was acted on once." in page_text(
        client.get(second.headers["Location"])
    )
    assert the_signup(app)[0] == "(916) 555-0199"


def test_a_session_edited_in_another_tab_is_not_overwritten(app, client, program_id, sign_in_as):
    sign_in_as("admin")
    form = {
        "day": last_program_day(app),
        "starts_at": "10:00",
        "ends_at": "11:30",
        "seats": "12",
        "meeting_url": "https://meet.example.org/abc",
        "dial_in": "+1 555 0100",
        "passcode": "4242",
    }
    created = client.post("/staff/sessions/new", data=form)
    session_id = int(re.search(r"/staff/sessions/(\d+)", created.headers["Location"]).group(1))
    edit = f"/staff/sessions/{session_id}/edit"
    tab_a, tab_b = drawn_from(client.get(edit)), drawn_from(client.get(edit))
    changed = client.post(edit, data={**form, "drawn_from": tab_b, "seats": "20"})
    assert changed.status_code == 303
    client.get(changed.headers["Location"])

    stale = client.post(edit, data={**form, "drawn_from": tab_a, "dial_in": "+1 916 555 0142"})

    assert stale.status_code == 409
    text = page_text(stale)
    assert f"This session {CHANGED_MEANWHILE}" in text
    assert "What you sent, not saved: Seats: 12; Dial-in: +1 916 555 0142." in text
    assert 'value="20"' in stale.get_data(as_text=True)  # the form as the session is now
    with app.app_context():
        session = db.session.get(TrainingSession, session_id)
        assert (session.seats, session.dial_in) == (20, "+1 555 0100")


def test_notes_saved_from_an_old_roster_do_not_replace_newer_notes(
    app, client, make_session, sign_in_as
):
    session_id = make_session()
    client.post("/signup", data=signup_form(session_id))
    with app.app_context():
        signup_id = db.session.scalars(select(Signup.id)).one()
    sign_in_as("staff")
    roster, notes = f"/staff/sessions/{session_id}", f"/staff/sessions/{session_id}/signups/"
    notes += f"{signup_id}/notes"
    tab_a, tab_b = drawn_from(client.get(roster), notes), drawn_from(client.get(roster), notes)
    saved = client.post(notes, data={"staff_notes": "Needs captioning.", "drawn_from": tab_b})
    client.get(saved.headers["Location"])

    stale = client.post(notes, data={"staff_notes": "Prefers mornings.", "drawn_from": tab_a})

    assert stale.status_code == 409
    text = page_text(stale)
    assert f"This signup {CHANGED_MEANWHILE}" in text
    assert "What you sent, not saved: Staff notes: Prefers mornings." in text
    with app.app_context():
        assert db.session.get(Signup, signup_id).staff_notes == "Needs captioning."


def test_a_resource_page_saved_from_an_old_editor_keeps_the_newer_text(app, staff_client):
    editor = "/staff/resources/faq"
    tab_a, tab_b = drawn_from(staff_client.get(editor)), drawn_from(staff_client.get(editor))
    saved = staff_client.post(
        editor, data={"title": "FAQ", "body": "B's text.", "drawn_from": tab_b}
    )
    staff_client.get(saved.headers["Location"])

    stale = staff_client.post(
        editor, data={"title": "FAQ", "body": "A's text.", "drawn_from": tab_a}
    )

    assert stale.status_code == 409
    assert f"This page {CHANGED_MEANWHILE}" in page_text(stale)
    assert "What you sent, not saved: Text (Markdown): A's text." in page_text(stale)
    assert "B's text." in page_text(stale)  # in the editor: the page as it is now
    assert "B's text." in page_text(staff_client.get("/resources/faq"))


def test_an_account_changed_since_the_list_was_opened_is_not_changed_back(app, client, sign_in_as):
    sign_in_as("admin")
    with app.app_context():
        member_id = create_staff("robin@cmadocs.example.org", "a long enough password", "staff").id
        db.session.commit()
    row, action = f"account-{member_id}", f"/staff/accounts/{member_id}"
    tab_a = drawn_from(client.get("/staff/accounts"), action)
    tab_b = drawn_from(client.get("/staff/accounts"), action)
    client.post(
        action,
        data={f"{row}-role": "staff", f"{row}-status": "disabled", f"{row}-drawn_from": tab_b},
    )
    client.get("/staff/accounts")

    stale = client.post(
        action,
        data={f"{row}-role": "facilitator", f"{row}-status": "active", f"{row}-drawn_from": tab_a},
    )

    assert stale.headers["Location"] == "/staff/accounts"
    assert f"This account {CHANGED_MEANWHILE}" in page_text(client.get("/staff/accounts"))
    with app.app_context():
        member = db.session.get(StaffMember, member_id)
        assert (member.role, member.is_disabled) == ("staff", True)


def test_the_pars_state_list_saved_from_an_old_page_keeps_the_newer_check(app, client, sign_in_as):
    sign_in_as("staff")
    url = "/staff/sandbox/pars-states"
    tab_a, tab_b = drawn_from(client.get(url)), drawn_from(client.get(url))
    check = {"states": ["CA", "NY"], "source": "ACCME page", "checked_on": "2026-11-28"}
    saved = client.post(url, data={**check, "drawn_from": tab_b})
    client.get(saved.headers["Location"])

    stale = client.post(url, data={**check, "states": ["TX"], "drawn_from": tab_a})

    assert stale.status_code == 409
    assert f"This list {CHANGED_MEANWHILE}" in page_text(stale)
    assert "Texas (TX)." in page_text(stale)
    with app.app_context():
        assert pars_states().states == frozenset({"CA", "NY"})


def test_tabs_drawn_from_the_same_state_saving_at_once_save_exactly_one(app, client, token):
    action = f"/manage/{token}/contacts"
    drawn = drawn_from(client.get(f"/manage/{token}"), action)
    # Each a change: a tab sending the phone the booking already has changes nothing, so a
    # second save after it is drawn from the state that is still there, and rightly passes.
    phones = [f"(916) 555-01{n:02d}" for n in range(1, 7)]
    assert signup_form(0)["contact_phone"] not in phones
    barrier = threading.Barrier(len(phones))

    def save(phone: str):
        tab = app.test_client()
        barrier.wait()
        return tab.post(action, data=contacts(drawn, contact_phone=phone))

    with ThreadPoolExecutor(max_workers=len(phones)) as pool:
        responses = list(pool.map(save, phones))

    saved = [phone for phone, r in zip(phones, responses, strict=True) if r.status_code == 303]
    assert len(saved) == 1
    assert sorted(r.status_code for r in responses) == [303] + [409] * (len(phones) - 1)
    assert the_signup(app)[0] == saved[0]
