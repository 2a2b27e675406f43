"""Issue 16: the hazard template library — templates with a stable id, their versions (texts per language, CAP
defaults, an optional question, a suggested area kind, pre-approval), and the campaign's link to the version it
was made from. The shipped templates are written by campaigns.templates.ensure_shipped on first use (like the
configured tariff): a database emptied by the tests gets them back the same way.

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "alert_template",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("hazard", sa.String(32), nullable=False),
        sa.Column("shipped", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("archived_by", sa.Integer(), sa.ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True),
        sa.UniqueConstraint("shipped", name=op.f("uq_alert_template_shipped")),
    )
    op.create_index(op.f("ix_alert_template_hazard"), "alert_template", ["hazard"])
    op.create_table(
        "alert_template_version",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("template_id", sa.Integer(), sa.ForeignKey("alert_template.id", ondelete="CASCADE"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("texts", postgresql.JSONB(), nullable=False),
        sa.Column("cap", postgresql.JSONB(), nullable=False),
        sa.Column("question", postgresql.JSONB(), nullable=True),
        sa.Column("area_kind", sa.String(16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True),
        sa.Column("preapproved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("preapproved_by", sa.Integer(), sa.ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True),
        sa.UniqueConstraint("template_id", "version", name=op.f("uq_alert_template_version_template_id")),
    )
    op.add_column(
        "campaign",
        sa.Column(
            "template_version_id",
            sa.Integer(),
            sa.ForeignKey("alert_template_version.id", ondelete="SET NULL"),
            nullable=True,
        ),
    )
    op.add_column("campaign", sa.Column("template_texts", postgresql.JSONB(), nullable=True))


def downgrade():
    op.drop_column("campaign", "template_texts")
    op.drop_column("campaign", "template_version_id")
    op.drop_table("alert_template_version")
    op.drop_index(op.f("ix_alert_template_hazard"), table_name="alert_template")
    op.drop_table("alert_template")
