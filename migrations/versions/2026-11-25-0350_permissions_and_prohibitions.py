"""permissions and prohibitions

Revision ID: 0003_permissions
Revises: 0002_register_data
Create Date: 2026-11-25 03:50:55.289003+00:00
"""

import hashlib
import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_permissions"
down_revision: str | None = "0002_register_data"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The register description's purposes (sections 4 and 7), with their first notices. Static data:
# later changes go through the API and make new versions.
PURPOSES = [
    {
        "code": "customer_relationship",
        "name_en": "Managing and maintaining the customer relationship",
        "category": "service",
        "legal_basis": "contract",
        "channels": [],
        "group_companies": False,
        "dpv_purpose": "dpv:CustomerRelationshipManagement",
        "notice": {
            "fi": "Käsittelemme tietojasi asiakassuhteen hoitamiseksi ja ylläpitämiseksi: tilisi, huutokauppojen, ostojen ja myyntien hoitamiseen sekä asiakaspalveluun.",
            "sv": "Vi behandlar dina uppgifter för att sköta och upprätthålla kundrelationen: ditt konto, auktioner, köp och försäljningar samt kundtjänst.",
            "en": "We process your data to manage and maintain the customer relationship: your account, auctions, purchases and sales, and customer service.",
        },
    },
    {
        "code": "billing",
        "name_en": "Billing and bookkeeping",
        "category": "service",
        "legal_basis": "legal_obligation",
        "channels": [],
        "group_companies": False,
        "dpv_purpose": "dpv:LegalCompliance",
        "notice": {
            "fi": "Käsittelemme laskutus- ja perintätietoja laskutusta varten ja säilytämme ne kirjanpitolain edellyttämän ajan.",
            "sv": "Vi behandlar fakturerings- och indrivningsuppgifter för faktureringen och bevarar dem den tid bokföringslagen kräver.",
            "en": "We process billing and debt-collection data for billing and keep it for the time the Accounting Act requires.",
        },
    },
    {
        "code": "customer_letters",
        "name_en": "Customer letters and bulletins",
        "category": "service",
        "legal_basis": "legitimate_interest",
        "channels": ["email", "post"],
        "group_companies": False,
        "dpv_purpose": "dpv:CustomerRelationshipManagement",
        "notice": {
            "fi": "Lähetämme asiakaskirjeitä ja tiedotteita palvelusta. Voit kieltää ne milloin tahansa.",
            "sv": "Vi skickar kundbrev och meddelanden om tjänsten. Du kan förbjuda dem när som helst.",
            "en": "We send customer letters and bulletins about the service. You may prohibit them at any time.",
        },
    },
    {
        "code": "direct_marketing",
        "name_en": "Direct marketing by Mezzoforte Oy",
        "category": "marketing",
        "legal_basis": "legitimate_interest",
        "channels": ["email", "sms", "phone", "post"],
        "group_companies": False,
        "dpv_purpose": "dpv:DirectMarketing",
        "notice": {
            "fi": "Mezzoforte Oy markkinoi sinulle Huutokaupat.com-palvelun kohteita. Sähköposti- ja tekstiviestimarkkinointia yksityishenkilöille vain suostumuksella. Voit kieltää suoramarkkinoinnin milloin tahansa maksutta.",
            "sv": "Mezzoforte Oy marknadsför objekt på Huutokaupat.com till dig. E-post- och sms-marknadsföring till privatpersoner endast med samtycke. Du kan förbjuda direktmarknadsföring när som helst utan kostnad.",
            "en": "Mezzoforte Oy markets items on Huutokaupat.com to you. E-mail and SMS marketing to private persons only with consent. You may prohibit direct marketing at any time, free of charge.",
        },
    },
    {
        "code": "group_direct_marketing",
        "name_en": "Direct marketing by Mezzoforte Oy's group companies",
        "category": "marketing",
        "legal_basis": "legitimate_interest",
        "channels": ["email", "sms", "phone", "post"],
        "group_companies": True,
        "dpv_purpose": "dpv:DirectMarketing",
        "notice": {
            "fi": "Tietojasi voidaan luovuttaa Mezzoforte Oy:n konserniyhtiöille niiden suoramarkkinointia varten. Sähköposti- ja tekstiviestimarkkinointi yksityishenkilöille vaatii erillisen suostumuksen. Voit kieltää luovutuksen.",
            "sv": "Dina uppgifter kan lämnas ut till Mezzoforte Oy:s koncernbolag för deras direktmarknadsföring. E-post- och sms-marknadsföring till privatpersoner kräver ett separat samtycke. Du kan förbjuda utlämnandet.",
            "en": "Your data may be disclosed to Mezzoforte Oy's group companies for their direct marketing. E-mail and SMS marketing to private persons needs a separate consent. You may prohibit the disclosure.",
        },
    },
    {
        "code": "distance_selling",
        "name_en": "Distance selling",
        "category": "marketing",
        "legal_basis": "legitimate_interest",
        "channels": ["email", "sms", "phone", "post"],
        "group_companies": False,
        "dpv_purpose": "dpv:DirectMarketing",
        "notice": {
            "fi": "Voimme tarjota sinulle tuotteita etämyyntinä puhelimitse tai postitse. Voit kieltää etämyynnin milloin tahansa.",
            "sv": "Vi kan erbjuda dig produkter som distansförsäljning per telefon eller post. Du kan förbjuda distansförsäljning när som helst.",
            "en": "We may offer you products by distance selling by phone or post. You may prohibit distance selling at any time.",
        },
    },
    {
        "code": "market_research",
        "name_en": "Market research",
        "category": "research",
        "legal_basis": "legitimate_interest",
        "channels": ["email", "sms", "phone", "post"],
        "group_companies": False,
        "dpv_purpose": "dpv:CommercialResearch",
        "notice": {
            "fi": "Voimme pyytää sinua osallistumaan markkinatutkimuksiin palvelun kehittämiseksi. Voit kieltää tietojesi käytön markkinatutkimukseen.",
            "sv": "Vi kan be dig delta i marknadsundersökningar för att utveckla tjänsten. Du kan förbjuda användningen av dina uppgifter för marknadsundersökningar.",
            "en": "We may ask you to take part in market research to develop the service. You may prohibit the use of your data for market research.",
        },
    },
    {
        "code": "analytics",
        "name_en": "Event and user analytics",
        "category": "analytics",
        "legal_basis": "consent",
        "channels": [],
        "group_companies": False,
        "dpv_purpose": "dpv:ServiceOptimisation",
        "notice": {
            "fi": "Suostumuksellasi analysoimme palvelun käyttöä tapahtumatietojen avulla palvelun parantamiseksi.",
            "sv": "Med ditt samtycke analyserar vi användningen av tjänsten med hjälp av händelsedata för att förbättra tjänsten.",
            "en": "With your consent we analyse the use of the service from event data to improve it.",
        },
    },
]


def _text_hash(notice: dict[str, str], legal_basis: str, channels: list[str]) -> str:
    canonical = json.dumps(
        {"channels": sorted(channels), "legal_basis": legal_basis, "notice": notice},
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def upgrade() -> None:
    op.create_table(
        "purposes",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("legal_basis", sa.String(length=32), nullable=False),
        sa.Column("channels", postgresql.ARRAY(sa.String(length=8)), nullable=False),
        sa.Column("group_companies", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("dpv_purpose", sa.String(length=64), nullable=False),
        sa.Column("current_version", sa.Integer(), server_default="1", nullable=False),
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
            "category IN ('service', 'marketing', 'research', 'analytics')",
            name=op.f("ck_purposes_category"),
        ),
        sa.CheckConstraint(
            "channels <@ ARRAY['email', 'sms', 'phone', 'post']::varchar[]",
            name=op.f("ck_purposes_channels"),
        ),
        sa.CheckConstraint(
            "legal_basis IN ('consent', 'contract', 'legal_obligation', 'legitimate_interest')",
            name=op.f("ck_purposes_legal_basis"),
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_purposes")),
    )
    op.create_table(
        "consent_receipts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("user_agent", sa.String(length=500), nullable=True),
        sa.Column("client_address_hash", sa.String(length=64), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.CheckConstraint(
            "source IN ('sign_up_form', 'settings_page', 'customer_service_call', 'letter')",
            name=op.f("ck_consent_receipts_source"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_consent_receipts_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_receipts")),
    )
    op.create_index(
        op.f("ix_consent_receipts_user_id"), "consent_receipts", ["user_id"], unique=False
    )
    op.create_table(
        "consent_states",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("purpose_code", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("purpose_version", sa.Integer(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["purpose_code"],
            ["purposes.code"],
            name=op.f("fk_consent_states_purpose_code_purposes"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_consent_states_user_id_users")
        ),
        sa.PrimaryKeyConstraint(
            "user_id", "purpose_code", "channel", name=op.f("pk_consent_states")
        ),
    )
    op.create_index(
        "ix_consent_states_audience",
        "consent_states",
        ["purpose_code", "channel", "decision", "user_id"],
        unique=False,
    )
    op.create_table(
        "purpose_versions",
        sa.Column("purpose_code", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("legal_basis", sa.String(length=32), nullable=False),
        sa.Column("channels", postgresql.ARRAY(sa.String(length=8)), nullable=False),
        sa.Column("notice_fi", sa.Text(), nullable=False),
        sa.Column("notice_sv", sa.Text(), nullable=False),
        sa.Column("notice_en", sa.Text(), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["purpose_code"],
            ["purposes.code"],
            name=op.f("fk_purpose_versions_purpose_code_purposes"),
        ),
        sa.PrimaryKeyConstraint("purpose_code", "version", name=op.f("pk_purpose_versions")),
    )
    op.create_table(
        "consent_records",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("receipt_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("purpose_code", sa.String(length=64), nullable=False),
        sa.Column("purpose_version", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "decision IN ('granted', 'withdrawn', 'prohibited', 'allowed')",
            name=op.f("ck_consent_records_decision"),
        ),
        sa.ForeignKeyConstraint(
            ["purpose_code", "purpose_version"],
            ["purpose_versions.purpose_code", "purpose_versions.version"],
            name="fk_consent_records_purpose_version",
        ),
        sa.ForeignKeyConstraint(
            ["receipt_id"],
            ["consent_receipts.id"],
            name=op.f("fk_consent_records_receipt_id_consent_receipts"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_consent_records_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_records")),
    )
    op.create_index(
        op.f("ix_consent_records_receipt_id"), "consent_records", ["receipt_id"], unique=False
    )
    op.create_index(
        "ix_consent_records_user_id_id", "consent_records", ["user_id", "id"], unique=False
    )
    op.add_column("users", sa.Column("restricted_at", sa.DateTime(timezone=True), nullable=True))

    purposes = sa.table(
        "purposes",
        sa.column("code", sa.String),
        sa.column("name_en", sa.String),
        sa.column("category", sa.String),
        sa.column("legal_basis", sa.String),
        sa.column("channels", postgresql.ARRAY(sa.String)),
        sa.column("group_companies", sa.Boolean),
        sa.column("dpv_purpose", sa.String),
        sa.column("current_version", sa.Integer),
    )
    versions = sa.table(
        "purpose_versions",
        sa.column("purpose_code", sa.String),
        sa.column("version", sa.Integer),
        sa.column("legal_basis", sa.String),
        sa.column("channels", postgresql.ARRAY(sa.String)),
        sa.column("notice_fi", sa.Text),
        sa.column("notice_sv", sa.Text),
        sa.column("notice_en", sa.Text),
        sa.column("text_hash", sa.String),
        sa.column("created_by", sa.String),
    )
    op.bulk_insert(
        purposes,
        [{k: v for k, v in p.items() if k != "notice"} | {"current_version": 1} for p in PURPOSES],
    )
    op.bulk_insert(
        versions,
        [
            {
                "purpose_code": p["code"],
                "version": 1,
                "legal_basis": p["legal_basis"],
                "channels": p["channels"],
                "notice_fi": p["notice"]["fi"],
                "notice_sv": p["notice"]["sv"],
                "notice_en": p["notice"]["en"],
                "text_hash": _text_hash(p["notice"], p["legal_basis"], p["channels"]),
                "created_by": "migration",
            }
            for p in PURPOSES
        ],
    )
    # Records, receipts and notice versions are proof: the database refuses to change them.
    for table in ("consent_records", "consent_receipts", "purpose_versions"):
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION refuse_change_to_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION refuse_change_to_append_only()"
        )


def downgrade() -> None:
    op.drop_column("users", "restricted_at")
    op.drop_index("ix_consent_records_user_id_id", table_name="consent_records")
    op.drop_index(op.f("ix_consent_records_receipt_id"), table_name="consent_records")
    op.drop_table("consent_records")
    op.drop_table("purpose_versions")
    op.drop_index("ix_consent_states_audience", table_name="consent_states")
    op.drop_table("consent_states")
    op.drop_index(op.f("ix_consent_receipts_user_id"), table_name="consent_receipts")
    op.drop_table("consent_receipts")
    op.drop_table("purposes")
