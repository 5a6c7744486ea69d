"""Register updates from DVV (the population register) and Posti, applied once each."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class AppliedUpdate(Base):
    """An update id of a source (DVV and Posti number their updates each in their own way) that
    has been applied; applying it again changes nothing."""

    __tablename__ = "register_updates"

    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[uuid.UUID]
    changed_fields: Mapped[list[str]] = mapped_column(JSONB)
    applied_at: Mapped[datetime] = mapped_column(server_default=func.now())
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
