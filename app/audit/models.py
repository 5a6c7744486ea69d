"""Append-only logs other domains write to. The database refuses UPDATE, DELETE and TRUNCATE."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Index, String, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class AccessLogEntry(Base):
    """A read of a user's personal data by staff, the DPO or a partner."""

    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_subject_ref_id", "subject_ref", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    accessed_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # The user's pseudonymous reference (users.subject_ref), never the user id or a name.
    subject_ref: Mapped[uuid.UUID]
    actor: Mapped[str] = mapped_column(String(100))
    client_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    categories: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    operation: Mapped[str] = mapped_column(String(100))
    request_id: Mapped[str | None] = mapped_column(String(128))
