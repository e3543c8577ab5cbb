"""one official drawing per challenge: later drawings need a reason

Revision ID: 0012_one_drawing_per_challenge
Revises: 0011_worker_heartbeats
Create Date: 2026-11-30 07:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_one_drawing_per_challenge'
down_revision = '0011_worker_heartbeats'
branch_labels = None
depends_on = None

FIRST_DRAWING = sa.text("redraw_reason IS NULL")
# Drawings repeated before the rule (a form sent twice) stay, marked as draws again.
EARLIER_REPEAT = "Drawn again before one drawing per challenge was the rule."


def upgrade():
    with op.batch_alter_table('challenge_drawings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('redraw_reason', sa.Text(), nullable=True))
    op.execute(
        sa.text(
            "UPDATE challenge_drawings SET redraw_reason = :reason WHERE id NOT IN ("
            "SELECT MIN(id) FROM challenge_drawings GROUP BY program_id, challenge)"
        ).bindparams(reason=EARLIER_REPEAT)
    )
    with op.batch_alter_table('challenge_drawings', schema=None) as batch_op:
        batch_op.create_index('uq_challenge_drawings_first', ['program_id', 'challenge'], unique=True, sqlite_where=FIRST_DRAWING, postgresql_where=FIRST_DRAWING)


def downgrade():
    with op.batch_alter_table('challenge_drawings', schema=None) as batch_op:
        batch_op.drop_index('uq_challenge_drawings_first', sqlite_where=FIRST_DRAWING, postgresql_where=FIRST_DRAWING)
        batch_op.drop_column('redraw_reason')
