"""Issue 18: drop message.cost — the billing ledger (cost_entry) is the only record of what a message cost.

message.cost was written when the SMSC accepted a message, at the general tariff, beside the ledger's entry:
under charge_on = "delivered" (charged on delivery) and with a connection's own tariff the two disagreed, and
nothing read the column. The ledger is immutable and keeps every charge and correction; read it instead.

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_column("message", "cost")


def downgrade():
    # The values are not restored: the ledger holds them (sum of cost_entry.amount per message and send).
    op.add_column("message", sa.Column("cost", sa.Numeric(precision=12, scale=4), nullable=True))
