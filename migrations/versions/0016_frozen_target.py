"""The frozen target (issue 19): what an approver approves is what is sent.

campaign_target_zone holds a copy of each target zone (name, geometry) taken when the campaign is submitted for
approval (or sent/scheduled without approval); campaign.target_code_zone_ids lists the zones whose residents
subscribed by SMS code that target reaches; campaign.target_frozen_at says the copy exists. Campaigns waiting
for approval or for their send time when this revision runs are frozen now, with their zones as they are.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# Campaigns already submitted (or scheduled) but not yet sent: freeze them as their target stands today.
_WAITING = "('pending_approval', 'approved', 'scheduled')"
_FREEZE_ZONES = f"""
INSERT INTO campaign_target_zone (campaign_id, zone_id, name, geom)
SELECT c.id, z.id, z.name, z.geom FROM campaign c
  JOIN campaign_zone cz ON cz.campaign_id = c.id JOIN zone z ON z.id = cz.zone_id
WHERE c.status IN {_WAITING} OR c.snapshot_pending
"""
# The same rule as campaigns.service._CODE_ZONES: a subscribed zone whose interior meets a target's.
_FREEZE_CODE_ZONES = f"""
UPDATE campaign c SET target_frozen_at = now(), target_code_zone_ids = coalesce((
    SELECT array_agg(DISTINCT sz.id ORDER BY sz.id) FROM (
        SELECT f.geom FROM campaign_target_zone f WHERE f.campaign_id = c.id
        UNION ALL SELECT c.area WHERE c.area IS NOT NULL) t
    JOIN zone sz ON ST_Intersects(t.geom, sz.geom) AND ST_Relate(t.geom, sz.geom, 'T********')), '{{}}')
WHERE c.status IN {_WAITING} OR c.snapshot_pending
"""


def upgrade():
    op.create_table(
        "campaign_target_zone",
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("zone_id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("geom", Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False),
    )
    op.add_column("campaign", sa.Column("target_frozen_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("campaign", sa.Column("target_code_zone_ids", ARRAY(sa.Integer), nullable=False, server_default="{}"))
    op.execute(_FREEZE_ZONES)
    op.execute(_FREEZE_CODE_ZONES)


def downgrade():
    op.drop_column("campaign", "target_code_zone_ids")
    op.drop_column("campaign", "target_frozen_at")
    op.drop_table("campaign_target_zone")
