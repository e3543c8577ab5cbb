"""outbox delivery: claims, leases, Reply-To, and reminders sent

Revision ID: 0002_outbox_delivery
Revises: 0001_booking
Create Date: 2026-11-25 19:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0002_outbox_delivery'
down_revision = '0001_booking'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reply_to', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('claim_token', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_check_constraint(
            op.f('ck_outbox_messages_status_known'), "status IN ('queued', 'sending', 'sent', 'retrying', 'failed')"
        )
        batch_op.create_check_constraint(
            op.f('ck_outbox_messages_calendar_method_known'),
            "calendar_method IS NULL OR calendar_method IN ('REQUEST', 'CANCEL')",
        )

    op.create_table('reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('signup_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('session_starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('minutes_before', sa.Integer(), nullable=False),
    sa.Column('outbox_message_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['outbox_message_id'], ['outbox_messages.id'], name=op.f('fk_reminders_outbox_message_id_outbox_messages'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['session_id'], ['training_sessions.id'], name=op.f('fk_reminders_session_id_training_sessions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['signup_id'], ['signups.id'], name=op.f('fk_reminders_signup_id_signups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminders'))
    )
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.create_index('uq_reminders_once', ['signup_id', 'session_id', 'session_starts_at', 'minutes_before'], unique=True)


def downgrade():
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.drop_index('uq_reminders_once')

    op.drop_table('reminders')
    # A message a worker held when the schema went back is simply queued again.
    op.execute("UPDATE outbox_messages SET status = 'queued' WHERE status = 'sending'")
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_outbox_messages_calendar_method_known'), type_='check')
        batch_op.drop_constraint(op.f('ck_outbox_messages_status_known'), type_='check')
        batch_op.drop_column('lease_expires_at')
        batch_op.drop_column('claim_token')
        batch_op.drop_column('reply_to')
