"""Resource pages, staff edits, and the permission wording builder."""

import pytest
from conftest import PASSWORD, page_text

from training.extensions import db
from training.resources.services import build_wording, durations, wordings
from training.staff.services import create_staff


@pytest.mark.parametrize(
    ("slug", "expected"),
    [
        ("quick-start", "Learner Credit Reporting Quick Start Guide"),
        ("faq", "Tips for reporting learners quickly and efficiently"),
        ("permission-wording", "sample only"),
    ],
)
def test_resource_pages_show_their_default_text(client, slug, expected):
    response = client.get(f"/resources/{slug}")
    assert response.status_code == 200
    assert expected in page_text(response)


def test_the_permission_page_shows_both_samples_and_the_duration_note(client):
    text = page_text(client.get("/resources/permission-wording"))
    assert "Sample 1" in text and "Sample 2" in text
    assert "per activity" in text and "annually" in text and "for perpetuity" in text
    assert "must say how long the permission lasts" in text


def test_the_resources_are_linked_from_every_page(client):
    assert 'href="/resources/"' in client.get("/").get_data(as_text=True)


def test_an_unknown_resource_is_a_404(client):
    assert client.get("/resources/nope").status_code == 404


def test_staff_edit_a_page_and_html_in_it_is_shown_as_text(app, staff_client):
    response = staff_client.post(
        "/staff/resources/faq",
        data={"title": "FAQ <b>now</b>", "body": "## Updated\n\n<script>alert(1)</script> **ok**"},
    )
    assert response.headers["Location"] == "/resources/faq"
    page = staff_client.get("/resources/faq")
    html = page.get_data(as_text=True)
    assert "<h2>Updated</h2>" in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<strong>ok</strong>" in html
    assert "FAQ &lt;b&gt;now&lt;/b&gt;" in html


def test_staff_can_restore_the_default_text(staff_client):
    staff_client.post("/staff/resources/faq", data={"title": "Changed", "body": "Changed."})
    staff_client.post("/staff/resources/faq/restore")
    assert "Tips for reporting learners" in page_text(staff_client.get("/resources/faq"))


def test_an_empty_edit_is_refused_with_a_message(staff_client):
    response = staff_client.post("/staff/resources/faq", data={"title": "", "body": ""})
    text = page_text(response)
    assert "Give the page a title." in text
    assert "The page needs some text." in text


def test_visitors_and_facilitators_cannot_edit_pages(app, client):
    assert client.get("/staff/resources/faq").status_code == 302
    with app.app_context():
        create_staff("fac@cmadocs.example.org", PASSWORD, "facilitator")
        db.session.commit()
    client.post("/staff/sign-in", data={"email": "fac@cmadocs.example.org", "password": PASSWORD})
    assert client.get("/staff/resources/faq").status_code == 403
    assert client.post("/staff/resources/faq", data={"title": "x", "body": "y"}).status_code == 403


def test_the_builder_gives_ready_text_with_the_name_and_duration(client):
    response = client.get(
        "/resources/permission-wording/builder",
        query_string={
            "organization": "Acme & Sons <Clinic>",
            "duration": "annual",
            "wording": "short",
        },
    )
    html = response.get_data(as_text=True)
    text = page_text(response)
    assert "I give Acme & Sons <Clinic> permission" in text
    assert "during the current calendar year" in text
    assert "&lt;p&gt;I give Acme &amp;amp; Sons &amp;lt;Clinic&amp;gt; permission" in html


def test_the_builder_asks_for_the_organization_name(client):
    response = client.get(
        "/resources/permission-wording/builder",
        query_string={"organization": "", "duration": "annual", "wording": "short"},
    )
    assert "Enter your organization's name." in page_text(response)


def test_builder_keeps_braces_in_names_as_typed():
    text = build_wording("{duration} Clinic", "detailed", "perpetual")
    assert text.startswith("By providing")
    assert "authorize {duration} Clinic to report" in text
    assert "until I withdraw it" in text


@pytest.mark.parametrize("organization", ["Acme Inc.", "Acme Clinic", "Acme, L.L.C."])
def test_every_built_wording_reads_cleanly(organization):
    """Every wording and duration: no double period after a name ending in one, no sentence
    twice, and withdrawing is said once, of the permission itself (never "withdraw this
    permission to the Accreditation Council")."""
    for wording in wordings():
        for duration_key, duration in durations().items():
            text = build_wording(organization, wording.key, duration_key)
            assert ".." not in text and ". ." not in text and ",." not in text
            sentences = [part for part in text.split(". ") if part]
            assert len(sentences) == len(set(sentences)), text
            assert text.count("withdraw") == (
                1 if duration.until_withdrawn or wording.withdraw_by_writing else 0
            ), text
            assert "withdraw this permission to" not in text
            assert "until I withdraw this permission to" not in text
            assert text.endswith(".") and not text.endswith("..")


def test_a_perpetual_permission_lasts_until_withdrawn_and_says_so_once():
    short = build_wording("Acme Inc.", "short", "perpetual")
    assert short.endswith("CME Passport. This permission lasts until I withdraw it.")
    detailed = build_wording("Acme Inc.", "detailed", "perpetual")
    assert detailed.endswith(
        "This permission lasts until I withdraw it, which I may do at any time by writing to "
        "Acme Inc."
    )
    assert build_wording("Acme Inc.", "detailed", "annual").endswith("by writing to Acme Inc.")


def test_the_permission_page_shows_each_sample_with_placeholders(client):
    text = page_text(client.get("/resources/permission-wording"))
    assert "I may withdraw this permission at any time by writing to [your organization]." in text
    assert "{" not in text
