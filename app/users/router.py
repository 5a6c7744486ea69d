"""The users API: registration, profiles, closure, listing and search, identity codes, history."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status

from app.audit import service as audit
from app.auth.addresses import person_address
from app.auth.dependencies import Claimed, Principal, UserRef, claim, require, resolve_user_id
from app.core import ratelimit
from app.core.conditional import ETAG_HEADER, LOCATION_HEADER, IfMatch, tag
from app.core.errors import problem_responses
from app.core.pagination import Cursor, limit_query
from app.core.ratelimit import RATE_LIMIT_HEADERS
from app.db.replica import BulkSession
from app.db.session import Session, get_database
from app.idempotency.service import IdempotentRoute
from app.users import history, identity_codes, service
from app.users.identity_codes import IdentityCodeCipher
from app.users.schemas import (
    ChangePage,
    CompanyUserRead,
    IdentityCodeRead,
    IdentityCodeSet,
    IdentityCodeStatus,
    PrivateUserRead,
    UserCreate,
    UserPage,
    UserSearch,
    UserSearchResult,
    UserUpdate,
)

router = APIRouter(prefix="/v1/users", tags=["users"], route_class=IdempotentRoute)

UserOut = PrivateUserRead | CompanyUserRead
Registrar = Annotated[Principal, require("users:register")]
Reader = Annotated[Principal, require("users:read")]
# The hot read checks the caller's standing in its one statement (app/users/service.py).
ClaimedReader = Annotated[Claimed, claim("users:read")]
Writer = Annotated[Principal, require("users:write")]
StaffReader = Annotated[Principal, require("users:read", clients_only=True)]
CodeWriter = Annotated[Principal, require("identity-code:write")]
CodeReader = Annotated[Principal, require("identity-code:read")]


def _cipher(request: Request) -> IdentityCodeCipher:
    cipher = request.app.state.identity_codes
    assert isinstance(cipher, IdentityCodeCipher)
    return cipher


def _with_etag(response: Response, user: UserOut) -> UserOut:
    return tag(response, user)


@router.post(
    "",
    response_model=UserOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        201: {"headers": {**ETAG_HEADER, **LOCATION_HEADER, **RATE_LIMIT_HEADERS}},
        **problem_responses(401, 403, 409, 422, 429),
    },
)
async def register_user(
    body: UserCreate, caller: Registrar, session: Session, request: Request, response: Response
) -> UserOut:
    """Register a private or company user with a username and password (scope
    `users:register`, the frontend, which passes the person's address in `X-Forwarded-For`;
    throttled per address and per client)."""
    address = person_address(request, from_frontend=caller.role == "frontend")
    user = await service.register(session, request.app.state.auth, caller, body, address)
    response.headers["Location"] = f"/v1/users/{user.id}"
    response.headers.update(ratelimit.headers(ratelimit.counted(session.info)))
    return _with_etag(response, user)


@router.get("", response_model=UserPage, responses=problem_responses(400, 401, 403, 422))
async def list_users(
    caller: StaffReader,
    session: Session,
    reader: BulkSession,
    cursor: Cursor = None,
    limit: int = limit_query(50, 200),
    kind: Annotated[Literal["private", "company"] | None, Query()] = None,
    email: Annotated[str | None, Query(max_length=254, description="Exact e-mail.")] = None,
    business_id: Annotated[str | None, Query(max_length=9, description="Exact Y-tunnus.")] = None,
    name_prefix: Annotated[
        str | None,
        Query(min_length=1, max_length=100, description="Start of a first, last or company name."),
    ] = None,
) -> UserPage:
    """List and filter users, oldest first, by cursor (scope `users:read`, staff tokens).
    Every user on the page is recorded in the access log."""
    return await service.list_users(
        session,
        caller,
        kind=kind,
        email=email,
        business_id=business_id,
        name_prefix=name_prefix,
        cursor=cursor,
        limit=limit,
        reader=reader,
    )


@router.post("/search", response_model=UserSearchResult, responses=problem_responses(401, 403, 422))
async def search_users(
    body: UserSearch, caller: StaffReader, session: Session, request: Request
) -> UserSearchResult:
    """Find a user by identity code, sent in the body so it never appears in a URL (scope
    `users:read`, staff tokens)."""
    found = await identity_codes.find_by_identity_code(
        session, caller, _cipher(request), body.identity_code
    )
    return UserSearchResult(items=found)


@router.get("/{user_ref}", response_model=UserOut, responses=problem_responses(401, 403, 404))
async def read_user(
    user_ref: UserRef, caller: ClaimedReader, request: Request, response: Response
) -> UserOut:
    """A user's profile, with a strong ETag (scope `users:read`; a user token only its own, or
    `me`). Staff reads are recorded in the access log."""
    resolve_user_id(caller.principal, user_ref)
    user = await service.read_user(get_database(request), caller, request)
    return _with_etag(response, user)


@router.patch(
    "/{user_ref}", response_model=UserOut, responses=problem_responses(401, 403, 404, 409, 412, 422)
)
async def update_user(
    user_ref: UserRef,
    body: UserUpdate,
    caller: Writer,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
) -> UserOut:
    """Change a user's profile; only the fields sent change (scope `users:write`)."""
    user = await service.update_user(
        session, caller, resolve_user_id(caller, user_ref), body, if_match
    )
    await audit.log_access(
        session, caller, [user.id], ["basic_data"], "update_user", caller.request_id
    )
    return _with_etag(response, user)


@router.delete(
    "/{user_ref}", response_model=UserOut, responses=problem_responses(401, 403, 404, 409)
)
async def close_account(
    user_ref: UserRef, caller: Writer, session: Session, response: Response
) -> UserOut:
    """Close the account: sign-in refused and tokens revoked; the data stays until erased by a
    data-subject request (scope `users:write`)."""
    user = await service.close_account(session, caller, resolve_user_id(caller, user_ref))
    await audit.log_access(
        session, caller, [user.id], ["basic_data"], "close_account", caller.request_id
    )
    return _with_etag(response, user)


@router.put(
    "/{user_ref}/identity-code",
    response_model=IdentityCodeStatus,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def set_identity_code(
    user_ref: UserRef,
    body: IdentityCodeSet,
    caller: CodeWriter,
    session: Session,
    request: Request,
) -> IdentityCodeStatus:
    """Store a private user's identity code after strong identification, encrypted (scope
    `identity-code:write`). Answers with the masked code only."""
    return await identity_codes.set_identity_code(
        session, caller, _cipher(request), resolve_user_id(caller, user_ref), body
    )


@router.get(
    "/{user_ref}/identity-code",
    response_model=IdentityCodeRead,
    responses=problem_responses(401, 403, 404),
)
async def read_identity_code(
    user_ref: UserRef, caller: CodeReader, session: Session, request: Request
) -> IdentityCodeRead:
    """The full identity code (scope `identity-code:read`, the DPO); recorded in the access log."""
    return await identity_codes.read_identity_code(
        session, caller, _cipher(request), resolve_user_id(caller, user_ref)
    )


@router.get(
    "/{user_ref}/history",
    response_model=ChangePage,
    responses=problem_responses(400, 401, 403, 404),
)
async def read_history(
    user_ref: UserRef,
    caller: Reader,
    session: Session,
    cursor: Cursor = None,
    limit: int = limit_query(50, 200),
) -> ChangePage:
    """Every change to the user's data with who made it and its source: the person, staff, DVV,
    Posti or an import (scope `users:read`)."""
    return await history.list_history(
        session, caller, resolve_user_id(caller, user_ref), cursor, limit
    )
