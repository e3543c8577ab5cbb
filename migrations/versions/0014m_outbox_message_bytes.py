"""an outbox message's bytes are built when it is queued and kept beside it, so the worker only
sends them; the claim finds due rows by index

Revision ID: 0014m_outbox_message_bytes
Revises: 0013c_cancelled_no_waitlist
Create Date: 2026-11-30 10:50:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0014m_outbox_message_bytes"
down_revision = "0013c_cancelled_no_waitlist"
branch_labels = None
depends_on = None


def upgrade():
    # Messages queued before this revision have none: the worker builds their bytes when it
    # claims them, as it always did.
    op.create_table(
        "outbox_message_bytes",
        sa.Column("outbox_message_id", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["outbox_message_id"],
            ["outbox_messages.id"],
            name=op.f("fk_outbox_message_bytes_outbox_message_id_outbox_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("outbox_message_id", name=op.f("pk_outbox_message_bytes")),
    )
    # The claim finds due rows in this index, not in the rows with their bodies; it leads with
    # the status, so it also serves the counts by status the old index served.
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_messages_due", ["status", "next_attempt_at", "lease_expires_at"]
        )
        batch_op.drop_index("ix_outbox_messages_status")


def downgrade():
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_messages_status", ["status"], unique=False)
        batch_op.drop_index("ix_outbox_messages_due")
    op.drop_table("outbox_message_bytes")
