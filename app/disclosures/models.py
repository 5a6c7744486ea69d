"""Recipients of disclosures, and the outbox of Art. 19 notifications to them."""

from __future__ import annotations

import uuid
from datetime import datetime
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
from app.db.outbox import OutboxDelivery

RECIPIENT_KINDS = ("group_company", "partner", "debt_collection_agency", "authority")
NOTIFICATION_EVENTS = ("rectification", "erasure", "restriction")


class Recipient(Base):
    """A group company or partner that may receive personal data, and for which purposes."""

    __tablename__ = "recipients"
    __table_args__ = (CheckConstraint(f"kind IN {RECIPIENT_KINDS}", name="kind"),)

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, server_default=text("gen_random_uuid()")
    )
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    business_id: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(2))
    in_eu_eea: Mapped[bool]
    purposes: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    legal_basis: Mapped[str] = mapped_column(String(32))
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    # The webhook signing secret, encrypted (AES-GCM) under a key derived from the service secret.
    webhook_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    # While a secret is rotated, deliveries are signed with the previous one too, until then.
    previous_webhook_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_webhook_secret_until: Mapped[datetime | None]
    # Set when the endpoint answered 410 Gone: nothing is sent to it until its address changes.
    webhook_disabled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Notification(OutboxDelivery, Base):
    """An Art. 19 notification, written in the same transaction as the change it reports, and
    sent (with retries) by the delivery loop: a crash never loses one."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(f"event IN {NOTIFICATION_EVENTS}", name="event"),
        Index(
            "ix_notifications_due",
            "next_attempt_at",
            postgresql_where=text("sent_at IS NULL AND failed_at IS NULL"),
        ),
        Index("ix_notifications_user_id_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    recipient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("recipients.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    event: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
