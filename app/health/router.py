"""Operations endpoints, outside /v1: liveness, readiness, metrics."""

from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import text

from app.auth.dependencies import Principal, require
from app.core import metrics
from app.core.errors import ServiceUnavailable, problem_responses
from app.db import migrate
from app.db.replica import replica_of
from app.db.session import get_database

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str = Field(description="`ok` when the check passed.")


class Readiness(Health):
    database: str = Field(description="`reachable` when a query succeeded.")
    migrations: str = Field(description="`head` when the schema is at the newest migration.")
    replica: str = Field(
        description="`none` when no read replica is configured; `in use` while bulk reads go to "
        "it; otherwise why they go to the primary (behind, unreachable). Never makes the "
        "service unready: the primary serves every read."
    )
    replica_lag_seconds: float | None = Field(
        description="How far the replica was behind at its last measure (null: none configured, "
        "or not reachable)."
    )


class NotReady(ServiceUnavailable):
    type = "not-ready"
    title = "Service not ready"


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is alive (no dependencies checked)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses=problem_responses(503))
async def readyz(request: Request) -> Readiness:
    """The database answers and its schema is at the newest migration; 503 otherwise. Tells how
    far the read replica is behind, and whether bulk reads go to it."""
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
    replica = replica_of(request)
    state = replica.state() if replica is not None else None
    return Readiness(
        status="ok",
        database="reachable",
        migrations="head",
        replica=state.reason if state else "none",
        replica_lag_seconds=None
        if state is None or state.lag_seconds is None
        else round(state.lag_seconds, 3),
    )


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
