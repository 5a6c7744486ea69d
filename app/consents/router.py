"""Purposes, permissions and prohibitions, consent receipts and audiences."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Path, Request, Response, status

from app.auth.dependencies import Principal, UserRef, require, resolve_user_id
from app.consents import audiences, purposes, receipts, service
from app.consents.schemas import (
    AudiencePage,
    Channel,
    ConsentReceipt,
    DecisionsIn,
    HistoryPage,
    Permissions,
    PurposeCreate,
    PurposeList,
    PurposeRead,
    PurposeUpdate,
    PurposeVersionRead,
    ReconsentPage,
    RecordedDecisions,
)
from app.core.conditional import IfMatch, tag, tagged
from app.core.errors import problem_responses
from app.core.pagination import Cursor, limit_query
from app.db.replica import BulkSession
from app.db.session import Session
from app.disclosures import releases
from app.idempotency.service import IdempotentRoute

router = APIRouter(tags=["permissions"], route_class=IdempotentRoute)

Reader = Annotated[Principal, require("consents:read")]
Writer = Annotated[Principal, require("consents:write")]
PurposeAdmin = Annotated[Principal, require("purposes:write")]
AudienceReader = Annotated[Principal, require("audiences:read", clients_only=True)]
Code = Annotated[str, Path(max_length=64, description="Purpose code.")]


@router.get("/v1/purposes", response_model=PurposeList, responses=problem_responses(401, 403))
async def list_purposes(caller: Reader, session: Session) -> PurposeList:
    """The purpose catalogue with each purpose's notice in force (scope `consents:read`)."""
    return await purposes.list_purposes(session)


@router.post(
    "/v1/purposes",
    response_model=PurposeRead,
    status_code=status.HTTP_201_CREATED,
    responses={**tagged(201, location=True), **problem_responses(401, 403, 409, 422)},
)
async def create_purpose(
    body: PurposeCreate, caller: PurposeAdmin, session: Session, response: Response
) -> PurposeRead:
    """Add a purpose with its first notice version (scope `purposes:write`, the DPO)."""
    purpose = await purposes.create_purpose(session, caller, body)
    response.headers["Location"] = f"/v1/purposes/{purpose.code}"
    return tag(response, purpose)


@router.get(
    "/v1/purposes/{code}/reconsent",
    response_model=ReconsentPage,
    responses=problem_responses(400, 401, 403, 404),
)
async def list_reconsent(
    code: str,
    caller: Annotated[Principal, require("consents:read", clients_only=True)],
    session: Session,
    cursor: Cursor = None,
    limit: int = limit_query(),
) -> ReconsentPage:
    """Users whose consent to this purpose was given under a notice version older than its last
    material change: it no longer counts until they decide again (`reconsent_required`), so the
    frontend asks them (scope `consents:read`, client tokens)."""
    return await purposes.reconsent(session, code, cursor, limit)


@router.get(
    "/v1/purposes/{code}",
    response_model=PurposeRead,
    responses={**tagged(200), **problem_responses(401, 403, 404)},
)
async def read_purpose(
    code: Code, caller: Reader, session: Session, response: Response
) -> PurposeRead:
    """One purpose, with its ETag (scope `consents:read`)."""
    return tag(response, await purposes.read_purpose(session, code))


@router.patch(
    "/v1/purposes/{code}",
    response_model=PurposeRead,
    responses={**tagged(200), **problem_responses(401, 403, 404, 412, 422)},
)
async def update_purpose(
    code: Code,
    body: PurposeUpdate,
    caller: PurposeAdmin,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
) -> PurposeRead:
    """Change a purpose; a new notice text, legal basis or channel list makes a new version and
    the old ones stay readable (scope `purposes:write`)."""
    return tag(response, await purposes.update_purpose(session, caller, code, body, if_match))


@router.get(
    "/v1/purposes/{code}/versions/{version}",
    response_model=PurposeVersionRead,
    responses=problem_responses(401, 403, 404),
)
async def read_purpose_version(
    code: Code, version: Annotated[int, Path(ge=1)], caller: Reader, session: Session
) -> PurposeVersionRead:
    """Any version of a purpose's notice, forever (scope `consents:read`)."""
    return await purposes.get_version(session, code, version)


@router.post(
    "/v1/users/{user_ref}/permissions",
    response_model=RecordedDecisions,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def record_decisions(
    user_ref: UserRef,
    body: DecisionsIn,
    caller: Writer,
    session: Session,
    request: Request,
    user_agent: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> RecordedDecisions:
    """Record one or many decisions (grant, withdraw, prohibit, allow) in one transaction, with
    the notice version shown; answers with a receipt id (scope `consents:write`). Withdrawing is
    one call, like granting, and applies to the next audience read."""
    return await service.record_decisions(
        session,
        request.app.state.auth.hasher,
        caller,
        resolve_user_id(caller, user_ref),
        body,
        user_agent=user_agent,
        client_address=request.client.host if request.client else None,
    )


@router.get(
    "/v1/users/{user_ref}/permissions",
    response_model=Permissions,
    responses=problem_responses(401, 403, 404),
)
async def read_permissions(user_ref: UserRef, caller: Reader, session: Session) -> Permissions:
    """The effective state for every purpose and channel, with the reason and the legal basis
    (scope `consents:read`)."""
    return await service.effective_permissions(session, caller, resolve_user_id(caller, user_ref))


@router.get(
    "/v1/users/{user_ref}/permissions/history",
    response_model=HistoryPage,
    responses=problem_responses(400, 401, 403, 404),
)
async def read_permission_history(
    user_ref: UserRef,
    caller: Reader,
    session: Session,
    cursor: Cursor = None,
    limit: int = limit_query(100, 500),
) -> HistoryPage:
    """Every decision ever recorded, oldest first (scope `consents:read`)."""
    return await service.history(session, caller, resolve_user_id(caller, user_ref), cursor, limit)


@router.get(
    "/v1/consent-receipts/{receipt_id}",
    response_model=ConsentReceipt,
    responses=problem_responses(401, 403, 404),
)
async def read_receipt(
    receipt_id: uuid.UUID, caller: Reader, session: Session, request: Request
) -> ConsentReceipt:
    """A consent receipt (Kantara v1.1 fields, ISO/IEC TS 27560 record), naming the exact notice
    version and its text hash (scope `consents:read`: the user's own, or the DPO)."""
    return await receipts.read_receipt(session, caller, request.app.state.settings, receipt_id)


@router.get(
    "/v1/audiences/{purpose}",
    response_model=AudiencePage,
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def read_audience(
    purpose: Code,
    channel: Channel,
    caller: AudienceReader,
    session: Session,
    reader: BulkSession,
    cursor: Cursor = None,
    limit: int = limit_query(100, 1000),
) -> AudiencePage:
    """Users who may be contacted for the purpose on the channel, with only the contact field the
    channel needs, by cursor (scope `audiences:read`). A partner's read is a disclosure: its
    recipient must be in the EU/EEA and allowed the purpose, and every member is logged."""
    if caller.role == "partner":
        return await releases.audience_for_partner(
            session, caller, purpose, channel, cursor, limit, reader
        )
    return await audiences.audience_page(session, caller, purpose, channel, cursor, limit, reader)
