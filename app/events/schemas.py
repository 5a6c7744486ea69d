"""Shapes of event ingestion and listing."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from app.core.pagination import PageInfo

MAX_BATCH = 1000
MAX_PROPERTIES_BYTES = 8192

EventType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.:-]{0,63}$")]


def _small_json(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value, separators=(",", ":"))) > MAX_PROPERTIES_BYTES:
        raise ValueError(f"is larger than {MAX_PROPERTIES_BYTES} bytes as JSON")
    return value


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: uuid.UUID = Field(description="Whose event it is.")
    type: EventType = Field(description="What happened, e.g. `bid.placed`, `page.view`.")
    occurred_at: AwareDatetime = Field(description="When, with a time zone.")
    source: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,31}$")] = Field(
        default="web", description="Where it was seen: `web`, `app`, `backend`..."
    )
    properties: Annotated[dict[str, Any], AfterValidator(_small_json)] = Field(
        default_factory=dict, description="Details, a JSON object of at most 8 KiB."
    )


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(
        min_length=1, max_length=MAX_BATCH, description=f"1 to {MAX_BATCH} events."
    )


class RejectedEvent(BaseModel):
    index: int = Field(description="Position of the event in the batch.")
    reason: str = Field(
        description="`unknown_user` (no such active, unrestricted user), `too_old` (past "
        "retention) or `in_the_future`."
    )


class EventIngestResult(BaseModel):
    accepted: int = Field(description="How many events were stored.")
    rejected: list[RejectedEvent] = Field(description="Events not stored, and why.")


class EventRead(BaseModel):
    id: int = Field(description="Event id.")
    type: str = Field(description="What happened.")
    occurred_at: datetime = Field(description="When.")
    source: str = Field(description="Where it was seen.")
    properties: dict[str, Any] = Field(description="Details.")
    received_at: datetime = Field(description="When the registry got it.")


class EventPage(PageInfo):
    items: list[EventRead] = Field(description="Events, newest first.")
