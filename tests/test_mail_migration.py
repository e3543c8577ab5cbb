"""Migration 0002: an empty database upgraded to head matches the models, and goes back down."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from training import create_app
from training.extensions import db


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
