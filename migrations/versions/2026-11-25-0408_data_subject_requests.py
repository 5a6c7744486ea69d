"""data subject requests

Revision ID: 0005_requests
Revises: 0004_disclosures
Create Date: 2026-11-25 04:08:25.987907+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_requests"
down_revision: str | None = "0004_disclosures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "subject_requests",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="received", nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("extended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("extension_reason", sa.Text(), nullable=True),
        sa.Column("identity_verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("identity_verification", sa.String(length=64), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint(
            "channel IN ('web', 'email', 'letter', 'phone', 'in_person')",
            name=op.f("ck_subject_requests_channel"),
        ),
        sa.CheckConstraint(
            "status IN ('received', 'completed', 'rejected')",
            name=op.f("ck_subject_requests_status"),
        ),
        sa.CheckConstraint(
            "type IN ('access', 'portability', 'rectification', 'erasure', 'restriction', 'objection')",
            name=op.f("ck_subject_requests_type"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_subject_requests_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_requests")),
    )
    op.create_index(
        "ix_subject_requests_status_due_on", "subject_requests", ["status", "due_on"], unique=False
    )
    op.create_index("ix_subject_requests_user_id", "subject_requests", ["user_id"], unique=False)
    op.create_table(
        "subject_request_events",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["subject_requests.id"],
            name=op.f("fk_subject_request_events_request_id_subject_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_request_events")),
    )
    op.create_index(
        op.f("ix_subject_request_events_request_id"),
        "subject_request_events",
        ["request_id"],
        unique=False,
    )
    op.add_column("billing_profiles", sa.Column("held_until", sa.Date(), nullable=True))
    op.add_column("collection_cases", sa.Column("held_until", sa.Date(), nullable=True))
    op.add_column("users", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    # Transitions are the DPO's proof: append-only, like the other records of proof.
    op.execute(
        "CREATE TRIGGER subject_request_events_append_only BEFORE UPDATE OR DELETE ON "
        "subject_request_events FOR EACH ROW EXECUTE FUNCTION refuse_change_to_append_only()"
    )
    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON subject_requests TO registry_app")
    op.execute("GRANT SELECT, INSERT ON subject_request_events TO registry_app")
    op.execute("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO registry_app")


def downgrade() -> None:
    op.drop_column("users", "erased_at")
    op.drop_column("collection_cases", "held_until")
    op.drop_column("billing_profiles", "held_until")
    op.drop_index(op.f("ix_subject_request_events_request_id"), table_name="subject_request_events")
    op.drop_table("subject_request_events")
    op.drop_index("ix_subject_requests_user_id", table_name="subject_requests")
    op.drop_index("ix_subject_requests_status_due_on", table_name="subject_requests")
    op.drop_table("subject_requests")
