"""Mail migrations: an empty database upgraded to head matches the models and goes back down;
messages written before per-recipient delivery (0013) read right after it."""

import json
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select, text

from training import create_app
from training.extensions import db
from training.mail.models import OutboxRecipient
from training.mail.services import delivery_figures


def migrated_app(url: str, tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINING_INSTANCE_PATH", str(tmp_path / "instance"))
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})


def schema_differences() -> list:
    with db.engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), db.metadata)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrated.sqlite3'}"
    return request.getfixturevalue("make_postgres_database")()


def test_upgrade_to_head_matches_the_models_and_downgrade_undoes_0002(
    empty_database_url, tmp_path, monkeypatch
):
    app = migrated_app(empty_database_url, tmp_path, monkeypatch)
    with app.app_context():
        upgrade()
        assert schema_differences() == []

        downgrade(revision="0001_booking")
        inspector = inspect(db.engine)
        assert "reminders" not in inspector.get_table_names()
        columns = {column["name"] for column in inspector.get_columns("outbox_messages")}
        assert not {"reply_to", "claim_token", "lease_expires_at"} & columns

        upgrade()
        assert schema_differences() == []
        db.engine.dispose()


def test_messages_written_before_per_recipient_delivery_read_right_after_0013(
    empty_database_url, tmp_path, monkeypatch
):
    app = migrated_app(empty_database_url, tmp_path, monkeypatch)
    at = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    with app.app_context():
        upgrade(revision="0012_one_drawing_per_challenge")
        with db.engine.begin() as connection:
            for number, recipients, status, error in (
                (1, ["ana@example.org", "kim@example.org"], "sent", None),
                (2, ["lee@example.org"], "failed", "550 5.1.1 unknown"),
            ):
                connection.execute(
                    text(
                        "INSERT INTO outbox_messages (id, kind, recipients, subject, text_body, "
                        "message_id, status, attempts, next_attempt_at, last_error, created_at, "
                        "sent_at) VALUES (:id, 'booking_confirmed', :recipients, 'Booked', "
                        "'Hello', :message_id, :status, 1, :at, :error, :at, :sent_at)"
                    ),
                    {
                        "id": number,
                        "recipients": json.dumps(recipients),
                        "message_id": f"<{number}@example.org>",
                        "status": status,
                        "at": at,
                        "error": error,
                        "sent_at": at if status == "sent" else None,
                    },
                )
        upgrade()
        rows = db.session.execute(
            select(
                OutboxRecipient.outbox_message_id,
                OutboxRecipient.address,
                OutboxRecipient.status,
                OutboxRecipient.last_error,
                OutboxRecipient.sent_at,
            ).order_by(OutboxRecipient.id)
        ).all()
        figures = delivery_figures(at)
        db.session.remove()
        downgrade(revision="0012_one_drawing_per_challenge")
        assert "outbox_recipients" not in inspect(db.engine).get_table_names()
        db.engine.dispose()
    assert [tuple(row) for row in rows] == [
        (1, "ana@example.org", "sent", None, at),
        (1, "kim@example.org", "sent", None, at),
        (2, "lee@example.org", "failed", "550 5.1.1 unknown", None),
    ]
    assert figures.recipients == {"sent": 2, "failed": 1}
    assert figures.failed_because == [("550 5.1.1 unknown", 1)]
