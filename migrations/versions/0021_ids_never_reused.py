"""ids never reused on SQLite: AUTOINCREMENT on the tables whose ids links, pages and emails name

Revision ID: 0021_ids_never_reused
Revises: 0020_org_keys_look_alikes
Create Date: 2026-12-02 00:45:00

SQLite without AUTOINCREMENT gives a new row the largest id in use plus one: delete the newest
upload, signup or session and the next one takes its number, so a link or an email naming it
shows another record. Each table below is rebuilt in batch mode (Alembic copies its rows,
indexes and constraints) with AUTOINCREMENT, counting on from the largest id it holds.
PostgreSQL is left alone: its sequences never give an id twice.

Foreign keys are off during the rebuild: on, dropping the old table would carry out the ON
DELETE actions of the rows that refer to it (every signup's choices and attendees deleted with
it). SQLite ignores that switch inside a transaction, so the revisions before this one are
committed first, the rebuild runs in a transaction of its own that checks every reference
(``PRAGMA foreign_key_check``) before it commits, and a new transaction is open again for
Alembic to record the revision. Downgrading rebuilds the tables without AUTOINCREMENT.
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0021_ids_never_reused"
down_revision = "0020_org_keys_look_alikes"
branch_labels = None
depends_on = None

# The tables whose ids appear in URLs or are told to people ("upload number N"), as of this
# revision (the models mark them ``IDS_NEVER_REUSED``).
TABLES = (
    "staff_members",
    "training_sessions",
    "signups",
    "challenge_entries",
    "duplicate_reviews",
    "outbox_messages",
    "sandbox_activities",
    "sandbox_attempts",
)


def upgrade():
    _rebuild(autoincrement=True)


def downgrade():
    _rebuild(autoincrement=False)


def _rebuild(*, autoincrement: bool) -> None:
    """Rebuild ``TABLES`` on SQLite with or without AUTOINCREMENT, foreign keys off meanwhile."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    bind.exec_driver_sql("COMMIT")
    bind.exec_driver_sql("PRAGMA foreign_keys = OFF")
    try:
        bind.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            for table in TABLES:
                with op.batch_alter_table(
                    table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
                ):
                    pass
            broken = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"rows refer to rows that are gone: {broken[:5]}")
        except BaseException:
            bind.exec_driver_sql("ROLLBACK")
            raise
        bind.exec_driver_sql("COMMIT")
    finally:
        bind.exec_driver_sql("PRAGMA foreign_keys = ON")
        bind.exec_driver_sql("BEGIN IMMEDIATE")
