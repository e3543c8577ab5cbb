"""The PARS-ready file of an upload judged by the worker: made by the worker when asked, stored
in the database, served as soon as it is ready, the same bytes as one made in the request."""

import io
import threading
import zipfile
from datetime import timedelta

import pytest
from conftest import FROZEN_MOMENT, page_text
from sqlalchemy import func, select, update
from test_sandbox_web_pars_ready import provider_file, upload

from training.extensions import db, utcnow
from training.sandbox import downloads, services, tasks
from training.sandbox.models import SandboxActivityBoard, SandboxParsFile
from training.workers.services import SANDBOX_WORKER, note_seen

pytestmark = pytest.mark.usefixtures("frozen_clock")


@pytest.fixture
def token(token, example_activity):
    """The manage token of a booking whose sandbox holds the example activity."""
    return token


@pytest.fixture
def attempt_url(app, client, token):
    """The results page of the provider's file (5 rows), judged by the worker: above the
    limits of what is judged, and made into a PARS-ready file, in the request."""
    app.config["SANDBOX_INLINE_MAX_ROWS"] = 2
    url = upload(client, token, provider_file())
    with app.app_context():
        assert tasks.work() == 1
    return url


def prepare(client, attempt_url):
    response = client.post(f"{attempt_url}/pars-ready")
    assert response.status_code == 303
    assert response.headers["Location"] == f"{attempt_url}#pars-ready"


def contents(body: bytes, kind: str) -> bytes | list[tuple[str, bytes]]:
    """A text file's bytes; a workbook's parts, in order, each name with its bytes. The zip's
    own timestamps are left out: openpyxl stamps a write-only sheet with the time its temporary
    file was written on disk, which no frozen clock reaches."""
    if kind == "txt":
        return body
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return [(part.filename, archive.read(part)) for part in archive.infolist()]


def made_by_worker(app) -> int:
    with app.app_context():
        return tasks.make_files()


def test_a_large_upload_offers_to_prepare_its_pars_ready_file_instead_of_a_link(
    client, attempt_url
):
    page = page_text(client.get(attempt_url))
    assert "Your PARS-ready file" in page
    assert "Prepare the PARS-ready file" in page
    assert "PARS-ready file (Excel .xlsx)" not in page

    response = client.get(f"{attempt_url}/pars-ready.xlsx")
    assert response.status_code == 303
    assert response.headers["Location"] == f"{attempt_url}#pars-ready"
    told = page_text(client.get(response.headers["Location"]))
    assert "That PARS-ready file is not ready: it is prepared when you ask for it below" in told


def test_the_page_shows_the_file_being_prepared_then_its_links(app, client, attempt_url):
    prepare(client, attempt_url)
    page = page_text(client.get(attempt_url))
    assert "The Excel file (1 of 2) is waiting for its turn to be prepared" in page
    assert "Refresh this page" in page
    assert "Prepare the PARS-ready file" not in page
    status = client.get(f"{attempt_url}/pars-ready/status").get_json()
    assert status["finished"] is False and status["percent"] == 0

    assert made_by_worker(app) == 2

    status = client.get(f"{attempt_url}/pars-ready/status").get_json()
    assert status == {"finished": True, "ready": True, "percent": 100, "label": None}
    page = page_text(client.get(attempt_url))
    assert "PARS-ready file (Excel .xlsx)" in page
    assert "PARS-ready file (tab-delimited .txt" in page
    assert "Refresh this page" not in page


def test_a_file_asked_for_says_when_no_sandbox_worker_is_running(app, client, attempt_url):
    prepare(client, attempt_url)
    assert "Nothing is checking files" not in page_text(client.get(attempt_url))
    with app.app_context():
        note_seen(SANDBOX_WORKER, utcnow() - timedelta(hours=3))
        db.session.commit()
    page = page_text(client.get(attempt_url))
    assert "The Excel file (1 of 2) is waiting for its turn to be prepared" in page
    assert (
        "Nothing is checking files at the moment: the sandbox's checker last ran 3 h ago. "
        "Your request for the PARS-ready file is kept, and it goes ahead as soon as the "
        "checker runs again." in page
    )


def test_the_page_says_how_many_rows_the_worker_has_written(app, client, attempt_url, monkeypatch):
    prepare(client, attempt_url)
    monkeypatch.setattr(services, "PARS_FILE_PROGRESS_ROWS", 2)
    make_workbook, seen = downloads.pars_ready_xlsx, []

    def followed(rows, *args, **kwargs):
        body = make_workbook(list(rows), *args, **kwargs)
        # The page's poll, as another request sends it: not in the worker's app context.
        poll = threading.Thread(
            target=lambda: seen.append(client.get(f"{attempt_url}/pars-ready/status").get_json())
        )
        poll.start()
        poll.join()
        return body

    monkeypatch.setattr(downloads, "pars_ready_xlsx", followed)
    assert made_by_worker(app) == 2
    assert seen == [
        {
            "finished": False,
            "ready": False,
            "percent": 50,
            "label": "Preparing the Excel file (1 of 2)… 4 of 4 rows",  # half of both files
        }
    ]


def test_the_worker_s_files_are_the_bytes_the_request_would_make(
    app, client, attempt_url, frozen_clock
):
    frozen_clock.move_to(FROZEN_MOMENT, tick=False)  # the workbook records when it was saved
    prepare(client, attempt_url)
    made_by_worker(app)
    from_worker = {kind: client.get(f"{attempt_url}/pars-ready.{kind}") for kind in ("xlsx", "txt")}

    app.config["SANDBOX_INLINE_MAX_ROWS"] = 2000  # the same upload, made in the request
    for kind, response in from_worker.items():
        assert response.status_code == 200
        assert response.headers["Content-Disposition"] == (
            f"attachment; filename=learners-pars-ready.{kind}"
        )
        assert response.headers["Cache-Control"] == "no-store"
        in_request = client.get(f"{attempt_url}/pars-ready.{kind}")
        assert in_request.status_code == 200
        assert contents(response.data, kind) == contents(in_request.data, kind)


def test_asking_twice_makes_each_file_once(app, client, attempt_url):
    prepare(client, attempt_url)
    prepare(client, attempt_url)
    assert made_by_worker(app) == 2
    prepare(client, attempt_url)
    assert made_by_worker(app) == 0


def test_a_changed_activity_makes_the_prepared_file_be_prepared_again(app, client, attempt_url):
    prepare(client, attempt_url)
    made_by_worker(app)
    with app.app_context():
        db.session.execute(
            update(SandboxActivityBoard)
            .where(SandboxActivityBoard.board == "ABIM")
            .values(credit_types=["Medical Knowledge"])
        )
        db.session.commit()

    page = page_text(client.get(attempt_url))
    assert "Prepare the PARS-ready file" in page
    assert client.get(f"{attempt_url}/pars-ready.xlsx").status_code == 303
    prepare(client, attempt_url)
    assert made_by_worker(app) == 2
    assert client.get(f"{attempt_url}/pars-ready.xlsx").status_code == 200


def test_a_file_the_worker_could_not_make_says_so_and_can_be_asked_again(
    app, client, attempt_url, monkeypatch
):
    prepare(client, attempt_url)

    def broken(*_args, **_kwargs):
        raise services.SandboxError("The uploaded file is no longer stored")

    with monkeypatch.context() as patched:
        patched.setattr(services, "make_pars_file", broken)
        assert made_by_worker(app) == 0

    page = page_text(client.get(attempt_url))
    assert "We could not prepare the file." in page
    assert "Prepare the PARS-ready file" in page
    prepare(client, attempt_url)
    assert made_by_worker(app) == 2


def test_a_file_left_by_a_worker_that_died_is_made_by_the_next_after_its_lease(
    app, client, attempt_url
):
    prepare(client, attempt_url)
    with app.app_context():
        now = FROZEN_MOMENT
        first = tasks.claim_next_file(now)
        second = tasks.claim_next_file(now)
        assert first is not None and second is not None
        assert tasks.claim_next_file(now) is None  # both taken, leases running
        lease = timedelta(seconds=app.config["SANDBOX_LEASE_SECONDS"])
        again = tasks.claim_next_file(now + lease)
        assert again is not None and again.file_id == first.file_id
        assert tasks.make_claimed_file(again)
        assert not tasks.make_claimed_file(first)  # the claim lapsed and was taken over


def test_deleting_the_sandbox_data_removes_the_prepared_files(app, client, token, attempt_url):
    prepare(client, attempt_url)
    made_by_worker(app)
    response = client.post(f"/manage/{token}/sandbox/delete", data={"confirm": "y"})
    assert response.status_code == 303
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SandboxParsFile)) == 0


def test_the_retention_period_removes_the_prepared_files(app, client, attempt_url):
    prepare(client, attempt_url)
    made_by_worker(app)
    with app.app_context():
        services.purge_expired(FROZEN_MOMENT + timedelta(days=31), 30)
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(SandboxParsFile)) == 0
