"""zones: `sms_code` becomes `code`; colour, description, updated_at; delete archives (archived_at);
names unique among live zones.

Revision ID: 0002
Revises: 5c48882fd92a
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "5c48882fd92a"
branch_labels = None
depends_on = None


def upgrade():
    op.alter_column("zone", "sms_code", new_column_name="code")
    op.execute("ALTER TABLE zone RENAME CONSTRAINT uq_zone_sms_code TO uq_zone_code")
    op.add_column("zone", sa.Column("colour", sa.String(length=7), server_default="#d7263d", nullable=False))
    op.add_column("zone", sa.Column("description", sa.Text(), nullable=True))
    op.add_column("zone", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("zone", sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(op.f("ix_zone_archived_at"), "zone", ["archived_at"], unique=False)
    op.create_index("uq_zone_name_live", "zone", ["name"], unique=True, postgresql_where=sa.text("archived_at IS NULL"))


def downgrade():
    op.drop_index("uq_zone_name_live", table_name="zone", postgresql_where=sa.text("archived_at IS NULL"))
    op.drop_index(op.f("ix_zone_archived_at"), table_name="zone")
    op.drop_column("zone", "archived_at")
    op.drop_column("zone", "updated_at")
    op.drop_column("zone", "description")
    op.drop_column("zone", "colour")
    op.execute("ALTER TABLE zone RENAME CONSTRAINT uq_zone_code TO uq_zone_sms_code")
    op.alter_column("zone", "code", new_column_name="sms_code")
