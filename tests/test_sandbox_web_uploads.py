"""Uploading learner files: results, findings, records, the background worker, bad files."""

import csv
import io
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from conftest import THREE_DAYS_AGO, manage_token, page_text, signup_form
from sqlalchemy import select, update

from training.extensions import db, utcnow
from training.sandbox import attempts, downloads, judge, rules, services, tasks
from training.sandbox.models import SandboxActivity, SandboxAttempt, SandboxRecord, SandboxUpload
from training.workers.models import WorkerHeartbeat
from training.workers.services import SANDBOX_WORKER, note_seen

# Learners completed the activity three days before the frozen clock's date.
pytestmark = pytest.mark.usefixtures("frozen_clock")

ACTIVITY = "200012345"  # the seeded example activity


@pytest.fixture
def token(token, example_activity):
    """The manage token of a confirmed booking whose sandbox holds the example activity."""
    return token


def people(count: int) -> list[judge.RegisterEntry]:
    """Licensees from the fictional register, in states whose boards take PARS data."""
    entries = services.read_register_entries()
    return [
        e for e in entries if e.license_number and not e.board and e.state in rules.PARS_STATES
    ][:count]


def learner_row(entry: judge.RegisterEntry, **changes: str) -> list[str]:
    """A right Add row for ``entry``: 1 CME credit for the example activity, three days ago."""
    done = THREE_DAYS_AGO
    cells = {
        rules.RECORD_ACTION: "Add",
        rules.ACTIVITY_ID: ACTIVITY,
        rules.COMPLETION_DATE: done.strftime("%m/%d/%Y"),
        rules.FIRST_NAME: entry.first_name,
        rules.LAST_NAME: entry.last_name,
        rules.DATE_OF_BIRTH: f"{entry.birth_month:02d}/{entry.birth_day:02d}",
        rules.LICENSING_STATE: entry.state,
        rules.LICENSE_OR_NPI: entry.license_number,
        rules.CME_CREDITS: "1",
    }
    cells.update(changes)
    return [cells.get(header, "") for header in rules.REQUIRED_HEADERS]


def csv_file(*rows: list[str]) -> bytes:
    return downloads.template_text(",", rows=rows)


def upload(client, token: str, data: bytes, filename: str = "learners.csv"):
    return client.post(
        f"/manage/{token}/sandbox/uploads",
        data={"learner_file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def results(client, response):
    assert response.status_code == 303, response.status_code
    return client.get(response.headers["Location"])


def record_names(app) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(
            select(SandboxRecord.first_name, SandboxRecord.last_name).order_by(SandboxRecord.id)
        )
        return [tuple(row) for row in rows]


def test_counts_of_a_large_upload_are_shown_with_thousands_separators(app, client, token):
    first, second = people(2)
    data = csv_file(learner_row(first), learner_row(second, **{rules.DATE_OF_BIRTH: "04/12/1970"}))
    attempt_path = upload(client, token, data).headers["Location"]
    with app.app_context():
        # As a 125,000-row upload leaves them (judging one would take the suite a minute).
        db.session.execute(
            update(SandboxAttempt).values(
                rows_read=125_000,
                rows_accepted=121_500,
                rows_rejected=3_500,
                error_count=3_500,
                warning_count=1_250,
                counts_by_code={"DOB_HAS_YEAR": 3_500, "DATE_MIDNIGHT": 1_250},
            )
        )
        db.session.commit()

    text = page_text(client.get(attempt_path))
    assert "3,500 of 125,000 rows were rejected." in text
    assert "the 121,500 accepted rows are already in your sandbox records" in text
    assert "Rows read 125,000 Accepted 121,500 Rejected 3,500 Errors 3,500 Warnings 1,250" in text
    assert "DOB_HAS_YEAR error 3,500" in text
    assert "DATE_MIDNIGHT warning 1,250" in text
    assert "125,000 121,500 3,500 1,250" in page_text(client.get(f"/manage/{token}/sandbox"))


def test_the_sandbox_records_of_each_activity_are_counted_with_thousands_separators(
    client, token, monkeypatch
):
    # As 50,013 records held leave them (writing them would take the suite a minute).
    monkeypatch.setattr(services, "record_counts", lambda signup: {"200012345": 50_013})
    home = page_text(client.get(f"/manage/{token}/sandbox"))
    assert "50,013" in home and "50013" not in home


def test_results_show_the_summary_and_findings_and_the_csv_header_is_exact(client, token):
    first, second = people(2)
    data = csv_file(learner_row(first), learner_row(second, **{rules.DATE_OF_BIRTH: "04/12/1970"}))

    page = results(client, upload(client, token, data))

    text = page_text(page)
    assert "1 of 2 rows was rejected." in text
    assert "Rows read 2 Accepted 1 Rejected 1 Errors 1 Warnings 0" in text
    assert "DOB_HAS_YEAR" in text
    assert (
        "3 Date of Birth error PARS refuses it at upload DOB_HAS_YEAR Date of Birth has a year"
        in text
    )
    assert "1970" not in text  # the message is masked: no learner value is repeated
    csv_link = f"{page.request.path}/findings.csv"
    assert f'href="{csv_link}"' in page.get_data(as_text=True)

    download = client.get(csv_link)
    assert download.mimetype == "text/csv"
    assert download.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert download.headers["Cache-Control"] == "no-store"
    assert download.data.startswith("\ufeff".encode())  # a byte-order mark: Excel reads UTF-8
    lines = download.data.decode("utf-8-sig").splitlines()
    assert lines[0] == "row,column,severity,code,message"
    [row] = list(csv.DictReader(lines))
    assert (row["row"], row["column"], row["severity"], row["code"]) == (
        "3",
        "Date of Birth",
        "error",
        "DOB_HAS_YEAR",
    )


def test_findings_can_be_filtered_by_code_and_severity(client, token):
    client.post(f"/manage/{token}/sandbox/activities/example")
    practice = client.get(f"/manage/{token}/sandbox/practice-file.csv").data
    page = results(client, upload(client, token, practice))
    path = page.request.path

    def codes_shown(query: str) -> set[str]:
        text = page_text(client.get(f"{path}?{query}"))
        table = text.split("What to fix", 1)[1]
        return {code for code in rules.CODES if f" {code} " in table}

    assert codes_shown("code=DOB_HAS_YEAR") == {"DOB_HAS_YEAR"}
    assert codes_shown("severity=warning") <= {
        "NAME_LOOKS_SWAPPED",
        "STATE_NOT_PARTICIPATING",
        "LATE_REPORT",
    }
    assert "NAME_LOOKS_SWAPPED" in codes_shown("severity=warning")
    assert "NAME_LOOKS_SWAPPED" not in codes_shown("severity=error")
    assert codes_shown("code=NOT_A_CODE") >= {"DOB_HAS_YEAR", "NAME_LOOKS_SWAPPED"}


def test_a_corrected_file_is_accepted_and_its_rows_become_records(app, client, token):
    first, second = people(2)
    wrong = learner_row(second, **{rules.LICENSING_STATE: "Californa"})
    results(client, upload(client, token, csv_file(learner_row(first), wrong)))
    assert record_names(app) == [(first.first_name, first.last_name)]

    page = results(client, upload(client, token, csv_file(learner_row(second)), "fixed.csv"))

    assert "The row was accepted" in page_text(page)
    assert record_names(app) == [
        (first.first_name, first.last_name),
        (second.first_name, second.last_name),
    ]
    history = page_text(client.get(f"/manage/{token}/sandbox"))
    assert "fixed.csv Checked, no errors" in history
    assert "learners.csv Checked, errors to fix" in history
    assert "Your sandbox holds 2 learner records" in history


def test_an_accepted_row_sent_again_is_a_duplicate_of_the_sandbox_record(app, client, token):
    [person] = people(1)
    upload(client, token, csv_file(learner_row(person)))
    page = results(client, upload(client, token, csv_file(learner_row(person))))
    assert "in your sandbox records from an earlier upload" in page_text(page)
    assert len(record_names(app)) == 1


def test_two_physicians_with_one_name_and_birthday_both_get_their_credit(app, client, token):
    """Two Add rows for one activity and day, the same names and birthday, other licenses:
    two physicians, both accepted (not one refused as a duplicate row)."""
    [person] = people(1)
    other = learner_row(person, **{rules.LICENSE_OR_NPI: "QQ999"})
    page = results(client, upload(client, token, csv_file(learner_row(person), other)))
    text = page_text(page)
    assert "Both rows were accepted" in text
    assert "DUPLICATE_ROW" not in text
    assert record_names(app) == [(person.first_name, person.last_name)] * 2


def test_a_sandbox_record_of_another_physician_with_the_same_name_is_no_duplicate(
    app, client, token
):
    """A record held from an earlier upload is a duplicate only of the same learner: another
    physician with its names and birthday but another license is added; the same one is not."""
    [person] = people(1)
    upload(client, token, csv_file(learner_row(person)))
    other = learner_row(person, **{rules.LICENSE_OR_NPI: "QQ999"})
    page = results(client, upload(client, token, csv_file(other, learner_row(person))))
    text = page_text(page)
    assert "1 of 2 rows was rejected." in text
    assert "3 — error" in text and "in your sandbox records from an earlier upload" in text
    assert record_names(app) == [(person.first_name, person.last_name)] * 2


def test_a_delete_row_removes_its_record_and_an_unknown_delete_is_refused(app, client, token):
    first, second, third = people(3)
    upload(client, token, csv_file(learner_row(first), learner_row(second)))

    page = results(
        client,
        upload(
            client,
            token,
            csv_file(
                learner_row(first, **{rules.RECORD_ACTION: "Delete"}),
                learner_row(third, **{rules.RECORD_ACTION: "delete"}),
            ),
        ),
    )

    text = page_text(page)
    assert "1 of 2 rows was rejected." in text
    assert (
        "3 — error PARS refuses it at upload DELETE_NOT_FOUND There is no record to delete" in text
    )
    assert record_names(app) == [(second.first_name, second.last_name)]


def test_a_record_can_be_changed_by_a_delete_then_an_add_in_one_file(app, client, token):
    [person] = people(1)
    upload(client, token, csv_file(learner_row(person)))
    changed = csv_file(
        learner_row(person, **{rules.RECORD_ACTION: "Delete"}),
        learner_row(person, **{rules.CME_CREDITS: "0.5"}),
    )
    assert "Both rows were accepted" in page_text(results(client, upload(client, token, changed)))
    with app.app_context():
        assert [str(c) for c in db.session.scalars(select(SandboxRecord.cme_credits))] == ["0.50"]


def big_file(count: int) -> bytes:
    entries = people(count)
    return csv_file(*(learner_row(entry) for entry in entries))


def test_a_waiting_upload_says_when_no_sandbox_worker_is_running(app, client, staff_client, token):
    """A large upload waits for the sandbox worker: while that worker has not been seen lately,
    the upload's page says so and what to do (the organization: tell the staff, with the
    upload's number; staff: the command that starts it), and stops saying so once it runs."""
    app.config["SANDBOX_INLINE_MAX_ROWS"] = 3
    attempt_path = upload(client, token, big_file(6)).headers["Location"]
    attempt_id = attempt_path.rstrip("/").split("/")[-1]
    with app.app_context():
        signup_id = db.session.scalar(select(SandboxAttempt.signup_id))
    staff_path = f"/staff/sandbox/{signup_id}/attempts/{attempt_id}"

    never = page_text(client.get(attempt_path))
    assert (
        "Nothing is checking files at the moment: the sandbox's checker has not started yet"
        in never
    )
    assert "tell the training staff: it is upload number 1." in never
    assert (
        "The sandbox worker has never run, so this waits. "
        "Start it with flask --app training sandbox work --watch"
        in page_text(staff_client.get(staff_path))
    )

    with app.app_context():
        note_seen(SANDBOX_WORKER, utcnow() - timedelta(minutes=12))
        db.session.commit()
    assert "the sandbox's checker last ran 12 min ago" in page_text(client.get(attempt_path))
    assert "The sandbox worker was last seen 12 min ago" in page_text(staff_client.get(staff_path))

    with app.app_context():
        note_seen(SANDBOX_WORKER, utcnow() - timedelta(seconds=30))
        db.session.commit()
    running = page_text(client.get(attempt_path))
    assert "Waiting for its turn to be checked" in running
    assert "Nothing is checking files" not in running
    assert "The sandbox worker" not in page_text(staff_client.get(staff_path))


def test_an_upload_whose_worker_died_mid_check_says_the_check_stopped(
    app, client, staff_client, token, frozen_clock
):
    """A worker killed while checking a file leaves it "Checking…" with a lease it no longer
    renews: once the lease has lapsed and the worker has not been seen for the threshold, the
    organization's page, its history, the status the page polls and the staff page say the
    check stopped, the file is kept and will be checked again from the start (staff: the
    command that starts the worker); a check still renewing its lease is not flagged."""
    app.config["SANDBOX_INLINE_MAX_ROWS"] = 3
    attempt_path = upload(client, token, big_file(6)).headers["Location"]
    attempt_id = int(attempt_path.rstrip("/").split("/")[-1])
    with app.app_context():
        note_seen(SANDBOX_WORKER, utcnow())
        claim = tasks.claim_next(utcnow())
        assert claim is not None and claim.attempt_id == attempt_id
        db.session.execute(
            update(SandboxAttempt).where(SandboxAttempt.id == attempt_id).values(rows_judged=4)
        )
        db.session.commit()
        signup_id = db.session.scalar(select(SandboxAttempt.signup_id))
    staff_path = f"/staff/sandbox/{signup_id}/attempts/{attempt_id}"
    home_path = attempt_path.split("/sandbox/")[0] + "/sandbox"
    stopped = (
        "Check stopped at 4 of about 6 rows; "
        "the file is kept and will be checked again from the start"
    )

    # The heartbeat alone is old (a long file), but the lease is still being renewed.
    frozen_clock.shift(timedelta(minutes=4))
    with app.app_context():
        note_seen(SANDBOX_WORKER, utcnow() - timedelta(minutes=10))
        db.session.commit()
    running = page_text(client.get(attempt_path))
    assert "Checking… 4 of about 6 rows" in running
    assert "Check stopped" not in running
    assert "Refresh this page to see the latest progress" in running

    # The worker was killed: six minutes on, its lease has lapsed and it has not been seen.
    frozen_clock.shift(timedelta(minutes=2))
    page = page_text(client.get(attempt_path))
    assert stopped in page
    assert (
        "The check of your file stopped, and nothing is checking files at the moment: "
        "the sandbox's checker last ran 12 min ago. Your file is kept, and it is checked again "
        "from the start as soon as the checker runs again." in page
    )
    assert "tell the training staff: it is upload number 1." in page
    assert "Refresh this page" not in page
    assert stopped in page_text(client.get(home_path))
    status = client.get(f"{attempt_path}/status").get_json()
    assert status["label"] == stopped
    assert status["worker_stalled"] is True
    assert status["stopped"] is True
    staff_page = page_text(staff_client.get(staff_path))
    assert (
        "The sandbox worker was last seen 12 min ago, and its check of this file stopped. "
        "The file is kept and is checked again from the start when the worker runs again. "
        "Start it with flask --app training sandbox work --watch" in staff_page
    )
    assert stopped in page_text(staff_client.get(f"/staff/sandbox/{signup_id}"))

    # A worker starts again: the file is taken up again, and nothing says it stopped.
    with app.app_context():
        note_seen(SANDBOX_WORKER, utcnow())
        db.session.commit()
    again = page_text(client.get(attempt_path))
    assert "Check stopped" not in again
    assert "Nothing is checking files" not in again
    assert client.get(f"{attempt_path}/status").get_json()["worker_stalled"] is False
    assert "Refresh this page to see the latest progress" in again


def test_the_sandbox_worker_is_seen_after_each_upload_it_judges(app, client, token):
    """A long queue judged in one round still leaves a heartbeat after each upload, so the
    uploads behind it are not told that nothing is running."""
    app.config["SANDBOX_INLINE_MAX_ROWS"] = 3
    for _ in range(2):
        upload(client, token, big_file(6))
    later = utcnow() + timedelta(hours=1)
    with app.app_context():
        assert tasks.work(now=lambda: later) == 2
        seen = db.session.scalar(
            select(WorkerHeartbeat.last_seen_at).where(WorkerHeartbeat.name == SANDBOX_WORKER)
        )
    assert seen == later


def test_a_large_file_is_judged_in_the_background_and_the_page_follows(
    app, client, token, monkeypatch
):
    app.config["SANDBOX_INLINE_MAX_ROWS"] = 3
    monkeypatch.setattr(attempts, "WRITE_BATCH_ROWS", 2)
    response = upload(client, token, big_file(6))
    page = results(client, response)
    attempt_path = response.headers["Location"]
    assert "Waiting for its turn to be checked" in page_text(page)
    # Uploading again waits until this check ends.
    assert "Fix and upload again" not in page_text(page)
    assert f'data-status-url="{attempt_path}/status"' in page.get_data(as_text=True)
    status = client.get(f"{attempt_path}/status").get_json()
    assert status == {
        "status": "queued",
        "rows_judged": 0,
        "rows_expected": 6,
        "percent": 0,
        "label": "Waiting for its turn to be checked",
        "finished": False,
        "worker_stalled": True,  # no sandbox worker has run yet
        "stopped": False,  # nor stopped: it never started
    }
    with app.app_context():
        assert db.session.scalar(select(SandboxUpload.attempt_id)) is not None

    seen = []
    judge_attempt = attempts.judge_attempt

    def judge_and_look(attempt, stream, **options):
        report = options.pop("on_progress")

        def progress(rows):
            report(rows)
            # The page polls from another process: its own connection, not the worker's.
            with ThreadPoolExecutor(max_workers=1) as poller:
                status = poller.submit(client.get, f"{attempt_path}/status").result()
            seen.append(status.get_json())

        return judge_attempt(attempt, stream, on_progress=progress, **options)

    monkeypatch.setattr(attempts, "judge_attempt", judge_and_look)
    with app.app_context():
        assert tasks.work() == 1

    assert [(s["status"], s["rows_judged"], s["percent"], s["label"]) for s in seen] == [
        ("judging", 0, 0, "Checking…"),
        ("judging", 2, 33, "Checking… 2 of about 6 rows"),
        ("judging", 4, 66, "Checking… 4 of about 6 rows"),
        ("judging", 6, 99, "Checking… 6 of about 6 rows"),
    ]
    done = client.get(f"{attempt_path}/status").get_json()
    assert (done["status"], done["finished"], done["percent"]) == ("done", True, 100)
    assert "All 6 rows were accepted" in page_text(client.get(attempt_path))
    assert "Fix and upload again" in page_text(client.get(attempt_path))
    assert len(record_names(app)) == 6
    with app.app_context():
        # The file stays with its attempt (for the PARS-ready file) until deleted or purged.
        assert db.session.scalar(select(SandboxUpload.attempt_id)) is not None


def test_the_sandbox_work_command_judges_waiting_uploads(app, client, runner, token):
    app.config["SANDBOX_INLINE_MAX_BYTES"] = 10
    response = upload(client, token, big_file(2))
    result = runner.invoke(args=["sandbox", "work"])
    assert result.output == "Judged 1 upload.\nMade 0 PARS-ready files.\n"
    attempt_path = response.headers["Location"]
    assert "Both rows were accepted" in page_text(client.get(attempt_path))

    assert client.post(f"{attempt_path}/pars-ready").status_code == 303
    result = runner.invoke(args=["sandbox", "work"])
    assert result.output == "Judged 0 uploads.\nMade 2 PARS-ready files.\n"
    assert client.get(f"{attempt_path}/pars-ready.txt").status_code == 200


class WorkerKilled(BaseException):
    """The worker's process ends mid-file (not an error the worker could catch)."""


def test_a_worker_that_died_is_replaced_and_nothing_is_counted_twice(
    app, client, token, monkeypatch
):
    first, second = people(2)
    upload(client, token, csv_file(learner_row(first)))
    app.config["SANDBOX_INLINE_MAX_ROWS"] = 0
    upload(
        client,
        token,
        csv_file(learner_row(first, **{rules.RECORD_ACTION: "Delete"}), learner_row(second)),
    )
    monkeypatch.setattr(attempts, "WRITE_BATCH_ROWS", 1)
    judge_attempt = attempts.judge_attempt

    def dies_after_the_first_row(attempt, stream, **options):
        report = options.pop("on_progress")

        def progress(rows):
            report(rows)
            if rows:  # the first row's change and the progress are committed...
                raise WorkerKilled  # ...and then the worker is gone

        return judge_attempt(attempt, stream, on_progress=progress, **options)

    monkeypatch.setattr(attempts, "judge_attempt", dies_after_the_first_row)
    with app.app_context():
        claim = tasks.claim_next(utcnow())
        with pytest.raises(WorkerKilled):
            tasks.run_claim(claim)
        db.session.rollback()
        attempt = db.session.get(SandboxAttempt, claim.attempt_id)
        assert (attempt.status, attempt.rows_judged) == ("judging", 1)
    assert record_names(app) == [(first.first_name, first.last_name)]  # not deleted yet

    monkeypatch.setattr(attempts, "judge_attempt", judge_attempt)
    lease = timedelta(seconds=app.config["SANDBOX_LEASE_SECONDS"] + 1)
    with app.app_context():
        assert tasks.claim_next(utcnow()) is None  # the dead worker's lease still holds
        again = tasks.claim_next(utcnow() + lease)
        assert again.attempt_id == claim.attempt_id
        assert tasks.run_claim(again)
    assert record_names(app) == [(second.first_name, second.last_name)]


@pytest.mark.parametrize(
    ("data", "filename", "code"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "learners.csv", "FILE_TYPE"),
        (b"", "learners.csv", "FILE_EMPTY"),
        (b"PK\x03\x04 truncated workbook", "learners.xlsx", "FILE_UNREADABLE"),
        (b"Name,Date\r\nAna,01/02\r\n", "learners.csv", "HEADER_MISMATCH"),
        (b"anything", "learners.pdf", "FILE_TYPE"),
    ],
)
def test_a_bad_file_gets_a_clear_message_never_a_500(client, token, data, filename, code):
    page = results(client, upload(client, token, data, filename))
    assert page.status_code == 200
    text = page_text(page)
    assert "The file could not be checked." in text
    assert f"({code})" in text


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"", "learners.csv"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "photo.png"),
        (b"%PDF-1.7", "a.pdf"),
    ],
)
def test_a_refused_file_shows_its_one_message_and_the_upload_form(client, token, data, filename):
    page = results(client, upload(client, token, data, filename))
    text = page_text(page)
    assert text.count("The file could not be checked.") == 1
    assert "Fix and upload again" in text
    for apparatus in ("Summary", "Findings by code", "Download the findings", "PARS-ready"):
        assert apparatus not in text


def test_uploads_that_could_not_be_checked_are_collapsed_in_the_history(client, token):
    upload(client, token, b"", "empty.csv")
    upload(client, token, b"%PDF-1.7", "scan.pdf")
    upload(client, token, csv_file(learner_row(people(1)[0])), "learners.csv")
    html = client.get(f"/manage/{token}/sandbox").get_data(as_text=True)
    history, _, refused = html.partition('<details class="refused-uploads">')
    assert "learners.csv" in history and "scan.pdf" not in history
    assert "2 uploads that could not be checked" in refused
    assert "scan.pdf" in refused and "empty.csv" in refused


def test_a_judge_failure_shows_as_a_failed_upload_not_a_500(app, client, token, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(judge, "judge_file", broken)
    page = results(client, upload(client, token, big_file(1)))
    assert "We could not finish checking this file, and nothing in it was kept." in page_text(page)
    assert record_names(app) == []
    with app.app_context():
        assert db.session.scalar(select(SandboxAttempt.status)) == "failed"


def test_a_file_over_the_limit_is_refused_with_a_friendly_message(app, client, token):
    app.config["SANDBOX_MAX_UPLOAD_BYTES"] = 1000
    app.config["SANDBOX_REQUEST_OVERHEAD_BYTES"] = 2000  # the request may be 3000 bytes

    response = upload(client, token, big_file(12))  # over the sandbox limit, under the request's
    assert response.status_code == 422
    assert "The file is larger than 1000 bytes; split it into smaller files" in page_text(response)

    response = upload(client, token, b"x" * 5000)  # over the request limit
    assert response.status_code == 413
    assert "That file is too large" in page_text(response)
    assert "split it into smaller files and upload each" in page_text(response)
    assert f'<a href="/manage/{token}/sandbox">Back to your sandbox</a>' in response.get_data(
        as_text=True
    )  # without JavaScript this page is where the person lands
    with app.app_context():
        assert db.session.scalar(select(SandboxAttempt.id)) is None


def test_an_upload_without_a_file_says_to_choose_one(client, token):
    response = client.post(f"/manage/{token}/sandbox/uploads", data={})
    assert response.status_code == 422
    assert "Choose your learner file to upload." in page_text(response)


def test_another_organizations_attempt_is_not_found(client, make_session, token):
    response = upload(client, token, big_file(1))
    other = manage_token(
        client.post(
            "/signup",
            data=signup_form(
                make_session(),
                organization_name="Coastal Health Education",
                contact_email="kai@coastal.example.org",
                attendee_emails="",
            ),
        )
    )
    attempt_path = response.headers["Location"].replace(token, other)
    assert client.get(attempt_path).status_code == 404
    assert client.get(f"{attempt_path}/findings.csv").status_code == 404
    assert client.get(f"{attempt_path}/status").status_code == 404
    # Said as of an upload never there: nothing tells that the number is another's upload.
    never = attempt_path.rsplit("/", 1)[0] + "/999999"
    assert page_text(client.get(attempt_path)) == page_text(client.get(never))
    assert "or this address never was one of your uploads" in page_text(client.get(never))


@pytest.fixture
def new_york_after_midnight(frozen_clock):
    """9:30 PM on Dec 1 in California, 12:30 AM on Dec 2 in New York."""
    frozen_clock.move_to(datetime(2026, 12, 2, 5, 30, tzinfo=UTC), tick=True)


def test_a_completion_dated_today_in_new_york_is_not_in_the_future(
    new_york_after_midnight, client, make_session
):
    token = manage_token(client.post("/signup", data=signup_form(make_session())))
    client.post(f"/manage/{token}/sandbox/activities/example")
    first, second = people(2)
    data = csv_file(
        learner_row(first, **{rules.COMPLETION_DATE: "12/02/2026"}),
        learner_row(second, **{rules.COMPLETION_DATE: "12/03/2026"}),
    )
    text = page_text(results(client, upload(client, token, data)))
    assert "Rows read 2 Accepted 1 Rejected 1" in text
    assert "Completion Date 12/03/2026 is in the future" in text
    assert "12/02/2026 is in the future" not in text


def test_a_completion_30_days_before_the_programs_date_is_not_reported_late(
    new_york_after_midnight, client, make_session
):
    # Dec 1 in California (Dec 2 in New York): Nov 1 is 30 days back, Oct 31 is 31.
    token = manage_token(client.post("/signup", data=signup_form(make_session())))
    client.post(f"/manage/{token}/sandbox/activities/example")
    first, second = people(2)
    data = csv_file(
        learner_row(first, **{rules.COMPLETION_DATE: "11/01/2026"}),
        learner_row(second, **{rules.COMPLETION_DATE: "10/31/2026"}),
    )
    text = page_text(results(client, upload(client, token, data)))
    assert "Rows read 2 Accepted 2 Rejected 0 Errors 0 Warnings 1" in text
    assert "Completion Date 10/31/2026 is more than 30 days ago" in text
    assert "11/01/2026 is more than 30 days ago" not in text


def test_an_upload_after_the_sandbox_was_emptied_never_takes_a_deleted_uploads_number(
    client, token
):
    (learner,) = people(1)
    first = upload(client, token, csv_file(learner_row(learner)))
    first_link = first.headers["Location"]
    client.post(f"/manage/{token}/sandbox/delete", data={"confirm": "y"})

    second = upload(client, token, csv_file(learner_row(learner)), "again.csv")

    assert int(second.headers["Location"].rstrip("/").split("/")[-1]) > int(
        first_link.rstrip("/").split("/")[-1]
    )
    assert client.get(first_link).status_code == 404


def test_each_organization_sees_its_own_upload_numbers(client, make_session, token):
    """Org B's first upload is its upload 1, not the 17th of the whole sandbox (URLs keep
    their ids)."""
    for _ in range(2):
        upload(client, token, big_file(1))
    other = manage_token(
        client.post(
            "/signup",
            data=signup_form(
                make_session(),
                organization_name="Coastal Health Education",
                contact_email="kai@coastal.example.org",
                attendee_emails="",
            ),
        )
    )
    client.post(f"/manage/{other}/sandbox/activities/example")
    attempt_path = upload(client, other, big_file(1)).headers["Location"]
    assert attempt_path.rstrip("/").endswith("/3")  # the id, counted across organizations
    home = page_text(client.get(f"/manage/{other}/sandbox"))
    assert "results of upload 1" in home and "results of upload 3" not in home
    findings = client.get(f"{attempt_path}/findings.csv")
    assert "findings-upload-1.csv" in findings.headers["Content-Disposition"]
    assert "results of upload 2" in page_text(client.get(f"/manage/{token}/sandbox"))


def _example_activity_pk(app) -> int:
    with app.app_context():
        return db.session.scalar(
            select(SandboxActivity.id).where(SandboxActivity.activity_id == ACTIVITY)
        )


def test_removing_an_activity_with_records_asks_first_with_a_ticked_box(app, client, token):
    first, second = people(2)
    results(client, upload(client, token, csv_file(learner_row(first), learner_row(second))))
    remove = f"/manage/{token}/sandbox/activities/{_example_activity_pk(app)}/remove"
    home = client.get(f"/manage/{token}/sandbox").get_data(as_text=True)
    assert f'href="{remove}"' in home  # a link to the question, not a one-click button

    asked = client.get(remove)
    assert asked.status_code == 200
    assert "This removes the activity and the 2 sandbox records reported for it." in (
        page_text(asked)
    )
    assert "Please correct" not in page_text(asked)
    # A button posted from an old list page is asked too, not obeyed.
    from_the_list = client.post(remove, data={})
    assert from_the_list.status_code == 200 and len(record_names(app)) == 2
    unticked = client.post(remove, data={"asked": "1"})
    assert unticked.status_code == 422
    assert "Tick the box to confirm that you want to remove them." in page_text(unticked)
    assert len(record_names(app)) == 2

    done = client.post(remove, data={"asked": "1", "confirm": "y"})
    assert done.status_code == 303
    assert "Removed activity 200012345 and its 2 sandbox records." in page_text(
        client.get(done.headers["Location"])
    )
    assert record_names(app) == []


def test_an_activity_without_records_is_removed_at_once_and_said_naturally(app, client, token):
    remove = f"/manage/{token}/sandbox/activities/{_example_activity_pk(app)}/remove"

    done = client.post(remove, data={})

    assert done.status_code == 303
    text = page_text(client.get(done.headers["Location"]))
    assert "Removed activity 200012345; it had no sandbox records." in text
    assert "its 0 sandbox records" not in text


def test_results_no_longer_say_rows_are_in_the_records_once_removed_with_the_activity(
    app, client, token
):
    first, second = people(2)
    wrong = learner_row(second, **{rules.LICENSING_STATE: "Californa"})
    attempt = results(client, upload(client, token, csv_file(learner_row(first), wrong)))
    attempt_url = attempt.request.path
    assert "the 1 accepted row is already in your sandbox records" in page_text(attempt)
    remove = f"/manage/{token}/sandbox/activities/{_example_activity_pk(app)}/remove"
    client.post(remove, data={"asked": "1", "confirm": "y"})

    text = page_text(client.get(attempt_url))

    assert "already in your sandbox records" not in text
    assert (
        "1 of 2 rows was rejected. Its accepted rows are no longer in your sandbox records: "
        "they were removed with activity 200012345. Fix the rejected row and upload the whole "
        "file again."
    ) in text


def test_an_accepted_upload_says_its_rows_went_with_their_activity(app, client, token):
    first, second = people(2)
    attempt = results(
        client, upload(client, token, csv_file(learner_row(first), learner_row(second)))
    )
    remove = f"/manage/{token}/sandbox/activities/{_example_activity_pk(app)}/remove"
    client.post(remove, data={"asked": "1", "confirm": "y"})

    text = page_text(client.get(attempt.request.path))

    assert (
        "Both rows were accepted. Its rows are no longer in your sandbox records: they were "
        "removed with activity 200012345. Upload the file again to have them there."
    ) in text
