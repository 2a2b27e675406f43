"""Call-outs (issue 20): a text to groups of staff, services or media with acknowledgements and escalation to
deputies. The SMS are messages of a carrier campaign of kind `callout`; these tables hold who was reached, their
answers and the escalation steps (campaigns.callouts).

Revision ID: 0031
Revises: 0030
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "callout",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("ack", sa.Boolean, nullable=False),
        sa.Column("escalate_after_s", sa.Integer, nullable=False),
        sa.Column("reply_minutes", sa.Integer, nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("app_user.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replies_until", sa.DateTime(timezone=True)),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("closed_by", sa.Integer, sa.ForeignKey("app_user.id", ondelete="SET NULL")),
        sa.Column("media_of_id", sa.Integer, sa.ForeignKey("campaign.id", ondelete="SET NULL")),
        sa.UniqueConstraint("campaign_id"),
    )
    op.create_index("ix_callout_status", "callout", ["status"])
    op.create_table(
        "callout_group",
        sa.Column("callout_id", sa.Integer, sa.ForeignKey("callout.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("group_id", sa.Integer, sa.ForeignKey("contact_group.id"), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("needed", sa.Integer, nullable=False),
        sa.Column("unreachable_at", sa.DateTime(timezone=True)),
        sa.Column("officer_sms", sa.String(10)),
    )
    op.create_table(
        "callout_member",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("callout_id", sa.Integer, sa.ForeignKey("callout.id", ondelete="CASCADE"), nullable=False),
        sa.Column("group_ids", ARRAY(sa.Integer), nullable=False),
        sa.Column("name", sa.String(120)),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("function", sa.String(120)),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("depth", sa.Integer, nullable=False),
        sa.Column("deputy_for_id", sa.BigInteger, sa.ForeignKey("callout_member.id", ondelete="CASCADE")),
        sa.Column("message_id", sa.BigInteger),
        sa.Column("answer", sa.String(10)),
        sa.Column("answered_at", sa.DateTime(timezone=True)),
        sa.Column("reply_text", sa.Text),
        sa.Column("replied_at", sa.DateTime(timezone=True)),
        sa.Column("prompted_at", sa.DateTime(timezone=True)),
        sa.Column("escalated_at", sa.DateTime(timezone=True)),
        sa.Column("escalated_to", sa.String(16)),
        sa.Column("no_answer_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("callout_id", "phone"),
    )
    op.create_index(
        "ix_callout_member_waiting",
        "callout_member",
        ["callout_id"],
        postgresql_where=sa.text("escalated_at IS NULL AND no_answer_at IS NULL"),
    )
    op.create_index("ix_callout_member_phone", "callout_member", ["phone"])


def downgrade():
    op.drop_table("callout_member")
    op.drop_table("callout_group")
    op.drop_table("callout")
