"""Core tables: zones, subscribers and locations, campaigns, messages and their parts,
receipts, inbound SMS, tariffs, users, API tokens, audit log; PostGIS itself.

Revision ID: 5c48882fd92a
Revises:
Create Date: 2026-11-29 00:31:24.039509

"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "5c48882fd92a"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_geospatial_table(
        "address_point",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("street", sa.String(length=120), nullable=False),
        sa.Column("house_number", sa.String(length=20), nullable=False),
        sa.Column("postcode", sa.String(length=6), nullable=True),
        sa.Column("city", sa.String(length=60), nullable=False),
        sa.Column("normalised_key", sa.String(length=200), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_address_point")),
    )
    op.create_geospatial_index(
        "idx_address_point_geom", "address_point", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    op.create_index(op.f("ix_address_point_normalised_key"), "address_point", ["normalised_key"], unique=False)
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("email", name=op.f("uq_app_user_email")),
    )
    op.create_table(
        "delivery_receipt",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("smsc_message_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("error_code", sa.String(length=8), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_receipt")),
    )
    op.create_index(
        "ix_delivery_receipt_unmatched",
        "delivery_receipt",
        ["smsc_message_id"],
        unique=False,
        postgresql_where=sa.text("matched_at IS NULL"),
    )
    op.create_table(
        "inbound_message",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_addr", sa.String(length=21), nullable=False),
        sa.Column("destination_addr", sa.String(length=21), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("data_coding", sa.Integer(), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_message")),
    )
    op.create_table(
        "subscriber",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("consent_version", sa.String(length=32), nullable=True),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriber")),
        sa.UniqueConstraint("phone", name=op.f("uq_subscriber_phone")),
    )
    op.create_index(op.f("ix_subscriber_status"), "subscriber", ["status"], unique=False)
    op.create_table(
        "tariff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("price_per_part", sa.Numeric(precision=10, scale=4), nullable=False),
        sa.Column("monthly_fee", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("setup_fee", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tariff")),
        sa.UniqueConstraint("valid_from", name=op.f("uq_tariff_valid_from")),
    )
    op.create_geospatial_table(
        "zone",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("sms_code", sa.String(length=16), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zone")),
        sa.UniqueConstraint("slug", name=op.f("uq_zone_slug")),
        sa.UniqueConstraint("sms_code", name=op.f("uq_zone_sms_code")),
    )
    op.create_geospatial_index(
        "idx_zone_geom", "zone", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked", sa.Boolean(), server_default="false", nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_api_token_user_id_app_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_token_token_hash")),
    )
    op.create_index(op.f("ix_api_token_user_id"), "api_token", ["user_id"], unique=False)
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=True),
        sa.Column("object_id", sa.String(length=64), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["app_user.id"], name=op.f("fk_audit_log_actor_id_app_user"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_geospatial_table(
        "campaign",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column(
            "area",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("approver_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recipients", sa.Integer(), nullable=True),
        sa.Column("encoding", sa.String(length=8), nullable=True),
        sa.Column("parts_per_message", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["approver_id"], ["app_user.id"], name=op.f("fk_campaign_approver_id_app_user"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["app_user.id"], name=op.f("fk_campaign_author_id_app_user"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign")),
    )
    op.create_geospatial_index(
        "idx_campaign_area", "campaign", ["area"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    op.create_index(op.f("ix_campaign_status"), "campaign", ["status"], unique=False)
    op.create_geospatial_table(
        "subscriber_location",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=40), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("zone_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscriber.id"],
            name=op.f("fk_subscriber_location_subscriber_id_subscriber"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["zone.id"], name=op.f("fk_subscriber_location_zone_id_zone"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriber_location")),
    )
    op.create_geospatial_index(
        "idx_subscriber_location_geom",
        "subscriber_location",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("ix_subscriber_location_subscriber_id"), "subscriber_location", ["subscriber_id"], unique=False
    )
    op.create_index(op.f("ix_subscriber_location_zone_id"), "subscriber_location", ["zone_id"], unique=False)
    op.create_table(
        "campaign_zone",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_campaign_zone_campaign_id_campaign"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["zone.id"], name=op.f("fk_campaign_zone_zone_id_zone"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("campaign_id", "zone_id", name=op.f("pk_campaign_zone")),
    )
    op.create_table(
        "message",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=True),
        sa.Column("encoding", sa.String(length=8), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=80), nullable=True),
        sa.Column("cost", sa.Numeric(precision=12, scale=4), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_message_campaign_id_campaign"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"], ["subscriber.id"], name=op.f("fk_message_subscriber_id_subscriber"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message")),
        sa.UniqueConstraint("campaign_id", "subscriber_id", name=op.f("uq_message_campaign_id")),
    )
    op.create_index("ix_message_campaign_status", "message", ["campaign_id", "status"], unique=False)
    op.create_table(
        "message_part",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("part_no", sa.Integer(), nullable=False),
        sa.Column("smsc_message_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("receipt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"], ["message.id"], name=op.f("fk_message_part_message_id_message"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_part")),
        sa.UniqueConstraint("smsc_message_id", name=op.f("uq_message_part_smsc_message_id")),
    )
    op.create_index(op.f("ix_message_part_message_id"), "message_part", ["message_id"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_message_part_message_id"), table_name="message_part")
    op.drop_table("message_part")
    op.drop_index("ix_message_campaign_status", table_name="message")
    op.drop_table("message")
    op.drop_table("campaign_zone")
    op.drop_index(op.f("ix_subscriber_location_zone_id"), table_name="subscriber_location")
    op.drop_index(op.f("ix_subscriber_location_subscriber_id"), table_name="subscriber_location")
    op.drop_geospatial_index(
        "idx_subscriber_location_geom", table_name="subscriber_location", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("subscriber_location")
    op.drop_index(op.f("ix_campaign_status"), table_name="campaign")
    op.drop_geospatial_index("idx_campaign_area", table_name="campaign", postgresql_using="gist", column_name="area")
    op.drop_geospatial_table("campaign")
    op.drop_table("audit_log")
    op.drop_index(op.f("ix_api_token_user_id"), table_name="api_token")
    op.drop_table("api_token")
    op.drop_geospatial_index("idx_zone_geom", table_name="zone", postgresql_using="gist", column_name="geom")
    op.drop_geospatial_table("zone")
    op.drop_table("tariff")
    op.drop_index(op.f("ix_subscriber_status"), table_name="subscriber")
    op.drop_table("subscriber")
    op.drop_table("inbound_message")
    op.drop_index(
        "ix_delivery_receipt_unmatched", table_name="delivery_receipt", postgresql_where=sa.text("matched_at IS NULL")
    )
    op.drop_table("delivery_receipt")
    op.drop_table("app_user")
    op.drop_index(op.f("ix_address_point_normalised_key"), table_name="address_point")
    op.drop_geospatial_index(
        "idx_address_point_geom", table_name="address_point", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("address_point")
