"""Shapes of event ingestion and listing."""

from __future__ import annotations

import json
import math
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from app.core.pagination import PageInfo, WholeList
from app.core.schemas import example
from app.core.validators import PlausibleTime

MAX_BATCH = 1000
MAX_PROPERTIES_BYTES = 8192
MAX_PROPERTIES_DEPTH = 8

EventType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.:-]{0,63}$")]


def _storable_text(text: str) -> None:
    # Postgres's jsonb refuses \u0000, and a lone surrogate is no UTF-8 at all.
    if "\x00" in text:
        raise ValueError("holds a NUL character (\\u0000), which cannot be stored")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("holds an unpaired UTF-16 surrogate, which is not text") from None


def _bounded_json(value: dict[str, Any]) -> dict[str, Any]:
    """What is stored must read back as it was sent: at most 8 levels deep and 8 KiB, finite
    numbers, and text that Postgres's jsonb can hold. Checked here, before the database sees it
    (a value the database refuses would otherwise reach its log)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_PROPERTIES_DEPTH:
                raise ValueError(f"is nested more than {MAX_PROPERTIES_DEPTH} levels deep")
            if isinstance(item, dict):
                for key in item:
                    _storable_text(key)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            _storable_text(item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValueError("holds a number that is not finite (NaN or Infinity)")
    if len(json.dumps(value, separators=(",", ":"), ensure_ascii=False)) > MAX_PROPERTIES_BYTES:
        raise ValueError(f"is larger than {MAX_PROPERTIES_BYTES} bytes as JSON")
    return value


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: uuid.UUID = Field(description="Whose event it is.")
    type: EventType = Field(description="What happened, e.g. `bid.placed`, `page.view`.")
    occurred_at: PlausibleTime = Field(description="When, with a time zone (years 1900 to 2200).")
    source: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,31}$")] = Field(
        default="web", description="Where it was seen: `web`, `app`, `backend`..."
    )
    properties: Annotated[dict[str, Any], AfterValidator(_bounded_json)] = Field(
        default_factory=dict,
        description="Details: a JSON object of at most 8 KiB and 8 levels, finite numbers.",
    )


class EventBatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=example(
            {
                "events": [
                    {
                        "user_id": "3f1c2a9e-5b7d-4c1e-9a2b-7d8e6f5a4b3c",
                        "type": "bid.placed",
                        "occurred_at": "2026-11-25T12:00:00+02:00",
                        "source": "web",
                        "properties": {"auction_id": "A-123456", "amount_cents": 15000},
                    }
                ]
            }
        ),
    )

    events: list[EventIn] = Field(
        min_length=1, max_length=MAX_BATCH, description=f"1 to {MAX_BATCH} events."
    )


class RejectedEvent(BaseModel):
    index: int = Field(description="Position of the event in the batch.")
    reason: str = Field(
        description="`unknown_event_type` (not one of `GET /v1/event-types`), `unknown_user` "
        "(no such active, unrestricted user), `no_analytics_consent` (an analytics event of a "
        "person who has not consented to analytics), `too_old` (past retention) or "
        "`in_the_future`. Nothing of a rejected event is stored."
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


class EventTypeRead(BaseModel):
    type: str = Field(description="The event type.")
    purpose: str = Field(description="The purpose it is processed for (`analytics`: consent).")
    description: str = Field(description="What it records.")


class EventTypeList(WholeList):
    items: list[EventTypeRead] = Field(description="Every event type the registry stores.")
