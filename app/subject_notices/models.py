"""Notices the registry owes the person themself (GDPR Art. 12(3), 18(3)): written in the same
transaction as what they tell of, then delivered to the frontend's webhook (which shows or mails
them) and listed for the person."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.outbox import OutboxDelivery

NOTICE_KINDS = ("restriction_lifted", "request_extended")


class SubjectNotice(OutboxDelivery, Base):
    __tablename__ = "subject_notices"
    __table_args__ = (
        CheckConstraint(f"kind IN {NOTICE_KINDS}", name="kind"),
        Index("ix_subject_notices_user_id_id", "user_id", "id"),
        Index(
            "ix_subject_notices_due",
            "next_attempt_at",
            postgresql_where=text("sent_at IS NULL AND failed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(2))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
