"""when a facilitator last marked an organization helped, so its live page can say so

Revision ID: 0024_live_helped_at
Revises: 0023_waitlist_joined_at
Create Date: 2026-12-02 06:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0024_live_helped_at"
down_revision = "0023_waitlist_joined_at"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("live_attendances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("helped_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("live_attendances", schema=None) as batch_op:
        batch_op.drop_column("helped_at")
