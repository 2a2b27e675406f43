"""A message is charged once per send, not once for ever: "resend to failed" sends it again, and the operator
charges the new send too.

message.send_round counts the resends of a message (0 for the first send); the ledger's unique key for
charges becomes (message_id, send_round), so recording the same results twice still charges once.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("message", sa.Column("send_round", sa.Integer(), server_default="0", nullable=False))
    op.add_column("cost_entry", sa.Column("send_round", sa.Integer(), server_default="0", nullable=False))
    op.drop_index("uq_cost_entry_message_charge", table_name="cost_entry")
    op.create_index(
        "uq_cost_entry_message_charge",
        "cost_entry",
        ["message_id", "send_round"],
        unique=True,
        postgresql_where=sa.text("entry_type = 'charge' AND message_id IS NOT NULL"),
    )


def downgrade():
    op.drop_index("uq_cost_entry_message_charge", table_name="cost_entry")
    op.create_index(
        "uq_cost_entry_message_charge",
        "cost_entry",
        ["message_id"],
        unique=True,
        postgresql_where=sa.text("entry_type = 'charge' AND message_id IS NOT NULL"),
    )
    op.drop_column("cost_entry", "send_round")
    op.drop_column("message", "send_round")
