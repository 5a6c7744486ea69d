"""Import runs: which file, how far it got, and what it refused (until the reject file is out)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base

IMPORT_KINDS = ("users", "permissions", "contracts", "billing")


class ImportRun(Base):
    """One import of one file. An unfinished run of the same kind and checksum is resumed."""

    __tablename__ = "import_runs"
    __table_args__ = (
        CheckConstraint(f"kind IN {IMPORT_KINDS}", name="kind"),
        Index(
            "uq_import_runs_unfinished",
            "kind",
            "sha256",
            unique=True,
            postgresql_where=text("finished_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    file_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(server_default=func.now())
    finished_at: Mapped[datetime | None]
    batch_size: Mapped[int] = mapped_column(Integer)
    batches_done: Mapped[int] = mapped_column(Integer, server_default="0")
    rows_done: Mapped[int] = mapped_column(BigInteger, server_default="0")
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")


class ImportKey(Base):
    """A key (the old register's id) seen by a run: the same key twice in a file is refused."""

    __tablename__ = "import_keys"
    __table_args__ = (PrimaryKeyConstraint("run_id", "key"),)

    run_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("import_runs.id", ondelete="CASCADE")
    )
    key: Mapped[str] = mapped_column(String(100))
    row_number: Mapped[int] = mapped_column(BigInteger)


class ImportReject(Base):
    """A refused row of a run: its number, old id, column and reason (never the value)."""

    __tablename__ = "import_rejects"
    __table_args__ = (Index("ix_import_rejects_run_id_row", "run_id", "row_number"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("import_runs.id", ondelete="CASCADE")
    )
    row_number: Mapped[int] = mapped_column(BigInteger)
    external_id: Mapped[str | None] = mapped_column(String(100))
    column_name: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(String(500))
