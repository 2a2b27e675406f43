"""Issue 16: official warnings in — incoming CAP alerts, each source's last poll, and the draft campaign's link
to the alert it was made from.

Revision ID: 0025
Revises: 0024
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "incoming_alert",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(64), nullable=False, index=True),
        sa.Column("identifier", sa.Text(), nullable=False),
        sa.Column("sender", sa.Text(), nullable=False),
        sa.Column("sent", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("msg_type", sa.String(8), nullable=False),
        sa.Column("event", sa.Text(), nullable=True),
        sa.Column("severity", sa.String(10), nullable=True),
        sa.Column("urgency", sa.String(10), nullable=True),
        sa.Column("certainty", sa.String(10), nullable=True),
        sa.Column("headline", sa.Text(), nullable=True),
        sa.Column("instruction", sa.Text(), nullable=True),
        sa.Column("onset", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=True),
        sa.Column("area_desc", sa.Text(), nullable=True),
        sa.Column("references", sa.Text(), nullable=True),
        sa.Column("raw_xml", sa.Text(), nullable=False),
        sa.Column(
            "area",
            geoalchemy2.Geometry("MULTIPOLYGON", srid=4326, spatial_index=False),
            nullable=True,
        ),
        sa.Column("zone_ids", postgresql.ARRAY(sa.Integer()), nullable=False, server_default="{}"),
        sa.Column("state", sa.String(10), nullable=False, index=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaign.id", ondelete="SET NULL"), nullable=True),
        sa.Column("follows_id", sa.Integer(), sa.ForeignKey("incoming_alert.id", ondelete="SET NULL"), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.UniqueConstraint("sender", "identifier", name="uq_incoming_alert_sender_identifier"),
    )
    op.create_table(
        "feed_status",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("last_poll_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_ok_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_kind", sa.String(20), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_http_status", sa.Integer(), nullable=True),
        sa.Column("last_duration_ms", sa.Integer(), nullable=True),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("alerts_new", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("documents_refused", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column(
        "campaign",
        sa.Column(
            "source_alert_id",
            sa.Integer(),
            sa.ForeignKey("incoming_alert.id", ondelete="SET NULL", name="fk_campaign_source_alert_id_incoming_alert"),
            nullable=True,
        ),
    )
    op.add_column("campaign", sa.Column("source_reference", sa.Text(), nullable=True))
    op.add_column("campaign", sa.Column("source_follow_up", sa.String(8), nullable=True))


def downgrade():
    op.drop_column("campaign", "source_follow_up")
    op.drop_column("campaign", "source_reference")
    op.drop_column("campaign", "source_alert_id")
    op.drop_table("feed_status")
    op.drop_table("incoming_alert")
