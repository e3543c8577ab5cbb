"""a cancelled session has no waitlist: drop waitlist places left on cancelled sessions

Revision ID: 0013c_cancelled_no_waitlist
Revises: 0013e_challenge_dates_and_rounds
Create Date: 2026-11-30 10:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0013c_cancelled_no_waitlist'
down_revision = '0013e_challenge_dates_and_rounds'
branch_labels = None
depends_on = None


def upgrade():
    # Cancelling a session used to leave the organizations waiting for it in line there for
    # ever; it now takes them off (rosters.services.drop_cancelled_choices). Do the same to
    # the places left behind before. Confirmed and cancelled signups keep their choices.
    op.execute(
        "DELETE FROM signup_choices"
        " WHERE session_id IN (SELECT id FROM training_sessions WHERE status = 'cancelled')"
        " AND signup_id IN (SELECT id FROM signups WHERE status = 'waitlisted')"
    )


def downgrade():
    # Nothing to undo in the schema; the dropped places were on waitlists that could never
    # move, and the code before this revision never needed them.
    pass
