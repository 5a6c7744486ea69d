"""Recipients, data releases, the disclosure log, its checkpoints, and Art. 19 notifications."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.auth.dependencies import Principal, UserRef, require, resolve_user_id
from app.core.conditional import LOCATION_HEADER, IfMatch, tag, tagged
from app.core.errors import problem_responses
from app.core.pagination import Cursor, limit_query
from app.db.replica import BulkSession
from app.db.session import Session
from app.disclosures import notifications, releases, service
from app.disclosures.schemas import (
    DisclosurePage,
    ExternalDisclosure,
    ExternalDisclosureResult,
    NotificationList,
    RecipientCreate,
    RecipientCreated,
    RecipientList,
    RecipientRead,
    RecipientUpdate,
    ReleaseRequest,
    ReleaseResult,
    WebhookSecretRotated,
)
from app.idempotency.service import IdempotentRoute

router = APIRouter(tags=["disclosures"], route_class=IdempotentRoute)

RecipientAdmin = Annotated[Principal, require("recipients:write")]
LogReader = Annotated[Principal, require("disclosures:read")]
DpoLogReader = Annotated[Principal, require("disclosures:read", clients_only=True)]
Partner = Annotated[Principal, require("disclosures:write", clients_only=True)]
ExternalLogger = Annotated[Principal, require("disclosure-log:write", clients_only=True)]


@router.get("/v1/recipients", response_model=RecipientList, responses=problem_responses(401, 403))
async def list_recipients(caller: RecipientAdmin, session: Session) -> RecipientList:
    """Every recipient of disclosures (scope `recipients:write`, the DPO)."""
    return await service.list_recipients(session)


@router.post(
    "/v1/recipients",
    response_model=RecipientCreated,
    status_code=status.HTTP_201_CREATED,
    responses={201: {"headers": LOCATION_HEADER}, **problem_responses(401, 403, 422)},
)
async def create_recipient(
    body: RecipientCreate,
    caller: RecipientAdmin,
    session: Session,
    request: Request,
    response: Response,
) -> RecipientCreated:
    """Add a group company or partner, its purposes and the clients that act for it; the answer
    shows its webhook secret once (scope `recipients:write`). A webhook address must be https to
    a public host, without user info (422 otherwise)."""
    created = await service.create_recipient(
        session, request.app.state.auth.hasher, body, request.app.state.webhook_policy
    )
    response.headers["Location"] = f"/v1/recipients/{created.id}"
    return created


@router.get(
    "/v1/recipients/{recipient_id}",
    response_model=RecipientRead,
    responses={**tagged(200), **problem_responses(401, 403, 404)},
)
async def read_recipient(
    recipient_id: uuid.UUID, caller: RecipientAdmin, session: Session, response: Response
) -> RecipientRead:
    """One recipient, with its ETag (scope `recipients:write`)."""
    return tag(response, await service.read_recipient(session, recipient_id))


@router.patch(
    "/v1/recipients/{recipient_id}",
    response_model=RecipientRead,
    responses={**tagged(200), **problem_responses(401, 403, 404, 412, 422)},
)
async def update_recipient(
    recipient_id: uuid.UUID,
    body: RecipientUpdate,
    caller: RecipientAdmin,
    session: Session,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> RecipientRead:
    """Change a recipient (scope `recipients:write`)."""
    updated = await service.update_recipient(
        session,
        request.app.state.auth.hasher,
        recipient_id,
        body,
        request.app.state.webhook_policy,
        if_match,
    )
    return tag(response, updated)


@router.post(
    "/v1/recipients/{recipient_id}/webhook-secret",
    response_model=WebhookSecretRotated,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404),
)
async def rotate_webhook_secret(
    recipient_id: uuid.UUID, caller: RecipientAdmin, session: Session, request: Request
) -> WebhookSecretRotated:
    """Give the recipient a new Standard Webhooks signing secret, shown once; for a day (or
    `REGISTRY_WEBHOOK_SECRET_OVERLAP_HOURS`) deliveries are signed with the old one too (scope
    `recipients:write`)."""
    settings = request.app.state.settings
    return await service.rotate_webhook_secret(
        session,
        request.app.state.auth.hasher,
        recipient_id,
        timedelta(hours=settings.webhook_secret_overlap_hours),
    )


@router.post(
    "/v1/disclosures",
    response_model=ReleaseResult,
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def release_data(body: ReleaseRequest, caller: Partner, session: Session) -> ReleaseResult:
    """Receive users' data for a purpose (scope `disclosures:write`, a partner's client). Only
    users and categories the recipient is permitted are returned, each logged in the same
    transaction; the rest are listed as `not_permitted`. Recipients outside the EU/EEA get 403."""
    return await releases.release(session, caller, body)


@router.post(
    "/v1/disclosure-log",
    response_model=ExternalDisclosureResult,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 422),
)
async def log_external_disclosure(
    body: ExternalDisclosure, caller: ExternalLogger, session: Session
) -> ExternalDisclosureResult:
    """Log a disclosure made outside the API, e.g. to a collection agency or an authority
    (scope `disclosure-log:write`, staff)."""
    return ExternalDisclosureResult(logged=await releases.log_external(session, caller, body))


@router.get(
    "/v1/disclosures",
    response_model=DisclosurePage,
    responses=problem_responses(400, 401, 403, 422),
)
async def list_disclosures(
    caller: DpoLogReader,
    session: BulkSession,
    recipient: Annotated[uuid.UUID | None, Query(description="Only this recipient.")] = None,
    since: Annotated[datetime | None, Query(alias="from", description="From (inclusive).")] = None,
    until: Annotated[datetime | None, Query(alias="to", description="To (exclusive).")] = None,
    cursor: Cursor = None,
    limit: int = limit_query(100, 1000),
) -> DisclosurePage:
    """The disclosure log, by recipient and time, by cursor (scope `disclosures:read`, the DPO)."""
    return await service.list_disclosures(
        session, recipient_id=recipient, since=since, until=until, cursor=cursor, limit=limit
    )


@router.get(
    "/v1/users/{user_ref}/disclosures",
    response_model=DisclosurePage,
    responses=problem_responses(400, 401, 403, 404),
)
async def user_disclosures(
    user_ref: UserRef,
    caller: LogReader,
    session: Session,
    cursor: Cursor = None,
    limit: int = limit_query(100, 1000),
) -> DisclosurePage:
    """Who received the user's data, when and why (scope `disclosures:read`: the user, the DPO)."""
    return await service.user_disclosures(
        session, caller, resolve_user_id(caller, user_ref), cursor, limit
    )


@router.get(
    "/v1/users/{user_ref}/notifications",
    response_model=NotificationList,
    responses=problem_responses(401, 403, 404),
)
async def user_notifications(
    user_ref: UserRef, caller: LogReader, session: Session
) -> NotificationList:
    """The Art. 19 notifications sent to recipients about the user (scope `disclosures:read`)."""
    user_id = resolve_user_id(caller, user_ref)
    await service.user_disclosures(session, caller, user_id, None, 1)  # 404 if unknown; logged
    return await notifications.list_notifications(session, user_id)
