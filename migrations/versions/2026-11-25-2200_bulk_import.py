"""bulk import: the old register's ids, imported evidence, import runs, password resets

Revision ID: 0012_bulk_import
Revises: 0011_transparency_logs
Create Date: 2026-11-25 22:00:00+00:00

Users, contracts and permission receipts keep the old system's id (``external_id``), so that the
same file imported again changes nothing. A credential may have no password yet (imported users
set theirs through the password-reset flow). Receipts may come from the old register
(``source = 'import'``), with the evidence it had. An import run remembers its file, its progress
by batch and its rejected rows until the reject file is written, so that an interrupted import
resumes where it stopped.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012_bulk_import"
down_revision: str | None = "0011_transparency_logs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECEIPT_SOURCES_BEFORE = ("sign_up_form", "settings_page", "customer_service_call", "letter")
RECEIPT_SOURCES_AFTER = (*RECEIPT_SOURCES_BEFORE, "import")


def upgrade() -> None:
    for table in ("users", "contracts", "consent_receipts"):
        op.add_column(table, sa.Column("external_id", sa.String(100), nullable=True))
        op.create_index(
            f"uq_{table}_external_id",
            table,
            ["external_id"],
            unique=True,
            postgresql_where=sa.text("external_id IS NOT NULL"),
        )
    op.add_column(
        "consent_receipts",
        sa.Column("evidence", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.drop_constraint(op.f("ck_consent_receipts_source"), "consent_receipts", type_="check")
    op.create_check_constraint(
        op.f("ck_consent_receipts_source"),
        "consent_receipts",
        f"source IN {RECEIPT_SOURCES_AFTER}",
    )
    op.alter_column("credentials", "password_hash", nullable=True)

    op.create_table(
        "password_resets",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column(
            "user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_password_resets_user_id", "password_resets", ["user_id"])

    op.create_table(
        "import_runs",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column(
            "started_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("batches_done", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("rows_done", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column(
            "counts", postgresql.JSONB(astext_type=sa.Text()), nullable=False, server_default="{}"
        ),
        sa.CheckConstraint(
            "kind IN ('users', 'permissions', 'contracts', 'billing')",
            name=op.f("ck_import_runs_kind"),
        ),
    )
    op.create_index(
        "uq_import_runs_unfinished",
        "import_runs",
        ["kind", "sha256"],
        unique=True,
        postgresql_where=sa.text("finished_at IS NULL"),
    )
    # The keys a run has seen (a key twice in one file is refused), until the run finishes.
    op.create_table(
        "import_keys",
        sa.Column("run_id", sa.BigInteger(), sa.ForeignKey("import_runs.id", ondelete="CASCADE")),
        sa.Column("key", sa.String(100)),
        sa.Column("row_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "key"),
    )
    # The rejected rows of a run, until its reject file is written.
    op.create_table(
        "import_rejects",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column(
            "run_id",
            sa.BigInteger(),
            sa.ForeignKey("import_runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("row_number", sa.BigInteger(), nullable=False),
        sa.Column("external_id", sa.String(100), nullable=True),
        sa.Column("column_name", sa.String(64), nullable=True),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("detail", sa.String(500), nullable=False),
    )
    op.create_index("ix_import_rejects_run_id_row", "import_rejects", ["run_id", "row_number"])
    op.execute(
        "GRANT SELECT, INSERT, UPDATE, DELETE ON password_resets, import_runs, import_keys, "
        "import_rejects TO registry_app"
    )
    op.execute(
        "GRANT USAGE, SELECT ON SEQUENCE import_runs_id_seq, import_rejects_id_seq TO registry_app"
    )


def downgrade() -> None:
    op.drop_table("import_rejects")
    op.drop_table("import_keys")
    op.drop_table("import_runs")
    op.drop_table("password_resets")
    op.execute("DELETE FROM credentials WHERE password_hash IS NULL")
    op.alter_column("credentials", "password_hash", nullable=False)
    # Imported receipts are append-only proof: a database holding them cannot go back.
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM consent_receipts WHERE source = 'import') THEN "
        "RAISE EXCEPTION 'imported consent receipts exist; they cannot be removed'; END IF; END $$"
    )
    op.drop_constraint(op.f("ck_consent_receipts_source"), "consent_receipts", type_="check")
    op.create_check_constraint(
        op.f("ck_consent_receipts_source"),
        "consent_receipts",
        f"source IN {RECEIPT_SOURCES_BEFORE}",
    )
    op.drop_column("consent_receipts", "evidence")
    for table in ("users", "contracts", "consent_receipts"):
        op.drop_index(f"uq_{table}_external_id", table_name=table)
        op.drop_column(table, "external_id")
