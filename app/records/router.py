"""Contracts, billing, debt collection and interests under /v1/users/{user}/..."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Response, status

from app.auth.dependencies import Principal, UserRef, require, resolve_user_id
from app.core.conditional import IfMatch, tag, tagged
from app.core.errors import problem_responses
from app.db.session import Session
from app.records import service
from app.records.schemas import (
    BillingRead,
    BillingWrite,
    CollectionCreate,
    CollectionList,
    CollectionRead,
    CollectionUpdate,
    ContractCreate,
    ContractList,
    ContractRead,
    ContractUpdate,
    InterestCreate,
    InterestList,
    InterestRead,
)

router = APIRouter(prefix="/v1/users/{user_ref}", tags=["records"])

Reader = Annotated[Principal, require("users:read")]
Writer = Annotated[Principal, require("users:write")]
StaffWriter = Annotated[Principal, require("users:write", clients_only=True)]
READ_ERRORS = problem_responses(401, 403, 404)
WRITE_ERRORS = problem_responses(401, 403, 404, 409, 422)
CONDITIONAL_WRITE_ERRORS = problem_responses(401, 403, 404, 409, 412, 422)


@router.get("/contracts", response_model=ContractList, responses=READ_ERRORS)
async def list_contracts(user_ref: UserRef, caller: Reader, session: Session) -> ContractList:
    """The user's contracts: products and services, sellers, opening and ending dates (scope
    `users:read`)."""
    items = await service.list_contracts(session, caller, resolve_user_id(caller, user_ref))
    return ContractList(items=items)


@router.post(
    "/contracts",
    response_model=ContractRead,
    status_code=status.HTTP_201_CREATED,
    responses={**tagged(201, location=True), **WRITE_ERRORS},
)
async def create_contract(
    user_ref: UserRef,
    body: ContractCreate,
    caller: StaffWriter,
    session: Session,
    response: Response,
) -> ContractRead:
    """Record a contract (scope `users:write`, staff tokens)."""
    user_id = resolve_user_id(caller, user_ref)
    contract = await service.create_contract(session, caller, user_id, body)
    response.headers["Location"] = f"/v1/users/{user_id}/contracts/{contract.id}"
    return tag(response, contract)


@router.get(
    "/contracts/{contract_id}",
    response_model=ContractRead,
    responses={**tagged(200), **READ_ERRORS},
)
async def read_contract(
    user_ref: UserRef, contract_id: uuid.UUID, caller: Reader, session: Session, response: Response
) -> ContractRead:
    """One contract, with its ETag (scope `users:read`)."""
    contract = await service.read_contract(
        session, caller, resolve_user_id(caller, user_ref), contract_id
    )
    return tag(response, contract)


@router.patch(
    "/contracts/{contract_id}",
    response_model=ContractRead,
    responses={**tagged(200), **CONDITIONAL_WRITE_ERRORS},
)
async def update_contract(
    user_ref: UserRef,
    contract_id: uuid.UUID,
    body: ContractUpdate,
    caller: StaffWriter,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
) -> ContractRead:
    """Change a contract, e.g. its termination date (scope `users:write`, staff tokens)."""
    contract = await service.update_contract(
        session, caller, resolve_user_id(caller, user_ref), contract_id, body, if_match
    )
    return tag(response, contract)


@router.get("/billing", response_model=BillingRead, responses={**tagged(200), **READ_ERRORS})
async def read_billing(
    user_ref: UserRef, caller: Reader, session: Session, response: Response
) -> BillingRead:
    """The user's billing details, with their ETag (scope `users:read`)."""
    billing = await service.read_billing(session, caller, resolve_user_id(caller, user_ref))
    return tag(response, billing)


@router.put(
    "/billing",
    response_model=BillingRead,
    responses={
        **tagged(200),
        201: {"description": "Created", "model": BillingRead, **tagged(201)[201]},
        **CONDITIONAL_WRITE_ERRORS,
    },
)
async def write_billing(
    user_ref: UserRef,
    body: BillingWrite,
    caller: Writer,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
) -> BillingRead:
    """Set the billing details, replacing what was there (scope `users:write`). Card numbers are
    refused: store the payment provider's reference."""
    billing, created = await service.write_billing(
        session, caller, resolve_user_id(caller, user_ref), body, if_match
    )
    if created:
        response.status_code = status.HTTP_201_CREATED
    return tag(response, billing)


@router.get("/collections", response_model=CollectionList, responses=READ_ERRORS)
async def list_collections(user_ref: UserRef, caller: Reader, session: Session) -> CollectionList:
    """The user's debt-collection cases (scope `users:read`)."""
    items = await service.list_collections(session, caller, resolve_user_id(caller, user_ref))
    return CollectionList(items=items)


@router.post(
    "/collections",
    response_model=CollectionRead,
    status_code=status.HTTP_201_CREATED,
    responses={**tagged(201, location=True), **WRITE_ERRORS},
)
async def create_collection(
    user_ref: UserRef,
    body: CollectionCreate,
    caller: StaffWriter,
    session: Session,
    response: Response,
) -> CollectionRead:
    """Record a debt referred to a collection agency (scope `users:write`, staff tokens)."""
    user_id = resolve_user_id(caller, user_ref)
    case = await service.create_collection(session, caller, user_id, body)
    response.headers["Location"] = f"/v1/users/{user_id}/collections/{case.id}"
    return tag(response, case)


@router.get(
    "/collections/{case_id}",
    response_model=CollectionRead,
    responses={**tagged(200), **READ_ERRORS},
)
async def read_collection(
    user_ref: UserRef, case_id: uuid.UUID, caller: Reader, session: Session, response: Response
) -> CollectionRead:
    """One debt-collection case, with its ETag (scope `users:read`)."""
    case = await service.read_collection(
        session, caller, resolve_user_id(caller, user_ref), case_id
    )
    return tag(response, case)


@router.patch(
    "/collections/{case_id}",
    response_model=CollectionRead,
    responses={**tagged(200), **CONDITIONAL_WRITE_ERRORS},
)
async def update_collection(
    user_ref: UserRef,
    case_id: uuid.UUID,
    body: CollectionUpdate,
    caller: StaffWriter,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
) -> CollectionRead:
    """Change a debt-collection case, e.g. close it as paid (scope `users:write`, staff)."""
    case = await service.update_collection(
        session, caller, resolve_user_id(caller, user_ref), case_id, body, if_match
    )
    return tag(response, case)


@router.get("/interests", response_model=InterestList, responses=READ_ERRORS)
async def list_interests(user_ref: UserRef, caller: Reader, session: Session) -> InterestList:
    """Interests and other data the person gave themselves (scope `users:read`)."""
    items = await service.list_interests(session, caller, resolve_user_id(caller, user_ref))
    return InterestList(items=items)


@router.post(
    "/interests",
    response_model=InterestRead,
    status_code=status.HTTP_201_CREATED,
    responses=WRITE_ERRORS,
)
async def add_interest(
    user_ref: UserRef, body: InterestCreate, caller: Writer, session: Session
) -> InterestRead:
    """Add an interest (scope `users:write`)."""
    return await service.add_interest(session, caller, resolve_user_id(caller, user_ref), body)


@router.delete(
    "/interests/{interest_id}", status_code=status.HTTP_204_NO_CONTENT, responses=WRITE_ERRORS
)
async def remove_interest(
    user_ref: UserRef, interest_id: uuid.UUID, caller: Writer, session: Session
) -> Response:
    """Remove an interest (scope `users:write`)."""
    await service.remove_interest(session, caller, resolve_user_id(caller, user_ref), interest_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
