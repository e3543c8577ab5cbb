"""outbox recipients: each recipient's delivery state, migrated from its message's

Revision ID: 0013_outbox_recipients
Revises: 0012_one_drawing_per_challenge
Create Date: 2026-11-30 10:30:00

"""
import json

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_outbox_recipients'
down_revision = '0012_one_drawing_per_challenge'
branch_labels = None
depends_on = None

STATE_COLUMNS = {
    'status': sa.String(20),
    'attempts': sa.Integer(),
    'next_attempt_at': sa.DateTime(timezone=True),
    'claim_token': sa.String(32),
    'last_error': sa.Text(),
    'sent_at': sa.DateTime(timezone=True),
}
BATCH = 500


def upgrade():
    recipients = op.create_table('outbox_recipients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('outbox_message_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claim_token', sa.String(length=32), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('queued', 'sending', 'sent', 'retrying', 'failed')", name=op.f('ck_outbox_recipients_status_known')),
    sa.ForeignKeyConstraint(['outbox_message_id'], ['outbox_messages.id'], name=op.f('fk_outbox_recipients_outbox_message_id_outbox_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_recipients'))
    )
    with op.batch_alter_table('outbox_recipients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_recipients_status'), ['status'], unique=False)
        batch_op.create_index('uq_outbox_recipients_message_address', ['outbox_message_id', 'address'], unique=True)

    # Each message written before now: every recipient in the message's own state, which was
    # the same for all of them (a claim in progress stays the claim of its worker).
    messages = sa.table(
        'outbox_messages',
        sa.column('id', sa.Integer()),
        sa.column('recipients', sa.JSON()),
        *(sa.column(name, type_) for name, type_ in STATE_COLUMNS.items()),
    )
    connection = op.get_bind()
    rows = []
    for message in connection.execute(sa.select(messages).order_by(messages.c.id)):
        addresses = message.recipients
        if isinstance(addresses, str):
            addresses = json.loads(addresses)
        state = {name: getattr(message, name) for name in STATE_COLUMNS}
        rows.extend(
            {'outbox_message_id': message.id, 'address': address, **state}
            for address in dict.fromkeys(addresses or ())
        )
        if len(rows) >= BATCH:
            connection.execute(recipients.insert(), rows)
            rows = []
    if rows:
        connection.execute(recipients.insert(), rows)


def downgrade():
    with op.batch_alter_table('outbox_recipients', schema=None) as batch_op:
        batch_op.drop_index('uq_outbox_recipients_message_address')
        batch_op.drop_index(batch_op.f('ix_outbox_recipients_status'))

    op.drop_table('outbox_recipients')
