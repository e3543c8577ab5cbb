"""the state boards using PARS data, as staff keep the list

Revision ID: 0010_pars_state_lists
Revises: 0009_sandbox_column_maps
Create Date: 2026-11-30 03:18:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_pars_state_lists'
down_revision = '0009_sandbox_column_maps'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('pars_state_lists',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('states', sa.JSON(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('checked_on', sa.Date(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['updated_by_id'], ['staff_members.id'], name=op.f('fk_pars_state_lists_updated_by_id_staff_members'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pars_state_lists'))
    )
    with op.batch_alter_table('pars_state_lists', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pars_state_lists_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('pars_state_lists', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pars_state_lists_created_at'))
    op.drop_table('pars_state_lists')
