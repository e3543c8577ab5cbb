"""Start-up settings, the health check and the headers every page carries."""

import shutil
import subprocess
import sys

import pytest
from conftest import page_text

from training import config, create_app
from training.extensions import db


def test_missing_secret_key_outside_debug_stops_start_up_with_a_clear_message(
    monkeypatch, tmp_path
):
    monkeypatch.delenv("TRAINING_SECRET_KEY", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    monkeypatch.setenv("TRAINING_INSTANCE_PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match="TRAINING_SECRET_KEY is not set"):
        create_app()


def test_settings_come_from_training_environment_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("TRAINING_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("TRAINING_SECRET_KEY", "from-the-environment")
    monkeypatch.setenv("TRAINING_SQLALCHEMY_DATABASE_URI", f"sqlite:///{tmp_path}/env.sqlite3")
    monkeypatch.setenv("TRAINING_CHANGE_CUTOFF_HOURS", "48")
    app = create_app()
    assert app.secret_key == "from-the-environment"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/env.sqlite3"
    assert app.config["CHANGE_CUTOFF_HOURS"] == 48


def test_default_database_is_sqlite_in_the_instance_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("TRAINING_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("TRAINING_SQLALCHEMY_DATABASE_URI", raising=False)
    app = create_app({"TESTING": True})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == (
        f"sqlite:///{tmp_path / 'instance' / 'training.sqlite3'}"
    )


def test_the_shipped_data_is_read_from_the_seed_folder_setting(monkeypatch, tmp_path):
    seed = tmp_path / "seed"
    shutil.copytree(config.SEED_FOLDER, seed)
    page = seed / "resources" / "quick-start.md"
    page.write_text(
        page.read_text(encoding="utf-8").replace("title:", "title: Our own", 1), encoding="utf-8"
    )
    monkeypatch.setenv("TRAINING_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'seed.sqlite3'}",
            "SEED_FOLDER": str(seed),
        }
    )
    with app.app_context():
        db.create_all()
    assert "<h1>Our own" in app.test_client().get("/resources/quick-start").get_data(as_text=True)


def test_plain_postgresql_urls_use_the_psycopg_driver(monkeypatch, tmp_path):
    monkeypatch.setenv("TRAINING_INSTANCE_PATH", str(tmp_path))
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": "postgresql://postgres@127.0.0.1:1/none"}
    )
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")


def test_health_check_answers_ok_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize(
    "unreachable",
    [
        "sqlite:////nonexistent-folder/for/training.sqlite3",
        "postgresql://postgres@127.0.0.1:1/training?connect_timeout=1",
    ],
)
def test_health_check_answers_503_when_the_database_does_not(monkeypatch, tmp_path, unreachable):
    monkeypatch.setenv("TRAINING_INSTANCE_PATH", str(tmp_path))
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": unreachable})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["database"] == "unreachable"


def test_every_page_links_an_icon_and_favicon_ico_answers_with_it(client):
    page = client.get("/").get_data(as_text=True)
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    with client.get("/favicon.ico") as icon:
        assert icon.status_code == 200
        assert icon.mimetype == "image/svg+xml"
        assert icon.data.startswith(b"<svg")
    with client.get("/static/favicon.svg") as linked:
        assert linked.status_code == 200


def test_pages_forbid_framing_and_keep_manage_links_out_of_referrers(client):
    response = client.get("/")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_unknown_page_gets_a_friendly_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_session_cookies_are_secure_when_served_over_https(monkeypatch, tmp_path):
    monkeypatch.setenv("TRAINING_INSTANCE_PATH", str(tmp_path))
    app = create_app({"TESTING": True, "PUBLIC_URL": "https://training.example.org"})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    plain = create_app({"TESTING": True, "PUBLIC_URL": "http://127.0.0.1:5000"})
    assert plain.config["SESSION_COOKIE_SECURE"] is False


def test_a_web_process_does_not_load_polars_until_a_file_is_judged_in_batches(tmp_path):
    # polars costs a process about 40 MB: only the judge's batch path loads it.
    script = (
        "import sys\n"
        "from training import create_app\n"
        "app = create_app()\n"
        "app.test_client().get('/')\n"
        "print('polars' in sys.modules)\n"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "TRAINING_SECRET_KEY": "test",
        "TRAINING_INSTANCE_PATH": str(tmp_path),
        "TRAINING_SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/app.sqlite3",
    }
    loaded = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip().splitlines()[-1] == "False"


def test_an_address_a_form_posts_to_opened_in_the_browser_leads_back_to_its_page(
    app, client, token, staff_client, make_session
):
    """A restored tab or a copied address of a page answered after a form was sent: the 405
    page says why, and links to the page the form is on (the nearest address above it)."""
    page = client.get(f"/manage/{token}/contacts")
    assert page.status_code == 405
    text = page_text(page)
    assert "This address only takes a form sent from its page." in text
    assert f'<a href="/manage/{token}">Go back to that page</a>' in page.get_data(as_text=True)

    session_id = make_session()
    staff_page = staff_client.get(f"/staff/sessions/{session_id}/signups/1/move")
    assert staff_page.status_code == 405
    assert f'<a href="/staff/sessions/{session_id}">Go back to that page</a>' in (
        staff_page.get_data(as_text=True)
    )

    # A form sent to the wrong address still gets the plain answer.
    posted = client.post("/")
    assert posted.status_code == 405
    assert "Please use the buttons on the page." in page_text(posted)
