"""a merge of duplicate signups remembers what it changed, so it can be undone

Revision ID: 0013f_merge_undo
Revises: 0013_outbox_recipients
Create Date: 2026-11-30 10:15:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013f_merge_undo'
down_revision = '0013_outbox_recipients'
branch_labels = None
depends_on = None


def upgrade():
    # Merges made before this revision stay as they are: they cannot be undone.
    with op.batch_alter_table('duplicate_reviews', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kept_signup_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('dropped_status', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('moved_attendees', sa.JSON(), nullable=True))
        batch_op.create_foreign_key('fk_duplicate_reviews_kept_signup_id_signups', 'signups', ['kept_signup_id'], ['id'], ondelete='CASCADE')


def downgrade():
    with op.batch_alter_table('duplicate_reviews', schema=None) as batch_op:
        batch_op.drop_constraint('fk_duplicate_reviews_kept_signup_id_signups', type_='foreignkey')
        batch_op.drop_column('moved_attendees')
        batch_op.drop_column('dropped_status')
        batch_op.drop_column('kept_signup_id')
