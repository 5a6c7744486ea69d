"""The append-only, tamper-evident logs other domains write to: reads of personal data (access
log) and disclosures of it (disclosure log), and the RFC 9162 Merkle trees over them. The database
refuses UPDATE, DELETE and TRUNCATE on all of these tables, and the application role has no such
grants, except on the queue of entries waiting for the sequencer."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Index, LargeBinary, SmallInteger, String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.audit.entries import TransparentLog
from app.db.base import Base


class AccessLogEntry(TransparentLog):
    """A read of a user's personal data by staff, the DPO or a partner."""

    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_subject_ref_id", "subject_ref", "id"),)
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


class DisclosureLogEntry(TransparentLog):
    """Personal data of one user disclosed to a recipient: by a release through the API, an
    audience page read by a partner, or outside the API (logged by staff)."""

    __tablename__ = "disclosure_log"
    __table_args__ = (
        Index("ix_disclosure_log_subject_ref_id", "subject_ref", "id"),
        Index("ix_disclosure_log_recipient_id_disclosed_at", "recipient_id", "disclosed_at"),
        Index("ix_disclosure_log_disclosed_at_id", "disclosed_at", "id"),
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


class QueuedEntry(Base):
    """An entry committed to a log and not yet in its tree. A trigger on each log adds the row in
    the writer's transaction; the sequencer removes it in the transaction that integrates it."""

    __tablename__ = "transparency_queue"

    log: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    entry_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    queued_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Leaf(Base):
    """A log entry's place in its tree: leaf index, and SHA-256(0x00 || canonical entry bytes)."""

    __tablename__ = "transparency_leaves"
    __table_args__ = (Index("uq_transparency_leaves_log_entry_id", "log", "entry_id", unique=True),)

    log: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    leaf_index: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    entry_id: Mapped[int] = mapped_column(BigInteger)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary)
    # When the writer inserted the entry and when it was integrated: the sequencer's lag.
    queued_at: Mapped[datetime]
    integrated_at: Mapped[datetime]


class Node(Base):
    """The hash of a complete subtree above the leaves: level >= 1, covering leaves
    [index * 2**level, (index + 1) * 2**level). Proofs are made of these."""

    __tablename__ = "transparency_nodes"

    log: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    index: Mapped[int] = mapped_column("idx", BigInteger, primary_key=True)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class SignedCheckpoint(Base):
    """A signed C2SP checkpoint of a tree: each size once."""

    __tablename__ = "transparency_checkpoints"

    log: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Verification(Base):
    """Where ``registry audit verify`` got to: the next run starts from here (incremental)."""

    __tablename__ = "transparency_verifications"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    log: Mapped[int] = mapped_column(SmallInteger)
    tree_size: Mapped[int] = mapped_column(BigInteger)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary)
    # The tree's right edge at that size (its complete subtrees' hashes, largest first).
    frontier: Mapped[bytes] = mapped_column(LargeBinary)
    verified_at: Mapped[datetime] = mapped_column(server_default=func.now())
