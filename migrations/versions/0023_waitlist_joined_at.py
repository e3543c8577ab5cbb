"""when each organization joined a date's waitlist line (first come, first served)

Revision ID: 0023_waitlist_joined_at
Revises: 0022_live_help_step
Create Date: 2026-12-02 01:10:00

A waitlist's order was its signups' ids (when each signed up), so an organization that joined a
date's line later, from its manage link or when staff cancelled the session it was booked on,
went ahead of those already waiting. Each chosen date now keeps when the organization joined its
line. Existing rows are filled in from what is known: the latest of when the signup was made,
when it last joined the waitlist from its manage link, and when staff last cancelled a session
it was booked on (each is in the audit log).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0023_waitlist_joined_at"
down_revision = "0022_live_help_step"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("signup_choices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("joined_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE signup_choices SET joined_at = ("
        "SELECT signups.created_at FROM signups WHERE signups.id = signup_choices.signup_id)"
    )
    op.execute(
        "UPDATE signup_choices SET joined_at = ("
        "SELECT MAX(audit_events.created_at) FROM audit_events"
        " WHERE audit_events.signup_id = signup_choices.signup_id"
        " AND audit_events.action IN ('signup.waitlist_joined', 'signup.session_cancelled'))"
        " WHERE EXISTS (SELECT 1 FROM audit_events"
        " WHERE audit_events.signup_id = signup_choices.signup_id"
        " AND audit_events.action IN ('signup.waitlist_joined', 'signup.session_cancelled')"
        " AND audit_events.created_at > signup_choices.joined_at)"
    )
    with op.batch_alter_table("signup_choices", schema=None) as batch_op:
        batch_op.alter_column(
            "joined_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )


def downgrade():
    with op.batch_alter_table("signup_choices", schema=None) as batch_op:
        batch_op.drop_column("joined_at")
