"""No manage or feed token, email address, search term or learner value reaches a log line."""

import io
import logging
import re
from datetime import timedelta

import httpx
import pytest
from conftest import PASSWORD, live_server, program_values

from training.booking.models import Program, TrainingSession
from training.extensions import db, utcnow
from training.masking import mask_secrets
from training.sandbox import downloads
from training.staff.services import create_staff

CONTACT = "ana.reyes@sierravalley.example.org"
# Add, activity, completion, first and last name, birthday, state, license, credits.
LEARNER_ROW = [
    "Add", "200012345", "11/02/2026", "Zebulon", "Quimby-Farnsworth", "07/19", "CA", "A98765", "1"
]  # fmt: skip


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            '"GET /manage/O_18ZCxdvtwM1gd0qf27rRdJMoG8gN86xVbmH2l1cQU/sandbox HTTP/1.1" 200',
            '"GET /manage/<token>/sandbox HTTP/1.1" 200',
        ),
        (
            "Exception on /manage/abc-DEF_123/challenges [POST]",
            "Exception on /manage/<token>/challenges [POST]",
        ),
        (
            '"GET /feeds/sessions/Zx_9-ab.ics HTTP/1.1" 200',
            '"GET /feeds/sessions/<token>.ics HTTP/1.1" 200',
        ),
        (
            "GET /staff/signups?q=ana.reyes%40x.org&status=confirmed&page=3",
            "GET /staff/signups?q=<masked>&status=confirmed&page=3",
        ),
        (
            "/staff/audit/?organization=Sierra+Valley&page=2",
            "/staff/audit/?organization=<masked>&page=2",
        ),
        ("/staff/sign-in?next=/staff/signups?q=ana", "/staff/sign-in?next=<masked>"),
        (f"mail to {CONTACT} failed", "mail to <email> failed"),
        (
            "https://training.example.org/manage/tok/live",
            "https://training.example.org/manage/<token>/live",
        ),
    ],
)
def test_secrets_are_masked_in_a_log_line(line, expected):
    assert mask_secrets(line) == expected


TOKEN = "O_18ZCxdvtwM1gd0qf27rRdJMoG8gN86xVbmH2l1cQU"
HEX_KEY = "9f86d081884c7d659a2feaa0c55ad015"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (f'"GET /manage//{TOKEN} HTTP/1.1" 404', '"GET /manage//<token> HTTP/1.1" 404'),
        (f"GET /feeds//sessions/{TOKEN}.ics", "GET /feeds//sessions/<token>.ics"),
        (f"GET /Manage/{TOKEN}/sandbox", "GET /Manage/<token>/sandbox"),
        (f'"GET /{TOKEN} HTTP/1.1" 404', '"GET /<token> HTTP/1.1" 404'),
        (f"GET /manage%2F{TOKEN}%2fsandbox", "GET /manage%2F<token>%2fsandbox"),
        (f"GET /manage%252F{TOKEN}", "GET /manage%25<token>"),
        (f"GET /static/{HEX_KEY}.css", "GET /static/<token>.css"),
        (f'"-" "https://x.example.org/x/{TOKEN}"', '"-" "https://x.example.org/x/<token>"'),
        (f"GET /?{TOKEN}", "GET /?<token>=<masked>"),
        # Short runs and file paths in tracebacks stay readable.
        (
            'File "/srv/app/.venv/lib/python3.11/site-packages/flask/app.py", line 917',
            'File "/srv/app/.venv/lib/python3.11/site-packages/flask/app.py", line 917',
        ),
        ("GET /staff/sessions/12/roster.csv", "GET /staff/sessions/12/roster.csv"),
    ],
)
def test_a_token_anywhere_in_a_path_is_masked_however_the_path_is_spelled(line, expected):
    assert mask_secrets(line) == expected


def token_path_variants(token: str) -> list[tuple[str, str]]:
    """Paths someone may send with a real token (doubled slashes, capitals, the token at the
    root, slashes percent-encoded), each with how its request line shows it in a log."""
    return [
        (f"/manage//{token}", "/manage//<token>"),
        (f"/feeds//sessions/{token}.ics", "/feeds//sessions/<token>.ics"),
        (f"/Manage/{token}", "/Manage/<token>"),
        (f"/{token}", "/<token>"),
        (f"/manage%2F{token}", "/manage%2F<token>"),
        (f"/manage/{token}%2Fsandbox", "/manage/<token>"),
    ]


def hidden_fields(page: str) -> dict[str, str]:
    """The CSRF token and a one-time key from a page, as a browser sends them with a form."""
    return dict(
        re.findall(r'name="(csrf_token|submission_key)" type="hidden" value="([^"]+)"', page)
    )


def test_a_journey_leaves_no_secret_in_the_development_servers_log(
    make_live_app, caplog, monkeypatch
):
    """Signup, manage page, sandbox upload, an exception on a manage URL, a staff search."""
    app = make_live_app(PROPAGATE_EXCEPTIONS=False)
    with app.app_context():
        program = Program(**program_values(utcnow()))
        starts_at = utcnow().replace(microsecond=0) + timedelta(days=3)
        program.sessions.append(
            TrainingSession(starts_at=starts_at, ends_at=starts_at + timedelta(hours=1), seats=8)
        )
        db.session.add(program)
        create_staff("pat@cmadocs.example.org", PASSWORD, "staff")
        db.session.commit()
        session_id = program.sessions[0].id
    caplog.set_level(logging.INFO)
    with live_server(app) as url, httpx.Client(base_url=url) as browser:
        booked = browser.post(
            "/signup",
            data={
                **hidden_fields(browser.get("/signup").text),
                "organization_name": "Sierra Valley Medical Society",
                "contact_name": "Ana Reyes",
                "contact_email": CONTACT,
                "first_choice": str(session_id),
                "second_choice": "0",
                "third_choice": "0",
                "attest": "y",
            },
            follow_redirects=True,
        )
        token = re.search(r"/manage/([\w\-]{20,})/confirmation", str(booked.url)).group(1)
        assert browser.get(f"/manage/{token}").status_code == 200
        sandbox = browser.get(f"/manage/{token}/sandbox").text
        browser.post(f"/manage/{token}/sandbox/activities/example", data=hidden_fields(sandbox))
        learners = downloads.template_text(",", rows=[LEARNER_ROW])
        uploaded = browser.post(
            f"/manage/{token}/sandbox/uploads",
            data=hidden_fields(browser.get(f"/manage/{token}/sandbox").text),
            files={"learner_file": ("learners.csv", io.BytesIO(learners), "text/csv")},
            follow_redirects=True,
        )
        assert "/sandbox/attempts/" in str(uploaded.url)

        def broken(*_args, **_kwargs):
            raise RuntimeError(f"could not read /manage/{token}/challenges for {CONTACT}")

        monkeypatch.setattr("training.challenges.views._entries_of", broken)
        assert browser.get(f"/manage/{token}/challenges").status_code == 500
        for path, _logged in token_path_variants(token):
            assert browser.get(path).status_code < 500, path

        with httpx.Client(base_url=url) as staff:
            staff.post(
                "/staff/sign-in",
                data={
                    **hidden_fields(staff.get("/staff/sign-in").text),
                    "email": "pat@cmadocs.example.org",
                    "password": PASSWORD,
                },
            )
            found = staff.get("/staff/signups", params={"q": CONTACT})
            assert "Sierra Valley Medical Society" in found.text
    # The server's loggers (the test's own HTTP client logs the URLs it asks for).
    log = "\n".join(
        caplog.handler.format(record)
        for record in caplog.records
        if record.name in ("werkzeug", app.logger.name)
    )
    assert "GET /manage/<token>/sandbox HTTP/1.1" in log
    assert "POST /manage/<token>/sandbox/uploads HTTP/1.1" in log
    assert "Exception on /manage/<token>/challenges [GET]" in log
    assert "RuntimeError: could not read /manage/<token>/challenges for <email>" in log
    assert "GET /staff/signups?q=<masked> HTTP/1.1" in log
    for _path, logged in token_path_variants(token):
        assert f"GET {logged} HTTP/1.1" in log, logged
    for secret in (token, CONTACT, "ana.reyes", "%40", "pat@cmadocs", *LEARNER_ROW[3:8]):
        assert secret not in log, secret
