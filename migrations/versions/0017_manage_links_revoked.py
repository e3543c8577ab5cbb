"""manage links revoked when a person leaves a booking

Revision ID: 0017_manage_links_revoked
Revises: 0016_organization_keys_again
Create Date: 2026-12-01 12:30:00

"""

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = "0017_manage_links_revoked"
down_revision = "0016_organization_keys_again"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("manage_links", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("manage_links", schema=None) as batch_op:
        batch_op.drop_column("revoked_at")
