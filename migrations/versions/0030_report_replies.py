"""Residents' reports: the state of an SMS reply sent from the inbox (queued → sending → sent | failed), so the
thread shows whether the resident's phone was reached.

Revision ID: 0030
Revises: 0025
"""

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade():
    # NULL for internal notes; a reply is "queued" when written, "sending" once a worker took it (never sent twice),
    # then "sent" (the SMSC accepted it, charged in the ledger) or "failed" (sms_error says why).
    op.add_column("resident_report_note", sa.Column("sms_status", sa.String(12), nullable=True))
    op.add_column("resident_report_note", sa.Column("sms_error", sa.String(64), nullable=True))
    op.add_column("resident_report_note", sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    op.drop_column("resident_report_note", "sent_at")
    op.drop_column("resident_report_note", "sms_error")
    op.drop_column("resident_report_note", "sms_status")
