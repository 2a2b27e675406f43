"""campaigns: composing, targeting, approval, CAP (issue 6, compose part)

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    add = lambda *a, **k: op.add_column("campaign", sa.Column(*a, **k))  # noqa: E731
    add("variants", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False)
    add("template", sa.Text(), nullable=True)
    add("topic", sa.String(length=32), nullable=True)
    add("urgency", sa.String(length=12), server_default="immediate", nullable=False)
    add("certainty", sa.String(length=12), server_default="observed", nullable=False)
    add("category", sa.String(length=12), server_default="Safety", nullable=False)
    add("event", sa.String(length=120), nullable=True)
    add("sender_id", sa.String(length=16), nullable=True)
    add("validity_minutes", sa.Integer(), server_default="0", nullable=False)
    add("expires_at", sa.DateTime(timezone=True), nullable=True)
    add("flash", sa.Boolean(), server_default="false", nullable=False)
    add("area_spec", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    add("scheduled_for", sa.DateTime(timezone=True), nullable=True)
    add("submitted_at", sa.DateTime(timezone=True), nullable=True)
    add("approved_at", sa.DateTime(timezone=True), nullable=True)
    add("rejection_reason", sa.Text(), nullable=True)
    add("override_reason", sa.Text(), nullable=True)
    add("msg_type", sa.String(length=8), server_default="Alert", nullable=False)
    add("reference_id", sa.Integer(), nullable=True)
    op.create_foreign_key(
        op.f("fk_campaign_reference_id_campaign"), "campaign", "campaign", ["reference_id"], ["id"], ondelete="SET NULL"
    )
    op.create_index(op.f("ix_campaign_scheduled_for"), "campaign", ["scheduled_for"], unique=False)
    op.add_column("message", sa.Column("language", sa.String(length=5), nullable=True))


def downgrade():
    op.drop_column("message", "language")
    op.drop_index(op.f("ix_campaign_scheduled_for"), table_name="campaign")
    op.drop_constraint(op.f("fk_campaign_reference_id_campaign"), "campaign", type_="foreignkey")
    for column in (
        "reference_id",
        "msg_type",
        "override_reason",
        "rejection_reason",
        "approved_at",
        "submitted_at",
        "scheduled_for",
        "area_spec",
        "flash",
        "expires_at",
        "validity_minutes",
        "sender_id",
        "event",
        "category",
        "certainty",
        "urgency",
        "topic",
        "template",
        "variants",
    ):
        op.drop_column("campaign", column)
