"""Event ingestion, keyset listing, and the monthly partitions with their retention."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.audit import service as audit
from app.auth.dependencies import Principal
from app.consents import service as consents
from app.core.pagination import CursorId, CursorTime, decode_cursor, encode_cursor
from app.events.models import Event
from app.events.schemas import EventBatch, EventIngestResult, EventPage, EventRead, RejectedEvent
from app.events.types import ANALYTICS, EVENT_TYPES
from app.users import service as users
from app.users.models import User

PARTITION_NAME = re.compile(r"^events_p(\d{4})(\d{2})$")
FUTURE_TOLERANCE = timedelta(minutes=5)


def month_start(moment: datetime | date) -> date:
    return date(moment.year, moment.month, 1)


def next_month(start: date) -> date:
    return date(start.year + start.month // 12, start.month % 12 + 1, 1)


def months_back(start: date, months: int) -> date:
    index = start.year * 12 + start.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def upcoming_months(count: int, today: date | None = None) -> set[date]:
    """This month and the next ``count`` ones."""
    start = month_start(today or datetime.now(UTC).date())
    months = {start}
    for _ in range(count):
        start = next_month(start)
        months.add(start)
    return months


def partition_name(start: date) -> str:
    return f"events_p{start.year:04d}{start.month:02d}"


async def existing_partitions(connection: AsyncConnection | AsyncSession) -> set[str]:
    rows = await connection.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'events'::regclass"
        )
    )
    return {row[0] for row in rows}


async def ensure_partitions(session: AsyncSession, months: set[date]) -> None:
    """Creates the monthly partitions that are missing, in the same transaction, so an event is
    never stored without its partition. The DDL runs in a function with its owner's rights: the
    service's own role may create partitions of ``events`` and nothing else."""
    for start in sorted(months):
        await session.execute(
            text("SELECT registry_ensure_event_partition(:month)"), {"month": start}
        )


def _purpose_of(event_type: str) -> str | None:
    declared = EVENT_TYPES.get(event_type)
    return declared.purpose if declared else None


async def ingest(
    session: AsyncSession, batch: EventBatch, retention_months: int
) -> EventIngestResult:
    now = datetime.now(UTC)
    oldest = months_back(month_start(now), retention_months - 1)
    user_ids = {event.user_id for event in batch.events}
    # Restricted users' data is only stored (Art. 18): nothing new is collected about them.
    known = set(
        (
            await session.scalars(
                select(User.id)
                .where(User.id.in_(user_ids), User.status == "active", User.restricted_at.is_(None))
                # Events have no foreign key (the table is partitioned): the key-share lock makes
                # an erasure of the same user wait for this batch, or this batch see it erased.
                .with_for_update(key_share=True)
            )
        ).all()
    )
    # Analytics rests on consent (917/2014 §205): stored only while the person allows it.
    analytics = {
        event.user_id
        for event in batch.events
        if event.user_id in known and _purpose_of(event.type) == ANALYTICS
    }
    consenting = await consents.permitted_users(session, ANALYTICS, analytics)
    rejected: list[RejectedEvent] = []
    rows: list[dict[str, Any]] = []
    for index, event in enumerate(batch.events):
        occurred = event.occurred_at.astimezone(UTC)
        purpose = _purpose_of(event.type)
        if purpose is None:
            rejected.append(RejectedEvent(index=index, reason="unknown_event_type"))
        elif event.user_id not in known:
            rejected.append(RejectedEvent(index=index, reason="unknown_user"))
        elif purpose == ANALYTICS and event.user_id not in consenting:
            rejected.append(RejectedEvent(index=index, reason="no_analytics_consent"))
        elif occurred.date() < oldest:
            rejected.append(RejectedEvent(index=index, reason="too_old"))
        elif occurred > now + FUTURE_TOLERANCE:
            rejected.append(RejectedEvent(index=index, reason="in_the_future"))
        else:
            rows.append(
                {
                    "user_id": event.user_id,
                    "type": event.type,
                    "occurred_at": occurred,
                    "source": event.source,
                    "properties": event.properties,
                }
            )
    if rows:
        await ensure_partitions(session, {month_start(row["occurred_at"]) for row in rows})

        await session.execute(insert(Event), rows)
    return EventIngestResult(accepted=len(rows), rejected=rejected)


async def list_events(
    session: AsyncSession,
    principal: Principal,
    user_id: uuid.UUID,
    *,
    event_type: str | None,
    cursor: str | None,
    limit: int,
) -> EventPage:
    await users.require_user(session, user_id)
    query = select(
        Event.id, Event.type, Event.occurred_at, Event.source, Event.properties, Event.received_at
    ).where(Event.user_id == user_id)
    if event_type:
        query = query.where(Event.type == event_type)
    before = decode_cursor(cursor, CursorTime, CursorId)
    if before is not None:
        occurred, last_id = before
        query = query.where(
            or_(
                Event.occurred_at < occurred,
                and_(Event.occurred_at == occurred, Event.id < last_id),
            )
        )
    rows = (
        await session.execute(
            query.order_by(Event.occurred_at.desc(), Event.id.desc()).limit(limit + 1)
        )
    ).all()
    items = [EventRead.model_validate(row._asdict()) for row in rows[:limit]]
    await audit.log_access(
        session, principal, [user_id], ["events"], "read_events", principal.request_id
    )
    next_cursor = (
        encode_cursor([items[-1].occurred_at.isoformat(), items[-1].id])
        if len(rows) > limit
        else None
    )
    return EventPage(items=items, next_cursor=next_cursor)


async def drop_expired_partitions(
    connection: AsyncConnection, retention_months: int, today: date | None = None
) -> list[str]:
    """Drops every monthly partition wholly older than the retention period."""
    keep_from = months_back(month_start(today or datetime.now(UTC).date()), retention_months - 1)
    dropped = []
    for name in sorted(await existing_partitions(connection)):
        match = PARTITION_NAME.match(name)
        if match and date(int(match[1]), int(match[2]), 1) < keep_from:
            await connection.execute(text(f'DROP TABLE "{name}"'))
            dropped.append(name)
    return dropped
