"""Security fixes of issue 19.

- campaign.edits: who changed a campaign's text, target or severity since its draft was created (the author's
  creation first). The four-eyes rule compares the approver with every one of them, not with author_id alone.
- login_session: one row per staff login; the session cookie carries its id, and logging out ends the row,
  so a copied cookie stops working at once (not only at the idle timeout).

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("campaign", sa.Column("edits", postgresql.JSONB(), server_default="[]", nullable=False))
    op.create_table(
        "login_session",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_login_session_user_id", "login_session", ["user_id"])


def downgrade():
    op.drop_index("ix_login_session_user_id", table_name="login_session")
    op.drop_table("login_session")
    op.drop_column("campaign", "edits")
