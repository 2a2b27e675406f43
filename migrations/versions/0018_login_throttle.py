"""Login throttling by (account, address) instead of locking the account (issue 19 #9).

A hard lock after five wrong passwords let anyone lock every approver out during an emergency, and only
real accounts answered "locked". Failures are now counted per typed e-mail address and client address: an
attacker's address waits longer and longer, the real user logs in from another one, and an unknown address
is throttled exactly like a real one.

Revision ID: 0018
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "login_throttle",
        sa.Column("account", sa.String(254), primary_key=True),  # the e-mail as typed (lower-cased)
        sa.Column("address", sa.String(64), primary_key=True),  # the client's IP (IPv6: its /64)
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True)),
    )
    # Old rows are swept by age on every failure.
    op.create_index("ix_login_throttle_last_failure_at", "login_throttle", ["last_failure_at"])
    # Account locks are gone: nobody stays locked out by an old one.
    op.execute("UPDATE app_user SET locked_until = NULL, failed_logins = 0")


def downgrade():
    op.drop_index("ix_login_throttle_last_failure_at", table_name="login_throttle")
    op.drop_table("login_throttle")
