"""Who is on a booking: every change to its contacts and attendees reaches the people it
concerns, one mailbox once, judged from the bytes a loopback SMTP server receives and from
invites parsed by vobject (validating) and ical."""

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import vobject
from conftest import manage_token, page_text, signup_form
from ical.calendar_stream import IcsCalendarStream
from mail_support import SmtpSink, invite_bytes
from sqlalchemy import select

from training.booking.display import sentence
from training.booking.models import Signup, TrainingSession
from training.booking.notices import send_reminders
from training.extensions import db, utcnow
from training.mail.delivery import deliver_due
from training.mail.models import OutboxMessage
from training.rosters import services as rosters
from training.signups.models import DuplicateReview
from training.signups.services import merge_duplicates
from training.staff.services import create_staff

pytestmark = pytest.mark.clock

CONTACT = "ana.reyes@sierravalley.example.org"
LEE = "lee@sierravalley.example.org"
KIM = "kim@sierravalley.example.org"


def deliver(app) -> None:
    with app.app_context():
        deliver_due(now=utcnow)


def invite_facts(calendar: bytes) -> dict:
    """What a calendar reads in an invite: vobject (validate=True) and ical must agree."""
    text = calendar.decode()
    parsed = vobject.readOne(text, validate=True)
    [event] = [child for child in parsed.getChildren() if child.name == "VEVENT"]
    assert len(event.contents["sequence"]) == 1
    attendees = [
        (attendee.value.lower(), attendee.params["CN"][0])
        for attendee in event.contents["attendee"]
    ]
    facts = {
        "method": parsed.method.value,
        "uid": event.uid.value,
        "sequence": int(event.sequence.value),
        "status": event.status.value if "status" in event.contents else None,
        "attendees": attendees,
        "description": event.description.value,
    }
    other = IcsCalendarStream.calendar_from_ics(text)
    [other_event] = other.events
    assert other.method == facts["method"]
    assert (other_event.uid, other_event.sequence) == (facts["uid"], facts["sequence"])
    assert [(a.uri.lower(), a.common_name) for a in other_event.attendees] == attendees
    assert (other_event.status.value if other_event.status else None) == facts["status"]
    return facts


def arrived(smtp: SmtpSink) -> list[dict]:
    """Each message that arrived: its envelope recipients, subject, plain text and invite."""
    messages = []
    for received in smtp.received:
        message = received.message
        calendars = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
        messages.append(
            {
                "rcpt": received.rcpt_tos,
                "subject": str(message["Subject"]),
                "text": message.get_body(("plain",)).get_content().replace("\r\n", "\n"),
                "invite": invite_facts(invite_bytes(message)) if calendars else None,
            }
        )
    return messages


def mailto(*emails: str) -> list[str]:
    return [f"mailto:{email.lower()}" for email in emails]


def contacts_form(**overrides) -> dict:
    data = {
        "provider_id": "",
        "contact_name": "Ana Reyes",
        "contact_email": CONTACT,
        "contact_phone": "(916) 555-0100",
        "attendee_emails": f"{LEE}\n{KIM}",
    }
    data.update(overrides)
    return data


@pytest.fixture
def booked(app, client, make_session, smtp) -> str:
    """A booking made through the form (contact Ana, attendees Lee and Kim), its confirmation
    delivered and then forgotten."""
    token = manage_token(client.post("/signup", data=signup_form(make_session())))
    deliver(app)
    assert len(smtp.received) == 1
    smtp.received.clear()
    return token


def save_contacts(app, client, smtp, token, **overrides) -> list[dict]:
    response = client.post(f"/manage/{token}/contacts", data=contacts_form(**overrides))
    assert response.status_code == 303, response.get_data(as_text=True)
    deliver(app)
    return arrived(smtp)


def test_an_added_attendee_and_everyone_on_the_booking_get_the_next_invite(
    app, client, smtp, booked
):
    [update] = save_contacts(
        app, client, smtp, booked, attendee_emails=f"{LEE}\n{KIM}\nsam@sierravalley.example.org"
    )

    everyone = [CONTACT, LEE, KIM, "sam@sierravalley.example.org"]
    assert update["rcpt"] == everyone
    assert update["subject"].startswith("Updated: who attends")
    assert "Added: sam@sierravalley.example.org" in update["text"]
    assert "/manage/" in update["text"]
    invite = update["invite"]
    assert (invite["method"], invite["sequence"], invite["status"]) == ("REQUEST", 1, "CONFIRMED")
    page = page_text(client.get(f"/manage/{booked}"))
    assert "Your contact details are saved. We have emailed the change to everyone it" in page
    assert [address for address, _name in invite["attendees"]] == mailto(*everyone)


def test_a_removed_attendee_gets_a_cancel_of_the_same_event_and_the_rest_the_new_invite(
    app, client, smtp, booked
):
    update, removal = save_contacts(app, client, smtp, booked, attendee_emails=LEE)

    assert update["rcpt"] == [CONTACT, LEE]
    assert [a for a, _ in update["invite"]["attendees"]] == mailto(CONTACT, LEE)
    assert "Removed: kim@sierravalley.example.org" in update["text"]
    assert removal["rcpt"] == [KIM]
    assert removal["subject"].startswith("Removed: you are no longer on")
    assert "/manage/" not in removal["text"]
    cancel = removal["invite"]
    assert cancel["method"] == "CANCEL"
    assert (cancel["uid"], cancel["sequence"]) == (update["invite"]["uid"], 1)
    # Withdrawing one attendee from an event that goes on: STATUS is left out (RFC 5546 3.2.5).
    assert cancel["status"] is None
    assert [a for a, _ in cancel["attendees"]] == mailto(KIM)


def test_a_changed_contact_address_is_told_at_the_old_and_the_new_address(
    app, client, smtp, booked
):
    messages = save_contacts(
        app, client, smtp, booked, contact_name="Jordan Reyes", contact_email="jordan@example.org"
    )

    update, removal = messages
    assert update["rcpt"] == ["jordan@example.org", LEE, KIM]
    assert removal["rcpt"] == [CONTACT]
    for message in messages:
        assert "is now Jordan Reyes <jordan@example.org>" in message["text"]
        assert f"(was: Ana Reyes <{CONTACT}>)" in message["text"]
    assert update["invite"]["attendees"][0] == ("mailto:jordan@example.org", "Jordan Reyes")
    assert removal["invite"]["method"] == "CANCEL"
    assert removal["invite"]["attendees"] == [(f"mailto:{CONTACT}", "Ana Reyes")]


def test_a_contact_who_changed_their_own_address_is_not_told_to_ask_themselves_back(
    app, client, smtp, booked
):
    _update, removal = save_contacts(
        app, client, smtp, booked, contact_email="ana.new@sierravalley.example.org"
    )

    assert removal["rcpt"] == [CONTACT]
    text = " ".join(removal["text"].split())
    assert "is now Ana Reyes <ana.new@sierravalley.example.org>" in text
    assert "This change was made on the booking's manage page." in text
    assert "If you didn't make it, tell us at once: reply to this email." in text
    assert "add you again" not in text


def test_an_old_contact_and_a_removed_attendee_each_get_the_words_for_them(
    app, client, smtp, booked
):
    _update, old_contact, attendee = save_contacts(
        app,
        client,
        smtp,
        booked,
        contact_email="ana.new@sierravalley.example.org",
        attendee_emails=LEE,
    )

    assert (old_contact["rcpt"], attendee["rcpt"]) == ([CONTACT], [KIM])
    assert "If you didn't make it" in old_contact["text"]
    assert "If this is a mistake, ask Ana Reyes to add you again." in attendee["text"]
    assert [a for a, _ in attendee["invite"]["attendees"]] == mailto(KIM)


def test_a_renamed_contact_is_a_new_invite_for_everyone_and_no_cancel(app, client, smtp, booked):
    [update] = save_contacts(app, client, smtp, booked, contact_name="Ana María Reyes")

    assert update["rcpt"] == [CONTACT, LEE, KIM]
    assert update["invite"]["attendees"][0] == (f"mailto:{CONTACT}", "Ana María Reyes")
    assert "The contact is now Ana María Reyes" in update["text"]


def test_a_contact_name_with_quotes_reads_the_same_in_every_calendar(app, client, smtp, booked):
    [update] = save_contacts(
        app, client, smtp, booked, contact_name='Pat "The Man" O\'Neil; MD: Chief ^ CME'
    )

    # vobject does not decode RFC 6868's ^' and ^^; the name needs neither.
    assert update["invite"]["attendees"][0] == (
        f"mailto:{CONTACT}",
        "Pat 'The Man' O'Neil; MD: Chief  CME",
    )
    assert 'The contact is now Pat "The Man" O\'Neil; MD: Chief ^ CME' in update["text"]


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"contact_phone": "(916) 555-0199 x12"},
        {"provider_id": "0012345"},
        {"contact_email": CONTACT.upper(), "attendee_emails": f"{KIM.upper()}\n{LEE}"},
    ],
    ids=["nothing", "phone", "provider-id", "same-mailboxes-other-case-and-order"],
)
def test_saving_contacts_without_changing_who_is_on_the_booking_sends_nothing(
    app, client, smtp, booked, changes
):
    token = booked
    before = client.get(f"/manage/{token}/invite.ics").data

    assert save_contacts(app, client, smtp, token, **changes) == []
    page = page_text(client.get(f"/manage/{token}"))
    assert "Your contact details are saved." in page and "We have emailed" not in page
    with app.app_context():
        assert db.session.scalar(select(Signup.invite_sequence)) == 0
    assert invite_facts(client.get(f"/manage/{token}/invite.ics").data)["sequence"] == 0
    assert invite_facts(before)["sequence"] == 0


def test_the_download_after_an_update_is_the_last_invite_sent(app, client, smtp, booked):
    response = client.post(
        f"/manage/{booked}/contacts",
        data=contacts_form(attendee_emails="sam@sierravalley.example.org"),
    )
    deliver(app)
    [*_, last] = [m for m in arrived(smtp) if m["invite"]["method"] == "REQUEST"]

    # Lee and Kim left, so the booking's page moved to a new link (the old one is revoked).
    downloaded = invite_facts(client.get(f"{response.headers['Location']}/invite.ics").data)

    for fact in ("method", "uid", "sequence", "attendees", "description"):
        assert downloaded[fact] == last["invite"][fact]
    assert downloaded["sequence"] == 1
    assert [a for a, _ in downloaded["attendees"]] == mailto(
        CONTACT, "sam@sierravalley.example.org"
    )


def test_a_waitlisted_organization_hears_of_its_people_changes_without_an_invite(
    app, client, make_session, smtp
):
    full = make_session(seats=0)
    token = manage_token(client.post("/signup", data=signup_form(full)))
    deliver(app)
    smtp.received.clear()

    update, removal = save_contacts(app, client, smtp, token, attendee_emails="")

    assert update["rcpt"] == [CONTACT] and update["invite"] is None
    assert "waitlist" in update["subject"]
    assert removal["rcpt"] == [LEE, KIM] and removal["invite"] is None


def test_a_merge_sends_the_moved_attendees_the_invite(app, client, make_session, smtp):
    session_id = make_session()
    client.post("/signup", data=signup_form(session_id, attendee_emails=""))
    client.post(
        "/signup",
        data=signup_form(
            session_id,
            organization_name="Sierra Valley Health",
            contact_email="kim@sierravalley.example.org",
            attendee_emails=LEE,
        ),
    )
    with app.app_context():
        keep, drop = db.session.scalars(select(Signup).order_by(Signup.id)).all()
        actor = create_staff("pat@cmadocs.example.org", "correct horse battery", "staff")
        assert merge_duplicates(keep, drop, now=utcnow(), actor=actor) == [LEE]
        db.session.commit()
    deliver(app)

    updates = [m for m in arrived(smtp) if m["subject"].startswith("Updated: who attends")]
    assert [m["rcpt"] for m in updates] == [[CONTACT, LEE]]
    assert "Added: lee@sierravalley.example.org" in updates[0]["text"]
    assert updates[0]["invite"]["sequence"] == 1


def test_undoing_a_merge_takes_the_moved_attendees_off_the_kept_booking_with_a_cancel(
    app, client, make_session, smtp, sign_in_as
):
    session_id = make_session()
    client.post("/signup", data=signup_form(session_id, attendee_emails=LEE))
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
    with app.app_context():
        review_id = db.session.scalars(select(DuplicateReview.id)).one()
    deliver(app)
    smtp.received.clear()

    assert client.post(f"/staff/duplicates/merges/{review_id}/undo").status_code == 303
    deliver(app)

    messages = arrived(smtp)
    [update] = [m for m in messages if m["subject"].startswith("Updated: who attends")]
    assert update["rcpt"] == [CONTACT, LEE]
    assert (update["invite"]["method"], update["invite"]["sequence"]) == ("REQUEST", 2)
    [removal] = [m for m in messages if m["subject"].startswith("Removed:")]
    assert removal["rcpt"] == ["jo@svms.example.net"]
    assert (removal["invite"]["method"], removal["invite"]["uid"]) == (
        "CANCEL",
        update["invite"]["uid"],
    )
    assert [a for a, _ in removal["invite"]["attendees"]] == mailto("jo@svms.example.net")
    assert "The training staff made this change." in removal["text"]
    assert "add you again" not in removal["text"]


# --- One recipient and one ATTENDEE per mailbox ---------------------------------------------


def test_a_contact_who_is_also_an_attendee_is_one_recipient_and_one_attendee(
    app, client, make_session, smtp
):
    form = signup_form(
        make_session(),
        contact_name="Jordan Reyes",
        contact_email="Jordan.Reyes@Example.org",
        attendee_emails="jordan.reyes@example.org\nJORDAN.REYES@EXAMPLE.ORG",
    )
    client.post("/signup", data=form)
    deliver(app)

    [confirmation] = arrived(smtp)
    assert confirmation["rcpt"] == ["Jordan.Reyes@Example.org"]
    assert confirmation["invite"]["attendees"] == [
        ("mailto:jordan.reyes@example.org", "Jordan Reyes")
    ]


def test_every_email_about_a_booking_goes_once_to_each_mailbox(app, client, make_session, smtp):
    first = make_session(seats=1)
    second = make_session(starts_in=timedelta(days=4))
    same_person = {
        "contact_name": "Jordan Reyes",
        "contact_email": "Jordan.Reyes@Example.org",
        "attendee_emails": "jordan.reyes@example.org\nlee@example.org\nLEE@example.org",
    }
    token = manage_token(client.post("/signup", data=signup_form(first, **same_person)))
    waiting = manage_token(
        client.post(
            "/signup",
            data=signup_form(
                first,
                organization_name="Valley Clinic",
                contact_name="Pat Kim",
                contact_email="Pat@Valley.example.org",
                attendee_emails="pat@valley.example.org",
            ),
        )
    )
    client.post(f"/manage/{token}/date", data={"session_id": second})  # Valley Clinic promoted
    with app.app_context():
        session = db.session.get(TrainingSession, second)
        actor = create_staff("pat@cmadocs.example.org", "correct horse battery", "staff")
        details = rosters.SessionDetails(
            starts_at=session.starts_at,
            ends_at=session.ends_at,
            seats=session.seats,
            meeting_url="https://meet.example.org/new",
        )
        rosters.update_session(session, details, now=utcnow(), actor=actor)
        send_reminders(session.starts_at - timedelta(hours=1))
        db.session.commit()
    client.post(f"/manage/{token}/cancel", data={"confirm": "y"})
    client.post(f"/manage/{waiting}/cancel", data={"confirm": "y"})
    deliver(app)

    messages = arrived(smtp)
    kinds = [m["subject"].split(":")[0] for m in messages]
    assert kinds == [
        "You're booked",
        "You're on the waitlist for " + kinds[1].split(" for ", 1)[-1],
        "Cancelled",  # the old date, after the move
        "Your training date has changed",
        "A seat opened up",
        "Updated",
        "Reminder",
        "Cancelled",
        "Cancelled",
    ]
    for message in messages:
        folded = [address.lower() for address in message["rcpt"]]
        assert len(folded) == len(set(folded)), message["subject"]
        if message["invite"]:
            attendees = [address for address, _name in message["invite"]["attendees"]]
            assert len(attendees) == len(set(attendees))
            assert len(attendees) == len(message["rcpt"])
    jordan = [m for m in messages if "Jordan.Reyes@Example.org" in m["rcpt"]]
    assert {tuple(m["rcpt"]) for m in jordan} == {("Jordan.Reyes@Example.org", "lee@example.org")}
    pat = [m for m in messages if "Pat@Valley.example.org" in m["rcpt"]]
    assert {tuple(m["rcpt"]) for m in pat} == {("Pat@Valley.example.org",)}


# --- What the emails say ---------------------------------------------------------------------


def staff_edit(app, session_id: int, **changes):
    with app.app_context():
        session = db.session.get(TrainingSession, session_id)
        actor = create_staff("pat@cmadocs.example.org", "correct horse battery", "staff")
        values = {
            "starts_at": session.starts_at,
            "ends_at": session.ends_at,
            "seats": session.seats,
            "meeting_url": session.meeting_url,
            "dial_in": session.dial_in,
            "passcode": session.passcode,
        }
        told = rosters.update_session(
            session, rosters.SessionDetails(**{**values, **changes}), now=utcnow(), actor=actor
        )
        db.session.commit()
        return told


def test_the_session_changed_email_says_old_and_new_time_link_and_dial_in(
    app, client, make_session, smtp
):
    session_id = make_session(meeting_url="https://meet.example.org/old", dial_in="+1 916 555 0100")
    client.post("/signup", data=signup_form(session_id, attendee_emails=""))
    with app.app_context():
        session = db.session.get(TrainingSession, session_id)
        old_when, starts_at, ends_at = session.when, session.starts_at, session.ends_at
    deliver(app)
    smtp.received.clear()

    assert (
        staff_edit(
            app,
            session_id,
            starts_at=starts_at + timedelta(hours=1),
            ends_at=ends_at + timedelta(hours=1),
            meeting_url="https://meet.example.org/new",
            dial_in=None,
        ).booked
        == 1
    )
    deliver(app)

    [update] = arrived(smtp)
    with app.app_context():
        new_when = db.session.get(TrainingSession, session_id).when
    text = update["text"]
    assert f"Time: {new_when}\n    (was: {old_when})" in text
    assert (
        "Meeting link: https://meet.example.org/new\n    (was: https://meet.example.org/old)"
        in (text)
    )
    assert "Dial-in: not set\n    (was: +1 916 555 0100)" in text
    assert "Passcode:" not in text
    html = smtp.received[0].message.get_body(("html",)).get_content()
    assert "https://meet.example.org/old" in html and old_when in html
    assert update["invite"]["sequence"] == 1


def test_the_session_changed_email_lists_link_passcode_and_dial_in_in_one_order(
    app, client, make_session, smtp
):
    session_id = make_session(meeting_url="https://meet.example.org/old")
    client.post("/signup", data=signup_form(session_id, attendee_emails=""))
    deliver(app)
    smtp.received.clear()

    staff_edit(
        app,
        session_id,
        meeting_url="https://meet.example.org/new",
        passcode="4321",
        dial_in="+1 555 0100",
    )
    deliver(app)

    [update] = arrived(smtp)
    text = update["text"]
    changed = [text.index(f"  {label}: ") for label in ("Meeting link", "Passcode", "Dial-in")]
    assert changed == sorted(changed)  # "What changed"
    assert "  Passcode: 4321\n  Dial-in: +1 555 0100\n" in text  # the session as it stands now


def test_the_session_changed_email_lists_only_what_changed(app, client, make_session, smtp):
    session_id = make_session(meeting_url="https://meet.example.org/old")
    client.post("/signup", data=signup_form(session_id, attendee_emails=""))
    deliver(app)
    smtp.received.clear()

    staff_edit(app, session_id, passcode="4321")
    deliver(app)

    [update] = arrived(smtp)
    assert "What changed:\n\n  Passcode: 4321\n    (was: not set)\n" in update["text"]
    assert "Time:" not in update["text"] and "Meeting link: https" in update["text"]
    assert "(was: https://meet.example.org/old)" not in update["text"]


def test_a_passcode_without_a_dial_in_reaches_every_email_page_and_invite_once(
    app, client, make_session, smtp
):
    session_id = make_session(meeting_url="https://meet.example.org/abc", passcode="4321")
    token = manage_token(client.post("/signup", data=signup_form(session_id)))
    deliver(app)

    [booked] = arrived(smtp)
    html = smtp.received[0].message.get_body(("html",)).get_content()
    assert booked["text"].count("Passcode: 4321") == 1
    assert "  Meeting link: https://meet.example.org/abc\n  Passcode: 4321\n" in booked["text"]
    assert html.count("Passcode: 4321") == 1 and "<br>Passcode: 4321" in html
    assert booked["invite"]["description"].count("Passcode: 4321") == 1
    for path in (f"/manage/{token}", f"/manage/{token}/confirmation"):
        page = page_text(client.get(path))
        assert "Meeting link https://meet.example.org/abc Passcode 4321" in page
        assert page.count("Passcode 4321") == 1


def test_the_session_changed_email_shows_a_new_passcode_in_the_session_as_it_stands(
    app, client, make_session, smtp
):
    session_id = make_session(meeting_url="https://meet.example.org/abc")
    client.post("/signup", data=signup_form(session_id, attendee_emails=""))
    deliver(app)
    smtp.received.clear()

    staff_edit(app, session_id, passcode="4321")
    deliver(app)

    [update] = arrived(smtp)
    html = smtp.received[0].message.get_body(("html",)).get_content()
    as_it_stands = update["text"].split("as it stands now:")[1]
    assert "Meeting link: https://meet.example.org/abc\n  Passcode: 4321\n" in as_it_stands
    assert "<br>Passcode: 4321" in html.split("as it stands now:")[1]


def test_with_a_dial_in_the_passcode_is_said_once_after_the_meeting_link(
    app, client, make_session, smtp
):
    session_id = make_session(
        meeting_url="https://meet.example.org/abc", dial_in="+1 555 0100", passcode="4321"
    )
    token = manage_token(client.post("/signup", data=signup_form(session_id)))
    deliver(app)

    [booked] = arrived(smtp)
    assert "  Passcode: 4321\n  Dial-in: +1 555 0100\n" in booked["text"]
    assert booked["text"].count("Passcode: 4321") == 1
    assert booked["invite"]["description"].count("Passcode: 4321") == 1
    assert page_text(client.get(f"/manage/{token}")).count("Passcode 4321") == 1


def test_the_calendar_links_give_the_joining_details_as_the_invite_does(
    app, client, make_session, smtp
):
    session_id = make_session(
        meeting_url="https://meet.example.org/abc", dial_in="+1 669 900 6833", passcode="4321"
    )
    client.post("/signup", data=signup_form(session_id))
    deliver(app)

    [booked] = arrived(smtp)
    joining = "Join: https://meet.example.org/abc\nPasscode: 4321\nDial-in: +1 669 900 6833"
    assert joining in booked["invite"]["description"].replace("\r\n", "\n")
    links = re.findall(r"(https://(?:calendar\.google|outlook\.\w+)\.com/\S+)", booked["text"])
    assert len(links) == 3
    for link in links:
        query = parse_qs(urlsplit(link).query)
        assert (query.get("details") or query["body"]) == [joining]


def test_the_waitlist_email_names_the_date_and_the_organization(app, client, make_session, smtp):
    full = make_session(seats=0)
    client.post("/signup", data=signup_form(full))
    deliver(app)

    [waitlisted] = arrived(smtp)
    with app.app_context():
        when = db.session.get(TrainingSession, full).when
    assert waitlisted["subject"] == (
        f"You're on the waitlist for {when} (Sierra Valley Medical Society)"
    )


def test_the_invite_says_inc_with_one_period(app, client, make_session, smtp):
    client.post(
        "/signup", data=signup_form(make_session(), organization_name="Sierra Valley Health Inc.")
    )
    deliver(app)

    [confirmation] = arrived(smtp)
    description = confirmation["invite"]["description"]
    assert "for Sierra Valley Health Inc.\n" in description
    assert ".." not in description


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Acme", "Acme."),
        ("Acme Inc.", "Acme Inc."),
        ("Acme Inc. ", "Acme Inc."),
        ("Is it?", "Is it?"),
        ("Wow!", "Wow!"),
        ("and so on…", "and so on…"),
        ("Acme (Inc.)", "Acme (Inc.)."),
    ],
)
def test_a_sentence_gets_a_period_only_when_it_has_none(text, expected):
    assert sentence(text) == expected


def test_the_outbox_row_lists_each_mailbox_once(app, client, make_session):
    client.post(
        "/signup",
        data=signup_form(
            make_session(), contact_email="Ana@Example.org", attendee_emails="ana@example.org"
        ),
    )
    with app.app_context():
        [message] = db.session.scalars(select(OutboxMessage)).all()
        assert message.recipients == ["Ana@Example.org"]
        signup = db.session.scalars(select(Signup)).one()
        assert signup.mailboxes == [("Ana Reyes", "Ana@Example.org")]


def test_an_attendee_email_keeps_the_case_it_was_typed_in(app, client, make_session):
    token = manage_token(
        client.post(
            "/signup",
            data=signup_form(
                make_session(), attendee_emails="CY@example.org\ncy@EXAMPLE.org\nlee@x.org"
            ),
        )
    )
    assert "Attending CY@example.org, lee@x.org" in page_text(client.get(f"/manage/{token}"))
    with app.app_context():
        [message] = db.session.scalars(select(OutboxMessage)).all()
        assert "CY@example.org" in message.recipients
        assert "cy@example.org" not in message.recipients


def test_the_contact_listed_as_an_attendee_too_is_not_shown_twice_as_attending(
    app, client, make_session, sign_in_as
):
    session_id = make_session()
    token = manage_token(
        client.post(
            "/signup",
            data=signup_form(
                session_id,
                contact_email="zoe@example.org",
                attendee_emails="lee@x.org\nKim@x.org\nZOE@example.org",
            ),
        )
    )

    page = page_text(client.get(f"/manage/{token}"))
    assert "Attending lee@x.org, Kim@x.org" in page
    assert "Attending lee@x.org, Kim@x.org, ZOE@example.org" not in page
    with app.app_context():
        signup = db.session.scalars(select(Signup)).one()
        assert [email for _name, email in signup.mailboxes] == [
            "zoe@example.org",
            "lee@x.org",
            "Kim@x.org",
        ]
    sign_in_as("staff")
    for path in (f"/staff/sessions/{session_id}", f"/staff/sessions/{session_id}/print"):
        roster = client.get(path).get_data(as_text=True)
        assert "lee@x.org<br>Kim@x.org</" in roster
        assert "ZOE@example.org" not in roster


def test_a_waitlist_places_contacts_update_gives_its_place_in_line(app, client, make_session, smtp):
    full = make_session(seats=0)
    token = manage_token(client.post("/signup", data=signup_form(full)))
    deliver(app)
    smtp.received.clear()

    [update] = save_contacts(
        app, client, smtp, token, attendee_emails=f"{LEE}\n{KIM}\nsam@sierravalley.example.org"
    )

    with app.app_context():
        when = db.session.get(TrainingSession, full).when
    assert update["subject"].startswith("Updated: the contacts for your waitlist place")
    assert f"  1. {when}: number 1 in line\n" in update["text"]
    html = smtp.received[0].message.get_body(("html",)).get_content()
    assert f"<li>{when}: number 1 in line</li>" in html
