"""The register's records about a user: contracts, billing, debt collection, interests."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base

COLLECTION_STATUSES = ("open", "paid", "cancelled", "written_off")


class Contract(Base):
    """A customer relationship: a product or service, its seller, when it opened and ended."""

    __tablename__ = "contracts"
    __table_args__ = (
        CheckConstraint(
            "terminated_on IS NULL OR terminated_on >= opened_on", name="terminated_after_opened"
        ),
        Index("ix_contracts_user_id_opened_on", "user_id", "opened_on"),
        Index(
            "uq_contracts_external_id",
            "external_id",
            unique=True,
            postgresql_where=text("external_id IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, server_default=text("gen_random_uuid()")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The old register's id of an imported contract (``registry import contracts``).
    external_id: Mapped[str | None] = mapped_column(String(100))
    product: Mapped[str] = mapped_column(String(200))
    seller: Mapped[str] = mapped_column(String(200))
    opened_on: Mapped[date]
    terminated_on: Mapped[date | None]
    communication: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class BillingProfile(Base):
    """Where and how a user is billed. Never card numbers: only the payment provider's reference."""

    __tablename__ = "billing_profiles"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    street: Mapped[str | None] = mapped_column(String(200))
    postal_code: Mapped[str | None] = mapped_column(String(16))
    city: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str | None] = mapped_column(String(2))
    e_invoice_address: Mapped[str | None] = mapped_column(String(100))
    payment_method_reference: Mapped[str | None] = mapped_column(String(100))
    # Set on erasure: kept (restricted) under the Accounting Act until this date, then removed.
    held_until: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class CollectionCase(Base):
    """A debt-collection case: referred to an agency on a date, for an amount."""

    __tablename__ = "collection_cases"
    __table_args__ = (
        CheckConstraint(f"status IN {COLLECTION_STATUSES}", name="status"),
        CheckConstraint("amount_cents >= 0", name="amount_not_negative"),
        CheckConstraint("(status = 'open') = (closed_on IS NULL)", name="closed_on_iff_not_open"),
        Index("ix_collection_cases_user_id_referred_on", "user_id", "referred_on"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, server_default=text("gen_random_uuid()")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    referred_on: Mapped[date]
    agency: Mapped[str] = mapped_column(String(200))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), server_default="open")
    closed_on: Mapped[date | None]
    # Set on erasure: kept (restricted) under the Accounting Act until this date, then removed.
    held_until: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Interest(Base):
    """Interests and other data the person gave themselves."""

    __tablename__ = "interests"
    __table_args__ = (
        Index("uq_interests_user_id_topic", "user_id", func.lower(text("topic")), unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, server_default=text("gen_random_uuid()")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
