"""The judge's writer: findings and records kept as columns reach the database in one
executemany each, read back through the models as SQLAlchemy's own insert would have stored
them (dates, credits, JSON, UTC times), on SQLite and PostgreSQL alike."""

from datetime import date
from decimal import Decimal

import pytest
from conftest import FROZEN_MOMENT, signup_form
from sqlalchemy import select

from training.extensions import db
from training.sandbox import judge, records
from training.sandbox.models import SandboxAttempt, SandboxFinding, SandboxRecord

pytestmark = pytest.mark.usefixtures("frozen_clock")


def test_findings_and_records_written_as_columns_read_back_as_the_models_hold_them(
    app, client, make_session
):
    client.post("/signup", data=signup_form(make_session()))
    record = judge.LearnerRecord(
        activity_id="200012345",
        completion_date=date(2025, 6, 1),
        first_name="Ann",
        last_name="O'Lee",
        birth_month=3,
        birth_day=14,
        state="CA",
        license_or_npi="A-1",
        board="ABIM",
        board_id="123456",
        cme_credits=Decimal("1.25"),
        board_credits=Decimal("2"),
        credit_awards=(
            ("Medical Knowledge", Decimal("1.5")),
            ("Practice Assessment", Decimal(".5")),
        ),
    )
    finding = judge.Finding(2, "Column " * 20, "warning", "LATE_REPORT", "Late; 'quoted' %s ?")
    with app.app_context():
        attempt = SandboxAttempt(signup_id=1, filename="learners.csv", size_bytes=1)
        db.session.add(attempt)
        db.session.flush()
        attempt_id = attempt.id
        writer = records.RecordWriter(attempt_id, attempt.signup_id)
        writer.add_findings([finding])
        writer.apply(judge.RowResult(2, "Add", (finding,), record, True))
        writer.write()
        db.session.commit()
    with app.app_context():
        stored = db.session.execute(select(SandboxRecord)).scalar_one()
        found = db.session.execute(select(SandboxFinding)).scalar_one()
        key = judge.record_key(record)
        assert (
            stored.activity_id, stored.completion_date, stored.first_name, stored.last_name,
            stored.birth_month, stored.birth_day, stored.state, stored.license_or_npi,
            stored.board, stored.board_id, stored.cme_credits, stored.board_credits,
            stored.credit_awards, stored.record_key, stored.learner_key,
        ) == (
            "200012345", date(2025, 6, 1), "Ann", "O'Lee", 3, 14, "CA", "A-1", "ABIM", "123456",
            Decimal("1.25"), Decimal("2"), [["Medical Knowledge", "1.5"],
            ["Practice Assessment", "0.5"]], judge.record_digest(key),
            judge.learner_digest(key.learner),
        )  # fmt: skip
        assert (stored.signup_id, stored.added_by_attempt_id, stored.is_pending) == (
            1, attempt_id, True,
        )  # fmt: skip
        assert stored.deleting_attempt_id is None
        assert abs((stored.created_at - FROZEN_MOMENT).total_seconds()) < 60
        assert (found.attempt_id, found.row, found.is_file_level, found.column) == (
            attempt_id, 2, False, ("Column " * 20)[:100],
        )  # fmt: skip
        assert (found.severity, found.code, found.message) == (
            "warning", "LATE_REPORT", "Late; 'quoted' %s ?",
        )  # fmt: skip
