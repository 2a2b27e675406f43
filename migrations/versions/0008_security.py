"""security: append-only audit log, account hardening (issue 8)

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("app_user", sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False))
    op.add_column("app_user", sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("app_user", sa.Column("totp_secret", sa.String(length=64), nullable=True))
    op.add_column("app_user", sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.add_column("app_user", sa.Column("session_generation", sa.Integer(), server_default="0", nullable=False))

    op.add_column("api_token", sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("api_token", sa.Column("role", sa.String(length=16), nullable=True))
    op.add_column("api_token", sa.Column("label", sa.String(length=80), nullable=True))
    op.add_column("api_token", sa.Column("prefix", sa.String(length=8), nullable=True))

    op.add_column("audit_log", sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column("audit_log", sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column("audit_log", sa.Column("remote_addr", sa.String(length=64), nullable=True))
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_action", "audit_log", ["action"])
    op.create_index("ix_audit_log_object", "audit_log", ["object_type", "object_id"])

    # Append-only, enforced by the database itself: not even the application's own role can rewrite history.
    # (TRUNCATE is a table-level privilege matter, not a row change; tests use it to start empty.)
    op.execute("""
        CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
        END $$;
    """)
    op.execute("""
        CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
    """)


def downgrade():
    op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
    op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    op.drop_index("ix_audit_log_object", table_name="audit_log")
    op.drop_index("ix_audit_log_action", table_name="audit_log")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    for column in ("remote_addr", "after", "before"):
        op.drop_column("audit_log", column)
    for column in ("prefix", "label", "role", "revoked_at"):
        op.drop_column("api_token", column)
    for column in ("session_generation", "totp_last_step", "totp_secret", "locked_until", "failed_logins"):
        op.drop_column("app_user", column)
