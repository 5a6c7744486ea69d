"""Shapes of data-subject requests, erasure reports and exports."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from app.core.pagination import PageInfo
from app.core.schemas import Input

RequestType = Literal[
    "access", "portability", "rectification", "erasure", "restriction", "objection"
]
Channel = Literal["web", "email", "letter", "phone", "in_person"]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000)]


class RequestCreate(Input):
    type: RequestType = Field(description="Which right the person uses (GDPR Art. 15-21).")
    channel: Channel = Field(default="web", description="How the request arrived.")
    details: Annotated[str, StringConstraints(max_length=4000)] | None = Field(
        default=None, description="What the person asked, e.g. which data to rectify."
    )


class Extension(Input):
    months: int = Field(ge=1, le=2, description="One or two more months (Art. 12(3)).")
    reason: Reason = Field(description="Why: complexity or number of requests.")


class Verification(Input):
    method: Annotated[str, StringConstraints(min_length=2, max_length=64)] = Field(
        description="How the requester's identity was verified, e.g. `bank_id`."
    )


class Completion(Input):
    note: Annotated[str, StringConstraints(max_length=2000)] | None = Field(
        default=None, description="What was done."
    )


class Rejection(Input):
    reason: Reason = Field(description="Why the request is refused (told to the person).")


class RequestEventRead(BaseModel):
    at: datetime = Field(description="When.")
    actor: str = Field(description="Who.")
    action: str = Field(description="What: received, extended, identity_verified, completed...")
    note: str | None = Field(description="Details.")


class RequestRead(BaseModel):
    id: uuid.UUID = Field(description="Request id.")
    user_id: uuid.UUID = Field(description="Whose request.")
    type: str = Field(description="Which right.")
    status: str = Field(description="`received`, `completed` or `rejected`.")
    channel: str = Field(description="How it arrived.")
    details: str | None = Field(description="What was asked.")
    received_at: datetime = Field(description="When it arrived.")
    due_on: date = Field(description="Answer by this day (one month, or extended).")
    overdue: bool = Field(description="Open past its due date.")
    extended_at: datetime | None = Field(description="When the deadline was extended.")
    extension_reason: str | None = Field(description="Why.")
    identity_verified_at: datetime | None = Field(description="When identity was verified.")
    identity_verification: str | None = Field(description="How.")
    closed_at: datetime | None = Field(description="When completed or rejected.")
    resolution: str | None = Field(description="The completion note or rejection reason.")
    result: dict[str, Any] | None = Field(description="For erasure: what was erased and kept.")
    events: list[RequestEventRead] = Field(description="Every transition.")


class RequestPage(PageInfo):
    items: list[RequestRead] = Field(description="Requests, by due date.")


class ErasureItem(BaseModel):
    category: str = Field(description="Category of the register description.")
    detail: str = Field(description="What happened to it.")


class KeptItem(BaseModel):
    category: str = Field(description="Category.")
    reason: str = Field(description="The legal hold.")
    until: date | None = Field(description="When the hold ends and it is removed.")


class ErasureReport(BaseModel):
    erased: list[ErasureItem] = Field(description="Removed or irreversibly anonymised.")
    kept: list[KeptItem] = Field(description="Kept, restricted, under a legal hold.")
