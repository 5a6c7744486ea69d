"""Operations endpoints, outside /v1: liveness, readiness, metrics."""

from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import text

from app.auth.dependencies import Principal, require
from app.core import metrics
from app.core.errors import ServiceUnavailable, problem_responses
from app.db import migrate
from app.db.session import get_database

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str = Field(description="`ok` when the check passed.")


class Readiness(Health):
    database: str = Field(description="`reachable` when a query succeeded.")
    migrations: str = Field(description="`head` when the schema is at the newest migration.")


class NotReady(ServiceUnavailable):
    type = "not-ready"
    title = "Service not ready"


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is alive (no dependencies checked)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses=problem_responses(503))
async def readyz(request: Request) -> Readiness:
    """The database answers and its schema is at the newest migration; 503 otherwise."""
    database = get_database(request)
    try:
        async with database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            current = await migrate.current_revisions(connection)
    except Exception as exc:
        raise NotReady("The database is not reachable.", headers={"Retry-After": "5"}) from exc
    if current != request.app.state.migration_heads:
        raise NotReady(
            "The database schema is not at the newest migration; run `registry migrate`.",
            headers={"Retry-After": "30"},
        )
    return Readiness(status="ok", database="reachable", migrations="head")


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}, **problem_responses(401, 403)},
)
async def prometheus_metrics(caller: Annotated[Principal, require("metrics:read")]) -> Response:
    """Request counts and latency by route template, in Prometheus text format (scope
    `metrics:read`: a `monitoring` client, or the DPO)."""
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
