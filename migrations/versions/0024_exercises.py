"""Issue 16: exercises and tests — contact groups (kind `test` for now; issue 20 adds call-out kinds on the same
tables), and the campaign's CAP status, test group, second confirmation and "send test" link.

Revision ID: 0024
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "contact_group",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("needed", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_contact_group_kind", "contact_group", ["kind"])
    op.create_table(
        "contact_group_member",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("group_id", sa.Integer(), sa.ForeignKey("contact_group.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(120), nullable=True),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("function", sa.String(120), nullable=True),
        sa.Column("order", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("deputy_phone", sa.String(16), nullable=True),
    )
    op.create_index("ix_contact_group_member_group_id", "contact_group_member", ["group_id"])
    op.add_column("campaign", sa.Column("cap_status", sa.String(8), nullable=False, server_default="actual"))
    op.add_column(
        "campaign", sa.Column("test_group_id", sa.Integer(), sa.ForeignKey("contact_group.id"), nullable=True)
    )
    op.add_column("campaign", sa.Column("confirm_real_target", sa.Boolean(), nullable=False, server_default="false"))
    op.add_column(
        "campaign",
        sa.Column("test_of_id", sa.Integer(), sa.ForeignKey("campaign.id", ondelete="SET NULL"), nullable=True),
    )


def downgrade():
    op.drop_column("campaign", "test_of_id")
    op.drop_column("campaign", "confirm_real_target")
    op.drop_column("campaign", "test_group_id")
    op.drop_column("campaign", "cap_status")
    op.drop_index("ix_contact_group_member_group_id", "contact_group_member")
    op.drop_table("contact_group_member")
    op.drop_index("ix_contact_group_kind", "contact_group")
    op.drop_table("contact_group")
