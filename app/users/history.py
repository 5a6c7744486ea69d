"""Provenance: every change to a user's data, who made it and from which source."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.dependencies import Principal
from app.core.pagination import CursorId, decode_cursor, encode_cursor
from app.disclosures import notifications
from app.users.models import User, UserChange
from app.users.schemas import ChangePage, ChangeRead

# Provenance ------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


async def record_change(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    source: str,
    actor: str,
    category: str,
    action: str,
    changes: dict[str, tuple[Any, Any]],
    request_id: str | None,
    update_id: str | None = None,
) -> None:
    """Adds one provenance entry: which fields changed, from what to what, by whom and whence."""
    await session.execute(
        insert(UserChange).values(
            user_id=user_id,
            source=source,
            actor=actor,
            category=category,
            action=action,
            fields=sorted(changes),
            changes={
                field: {"from": _jsonable(old), "to": _jsonable(new)}
                for field, (old, new) in changes.items()
            },
            request_id=request_id,
            update_id=update_id,
        )
    )


async def list_history(
    session: AsyncSession, principal: Principal, user_id: uuid.UUID, cursor: str | None, limit: int
) -> ChangePage:
    from app.users.service import require_user

    await require_user(session, user_id)
    after = decode_cursor(cursor, CursorId)
    query = select(UserChange).where(UserChange.user_id == user_id)
    if after is not None:
        query = query.where(UserChange.id > after[0])
    rows = (await session.scalars(query.order_by(UserChange.id).limit(limit + 1))).all()
    items = [ChangeRead.model_validate(row, from_attributes=True) for row in rows[:limit]]
    await audit.log_access(
        session, principal, [user_id], ["history"], "read_history", principal.request_id
    )
    next_cursor = encode_cursor([items[-1].id]) if len(rows) > limit else None
    return ChangePage(items=items, next_cursor=next_cursor)


async def apply_register_change(
    session: AsyncSession,
    user_id: uuid.UUID,
    values: dict[str, Any],
    *,
    source: str,
    actor: str,
    action: str,
    request_id: str | None,
    update_id: str,
) -> dict[str, tuple[Any, Any]]:
    """Applies a change from a public register (DVV, Posti) with its provenance."""
    columns = [getattr(User, name) for name in values]
    current = (
        await session.execute(select(*columns).where(User.id == user_id).with_for_update())
    ).one()
    changes = {
        name: (old, new)
        for (name, new), old in zip(values.items(), current, strict=True)
        if old != new
    }
    if changes:
        await session.execute(
            update(User)
            .where(User.id == user_id)
            .values(**{k: v for k, (_, v) in changes.items()}, updated_at=func.now())
        )
        await record_change(
            session,
            user_id,
            source=source,
            actor=actor,
            category="basic_data",
            action=action,
            changes=changes,
            request_id=request_id,
            update_id=update_id,
        )
        await notifications.notify_recipients(session, user_id, "rectification", changes)
    return changes
