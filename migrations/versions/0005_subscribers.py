"""subscribers: fuzzy address search (pg_trgm, unaccent), verification codes, topics, the suppression list.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    # unaccent() is STABLE (it reads a dictionary), so it cannot be indexed; this wrapper pins the
    # dictionary and may be (searching subscribers' addresses regardless of diacritics).
    op.execute("""
        CREATE OR REPLACE FUNCTION f_unaccent(text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
        AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$
    """)
    op.add_column("address_point", sa.Column("street_key", sa.String(length=120), server_default="", nullable=False))
    op.add_column("address_point", sa.Column("house_key", sa.String(length=20), server_default="", nullable=False))
    op.create_index(
        "ix_address_point_normalised_key_trgm",
        "address_point",
        ["normalised_key"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"normalised_key": "gin_trgm_ops"},
    )
    op.create_table(
        "address_street",
        sa.Column("street_key", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("street_key", name=op.f("pk_address_street")),
    )
    op.create_index(
        "ix_address_street_street_key_trgm",
        "address_street",
        ["street_key"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"street_key": "gin_trgm_ops"},
    )
    op.create_index("ix_address_point_street_house", "address_point", ["street_key", "house_key"], unique=False)

    op.add_column(
        "subscriber", sa.Column("topics", postgresql.ARRAY(sa.String(length=32)), server_default="{}", nullable=False)
    )
    op.add_column("subscriber", sa.Column("unsubscribed_at", sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        "verification_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("request", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_code")),
    )
    op.create_index(op.f("ix_verification_code_phone"), "verification_code", ["phone"], unique=False)
    op.create_table(
        "suppressed_phone",
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("suppressed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("phone_hash", name=op.f("pk_suppressed_phone")),
    )


def downgrade():
    op.drop_table("suppressed_phone")
    op.drop_index(op.f("ix_verification_code_phone"), table_name="verification_code")
    op.drop_table("verification_code")
    op.drop_column("subscriber", "unsubscribed_at")
    op.drop_column("subscriber", "topics")
    op.drop_index("ix_address_point_street_house", table_name="address_point")
    op.drop_index("ix_address_street_street_key_trgm", table_name="address_street")
    op.drop_table("address_street")
    op.drop_index("ix_address_point_normalised_key_trgm", table_name="address_point")
    op.drop_column("address_point", "house_key")
    op.drop_column("address_point", "street_key")
    op.execute("DROP FUNCTION IF EXISTS f_unaccent(text)")
    op.execute("DROP EXTENSION IF EXISTS unaccent")
    op.execute("DROP EXTENSION IF EXISTS pg_trgm")
