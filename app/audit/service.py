"""Writing to the access log: every read of personal data by staff, the DPO or a partner."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import String, insert, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AccessLogEntry
from app.auth.dependencies import Principal
from app.users.models import User

# The register description's categories of personal data (section 5).
CATEGORIES = (
    "basic_data",
    "identity_code",
    "contracts",
    "billing",
    "debt_collection",
    "credentials",
    "permissions",
    "interests",
    "events",
    "history",
    "disclosures",
)
_COLUMNS = ["subject_ref", "actor", "client_id", "role", "categories", "operation", "request_id"]


async def log_access(
    session: AsyncSession,
    principal: Principal,
    user_ids: Iterable[uuid.UUID],
    categories: Iterable[str],
    operation: str,
    request_id: str | None,
) -> None:
    """Records that ``principal`` read these users' data, in the request's transaction.
    A user reading their own data is not logged."""
    ids = list(user_ids)
    if principal.is_user or not ids:
        return
    rows = select(
        User.subject_ref,
        literal(principal.actor(), String()),
        literal(principal.client_id, String()),
        literal(principal.role, String()),
        literal(sorted(set(categories)), ARRAY(String())),
        literal(operation, String()),
        literal(request_id, String()),
    ).where(User.id.in_(ids))
    await session.execute(insert(AccessLogEntry).from_select(_COLUMNS, rows))
