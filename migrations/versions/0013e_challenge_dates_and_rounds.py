"""challenge entries count from a start day; challenge reminders go in one round per challenge

Revision ID: 0013e_challenge_dates_and_rounds
Revises: 0013f_merge_undo
Create Date: 2026-11-30 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013e_challenge_dates_and_rounds'
down_revision = '0013f_merge_undo'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('challenges_start_on', sa.Date(), nullable=True))
    op.create_table('challenge_reminder_rounds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('challenge', sa.String(length=10), nullable=False),
    sa.Column('ran_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_challenge_reminder_rounds_program_id_programs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_challenge_reminder_rounds'))
    )
    with op.batch_alter_table('challenge_reminder_rounds', schema=None) as batch_op:
        batch_op.create_index('uq_challenge_reminder_rounds_program_challenge', ['program_id', 'challenge'], unique=True)
    # Reminders sent before rounds were kept: their round has run, at the first one's time.
    op.execute(
        "INSERT INTO challenge_reminder_rounds (program_id, challenge, ran_at) "
        "SELECT signups.program_id, challenge_reminders.challenge, MIN(challenge_reminders.sent_at) "
        "FROM challenge_reminders JOIN signups ON signups.id = challenge_reminders.signup_id "
        "GROUP BY signups.program_id, challenge_reminders.challenge"
    )


def downgrade():
    with op.batch_alter_table('challenge_reminder_rounds', schema=None) as batch_op:
        batch_op.drop_index('uq_challenge_reminder_rounds_program_challenge')
    op.drop_table('challenge_reminder_rounds')
    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.drop_column('challenges_start_on')
