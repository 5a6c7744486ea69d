"""The access export (Art. 15) and portability (Art. 20): one JSON document, streamed.

The small categories are read first; the events, which may run to hundreds of thousands, are
streamed last from a server-side cursor with Postgres rendering each row as JSON, so the server's
memory does not grow with the user's history. ``?format=zip`` adds a CSV per category and an HTML
summary in the user's language, built in a temporary file that spills to disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import tempfile
import uuid
import zipfile
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime
from html import escape
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AccessLogEntry, DisclosureLogEntry
from app.auth.models import Credential
from app.consents import service as consents
from app.consents.models import ConsentReceipt, ConsentRecord
from app.core.settings import Settings
from app.db import raw
from app.db.session import Database
from app.notice import service as notice
from app.notice import texts
from app.records.models import BillingProfile, CollectionCase, Contract, Interest
from app.requests.models import SubjectRequest
from app.users import service as users
from app.users.identity_codes import IdentityCodeCipher
from app.users.models import IdentityCode, User, UserChange

EVENT_BATCH = 2000
# row_to_json was the cheapest way to have Postgres render a row (measured: bench/README.md).
EVENTS_SQL = (
    "SELECT row_to_json(e)::text FROM (SELECT id, type, occurred_at, source, properties, "
    "received_at FROM events WHERE user_id = $1 ORDER BY occurred_at, id) e"
)
DISCLOSURES_SQL = (
    "SELECT row_to_json(d)::text FROM (SELECT disclosed_at, recipient_name, purpose, categories, "
    "legal_basis, kind FROM disclosure_log WHERE subject_ref = $1 ORDER BY id) d"
)
ACCESS_LOG_SQL = (
    "SELECT row_to_json(a)::text FROM (SELECT accessed_at, actor, role, categories, operation "
    "FROM access_log WHERE subject_ref = $1 ORDER BY id) a"
)
EVENTS_CSV_SQL = (
    "SELECT id, type, occurred_at, source, properties::text, received_at "
    "FROM events WHERE user_id = $1 ORDER BY occurred_at, id"
)
# Art. 20 covers what the person provided, or what is processed on consent or contract.
PORTABLE = ("subject", "credentials", "contracts", "billing", "interests", "permissions", "events")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _rows(rows: Any, columns: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{c: _plain(getattr(row, c)) for c in columns} for row in rows]


async def sections(
    session: AsyncSession,
    settings: Settings,
    cipher: IdentityCodeCipher,
    user_id: uuid.UUID,
    *,
    full_identity_code: bool,
    include_logs: bool = True,
) -> dict[str, Any]:
    """Everything but the events, keyed by the register description's categories (without the
    disclosure and access logs when the caller streams those itself)."""
    user = await users.get_user(session, user_id)
    row = await session.get_one(User, user_id)
    lang = row.language
    code = await session.get(IdentityCode, user_id)
    identity = None
    if code is not None:
        identity = {
            "identity_code": (
                cipher.open(user_id, _sealed(code)) if full_identity_code else code.masked
            ),
            "method": code.method,
            "verified_at": _plain(code.verified_at),
        }
    credential = await session.get(Credential, user_id)
    changes = (
        await session.scalars(
            select(UserChange).where(UserChange.user_id == user_id).order_by(UserChange.id)
        )
    ).all()
    sources = sorted({c.source for c in changes})
    records = (
        await session.execute(
            select(ConsentRecord, ConsentReceipt.source)
            .join(ConsentReceipt, ConsentReceipt.id == ConsentRecord.receipt_id)
            .where(ConsentRecord.user_id == user_id)
            .order_by(ConsentRecord.id)
        )
    ).all()
    disclosures = (
        []
        if not include_logs
        else (
            await session.scalars(
                select(DisclosureLogEntry)
                .where(DisclosureLogEntry.subject_ref == row.subject_ref)
                .order_by(DisclosureLogEntry.id)
            )
        ).all()
    )
    reads = (
        []
        if not include_logs
        else (
            await session.scalars(
                select(AccessLogEntry)
                .where(AccessLogEntry.subject_ref == row.subject_ref)
                .order_by(AccessLogEntry.id)
            )
        ).all()
    )
    billing = await session.get(BillingProfile, user_id)
    return {
        "subject": user.model_dump(mode="json"),
        "identity_code": identity,
        "credentials": (
            {
                "username": credential.username,
                "created_at": _plain(credential.created_at),
                "password_changed_at": _plain(credential.password_changed_at),
                "last_login_at": _plain(credential.last_login_at),
                "note": "Passwords are stored only as argon2id hashes, never shown.",
            }
            if credential
            else None
        ),
        "contracts": _rows(
            await session.scalars(select(Contract).where(Contract.user_id == user_id)),
            ("id", "product", "seller", "opened_on", "terminated_on", "communication"),
        ),
        "billing": (
            _rows(
                [billing],
                (
                    "street",
                    "postal_code",
                    "city",
                    "country",
                    "e_invoice_address",
                    "payment_method_reference",
                    "held_until",
                ),
            )[0]
            if billing
            else None
        ),
        "debt_collection": _rows(
            await session.scalars(select(CollectionCase).where(CollectionCase.user_id == user_id)),
            ("id", "referred_on", "agency", "amount_cents", "currency", "status", "closed_on"),
        ),
        "interests": _rows(
            await session.scalars(select(Interest).where(Interest.user_id == user_id)),
            ("id", "topic", "note", "created_at"),
        ),
        "permissions": {
            "effective": [
                p.model_dump(mode="json") for p in await consents.effective(session, user_id)
            ],
            "history": [
                {
                    "id": r.id,
                    "receipt_id": str(r.receipt_id),
                    "purpose": r.purpose_code,
                    "notice_version": r.purpose_version,
                    "channel": r.channel,
                    "decision": r.decision,
                    "recorded_at": _plain(r.recorded_at),
                    "source": source,
                }
                for r, source in records
            ],
        },
        "requests": _rows(
            await session.scalars(select(SubjectRequest).where(SubjectRequest.user_id == user_id)),
            ("id", "type", "status", "received_at", "due_on", "closed_at", "resolution"),
        ),
        **(
            {
                "disclosures": _rows(
                    disclosures,
                    (
                        "disclosed_at",
                        "recipient_name",
                        "purpose",
                        "categories",
                        "legal_basis",
                        "kind",
                    ),
                ),
                "access_log": _rows(
                    reads, ("accessed_at", "actor", "role", "categories", "operation")
                ),
            }
            if include_logs
            else {}
        ),
        "history": _rows(
            changes, ("changed_at", "source", "actor", "category", "action", "fields", "changes")
        ),
        "sources_of_data": {
            "sources": sources,
            "explanation": texts.PARAGRAPHS[lang]["sources"],
        },
        "gdpr_article_15": await notice.article_15(session, settings, lang),
    }


def _sealed(code: IdentityCode) -> Any:
    from app.users.identity_codes import Sealed

    return Sealed(code.key_id, code.nonce, code.ciphertext)


async def _event_batches(
    session: AsyncSession, user_id: uuid.UUID, sql: str
) -> AsyncIterator[list[Any]]:
    """Rows of the events from a server-side cursor, a batch at a time."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    batch: list[Any] = []
    async for record in driver.cursor(sql, user_id, prefetch=EVENT_BATCH):
        batch.append(record)
        if len(batch) >= EVENT_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


async def _json_lines(
    session: AsyncSession, sql: str, key: uuid.UUID
) -> AsyncGenerator[bytes, None]:
    """Rows as JSON, a chunk of lines at a time, straight from ``COPY``: Postgres renders every
    row and Python only passes the bytes on (with back-pressure through a small queue).

    In COPY's text format a JSON value changes in one way only: each backslash is doubled (JSON
    text holds no raw tab, newline or carriage return), so halving them restores it.
    """
    connection = await raw.driver(session)
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=8)
    reader_gone = False

    async def sink(data: bytes) -> None:
        if not reader_gone:
            await queue.put(data)

    async def produce() -> None:
        try:
            await connection.copy_from_query(sql, key, output=sink)
        finally:
            if not reader_gone:
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


def _head(kind: str, user_id: uuid.UUID, data: dict[str, Any]) -> str:
    """The document's opening and its small sections, left open for the streamed arrays."""
    meta = {
        "format": "huutokaupat-registry-export/1",
        "kind": kind,
        "user_id": str(user_id),
        "generated_at": datetime.now(UTC).isoformat(),
    }
    text = json.dumps({**meta, **data}, ensure_ascii=False, indent=1, default=_plain)
    return text[: text.rfind("}")].rstrip() + ",\n"


async def _array(
    session: AsyncSession, name: str, sql: str, key: uuid.UUID, last: bool
) -> AsyncGenerator[bytes, None]:
    yield f' "{name}": ['.encode()
    first = True
    # Closed explicitly (not left to the garbage collector): an interrupted export must stop
    # its COPY before the session ends its transaction.
    async with contextlib.aclosing(_json_lines(session, sql, key)) as stream:
        async for lines in stream:
            yield (b"\n  " if first else b",\n  ") + lines.replace(b"\n", b",\n  ")
            first = False
    yield b"\n ]\n" if last else b"\n ],\n"


async def json_chunks(
    database: Database,
    settings: Settings,
    cipher: IdentityCodeCipher,
    user_id: uuid.UUID,
    *,
    kind: str,
    full_identity_code: bool,
) -> AsyncIterator[bytes]:
    async with database.session() as session:
        data = await sections(
            session,
            settings,
            cipher,
            user_id,
            full_identity_code=full_identity_code,
            include_logs=False,
        )
        if kind == "portability":
            data = {key: data[key] for key in PORTABLE if key in data}
        yield _head(kind, user_id, data).encode()
        if kind == "access":
            subject_ref = await session.scalar(select(User.subject_ref).where(User.id == user_id))
            assert subject_ref is not None
            for name, sql in (("disclosures", DISCLOSURES_SQL), ("access_log", ACCESS_LOG_SQL)):
                async with contextlib.aclosing(
                    _array(session, name, sql, subject_ref, last=False)
                ) as array:
                    async for chunk in array:
                        yield chunk
        async with contextlib.aclosing(
            _array(session, "events", EVENTS_SQL, user_id, last=True)
        ) as array:
            async for chunk in array:
                yield chunk
        yield b"}\n"


def _csv(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v
                for k, v in row.items()
            }
        )
    return buffer.getvalue()


def _summary_html(data: dict[str, Any], lang: str) -> str:
    titles = texts.TITLES[lang]
    paragraphs = texts.PARAGRAPHS[lang]
    subject = data["subject"]
    name = subject.get("company_name") or " ".join(
        filter(None, (subject.get("first_name"), subject.get("last_name")))
    )
    items = [
        f"<li>{escape(texts.CATEGORIES[c][lang]['name'])}</li>"
        for c in texts.CATEGORIES
        if data.get(c if c != "basic_data" else "subject")
    ]
    recipients = sorted({d["recipient_name"] for d in data["disclosures"]})
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{escape(titles['document'])}</title></head><body>"
        f"<h1>{escape(texts.REGISTER_NAME[lang])}</h1><p>{escape(name)}</p>"
        f"<h2>{escape(titles['data'])}</h2><ul>{''.join(items)}</ul>"
        f"<h2>{escape(titles['disclosures'])}</h2><ul>"
        + "".join(f"<li>{escape(r)}</li>" for r in recipients)
        + f"</ul><h2>{escape(titles['rights'])}</h2><p>{escape(paragraphs['rights'])}</p>"
        f"<h2>{escape(titles['complaint'])}</h2><p>{escape(paragraphs['complaint'])}</p>"
        f"<h2>{escape(titles['automated'])}</h2><p>{escape(paragraphs['automated'])}</p>"
        "</body></html>"
    )


async def zip_chunks(
    database: Database,
    settings: Settings,
    cipher: IdentityCodeCipher,
    user_id: uuid.UUID,
    *,
    kind: str,
    full_identity_code: bool,
) -> AsyncIterator[bytes]:
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    try:
        with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            with archive.open("export.json", "w", force_zip64=True) as entry:
                async for chunk in json_chunks(
                    database,
                    settings,
                    cipher,
                    user_id,
                    kind=kind,
                    full_identity_code=full_identity_code,
                ):
                    entry.write(chunk)
            async with database.session() as session:
                data = await sections(
                    session, settings, cipher, user_id, full_identity_code=full_identity_code
                )
                lang = data["subject"]["language"]
                tables = {
                    "profile": [data["subject"] | {"address": data["subject"].get("address")}],
                    "contracts": data["contracts"],
                    "billing": [data["billing"]] if data["billing"] else [],
                    "debt_collection": data["debt_collection"],
                    "interests": data["interests"],
                    "permissions": data["permissions"]["effective"],
                    "permission_history": data["permissions"]["history"],
                    "requests": data["requests"],
                    "disclosures": data["disclosures"],
                    "access_log": data["access_log"],
                    "history": data["history"],
                }
                for name, rows in tables.items():
                    archive.writestr(f"{name}.csv", _csv(rows))
                with archive.open("events.csv", "w", force_zip64=True) as entry:
                    header = "id,type,occurred_at,source,properties,received_at\n"
                    entry.write(header.encode())
                    async for batch in _event_batches(session, user_id, EVENTS_CSV_SQL):
                        buffer = io.StringIO()
                        writer = csv.writer(buffer)
                        writer.writerows([_plain(v) for v in record] for record in batch)
                        entry.write(buffer.getvalue().encode())
                archive.writestr("summary.html", _summary_html(data, lang))
        spool.seek(0)
        while chunk := spool.read(256 * 1024):
            yield chunk
    finally:
        spool.close()
