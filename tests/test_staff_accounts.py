"""Staff sign-in, passwords, roles and the `staff` commands."""

import re
import uuid

import pytest
import redis
from conftest import PASSWORD, page_text, require
from sqlalchemy import select

from training import create_app
from training.audit.models import AuditEvent
from training.extensions import db
from training.staff import services
from training.staff.models import StaffMember


@pytest.fixture
def make_staff(app):
    """Add a staff account and return its email."""

    def make(email="pat@cmadocs.example.org", role="staff", password=PASSWORD) -> str:
        with app.app_context():
            services.create_staff(email, password, role)
            db.session.commit()
        return email

    return make


def sign_in(client, email, password=PASSWORD):
    return client.post("/staff/sign-in", data={"email": email, "password": password})


def test_staff_sign_in_reaches_the_console(client, make_staff):
    email = make_staff()
    response = sign_in(client, email)
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/"
    assert "Signed in as pat@cmadocs.example.org (staff)" in page_text(client.get("/staff/"))


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(client, make_staff):
    email = make_staff()
    for attempt in (sign_in(client, email, "wrong password!!"), sign_in(client, "nobody@x.org")):
        assert attempt.status_code == 200
        assert "That email and password do not match an active account." in page_text(attempt)
    assert client.get("/staff/").status_code == 302


def test_passwords_are_stored_as_scrypt_hashes(app, make_staff):
    make_staff()
    with app.app_context():
        stored = db.session.scalars(select(StaffMember.password_hash)).one()
    assert stored.startswith("scrypt:")
    assert PASSWORD not in stored


def test_sign_in_only_follows_next_to_pages_on_this_site(client, make_staff):
    email = make_staff()
    response = client.post(
        "/staff/sign-in?next=https://evil.example.com/",
        data={"email": email, "password": PASSWORD},
    )
    assert response.headers["Location"] == "/staff/"


def test_visitors_are_sent_to_sign_in(client):
    response = client.get("/staff/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/staff/sign-in?next=")


def test_sign_in_attempts_are_rate_limited(client, make_staff):
    email = make_staff()
    answers = [sign_in(client, email, "wrong password!!").status_code for _ in range(11)]
    assert answers[:10] == [200] * 10
    assert answers[10] == 429
    assert "Too many attempts" in page_text(sign_in(client, email))


def test_sign_ins_that_work_use_up_none_of_the_attempts(client, make_staff):
    email, other = make_staff(), make_staff("lee@cmadocs.example.org")
    for _ in range(12):
        assert sign_in(client, email).status_code == 303
        client.post("/staff/sign-out")
    # A colleague on the same network signs in for the first time, and a typo still gets the
    # form back, not "Too many attempts".
    assert sign_in(client, other).status_code == 303
    client.post("/staff/sign-out")
    assert sign_in(client, email, "wrong password!!").status_code == 200


def test_one_accounts_failed_attempts_do_not_lock_out_another_account(client, make_staff):
    email, other = make_staff(), make_staff("lee@cmadocs.example.org")
    for _ in range(10):
        sign_in(client, " PAT@cmadocs.example.org ", "wrong password!!")
    assert sign_in(client, email).status_code == 429  # the same account, however typed
    response = sign_in(client, other)
    assert response.status_code == 303


def test_failed_attempts_across_many_accounts_from_one_client_are_limited(app, client, make_staff):
    app.config["SIGN_IN_CLIENT_RATE_LIMIT"] = "3 per minute"
    email = make_staff()
    answers = [
        sign_in(client, f"guess{n}@cmadocs.example.org", "wrong password!!").status_code
        for n in range(3)
    ]
    assert answers == [200, 200, 200]
    assert "Too many attempts" in page_text(sign_in(client, email))


def test_behind_a_trusted_proxy_each_client_has_its_own_attempts(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINING_INSTANCE_PATH", str(tmp_path / "instance"))
    trusting = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'proxy.sqlite3'}",
            "WTF_CSRF_ENABLED": False,
            "TRUSTED_PROXIES": 1,
            "SECRET_KEY": "test",
        }
    )
    with trusting.app_context():
        db.create_all()
        services.create_staff("pat@cmadocs.example.org", PASSWORD, "staff")
        db.session.commit()

    def attempt(app, client_address, password):
        return app.test_client().post(
            "/staff/sign-in",
            data={"email": "pat@cmadocs.example.org", "password": password},
            headers={"X-Forwarded-For": client_address},
            environ_base={"REMOTE_ADDR": "10.0.0.2"},  # the load balancer
        )

    for _ in range(10):
        attempt(trusting, "203.0.113.7", "wrong password!!")
    assert attempt(trusting, "203.0.113.7", PASSWORD).status_code == 429
    assert attempt(trusting, "198.51.100.20", PASSWORD).status_code == 303


def test_a_forwarded_for_header_is_ignored_unless_a_proxy_is_trusted(client, make_staff):
    email = make_staff()
    for n in range(10):
        client.post(
            "/staff/sign-in",
            data={"email": email, "password": "wrong password!!"},
            headers={"X-Forwarded-For": f"198.51.100.{n}"},
        )
    assert sign_in(client, email).status_code == 429


def test_signing_out_ends_the_session(client, make_staff):
    sign_in(client, make_staff())
    response = client.post("/staff/sign-out")
    assert response.headers["Location"] == "/staff/sign-in"
    assert client.get("/staff/").status_code == 302


def test_changing_the_password_signs_other_devices_out(app, make_staff):
    email = make_staff()
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop, email)
    sign_in(phone, email)
    response = laptop.post(
        "/staff/password",
        data={
            "current_password": PASSWORD,
            "new_password": "a brand new passphrase",
            "confirm_password": "a brand new passphrase",
        },
    )
    assert response.status_code == 303
    assert laptop.get("/staff/").status_code == 200
    assert phone.get("/staff/").status_code == 302
    assert sign_in(app.test_client(), email, "a brand new passphrase").status_code == 303


def test_a_short_or_mismatched_new_password_says_why(client, make_staff):
    sign_in(client, make_staff())
    response = client.post(
        "/staff/password",
        data={"current_password": PASSWORD, "new_password": "short", "confirm_password": "x"},
    )
    text = page_text(response)
    assert "Use 12 to 500 characters for the password." in text
    assert "The two new passwords do not match." in text


@pytest.mark.parametrize("page", ["/staff/password", "/staff/accounts"])
def test_a_password_over_the_limit_is_told_the_real_limit(client, make_staff, page):
    sign_in(client, make_staff("boss@cmadocs.example.org", role="admin"))
    too_long = "p" * 501
    response = client.post(
        page,
        data={
            "current_password": PASSWORD,
            "new_password": too_long,
            "confirm_password": too_long,
            "email": "new@cmadocs.example.org",
            "role": "facilitator",
            "password": too_long,
        },
    )
    text = page_text(response)
    assert response.status_code == 200
    assert "Use 12 to 500 characters for the password." in text
    assert "at least 12" not in text.lower()
    assert "12 to 500 characters" in page_text(client.get(page))


def test_a_new_account_defaults_to_the_least_privilege(client, make_staff):
    sign_in(client, make_staff("boss@cmadocs.example.org", role="admin"))
    page = client.get("/staff/accounts").get_data(as_text=True)
    form = page[page.index('name="role"') :]
    options = re.findall(r"<option([^>]*)>([^<]+)</option>", form[: form.index("</select>")])
    assert [label for _, label in options] == ["Facilitator", "Staff", "Admin"]
    assert [label for attributes, label in options if "selected" in attributes] == ["Facilitator"]


def test_a_disabled_account_is_signed_out_and_cannot_sign_in(app, client, make_staff):
    email = make_staff()
    sign_in(client, email)
    with app.app_context():
        services.set_disabled(services.find_staff(email), True)
        db.session.commit()
    assert client.get("/staff/").status_code == 302
    assert sign_in(client, email).status_code == 200


def test_admins_create_accounts_and_change_roles(app, client, make_staff):
    sign_in(client, make_staff("boss@cmadocs.example.org", role="admin"))
    response = client.post(
        "/staff/accounts",
        data={
            "email": "New.Person@CMAdocs.example.org",
            "name": "New Person",
            "role": "facilitator",
            "password": "a long enough password",
        },
    )
    assert response.status_code == 303
    assert "Account created for new.person@cmadocs.example.org." in page_text(
        client.get("/staff/accounts")
    )
    with app.app_context():
        member = services.find_staff("new.person@cmadocs.example.org")
        member_id = member.id
    client.post(
        f"/staff/accounts/{member_id}",
        data={f"account-{member_id}-role": "staff", f"account-{member_id}-status": "disabled"},
    )
    with app.app_context():
        member = services.find_staff("new.person@cmadocs.example.org")
        assert (member.role, member.is_disabled) == ("staff", True)
        actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-3:] == ["staff.created", "staff.role_changed", "staff.disabled"]


def test_a_duplicate_account_email_is_refused_with_a_message(client, make_staff):
    sign_in(client, make_staff("boss@cmadocs.example.org", role="admin"))
    response = client.post(
        "/staff/accounts",
        data={
            "email": "boss@cmadocs.example.org",
            "role": "staff",
            "password": "a long enough password",
        },
    )
    assert "There is already an account for boss@cmadocs.example.org." in page_text(response)


@pytest.mark.parametrize("role", ["staff", "facilitator"])
def test_only_admins_manage_accounts(client, make_staff, role):
    sign_in(client, make_staff(role=role))
    assert client.get("/staff/accounts").status_code == 403
    assert client.post("/staff/accounts", data={"email": "x@y.org"}).status_code == 403


def test_staff_create_command_reads_the_password_from_stdin(app, runner):
    result = runner.invoke(
        args=[
            "staff",
            "create",
            "Lee@CMAdocs.example.org",
            "--role",
            "facilitator",
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "Created facilitator account lee@cmadocs.example.org." in result.output
    listed = runner.invoke(args=["staff", "list"])
    assert "lee@cmadocs.example.org\tfacilitator\tactive" in listed.output


def test_staff_create_command_asks_for_the_password_twice(runner):
    result = runner.invoke(
        args=["staff", "create", "kim@cmadocs.example.org", "--role", "staff"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("Password") == 1
    assert "Repeat for confirmation" in result.output


def test_staff_create_command_refuses_a_short_password(runner):
    result = runner.invoke(
        args=["staff", "create", "kim@x.org", "--role", "staff", "--password-stdin"],
        input="short\n",
    )
    assert result.exit_code != 0
    assert "Use 12 to 500 characters" in result.output


def test_staff_disable_command_disables_the_account(runner, make_staff):
    email = make_staff()
    result = runner.invoke(args=["staff", "disable", email])
    assert result.exit_code == 0
    assert f"{email}\tstaff\tdisabled" in runner.invoke(args=["staff", "list"]).output
    assert runner.invoke(args=["staff", "disable", "nobody@x.org"]).exit_code != 0


def test_demo_admin_is_created_once_and_later_runs_say_where_to_sign_in(runner, client):
    first = runner.invoke(args=["staff", "demo-admin"])
    assert "email:    admin@training-desk.localhost" in first.output
    password = first.output.split("password: ")[1].split()[0]
    assert sign_in(client, "admin@training-desk.localhost", password).status_code == 303
    again = runner.invoke(args=["staff", "demo-admin"]).output
    assert "Staff accounts exist already, so no demo admin was made" in again
    assert password not in again


def test_sign_in_limits_hold_across_processes_sharing_redis(tmp_path, monkeypatch):
    """Two app instances (as two gunicorn processes would be) count attempts in one Redis."""

    try:
        redis.Redis.from_url("redis://127.0.0.1:6379", socket_timeout=2).ping()
    except redis.exceptions.ConnectionError as error:
        require(f"Redis is not reachable at 127.0.0.1:6379 ({error})")
    monkeypatch.setenv("TRAINING_INSTANCE_PATH", str(tmp_path))
    settings = {
        "TESTING": True,
        "SECRET_KEY": "test",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'shared.sqlite3'}",
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379",
        "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
    }
    first, second = create_app(settings), create_app(settings)
    with first.app_context():
        db.create_all()
    clients = [first.test_client(), second.test_client()]
    answers = [
        clients[n % 2]
        .post("/staff/sign-in", data={"email": "x@y.org", "password": "wrong password!!"})
        .status_code
        for n in range(11)
    ]
    assert answers == [200] * 10 + [429]
