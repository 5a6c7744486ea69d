"""the law in the rules: purpose taxonomy, material versions, transfer bases, update ids per
source, subject notices

Revision ID: 0007_law_in_rules
Revises: 0006_least_privilege
Create Date: 2026-11-25 16:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007_law_in_rules"
down_revision: str | None = "0006_least_privilege"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAMES = {
    "customer_relationship": (
        "Asiakassuhteen hoitaminen ja ylläpito",
        "Skötsel och upprätthållande av kundförhållandet",
    ),
    "billing": ("Laskutus ja kirjanpito", "Fakturering och bokföring"),
    "customer_letters": ("Asiakaskirjeet ja tiedotteet", "Kundbrev och meddelanden"),
    "direct_marketing": (
        "Mezzoforte Oy:n suoramarkkinointi",
        "Mezzoforte Oy:s direktmarknadsföring",
    ),
    "group_direct_marketing": (
        "Mezzoforte Oy:n konserniyhtiöiden suoramarkkinointi",
        "Direktmarknadsföring av Mezzoforte Oy:s koncernbolag",
    ),
    "distance_selling": ("Etämyynti", "Distansförsäljning"),
    "market_research": ("Markkinointitutkimukset", "Marknadsundersökningar"),
    "analytics": ("Tapahtuma- ja käyttäjäanalytiikka", "Händelse- och användaranalys"),
}


def upgrade() -> None:
    op.add_column(
        "purposes",
        sa.Column("direct_marketing", sa.Boolean(), server_default="false", nullable=False),
    )
    op.add_column("purposes", sa.Column("name_fi", sa.String(length=200), nullable=True))
    op.add_column("purposes", sa.Column("name_sv", sa.String(length=200), nullable=True))
    op.add_column(
        "purposes", sa.Column("material_version", sa.Integer(), server_default="1", nullable=False)
    )
    op.execute("UPDATE purposes SET direct_marketing = (category = 'marketing')")
    # An objection to direct marketing covers every direct-marketing purpose (Art. 21(2)-(3)).
    # Objections stored before this revision covered one purpose: each person's newest one now
    # covers them all, as a newer decision than anything it overrides.
    op.execute(
        """
        INSERT INTO consent_states
            (user_id, purpose_code, channel, decision, record_id, purpose_version, decided_at)
        SELECT o.user_id, p.code, '*', 'prohibited', o.record_id, p.current_version, o.decided_at
        FROM (
            SELECT DISTINCT ON (s.user_id) s.user_id, s.record_id, s.decided_at
            FROM consent_states s JOIN purposes dm ON dm.code = s.purpose_code
            WHERE dm.direct_marketing AND s.channel = '*' AND s.decision = 'prohibited'
            ORDER BY s.user_id, s.record_id DESC
        ) o
        CROSS JOIN purposes p
        WHERE p.direct_marketing
        ON CONFLICT (user_id, purpose_code, channel) DO UPDATE
        SET decision = 'prohibited', record_id = EXCLUDED.record_id,
            decided_at = EXCLUDED.decided_at
        WHERE consent_states.record_id < EXCLUDED.record_id
        """
    )
    for code, (name_fi, name_sv) in NAMES.items():
        op.execute(
            sa.text(
                "UPDATE purposes SET name_fi = :fi, name_sv = :sv WHERE code = :code"
            ).bindparams(fi=name_fi, sv=name_sv, code=code)
        )
    op.execute(
        "UPDATE purposes SET name_fi = coalesce(name_fi, name_en), name_sv = coalesce(name_sv, name_en)"
    )
    op.alter_column("purposes", "name_fi", nullable=False)
    op.alter_column("purposes", "name_sv", nullable=False)
    op.add_column(
        "purpose_versions",
        sa.Column("material", sa.Boolean(), server_default="true", nullable=False),
    )

    op.add_column(
        "disclosure_log", sa.Column("transfer_basis", sa.String(length=64), nullable=True)
    )

    op.drop_constraint(op.f("pk_register_updates"), "register_updates", type_="primary")
    op.create_primary_key(op.f("pk_register_updates"), "register_updates", ["source", "update_id"])

    op.create_table(
        "subject_notices",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "details", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
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
            "kind IN ('restriction_lifted', 'request_extended')",
            name=op.f("ck_subject_notices_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_subject_notices_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_notices")),
    )
    op.create_index("ix_subject_notices_user_id_id", "subject_notices", ["user_id", "id"])
    op.create_index(
        "ix_subject_notices_due",
        "subject_notices",
        ["next_attempt_at"],
        postgresql_where=sa.text("sent_at IS NULL AND failed_at IS NULL"),
    )
    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON subject_notices TO registry_app")
    op.execute("GRANT USAGE, SELECT ON SEQUENCE subject_notices_id_seq TO registry_app")


def downgrade() -> None:
    op.drop_index("ix_subject_notices_due", table_name="subject_notices")
    op.drop_index("ix_subject_notices_user_id_id", table_name="subject_notices")
    op.drop_table("subject_notices")
    op.drop_constraint(op.f("pk_register_updates"), "register_updates", type_="primary")
    op.create_primary_key(op.f("pk_register_updates"), "register_updates", ["update_id"])
    op.drop_column("disclosure_log", "transfer_basis")
    op.drop_column("purpose_versions", "material")
    op.drop_column("purposes", "material_version")
    op.drop_column("purposes", "name_sv")
    op.drop_column("purposes", "name_fi")
    op.drop_column("purposes", "direct_marketing")
