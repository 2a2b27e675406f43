"""gateway: which SMSC sent a message, who is sending it, possible duplicates; SMSC ids unique per SMSC.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("message", sa.Column("smsc", sa.String(length=32), nullable=True))
    op.add_column("message", sa.Column("claimed_by", sa.String(length=64), nullable=True))
    op.add_column("message", sa.Column("possible_duplicate", sa.Boolean(), server_default="false", nullable=False))
    op.create_index(
        "ix_message_submitting_claim",
        "message",
        ["claimed_by"],
        unique=False,
        postgresql_where=sa.text("status = 'submitting'"),
    )
    op.add_column("message_part", sa.Column("smsc", sa.String(length=32), server_default="", nullable=False))
    op.drop_constraint("uq_message_part_smsc_message_id", "message_part", type_="unique")
    op.create_unique_constraint(op.f("uq_message_part_smsc"), "message_part", ["smsc", "smsc_message_id"])
    op.add_column("delivery_receipt", sa.Column("smsc", sa.String(length=32), server_default="", nullable=False))


def downgrade():
    op.drop_column("delivery_receipt", "smsc")
    op.drop_constraint(op.f("uq_message_part_smsc"), "message_part", type_="unique")
    op.create_unique_constraint("uq_message_part_smsc_message_id", "message_part", ["smsc_message_id"])
    op.drop_column("message_part", "smsc")
    op.drop_index(
        "ix_message_submitting_claim", table_name="message", postgresql_where=sa.text("status = 'submitting'")
    )
    op.drop_column("message", "possible_duplicate")
    op.drop_column("message", "claimed_by")
    op.drop_column("message", "smsc")
