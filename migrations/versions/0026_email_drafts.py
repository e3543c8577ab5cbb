"""staff's email to organizations kept as a draft, so its preview is a page of its own

Revision ID: 0026_email_drafts
Revises: 0025_worker_processes
Create Date: 2026-12-02 11:20:00

Preview → Send → Back landed on a page that only a form post drew ("Confirm form
resubmission"); the preview is now a GET of the draft.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0026_email_drafts"
down_revision = "0025_worker_processes"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "email_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_member_id", sa.Integer(), nullable=False),
        sa.Column("session_ids", sa.Text(), nullable=False),
        sa.Column("is_waitlist_included", sa.Boolean(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_member_id"],
            ["staff_members.id"],
            name=op.f("fk_email_drafts_staff_member_id_staff_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_drafts")),
    )
    op.create_index(
        op.f("ix_email_drafts_staff_member_id"), "email_drafts", ["staff_member_id"], unique=False
    )


def downgrade():
    op.drop_index(op.f("ix_email_drafts_staff_member_id"), table_name="email_drafts")
    op.drop_table("email_drafts")
