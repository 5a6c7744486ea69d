"""Reading a person's data by walking the catalogue: every table, every shown column, with what
the catalogue says of it (Art. 15), or only what Art. 20 lets the person take along.

Small tables are read whole, with Postgres rendering each row as JSON; the tables that grow with
the person's use of the service (``bulk``) are streamed from ``COPY`` a chunk at a time, so the
server's memory does not grow with the person's history.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.personal_data import Column, Source, Table
from app.db import raw
from app.privacy.catalogue import by_category
from app.privacy.vocabulary import ERASURE, retention_text

# Values that DVV or Posti gave are theirs, not the person's to port (Art. 20).
NOT_THE_PERSONS = (Source.DVV, Source.POSTI)
BATCH = 2000
PIECE = 256 * 1024


async def snapshot(session: AsyncSession) -> asyncpg.Connection:
    """The session's driver connection inside its transaction (begun here: server-side cursors
    need one). The exports' own pool runs them at REPEATABLE READ, so every table of an export is
    read as of one moment."""
    await session.execute(text("SELECT 1"))
    return await raw.driver(session)


def columns_of(table: Table, kind: str) -> tuple[Column, ...]:
    """The columns an export shows of a table: never the one that names the person, which is the
    same in every row (the document's ``user_id``, or the reference only the logs use)."""
    columns = table.portable_columns if kind == "portability" else table.shown_columns
    return tuple(c for c in columns if c.name != table.link or table.link == "id")


def tables_of(kind: str) -> list[Table]:
    """The tables an export of this kind holds, in the document's order."""
    return [
        table
        for tables in by_category().values()
        for table in tables
        if not table.copies and columns_of(table, kind)
    ]


def _filter(table: Table) -> tuple[str, str]:
    """The condition naming the person's rows (``$1``), and which key ``$1`` is."""
    if table.via is not None:
        column, parent = table.via
        return f"{column} IN (SELECT id FROM {parent} WHERE user_id = $1)", "user_id"
    if table.link == "subject_ref":
        return "subject_ref = $1", "subject_ref"
    return f"{table.link} = $1", "user_id"


def row_key(table: Table) -> str:
    """Which of the person's keys names their rows of this table."""
    return _filter(table)[1]


def select_sql(table: Table, kind: str, *, as_json: bool) -> tuple[str, str]:
    """The query of the person's rows of a table (as JSON text per row, or as columns)."""
    condition, key = _filter(table)
    names = ", ".join(c.name for c in columns_of(table, kind))
    inner = f"SELECT {names} FROM {table.name} WHERE {condition} ORDER BY {table.order_by}"
    if as_json:
        return f"SELECT row_to_json(r)::text FROM ({inner}) r", key
    return inner, key


def describe(table: Table, kind: str, lang: str, settings: Any) -> dict[str, Any]:
    """What the catalogue says of a table, for the person."""
    return {
        "description": table.description,
        "purposes": list(table.purposes),
        "legal_basis": table.legal_basis,
        "retention": retention_text(table.retention, lang, settings),
        "on_erasure": ERASURE[table.erasure][lang],
        "columns": {
            c.name: {"data_category": c.data_category, "source": str(c.source)}
            for c in columns_of(table, kind)
        },
    }


@dataclass
class PersonsData:
    """The small tables of one person, read; the bulk ones are streamed when written."""

    user_id: uuid.UUID
    subject_ref: uuid.UUID
    language: str
    kind: str
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # The source of each tracked column's current value (the newest provenance entry).
    value_sources: dict[str, str] = field(default_factory=dict)

    def key(self, name: str) -> uuid.UUID:
        return self.subject_ref if name == "subject_ref" else self.user_id


_PROVENANCE = """
SELECT DISTINCT ON (field) field, source FROM (
    SELECT unnest(fields) AS field, source, id FROM user_changes WHERE user_id = $1
) c ORDER BY field, id DESC
"""


async def read_small_tables(
    connection: asyncpg.Connection,
    user_id: uuid.UUID,
    kind: str,
    reveal_context: Any,
    *,
    full_identity_code: bool = False,
) -> PersonsData:
    head = await connection.fetchrow(
        "SELECT subject_ref, language FROM users WHERE id = $1", user_id
    )
    data = PersonsData(user_id, head["subject_ref"], head["language"], kind)
    data.value_sources = {
        row["field"]: row["source"] for row in await connection.fetch(_PROVENANCE, user_id)
    }
    for table in tables_of(kind):
        if table.bulk:
            continue
        sql, key = select_sql(table, kind, as_json=True)
        rows = [json.loads(row[0]) for row in await connection.fetch(sql, data.key(key))]
        if kind == "portability":
            rows = [_persons_own(table, row, data.value_sources) for row in rows]
        if table.reveal is not None:
            rows = [await table.reveal(reveal_context, row, full_identity_code) for row in rows]
        data.rows[table.name] = rows
    return data


def _persons_own(table: Table, row: dict[str, Any], sources: dict[str, str]) -> dict[str, Any]:
    """A row without the values whose current source is DVV or Posti."""
    return {
        name: value
        for name, value in row.items()
        if not (table.column(name).tracked_source and sources.get(name) in NOT_THE_PERSONS)
    }


async def json_lines(
    connection: asyncpg.Connection, sql: str, key: uuid.UUID
) -> AsyncGenerator[bytes, None]:
    """Rows as JSON, a chunk of lines at a time, straight from ``COPY``: Postgres renders every
    row and Python only passes the bytes on (with back-pressure through a small queue).

    In COPY's text format a JSON value changes in one way only: each backslash is doubled (JSON
    text holds no raw tab, newline or carriage return), so halving them restores it.
    """
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=4)
    reader_gone = False
    # COPY hands over a few kilobytes at a time; passing each on costs more than the bytes, so
    # they are gathered into large pieces first (measured: bench/README.md).
    gathered = bytearray()

    async def sink(data: bytes) -> None:
        if reader_gone:
            return
        gathered.extend(data)
        if len(gathered) >= PIECE:
            await queue.put(bytes(gathered))
            gathered.clear()

    async def produce() -> None:
        try:
            await connection.copy_from_query(sql, key, output=sink)
        finally:
            if not reader_gone:
                if gathered:
                    await queue.put(bytes(gathered))
                await queue.put(None)

    producer = asyncio.create_task(produce())
    pending = b""
    try:
        while (chunk := await queue.get()) is not None:
            pending += chunk
            cut = pending.rfind(b"\n")
            if cut < 0:
                continue
            complete, pending = pending[:cut], pending[cut + 1 :]
            yield complete.replace(b"\\\\", b"\\")
        await producer
        if pending:
            yield pending.replace(b"\\\\", b"\\")
    finally:
        if not producer.done():
            # The reader went away mid-COPY: let the COPY run out into nothing (one user's rows,
            # a fraction of a second) rather than cancel it, so that the connection goes back to
            # the pool clean.
            reader_gone = True
            while not queue.empty():
                queue.get_nowait()
            with contextlib.suppress(Exception):
                await producer


async def row_batches(
    connection: asyncpg.Connection, table: Table, kind: str, key: uuid.UUID
) -> AsyncIterator[list[asyncpg.Record]]:
    """A bulk table's rows, as columns, from a server-side cursor a batch at a time."""
    sql, _ = select_sql(table, kind, as_json=False)
    batch: list[asyncpg.Record] = []
    async for record in connection.cursor(sql, key, prefetch=BATCH):
        batch.append(record)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


async def bulk_counts(connection: asyncpg.Connection, data: PersonsData) -> dict[str, int]:
    counts = {}
    for table in tables_of(data.kind):
        if table.bulk:
            condition, key = _filter(table)
            counts[table.name] = await connection.fetchval(
                f"SELECT count(*) FROM {table.name} WHERE {condition}", data.key(key)
            )
    return counts
