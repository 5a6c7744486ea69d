"""The data-subject request workflow: receipt, deadlines, extension, identity, completion."""

from __future__ import annotations

import calendar
import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.dependencies import Principal
from app.consents import service as consents
from app.consents.purposes import load_purposes
from app.consents.schemas import DecisionIn, DecisionsIn
from app.core.errors import AppError, Conflict, NotFound
from app.core.pagination import (
    CursorDate,
    CursorTime,
    CursorUuid,
    decode_cursor,
    encode_cursor,
    past,
)
from app.core.secrets import KeyedHasher
from app.requests import erasure
from app.requests.models import SubjectRequest, SubjectRequestEvent
from app.requests.schemas import (
    Completion,
    Extension,
    Rejection,
    RequestCreate,
    RequestEventRead,
    RequestPage,
    RequestRead,
    Verification,
)
from app.subject_notices import service as subject_notices
from app.users import service as users
from app.users.models import User

# Who answers a completed objection: the request's channel as the source of the prohibition.
OBJECTION_SOURCE = {
    "web": "settings_page",
    "email": "letter",
    "letter": "letter",
    "phone": "customer_service_call",
    "in_person": "customer_service_call",
}
NEEDS_IDENTITY = ("access", "portability", "erasure", "rectification", "restriction")


class RequestNotFound(NotFound):
    type = "request-not-found"
    title = "Request not found"


class RequestClosed(Conflict):
    type = "request-closed"
    title = "The request is already closed"


class TransitionRefused(AppError):
    status = 409
    type = "transition-refused"
    title = "The request cannot go that way"


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day if it has fewer days
    (received 31 January: due 28 or 29 February)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def today() -> date:
    return datetime.now(UTC).date()


async def _events(session: AsyncSession, request_id: uuid.UUID) -> list[RequestEventRead]:
    rows = await session.scalars(
        select(SubjectRequestEvent)
        .where(SubjectRequestEvent.request_id == request_id)
        .order_by(SubjectRequestEvent.id)
    )
    return [RequestEventRead.model_validate(row, from_attributes=True) for row in rows]


async def _read(session: AsyncSession, row: SubjectRequest) -> RequestRead:
    return RequestRead(
        id=row.id,
        user_id=row.user_id,
        type=row.type,
        status=row.status,
        channel=row.channel,
        details=row.details,
        received_at=row.received_at,
        due_on=row.due_on,
        overdue=row.status == "received" and row.due_on < today(),
        extended_at=row.extended_at,
        extension_reason=row.extension_reason,
        identity_verified_at=row.identity_verified_at,
        identity_verification=row.identity_verification,
        closed_at=row.closed_at,
        resolution=row.resolution,
        result=row.result,
        events=await _events(session, row.id),
    )


async def _event(
    session: AsyncSession,
    request_id: uuid.UUID,
    principal: Principal,
    action: str,
    note: str | None,
) -> None:
    await session.execute(
        insert(SubjectRequestEvent).values(
            request_id=request_id, actor=principal.actor(), action=action, note=note
        )
    )


async def create_request(
    session: AsyncSession,
    principal: Principal,
    hasher: KeyedHasher,
    user_id: uuid.UUID,
    body: RequestCreate,
) -> RequestRead:
    """Records the request. An objection takes effect for direct marketing at once (Art.
    21(3): absolute, no weighing, no DPO step in between); research follows when the DPO
    completes it (Art. 21(1) is weighed)."""
    await users.require_user(session, user_id)
    received_at = datetime.now(UTC)
    row = SubjectRequest(
        user_id=user_id,
        type=body.type,
        channel="web" if principal.is_user else body.channel,
        details=body.details,
        received_at=received_at,
        due_on=add_months(received_at.date(), 1),
        created_by=principal.actor(),
    )
    if principal.is_user:
        # Made with the person's own signed-in session.
        row.identity_verified_at = received_at
        row.identity_verification = "signed_in"
    session.add(row)
    await session.flush()
    await _event(session, row.id, principal, "received", f"{body.type} via {row.channel}")
    if row.type == "objection":
        prohibited = await _record_objection(session, hasher, principal, row, "direct_marketing")
        await _event(
            session, row.id, principal, "direct_marketing_prohibited", ", ".join(prohibited)
        )
    return await _read(session, row)


async def get_request(
    session: AsyncSession, request_id: uuid.UUID, *, lock: bool = False
) -> SubjectRequest:
    query = select(SubjectRequest).where(SubjectRequest.id == request_id)
    if lock:
        query = query.with_for_update()
    row = (await session.scalars(query)).one_or_none()
    if row is None:
        raise RequestNotFound("No such request.")
    return row


async def read_request(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID
) -> RequestRead:
    row = await get_request(session, request_id)
    await audit.log_access(
        session, principal, [row.user_id], ["requests"], "read_request", principal.request_id
    )
    return await _read(session, row)


async def user_requests(
    session: AsyncSession,
    principal: Principal,
    user_id: uuid.UUID,
    cursor: str | None = None,
    limit: int = 50,
) -> RequestPage:
    """The user's requests, oldest first, a page at a time (keyset on received_at, id)."""
    await users.require_user(session, user_id)
    await audit.log_access(
        session, principal, [user_id], ["requests"], "read_requests", principal.request_id
    )
    query = select(SubjectRequest).where(SubjectRequest.user_id == user_id)
    return await _page(session, query, SubjectRequest.received_at, CursorTime, cursor, limit)


async def _page(
    session: AsyncSession, query: Any, sort: Any, shape: Any, cursor: str | None, limit: int
) -> RequestPage:
    """A page of requests sorted by ``sort`` then id, after the cursor (keyset)."""
    after = decode_cursor(cursor, shape, CursorUuid)
    if after is not None:
        query = query.where(past(after, sort, SubjectRequest.id))
    rows = list(
        (await session.scalars(query.order_by(sort, SubjectRequest.id).limit(limit + 1))).all()
    )
    items = [await _read(session, row) for row in rows[:limit]]
    next_cursor = (
        encode_cursor([getattr(items[-1], sort.key).isoformat(), str(items[-1].id)])
        if len(rows) > limit
        else None
    )
    return RequestPage(items=items, next_cursor=next_cursor)


async def work_list(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None,
    overdue: bool | None,
    request_type: str | None,
    cursor: str | None,
    limit: int,
    reader: AsyncSession | None = None,
) -> RequestPage:
    """The page is read with ``reader`` (the replica, when it serves), logged with ``session``."""
    query = select(SubjectRequest)
    if status:
        query = query.where(SubjectRequest.status == status)
    if request_type:
        query = query.where(SubjectRequest.type == request_type)
    if overdue is True:
        query = query.where(SubjectRequest.status == "received", SubjectRequest.due_on < today())
    elif overdue is False:
        query = query.where(
            or_(SubjectRequest.status != "received", SubjectRequest.due_on >= today())
        )
    page = await _page(reader or session, query, SubjectRequest.due_on, CursorDate, cursor, limit)
    await audit.log_access(
        session,
        principal,
        {item.user_id for item in page.items},
        ["requests"],
        "request_work_list",
        principal.request_id,
    )
    return page


async def _open(session: AsyncSession, request_id: uuid.UUID) -> SubjectRequest:
    row = await get_request(session, request_id, lock=True)
    if row.status != "received":
        raise RequestClosed(f"The request is {row.status}.")
    return row


async def extend(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, body: Extension
) -> RequestRead:
    row = await _open(session, request_id)
    if row.extended_at is not None:
        raise TransitionRefused("The deadline can be extended once only.")
    first_due = add_months(row.received_at.date(), 1)
    if today() > first_due:
        raise TransitionRefused(
            "An extension must be told to the person within the first month (Art. 12(3))."
        )
    # Counted from receipt, so month ends fall right (31 January + 3 months: 30 April).
    row.due_on = add_months(row.received_at.date(), 1 + body.months)
    row.extended_at = datetime.now(UTC)
    row.extension_reason = body.reason
    await _event(session, row.id, principal, "extended", f"+{body.months} months: {body.reason}")
    # Art. 12(3): the person is told of the extension and its reasons within the first month.
    await subject_notices.write_notice(
        session,
        row.user_id,
        "request_extended",
        months=body.months,
        due_on=row.due_on.isoformat(),
        reason=body.reason,
        request_id=row.id,
    )
    return await _read(session, row)


async def verify_identity(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, body: Verification
) -> RequestRead:
    row = await _open(session, request_id)
    row.identity_verified_at = datetime.now(UTC)
    row.identity_verification = body.method
    await _event(session, row.id, principal, "identity_verified", body.method)
    return await _read(session, row)


async def reject(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, body: Rejection
) -> RequestRead:
    row = await _open(session, request_id)
    row.status = "rejected"
    row.closed_at = datetime.now(UTC)
    row.resolution = body.reason
    await _event(session, row.id, principal, "rejected", body.reason)
    return await _read(session, row)


async def _record_objection(
    session: AsyncSession,
    hasher: KeyedHasher,
    principal: Principal,
    row: SubjectRequest,
    kind: str,
) -> list[str]:
    """Prohibits what an objection of this ``kind`` covers (``direct_marketing`` or
    ``research``, by ``rules.objection_scope``), as decisions with a receipt in the person's
    language. Returns the purposes prohibited."""
    catalogue = await load_purposes(session)
    objected = next(
        (
            p
            for p in catalogue
            if (p.direct_marketing if kind == "direct_marketing" else p.category == kind)
            and p.legal_basis not in ("contract", "legal_obligation")
        ),
        None,
    )
    if objected is None:
        return []
    language = await session.scalar(select(User.language).where(User.id == row.user_id))
    body = DecisionsIn(
        source=OBJECTION_SOURCE[row.channel],
        language=language or "fi",
        decisions=[
            DecisionIn(
                purpose=objected.code,
                channel=None,
                decision="prohibited",
                notice_version=objected.current_version,
            )
        ],
    )
    recorded = await consents.record_decisions(
        session, hasher, principal, row.user_id, body, user_agent=None, client_address=None
    )
    return sorted({d.purpose for d in recorded.decisions})


async def complete(
    session: AsyncSession,
    principal: Principal,
    hasher: KeyedHasher,
    request_id: uuid.UUID,
    body: Completion,
) -> RequestRead:
    """Completes the request; erasure, restriction and objection are carried out here."""
    row = await _open(session, request_id)
    if row.type in NEEDS_IDENTITY and row.identity_verified_at is None:
        raise TransitionRefused("Verify the requester's identity first.")
    if row.type == "erasure":
        report = await erasure.erase_user(session, principal, row.user_id)
        await session.refresh(row)  # the erasure cleared the requests' free text
        row.result = report.model_dump(mode="json")
    elif row.type == "restriction":
        await erasure.restrict(session, principal, row.user_id)
        row.result = {"restricted": True}
    elif row.type == "objection":
        # Direct marketing was prohibited when the request came in; research now, weighed.
        marketing = {p.code for p in await load_purposes(session) if p.direct_marketing}
        research = await _record_objection(session, hasher, principal, row, "research")
        row.result = {"prohibited": sorted(marketing | set(research))}
    row.status = "completed"
    row.closed_at = datetime.now(UTC)
    # An erasure keeps no free text: a note could name the person the erasure just removed.
    note = None if row.type == "erasure" else body.note
    row.resolution = note
    await _event(session, row.id, principal, "completed", note)
    return await _read(session, row)
