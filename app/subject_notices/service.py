"""Writing the notices owed to the person, listing them, and delivering them to the frontend."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from html import escape
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.logging import get_logger
from app.core.pagination import CursorId, decode_cursor, encode_cursor
from app.db import raw
from app.db.session import Database
from app.disclosures.notifications import LEASE
from app.disclosures.webhooks import WebhookClients, outcome, post_signed
from app.subject_notices import texts
from app.subject_notices.models import SubjectNotice
from app.subject_notices.schemas import NoticePage, NoticeRead
from app.users.models import User

log = get_logger("app.subject_notices")


async def write_notice(
    session: AsyncSession, user_id: uuid.UUID, kind: str, **details: Any
) -> None:
    """Writes a notice to the person, in their language, in the caller's transaction."""
    language = await session.scalar(select(User.language).where(User.id == user_id)) or "fi"
    title, body = texts.TEXTS[kind][language]
    await session.execute(
        insert(SubjectNotice).values(
            user_id=user_id,
            kind=kind,
            language=language,
            title=title,
            body=body.format(**{k: str(v) for k, v in details.items()}),
            details={k: str(v) for k, v in details.items()},
        )
    )


async def list_notices(
    session: AsyncSession, user_id: uuid.UUID, cursor: str | None, limit: int
) -> NoticePage:
    before = decode_cursor(cursor, CursorId)
    query = select(SubjectNotice).where(SubjectNotice.user_id == user_id)
    if before is not None:
        query = query.where(SubjectNotice.id < before[0])
    rows = (await session.scalars(query.order_by(SubjectNotice.id.desc()).limit(limit + 1))).all()
    items = [NoticeRead.model_validate(row, from_attributes=True) for row in rows[:limit]]
    next_cursor = encode_cursor([items[-1].id]) if len(rows) > limit else None
    return NoticePage(items=items, next_cursor=next_cursor)


def render_html(page: NoticePage, language: str) -> str:
    """The notices as a page a person reads (the frontend may show it as is)."""
    items = (
        "".join(
            f"<article><h2>{escape(n.title)}</h2><p>{escape(n.body)}</p>"
            f"<time datetime='{n.created_at.isoformat()}'>{n.created_at:%d.%m.%Y}</time></article>"
            for n in page.items
        )
        or f"<p>{escape(texts.NO_NOTICES[language])}</p>"
    )
    title = escape(texts.PAGE_TITLE[language])
    return (
        f'<!doctype html><html lang="{language}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{PAGE_STYLE}</style></head>"
        f"<body><main><h1>{title}</h1>{items}</main></body></html>"
    )


PAGE_STYLE = (
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;"
    "background:#f6f7f9;color:#1d2430;line-height:1.55}"
    "main{max-width:44rem;margin:0 auto;padding:2rem 1.25rem}"
    "h1{font-size:1.6rem;margin:0 0 1.25rem}"
    "article{background:#fff;border:1px solid #dde2ea;border-radius:10px;padding:1rem 1.25rem;"
    "margin:0 0 1rem}article h2{font-size:1.1rem;margin:0 0 .5rem}"
    "time{color:#5b6678;font-size:.9rem}"
)

# Lease-based delivery, as for recipients' notifications (app.disclosures.notifications), with
# the same lease (REGISTRY_NOTIFICATION_LEASE_SECONDS).
_CLAIM = """
UPDATE subject_notices SET attempts = attempts + 1,
    next_attempt_at = clock_timestamp() + $1::interval
WHERE id = (
    SELECT id FROM subject_notices
    WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= clock_timestamp()
    ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id, attempts, user_id, kind, language, title, body, details, created_at
"""


async def deliver_due(
    database: Database,
    clients: WebhookClients,
    url: str,
    secret: str,
    limit: int = 100,
    lease: timedelta = LEASE,
) -> int:
    """Sends the due notices to the frontend's webhook, one at a time; returns how many went."""
    sent = 0
    for _ in range(limit):
        async with database.session() as session, session.begin():
            row = await (await raw.driver(session)).fetchrow(_CLAIM, lease)
        if row is None:
            break
        details = row["details"]
        payload = {
            "notice_id": row["id"],
            "user_id": str(row["user_id"]),
            "kind": row["kind"],
            "language": row["language"],
            "title": row["title"],
            "body": row["body"],
            "details": json.loads(details) if isinstance(details, str | bytes) else details,
            "created_at": row["created_at"].isoformat(),
        }
        error = await post_signed(
            clients.for_url(url), url, [secret], f"notice-{row['id']}", payload
        )
        sent += error is None
        async with database.session() as session, session.begin():
            await session.execute(
                update(SubjectNotice)
                .where(SubjectNotice.id == row["id"])
                .values(**outcome(error, row["attempts"]))
            )
    return sent


async def delivery_loop(
    database: Database,
    clients: WebhookClients,
    url: str,
    secret: str,
    interval: float,
    lease: timedelta = LEASE,
) -> None:
    """Runs for the life of the service when the frontend's webhook is configured."""
    try:
        while True:
            try:
                await deliver_due(database, clients, url, secret, lease=lease)
            except Exception:
                log.exception("subject_notice_delivery_failed")
            await asyncio.sleep(interval)
    finally:
        await clients.aclose()
