"""The append-only, tamper-evident logs other domains write to: reads of personal data (access
log) and disclosures of it (disclosure log). The database refuses UPDATE, DELETE and TRUNCATE on
both, the application role has no such grants, and every entry is bound into a hash chain."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Index, SmallInteger, String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.audit.chain import ChainedLog
from app.db.base import Base


class AccessLogEntry(ChainedLog):
    """A read of a user's personal data by staff, the DPO or a partner."""

    __tablename__ = "access_log"
    __table_args__ = (
        Index("ix_access_log_subject_ref_id", "subject_ref", "id"),
        Index("ix_access_log_lane_id", "lane", "id"),
    )
    CONTENT = (
        "accessed_at",
        "subject_ref",
        "actor",
        "client_id",
        "role",
        "categories",
        "operation",
        "request_id",
        "correlation_id",
    )
    OPTIONAL_CONTENT = frozenset({"correlation_id"})

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    accessed_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # The user's pseudonymous reference (users.subject_ref), never the user id or a name.
    subject_ref: Mapped[uuid.UUID]
    actor: Mapped[str] = mapped_column(String(100))
    client_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    categories: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    operation: Mapped[str] = mapped_column(String(100))
    # The server's own id of the request (X-Request-ID of the answer).
    request_id: Mapped[str | None] = mapped_column(String(128))
    # The id the client sent in X-Request-ID, if any: its claim, kept apart from ours.
    correlation_id: Mapped[str | None] = mapped_column(String(128))
    lane: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    prev_hash: Mapped[str] = mapped_column(String(64), server_default="")
    entry_hash: Mapped[str] = mapped_column(String(64), server_default="")


class DisclosureLogEntry(ChainedLog):
    """Personal data of one user disclosed to a recipient: by a release through the API, an
    audience page read by a partner, or outside the API (logged by staff)."""

    __tablename__ = "disclosure_log"
    __table_args__ = (
        Index("ix_disclosure_log_subject_ref_id", "subject_ref", "id"),
        Index("ix_disclosure_log_recipient_id_disclosed_at", "recipient_id", "disclosed_at"),
        Index("ix_disclosure_log_disclosed_at_id", "disclosed_at", "id"),
        Index("ix_disclosure_log_lane_id", "lane", "id"),
    )
    CONTENT = (
        "disclosed_at",
        "subject_ref",
        "recipient_id",
        "recipient_name",
        "purpose",
        "categories",
        "legal_basis",
        "channel",
        "client_id",
        "request_id",
        "kind",
        "note",
        "transfer_basis",
    )
    OPTIONAL_CONTENT = frozenset({"transfer_basis"})

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    disclosed_at: Mapped[datetime]
    subject_ref: Mapped[uuid.UUID]
    recipient_id: Mapped[uuid.UUID]
    recipient_name: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(String(64))
    categories: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    legal_basis: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(8))
    client_id: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))  # release, audience, external
    note: Mapped[str | None] = mapped_column(Text)
    # For a recipient outside the EU/EEA: the GDPR Chapter V basis of the transfer.
    transfer_basis: Mapped[str | None] = mapped_column(String(64))
    lane: Mapped[int] = mapped_column(SmallInteger)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class LogCheckpoint(Base):
    """A signed statement of every lane's head at a moment: a truncated tail cannot hide."""

    __tablename__ = "log_checkpoints"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    log: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    heads: Mapped[str] = mapped_column(Text)  # canonical JSON of the lane heads
    signature: Mapped[str] = mapped_column(Text)  # compact JWS over it
