"""an outbox message keeps its bytes, built when it is queued, so the worker only sends them;
the claim finds due and held rows by index

Revision ID: 0014m_outbox_message_bytes
Revises: 0013f_merge_undo
Create Date: 2026-11-30 10:50:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0014m_outbox_message_bytes"
down_revision = "0013f_merge_undo"
branch_labels = None
depends_on = None


def upgrade():
    # Messages queued before this revision keep NULL: the worker builds their bytes when it
    # claims them, as it always did.
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_bytes", sa.LargeBinary(), nullable=True))
        # The claim reads these indexes, not the rows with their bodies.
        batch_op.create_index(
            "ix_outbox_messages_due", ["status", "next_attempt_at", "lease_expires_at"]
        )
        batch_op.create_index("ix_outbox_messages_claim_token", ["claim_token"])
    with op.batch_alter_table("outbox_recipients", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_recipients_claim_token", ["claim_token"])


def downgrade():
    with op.batch_alter_table("outbox_recipients", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_recipients_claim_token")
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_messages_claim_token")
        batch_op.drop_index("ix_outbox_messages_due")
        batch_op.drop_column("message_bytes")
