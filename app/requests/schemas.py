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


Row = dict[str, Any]


class ExportDocument(BaseModel):
    """The access (Art. 15) or portability (Art. 20) export: everything the registry holds on the
    person, by category of the register description, with the Art. 15(1) items. A portability
    export holds only `subject`, `credentials`, `contracts`, `billing`, `interests`,
    `permissions` and `events`."""

    format: Literal["huutokaupat-registry-export/1"] = Field(description="Document format.")
    kind: Literal["access", "portability"] = Field(description="Art. 15 or Art. 20.")
    user_id: uuid.UUID = Field(description="Whose data.")
    generated_at: datetime = Field(description="When the document was made.")
    subject: Row = Field(description="The profile: name, address, language, contacts.")
    identity_code: Row | None = Field(
        default=None, description="The identity code (masked unless the DPO asked in full)."
    )
    credentials: Row | None = Field(
        default=None, description="The username and sign-in metadata; never the password hash."
    )
    contracts: list[Row] = Field(default_factory=list, description="Contracts.")
    billing: Row | None = Field(default=None, description="Billing details.")
    debt_collection: list[Row] = Field(default_factory=list, description="Collection cases.")
    interests: list[Row] = Field(default_factory=list, description="Interests the person gave.")
    permissions: Row = Field(
        default_factory=dict,
        description="`effective` permissions per purpose and channel, and their `history`.",
    )
    requests: list[Row] = Field(default_factory=list, description="Data-subject requests.")
    history: list[Row] = Field(
        default_factory=list, description="Every change, with who made it and the source."
    )
    sources_of_data: Row = Field(
        default_factory=dict, description="Where the data came from (Art. 15(1)(g))."
    )
    gdpr_article_15: Row = Field(
        default_factory=dict,
        description="Purposes, categories, recipients, retention, rights, complaint, sources, "
        "automated decisions (Art. 15(1)(a)-(h)).",
    )
    disclosures: list[Row] = Field(
        default_factory=list, description="Every disclosure of the person's data (access only)."
    )
    access_log: list[Row] = Field(
        default_factory=list, description="Every read of the data by staff or partners."
    )
    events: list[Row] = Field(default_factory=list, description="Events, newest first.")
