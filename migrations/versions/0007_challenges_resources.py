"""challenge entries, reminders and drawings; staff edits of resource pages

Revision ID: 0007_challenges_resources
Revises: 0006_live
Create Date: 2026-11-25 19:55:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_challenges_resources'
down_revision = '0006_live'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('challenge_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('signup_id', sa.Integer(), nullable=False),
    sa.Column('activity_id', sa.String(length=9), nullable=False),
    sa.Column('entered_on', sa.Date(), nullable=False),
    sa.Column('learners', sa.Integer(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('verified_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('learners > 0', name=op.f('ck_challenge_entries_learners_positive')),
    sa.CheckConstraint('length(activity_id) = 9', name=op.f('ck_challenge_entries_activity_id_nine_digits')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['staff_members.id'], name=op.f('fk_challenge_entries_recorded_by_id_staff_members'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['signup_id'], ['signups.id'], name=op.f('fk_challenge_entries_signup_id_signups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['verified_by_id'], ['staff_members.id'], name=op.f('fk_challenge_entries_verified_by_id_staff_members'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_challenge_entries'))
    )
    with op.batch_alter_table('challenge_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_challenge_entries_signup_id'), ['signup_id'], unique=False)

    op.create_table('challenge_reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('signup_id', sa.Integer(), nullable=False),
    sa.Column('challenge', sa.String(length=10), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['signup_id'], ['signups.id'], name=op.f('fk_challenge_reminders_signup_id_signups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_challenge_reminders'))
    )
    with op.batch_alter_table('challenge_reminders', schema=None) as batch_op:
        batch_op.create_index('uq_challenge_reminders_signup_challenge', ['signup_id', 'challenge'], unique=True)

    op.create_table('challenge_drawings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('challenge', sa.String(length=10), nullable=False),
    sa.Column('seed', sa.String(length=40), nullable=False),
    sa.Column('eligible_signup_ids', sa.JSON(), nullable=False),
    sa.Column('winner_signup_ids', sa.JSON(), nullable=False),
    sa.Column('drawn_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('drawn_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['drawn_by_id'], ['staff_members.id'], name=op.f('fk_challenge_drawings_drawn_by_id_staff_members'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_challenge_drawings_program_id_programs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_challenge_drawings'))
    )
    with op.batch_alter_table('challenge_drawings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_challenge_drawings_program_id'), ['program_id'], unique=False)

    op.create_table('resource_pages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['updated_by_id'], ['staff_members.id'], name=op.f('fk_resource_pages_updated_by_id_staff_members'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resource_pages')),
    sa.UniqueConstraint('slug', name=op.f('uq_resource_pages_slug'))
    )


def downgrade():
    op.drop_table('resource_pages')
    with op.batch_alter_table('challenge_drawings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_challenge_drawings_program_id'))
    op.drop_table('challenge_drawings')
    with op.batch_alter_table('challenge_reminders', schema=None) as batch_op:
        batch_op.drop_index('uq_challenge_reminders_signup_challenge')
    op.drop_table('challenge_reminders')
    with op.batch_alter_table('challenge_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_challenge_entries_signup_id'))
    op.drop_table('challenge_entries')
