"""The delivery state every outbox row carries (Art. 19 notifications, notices to the person):
written with the change it reports, then sent with retries by a delivery loop."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, func
from sqlalchemy.orm import Mapped, mapped_column


class OutboxDelivery:
    """Mixed into an outbox model: attempts so far, when the next is due (or until when a worker
    holds it), and how it ended."""

    attempts: Mapped[int] = mapped_column(server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=func.now())
    sent_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
