"""A manage link is emailed to everyone on a booking, so when a person leaves it (the
organization's contacts form, staff changing the contacts, a merge undone) every link sent so
far stops opening it, and everyone still on it has a fresh one in their email."""

import io
import re
from datetime import timedelta

import pytest
from conftest import manage_token, page_text, signup_form
from sqlalchemy import select
from test_booking_people import CONTACT, KIM, LEE, arrived, contacts_form, deliver

from training.audit.models import AuditEvent
from training.booking.models import ManageLink, Signup, TrainingSession
from training.booking.services import SignupDetails, update_contacts
from training.extensions import db, utcnow
from training.signups.models import DuplicateReview
from training.signups.services import merge_duplicates
from training.staff.services import create_staff

pytestmark = pytest.mark.clock

REPLACED = (
    "This manage link was replaced when the booking's contacts changed, so it no longer opens "
    "the booking. Use the link in your latest email from us about this booking, or ask "
    "staff@training.example.org."
)
NEW_CONTACT = "nina.new@sierravalley.example.org"


def link_in(message: dict) -> str | None:
    """The manage token an email carries, if any."""
    found = re.search(r"/manage/([\w\-]+)", message["text"])
    return found.group(1) if found else None


@pytest.fixture
def booked(app, client, make_session, smtp) -> str:
    """A booking made through the form (contact Ana, attendees Lee and Kim), its confirmation
    (with the link every one of them got) delivered and then forgotten."""
    token = manage_token(client.post("/signup", data=signup_form(make_session())))
    deliver(app)
    [confirmation] = arrived(smtp)
    assert confirmation["rcpt"] == [CONTACT, LEE, KIM] and link_in(confirmation) == token
    smtp.received.clear()
    return token


def assert_replaced(app, token: str) -> None:
    """From a browser of its own, ``token`` opens nothing and says why and what to do."""
    outsider = app.test_client()
    for path in (f"/manage/{token}", f"/manage/{token}/sandbox", f"/manage/{token}/live"):
        response = outsider.get(path)
        assert response.status_code == 410, path
        assert REPLACED in page_text(response)


def test_a_person_removed_from_a_booking_can_no_longer_open_it(app, client, smtp, booked):
    response = client.post(
        f"/manage/{booked}/contacts",
        data=contacts_form(contact_name="Nina New", contact_email=NEW_CONTACT, attendee_emails=""),
    )

    assert_replaced(app, booked)
    outsider = app.test_client()
    taking_back = outsider.post(
        f"/manage/{booked}/contacts", data=contacts_form(attendee_emails="")
    )
    assert taking_back.status_code == 410
    with app.app_context():
        signup = db.session.scalars(select(Signup)).one()
        assert signup.recipients == [NEW_CONTACT]
    # The person who made the change is sent to the booking's new address.
    new_page = response.headers["Location"]
    assert response.status_code == 303 and new_page.startswith("/manage/")
    assert new_page != f"/manage/{booked}"
    page = page_text(client.get(new_page))
    assert "the links we emailed before no longer work: this page has a new address" in page


def test_everyone_left_on_a_booking_gets_a_working_link_and_those_removed_none(
    app, client, smtp, booked
):
    client.post(f"/manage/{booked}/contacts", data=contacts_form(attendee_emails=LEE))
    deliver(app)

    update, removal = arrived(smtp)
    assert update["rcpt"] == [CONTACT, LEE] and removal["rcpt"] == [KIM]
    assert link_in(removal) is None
    fresh = link_in(update)
    assert fresh not in (None, booked)
    assert app.test_client().get(f"/manage/{fresh}").status_code == 200
    assert_replaced(app, booked)


def test_adding_people_keeps_the_links_already_sent(app, client, smtp, booked):
    client.post(
        f"/manage/{booked}/contacts",
        data=contacts_form(attendee_emails=f"{LEE}\n{KIM}\nsam@sierravalley.example.org"),
    )
    deliver(app)

    [update] = arrived(smtp)
    for token in (booked, link_in(update)):
        assert app.test_client().get(f"/manage/{token}").status_code == 200


def test_staff_taking_someone_off_a_booking_revokes_its_links_and_audits_it(
    app, client, smtp, booked
):
    with app.app_context():
        signup = db.session.scalars(select(Signup)).one()
        actor = create_staff("pat@cmadocs.example.org", "correct horse battery", "staff")
        details = SignupDetails(
            organization_name=signup.organization_name,
            contact_name="Ana Reyes",
            contact_email=CONTACT,
            attendee_emails=(KIM,),
        )
        assert update_contacts(signup, details, now=utcnow(), actor=actor)
        db.session.commit()
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "signup.manage_links_revoked")
        ).one()
        assert event.actor_id == actor.id
        assert event.details["removed"] == [LEE]
        assert event.details["links_revoked"] == 1
    deliver(app)

    assert_replaced(app, booked)
    [update, _removal] = arrived(smtp)
    assert update["rcpt"] == [CONTACT, KIM]
    assert app.test_client().get(f"/manage/{link_in(update)}").status_code == 200


def test_undoing_a_merge_revokes_the_kept_bookings_links(
    app, client, make_session, smtp, sign_in_as
):
    session_id = make_session()
    kept_token = manage_token(
        client.post("/signup", data=signup_form(session_id, attendee_emails=LEE))
    )
    client.post(
        "/signup",
        data=signup_form(
            session_id,
            organization_name="Sierra Valley Medical Societies",
            contact_email="pat@svms.example.net",
            attendee_emails="jo@svms.example.net",
        ),
    )
    sign_in_as("staff")
    client.post("/staff/duplicates/1/2/merge", data={"pair-1-2-merge-keep": "first"})
    deliver(app)
    # The merge only added Jo: the link Jo was sent with the kept booking's invite works.
    [merged] = [m for m in arrived(smtp) if m["subject"].startswith("Updated: who attends")]
    jo_token = link_in(merged)
    assert app.test_client().get(f"/manage/{kept_token}").status_code == 200
    assert app.test_client().get(f"/manage/{jo_token}").status_code == 200
    with app.app_context():
        review_id = db.session.scalars(select(DuplicateReview.id)).one()
    smtp.received.clear()

    assert client.post(f"/staff/duplicates/merges/{review_id}/undo").status_code == 303
    deliver(app)

    assert_replaced(app, jo_token)
    assert_replaced(app, kept_token)
    [update] = [m for m in arrived(smtp) if m["subject"].startswith("Updated: who attends")]
    assert update["rcpt"] == [CONTACT, LEE]
    assert app.test_client().get(f"/manage/{link_in(update)}").status_code == 200


def test_a_merge_that_adds_people_revokes_no_link(app, client, make_session):
    session_id = make_session()
    client.post("/signup", data=signup_form(session_id, attendee_emails=""))
    client.post(
        "/signup",
        data=signup_form(
            session_id,
            organization_name="Sierra Valley Health",
            contact_email=KIM,
            attendee_emails=LEE,
        ),
    )
    with app.app_context():
        keep, drop = db.session.scalars(select(Signup).order_by(Signup.id)).all()
        actor = create_staff("pat@cmadocs.example.org", "correct horse battery", "staff")
        merge_duplicates(keep, drop, now=utcnow(), actor=actor)
        db.session.commit()
        revoked = db.session.scalars(
            select(ManageLink).where(
                ManageLink.signup_id == keep.id, ManageLink.revoked_at.is_not(None)
            )
        ).all()
        assert revoked == []


def test_an_unknown_link_is_still_told_it_is_not_valid(client):
    response = client.get("/manage/" + "x" * 43)
    assert response.status_code == 404
    assert "This manage link is not valid" in page_text(response)


def test_the_live_page_polling_a_replaced_link_is_told_why_in_json(app, client, booked):
    client.post(
        f"/manage/{booked}/contacts",
        data=contacts_form(contact_name="Nina New", contact_email=NEW_CONTACT, attendee_emails=""),
    )
    outsider = app.test_client()
    polled = outsider.get(
        f"/manage/{booked}/live/state.json", headers={"Accept": "application/json"}
    )
    assert polled.status_code == 410
    assert polled.get_json() == {"error": "This manage link was replaced", "message": REPLACED}


def test_the_sandbox_progress_polling_a_replaced_link_is_told_why_in_json(app, client, booked):
    client.post(
        f"/manage/{booked}/contacts",
        data=contacts_form(contact_name="Nina New", contact_email=NEW_CONTACT, attendee_emails=""),
    )
    polled = app.test_client().get(
        f"/manage/{booked}/sandbox/attempts/1/status", headers={"Accept": "application/json"}
    )
    assert polled.status_code == 410
    assert polled.get_json()["message"] == REPLACED


def test_polling_an_unknown_link_is_told_it_is_not_valid_in_json(client):
    polled = client.get(
        "/manage/" + "x" * 43 + "/live/state.json", headers={"Accept": "application/json"}
    )
    assert polled.status_code == 404
    assert "This manage link is not valid" in polled.get_json()["message"]


def test_another_tab_of_the_browser_that_replaced_the_link_is_led_on_with_what_it_sent(
    app, client, booked
):
    # Tab 1 takes Kim off the booking (which replaces its links); tab 2 still shows the old page.
    changed = client.post(f"/manage/{booked}/contacts", data=contacts_form(attendee_emails=LEE))
    new_page = changed.headers["Location"]

    tab_two = client.post(
        f"/manage/{booked}/contacts",
        data=contacts_form(attendee_emails=LEE, contact_phone="(916) 555-0199"),
    )

    assert tab_two.status_code == 303 and tab_two.headers["Location"] == new_page
    page = page_text(client.get(new_page))
    assert "what you sent was not acted on" in page
    assert "What you sent, not saved:" in page and "Phone (optional): (916) 555-0199" in page
    with app.app_context():
        assert db.session.scalars(select(Signup)).one().contact_phone == "(916) 555-0100"
    # Reloading the old page in that tab opens the new address.
    reloaded = client.get(f"/manage/{booked}/sandbox")
    assert reloaded.status_code == 303
    assert reloaded.headers["Location"] == f"{new_page}/sandbox"


def test_a_form_sent_to_a_replaced_link_elsewhere_gives_back_what_was_sent_not_the_new_link(
    app, client, make_session, booked
):
    client.post(f"/manage/{booked}/contacts", data=contacts_form(attendee_emails=LEE))
    other_date = make_session(starts_in=timedelta(days=20))
    with app.app_context():
        when = db.session.get(TrainingSession, other_date).when
    removed_attendee = app.test_client()

    phone = removed_attendee.post(
        f"/manage/{booked}/contacts", data=contacts_form(contact_phone="(916) 555-0199")
    )
    date = removed_attendee.post(f"/manage/{booked}/date", data={"session_id": other_date})
    cancel = removed_attendee.post(f"/manage/{booked}/cancel", data={"confirm": "y"})

    for answer in (phone, date, cancel):
        assert answer.status_code == 410
        assert REPLACED in page_text(answer)
        assert "What you sent, not saved:" in page_text(answer)
        # No way to the booking's new address: only the old link and the staff email.
        assert re.findall(r"/manage/([\w\-]+)", answer.get_data(as_text=True)) in ([], [booked])
    assert "Phone (optional): (916) 555-0199" in page_text(phone)
    assert f"New date: {when}" in page_text(date)
    assert "Yes, cancel our booking" in page_text(cancel)


def test_a_sandbox_form_sent_to_a_replaced_link_is_given_back_in_its_own_words(app, client, booked):
    client.post(f"/manage/{booked}/contacts", data=contacts_form(attendee_emails=LEE))

    answer = app.test_client().post(
        f"/manage/{booked}/sandbox/delete", data={"confirm": "y", "include_activities": "y"}
    )

    assert answer.status_code == 410
    assert (
        "What you sent, not saved: Yes, delete our sandbox records, uploads and findings; "
        "Also delete our practice activities." in page_text(answer)
    )


def test_an_upload_and_a_challenge_entry_sent_to_a_replaced_link_are_given_back_as_labelled(
    app, client, booked
):
    # Each field by its label on the page and a choice by its words, never the form's names.
    client.post(f"/manage/{booked}/contacts", data=contacts_form(attendee_emails=LEE))
    removed_attendee = app.test_client()

    upload = removed_attendee.post(
        f"/manage/{booked}/sandbox/uploads",
        data={"mode": "full", "learner_file": (io.BytesIO(b"Record Action\nAdd\n"), "clean.csv")},
        content_type="multipart/form-data",
    )
    entry = removed_attendee.post(
        f"/manage/{booked}/challenges",
        data={"activity_id": "201 234 567", "entered_on": "2026-11-30", "learners": "12"},
    )

    assert upload.status_code == entry.status_code == 410
    assert (
        "What you sent, not saved: What to check: The whole file, as PARS would (learners and "
        "credits); Learner file: clean.csv." in page_text(upload)
    )
    assert (
        "What you sent, not saved: ACCME activity ID: 201 234 567; Date you entered the "
        "learners in PARS: 2026-11-30; Number of learners entered: 12." in page_text(entry)
    )
