"""a heartbeat for each worker process (host and process id), not each kind of worker

Revision ID: 0025_worker_processes
Revises: 0024_live_helped_at
Create Date: 2026-12-02 07:20:00

With one row a kind, a second live mail worker hid one that stopped. Heartbeats are written
again by every worker each round (seconds), so the table is made anew and no row is carried
over; the downgrade keeps each kind's latest.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0025_worker_processes"
down_revision = "0024_live_helped_at"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_table("worker_heartbeats")
    op.create_table(
        "worker_heartbeats",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", "host", "pid", name=op.f("pk_worker_heartbeats")),
    )


def downgrade():
    processes = sa.table(
        "worker_heartbeats",
        sa.column("name", sa.String()),
        sa.column("last_seen_at", sa.DateTime(timezone=True)),
    )
    latest = {}
    for name, seen in op.get_bind().execute(sa.select(processes.c.name, processes.c.last_seen_at)):
        latest[name] = max(seen, latest.get(name, seen))
    op.drop_table("worker_heartbeats")
    table = op.create_table(
        "worker_heartbeats",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_worker_heartbeats")),
    )
    op.bulk_insert(table, [{"name": name, "last_seen_at": seen} for name, seen in latest.items()])
