"""Possible duplicate organizations: the pure detection, and merging or dismissing a pair."""

import re
from datetime import timedelta

import pytest
from conftest import page_text, signup_form
from sqlalchemy import select

from training.audit.models import AuditEvent
from training.booking.models import Signup, TrainingSession
from training.extensions import db
from training.mail.models import OutboxMessage
from training.signups.duplicates import PossibleDuplicate, SignupFacts, find_possible_duplicates
from training.signups.models import DuplicateReview


def facts(signup_id, key, *, emails=(), provider_id=None, program_id=1) -> SignupFacts:
    return SignupFacts(
        id=signup_id,
        program_id=program_id,
        organization_key=key,
        provider_id=provider_id,
        emails=tuple(emails),
    )


# The pure detection, without an app.


def test_similar_names_are_a_possible_duplicate():
    found = find_possible_duplicates(
        [facts(1, "sierravalleymedicalsociety"), facts(2, "sierravalleymedicalsocity")]
    )
    assert found == [PossibleDuplicate(1, 2, ("similar names",))]


def test_a_name_inside_another_is_a_possible_duplicate_but_short_ones_are_not():
    found = find_possible_duplicates(
        [
            facts(1, "sierravalley"),
            facts(2, "sierravalleymedicalsocietyofcalifornia"),
            facts(3, "ama"),
            facts(4, "amarillohealthsystem"),
        ]
    )
    assert found == [PossibleDuplicate(1, 2, ("one name contains the other",))]


def test_different_names_are_not_listed():
    assert find_possible_duplicates([facts(1, "northclinic"), facts(2, "lakesidehealth")]) == []


def test_the_same_email_domain_is_a_possible_duplicate_whatever_its_case():
    found = find_possible_duplicates(
        [
            facts(1, "northclinic", emails=["ana@SierraValley.org"]),
            facts(2, "lakesidehealth", emails=["pat@other.org", "lee@sierravalley.org"]),
        ]
    )
    assert found == [PossibleDuplicate(1, 2, ("email addresses at sierravalley.org",))]


@pytest.mark.parametrize("domain", ["gmail.com", "yahoo.com", "outlook.com", "Hotmail.com"])
def test_free_mail_domains_say_nothing(domain):
    found = find_possible_duplicates(
        [
            facts(1, "northclinic", emails=[f"ana@{domain}"]),
            facts(2, "lakesidehealth", emails=[f"pat@{domain}"]),
        ]
    )
    assert found == []


@pytest.mark.parametrize("spelling", ["001-2345", "12345", "0012345 ", "001 23 45"])
def test_the_same_provider_id_spelled_differently_is_a_possible_duplicate(spelling):
    found = find_possible_duplicates(
        [
            facts(1, "northclinic", provider_id="0012345"),
            facts(2, "lakesidehealth", provider_id=spelling),
        ]
    )
    assert [(pair.first_id, pair.second_id) for pair in found] == [(1, 2)]
    assert found[0].reasons[0].startswith("the same provider ID (0012345 and ")


def test_all_reasons_of_a_pair_are_given_together():
    found = find_possible_duplicates(
        [
            facts(7, "acmehealth", emails=["a@acme.org"], provider_id="0000042"),
            facts(3, "acmehealth", emails=["b@acme.org"], provider_id="42"),
        ]
    )
    assert found == [
        PossibleDuplicate(
            3,
            7,
            (
                "the same name",
                "email addresses at acme.org",
                "the same provider ID (42 and 0000042)",
            ),
        )
    ]


def test_pairs_with_like_names_come_before_pairs_that_only_share_a_domain():
    found = find_possible_duplicates(
        [
            facts(1, "northclinic", emails=["ana@bighealth.org"]),
            facts(2, "lakesidehealth", emails=["pat@bighealth.org"]),
            facts(3, "sierravalleymedicalsociety"),
            facts(4, "sierravalleymedicalsocity"),
        ]
    )
    assert [(pair.first_id, pair.second_id) for pair in found] == [(3, 4), (1, 2)]


def test_signups_in_different_programs_are_never_paired():
    found = find_possible_duplicates(
        [facts(1, "acmehealth", program_id=1), facts(2, "acmehealth", program_id=2)]
    )
    assert found == []


def test_reviewed_pairs_are_not_listed_again():
    signups = [facts(1, "acmehealth"), facts(2, "acmehealths"), facts(3, "acmehealthcare")]
    found = find_possible_duplicates(signups, reviewed={(1, 2), (2, 3)})
    assert [(pair.first_id, pair.second_id) for pair in found] == [(1, 3)]


# Reviewing pairs in the staff console.


@pytest.fixture
def pair(client, make_session):
    """Two signups of what may be one organization; returns (session id, first, second ids)."""
    session_id = make_session()
    client.post("/signup", data=signup_form(session_id))
    client.post(
        "/signup",
        data=signup_form(
            session_id,
            organization_name="Sierra Valley Medical Societies",
            contact_name="Pat Kim",
            contact_email="pat@svms.example.net",
            attendee_emails="kim@sierravalley.example.org\njo@svms.example.net\nlu@svms.example.net",
        ),
    )
    return session_id, 1, 2


def test_staff_see_a_possible_duplicate_with_its_reasons(client, sign_in_as, pair):
    sign_in_as("staff")
    text = page_text(client.get("/staff/duplicates"))
    assert "1 pair to review." in text
    assert "Sierra Valley Medical Society and Sierra Valley Medical Societies" in text
    assert "Why listed: similar names; email addresses at sierravalley.example.org." in text
    assert "Keep Sierra Valley Medical Society (signup 1, the earlier)" in text


def test_dismissing_a_pair_records_the_note_and_hides_it(app, client, sign_in_as, pair):
    staff_id = sign_in_as("staff")
    response = client.post(
        "/staff/duplicates/1/2/dismiss", data={"pair-1-2-dismiss-note": "Two chapters."}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/duplicates"
    text = page_text(client.get("/staff/duplicates"))
    assert (
        "Marked Sierra Valley Medical Society and Sierra Valley Medical Societies "
        "as different organizations."
    ) in text
    assert "No possible duplicates to review." in text
    with app.app_context():
        review = db.session.scalars(select(DuplicateReview)).one()
        assert (review.decision, review.note, review.decided_by_id) == (
            "dismissed",
            "Two chapters.",
            staff_id,
        )
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "signup.duplicate_dismissed")
        ).all()
        assert sorted(event.signup_id for event in events) == [1, 2]
        assert all(event.actor == "staff@cmadocs.example.org" for event in events)
        assert events[0].details["note"] == "Two chapters."
        assert db.session.scalars(select(Signup.status)).all() == ["confirmed", "confirmed"]


def test_merging_keeps_the_earlier_signup_and_cancels_the_other(app, client, sign_in_as, pair):
    session_id = pair[0]
    sign_in_as("admin")
    response = client.post("/staff/duplicates/1/2/merge", data={"pair-1-2-merge-keep": "first"})
    assert response.status_code == 303
    text = page_text(client.get("/staff/duplicates"))
    assert (
        "Kept Sierra Valley Medical Society's signup and cancelled "
        "Sierra Valley Medical Societies' (its contacts were emailed)."
    ) in text
    assert "No possible duplicates to review." in text
    with app.app_context():
        kept, dropped = db.session.get(Signup, 1), db.session.get(Signup, 2)
        assert (kept.status, dropped.status) == ("confirmed", "cancelled")
        # Attendees only the cancelled signup had move over; the kept one's stay first.
        assert [attendee.email for attendee in kept.attendees] == [
            "lee@sierravalley.example.org",
            "kim@sierravalley.example.org",
            "jo@svms.example.net",
            "lu@svms.example.net",
        ]
        assert db.session.get(TrainingSession, session_id).seats_booked == 1
        assert db.session.scalars(select(DuplicateReview.decision)).one() == "merged"
        events = {
            event.action: event
            for event in db.session.scalars(select(AuditEvent).where(AuditEvent.actor_id == 1))
        }
        assert events["signup.cancelled"].signup_id == 2
        assert events["signup.cancelled"].details["reason"] == (
            "merged into Sierra Valley Medical Society (signup 1)"
        )
        assert events["signup.duplicate_merged"].details["attendees_added"] == [
            "jo@svms.example.net",
            "lu@svms.example.net",
        ]


def test_staff_may_keep_the_later_signup_and_attendees_stop_at_five(
    app, client, sign_in_as, make_session
):
    session_id = make_session()
    client.post(
        "/signup",
        data=signup_form(
            session_id, attendee_emails="\n".join(f"a{n}@sierravalley.example.org" for n in (1, 2))
        ),
    )
    client.post(
        "/signup",
        data=signup_form(
            session_id,
            organization_name="Sierra Valley Medical Societies",
            attendee_emails="\n".join(f"b{n}@sierravalley.example.org" for n in (1, 2, 3, 4)),
        ),
    )
    sign_in_as("staff")
    client.post("/staff/duplicates/1/2/merge", data={"pair-1-2-merge-keep": "second"})
    with app.app_context():
        kept, dropped = db.session.get(Signup, 2), db.session.get(Signup, 1)
        assert (kept.status, dropped.status) == ("confirmed", "cancelled")
        assert [attendee.email for attendee in kept.attendees] == [
            "b1@sierravalley.example.org",
            "b2@sierravalley.example.org",
            "b3@sierravalley.example.org",
            "b4@sierravalley.example.org",
            "a1@sierravalley.example.org",
        ]


def test_a_pair_cannot_be_decided_twice(client, sign_in_as, pair):
    sign_in_as("staff")
    client.post("/staff/duplicates/1/2/dismiss", data={})
    response = client.post("/staff/duplicates/1/2/merge", data={"pair-1-2-merge-keep": "first"})
    assert response.status_code == 303
    assert "Someone has already reviewed these two signups." in page_text(
        client.get("/staff/duplicates")
    )


def test_merging_a_cancelled_signup_is_refused_with_a_message(app, client, sign_in_as, pair):
    sign_in_as("staff")
    with app.app_context():
        db.session.get(Signup, 2).status = "cancelled"
        db.session.commit()
    client.post("/staff/duplicates/1/2/merge", data={"pair-1-2-merge-keep": "first"})
    assert "One of these signups is already cancelled; nothing to merge." in page_text(
        client.get("/staff/duplicates")
    )
    with app.app_context():
        assert db.session.scalars(select(DuplicateReview)).all() == []


def test_an_unknown_choice_of_signup_to_keep_is_refused(app, client, sign_in_as, pair):
    sign_in_as("staff")
    client.post("/staff/duplicates/1/2/merge", data={"pair-1-2-merge-keep": "both"})
    assert "Choose which signup stays." in page_text(client.get("/staff/duplicates"))
    with app.app_context():
        assert db.session.scalars(select(Signup.status)).all() == ["confirmed", "confirmed"]


def _eight_clinics_at_one_domain(client, session_id) -> None:
    """Eight signups unlike in name, all at bighealth.example.org: 28 pairs, two pages."""
    names = ["Alder", "Birch", "Cedar", "Dogwood", "Elm", "Fir", "Ginkgo", "Hazel"]
    for name in names:
        client.post(
            "/signup",
            data=signup_form(
                session_id,
                organization_name=f"{name} Street Clinic Group {len(name) * 1111}",
                contact_email=f"{name.lower()}@bighealth.example.org",
                attendee_emails=f"staff.{name.lower()}@bighealth.example.org",
            ),
        )


def test_many_signups_at_one_domain_are_reviewed_a_page_at_a_time(client, sign_in_as, make_session):
    _eight_clinics_at_one_domain(client, make_session())
    sign_in_as("staff")
    first_page = page_text(client.get("/staff/duplicates"))
    assert "28 pairs to review. Showing 1–20" in first_page
    assert "Page 1 of 2" in first_page
    assert first_page.count("Why listed:") == 20
    second = client.get("/staff/duplicates?page=2")
    assert "Showing 21–28" in page_text(second)
    assert page_text(second).count("Why listed:") == 8
    # A page past the last shows the last, however large; no number, zero or below, the first.
    for past in ("99", "99999999999", "9" * 30):
        assert "Showing 21–28" in page_text(client.get(f"/staff/duplicates?page={past}"))
    for odd in ("abc", "0", "-2", ""):
        assert "Showing 1–20" in page_text(client.get(f"/staff/duplicates?page={odd}"))
    # Dismissing a pair on page 2 comes back to page 2, one pair fewer.
    response = client.post(
        "/staff/duplicates/7/8/dismiss?page=2", data={"pair-7-8-dismiss-note": "Two clinics."}
    )
    assert response.headers["Location"] == "/staff/duplicates?page=2"
    assert "27 pairs to review. Showing 21–27" in page_text(
        client.get(response.headers["Location"])
    )


def test_a_merge_and_its_undo_from_a_later_page_come_back_to_that_page(
    client, sign_in_as, make_session
):
    _eight_clinics_at_one_domain(client, make_session())
    sign_in_as("staff")
    second_page = client.get("/staff/duplicates?page=2").get_data(as_text=True)
    assert '<input type="hidden" name="page" value="2">' in second_page
    review = client.get("/staff/duplicates/7/8/merge?pair-7-8-merge-keep=first&page=2")
    review_html = review.get_data(as_text=True)
    assert 'action="/staff/duplicates/7/8/merge?page=2"' in review_html
    assert 'href="/staff/duplicates?page=2">Back to possible duplicates' in review_html
    merged = client.post(
        "/staff/duplicates/7/8/merge?page=2", data={"pair-7-8-merge-keep": "first"}
    )
    assert merged.headers["Location"] == "/staff/duplicates?page=2"
    after = page_text(client.get(merged.headers["Location"]))
    # Signup 8 is cancelled, so its 7 pairs leave the list: 21 pairs, the second page holds one.
    assert "21 pairs to review. Showing 21–21" in after
    assert "Merge undone" not in after
    undo_form = client.get("/staff/duplicates?page=2").get_data(as_text=True)
    action = re.search(r'action="(/staff/duplicates/merges/\d+/undo[^"]*)"', undo_form)
    assert action and action.group(1).endswith("?page=2")
    undone = client.post(action.group(1).replace("&amp;", "&"))
    assert undone.headers["Location"] == "/staff/duplicates?page=2"
    assert "28 pairs to review. Showing 21–28" in page_text(client.get(undone.headers["Location"]))


def test_facilitators_cannot_see_or_decide_duplicates(client, sign_in_as, pair):
    sign_in_as("facilitator")
    refused = client.get("/staff/duplicates")
    assert refused.status_code == 403
    # Said in words, not the server's own "read-protected or not readable" text.
    assert "This page is not open to your account" in page_text(refused)
    assert "Ask an admin if you need it." in page_text(refused)
    assert "read-protected" not in page_text(refused)
    # Still in the console: its navigation, and a way to sign out.
    assert "Signed in as" in page_text(refused) and "Sign out" in page_text(refused)
    assert client.post("/staff/duplicates/1/2/dismiss").status_code == 403
    assert client.post("/staff/duplicates/1/2/merge").status_code == 403


def test_visitors_are_sent_to_sign_in_from_duplicates(client, pair):
    for response in (client.get("/staff/duplicates"), client.post("/staff/duplicates/1/2/merge")):
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/staff/sign-in?next=")


# Confirming a merge, and undoing it.


def test_a_merge_is_confirmed_on_a_page_showing_both_organizations_and_what_changes(
    app, client, sign_in_as, pair
):
    sign_in_as("staff")
    listing = client.get("/staff/duplicates").get_data(as_text=True)
    assert 'method="get" action="/staff/duplicates/1/2/merge"' in listing
    response = client.get("/staff/duplicates/1/2/merge?pair-1-2-merge-keep=second")
    text = page_text(response)
    assert response.status_code == 200
    assert "Merge these two signups?" in text
    assert "Sierra Valley Medical Society Sierra Valley Medical Societies" in text
    assert "Sierra Valley Medical Societies (signup 2) stays, booked on" in text
    assert (
        "Sierra Valley Medical Society (signup 1) is cancelled, and its contacts "
        "(ana.reyes@sierravalley.example.org, lee@sierravalley.example.org, "
        "kim@sierravalley.example.org) are emailed that it was."
    ) in text
    assert (
        "These attendees move to Sierra Valley Medical Societies, and everyone on it is emailed "
        "the change with its calendar invite: lee@sierravalley"
    ) in text
    assert "Back to possible duplicates, changing nothing" in text
    with app.app_context():
        # Looking is not deciding.
        assert db.session.scalars(select(Signup.status)).all() == ["confirmed", "confirmed"]
        assert db.session.scalars(select(DuplicateReview)).all() == []
    form = response.get_data(as_text=True)
    assert 'name="pair-1-2-merge-keep" value="second"' in form
    client.post("/staff/duplicates/1/2/merge", data={"pair-1-2-merge-keep": "second"})
    with app.app_context():
        assert db.session.get(Signup, 1).status == "cancelled"


def test_the_merge_page_says_a_signup_without_attendees_has_none_to_move(
    client, make_session, sign_in_as
):
    session_id = make_session()
    client.post("/signup", data=signup_form(session_id))
    client.post(
        "/signup",
        data=signup_form(
            session_id,
            organization_name="Sierra Valley Medical Societies",
            contact_email="pat@svms.example.net",
            attendee_emails="",
        ),
    )
    sign_in_as("staff")
    text = page_text(client.get("/staff/duplicates/1/2/merge?pair-1-2-merge-keep=first"))
    assert "No attendee moves: Sierra Valley Medical Societies has no attendees to move." in text
    assert "already lists" not in text and "no room" not in text


def test_the_merge_page_names_the_attendees_the_kept_signup_already_lists(
    client, make_session, sign_in_as
):
    session_id = make_session()
    client.post("/signup", data=signup_form(session_id))
    client.post(
        "/signup",
        data=signup_form(
            session_id,
            organization_name="Sierra Valley Medical Societies",
            contact_email="pat@svms.example.net",
            attendee_emails="lee@sierravalley.example.org",
        ),
    )
    sign_in_as("staff")
    text = page_text(client.get("/staff/duplicates/1/2/merge?pair-1-2-merge-keep=first"))
    assert (
        "No attendee moves: Sierra Valley Medical Society already lists "
        "lee@sierravalley.example.org."
    ) in text
    assert "has no attendees" not in text


def test_the_merge_page_of_a_pair_already_decided_says_so_and_offers_nothing(
    client, sign_in_as, pair
):
    sign_in_as("staff")
    client.post("/staff/duplicates/1/2/dismiss", data={})
    response = client.get("/staff/duplicates/1/2/merge?pair-1-2-merge-keep=first")
    assert response.status_code == 303
    assert "Someone has already reviewed these two signups." in page_text(
        client.get("/staff/duplicates")
    )


def test_the_merged_away_signup_is_told_it_was_merged_and_into_what(app, client, sign_in_as, pair):
    sign_in_as("staff")
    client.post("/staff/duplicates/1/2/merge", data={"pair-1-2-merge-keep": "first"})
    with app.app_context():
        kept = db.session.get(Signup, 1)
        when = kept.session.when
        cancelled = db.session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.kind == "cancelled", OutboxMessage.signup_id == 2
            )
        ).one()
    body = " ".join(cancelled.text_body.split())
    assert (
        "It was a second signup of the same organization, so the training staff merged it into "
        f"the booking that goes on: Sierra Valley Medical Society, {when}. That booking's "
        "contact has its manage link."
    ) in body
    assert body.count("Questions") == 1
    assert "sign up again" not in body
    assert "merged it into the booking that goes on" in cancelled.html_body


def test_a_merge_can_be_undone_while_both_sessions_are_ahead(app, client, sign_in_as, pair):
    session_id = pair[0]
    sign_in_as("staff")
    client.post("/staff/duplicates/1/2/merge", data={"pair-1-2-merge-keep": "first"})
    text = page_text(client.get("/staff/duplicates"))
    assert "Recent merges" in text
    assert "Undo the merge of Sierra Valley Medical Societies into Sierra Valley Medical" in text
    with app.app_context():
        review_id = db.session.scalars(select(DuplicateReview.id)).one()
    response = client.post(f"/staff/duplicates/merges/{review_id}/undo")
    assert response.status_code == 303
    text = page_text(client.get("/staff/duplicates"))
    assert (
        "Merge undone: Sierra Valley Medical Societies has its place back "
        "(its contacts were emailed a new confirmation)."
    ) in text
    # The pair is back for a decision.
    assert "1 pair to review." in text
    with app.app_context():
        kept, back = db.session.get(Signup, 1), db.session.get(Signup, 2)
        assert (kept.status, back.status, back.session_id) == ("confirmed", "confirmed", session_id)
        assert back.cancelled_at is None
        assert [attendee.email for attendee in kept.attendees] == [
            "lee@sierravalley.example.org",
            "kim@sierravalley.example.org",
        ]
        assert db.session.get(TrainingSession, session_id).seats_booked == 2
        assert db.session.scalars(select(DuplicateReview)).all() == []
        welcome = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.signup_id == 2).order_by(OutboxMessage.id)
        ).all()[-1]
        # Not a plain "You're booked": the same contacts were told of the merge before.
        assert welcome.subject.startswith("Merge undone: you're booked again for ")
        assert (
            "The training staff undid the merge into Sierra Valley Medical Society that "
            "cancelled your booking, so Sierra Valley Medical Societies is booked again"
        ) in " ".join(welcome.text_body.split())
        assert welcome.calendar_method == "REQUEST"
        assert "pat@svms.example.net" in welcome.recipients
        actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
        # The attendees the merge moved left the kept booking: its links sent so far stop.
        assert actions[-3:] == [
            "signup.reinstated",
            "signup.manage_links_revoked",
            "signup.duplicate_merge_undone",
        ]


def test_an_undone_merge_of_a_waitlist_place_says_it_is_back_on_the_waitlist(
    app, client, make_session, sign_in_as
):
    full = make_session(seats=0)
    client.post("/signup", data=signup_form(full))
    client.post(
        "/signup",
        data=signup_form(
            full,
            organization_name="Sierra Valley Medical Societies",
            contact_email="pat@svms.example.net",
            attendee_emails="",
        ),
    )
    sign_in_as("staff")
    client.post("/staff/duplicates/1/2/merge", data={"pair-1-2-merge-keep": "first"})
    with app.app_context():
        review_id = db.session.scalars(select(DuplicateReview.id)).one()
    assert client.post(f"/staff/duplicates/merges/{review_id}/undo").status_code == 303
    with app.app_context():
        welcome = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.signup_id == 2).order_by(OutboxMessage.id)
        ).all()[-1]
    assert welcome.subject.startswith("Merge undone: you're back on the waitlist for ")
    assert "Sierra Valley Medical Societies is back on the waitlist" in " ".join(
        welcome.text_body.split()
    )


def test_a_merge_cannot_be_undone_once_a_session_has_begun(
    app, client, sign_in_as, make_session, time_machine
):
    session_id = make_session(starts_in=timedelta(hours=2))
    client.post("/signup", data=signup_form(session_id))
    client.post(
        "/signup",
        data=signup_form(session_id, organization_name="Sierra Valley Medical Societies"),
    )
    sign_in_as("staff")
    client.post("/staff/duplicates/1/2/merge", data={"pair-1-2-merge-keep": "first"})
    with app.app_context():
        review_id = db.session.scalars(select(DuplicateReview.id)).one()
        starts_at = db.session.get(TrainingSession, session_id).starts_at
    time_machine.move_to(starts_at + timedelta(minutes=5), tick=False)
    text = page_text(client.get("/staff/duplicates"))
    assert "Sierra Valley Medical Society's session (" in text and ") has begun." in text
    assert "Undo the merge" not in text
    client.post(f"/staff/duplicates/merges/{review_id}/undo")
    assert "This merge can no longer be undone: Sierra Valley Medical Society's session" in (
        page_text(client.get("/staff/duplicates"))
    )
    with app.app_context():
        assert db.session.get(Signup, 2).status == "cancelled"


def test_undoing_a_merge_whose_seat_was_taken_says_so_and_changes_nothing(
    app, client, sign_in_as, make_session
):
    session_id = make_session(seats=2)
    client.post("/signup", data=signup_form(session_id))
    client.post(
        "/signup",
        data=signup_form(session_id, organization_name="Sierra Valley Medical Societies"),
    )
    sign_in_as("staff")
    client.post("/staff/duplicates/1/2/merge", data={"pair-1-2-merge-keep": "first"})
    client.post(
        "/signup",
        data=signup_form(
            session_id, organization_name="Delta Health", contact_email="ana@delta.example.org"
        ),
    )
    with app.app_context():
        review_id = db.session.scalars(select(DuplicateReview.id)).one()
    client.post(f"/staff/duplicates/merges/{review_id}/undo")
    assert "has just filled" in page_text(client.get("/staff/duplicates"))
    with app.app_context():
        assert db.session.get(Signup, 2).status == "cancelled"
        assert db.session.get(TrainingSession, session_id).seats_booked == 2
        assert db.session.scalars(select(DuplicateReview.decision)).one() == "merged"


def test_the_merge_page_opens_from_the_duplicates_page_with_csrf_protection_on(
    app, client, sign_in_as, pair
):
    sign_in_as("staff")
    app.config["WTF_CSRF_ENABLED"] = True
    # The "Review the merge" form is a GET: it carries no CSRF token, and needs none.
    response = client.get("/staff/duplicates/1/2/merge?pair-1-2-merge-keep=first")
    assert response.status_code == 200
    assert "Merge these two signups?" in page_text(response)
    # Posting the merge itself still needs the token...
    refused = client.post("/staff/duplicates/1/2/merge", data={"pair-1-2-merge-keep": "first"})
    assert refused.status_code == 400
    with app.app_context():
        assert db.session.scalars(select(Signup.status)).all() == ["confirmed", "confirmed"]
    # ...which the page's Merge button sends, with every field of its form.
    page = response.get_data(as_text=True)
    form = page[page.index('<form method="post" action="/staff/duplicates/1/2/merge"') :]
    fields = dict(
        re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form[: form.index("</form>")])
    )
    assert "pair-1-2-merge-csrf_token" in fields
    merged = client.post("/staff/duplicates/1/2/merge", data=fields)
    assert merged.status_code == 303
    with app.app_context():
        assert db.session.get(Signup, 2).status == "cancelled"


def test_the_merge_review_is_a_page_reload_shows_again_and_its_merge_acts_once(
    app, client, sign_in_as, pair
):
    sign_in_as("staff")
    listing = client.get("/staff/duplicates").get_data(as_text=True)
    # Reached by a form that asks for a page (GET), never one that sends data (POST): Back
    # and Reload show the review again, with no "Confirm form resubmission".
    assert 'method="post" action="/staff/duplicates/1/2/merge' not in listing
    review = "/staff/duplicates/1/2/merge?pair-1-2-merge-keep=second"
    first, reloaded = client.get(review), client.get(review)
    assert reloaded.status_code == 200
    assert page_text(reloaded) == page_text(first)
    assert "Sierra Valley Medical Societies (signup 2) stays" in page_text(reloaded)

    key = re.search(r'name="submission_key" type="hidden" value="([^"]+)"', first.text).group(1)
    merge = {"pair-1-2-merge-keep": "second", "submission_key": key}
    merged = client.post("/staff/duplicates/1/2/merge", data=merge)
    twice = client.post("/staff/duplicates/1/2/merge", data=merge)  # a double click
    assert merged.status_code == twice.status_code == 303
    assert twice.headers["Location"] == merged.headers["Location"] == "/staff/duplicates"
    with app.app_context():
        assert db.session.get(Signup, 1).status == "cancelled"
        assert len(db.session.scalars(select(DuplicateReview)).all()) == 1
