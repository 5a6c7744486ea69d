"""Register updates from DVV and Posti."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request

from app.auth.dependencies import Principal, require
from app.core.errors import problem_responses
from app.db.session import Session
from app.idempotency.service import IdempotentRoute
from app.register_updates import service
from app.register_updates.schemas import RegisterUpdateBatch, RegisterUpdateResults

router = APIRouter(tags=["register updates"], route_class=IdempotentRoute)

Feed = Annotated[Principal, require("register-updates:write")]


@router.post(
    "/v1/register-updates",
    response_model=RegisterUpdateResults,
    responses=problem_responses(401, 403, 422),
)
async def apply_register_updates(
    batch: RegisterUpdateBatch, caller: Feed, session: Session, request: Request
) -> RegisterUpdateResults:
    """Apply address changes, name changes and death notices from DVV and Posti (scope
    `register-updates:write`). An update id applied before changes nothing; an unknown user is
    reported, not fatal; a death notice closes the account and stops all marketing."""
    return await service.apply_batch(session, caller, request.app.state.identity_codes, batch)
