"""practice upload sandbox: activities and their boards, attempts, stored uploads, findings, records

Revision ID: 0005_sandbox
Revises: 0004_staff_console
Create Date: 2026-11-25 20:03:00.566410

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_sandbox'
down_revision = '0004_staff_console'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sandbox_activities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('signup_id', sa.Integer(), nullable=False),
    sa.Column('activity_id', sa.String(length=9), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=False),
    sa.Column('max_cme_credits', sa.Numeric(precision=7, scale=2), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('end_date >= start_date', name=op.f('ck_sandbox_activities_ends_after_start')),
    sa.ForeignKeyConstraint(['signup_id'], ['signups.id'], name=op.f('fk_sandbox_activities_signup_id_signups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_activities'))
    )
    with op.batch_alter_table('sandbox_activities', schema=None) as batch_op:
        batch_op.create_index('uq_sandbox_activities_signup_activity', ['signup_id', 'activity_id'], unique=True)

    op.create_table('sandbox_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('signup_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('rows_judged', sa.Integer(), nullable=False),
    sa.Column('rows_expected', sa.Integer(), nullable=True),
    sa.Column('rows_read', sa.Integer(), nullable=False),
    sa.Column('rows_accepted', sa.Integer(), nullable=False),
    sa.Column('rows_rejected', sa.Integer(), nullable=False),
    sa.Column('error_count', sa.Integer(), nullable=False),
    sa.Column('warning_count', sa.Integer(), nullable=False),
    sa.Column('counts_by_code', sa.JSON(), nullable=False),
    sa.Column('claim_token', sa.String(length=32), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('queued', 'judging', 'done', 'failed')", name=op.f('ck_sandbox_attempts_status_known')),
    sa.ForeignKeyConstraint(['signup_id'], ['signups.id'], name=op.f('fk_sandbox_attempts_signup_id_signups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_attempts'))
    )
    with op.batch_alter_table('sandbox_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sandbox_attempts_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sandbox_attempts_signup_id'), ['signup_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sandbox_attempts_status'), ['status'], unique=False)

    op.create_table('sandbox_activity_boards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sandbox_activity_id', sa.Integer(), nullable=False),
    sa.Column('board', sa.String(length=10), nullable=False),
    sa.Column('points', sa.Numeric(precision=7, scale=2), nullable=False),
    sa.Column('credit_types', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['sandbox_activity_id'], ['sandbox_activities.id'], name=op.f('fk_sandbox_activity_boards_sandbox_activity_id_sandbox_activities'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_activity_boards'))
    )
    with op.batch_alter_table('sandbox_activity_boards', schema=None) as batch_op:
        batch_op.create_index('uq_sandbox_activity_boards_board', ['sandbox_activity_id', 'board'], unique=True)

    op.create_table('sandbox_findings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('attempt_id', sa.Integer(), nullable=False),
    sa.Column('row', sa.Integer(), nullable=True),
    sa.Column('is_file_level', sa.Boolean(), nullable=False),
    sa.Column('column', sa.String(length=100), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['attempt_id'], ['sandbox_attempts.id'], name=op.f('fk_sandbox_findings_attempt_id_sandbox_attempts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_findings'))
    )
    with op.batch_alter_table('sandbox_findings', schema=None) as batch_op:
        batch_op.create_index('ix_sandbox_findings_attempt_code', ['attempt_id', 'code'], unique=False)

    op.create_table('sandbox_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('signup_id', sa.Integer(), nullable=False),
    sa.Column('activity_id', sa.String(length=9), nullable=False),
    sa.Column('completion_date', sa.Date(), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('birth_month', sa.Integer(), nullable=False),
    sa.Column('birth_day', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=2), nullable=True),
    sa.Column('license_or_npi', sa.String(length=40), nullable=True),
    sa.Column('board', sa.String(length=10), nullable=True),
    sa.Column('board_id', sa.String(length=40), nullable=True),
    sa.Column('cme_credits', sa.Numeric(precision=7, scale=2), nullable=True),
    sa.Column('board_credits', sa.Numeric(precision=7, scale=2), nullable=True),
    sa.Column('credit_awards', sa.JSON(), nullable=False),
    sa.Column('record_key', sa.String(length=64), nullable=False),
    sa.Column('learner_key', sa.String(length=64), nullable=False),
    sa.Column('added_by_attempt_id', sa.Integer(), nullable=True),
    sa.Column('is_pending', sa.Boolean(), nullable=False),
    sa.Column('deleting_attempt_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['added_by_attempt_id'], ['sandbox_attempts.id'], name=op.f('fk_sandbox_records_added_by_attempt_id_sandbox_attempts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['deleting_attempt_id'], ['sandbox_attempts.id'], name=op.f('fk_sandbox_records_deleting_attempt_id_sandbox_attempts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['signup_id'], ['signups.id'], name=op.f('fk_sandbox_records_signup_id_signups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_records'))
    )
    with op.batch_alter_table('sandbox_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sandbox_records_added_by_attempt_id'), ['added_by_attempt_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sandbox_records_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sandbox_records_deleting_attempt_id'), ['deleting_attempt_id'], unique=False)
        batch_op.create_index('ix_sandbox_records_signup_learner', ['signup_id', 'learner_key', 'activity_id'], unique=False)
        batch_op.create_index('ix_sandbox_records_signup_record_key', ['signup_id', 'record_key'], unique=False)

    op.create_table('sandbox_uploads',
    sa.Column('attempt_id', sa.Integer(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['attempt_id'], ['sandbox_attempts.id'], name=op.f('fk_sandbox_uploads_attempt_id_sandbox_attempts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('attempt_id', name=op.f('pk_sandbox_uploads'))
    )


def downgrade():
    op.drop_table('sandbox_uploads')
    with op.batch_alter_table('sandbox_records', schema=None) as batch_op:
        batch_op.drop_index('ix_sandbox_records_signup_record_key')
        batch_op.drop_index('ix_sandbox_records_signup_learner')
        batch_op.drop_index(batch_op.f('ix_sandbox_records_deleting_attempt_id'))
        batch_op.drop_index(batch_op.f('ix_sandbox_records_created_at'))
        batch_op.drop_index(batch_op.f('ix_sandbox_records_added_by_attempt_id'))

    op.drop_table('sandbox_records')
    with op.batch_alter_table('sandbox_findings', schema=None) as batch_op:
        batch_op.drop_index('ix_sandbox_findings_attempt_code')

    op.drop_table('sandbox_findings')
    with op.batch_alter_table('sandbox_activity_boards', schema=None) as batch_op:
        batch_op.drop_index('uq_sandbox_activity_boards_board')

    op.drop_table('sandbox_activity_boards')
    with op.batch_alter_table('sandbox_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_attempts_status'))
        batch_op.drop_index(batch_op.f('ix_sandbox_attempts_signup_id'))
        batch_op.drop_index(batch_op.f('ix_sandbox_attempts_created_at'))

    op.drop_table('sandbox_attempts')
    with op.batch_alter_table('sandbox_activities', schema=None) as batch_op:
        batch_op.drop_index('uq_sandbox_activities_signup_activity')

    op.drop_table('sandbox_activities')
