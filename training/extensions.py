"""Extension objects shared by the whole application, the column type for UTC datetimes, and
where the shipped data lives."""

from datetime import UTC, datetime
from pathlib import Path

from flask import current_app, has_app_context
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import DateTime, MetaData
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from training import config

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# ``__table_args__`` of a table whose ids are named in links, pages or emails (a session, a
# signup, upload number N): on SQLite, AUTOINCREMENT, without which a deleted row's id (the
# largest) is given to the next row, so an old link would show another record. PostgreSQL's
# sequences never give an id twice. Migration 0021 rebuilt the tables of that time.
IDS_NEVER_REUSED = {"sqlite_autoincrement": True}

# The largest id a path, a query string or a form may name: the id columns are INTEGER, 32 bits
# on PostgreSQL (SQLite's hold 64), and a larger number sent to either raises instead of matching
# nothing.
MAX_ID = 2**31 - 1


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "staff.sign_in"
login_manager.login_message = "Please sign in to see that page."
login_manager.login_message_category = "info"
# Limits are kept in RATELIMIT_STORAGE_URI: memory for one process, Redis for several.
limiter = Limiter(key_func=get_remote_address, default_limits=[])


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored as UTC on every database, SQLite included."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass a timezone-aware value")
        value = value.astimezone(UTC)
        # SQLite has no time zone type: keep the UTC wall time.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def seed_path(*parts: str) -> Path:
    """A file or folder of the shipped data: under the app's ``SEED_FOLDER`` (outside an app,
    the default one)."""
    folder = current_app.config["SEED_FOLDER"] if has_app_context() else config.SEED_FOLDER
    return Path(folder, *parts)
