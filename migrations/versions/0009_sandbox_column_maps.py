"""sandbox: column mappings organizations confirm, the mode and layout of each attempt

Revision ID: 0009_sandbox_column_maps
Revises: 0008_sessions_submissions
Create Date: 2026-11-30 03:17:03

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_sandbox_column_maps'
down_revision = '0008_sessions_submissions'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sandbox_column_maps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('signup_id', sa.Integer(), nullable=False),
    sa.Column('header_signature', sa.String(length=32), nullable=False),
    sa.Column('column_map', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['signup_id'], ['signups.id'], name=op.f('fk_sandbox_column_maps_signup_id_signups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_column_maps'))
    )
    with op.batch_alter_table('sandbox_column_maps', schema=None) as batch_op:
        batch_op.create_index('uq_sandbox_column_maps_signup_header', ['signup_id', 'header_signature'], unique=True)

    with op.batch_alter_table('sandbox_attempts', schema=None) as batch_op:
        # Attempts made before this revision judged whole files.
        batch_op.add_column(sa.Column('mode', sa.String(length=10), nullable=False, server_default='full'))
        batch_op.add_column(sa.Column('file_layout', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('column_map', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('mapped_from_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_sandbox_attempts_mapped_from_id_sandbox_attempts'), 'sandbox_attempts', ['mapped_from_id'], ['id'], ondelete='SET NULL')
        batch_op.create_check_constraint(op.f('ck_sandbox_attempts_mode_known'), "mode IN ('full', 'learners')")
    with op.batch_alter_table('sandbox_attempts', schema=None) as batch_op:
        batch_op.alter_column('mode', server_default=None)


def downgrade():
    with op.batch_alter_table('sandbox_attempts', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_sandbox_attempts_mode_known'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_sandbox_attempts_mapped_from_id_sandbox_attempts'), type_='foreignkey')
        batch_op.drop_column('mapped_from_id')
        batch_op.drop_column('column_map')
        batch_op.drop_column('file_layout')
        batch_op.drop_column('mode')

    with op.batch_alter_table('sandbox_column_maps', schema=None) as batch_op:
        batch_op.drop_index('uq_sandbox_column_maps_signup_header')
    op.drop_table('sandbox_column_maps')
