"""Every HTML email fits a 375 px phone screen, however long its values, and shows staff's own
words with the line breaks they typed."""

from datetime import UTC, datetime

import pytest
from conftest import page_text, signup_form
from sqlalchemy import select

from training.booking.models import TrainingSession
from training.extensions import db
from training.mail.layout import staff_paragraphs
from training.mail.models import OutboxMessage

pytestmark = pytest.mark.clock

PHONE = {"width": 375, "height": 740}
# A real meeting link is one unbroken run of about 80 characters (Zoom's with its ?pwd=).
OLD_LINK = "https://us02web.zoom.us/j/81234567890?pwd=UmFuZG9tUGFzc2NvZGVGb3JUaGlzTWVldGluZzEyMw.1"
NEW_LINK = (
    "https://us06web.zoom.us/j/89876543210?pwd=QW5vdGhlclJhbmRvbVBhc3Njb2RlRm9yTWVldGluZzQ1Ng.1"
)
LONG_NAME = "SierraValleyMedicalSocietyOfNorthernCaliforniaContinuingEducationOffice"
REASON = "The facilitator is ill.\r\nWe are sorry for the short notice.\r\n\r\nPlease book again."
MESSAGE = "Hi-res slides are attached.\r\nBring your learner file.\r\n\r\nSee you there."


@pytest.fixture(autouse=True)
def tuesday_morning(time_machine):
    """10 AM Pacific: a session three days ahead is edited by its own day and times."""
    time_machine.move_to(datetime(2026, 11, 24, 18, 0, tzinfo=UTC), tick=True)


def every_kind_of_email(app, client, make_session, sign_in_as) -> dict[str, str]:
    """Bookings, a waitlist place, a changed meeting link, staff's message and a cancelled
    session, each with a long meeting link and organization name: kind -> its HTML."""
    session_id = make_session(seats=1, meeting_url=OLD_LINK)
    for name, email in ((LONG_NAME, "ana@sierra.example.org"), (LONG_NAME + "Two", "li@x.org")):
        form = signup_form(
            session_id, organization_name=name, contact_email=email, join_waitlist="y"
        )
        assert client.post("/signup", data=form).status_code == 303
    sign_in_as("staff")
    with app.app_context():
        session = db.session.get(TrainingSession, session_id)
        start, end = session.local_starts_at, session.local_ends_at
    edited = client.post(
        f"/staff/sessions/{session_id}/edit",
        data={
            "day": f"{start:%Y-%m-%d}",
            "starts_at": f"{start:%H:%M}",
            "ends_at": f"{end:%H:%M}",
            "seats": "1",
            "meeting_url": NEW_LINK,
        },
    )
    assert edited.status_code == 303, page_text(edited)
    sent = client.post(
        "/staff/sessions/email",
        data={"sessions": [str(session_id)], "subject": "Slides", "body": MESSAGE, "send": "y"},
    )
    assert sent.status_code == 303, page_text(sent)
    cancelled = client.post(f"/staff/sessions/{session_id}/cancel", data={"reason": REASON})
    assert cancelled.status_code == 303, page_text(cancelled)
    with app.app_context():
        rows = db.session.execute(select(OutboxMessage.kind, OutboxMessage.html_body)).all()
    return dict(rows)


def test_every_email_fits_a_phone_screen_with_a_long_meeting_link_and_name(
    app, client, make_session, sign_in_as, browser
):
    emails = every_kind_of_email(app, client, make_session, sign_in_as)
    assert {
        "booking_confirmed",
        "waitlisted",
        "session_changed",
        "staff_message",
        "session_cancelled",
        "waitlist_session_cancelled",
    } <= emails.keys()
    assert NEW_LINK in emails["session_changed"] and OLD_LINK in emails["session_changed"]
    page = browser.new_page(viewport=PHONE)
    wide = {}
    for kind, html in emails.items():
        page.set_content(html)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            wide[kind] = width
    page.close()
    assert wide == {}


def test_the_labels_of_what_changed_stay_whole_beside_a_long_meeting_link(
    app, client, make_session, sign_in_as, browser
):
    """Only the values break to fit a phone: "Meeting link" stays on one line, at 375 px and in
    a desktop mail window alike."""
    html = every_kind_of_email(app, client, make_session, sign_in_as)["session_changed"]
    page = browser.new_page(viewport=PHONE)
    lines_by_width = {}
    for width in (PHONE["width"], 700):
        page.set_viewport_size({"width": width, "height": PHONE["height"]})
        page.set_content(html)
        lines_by_width[width] = page.evaluate(
            """[...document.querySelectorAll("th")].map((th) => {
                const range = document.createRange();
                range.selectNodeContents(th);
                return [th.textContent.trim(), range.getClientRects().length];
            })"""
        )
    page.close()
    assert lines_by_width[PHONE["width"]], "the email has a table of what changed"
    assert all(lines == 1 for rows in lines_by_width.values() for _, lines in rows), lines_by_width


def test_staff_line_breaks_reach_every_html_email_as_they_typed_them(
    app, client, make_session, sign_in_as
):
    emails = every_kind_of_email(app, client, make_session, sign_in_as)
    for kind in ("session_cancelled", "waitlist_session_cancelled"):
        assert "The facilitator is ill.<br>We are sorry for the short notice.</p>" in emails[kind]
        assert ">Please book again.</p>" in emails[kind]
    assert "Hi-res slides are attached.<br>Bring your learner file.</p>" in emails["staff_message"]
    # "Hi-res" is no greeting: the organization is greeted by name.
    assert "Hello Ana Reyes," in emails["staff_message"]


def test_staff_text_is_escaped_before_its_line_breaks_become_html():
    html = staff_paragraphs("<b>Room</b> 4\r\n<script>x</script>\r\n\r\nBye", "Why:")
    assert html.count("<p ") == 2
    assert "<strong>Why:</strong> &lt;b&gt;Room&lt;/b&gt; 4<br>&lt;script&gt;" in html
    assert "<script>" not in html
