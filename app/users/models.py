"""The register's users (private persons and companies), their identity codes and the history of
every change to their data."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base

USER_KINDS = ("private", "company")
USER_STATUSES = ("active", "closed", "erased")
LANGUAGES = ("fi", "sv", "en")
SOURCES = ("subject", "staff", "dvv", "posti", "import")


class User(Base):
    """One row per user; the kind decides which profile columns are filled."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"kind IN {USER_KINDS}", name="kind"),
        CheckConstraint(f"status IN {USER_STATUSES}", name="status"),
        CheckConstraint(f"language IN {LANGUAGES}", name="language"),
        CheckConstraint(
            "status = 'erased' OR kind <> 'company' OR business_id IS NOT NULL",
            name="company_has_business_id",
        ),
        Index("ix_users_created_at_id", "created_at", "id"),
        Index(
            "uq_users_external_id",
            "external_id",
            unique=True,
            postgresql_where=text("external_id IS NOT NULL"),
        ),
        Index("ix_users_email_lower", func.lower(text("email"))),
        Index(
            "uq_users_business_id",
            "business_id",
            unique=True,
            postgresql_where=text("business_id IS NOT NULL"),
        ),
        Index(
            "ix_users_last_name_lower",
            func.lower(text("last_name")),
            postgresql_ops={"lower(last_name)": "text_pattern_ops"},
        ),
        Index(
            "ix_users_company_name_lower",
            func.lower(text("company_name")),
            postgresql_ops={"lower(company_name)": "text_pattern_ops"},
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, server_default=text("gen_random_uuid()")
    )
    # The pseudonymous reference that logs use; replaced on erasure so old entries go unlinkable.
    subject_ref: Mapped[uuid.UUID] = mapped_column(
        unique=True, server_default=text("gen_random_uuid()")
    )
    kind: Mapped[str] = mapped_column(String(16))
    # The old register's id of an imported user (``registry import``): imports are keyed by it.
    external_id: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), server_default="active")
    language: Mapped[str] = mapped_column(String(2), server_default="fi")
    # private
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    birth_date: Mapped[date | None]
    # company
    company_name: Mapped[str | None] = mapped_column(String(200))
    business_id: Mapped[str | None] = mapped_column(String(9))
    contact_name: Mapped[str | None] = mapped_column(String(200))
    e_invoice_address: Mapped[str | None] = mapped_column(String(100))
    # both
    street: Mapped[str | None] = mapped_column(String(200))
    postal_code: Mapped[str | None] = mapped_column(String(16))
    city: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str | None] = mapped_column(String(2))
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))

    deceased_on: Mapped[date | None]
    closed_at: Mapped[datetime | None]
    # GDPR Art. 18: while set, the data is only stored (no marketing, audiences or releases).
    restricted_at: Mapped[datetime | None]
    erased_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class IdentityCode(Base):
    """A personal identity code, encrypted (AES-256-GCM) with a keyed HMAC for exact lookup."""

    __tablename__ = "identity_codes"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(64))
    lookup_hash: Mapped[str] = mapped_column(String(64), unique=True)
    masked: Mapped[str] = mapped_column(String(11))
    method: Mapped[str] = mapped_column(String(32))
    verified_at: Mapped[datetime] = mapped_column(server_default=func.now())


class UserChange(Base):
    """Provenance: who changed which of a user's data, from which source, and how."""

    __tablename__ = "user_changes"
    __table_args__ = (
        CheckConstraint(f"source IN {SOURCES}", name="source"),
        Index("ix_user_changes_user_id_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    changed_at: Mapped[datetime] = mapped_column(server_default=func.now())
    source: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    fields: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB)
    request_id: Mapped[str | None] = mapped_column(String(128))
    update_id: Mapped[str | None] = mapped_column(String(128))
