"""Data-subject requests (GDPR Art. 15-21) and every transition of them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base

REQUEST_TYPES = ("access", "portability", "rectification", "erasure", "restriction", "objection")
REQUEST_STATUSES = ("received", "completed", "rejected")
REQUEST_CHANNELS = ("web", "email", "letter", "phone", "in_person")


class SubjectRequest(Base):
    __tablename__ = "subject_requests"
    __table_args__ = (
        CheckConstraint(f"type IN {REQUEST_TYPES}", name="type"),
        CheckConstraint(f"status IN {REQUEST_STATUSES}", name="status"),
        CheckConstraint(f"channel IN {REQUEST_CHANNELS}", name="channel"),
        Index("ix_subject_requests_status_due_on", "status", "due_on"),
        Index("ix_subject_requests_user_id", "user_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, server_default=text("gen_random_uuid()")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), server_default="received")
    channel: Mapped[str] = mapped_column(String(16))
    details: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(server_default=func.now())
    due_on: Mapped[date]
    extended_at: Mapped[datetime | None]
    extension_reason: Mapped[str | None] = mapped_column(Text)
    identity_verified_at: Mapped[datetime | None]
    identity_verification: Mapped[str | None] = mapped_column(String(64))
    closed_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_by: Mapped[str] = mapped_column(String(100))


class SubjectRequestEvent(Base):
    """Every transition, append-only: the DPO's proof of how a request was handled."""

    __tablename__ = "subject_request_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subject_requests.id"), index=True)
    at: Mapped[datetime] = mapped_column(server_default=func.now())
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
