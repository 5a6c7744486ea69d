"""Purposes with versioned notices, decisions as append-only records, and the current state."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base

LEGAL_BASES = ("consent", "contract", "legal_obligation", "legitimate_interest")
CATEGORIES = ("service", "marketing", "research", "analytics")
CHANNELS = ("email", "sms", "phone", "post")
DECISIONS = ("granted", "withdrawn", "prohibited", "allowed")
SOURCES = ("sign_up_form", "settings_page", "customer_service_call", "letter", "import")
WHOLE_PURPOSE = "*"  # the channel of a decision about a purpose on every channel


class Purpose(Base):
    """A purpose of processing from the register description, managed by the DPO."""

    __tablename__ = "purposes"
    __table_args__ = (
        CheckConstraint(f"legal_basis IN {LEGAL_BASES}", name="legal_basis"),
        CheckConstraint(f"category IN {CATEGORIES}", name="category"),
        CheckConstraint(f"channels <@ ARRAY{list(CHANNELS)}::varchar[]", name="channels"),
    )

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_en: Mapped[str] = mapped_column(String(200))
    name_fi: Mapped[str] = mapped_column(String(200))
    name_sv: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(16))
    legal_basis: Mapped[str] = mapped_column(String(32))
    channels: Mapped[list[str]] = mapped_column(ARRAY(String(8)))
    # The taxonomy the rule reads: whose purpose it is (the controller's or its group
    # companies'), and whether it is direct marketing (GDPR Art. 21(2)-(3)), profiling for
    # marketing included.
    group_companies: Mapped[bool] = mapped_column(server_default="false")
    direct_marketing: Mapped[bool] = mapped_column(server_default="false")
    dpv_purpose: Mapped[str] = mapped_column(String(64))
    current_version: Mapped[int] = mapped_column(Integer, server_default="1")
    # The newest version whose change was material: consent given under an older one no longer
    # counts until the person decides again.
    material_version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class PurposeVersion(Base):
    """One version of a purpose's notice, as shown to people; kept forever, never changed."""

    __tablename__ = "purpose_versions"

    purpose_code: Mapped[str] = mapped_column(ForeignKey("purposes.code"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    legal_basis: Mapped[str] = mapped_column(String(32))
    channels: Mapped[list[str]] = mapped_column(ARRAY(String(8)))
    notice_fi: Mapped[str] = mapped_column(Text)
    notice_sv: Mapped[str] = mapped_column(Text)
    notice_en: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[str] = mapped_column(String(64))
    # Whether the change from the previous version was material (the DPO says; a change of
    # legal basis always is).
    material: Mapped[bool] = mapped_column(server_default="true")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    created_by: Mapped[str] = mapped_column(String(100))


class ConsentReceipt(Base):
    """One recording of decisions: when, how, by whom, in which language, with what evidence."""

    __tablename__ = "consent_receipts"
    __table_args__ = (
        CheckConstraint(f"source IN {SOURCES}", name="source"),
        Index(
            "uq_consent_receipts_external_id",
            "external_id",
            unique=True,
            postgresql_where=text("external_id IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    recorded_at: Mapped[datetime] = mapped_column(server_default=func.now())
    source: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(2))
    actor: Mapped[str] = mapped_column(String(100))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    client_address_hash: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(128))
    # Receipts from the old register (``source = 'import'``): its id, and the evidence it had
    # (its source, the time, the notice text if known, the file it came in).
    external_id: Mapped[str | None] = mapped_column(String(100))
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class ConsentRecord(Base):
    """One decision about one purpose (on one channel, or ``*`` for all). Append-only."""

    __tablename__ = "consent_records"
    __table_args__ = (
        CheckConstraint(f"decision IN {DECISIONS}", name="decision"),
        ForeignKeyConstraint(
            ["purpose_code", "purpose_version"],
            ["purpose_versions.purpose_code", "purpose_versions.version"],
            name="fk_consent_records_purpose_version",
        ),
        Index("ix_consent_records_user_id_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    receipt_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("consent_receipts.id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    purpose_code: Mapped[str] = mapped_column(String(64))
    purpose_version: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(8))
    decision: Mapped[str] = mapped_column(String(16))
    recorded_at: Mapped[datetime] = mapped_column(server_default=func.now())


class ConsentState(Base):
    """The latest decision per user, purpose and channel, kept in the same transaction as the
    record, so that a check is one indexed read."""

    __tablename__ = "consent_states"
    __table_args__ = (
        Index("ix_consent_states_audience", "purpose_code", "channel", "decision", "user_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    purpose_code: Mapped[str] = mapped_column(ForeignKey("purposes.code"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), primary_key=True)
    decision: Mapped[str] = mapped_column(String(16))
    record_id: Mapped[int] = mapped_column(BigInteger)
    purpose_version: Mapped[int] = mapped_column(Integer)
    decided_at: Mapped[datetime]
