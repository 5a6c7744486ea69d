"""Shapes of data-subject requests, erasure reports and exports."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from app.audit.schemas import ExportTransparency
from app.core.pagination import PageInfo
from app.core.personal_data import Source
from app.core.schemas import Input, example

RequestType = Literal[
    "access", "portability", "rectification", "erasure", "restriction", "objection"
]
Channel = Literal["web", "email", "letter", "phone", "in_person"]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000)]


class RequestCreate(
    Input,
    json_schema_extra=example(
        {"type": "access", "channel": "web", "details": "Haluan kopion kaikista tiedoistani."}
    ),
):
    type: RequestType = Field(description="Which right the person uses (GDPR Art. 15-21).")
    channel: Channel = Field(default="web", description="How the request arrived.")
    details: Annotated[str, StringConstraints(max_length=4000)] | None = Field(
        default=None, description="What the person asked, e.g. which data to rectify."
    )


class Extension(
    Input,
    json_schema_extra=example(
        {"months": 1, "reason": "The request covers ten years of auction history."}
    ),
):
    months: int = Field(ge=1, le=2, description="One or two more months (Art. 12(3)).")
    reason: Reason = Field(description="Why: complexity or number of requests.")


class Verification(Input, json_schema_extra=example({"method": "bank_id"})):
    method: Annotated[str, StringConstraints(min_length=2, max_length=64)] = Field(
        description="How the requester's identity was verified, e.g. `bank_id`."
    )


class Completion(
    Input,
    json_schema_extra=example({"note": "The export was sent through the account's messages."}),
):
    note: Annotated[str, StringConstraints(max_length=2000)] | None = Field(
        default=None, description="What was done."
    )


class Rejection(
    Input, json_schema_extra=example({"reason": "The requester's identity could not be verified."})
):
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
    items: list[RequestRead] = Field(
        description="Requests: the work list by due date, a user's own by arrival."
    )


class ErasureItem(BaseModel):
    category: str = Field(description="Category of the register description.")
    table: str = Field(description="Where the rows were, in the personal-data catalogue.")
    rows: int = Field(description="How many of the person's rows.")
    detail: str = Field(description="What the rows are, and what happened to them.")


class KeptItem(BaseModel):
    category: str = Field(description="Category.")
    table: str = Field(description="Where the rows are, in the personal-data catalogue.")
    rows: int = Field(description="How many rows are kept.")
    reason: str = Field(description="The legal hold.")
    until: date | None = Field(
        description="When the hold ends and the rows are removed; none while still needed "
        "(an open claim)."
    )


class ErasureReport(BaseModel):
    pseudonym: uuid.UUID = Field(
        description="The fresh pseudonym what survives is kept under (never the user id that "
        "recipients, the frontend or the logs knew); only `requests:manage` reads it."
    )
    erased: list[ErasureItem] = Field(description="Removed.")
    pseudonymised: list[ErasureItem] = Field(
        description="Kept as proof, the identifying values cleared, under the pseudonym."
    )
    kept: list[KeptItem] = Field(description="Kept, restricted, under a legal hold.")
    recipients_notified: int = Field(description="Recipients told of the erasure (Art. 19).")


Row = dict[str, Any]


class ExportColumn(BaseModel):
    data_category: str = Field(description="The data category, e.g. `user.contact.email`.")
    # The catalogue's own enumeration: a source added there is one here.
    source: Source = Field(
        description="Where the value comes from: the person, their use of the service, staff, "
        "DVV, Posti, the earlier register (an import), or the registry itself."
    )


class ExportTable(BaseModel):
    description: str = Field(description="What a row is.")
    purposes: list[str] = Field(description="Purposes (W3C DPV terms).")
    legal_basis: str = Field(description="Legal basis (GDPR Art. 6(1)).")
    retention: str = Field(description="How long it is kept, in the person's language.")
    on_erasure: str = Field(description="What erasure does to it, in the person's language.")
    columns: dict[str, ExportColumn] = Field(description="Every column shown, by name.")
    value_sources: dict[str, str] | None = Field(
        default=None,
        description="For a table whose values DVV or Posti may update: the source of each "
        "column's current value.",
    )
    rows: list[Row] = Field(description="The person's rows.")


class ExportCategory(BaseModel):
    name: str = Field(description="The category of the register description, in words.")
    tables: dict[str, ExportTable] = Field(description="Its tables, by name.")


class ExportDocument(BaseModel):
    """The access (Art. 15) or portability (Art. 20) export, made by walking the personal-data
    catalogue: every category of the register description, every table and shown column of it,
    with the person's rows. A portability export holds only what the person provided or their
    use of the service produced, processed on consent or contract, without any value DVV or
    Posti supplied."""

    format: Literal["huutokaupat-registry-export/2"] = Field(description="Document format.")
    kind: Literal["access", "portability"] = Field(description="Art. 15 or Art. 20.")
    user_id: uuid.UUID = Field(description="Whose data.")
    generated_at: datetime = Field(description="When the document was made.")
    language: Literal["fi", "sv", "en"] = Field(description="The person's language.")
    permissions_in_effect: list[Row] | None = Field(
        default=None, description="Access only: the permission in effect per purpose and channel."
    )
    sources_of_data: Row | None = Field(
        default=None, description="Access only: where the data came from (Art. 15(1)(g))."
    )
    gdpr_article_15: Row | None = Field(
        default=None,
        description="Access only: purposes, categories, recipients, retention, rights, "
        "complaint, sources, automated decisions (Art. 15(1)(a)-(h)).",
    )
    transparency: ExportTransparency | None = Field(
        default=None,
        description="Access only: every disclosure of the person's data with an RFC 9162 "
        "inclusion proof in the signed disclosure log, to check offline.",
    )
    categories: dict[str, ExportCategory] = Field(
        description="The person's data by category of the register description (section 5)."
    )
