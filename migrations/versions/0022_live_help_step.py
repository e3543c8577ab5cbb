"""the walkthrough step an organization last asked for help on, kept once it pressed Done there

Revision ID: 0022_live_help_step
Revises: 0021_ids_never_reused
Create Date: 2026-12-02 01:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0022_live_help_step"
down_revision = "0021_ids_never_reused"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("live_attendances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("help_step_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_live_attendances_help_step_id_walkthrough_steps"),
            "walkthrough_steps",
            ["help_step_id"],
            ["id"],
            ondelete="SET NULL",
        )
    # A call for help still raised was made on the step it reports (``request_help``).
    op.execute(
        "UPDATE live_attendances SET help_step_id = reported_step_id"
        " WHERE help_requested_at IS NOT NULL"
    )


def downgrade():
    with op.batch_alter_table("live_attendances", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_live_attendances_help_step_id_walkthrough_steps"), type_="foreignkey"
        )
        batch_op.drop_column("help_step_id")
