"""Data-subject requests, the access export and portability, restriction."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.dependencies import Principal, UserRef, require, resolve_user_id
from app.core.errors import Forbidden, problem_responses
from app.core.pagination import Cursor, limit_query
from app.db.replica import BulkSession, export_source
from app.db.session import Database, Session
from app.idempotency.service import IdempotentRoute
from app.requests import erasure, export, service
from app.requests.downloads import ExportDownload
from app.requests.schemas import (
    Completion,
    Extension,
    Rejection,
    RequestCreate,
    RequestPage,
    RequestRead,
    Verification,
)
from app.users import service as users

router = APIRouter(tags=["data-subject requests"], route_class=IdempotentRoute)

Requester = Annotated[Principal, require("requests:write")]
Manager = Annotated[Principal, require("requests:manage", clients_only=True)]
Reader = Annotated[Principal, require("users:read")]
ERRORS = problem_responses(401, 403, 404, 409, 422)


@router.post(
    "/v1/users/{user_ref}/requests",
    response_model=RequestRead,
    status_code=status.HTTP_201_CREATED,
    responses=ERRORS,
)
async def make_request(
    user_ref: UserRef, body: RequestCreate, caller: Requester, session: Session, request: Request
) -> RequestRead:
    """Make a request (access, portability, rectification, erasure, restriction, objection), by
    the user or by staff on their behalf noting the channel; due in one calendar month (scope
    `requests:write`). An objection prohibits all direct marketing at once, with a receipt in
    the person's language; market research follows when the DPO completes it."""
    return await service.create_request(
        session, caller, request.app.state.auth.hasher, resolve_user_id(caller, user_ref), body
    )


@router.get("/v1/users/{user_ref}/requests", response_model=RequestPage, responses=ERRORS)
async def list_user_requests(
    user_ref: UserRef,
    caller: Requester,
    session: Session,
    cursor: Cursor = None,
    limit: int = limit_query(),
) -> RequestPage:
    """The user's requests and how each was handled, oldest first, a page at a time (scope
    `requests:write`)."""
    return await service.user_requests(
        session, caller, resolve_user_id(caller, user_ref), cursor, limit
    )


@router.get("/v1/requests", response_model=RequestPage, responses=ERRORS)
async def work_list(
    caller: Manager,
    session: Session,
    reader: BulkSession,
    status_: Annotated[
        Literal["received", "completed", "rejected"] | None, Query(alias="status")
    ] = None,
    overdue: Annotated[bool | None, Query(description="Only open ones past due.")] = None,
    type_: Annotated[
        Literal["access", "portability", "rectification", "erasure", "restriction", "objection"]
        | None,
        Query(alias="type"),
    ] = None,
    cursor: Cursor = None,
    limit: int = limit_query(50, 200),
) -> RequestPage:
    """The DPO's work list, soonest due first (scope `requests:manage`)."""
    return await service.work_list(
        session,
        caller,
        status=status_,
        overdue=overdue,
        request_type=type_,
        cursor=cursor,
        limit=limit,
        reader=reader,
    )


@router.get("/v1/requests/{request_id}", response_model=RequestRead, responses=ERRORS)
async def read_request(request_id: uuid.UUID, caller: Manager, session: Session) -> RequestRead:
    """One request with every transition (scope `requests:manage`)."""
    return await service.read_request(session, caller, request_id)


@router.post("/v1/requests/{request_id}/extend", response_model=RequestRead, responses=ERRORS)
async def extend_request(
    request_id: uuid.UUID, body: Extension, caller: Manager, session: Session
) -> RequestRead:
    """Extend the deadline once, by up to two months, with a reason, within the first month
    (scope `requests:manage`)."""
    return await service.extend(session, caller, request_id, body)


@router.post("/v1/requests/{request_id}/verify", response_model=RequestRead, responses=ERRORS)
async def verify_requester_identity(
    request_id: uuid.UUID, body: Verification, caller: Manager, session: Session
) -> RequestRead:
    """Record that the requester's identity was verified (scope `requests:manage`)."""
    return await service.verify_identity(session, caller, request_id, body)


@router.post("/v1/requests/{request_id}/complete", response_model=RequestRead, responses=ERRORS)
async def complete_request(
    request_id: uuid.UUID, body: Completion, caller: Manager, session: Session, request: Request
) -> RequestRead:
    """Complete the request. An erasure erases (the result lists what was erased and what was
    kept, why and until when), a restriction restricts, an objection prohibits all marketing and
    research (scope `requests:manage`)."""
    return await service.complete(session, caller, request.app.state.auth.hasher, request_id, body)


@router.post("/v1/requests/{request_id}/reject", response_model=RequestRead, responses=ERRORS)
async def reject_request(
    request_id: uuid.UUID, body: Rejection, caller: Manager, session: Session
) -> RequestRead:
    """Refuse the request with a reason (scope `requests:manage`)."""
    return await service.reject(session, caller, request_id, body)


@router.delete(
    "/v1/users/{user_ref}/restriction",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=ERRORS,
)
async def lift_restriction(user_ref: UserRef, caller: Manager, session: Session) -> Response:
    """Lift a restriction of processing (Art. 18(3): tell the person first) (scope
    `requests:manage`)."""
    await erasure.lift_restriction(session, caller, resolve_user_id(caller, user_ref))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


ExportKind = Annotated[
    Literal["access", "portability"],
    Query(description="`access` (Art. 15, everything) or `portability` (Art. 20)."),
]
ExportRequestId = Annotated[
    uuid.UUID | None, Query(description="The data-subject request this answers.")
]
ExportIdentityCode = Annotated[
    Literal["masked", "full"], Query(description="`full` for the DPO only.")
]


@router.get(
    "/v1/users/{user_ref}/export",
    responses={
        200: {
            "description": "The export as one JSON document, streamed.",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ExportDocument"}}
            },
        },
        **problem_responses(401, 403, 404, 422, 429),
    },
)
async def export_user(
    user_ref: UserRef,
    caller: Reader,
    session: Session,
    request: Request,
    kind: ExportKind = "access",
    request_id: ExportRequestId = None,
    identity_code: ExportIdentityCode = "masked",
    format: Annotated[Literal["json", "zip"], Query(include_in_schema=False)] = "json",
) -> Response:
    """Everything the registry holds on the user as one JSON document, streamed, with the Art.
    15(1) items (scope `users:read`: the user; for other tokens also `requests:manage`, the
    DPO). Every export is recorded in the access log; one per user runs at a time (429)."""
    return await _export(
        request, session, caller, user_ref, kind, request_id, identity_code, zipped=format == "zip"
    )


@router.get(
    "/v1/users/{user_ref}/export.zip",
    response_class=Response,
    responses={
        200: {
            "description": "The export as a zip: the JSON document, a CSV per category and a "
            "summary page in the person's language.",
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        },
        **problem_responses(401, 403, 404, 422, 429),
    },
)
async def export_user_zip(
    user_ref: UserRef,
    caller: Reader,
    session: Session,
    request: Request,
    kind: ExportKind = "access",
    request_id: ExportRequestId = None,
    identity_code: ExportIdentityCode = "masked",
) -> Response:
    """The same export as a zip file (scope `users:read`, as for the JSON export)."""
    return await _export(
        request, session, caller, user_ref, kind, request_id, identity_code, zipped=True
    )


async def _export(
    request: Request,
    session: AsyncSession,
    caller: Principal,
    user_ref: uuid.UUID | Literal["me"],
    kind: str,
    request_id: uuid.UUID | None,
    identity_code: str,
    *,
    zipped: bool,
) -> Response:
    user_id = resolve_user_id(caller, user_ref)
    if not caller.is_user and "requests:manage" not in caller.scopes:
        # Staff answer access requests through the DPO: an export holds everything, including
        # what an erasure keeps restricted under a legal hold.
        raise Forbidden("Exports are for the user themselves or the DPO (`requests:manage`).")
    await users.require_user(session, user_id)
    if identity_code == "full" and "identity-code:read" not in caller.scopes:
        raise Forbidden("Only the DPO (`identity-code:read`) may export the full identity code.")
    if request_id is not None:
        linked = await service.get_request(session, request_id)
        if linked.user_id != user_id or linked.type not in ("access", "portability"):
            raise service.RequestNotFound("No such access or portability request for this user.")
    await audit.log_access(
        session,
        caller,
        [user_id],
        ["all"],
        f"export:{kind}:{request_id or '-'}",
        caller.request_id,
        include_own=True,
    )
    settings, cipher = request.app.state.settings, request.app.state.identity_codes
    producer = export.zip_chunks if zipped else export.json_chunks

    def produce(database: Database) -> AsyncIterator[bytes]:
        return producer(
            database,
            settings,
            cipher,
            user_id,
            kind=kind,
            full_identity_code=identity_code == "full",
            signers=request.app.state.signers,
        )

    # The DPO's exports read from the replica while it keeps up; the person's own, from the
    # primary (they see what they just changed).
    source = export_source(request, own=caller.is_user)
    return ExportDownload(
        lambda: source.chunks(produce),
        slots=request.app.state.export_slots,
        locks=request.app.state.export_locks,
        user_id=user_id,
        media_type="application/zip" if zipped else "application/json",
        filename=f"export-{user_id.hex[:8]}.{'zip' if zipped else 'json'}",
    )
