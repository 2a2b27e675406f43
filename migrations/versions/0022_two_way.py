"""Issue 15: two-way alerts — a campaign's question and the replies to it, follow-ups to a slice of an earlier
campaign's recipients, and residents' reports to the city's number.

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade():
    # {"answers": [{"key": "1", "label": {"pl": …, "en": …}, "needs_help": false}, …], "reply_minutes": 720}
    op.add_column("campaign", sa.Column("question", postgresql.JSONB(), nullable=True))
    # Until when replies to the question are tied to this campaign (sent_at + reply_minutes), set at sending.
    op.add_column("campaign", sa.Column("replies_until", sa.DateTime(timezone=True), nullable=True))
    # A follow-up to a slice of reference_id's recipients: "answer:<key>", "no_reply" or "failed".
    op.add_column("campaign", sa.Column("follow_up_to", sa.String(24), nullable=True))

    op.create_table(
        "campaign_reply",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False),
        sa.Column("inbound_id", sa.BigInteger(), nullable=True, unique=True),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("answer", sa.String(2), nullable=True),
        sa.Column("text", sa.Text(), nullable=False, server_default=""),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_campaign_reply_campaign_phone", "campaign_reply", ["campaign_id", "phone"])

    op.create_table(
        "campaign_respondent",
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("phone", sa.String(16), primary_key=True),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("answer", sa.String(2), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_text", sa.Text(), nullable=True),
        sa.Column("last_reply_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replies", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("prompted_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_campaign_respondent_answer", "campaign_respondent", ["campaign_id", "answer"])

    op.create_table(
        "resident_report",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("phone", sa.String(16), nullable=False, index=True),
        sa.Column("subscriber_id", sa.Integer(), sa.ForeignKey("subscriber.id", ondelete="SET NULL"), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(5), nullable=False, server_default="pl"),
        sa.Column("status", sa.String(12), nullable=False, server_default="new", index=True),
        sa.Column("address", sa.String(200), nullable=True),
        sa.Column("location", Geometry("POINT", srid=4326, spatial_index=True), nullable=True),
        sa.Column("location_source", sa.String(12), nullable=False, server_default="none"),
        sa.Column("zone_id", sa.Integer(), sa.ForeignKey("zone.id", ondelete="SET NULL"), nullable=True),
        sa.Column("assignee_id", sa.Integer(), sa.ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True),
        sa.Column("inbound_ids", postgresql.ARRAY(sa.BigInteger()), nullable=False, server_default="{}"),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "resident_report_note",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "report_id",
            sa.Integer(),
            sa.ForeignKey("resident_report.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("author_id", sa.Integer(), sa.ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("resident_report_note")
    op.drop_table("resident_report")
    op.drop_table("campaign_respondent")
    op.drop_table("campaign_reply")
    op.drop_column("campaign", "follow_up_to")
    op.drop_column("campaign", "replies_until")
    op.drop_column("campaign", "question")
