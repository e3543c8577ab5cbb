"""programs, sessions, signups and outbox

Revision ID: 0001_booking
Revises:
Create Date: 2026-11-25 19:17:12.852978

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0001_booking'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('programs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=80), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('window_starts_on', sa.Date(), nullable=False),
    sa.Column('window_ends_on', sa.Date(), nullable=False),
    sa.Column('signup_opens_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('signup_closes_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('staff_email', sa.String(length=254), nullable=False),
    sa.Column('accme_challenge_due_on', sa.Date(), nullable=False),
    sa.Column('cma_challenge_due_on', sa.Date(), nullable=False),
    sa.Column('attestation_text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_programs')),
    sa.UniqueConstraint('slug', name=op.f('uq_programs_slug'))
    )
    op.create_table('training_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seats', sa.Integer(), nullable=False),
    sa.Column('seats_booked', sa.Integer(), nullable=False),
    sa.Column('meeting_url', sa.String(length=500), nullable=True),
    sa.Column('dial_in', sa.String(length=200), nullable=True),
    sa.Column('passcode', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('scheduled', 'cancelled')", name=op.f('ck_training_sessions_status_known')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_training_sessions_ends_after_start')),
    sa.CheckConstraint('seats >= 0', name=op.f('ck_training_sessions_seats_not_negative')),
    sa.CheckConstraint('seats_booked >= 0 AND seats_booked <= seats', name=op.f('ck_training_sessions_seats_booked_within_capacity')),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_training_sessions_program_id_programs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_sessions'))
    )
    with op.batch_alter_table('training_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_sessions_program_id'), ['program_id'], unique=False)

    op.create_table('signups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('organization_name', sa.String(length=200), nullable=False),
    sa.Column('organization_key', sa.String(length=200), nullable=False),
    sa.Column('provider_id', sa.String(length=7), nullable=True),
    sa.Column('contact_name', sa.String(length=120), nullable=False),
    sa.Column('contact_email', sa.String(length=254), nullable=False),
    sa.Column('contact_phone', sa.String(length=40), nullable=True),
    sa.Column('attestation_text', sa.Text(), nullable=False),
    sa.Column('attested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submission_key_hash', sa.String(length=64), nullable=False),
    sa.Column('invite_sequence', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('link_resent_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(status = 'confirmed' AND session_id IS NOT NULL) OR (status = 'waitlisted' AND session_id IS NULL) OR status = 'cancelled'", name=op.f('ck_signups_status_matches_session')),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_signups_program_id_programs')),
    sa.ForeignKeyConstraint(['session_id'], ['training_sessions.id'], name=op.f('fk_signups_session_id_training_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signups')),
    sa.UniqueConstraint('submission_key_hash', name=op.f('uq_signups_submission_key_hash'))
    )
    with op.batch_alter_table('signups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signups_session_id'), ['session_id'], unique=False)
        batch_op.create_index('uq_signups_active_organization', ['program_id', 'organization_key'], unique=True, sqlite_where=sa.text("status <> 'cancelled'"), postgresql_where=sa.text("status <> 'cancelled'"))
        batch_op.create_index('uq_signups_active_provider', ['program_id', 'provider_id'], unique=True, sqlite_where=sa.text("status <> 'cancelled' AND provider_id IS NOT NULL"), postgresql_where=sa.text("status <> 'cancelled' AND provider_id IS NOT NULL"))

    op.create_table('attendees',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('signup_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['signup_id'], ['signups.id'], name=op.f('fk_attendees_signup_id_signups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attendees'))
    )
    with op.batch_alter_table('attendees', schema=None) as batch_op:
        batch_op.create_index('uq_attendees_signup_email', ['signup_id', 'email'], unique=True)

    op.create_table('manage_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('signup_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['signup_id'], ['signups.id'], name=op.f('fk_manage_links_signup_id_signups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_manage_links')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_manage_links_token_hash'))
    )
    with op.batch_alter_table('manage_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_manage_links_signup_id'), ['signup_id'], unique=False)

    op.create_table('outbox_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('signup_id', sa.Integer(), nullable=True),
    sa.Column('recipients', sa.JSON(), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('text_body', sa.Text(), nullable=False),
    sa.Column('html_body', sa.Text(), nullable=True),
    sa.Column('calendar', sa.Text(), nullable=True),
    sa.Column('calendar_method', sa.String(length=10), nullable=True),
    sa.Column('message_id', sa.String(length=250), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['signup_id'], ['signups.id'], name=op.f('fk_outbox_messages_signup_id_signups'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_messages')),
    sa.UniqueConstraint('message_id', name=op.f('uq_outbox_messages_message_id'))
    )
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_messages_signup_id'), ['signup_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_messages_status'), ['status'], unique=False)

    op.create_table('signup_choices',
    sa.Column('signup_id', sa.Integer(), nullable=False),
    sa.Column('rank', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('rank BETWEEN 1 AND 3', name=op.f('ck_signup_choices_rank_range')),
    sa.ForeignKeyConstraint(['session_id'], ['training_sessions.id'], name=op.f('fk_signup_choices_session_id_training_sessions')),
    sa.ForeignKeyConstraint(['signup_id'], ['signups.id'], name=op.f('fk_signup_choices_signup_id_signups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('signup_id', 'rank', name=op.f('pk_signup_choices'))
    )
    with op.batch_alter_table('signup_choices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signup_choices_session_id'), ['session_id'], unique=False)
        batch_op.create_index('uq_signup_choices_signup_session', ['signup_id', 'session_id'], unique=True)



def downgrade():
    with op.batch_alter_table('signup_choices', schema=None) as batch_op:
        batch_op.drop_index('uq_signup_choices_signup_session')
        batch_op.drop_index(batch_op.f('ix_signup_choices_session_id'))

    op.drop_table('signup_choices')
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_messages_status'))
        batch_op.drop_index(batch_op.f('ix_outbox_messages_signup_id'))

    op.drop_table('outbox_messages')
    with op.batch_alter_table('manage_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_manage_links_signup_id'))

    op.drop_table('manage_links')
    with op.batch_alter_table('attendees', schema=None) as batch_op:
        batch_op.drop_index('uq_attendees_signup_email')

    op.drop_table('attendees')
    with op.batch_alter_table('signups', schema=None) as batch_op:
        batch_op.drop_index('uq_signups_active_provider', sqlite_where=sa.text("status <> 'cancelled' AND provider_id IS NOT NULL"), postgresql_where=sa.text("status <> 'cancelled' AND provider_id IS NOT NULL"))
        batch_op.drop_index('uq_signups_active_organization', sqlite_where=sa.text("status <> 'cancelled'"), postgresql_where=sa.text("status <> 'cancelled'"))
        batch_op.drop_index(batch_op.f('ix_signups_session_id'))

    op.drop_table('signups')
    with op.batch_alter_table('training_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_training_sessions_program_id'))

    op.drop_table('training_sessions')
    op.drop_table('programs')
