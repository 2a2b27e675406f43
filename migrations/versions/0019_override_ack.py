"""Risks of issue 19: the emergency override notifies every approver.

- app_user.phone: an E.164 mobile (set by admins) where approvers are texted when an override is used.
- campaign.override_acknowledged_at/_by: every approver sees a banner about an override until one of them
  acknowledges it (audited).

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("app_user", sa.Column("phone", sa.String(16)))
    op.add_column("campaign", sa.Column("override_acknowledged_at", sa.DateTime(timezone=True)))
    op.add_column(
        "campaign",
        sa.Column("override_acknowledged_by", sa.Integer(), sa.ForeignKey("app_user.id", ondelete="SET NULL")),
    )


def downgrade():
    op.drop_column("campaign", "override_acknowledged_by")
    op.drop_column("campaign", "override_acknowledged_at")
    op.drop_column("app_user", "phone")
