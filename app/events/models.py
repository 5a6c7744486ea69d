"""Event and analytics data, in a table partitioned by month."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Identity, Index, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class Event(Base):
    """One event about a user. Partitions are ``events_pYYYYMM``, made on demand by the service
    and dropped by ``registry retention run``."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_user_id_occurred_at_id", "user_id", "occurred_at", "id"),
        {"postgresql_partition_by": "RANGE (occurred_at)"},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID]
    type: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32))
    properties: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    received_at: Mapped[datetime] = mapped_column(server_default=func.now())
