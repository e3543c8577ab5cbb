"""A form is read up to a few hundred kilobytes, the sandbox's upload up to its file limit; past
either, a 413 page worded for what was sent, and nothing saved."""

import io
import re
import uuid

import pytest
from conftest import page_text, signup_form
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from training.booking.models import Signup
from training.extensions import db
from training.sandbox.models import SandboxAttempt
from training.scripted import SCRIPT_HEADER

FORM_TOO_LARGE = "That form is too large"
FILE_TOO_LARGE = "That file is too large"


def signup_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Signup.id)))


def attempt_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(SandboxAttempt.id)))


def upload(client, token: str, data: bytes, *, before: dict | None = None, **kwargs):
    """Post ``data`` as the learner file, after the fields ``before`` and with ``kwargs``.

    The body is built here, whole: the test client would spool a large one to a temporary file
    it never closes."""
    fields = {
        **(before or {}),
        "learner_file": FileStorage(io.BytesIO(data), "learners.csv"),
        "submission_key": uuid.uuid4().hex,  # the browser-like client adds it to a dict only
    }
    boundary, body = encode_multipart(fields)
    return client.post(
        f"/manage/{token}/sandbox/uploads",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        **kwargs,
    )


def csv_of_size(size: int) -> bytes:
    """A learner file of exactly ``size`` bytes: a header, then rows of a name."""
    header = b"First Name,Last Name\r\n"
    row = b"Ana,Reyes\r\n"
    body = header + row * ((size - len(header)) // len(row))
    return body + b" " * (size - len(body))


def test_a_huge_signup_form_is_refused_with_the_form_page_and_books_nothing(
    app, client, make_session
):
    attendees = "\n".join(f"p{number:06}@x.org" for number in range(400_000))  # 5.6 MB

    response = client.post("/signup", data=signup_form(make_session(), attendee_emails=attendees))

    assert response.status_code == 413
    text = page_text(response)
    assert FORM_TOO_LARGE in text
    assert "nothing in it was saved" in text
    assert "send a long list in smaller parts" in text
    assert FILE_TOO_LARGE not in text and "That upload is too large" not in text
    assert signup_count(app) == 0


def test_a_form_just_under_the_limit_is_read_and_answered_field_by_field(app, client, make_session):
    limit = app.config["MAX_CONTENT_LENGTH"]
    data = signup_form(make_session(), attendee_emails="")
    filler = limit - 1000 - sum(len(f"{key}={value}&") for key, value in data.items())
    data["attendee_emails"] = " ".join(f"a{number:07}@x.org" for number in range(filler // 15))

    response = client.post("/signup", data=data)

    assert response.status_code == 200
    assert "List up to 5 attendees" in page_text(response)
    assert signup_count(app) == 0


@pytest.mark.parametrize(
    "paragraph",
    [
        "## Reporting, step 2\n\nUse the *learner template* (CSV or XLSX): 50% faster!\n\n",
        "📋✅🩺📅",  # four UTF-8 bytes each, twelve once the form encodes them
    ],
    ids=["english", "emoji"],
)
def test_the_longest_resource_page_is_saved(staff_client, paragraph):
    """The largest form the site has, 100,000 characters of Markdown, is inside the limit, in
    English and in characters of four bytes alike."""
    body = (paragraph * (100_000 // len(paragraph) + 1))[:100_000].rstrip()

    response = staff_client.post("/staff/resources/faq", data={"title": "FAQ", "body": body})

    assert response.status_code == 303, page_text(response)[:300]


def test_a_huge_form_in_the_sandbox_gets_the_form_page_not_the_file_page(app, client, token):
    response = client.post(
        f"/manage/{token}/sandbox/delete",
        data={"confirm": "y", "filler": "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)},
    )

    assert response.status_code == 413
    text = page_text(response)
    assert FORM_TOO_LARGE in text
    assert FILE_TOO_LARGE not in text


def test_a_text_field_of_the_upload_is_held_to_the_form_limit(app, client, token):
    response = upload(
        client,
        token,
        b"First Name\r\nAna\r\n",
        before={"mode": "x" * (app.config["MAX_FORM_MEMORY_SIZE"] + 1)},
    )

    assert response.status_code == 413
    assert FORM_TOO_LARGE in page_text(response)
    assert attempt_count(app) == 0


def test_a_sandbox_upload_just_under_the_limit_is_taken(app, client, token):
    app.config["SANDBOX_MAX_UPLOAD_BYTES"] = 2 * app.config["MAX_CONTENT_LENGTH"]
    size = app.config["SANDBOX_MAX_UPLOAD_BYTES"] - 1  # far above what a form may be

    response = upload(client, token, csv_of_size(size))

    assert response.status_code == 303, page_text(response)[:400]
    assert re.fullmatch(rf"/manage/{token}/sandbox/attempts/\d+", response.headers["Location"])
    assert attempt_count(app) == 1


def test_a_sandbox_upload_under_the_limit_is_taken_with_its_csrf_token_checked(app, client, token):
    """The CSRF check reads the body first: the upload's limit is set before it."""
    app.config["WTF_CSRF_ENABLED"] = True
    app.config["SANDBOX_MAX_UPLOAD_BYTES"] = 2 * app.config["MAX_CONTENT_LENGTH"]
    html = client.get(f"/manage/{token}/sandbox").get_data(as_text=True)
    form = html[html.index("/sandbox/uploads") :]
    csrf_token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)

    response = upload(
        client,
        token,
        csv_of_size(app.config["MAX_CONTENT_LENGTH"] + 1),
        before={"csrf_token": csrf_token},
    )

    assert response.status_code == 303, page_text(response)[:400]
    assert attempt_count(app) == 1


@pytest.mark.parametrize("sent_by_script", [False, True], ids=["form", "script"])
def test_an_upload_over_the_limit_gets_the_page_naming_the_file_limit(
    app, client, token, sent_by_script
):
    app.config["SANDBOX_MAX_UPLOAD_BYTES"] = 1024 * 1024
    headers = {SCRIPT_HEADER: "1"} if sent_by_script else {}

    response = upload(client, token, csv_of_size(3 * 1024 * 1024), headers=headers)

    # The script shows the page it is answered with in place of the one it was sent from.
    assert response.status_code == 413
    assert response.mimetype == "text/html"
    text = page_text(response)
    assert FILE_TOO_LARGE in text
    assert "The file is larger than 1 MB; split it into smaller files and upload each." in text
    assert f'<a href="/manage/{token}/sandbox">Back to your sandbox</a>' in (
        response.get_data(as_text=True)
    )
    assert attempt_count(app) == 0


def test_a_huge_body_asking_for_json_gets_the_form_message_as_json(app, client, make_session):
    response = client.post(
        "/signup",
        data={"attendee_emails": "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)},
        headers={"Accept": "application/json"},
    )

    assert response.status_code == 413
    assert response.json["error"] == FORM_TOO_LARGE
    assert signup_count(app) == 0
