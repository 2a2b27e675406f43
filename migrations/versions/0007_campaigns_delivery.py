"""campaigns: delivery control, retries, pause/cancel (issue 6, delivery part)

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    # A temporarily failed message waits in `queued` until retry_at (back-off between attempts).
    op.add_column("message", sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    op.drop_column("message", "retry_at")
