"""SMSC message ids are unique only for a while and per link: no unique constraint, an index for lookup, each
part's submit time, receipts that may name their part, claims that name their job, and the sweeper's log.

Real SMSCs reuse ids (after a restart, when a counter wraps, across a pool of nodes behind one address); the
unique (smsc, smsc_message_id) made the recording of a reused id fail and the campaign stall. A receipt now
goes to the most recent part submitted with its id on its connection (campaigns.delivery._MATCH_RECEIPTS).

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_constraint("uq_message_part_smsc", "message_part", type_="unique")
    # Lookup by id, newest first: the matcher takes the most recent part with a receipt's id.
    op.add_column("message_part", sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE message_part p SET submitted_at = m.submitted_at FROM message m WHERE m.id = p.message_id")
    op.create_index("ix_message_part_smsc_id", "message_part", ["smsc", "smsc_message_id", "submitted_at"])
    # The part a receipt belongs to, when the session that submitted it still knew (its id → part map).
    op.add_column("delivery_receipt", sa.Column("message_id", sa.BigInteger(), nullable=True))
    op.add_column("delivery_receipt", sa.Column("part_no", sa.Integer(), nullable=True))
    # The RQ job holding a claim and since when: the sweeper frees claims whose job no longer runs.
    op.add_column("message", sa.Column("claim_job", sa.String(length=64), nullable=True))
    op.add_column("message", sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
    # The operator's CSV names a reused id once per send: (id, time) is what identifies a line.
    op.drop_constraint("uq_operator_charge_import_id", "operator_charge", type_="unique")
    op.create_unique_constraint(
        "uq_operator_charge_import_id", "operator_charge", ["import_id", "smsc_message_id", "charged_at"]
    )
    op.create_table(
        "claim_rescue",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_rescue")),
    )


def downgrade():
    op.drop_table("claim_rescue")
    op.drop_constraint("uq_operator_charge_import_id", "operator_charge", type_="unique")
    op.create_unique_constraint("uq_operator_charge_import_id", "operator_charge", ["import_id", "smsc_message_id"])
    op.drop_column("message", "claimed_at")
    op.drop_column("message", "claim_job")
    op.drop_column("delivery_receipt", "part_no")
    op.drop_column("delivery_receipt", "message_id")
    op.drop_index("ix_message_part_smsc_id", table_name="message_part")
    op.drop_column("message_part", "submitted_at")
    op.create_unique_constraint("uq_message_part_smsc", "message_part", ["smsc", "smsc_message_id"])
