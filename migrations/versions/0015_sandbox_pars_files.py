"""the PARS-ready files the sandbox worker makes of large uploads, stored for every host

Revision ID: 0015_sandbox_pars_files
Revises: 0014s_outbox_lz4
Create Date: 2026-12-01 06:30:00

"""

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = "0015_sandbox_pars_files"
down_revision = "0014s_outbox_lz4"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "sandbox_pars_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=4), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("made_on", sa.Date(), nullable=False),
        sa.Column("inputs_key", sa.String(length=64), nullable=False),
        sa.Column("rows_written", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'building', 'ready', 'failed')",
            name=op.f("ck_sandbox_pars_files_status_known"),
        ),
        sa.CheckConstraint(
            "kind IN ('xlsx', 'txt')", name=op.f("ck_sandbox_pars_files_kind_known")
        ),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["sandbox_attempts.id"],
            name=op.f("fk_sandbox_pars_files_attempt_id_sandbox_attempts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_pars_files")),
    )
    op.create_index(
        "uq_sandbox_pars_files_attempt_kind",
        "sandbox_pars_files",
        ["attempt_id", "kind"],
        unique=True,
    )
    op.create_index(
        op.f("ix_sandbox_pars_files_status"), "sandbox_pars_files", ["status"], unique=False
    )


def downgrade():
    op.drop_index(op.f("ix_sandbox_pars_files_status"), table_name="sandbox_pars_files")
    op.drop_index("uq_sandbox_pars_files_attempt_kind", table_name="sandbox_pars_files")
    op.drop_table("sandbox_pars_files")
