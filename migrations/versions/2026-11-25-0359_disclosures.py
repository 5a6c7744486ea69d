"""disclosures

Revision ID: 0004_disclosures
Revises: 0003_permissions
Create Date: 2026-11-25 03:59:04.473504+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_disclosures"
down_revision: str | None = "0003_permissions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


APPEND_ONLY = (
    "access_log, disclosure_log, log_checkpoints, consent_records, consent_receipts, "
    "purpose_versions"
)


def upgrade() -> None:
    op.create_table(
        "disclosure_log",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("disclosed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subject_ref", sa.Uuid(), nullable=False),
        sa.Column("recipient_id", sa.Uuid(), nullable=False),
        sa.Column("recipient_name", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("categories", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("legal_basis", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=True),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("lane", sa.SmallInteger(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disclosure_log")),
    )
    op.create_index(
        "ix_disclosure_log_disclosed_at_id", "disclosure_log", ["disclosed_at", "id"], unique=False
    )
    op.create_index("ix_disclosure_log_lane_id", "disclosure_log", ["lane", "id"], unique=False)
    op.create_index(
        "ix_disclosure_log_recipient_id_disclosed_at",
        "disclosure_log",
        ["recipient_id", "disclosed_at"],
        unique=False,
    )
    op.create_index(
        "ix_disclosure_log_subject_ref_id", "disclosure_log", ["subject_ref", "id"], unique=False
    )
    op.create_table(
        "log_checkpoints",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("log", sa.String(length=32), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("heads", sa.Text(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_checkpoints")),
    )
    op.create_table(
        "recipients",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("business_id", sa.String(length=20), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("in_eu_eea", sa.Boolean(), nullable=False),
        sa.Column("purposes", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("legal_basis", sa.String(length=32), nullable=False),
        sa.Column("contact_name", sa.String(length=200), nullable=True),
        sa.Column("contact_email", sa.String(length=254), nullable=True),
        sa.Column("contact_phone", sa.String(length=20), nullable=True),
        sa.Column("webhook_url", sa.String(length=500), nullable=True),
        sa.Column("webhook_secret", sa.LargeBinary(), nullable=True),
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
            "kind IN ('group_company', 'partner', 'debt_collection_agency', 'authority')",
            name=op.f("ck_recipients_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recipients")),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("recipient_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.CheckConstraint(
            "event IN ('rectification', 'erasure', 'restriction')",
            name=op.f("ck_notifications_event"),
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["recipients.id"],
            name=op.f("fk_notifications_recipient_id_recipients"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notifications_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(
        "ix_notifications_due",
        "notifications",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("sent_at IS NULL AND failed_at IS NULL"),
    )
    op.create_index("ix_notifications_user_id_id", "notifications", ["user_id", "id"], unique=False)
    op.add_column(
        "access_log", sa.Column("lane", sa.SmallInteger(), server_default="0", nullable=False)
    )
    op.add_column(
        "access_log",
        sa.Column("prev_hash", sa.String(length=64), server_default="", nullable=False),
    )
    op.add_column(
        "access_log",
        sa.Column("entry_hash", sa.String(length=64), server_default="", nullable=False),
    )
    op.create_index("ix_access_log_lane_id", "access_log", ["lane", "id"], unique=False)
    op.add_column("clients", sa.Column("recipient_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_clients_recipient_id_recipients"),
        "clients",
        "recipients",
        ["recipient_id"],
        ["id"],
        ondelete="SET NULL",
    )

    for table in ("disclosure_log", "log_checkpoints"):
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION refuse_change_to_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION refuse_change_to_append_only()"
        )
    # The role the service runs as (its login role is a member): it may read and append to the
    # logs and records of proof, never change or remove them.
    op.execute(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'registry_app') "
        "THEN CREATE ROLE registry_app NOLOGIN; END IF; END $$"
    )
    op.execute("GRANT USAGE ON SCHEMA public TO registry_app")
    op.execute(
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO registry_app"
    )
    op.execute("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO registry_app")
    op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {APPEND_ONLY} FROM registry_app")


def downgrade() -> None:
    op.execute("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM registry_app")
    op.execute("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM registry_app")
    op.execute("REVOKE ALL ON SCHEMA public FROM registry_app")
    op.drop_constraint(op.f("fk_clients_recipient_id_recipients"), "clients", type_="foreignkey")
    op.drop_column("clients", "recipient_id")
    op.drop_index("ix_access_log_lane_id", table_name="access_log")
    op.drop_column("access_log", "entry_hash")
    op.drop_column("access_log", "prev_hash")
    op.drop_column("access_log", "lane")
    op.drop_index("ix_notifications_user_id_id", table_name="notifications")
    op.drop_index(
        "ix_notifications_due",
        table_name="notifications",
        postgresql_where=sa.text("sent_at IS NULL AND failed_at IS NULL"),
    )
    op.drop_table("notifications")
    op.drop_table("recipients")
    op.drop_table("log_checkpoints")
    op.drop_index("ix_disclosure_log_subject_ref_id", table_name="disclosure_log")
    op.drop_index("ix_disclosure_log_recipient_id_disclosed_at", table_name="disclosure_log")
    op.drop_index("ix_disclosure_log_lane_id", table_name="disclosure_log")
    op.drop_index("ix_disclosure_log_disclosed_at_id", table_name="disclosure_log")
    op.drop_table("disclosure_log")
