"""live guided sessions: walkthrough steps, each session's live state, each organization's

Revision ID: 0006_live
Revises: 0005_sandbox
Create Date: 2026-11-25 20:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_live'
down_revision = '0005_sandbox'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('walkthrough_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=80), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('participant_text', sa.Text(), nullable=False),
    sa.Column('facilitator_notes', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_walkthrough_steps')),
    sa.UniqueConstraint('position', name=op.f('uq_walkthrough_steps_position')),
    sa.UniqueConstraint('slug', name=op.f('uq_walkthrough_steps_slug'))
    )
    op.create_table('live_sessions',
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('current_step_id', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('board_version', sa.Integer(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['current_step_id'], ['walkthrough_steps.id'], name=op.f('fk_live_sessions_current_step_id_walkthrough_steps'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['session_id'], ['training_sessions.id'], name=op.f('fk_live_sessions_session_id_training_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', name=op.f('pk_live_sessions'))
    )
    op.create_table('live_attendances',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('signup_id', sa.Integer(), nullable=False),
    sa.Column('checkin_status', sa.String(length=20), nullable=True),
    sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reported_step_id', sa.Integer(), nullable=True),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('help_requested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('followup_sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("checkin_status IS NULL OR checkin_status IN ('present', 'late', 'no_show')", name=op.f('ck_live_attendances_checkin_status_known')),
    sa.ForeignKeyConstraint(['reported_step_id'], ['walkthrough_steps.id'], name=op.f('fk_live_attendances_reported_step_id_walkthrough_steps'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['session_id'], ['live_sessions.session_id'], name=op.f('fk_live_attendances_session_id_live_sessions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['signup_id'], ['signups.id'], name=op.f('fk_live_attendances_signup_id_signups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_live_attendances'))
    )
    with op.batch_alter_table('live_attendances', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_live_attendances_signup_id'), ['signup_id'], unique=False)
        batch_op.create_index('uq_live_attendances_session_signup', ['session_id', 'signup_id'], unique=True)


def downgrade():
    with op.batch_alter_table('live_attendances', schema=None) as batch_op:
        batch_op.drop_index('uq_live_attendances_session_signup')
        batch_op.drop_index(batch_op.f('ix_live_attendances_signup_id'))

    op.drop_table('live_attendances')
    op.drop_table('live_sessions')
    op.drop_table('walkthrough_steps')
