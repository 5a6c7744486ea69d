"""Writing to the access log: every read of personal data by staff, the DPO or a partner."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import entries
from app.audit.models import AccessLogEntry
from app.auth.dependencies import Principal
from app.users.models import User


async def log_access(
    session: AsyncSession,
    principal: Principal,
    user_ids: Iterable[uuid.UUID],
    categories: Iterable[str],
    operation: str,
    request_id: str | None,
    *,
    include_own: bool = False,
    subject_refs: Iterable[uuid.UUID] | None = None,
) -> None:
    """Records that ``principal`` read these users' data, in the request's transaction.
    A user reading their own data is not logged, unless ``include_own`` (exports). Callers that
    already hold the users' ``subject_refs`` pass them and save a query."""
    ids = list(user_ids)
    if (principal.is_user and not include_own) or not ids:
        return
    refs = (
        list(subject_refs)
        if subject_refs is not None
        else (await session.scalars(select(User.subject_ref).where(User.id.in_(ids)))).all()
    )
    now = datetime.now(UTC)
    kinds = sorted(set(categories))
    await entries.append(
        session,
        AccessLogEntry,
        [
            {
                "accessed_at": now,
                "subject_ref": ref,
                "actor": principal.actor(),
                "client_id": principal.client_id,
                "role": principal.role,
                "categories": kinds,
                "operation": operation,
                "request_id": request_id,
                "correlation_id": principal.correlation_id,
            }
            for ref in refs
        ],
    )
