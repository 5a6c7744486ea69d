"""The access export (Art. 15) and portability (Art. 20): one JSON document, streamed, built by
walking the personal-data catalogue (``app.privacy``), and the same as a zip with a CSV per table
and a summary page in the person's language.

The document: the person's categories of data, each with its tables; each table with what the
catalogue says of it (purposes, legal basis, retention, what erasure does, each column's data
category and source) and the person's rows. An access export adds the Art. 15(1) items.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import tempfile
import uuid
import zipfile
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import proofs
from app.audit.logs import Signers
from app.consents import service as consents
from app.core.settings import Settings
from app.db.session import Database
from app.notice import service as notice
from app.notice import texts
from app.privacy import access, summary
from app.privacy.access import PersonsData
from app.privacy.vocabulary import CATEGORIES
from app.users.identity_codes import IdentityCodeCipher, Sealed

FORMAT = "huutokaupat-registry-export/2"


@dataclass
class Revealing:
    """What a catalogue ``reveal`` hook may use: the DPO's full identity code, decrypted here."""

    connection: asyncpg.Connection
    cipher: IdentityCodeCipher
    user_id: uuid.UUID

    async def identity_code(self) -> str:
        row = await self.connection.fetchrow(
            "SELECT key_id, nonce, ciphertext FROM identity_codes WHERE user_id = $1", self.user_id
        )
        return self.cipher.open(
            self.user_id, Sealed(row["key_id"], row["nonce"], row["ciphertext"])
        )


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


async def _head(
    session: AsyncSession, settings: Settings, data: PersonsData, kind: str
) -> dict[str, Any]:
    head: dict[str, Any] = {
        "format": FORMAT,
        "kind": kind,
        "user_id": str(data.user_id),
        "generated_at": datetime.now(UTC).isoformat(),
        "language": data.language,
    }
    if kind == "access":
        head["permissions_in_effect"] = [
            p.model_dump(mode="json") for p in await consents.effective(session, data.user_id)
        ]
        head["sources_of_data"] = {
            "sources": sorted(set(data.value_sources.values()) | {"subject"}),
            "value_sources": data.value_sources,
            "explanation": texts.PARAGRAPHS[data.language]["sources"],
        }
        head["gdpr_article_15"] = await notice.article_15(session, settings, data.language)
    return head


async def _read(
    session: AsyncSession, cipher: IdentityCodeCipher, user_id: uuid.UUID, kind: str, full: bool
) -> tuple[asyncpg.Connection, PersonsData]:
    """The person's small tables, read once in the session's snapshot."""
    connection = await access.snapshot(session)
    data = await access.read_small_tables(
        connection, user_id, kind, Revealing(connection, cipher, user_id), full_identity_code=full
    )
    return connection, data


async def _document(
    session: AsyncSession,
    connection: asyncpg.Connection,
    settings: Settings,
    signers: Signers,
    data: PersonsData,
) -> AsyncGenerator[bytes, None]:
    """The JSON document of what was read, the bulk tables streamed from COPY."""
    kind = data.kind
    head = _dumps(await _head(session, settings, data, kind))
    yield (head[:-1] + ', "categories": {').encode()
    tables = access.tables_of(kind)
    categories = [c for c in CATEGORIES if any(t.category == c for t in tables)]
    for index, category in enumerate(categories):
        opening = "" if index == 0 else ", "
        yield (
            f'{opening}\n"{category}": {{"name": {_dumps(CATEGORIES[category][data.language])}'
            ', "tables": {'
        ).encode()
        mine = [t for t in tables if t.category == category]
        for position, table in enumerate(mine):
            about = access.describe(table, kind, data.language, settings)
            if any(c.tracked_source for c in table.columns):
                about["value_sources"] = data.value_sources
            text = _dumps(about)
            separator = "" if position == 0 else ", "
            yield f'{separator}\n "{table.name}": {text[:-1]}, "rows": ['.encode()
            if table.bulk:
                sql, key = access.select_sql(table, kind, as_json=True)
                first = True
                # Closed explicitly (not left to the garbage collector): an interrupted export
                # must stop its COPY before the session ends its transaction.
                async with contextlib.aclosing(
                    access.json_lines(connection, sql, data.key(key))
                ) as stream:
                    async for lines in stream:
                        yield (b"\n  " if first else b",\n  ") + lines.replace(b"\n", b",\n  ")
                        first = False
            else:
                rows = data.rows[table.name]
                yield ",".join("\n  " + _dumps(row) for row in rows).encode()
            yield b"\n ]}"
        yield b"}}"
    yield b"}"
    if kind == "access":
        # Every disclosure of the person with its inclusion proof, streamed after their data.
        yield b',\n"transparency": '
        async with contextlib.aclosing(
            proofs.export_proofs(connection, signers, data.subject_ref)
        ) as section:
            async for piece in section:
                yield piece
    yield b"}\n"


async def json_chunks(
    database: Database,
    settings: Settings,
    cipher: IdentityCodeCipher,
    user_id: uuid.UUID,
    *,
    signers: Signers,
    kind: str,
    full_identity_code: bool,
) -> AsyncIterator[bytes]:
    async with database.session() as session:
        connection, data = await _read(session, cipher, user_id, kind, full_identity_code)
        async with contextlib.aclosing(
            _document(session, connection, settings, signers, data)
        ) as chunks:
            async for chunk in chunks:
                yield chunk


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _csv(header: list[str] | None, rows: list[dict[str, Any]] | list[Any]) -> str:
    """CSV text: the header row (when given), then the rows (mappings or sequences)."""
    buffer = io.StringIO()
    if header is not None and (not rows or isinstance(rows[0], dict)):
        fields = header + sorted({k for row in rows for k in row} - set(header))
        writer: Any = csv.DictWriter(buffer, fieldnames=fields, restval="")
        writer.writeheader()
        writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
    else:
        plain = csv.writer(buffer)
        if header is not None:
            plain.writerow(header)
        plain.writerows([_cell(v) for v in row] for row in rows)
    return buffer.getvalue()


async def zip_chunks(
    database: Database,
    settings: Settings,
    cipher: IdentityCodeCipher,
    user_id: uuid.UUID,
    *,
    signers: Signers,
    kind: str,
    full_identity_code: bool,
) -> AsyncIterator[bytes]:
    """The JSON document, a CSV per table (each with its header row, also when empty) and a
    summary page, built in a temporary file that spills to disk."""
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    try:
        # One read, one snapshot: the JSON, the CSVs and the page tell the same moment.
        async with database.session() as session:
            connection, data = await _read(session, cipher, user_id, kind, full_identity_code)
            with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                with archive.open("export.json", "w", force_zip64=True) as entry:
                    async for chunk in _document(session, connection, settings, signers, data):
                        entry.write(chunk)
                for table in access.tables_of(kind):
                    header = [c.name for c in access.columns_of(table, kind)]
                    if not table.bulk:
                        archive.writestr(f"{table.name}.csv", _csv(header, data.rows[table.name]))
                        continue
                    with archive.open(f"{table.name}.csv", "w", force_zip64=True) as entry:
                        entry.write(_csv(header, []).encode())
                        key = data.key(access.row_key(table))
                        async for batch in access.row_batches(connection, table, kind, key):
                            entry.write(_csv(None, list(batch)).encode())
                page = await summary.render(session, connection, settings, data)
                archive.writestr("summary.html", page)
        spool.seek(0)
        while chunk := spool.read(256 * 1024):
            yield chunk
    finally:
        spool.close()
