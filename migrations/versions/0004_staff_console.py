"""staff notes, overrides, session cancellation reasons, calendar feed, duplicate reviews

Revision ID: 0004_staff_console
Revises: 0003_staff_audit
Create Date: 2026-11-25 19:40:57.931618

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004_staff_console'
down_revision = '0003_staff_audit'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('calendar_feeds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff_members.id'], name=op.f('fk_calendar_feeds_created_by_id_staff_members'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_feeds')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_calendar_feeds_token_hash'))
    )
    op.create_table('duplicate_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('first_signup_id', sa.Integer(), nullable=False),
    sa.Column('second_signup_id', sa.Integer(), nullable=False),
    sa.Column('decision', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("decision IN ('dismissed', 'merged')", name=op.f('ck_duplicate_reviews_decision_known')),
    sa.CheckConstraint('first_signup_id < second_signup_id', name=op.f('ck_duplicate_reviews_pair_ordered')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['staff_members.id'], name=op.f('fk_duplicate_reviews_decided_by_id_staff_members'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['first_signup_id'], ['signups.id'], name=op.f('fk_duplicate_reviews_first_signup_id_signups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['second_signup_id'], ['signups.id'], name=op.f('fk_duplicate_reviews_second_signup_id_signups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_duplicate_reviews'))
    )
    with op.batch_alter_table('duplicate_reviews', schema=None) as batch_op:
        batch_op.create_index('uq_duplicate_reviews_pair', ['first_signup_id', 'second_signup_id'], unique=True)

    with op.batch_alter_table('signups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('staff_notes', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('override_reason', sa.Text(), nullable=True))
    _replace_one_per_organization_indexes(with_override=True)
    with op.batch_alter_table('training_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancellation_reason', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('training_sessions', schema=None) as batch_op:
        batch_op.drop_column('cancellation_reason')
    _replace_one_per_organization_indexes(with_override=False)
    with op.batch_alter_table('signups', schema=None) as batch_op:
        batch_op.drop_column('override_reason')
        batch_op.drop_column('staff_notes')

    with op.batch_alter_table('duplicate_reviews', schema=None) as batch_op:
        batch_op.drop_index('uq_duplicate_reviews_pair')

    op.drop_table('duplicate_reviews')
    op.drop_table('calendar_feeds')


def _replace_one_per_organization_indexes(with_override):
    """Signups staff booked with a recorded reason stand outside one-per-organization."""
    active = "status <> 'cancelled'" + (" AND override_reason IS NULL" if with_override else "")
    with_provider = active + " AND provider_id IS NOT NULL"
    op.drop_index('uq_signups_active_organization', table_name='signups')
    op.drop_index('uq_signups_active_provider', table_name='signups')
    op.create_index(
        'uq_signups_active_organization', 'signups', ['program_id', 'organization_key'],
        unique=True, sqlite_where=sa.text(active), postgresql_where=sa.text(active),
    )
    op.create_index(
        'uq_signups_active_provider', 'signups', ['program_id', 'provider_id'],
        unique=True, sqlite_where=sa.text(with_provider), postgresql_where=sa.text(with_provider),
    )
