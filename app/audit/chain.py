"""Hash chains that make the append-only logs tamper-evident.

Each entry stores ``prev_hash`` and ``entry_hash = SHA-256(prev_hash || canonical bytes)``. The
canonical bytes (the entry's id and content) are JSON with sorted keys, computed in Python from
values the service set itself (timestamps in UTC ISO form, UUIDs as text), so they never depend
on session settings.

Writers of one chain are serialised by a transaction-scoped advisory lock. To keep many writers
from queueing behind one lock, each log has several independent chains ("lanes"); a writer picks
one at random. Verification walks every lane and names the first entry whose link or hash is
wrong: an edited entry breaks its own hash, a deleted one breaks the link of the next, a reordered
pair breaks both. Signed checkpoints of every lane's head catch a truncated tail.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import raw
from app.db.base import Base

LANES = 8
GENESIS = "0" * 64
# Advisory lock keys: one range per log, one key per lane.
_LOCK_BASE = {"access_log": 7_100_000, "disclosure_log": 7_200_000}


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return value


def canonical(content: dict[str, Any]) -> bytes:
    return json.dumps(
        {key: _json_value(value) for key, value in content.items()},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def entry_hash(prev_hash: str, content: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(content)).hexdigest()


class ChainedLog(Base):
    """Columns every chained log has; subclasses name the content columns."""

    __abstract__ = True
    CONTENT: tuple[str, ...] = ()
    # Content added later: hashed only when set, so entries written before it still verify.
    OPTIONAL_CONTENT: frozenset[str] = frozenset()

    @classmethod
    def hashed(cls, content: dict[str, Any]) -> dict[str, Any]:
        return {
            name: value
            for name, value in content.items()
            if value is not None or name not in cls.OPTIONAL_CONTENT
        }


async def append(
    session: AsyncSession, model: type[ChainedLog], rows: Sequence[dict[str, Any]]
) -> None:
    """Appends content rows to one lane of the log, in order, in the caller's transaction.

    Three statements on the raw driver (this runs on every logged read): take the lane's lock,
    read its head and the new ids, insert.
    """
    if not rows:
        return
    table = model.__tablename__
    lane = random.randrange(LANES)  # noqa: S311 (load spreading, not security)
    connection = await raw.driver(session)
    await connection.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_BASE[table] + lane)
    head = await connection.fetchrow(
        f"SELECT (SELECT entry_hash FROM {table} WHERE lane = $1 ORDER BY id DESC LIMIT 1),"  # noqa: S608
        f" ARRAY(SELECT nextval('{table}_id_seq') FROM generate_series(1, $2))",
        lane,
        len(rows),
    )
    prev = head[0] or GENESIS
    columns = ["id", *model.CONTENT, "lane", "prev_hash", "entry_hash"]
    values = []
    for entry_id, row in zip(head[1], rows, strict=True):
        content = {"id": entry_id, **{name: row.get(name) for name in model.CONTENT}}
        digest = entry_hash(prev, model.hashed(content))
        values.append((*content.values(), lane, prev, digest))
        prev = digest
    if len(values) > 8:
        # A release logs one entry per user: COPY takes a hundred rows faster than INSERTs.
        await connection.copy_records_to_table(table, records=values, columns=columns)
        return
    placeholders = ", ".join(f"${n}" for n in range(1, len(columns) + 1))
    await connection.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})",  # noqa: S608
        values,
    )


@dataclass(frozen=True)
class Break:
    id: int
    lane: int
    reason: str


@dataclass(frozen=True)
class LaneHead:
    lane: int
    last_id: int
    entry_hash: str
    entries: int


async def verify(
    session: AsyncSession, model: type[ChainedLog]
) -> tuple[Break | None, list[LaneHead], int]:
    """Walks every lane; returns the first break (lowest id), the lane heads and the count.
    Rows are streamed, so memory does not grow with the log."""
    table = model.__table__
    breaks: list[Break] = []
    heads: list[LaneHead] = []
    total = 0
    columns = [table.c.id, table.c.prev_hash, table.c.entry_hash] + [
        table.c[name] for name in model.CONTENT
    ]
    for lane in range(LANES):
        rows = await session.stream(
            select(*columns).where(table.c.lane == lane).order_by(table.c.id)
        )
        expected_prev = GENESIS
        count = 0
        last_id = 0
        async for row in rows:
            content = model.hashed(
                {"id": row.id, **{name: getattr(row, name) for name in model.CONTENT}}
            )
            if row.prev_hash != expected_prev:
                breaks.append(Break(row.id, lane, "link to the previous entry is broken"))
                break
            if entry_hash(row.prev_hash, content) != row.entry_hash:
                breaks.append(Break(row.id, lane, "content does not match its hash"))
                break
            count += 1
            last_id = row.id
            expected_prev = row.entry_hash
        await rows.close()
        total += count
        heads.append(LaneHead(lane, last_id, expected_prev, count))
    first = min(breaks, key=lambda b: b.id) if breaks else None
    return first, heads, total


async def heads(session: AsyncSession, model: type[ChainedLog]) -> tuple[list[LaneHead], int]:
    """Every lane's newest entry (without walking the chains), and the number of entries."""
    table = model.__table__
    found: list[LaneHead] = []
    total = 0
    rows = await session.execute(
        select(table.c.lane, func.count(), func.max(table.c.id)).group_by(table.c.lane)
    )
    counts = {row[0]: (row[1], row[2]) for row in rows}
    for lane in range(LANES):
        count, last_id = counts.get(lane, (0, 0))
        head_hash = GENESIS
        if last_id:
            head_hash = (
                await session.scalar(select(table.c.entry_hash).where(table.c.id == last_id))
                or GENESIS
            )
        found.append(LaneHead(lane, last_id or 0, head_hash, count))
        total += count
    return found, total
