"""one table of drafts for every preview that is a page of its own, staff's email drafts too

Revision ID: 0027_drafts
Revises: 0026_email_drafts
Create Date: 2026-12-02 16:20:00

The sandbox's column-mapping preview answered its form post with a page ("Confirm form
resubmission" on Back or Reload); it is now kept as a draft like staff's email, in one table
whose rows belong to a staff member or to an organization. Email drafts are carried over.
"""

import json

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0027_drafts"
down_revision = "0026_email_drafts"
branch_labels = None
depends_on = None

EMAIL_KIND = "staff_message"


def _email_drafts_table():
    op.create_table(
        "email_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_member_id", sa.Integer(), nullable=False),
        sa.Column("session_ids", sa.Text(), nullable=False),
        sa.Column("is_waitlist_included", sa.Boolean(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_member_id"],
            ["staff_members.id"],
            name=op.f("fk_email_drafts_staff_member_id_staff_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_drafts")),
    )
    op.create_index(
        op.f("ix_email_drafts_staff_member_id"), "email_drafts", ["staff_member_id"], unique=False
    )


def upgrade():
    op.create_table(
        "drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("staff_member_id", sa.Integer(), nullable=True),
        sa.Column("signup_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["signup_id"],
            ["signups.id"],
            name=op.f("fk_drafts_signup_id_signups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_member_id"],
            ["staff_members.id"],
            name=op.f("fk_drafts_staff_member_id_staff_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drafts")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_drafts_created_at"), "drafts", ["created_at"], unique=False)
    op.create_index(op.f("ix_drafts_signup_id"), "drafts", ["signup_id"], unique=False)
    op.create_index(op.f("ix_drafts_staff_member_id"), "drafts", ["staff_member_id"], unique=False)
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT staff_member_id, session_ids, is_waitlist_included, subject, body, "
            "created_at, sent_at FROM email_drafts ORDER BY id"
        )
    ).all()
    if rows:
        # Values go back as they came (untyped), so SQLite's stored text needs no parsing.
        connection.execute(
            sa.text(
                "INSERT INTO drafts (kind, staff_member_id, signup_id, payload, created_at, "
                "used_at) VALUES (:kind, :staff_member_id, NULL, :payload, :created_at, :used_at)"
            ),
            [
                {
                    "kind": EMAIL_KIND,
                    "staff_member_id": row.staff_member_id,
                    "payload": json.dumps(
                        {
                            "session_ids": [
                                int(value)
                                for value in row.session_ids.split(",")
                                if value.isdigit()
                            ],
                            "include_waitlist": bool(row.is_waitlist_included),
                            "subject": row.subject,
                            "body": row.body,
                        }
                    ),
                    "created_at": row.created_at,
                    "used_at": row.sent_at,
                }
                for row in rows
            ],
        )
    op.drop_index(op.f("ix_email_drafts_staff_member_id"), table_name="email_drafts")
    op.drop_table("email_drafts")


def downgrade():
    _email_drafts_table()
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT staff_member_id, payload, created_at, used_at FROM drafts "
            "WHERE kind = :kind AND staff_member_id IS NOT NULL ORDER BY id"
        ),
        {"kind": EMAIL_KIND},
    ).all()
    copied = []
    for row in rows:
        content = json.loads(row.payload)
        copied.append(
            {
                "staff_member_id": row.staff_member_id,
                "session_ids": ",".join(str(value) for value in content.get("session_ids", [])),
                "is_waitlist_included": bool(content.get("include_waitlist")),
                "subject": content.get("subject", ""),
                "body": content.get("body", ""),
                "created_at": row.created_at,
                "sent_at": row.used_at,
            }
        )
    if copied:
        connection.execute(
            sa.text(
                "INSERT INTO email_drafts (staff_member_id, session_ids, is_waitlist_included, "
                "subject, body, created_at, sent_at) VALUES (:staff_member_id, :session_ids, "
                ":is_waitlist_included, :subject, :body, :created_at, :sent_at)"
            ),
            copied,
        )
    op.drop_index(op.f("ix_drafts_staff_member_id"), table_name="drafts")
    op.drop_index(op.f("ix_drafts_signup_id"), table_name="drafts")
    op.drop_index(op.f("ix_drafts_created_at"), table_name="drafts")
    op.drop_table("drafts")
