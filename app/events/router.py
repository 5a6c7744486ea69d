"""Event and analytics data: ingestion from the frontend, listing per user."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from app.auth.dependencies import Principal, UserRef, require, resolve_user_id
from app.core.errors import problem_responses
from app.core.pagination import Cursor, limit_query
from app.db.session import Session
from app.events import service
from app.events.schemas import (
    EventBatch,
    EventIngestResult,
    EventPage,
    EventTypeList,
    EventTypeRead,
)
from app.events.types import EVENT_TYPES
from app.idempotency.service import IdempotentRoute

router = APIRouter(tags=["events"], route_class=IdempotentRoute)

Sender = Annotated[Principal, require("events:write")]
Reader = Annotated[Principal, require("users:read")]


@router.post(
    "/v1/events", response_model=EventIngestResult, responses=problem_responses(401, 403, 413, 422)
)
async def ingest_events(
    batch: EventBatch, caller: Sender, session: Session, request: Request
) -> EventIngestResult:
    """Store a batch of up to 1000 events (scope `events:write`, the frontend). Events of
    undeclared types, of unknown users, analytics events of people who have not consented to
    analytics, and events outside the retention window are reported, not stored; the rest are
    stored together."""
    retention = request.app.state.settings.events_retention_months
    return await service.ingest(session, batch, retention)


@router.get(
    "/v1/users/{user_ref}/events",
    response_model=EventPage,
    responses=problem_responses(400, 401, 403, 404),
)
async def list_events(
    user_ref: UserRef,
    caller: Reader,
    session: Session,
    cursor: Cursor = None,
    limit: int = limit_query(100, 500),
    type: Annotated[str | None, Query(max_length=64, description="Only this event type.")] = None,
) -> EventPage:
    """The user's events, newest first, by cursor (scope `users:read`)."""
    return await service.list_events(
        session,
        caller,
        resolve_user_id(caller, user_ref),
        event_type=type,
        cursor=cursor,
        limit=limit,
    )


@router.get("/v1/event-types", response_model=EventTypeList, responses=problem_responses(401, 403))
async def list_event_types(caller: Sender) -> EventTypeList:
    """The event types the registry stores and the purpose each serves (scope `events:write`)."""
    return EventTypeList(
        items=[
            EventTypeRead(type=name, purpose=declared.purpose, description=declared.description)
            for name, declared in sorted(EVENT_TYPES.items())
        ]
    )
