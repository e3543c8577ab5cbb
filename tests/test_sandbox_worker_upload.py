"""The worker reads a stored upload from the database a piece at a time: a large file is never
whole in its memory, and the copy it judges is the file as it was uploaded."""

import importlib
import tracemalloc
from datetime import UTC, datetime

import pytest
from conftest import signup_form

from training.extensions import db, utcnow
from training.sandbox import downloads, rules, services, tasks
from training.sandbox.models import SandboxAttempt, SandboxUpload


def learner_file(rows: int) -> bytes:
    """A template CSV of ``rows`` Add rows."""
    cells = {
        rules.RECORD_ACTION: "Add",
        rules.ACTIVITY_ID: "200012345",
        rules.COMPLETION_DATE: "01/15/2025",
        rules.DATE_OF_BIRTH: "03/14",
        rules.LICENSING_STATE: "CA",
        rules.CME_CREDITS: "1",
    }
    return downloads.template_text(
        ",",
        rows=[
            [
                {**cells, rules.FIRST_NAME: f"Learner{n}", rules.LAST_NAME: f"Family{n % 997}",
                 rules.LICENSE_OR_NPI: f"A{n}"}.get(header, "")
                for header in rules.REQUIRED_HEADERS
            ]
            for n in range(rows)
        ],
    )  # fmt: skip


def store_upload(content: bytes) -> int:
    """A waiting upload of the first organization; returns its attempt's id."""
    attempt = SandboxAttempt(
        signup_id=1,
        filename="learners.csv",
        size_bytes=len(content),
        created_at=datetime(2025, 6, 10, 18, tzinfo=UTC),
    )
    db.session.add(attempt)
    db.session.flush()
    db.session.add(SandboxUpload(attempt_id=attempt.id, content=content))
    db.session.commit()
    return attempt.id


@pytest.mark.parametrize("size", [0, 999, 1000, 1001, 3500])
def test_the_copy_of_an_upload_read_in_pieces_is_the_bytes_stored(
    app, client, make_session, monkeypatch, size
):
    monkeypatch.setattr(services, "UPLOAD_PIECE_BYTES", 1000)
    client.post("/signup", data=signup_form(make_session()))
    content = bytes(range(256)) * 14
    with app.app_context():
        attempt_id = store_upload(content[:size])
        with services.upload_copy(attempt_id) as copy:
            assert copy.read() == content[:size]


def test_a_copy_of_an_upload_no_longer_stored_says_so(app, client, make_session):
    client.post("/signup", data=signup_form(make_session()))
    with app.app_context():
        attempt_id = store_upload(b"Record Action\n")
        db.session.query(SandboxUpload).delete()
        db.session.commit()
        with pytest.raises(services.SandboxError, match="no longer stored"):
            services.upload_copy(attempt_id).__enter__()


@pytest.mark.clock
def test_a_larger_upload_takes_the_worker_no_more_memory(
    frozen_clock, app, client, make_session, monkeypatch
):
    """Python's peak while the worker reads, judges and writes an upload of 60,000 rows is that
    of 30,000 rows (within a tenth of the difference in size): the bytes go from the database to
    a temporary file a piece at a time, and are judged and written in batches."""
    monkeypatch.setattr(services, "UPLOAD_PIECE_BYTES", 64 * 1024)
    client.post("/signup", data=signup_form(make_session()))
    small, large = learner_file(30_000), learner_file(60_000)
    with app.app_context():
        attempt_ids = store_upload(small), store_upload(large)
        db.session.close()
        # What a worker loads once, before its first upload: the register and polars.
        services.register()
        importlib.import_module("training.sandbox.judge.batches")
        peaks = []
        for _upload in (small, large):
            claim = tasks.claim_next(utcnow())
            tracemalloc.start()
            try:
                assert tasks.run_claim(claim)
                peaks.append(tracemalloc.get_traced_memory()[1])
            finally:
                tracemalloc.stop()
        judged = [db.session.get(SandboxAttempt, attempt_id) for attempt_id in attempt_ids]
        assert [(attempt.status, attempt.rows_read) for attempt in judged] == [
            ("done", 30_000),
            ("done", 60_000),
        ]
    assert peaks[1] - peaks[0] < (len(large) - len(small)) / 10
