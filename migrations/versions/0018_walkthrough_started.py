"""when a session's live walkthrough was first started (a session has begun from then)

Revision ID: 0018_walkthrough_started
Revises: 0017_manage_links_revoked
Create Date: 2026-12-01 16:30:00

"""

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = "0018_walkthrough_started"
down_revision = "0017_manage_links_revoked"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("training_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("walkthrough_started_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.execute(
        "UPDATE training_sessions SET walkthrough_started_at = ("
        "SELECT live_sessions.started_at FROM live_sessions"
        " WHERE live_sessions.session_id = training_sessions.id)"
    )


def downgrade():
    with op.batch_alter_table("training_sessions", schema=None) as batch_op:
        batch_op.drop_column("walkthrough_started_at")
