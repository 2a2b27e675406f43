"""Nearest the danger first (issue 14): where the hazard is, so that the snapshot writes a campaign's messages in
order of distance from it.

campaign.hazard is the point the operator set on the map (optional); campaign.hazard_focus is what distances
are measured from, fixed when the campaign is composed: that point, else the drawn circles' centres and lines.
When it is NULL (zones and drawn polygons without a hazard point, and campaigns composed before this revision)
the snapshot measures from a point inside the target.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("campaign", sa.Column("hazard", Geometry("POINT", srid=4326, spatial_index=False), nullable=True))
    op.add_column(
        "campaign", sa.Column("hazard_focus", Geometry("GEOMETRY", srid=4326, spatial_index=False), nullable=True)
    )


def downgrade():
    op.drop_column("campaign", "hazard_focus")
    op.drop_column("campaign", "hazard")
