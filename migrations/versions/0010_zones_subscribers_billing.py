"""zones, subscribers and billing follow-ups (issues 3, 4, 7)

Revision ID: 0010
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None

# --- zones (issue 3) -----------------------------------------------------------------------------------
# Zone names sort as Polish readers expect (Ł after L, Ś after S), wherever they are ordered.
POLISH = "CREATE COLLATION IF NOT EXISTS polish (provider = icu, locale = 'pl-PL')"
# Each zone cut into pieces of at most 64 vertices: testing a point against a small piece is cheap, and the
# GiST index on the pieces rejects most points by their boxes. Derived from the geometry alone (no counts),
# rebuilt in the same statement as any write of a zone's geometry.
ZONE_PARTS = """
CREATE FUNCTION zone_parts_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.geom IS NOT DISTINCT FROM OLD.geom THEN
            RETURN NULL;
        END IF;
        DELETE FROM zone_part WHERE zone_id = NEW.id;
    END IF;
    INSERT INTO zone_part (zone_id, geom) SELECT NEW.id, ST_Subdivide(NEW.geom, 64);
    RETURN NULL;
END $$;
CREATE TRIGGER zone_parts_refresh AFTER INSERT OR UPDATE OF geom ON zone
    FOR EACH ROW EXECUTE FUNCTION zone_parts_refresh();
"""

# --- billing (issue 7) ---------------------------------------------------------------------------------
# Finance months and days are local ([billing] timezone): the summary is keyed by the local day of the
# time zone billing_calendar names (UTC without a row); billing.reports rebuilds it when the setting changes.
SUMMARISE_LOCAL = """
CREATE OR REPLACE FUNCTION cost_entry_summarise() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO cost_summary AS s (day, kind, campaign_id, zone_id, department, encoding, smsc, tariff_id,
                                   messages, parts, amount)
    SELECT (charged_at AT TIME ZONE coalesce((SELECT timezone FROM billing_calendar WHERE id = 1), 'UTC'))::date,
           kind, campaign_id, zone_id, department, encoding, smsc, tariff_id,
           count(*) FILTER (WHERE entry_type = 'charge'), sum(parts), sum(amount)
    FROM new_entries
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
    ORDER BY 1, 2, 3, 4, 5, 6, 7, 8
    ON CONFLICT (day, kind, campaign_id, zone_id, department, encoding, smsc, tariff_id) DO UPDATE
    SET messages = s.messages + EXCLUDED.messages, parts = s.parts + EXCLUDED.parts,
        amount = s.amount + EXCLUDED.amount;
    RETURN NULL;
END $$;
"""
SUMMARISE_UTC = SUMMARISE_LOCAL.replace(
    "coalesce((SELECT timezone FROM billing_calendar WHERE id = 1), 'UTC')", "'UTC'"
)
REBUILD_SUMMARY = """
DELETE FROM cost_summary;
INSERT INTO cost_summary (day, kind, campaign_id, zone_id, department, encoding, smsc, tariff_id, messages, parts,
                          amount)
SELECT (charged_at AT TIME ZONE {tz})::date, kind, campaign_id, zone_id, department, encoding, smsc, tariff_id,
       count(*) FILTER (WHERE entry_type = 'charge'), sum(parts), sum(amount)
FROM cost_entry GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
"""


def upgrade():
    # zones (issue 3)
    op.execute(POLISH)
    op.alter_column(
        "zone",
        "name",
        type_=sa.String(length=120, collation="polish"),
        existing_type=sa.String(length=120),
        existing_nullable=False,
    )
    op.create_table(
        "zone_part",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("geom", Geometry(geometry_type="POLYGON", srid=4326, spatial_index=False), nullable=False),
        sa.ForeignKeyConstraint(["zone_id"], ["zone.id"], name=op.f("fk_zone_part_zone_id_zone"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zone_part")),
    )
    op.create_index(op.f("ix_zone_part_zone_id"), "zone_part", ["zone_id"], unique=False)
    op.create_index("idx_zone_part_geom", "zone_part", ["geom"], unique=False, postgresql_using="gist")
    op.execute(ZONE_PARTS)
    op.execute("INSERT INTO zone_part (zone_id, geom) SELECT id, ST_Subdivide(geom, 64) FROM zone")
    # billing (issue 7)
    op.create_table(
        "billing_calendar",
        sa.Column("id", sa.SmallInteger(), server_default="1", nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_billing_calendar_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_calendar")),
    )
    op.execute("INSERT INTO billing_calendar (id, timezone) VALUES (1, 'Europe/Warsaw')")
    op.create_index(op.f("ix_cost_summary_campaign_id"), "cost_summary", ["campaign_id"], unique=False)
    op.execute(SUMMARISE_LOCAL)
    op.execute(REBUILD_SUMMARY.format(tz="'Europe/Warsaw'"))
    # --- subscribers (issue 4) below ---
    # The numbered candidates of an ambiguous address SMS, until the resident texts a number back.
    op.create_table(
        "address_choice",
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("candidates", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("phone", name=op.f("pk_address_choice")),
    )
    op.create_index(op.f("ix_address_choice_expires_at"), "address_choice", ["expires_at"], unique=False)


def downgrade():
    # --- subscribers (issue 4) above ---
    op.drop_index(op.f("ix_address_choice_expires_at"), table_name="address_choice")
    op.drop_table("address_choice")
    # billing (issue 7)
    op.execute(SUMMARISE_UTC)
    op.execute(REBUILD_SUMMARY.format(tz="'UTC'"))
    op.drop_index(op.f("ix_cost_summary_campaign_id"), table_name="cost_summary")
    op.drop_table("billing_calendar")
    # zones (issue 3)
    op.execute("DROP TRIGGER zone_parts_refresh ON zone")
    op.execute("DROP FUNCTION zone_parts_refresh()")
    op.drop_index("idx_zone_part_geom", table_name="zone_part", postgresql_using="gist")
    op.drop_index(op.f("ix_zone_part_zone_id"), table_name="zone_part")
    op.drop_table("zone_part")
    op.alter_column(
        "zone",
        "name",
        type_=sa.String(length=120),
        existing_type=sa.String(length=120, collation="polish"),
        existing_nullable=False,
    )
