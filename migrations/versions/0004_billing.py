"""billing: the cost ledger and its daily summary, VAT on tariffs, departments on campaigns,
operator CSV imports for reconciliation.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# The summary is kept in the ledger's own transaction, one statement per INSERT (not per row):
# a chunk of 500 charges costs one aggregate upsert. Keys are upserted in order, so two workers
# touching the same keys wait for each other instead of deadlocking.
SUMMARISE = """
CREATE FUNCTION cost_entry_summarise() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO cost_summary AS s (day, kind, campaign_id, zone_id, department, encoding, smsc, tariff_id,
                                   messages, parts, amount)
    SELECT (charged_at AT TIME ZONE 'UTC')::date, kind, campaign_id, zone_id, department, encoding, smsc, tariff_id,
           count(*) FILTER (WHERE entry_type = 'charge'), sum(parts), sum(amount)
    FROM new_entries
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
    ORDER BY 1, 2, 3, 4, 5, 6, 7, 8
    ON CONFLICT (day, kind, campaign_id, zone_id, department, encoding, smsc, tariff_id) DO UPDATE
    SET messages = s.messages + EXCLUDED.messages, parts = s.parts + EXCLUDED.parts,
        amount = s.amount + EXCLUDED.amount;
    RETURN NULL;
END $$;
CREATE TRIGGER cost_entry_summary AFTER INSERT ON cost_entry
    REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT EXECUTE FUNCTION cost_entry_summarise();
"""
APPEND_ONLY = """
CREATE FUNCTION cost_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'cost_entry is append-only: record a correction instead' USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER cost_entry_append_only BEFORE UPDATE OR DELETE ON cost_entry
    FOR EACH ROW EXECUTE FUNCTION cost_entry_append_only();
"""


def upgrade():
    op.add_column(
        "tariff", sa.Column("vat_rate", sa.Numeric(precision=5, scale=4), server_default="0.23", nullable=False)
    )
    op.add_column("tariff", sa.Column("smsc", sa.String(length=32), nullable=True))
    op.drop_constraint("uq_tariff_valid_from", "tariff", type_="unique")
    op.create_index(
        "uq_tariff_smsc_valid_from", "tariff", ["smsc", "valid_from"], unique=True, postgresql_nulls_not_distinct=True
    )
    op.add_column("campaign", sa.Column("department", sa.String(length=80), nullable=True))
    op.create_table(
        "cost_entry",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("charged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entry_type", sa.String(length=12), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("zone_id", sa.Integer(), nullable=True),
        sa.Column("department", sa.String(length=80), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("encoding", sa.String(length=8), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("smsc", sa.String(length=32), nullable=True),
        sa.Column("smsc_message_ids", postgresql.ARRAY(sa.String(length=64)), server_default="{}", nullable=False),
        sa.Column("tariff_id", sa.Integer(), nullable=False),
        sa.Column("price_per_part", sa.Numeric(precision=10, scale=4), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("corrects_id", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["corrects_id"], ["cost_entry.id"], name=op.f("fk_cost_entry_corrects_id_cost_entry"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["tariff_id"], ["tariff.id"], name=op.f("fk_cost_entry_tariff_id_tariff"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cost_entry")),
    )
    op.create_index(op.f("ix_cost_entry_charged_at"), "cost_entry", ["charged_at"], unique=False)
    op.create_index(op.f("ix_cost_entry_campaign_id"), "cost_entry", ["campaign_id"], unique=False)
    op.create_index(
        "uq_cost_entry_message_charge",
        "cost_entry",
        ["message_id"],
        unique=True,
        postgresql_where=sa.text("entry_type = 'charge' AND message_id IS NOT NULL"),
    )
    op.create_table(
        "cost_summary",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("zone_id", sa.Integer(), nullable=True),
        sa.Column("department", sa.String(length=80), nullable=True),
        sa.Column("encoding", sa.String(length=8), nullable=False),
        sa.Column("smsc", sa.String(length=32), nullable=True),
        sa.Column("tariff_id", sa.Integer(), nullable=False),
        sa.Column("messages", sa.BigInteger(), nullable=False),
        sa.Column("parts", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=16, scale=4), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cost_summary")),
    )
    op.create_index(
        "uq_cost_summary_key",
        "cost_summary",
        ["day", "kind", "campaign_id", "zone_id", "department", "encoding", "smsc", "tariff_id"],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )
    op.create_table(
        "reconciliation_import",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_by", sa.Integer(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("total_amount", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.ForeignKeyConstraint(
            ["imported_by"],
            ["app_user.id"],
            name=op.f("fk_reconciliation_import_imported_by_app_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_import")),
    )
    op.create_table(
        "operator_charge",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("smsc_message_id", sa.String(length=64), nullable=False),
        sa.Column("charged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=4), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["reconciliation_import.id"],
            name=op.f("fk_operator_charge_import_id_reconciliation_import"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_charge")),
        sa.UniqueConstraint("import_id", "smsc_message_id", name=op.f("uq_operator_charge_import_id")),
    )
    op.execute(SUMMARISE)
    op.execute(APPEND_ONLY)


def downgrade():
    op.execute("DROP TRIGGER cost_entry_append_only ON cost_entry")
    op.execute("DROP FUNCTION cost_entry_append_only()")
    op.execute("DROP TRIGGER cost_entry_summary ON cost_entry")
    op.execute("DROP FUNCTION cost_entry_summarise()")
    op.drop_table("operator_charge")
    op.drop_table("reconciliation_import")
    op.drop_index("uq_cost_summary_key", table_name="cost_summary")
    op.drop_table("cost_summary")
    op.drop_index("uq_cost_entry_message_charge", table_name="cost_entry")
    op.drop_index(op.f("ix_cost_entry_campaign_id"), table_name="cost_entry")
    op.drop_index(op.f("ix_cost_entry_charged_at"), table_name="cost_entry")
    op.drop_table("cost_entry")
    op.drop_column("campaign", "department")
    op.drop_index("uq_tariff_smsc_valid_from", table_name="tariff")
    op.create_unique_constraint("uq_tariff_valid_from", "tariff", ["valid_from"])
    op.drop_column("tariff", "smsc")
    op.drop_column("tariff", "vat_rate")
