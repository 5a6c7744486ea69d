"""The register's users: private persons and companies."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base

USER_KINDS = ("private", "company")
USER_STATUSES = ("active", "closed", "erased")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"kind IN {USER_KINDS}", name="kind"),
        CheckConstraint(f"status IN {USER_STATUSES}", name="status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, server_default=text("gen_random_uuid()")
    )
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), server_default="active")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
