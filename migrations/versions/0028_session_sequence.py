"""training_sessions.sequence: the staff calendar feed's SEQUENCE for each session

Revision ID: 0028_session_sequence
Revises: 0027_drafts
Create Date: 2026-12-02 16:20:00

Raised whenever a session's times or joining details change or it is cancelled, as every
booking's invite SEQUENCE is, so a subscribed calendar takes the feed's event as an update.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0028_session_sequence"
down_revision = "0027_drafts"
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN (SQLite takes it with a constant default): a batch copy would drop the
    # table the signups' foreign keys point at.
    op.add_column(
        "training_sessions",
        sa.Column("sequence", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade():
    op.drop_column("training_sessions", "sequence")
