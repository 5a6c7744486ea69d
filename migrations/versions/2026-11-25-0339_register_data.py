"""register data

Revision ID: 0002_register_data
Revises: 0001_users_auth
Create Date: 2026-11-25 03:39:31.451690+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_register_data"
down_revision: str | None = "0001_users_auth"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


APPEND_ONLY_FUNCTION = """
CREATE FUNCTION refuse_change_to_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "access_log",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column(
            "accessed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("subject_ref", sa.Uuid(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("categories", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("operation", sa.String(length=100), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_log")),
    )
    op.create_index(
        "ix_access_log_subject_ref_id", "access_log", ["subject_ref", "id"], unique=False
    )
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column(
            "properties",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", "occurred_at", name=op.f("pk_events")),
        postgresql_partition_by="RANGE (occurred_at)",
    )
    op.create_index(
        "ix_events_user_id_occurred_at_id", "events", ["user_id", "occurred_at", "id"], unique=False
    )
    op.create_table(
        "rate_windows",
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("key", "window_start", name=op.f("pk_rate_windows")),
    )
    op.create_table(
        "register_updates",
        sa.Column("update_id", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("changed_fields", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "applied_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "details", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.PrimaryKeyConstraint("update_id", name=op.f("pk_register_updates")),
    )
    op.create_table(
        "billing_profiles",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("street", sa.String(length=200), nullable=True),
        sa.Column("postal_code", sa.String(length=16), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("e_invoice_address", sa.String(length=100), nullable=True),
        sa.Column("payment_method_reference", sa.String(length=100), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_billing_profiles_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_billing_profiles")),
    )
    op.create_table(
        "collection_cases",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("referred_on", sa.Date(), nullable=False),
        sa.Column("agency", sa.String(length=200), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(status = 'open') = (closed_on IS NULL)",
            name=op.f("ck_collection_cases_closed_on_iff_not_open"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'paid', 'cancelled', 'written_off')",
            name=op.f("ck_collection_cases_status"),
        ),
        sa.CheckConstraint(
            "amount_cents >= 0", name=op.f("ck_collection_cases_amount_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_collection_cases_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collection_cases")),
    )
    op.create_index(
        "ix_collection_cases_user_id_referred_on",
        "collection_cases",
        ["user_id", "referred_on"],
        unique=False,
    )
    op.create_table(
        "contracts",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("product", sa.String(length=200), nullable=False),
        sa.Column("seller", sa.String(length=200), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("terminated_on", sa.Date(), nullable=True),
        sa.Column(
            "communication",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "terminated_on IS NULL OR terminated_on >= opened_on",
            name=op.f("ck_contracts_terminated_after_opened"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_contracts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contracts")),
    )
    op.create_index(
        "ix_contracts_user_id_opened_on", "contracts", ["user_id", "opened_on"], unique=False
    )
    op.create_table(
        "identity_codes",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("lookup_hash", sa.String(length=64), nullable=False),
        sa.Column("masked", sa.String(length=11), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column(
            "verified_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_identity_codes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_identity_codes")),
        sa.UniqueConstraint("lookup_hash", name=op.f("uq_identity_codes_lookup_hash")),
    )
    op.create_table(
        "interests",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_interests_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interests")),
    )
    op.create_index(
        "uq_interests_user_id_topic",
        "interests",
        ["user_id", sa.literal_column("lower(topic)")],
        unique=True,
    )
    op.create_table(
        "user_changes",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column(
            "changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("fields", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("changes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("update_id", sa.String(length=128), nullable=True),
        sa.CheckConstraint(
            "source IN ('subject', 'staff', 'dvv', 'posti', 'import')",
            name=op.f("ck_user_changes_source"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_changes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_changes")),
    )
    op.create_index("ix_user_changes_user_id_id", "user_changes", ["user_id", "id"], unique=False)
    op.add_column(
        "users",
        sa.Column(
            "subject_ref", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False
        ),
    )
    op.add_column(
        "users", sa.Column("language", sa.String(length=2), server_default="fi", nullable=False)
    )
    op.add_column("users", sa.Column("first_name", sa.String(length=100), nullable=True))
    op.add_column("users", sa.Column("last_name", sa.String(length=100), nullable=True))
    op.add_column("users", sa.Column("birth_date", sa.Date(), nullable=True))
    op.add_column("users", sa.Column("company_name", sa.String(length=200), nullable=True))
    op.add_column("users", sa.Column("business_id", sa.String(length=9), nullable=True))
    op.add_column("users", sa.Column("contact_name", sa.String(length=200), nullable=True))
    op.add_column("users", sa.Column("e_invoice_address", sa.String(length=100), nullable=True))
    op.add_column("users", sa.Column("street", sa.String(length=200), nullable=True))
    op.add_column("users", sa.Column("postal_code", sa.String(length=16), nullable=True))
    op.add_column("users", sa.Column("city", sa.String(length=100), nullable=True))
    op.add_column("users", sa.Column("country", sa.String(length=2), nullable=True))
    op.add_column("users", sa.Column("phone", sa.String(length=20), nullable=True))
    op.add_column("users", sa.Column("email", sa.String(length=254), nullable=True))
    op.add_column("users", sa.Column("deceased_on", sa.Date(), nullable=True))
    op.add_column("users", sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_users_company_name_lower",
        "users",
        [sa.literal_column("lower(company_name)")],
        unique=False,
        postgresql_ops={"lower(company_name)": "text_pattern_ops"},
    )
    op.create_index("ix_users_created_at_id", "users", ["created_at", "id"], unique=False)
    op.create_index(
        "ix_users_email_lower", "users", [sa.literal_column("lower(email)")], unique=False
    )
    op.create_index(
        "ix_users_last_name_lower",
        "users",
        [sa.literal_column("lower(last_name)")],
        unique=False,
        postgresql_ops={"lower(last_name)": "text_pattern_ops"},
    )
    op.create_index(
        "uq_users_business_id",
        "users",
        ["business_id"],
        unique=True,
        postgresql_where=sa.text("business_id IS NOT NULL"),
    )
    op.create_unique_constraint(op.f("uq_users_subject_ref"), "users", ["subject_ref"])
    op.create_check_constraint(op.f("ck_users_language"), "users", "language IN ('fi', 'sv', 'en')")
    op.create_check_constraint(
        op.f("ck_users_company_has_business_id"),
        "users",
        "status = 'erased' OR kind <> 'company' OR business_id IS NOT NULL",
    )
    # The access log is append-only: the database itself refuses to change or remove entries.
    op.execute(APPEND_ONLY_FUNCTION)
    for event in ("UPDATE OR DELETE", "TRUNCATE"):
        level = "ROW" if event != "TRUNCATE" else "STATEMENT"
        op.execute(
            f"CREATE TRIGGER access_log_append_only_{event.split()[0].lower()} BEFORE {event} "
            f"ON access_log FOR EACH {level} EXECUTE FUNCTION refuse_change_to_append_only()"
        )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS access_log_append_only_update ON access_log")
    op.execute("DROP TRIGGER IF EXISTS access_log_append_only_truncate ON access_log")
    op.execute("DROP FUNCTION IF EXISTS refuse_change_to_append_only()")
    op.drop_constraint(op.f("ck_users_company_has_business_id"), "users", type_="check")
    op.drop_constraint(op.f("ck_users_language"), "users", type_="check")
    op.drop_constraint(op.f("uq_users_subject_ref"), "users", type_="unique")
    op.drop_index(
        "uq_users_business_id",
        table_name="users",
        postgresql_where=sa.text("business_id IS NOT NULL"),
    )
    op.drop_index(
        "ix_users_last_name_lower",
        table_name="users",
        postgresql_ops={"lower(last_name)": "text_pattern_ops"},
    )
    op.drop_index("ix_users_email_lower", table_name="users")
    op.drop_index("ix_users_created_at_id", table_name="users")
    op.drop_index(
        "ix_users_company_name_lower",
        table_name="users",
        postgresql_ops={"lower(company_name)": "text_pattern_ops"},
    )
    op.drop_column("users", "closed_at")
    op.drop_column("users", "deceased_on")
    op.drop_column("users", "email")
    op.drop_column("users", "phone")
    op.drop_column("users", "country")
    op.drop_column("users", "city")
    op.drop_column("users", "postal_code")
    op.drop_column("users", "street")
    op.drop_column("users", "e_invoice_address")
    op.drop_column("users", "contact_name")
    op.drop_column("users", "business_id")
    op.drop_column("users", "company_name")
    op.drop_column("users", "birth_date")
    op.drop_column("users", "last_name")
    op.drop_column("users", "first_name")
    op.drop_column("users", "language")
    op.drop_column("users", "subject_ref")
    op.drop_index("ix_user_changes_user_id_id", table_name="user_changes")
    op.drop_table("user_changes")
    op.drop_index("uq_interests_user_id_topic", table_name="interests")
    op.drop_table("interests")
    op.drop_table("identity_codes")
    op.drop_index("ix_contracts_user_id_opened_on", table_name="contracts")
    op.drop_table("contracts")
    op.drop_index("ix_collection_cases_user_id_referred_on", table_name="collection_cases")
    op.drop_table("collection_cases")
    op.drop_table("billing_profiles")
    op.drop_table("register_updates")
    op.drop_table("rate_windows")
    op.drop_index("ix_events_user_id_occurred_at_id", table_name="events")
    op.drop_table("events")
    op.drop_index("ix_access_log_subject_ref_id", table_name="access_log")
    op.drop_table("access_log")
