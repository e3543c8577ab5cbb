"""The records an organization holds, as the judge asks about them: found by key, in a few
bytes a record however many it holds."""

import hashlib
import tracemalloc
from datetime import UTC, date, datetime
from decimal import Decimal

from conftest import signup_form
from sqlalchemy import insert

from training.extensions import db
from training.sandbox import judge, records
from training.sandbox.models import SandboxRecord


def held_record(number: int) -> dict:
    """A record held from an earlier upload, its keys as the writer stores them."""
    identity = judge.learner_identity("CA", f"H{number}", None, None)
    learner = judge.learner_key(f"Held{number}", "Family", 3, 14, identity)
    activity_id, completed = "200012345", date(2025, 1, 15)
    key = judge.RecordKey(learner, activity_id, completed, "")
    return {
        "signup_id": 1, "activity_id": activity_id, "completion_date": completed,
        "first_name": f"Held{number}", "last_name": "Family", "birth_month": 3, "birth_day": 14,
        "state": "CA", "license_or_npi": f"H{number}", "board": None, "board_id": None,
        "cme_credits": Decimal(1), "board_credits": None, "credit_awards": [],
        "record_key": judge.record_digest(key), "learner_key": judge.learner_digest(learner),
        "added_by_attempt_id": None, "is_pending": False, "deleting_attempt_id": None,
        "created_at": datetime(2025, 1, 15, tzinfo=UTC),
    }  # fmt: skip


def test_held_records_are_found_by_key_and_take_a_few_bytes_each(app, client, make_session):
    client.post("/signup", data=signup_form(make_session()))
    with app.app_context():
        db.session.execute(insert(SandboxRecord.__table__), [held_record(n) for n in range(25_000)])
        db.session.commit()
        tracemalloc.start()
        try:
            held = records.HeldRecords(1)
            kept, _peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        identity = judge.learner_identity("CA", "H24999", None, None)
        learner = judge.learner_key("Held24999", "Family", 3, 14, identity)
        stranger = judge.learner_key("Someone", "Else", 3, 14, identity)
        assert len(held) == 25_000
        assert held.find(judge.RecordKey(learner, "200012345", date(2025, 1, 15), ""))
        assert not held.find(judge.RecordKey(learner, "200012345", date(2025, 1, 16), ""))
        assert held.has_completion(learner, "200012345")
        assert not held.has_completion(stranger, "200012345")
        assert not held.has_completion(learner, "200054321")
        record_keys, completions = held.held_keys()
        assert int(hashlib.sha256(b"").hexdigest()[:16], 16) not in record_keys
        assert sorted(record_keys) == list(record_keys)
        assert sorted(completions) == list(completions)
    # Two 64-bit keys a record, and little else (a set of ints takes about 70 bytes a key).
    assert kept < 25_000 * 24
