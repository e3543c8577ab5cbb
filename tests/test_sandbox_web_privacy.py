"""Learner data in the sandbox: deleting it, the retention purge, logs, and who may look."""

import io
import logging
from datetime import timedelta

import pytest
from conftest import THREE_DAYS_AGO, page_text
from sqlalchemy import func, select, update

from training.extensions import db, utcnow
from training.sandbox import attempts, downloads, judge, rules, services, tasks
from training.sandbox.models import (
    SandboxActivity,
    SandboxAttempt,
    SandboxFinding,
    SandboxRecord,
    SandboxUpload,
)

# Learners completed the activity three days before the frozen clock's date.
pytestmark = pytest.mark.usefixtures("frozen_clock")

# A learner no register and no other test knows, to look for in the logs.
UNIQUE_FIRST, UNIQUE_LAST = "Zephyrine", "Quaxworthington"


@pytest.fixture
def token(token, example_activity):
    """The manage token of a confirmed booking whose sandbox holds the example activity."""
    return token


def learner_file(*, first=UNIQUE_FIRST, last=UNIQUE_LAST, birthday="07/19", count=1) -> bytes:
    done = THREE_DAYS_AGO.strftime("%m/%d/%Y")
    rows = [
        ["Add", "200012345", done, first, f"{last}{n or ''}", birthday, "CA", f"A9{n:05d}", "1"]
        + [""] * 5
        for n in range(count)
    ]
    return downloads.template_text(",", rows=rows)


def upload(client, token: str, data: bytes, filename: str = "learners.csv"):
    return client.post(
        f"/manage/{token}/sandbox/uploads",
        data={"learner_file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def counts(app) -> dict[str, int]:
    with app.app_context():
        return {
            model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
            for model in (
                SandboxActivity,
                SandboxAttempt,
                SandboxFinding,
                SandboxRecord,
                SandboxUpload,
            )
        }


def fill_sandbox(app, client, token) -> None:
    """An accepted record, a finding, and an upload still waiting for the worker (every
    upload's file is kept with it)."""
    upload(client, token, learner_file())
    upload(client, token, learner_file(birthday="07/19/1980"))
    app.config["SANDBOX_INLINE_MAX_BYTES"] = 1
    upload(client, token, learner_file(last="Waiting"))
    app.config["SANDBOX_INLINE_MAX_BYTES"] = 200 * 1024


def test_deleting_all_sandbox_data_asks_first_and_keeps_activities(app, client, token):
    fill_sandbox(app, client, token)
    assert counts(app) == {
        "sandbox_activities": 1,
        "sandbox_attempts": 3,
        "sandbox_findings": 1,
        "sandbox_records": 1,
        "sandbox_uploads": 3,
    }
    page = client.get(f"/manage/{token}/sandbox/delete")
    assert "Your practice activities stay" in page_text(page)

    refused = client.post(f"/manage/{token}/sandbox/delete", data={})
    assert refused.status_code == 422
    assert "Tick the box to confirm" in page_text(refused)
    assert counts(app)["sandbox_records"] == 1

    response = client.post(f"/manage/{token}/sandbox/delete", data={"confirm": "y"})
    assert response.headers["Location"] == f"/manage/{token}/sandbox"
    assert "Deleted 1 sandbox record and 3 uploads with their findings." in page_text(
        client.get(response.headers["Location"])
    )
    assert counts(app) == {
        "sandbox_activities": 1,
        "sandbox_attempts": 0,
        "sandbox_findings": 0,
        "sandbox_records": 0,
        "sandbox_uploads": 0,
    }


def test_deleting_all_sandbox_data_can_take_the_activities_too(app, client, token):
    fill_sandbox(app, client, token)
    client.post(f"/manage/{token}/sandbox/delete", data={"confirm": "y", "include_activities": "y"})
    assert set(counts(app).values()) == {0}


def test_purge_deletes_sandbox_data_older_than_the_retention_period(app, client, runner, token):
    upload(client, token, learner_file(first="Recent"))
    fill_sandbox(app, client, token)
    long_ago = utcnow() - timedelta(days=31)
    with app.app_context():
        old_attempts = [2, 3, 4]
        db.session.execute(
            update(SandboxAttempt)
            .where(SandboxAttempt.id.in_(old_attempts))
            .values(created_at=long_ago)
        )
        db.session.execute(
            update(SandboxRecord)
            .where(SandboxRecord.first_name == UNIQUE_FIRST)
            .values(created_at=long_ago)
        )
        db.session.commit()

    result = runner.invoke(args=["sandbox", "purge"])

    assert result.output == "Deleted 1 sandbox record and 3 uploads older than 30 days.\n"
    assert counts(app) == {
        "sandbox_activities": 1,
        "sandbox_attempts": 1,
        "sandbox_findings": 0,
        "sandbox_records": 1,
        "sandbox_uploads": 1,  # the recent upload's file, kept with it
    }
    with app.app_context():
        assert db.session.scalar(select(SandboxRecord.first_name)) == "Recent"


def test_purge_follows_the_configured_retention(app, client, runner, token):
    upload(client, token, learner_file())
    app.config["SANDBOX_RETENTION_DAYS"] = 0
    assert (
        "Deleted 1 sandbox record and 1 upload" in runner.invoke(args=["sandbox", "purge"]).output
    )


def test_judging_logs_no_learner_value(app, client, token, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    upload(client, token, learner_file())  # judged in the request
    upload(client, token, learner_file(birthday="07/19/1980"))  # rejected
    app.config["SANDBOX_INLINE_MAX_ROWS"] = 1
    upload(client, token, learner_file(count=3))  # judged by the worker
    with app.app_context():
        assert tasks.work() == 1

    def leaky(*_args, **_kwargs):
        raise ValueError(f"cannot read {UNIQUE_FIRST} {UNIQUE_LAST} born 07/19")

    monkeypatch.setattr(judge, "judge_file", leaky)
    upload(client, token, learner_file(count=3))  # fails in the worker
    with app.app_context():
        assert tasks.work() == 0
    app.config["SANDBOX_INLINE_MAX_ROWS"] = 2000
    upload(client, token, learner_file())  # fails in the request

    assert "sandbox attempt 5 failed: ValueError" in caplog.text
    assert "sandbox attempt 3 judged" in caplog.text
    for record in caplog.records:
        logged = record.getMessage() + str(record.exc_info or "") + str(record.args)
        for value in (UNIQUE_FIRST, UNIQUE_LAST, "07/19", "A900000"):
            assert value not in logged


def signup_id(app) -> int:
    with app.app_context():
        return db.session.scalar(select(SandboxActivity.signup_id))


@pytest.mark.parametrize("role", ["admin", "staff", "facilitator"])
def test_staff_and_facilitators_can_open_any_sandbox_read_only(
    app, client, token, sign_in_as, role
):
    upload(client, token, learner_file(birthday="07/19/1980"))
    sign_in_as(role)
    signup = signup_id(app)

    index = page_text(client.get("/staff/sandbox"))
    assert "Sierra Valley Medical Society" in index
    overview = client.get(f"/staff/sandbox/{signup}")
    text = page_text(overview)
    assert "Sandbox: Sierra Valley Medical Society" in text
    assert "Sierra Valley Medical Society's uploads" in text
    assert "Sierra Valley Medical Society's uploads, newest first" in text  # the table's caption
    assert "Your uploads" not in text
    assert "200012345" in text
    assert "Remove" not in text
    attempt = client.get(f"/staff/sandbox/{signup}/attempts/1")
    text = page_text(attempt)
    assert "DOB_HAS_YEAR" in text
    assert "Fix and upload again" not in text
    assert '<form method="post" action="/manage' not in attempt.get_data(as_text=True)
    findings = client.get(f"/staff/sandbox/{signup}/attempts/1/findings.csv")
    assert findings.headers["Cache-Control"] == "no-store"
    header = findings.get_data(as_text=True).splitlines()[0]
    assert header == "\ufeffrow,column,severity,code,message"  # a BOM: Excel reads UTF-8


def test_a_staff_page_of_an_upload_not_held_names_the_organization_not_your(
    app, client, token, sign_in_as
):
    upload(client, token, learner_file())
    sign_in_as("facilitator")
    signup = signup_id(app)
    for path in (
        f"/staff/sandbox/{signup}/attempts/999999",
        f"/staff/sandbox/{signup}/attempts/999999/findings.csv",
    ):
        response = client.get(path)
        assert response.status_code == 404
        text = page_text(response)
        assert "This upload is not in Sierra Valley Medical Society's sandbox: it was deleted" in (
            text
        )
        assert "never was one of Sierra Valley Medical Society's uploads." in text
        assert "your sandbox" not in text and "your uploads" not in text
        assert "Upload the file again" not in text  # staff do not upload for it
        assert "Back to this organization's sandbox" in text


def test_visitors_are_sent_to_sign_in_from_the_staff_sandbox_pages(app, client, token):
    upload(client, token, learner_file())
    signup = signup_id(app)
    for path in (
        "/staff/sandbox",
        f"/staff/sandbox/{signup}",
        f"/staff/sandbox/{signup}/attempts/1",
        f"/staff/sandbox/{signup}/attempts/1/findings.csv",
    ):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/staff/sign-in")


def test_a_finding_message_holds_no_unmasked_identifier(app, client, token):
    done = THREE_DAYS_AGO.strftime("%m/%d/%Y")
    entry = next(e for e in services.read_register_entries() if e.npi)
    row = ["Add", "200012345", done, "Not", "Them", "07/19", entry.state, entry.npi, "1"]
    upload(client, token, downloads.template_text(",", rows=[row + [""] * 5]))
    with app.app_context():
        [message] = db.session.scalars(
            select(SandboxFinding.message).where(SandboxFinding.code == "LEARNER_NOT_MATCHED")
        ).all()
    assert entry.npi not in message
    assert entry.npi[-4:] in message
    assert rules.LICENSE_OR_NPI in message


def test_findings_that_doubt_a_birthday_name_its_row_not_the_birthday(app, client, token):
    """A semicolon CSV (European Excel) whose birthday reads either way, and a comma CSV with a
    birthday only day first can be: the results page and the findings CSV that staff and
    facilitators download say which row to check and how to write it, without the birthday."""
    done = THREE_DAYS_AGO.strftime("%m/%d/%Y")
    row = ["Add", "200012345", done, "Ann", "Lee", "08/07", "CA", "A912345", "1"] + [""] * 5
    later = [*row[:3], "Bo", "Day", "09/10", *row[6:]]
    first_day = [*row[:3], "Cy", "Fox", "25/12", *row[6:]]
    expected = (
        "2,Date of Birth,warning,DOB_MAYBE_DAY_FIRST,",
        "a Date of Birth on row 2 was read month first, though its day may come first",
    )
    for data, said in zip(
        (
            downloads.template_text(";", rows=[row]),
            downloads.template_text(",", rows=[later, first_day]),
        ),
        expected,
        strict=True,
    ):
        attempt_url = upload(client, token, data).headers["Location"]
        page = page_text(client.get(attempt_url))
        findings_csv = client.get(f"{attempt_url}/findings.csv").get_data(as_text=True)
        assert said in findings_csv
        for shown in (page, findings_csv):
            for birthday in ("August 7", "July 8", "September 10", "October 9", "07/08", "10/09"):
                assert birthday not in shown


def test_deleting_while_an_upload_is_checked_counts_only_kept_records_and_stops_quietly(
    app, client, token, monkeypatch, caplog
):
    """A tester deleted the sandbox data from one tab while the worker judged a large upload:
    the count was of rows still being checked, the worker logged an error, and the first tab
    said "We could not find that page"."""
    upload(client, token, learner_file(last="Kept"))  # one record kept, judged in the request
    monkeypatch.setattr(attempts, "WRITE_BATCH_ROWS", 5)
    app.config["SANDBOX_INLINE_MAX_BYTES"] = 1
    attempt_url = upload(client, token, learner_file(count=40)).headers["Location"]
    said: list[str] = []
    judge_attempt = attempts.judge_attempt

    def judge_then_delete(*args, on_progress, **kwargs):
        def progress(rows_judged: int) -> None:
            on_progress(rows_judged)
            if rows_judged >= 10 and not said:  # some rows written, pending, the rest to come
                deleted = client.post(f"/manage/{token}/sandbox/delete", data={"confirm": "y"})
                said.append(page_text(client.get(deleted.headers["Location"])))

        return judge_attempt(*args, on_progress=progress, **kwargs)

    monkeypatch.setattr(attempts, "judge_attempt", judge_then_delete)
    with caplog.at_level(logging.INFO), app.app_context():
        tasks.work()
    assert "Deleted 1 sandbox record and 2 uploads with their findings." in said[0]
    # Ours, not psycopg's: on PostgreSQL the driver may note the batch insert it abandoned
    # when the deleted upload's rows were refused ("error ignored terminating … pipeline").
    ours = [r for r in caplog.records if not r.name.startswith("psycopg")]
    assert not [record for record in ours if record.levelno >= logging.WARNING]
    assert any("was deleted while it was worked on" in r.getMessage() for r in caplog.records)
    assert set(counts(app).values()) == {0, 1}  # the activity stays; nothing else
    gone = client.get(f"{attempt_url}/status", headers={"Accept": "application/json"})
    assert gone.status_code == 404
    assert "This upload is not in your sandbox: it was deleted" in gone.json["message"]
    # The polled update carries the way back to the sandbox, for the page to show alone.
    assert gone.json["back"] == {"url": f"/manage/{token}/sandbox", "text": "Back to your sandbox"}
    reloaded = client.get(attempt_url)
    assert "This upload is not in your sandbox: it was deleted" in page_text(reloaded)
    assert f'href="/manage/{token}/sandbox"' in reloaded.get_data(as_text=True)
    assert "Checking" not in page_text(reloaded) and "Refresh this page" not in page_text(reloaded)


def test_deleting_an_empty_sandbox_says_there_was_nothing_to_delete(client, token):
    response = client.post(f"/manage/{token}/sandbox/delete", data={"confirm": "y"})
    text = page_text(client.get(response.headers["Location"]))
    assert "There was nothing to delete: your sandbox held no records or uploads." in text
    assert "Deleted 0" not in text


def test_a_purge_with_nothing_old_enough_says_there_was_nothing_to_delete(runner):
    result = runner.invoke(args=["sandbox", "purge"])
    assert result.output == "Nothing to delete: no sandbox records or uploads older than 30 days.\n"
