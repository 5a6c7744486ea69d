"""Log entries: what a writer stores, and the canonical bytes a leaf hash is taken over.

A writer only inserts its entries, in its own transaction: no lock, no read of any head. A trigger
queues them for the sequencer (``app.audit.sequencer``), which puts them into the log's Merkle tree
once they are committed. The entry bytes are JSON with sorted keys and no spaces, of the entry's id
and content, with timestamps in UTC ISO form and UUIDs as text: they do not depend on the session's
time zone, date style or anything else a connection can set.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import raw
from app.db.base import Base


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return value


def canonical(content: Mapping[str, Any]) -> bytes:
    return json.dumps(
        {key: _json_value(value) for key, value in content.items()},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


class TransparentLog(Base):
    """Columns every log has; subclasses name the content columns that go into the leaf."""

    __abstract__ = True
    CONTENT: tuple[str, ...] = ()
    # Content added later: in the entry bytes only when set, so older entries keep their bytes.
    OPTIONAL_CONTENT: frozenset[str] = frozenset()

    @classmethod
    def entry_bytes(cls, row: Mapping[str, Any]) -> bytes:
        """The canonical bytes of a stored entry (a row with ``id`` and the content columns)."""
        content = {"id": row["id"]}
        for name in cls.CONTENT:
            value = row[name]
            if value is not None or name not in cls.OPTIONAL_CONTENT:
                content[name] = value
        return canonical(content)

    @classmethod
    def columns_sql(cls) -> str:
        return ", ".join(("id", *cls.CONTENT))


async def append(
    session: AsyncSession, model: type[TransparentLog], rows: Sequence[dict[str, Any]]
) -> None:
    """Inserts entries in the caller's transaction: one statement, on the raw driver (this runs
    on every logged read)."""
    if not rows:
        return
    table = model.__tablename__
    columns = list(model.CONTENT)
    values = [tuple(row.get(name) for name in columns) for row in rows]
    connection = await raw.driver(session)
    if len(values) > 8:
        # A release logs one entry per user: COPY takes a hundred rows faster than INSERTs.
        await connection.copy_records_to_table(table, records=values, columns=columns)
        return
    placeholders = ", ".join(f"${n}" for n in range(1, len(columns) + 1))
    statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"  # noqa: S608
    if len(values) == 1:
        await connection.execute(statement, *values[0])
    else:
        await connection.executemany(statement, values)
