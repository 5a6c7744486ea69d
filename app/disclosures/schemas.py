"""Shapes of recipients, releases, the disclosure log, checkpoints and notifications."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AnyHttpUrl, BaseModel, Field, StringConstraints, model_validator

from app.core.pagination import PageInfo, WholeList
from app.core.schemas import Input, Patch, example
from app.core.validators import BusinessId, Country, Email, Phone

RecipientKind = Literal["group_company", "partner", "debt_collection_agency", "authority"]
LegalBasis = Literal["consent", "contract", "legal_obligation", "legitimate_interest"]
TransferBasis = Literal[
    "adequacy_decision", "standard_contractual_clauses", "binding_corporate_rules", "derogation"
]
ReleaseCategory = Literal[
    "name", "language", "email", "sms_number", "phone_number", "postal_address"
]
PurposeCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{2,63}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class RecipientCreate(
    Input,
    json_schema_extra=example(
        {
            "name": "Huutokaupat Sverige AB",
            "kind": "group_company",
            "business_id": "556677-8899",
            "country": "SE",
            "purposes": ["group_direct_marketing"],
            "legal_basis": "legitimate_interest",
            "contact_name": "Anna Svensson",
            "contact_email": "dpo@huutokaupat.example.se",
            "webhook_url": "https://hooks.huutokaupat.example.se/registry",
        }
    ),
):
    name: Name = Field(description="The company's name.")
    kind: RecipientKind = Field(description="What the recipient is to the controller.")
    business_id: BusinessId | None = Field(default=None, description="Finnish Business ID.")
    country: Country = Field(description="Where it processes the data (ISO 3166-1 alpha-2).")
    purposes: list[PurposeCode] = Field(
        default_factory=list, max_length=20, description="Purposes it may receive data for."
    )
    legal_basis: LegalBasis = Field(description="The basis of disclosing to it.")
    contact_name: Name | None = Field(default=None, description="Contact person.")
    contact_email: Email | None = Field(default=None, description="Contact e-mail.")
    contact_phone: Phone | None = Field(default=None, description="Contact phone.")
    webhook_url: AnyHttpUrl | None = Field(
        default=None, description="Where Art. 19 notifications are POSTed (https)."
    )
    client_ids: list[str] = Field(
        default_factory=list, max_length=20, description="Machine clients that act for it."
    )


class RecipientUpdate(
    Patch, json_schema_extra=example({"contact_email": "tietosuoja@huutokaupat.example.se"})
):
    clearable = frozenset({"contact_name", "contact_email", "contact_phone", "webhook_url"})

    name: Name | None = Field(default=None, description="The company's name.")
    country: Country | None = Field(default=None, description="Where it processes the data.")
    purposes: list[PurposeCode] | None = Field(default=None, max_length=20, description="Purposes.")
    legal_basis: LegalBasis | None = Field(default=None, description="Basis of disclosure.")
    contact_name: Name | None = Field(default=None, description="Contact person.")
    contact_email: Email | None = Field(default=None, description="Contact e-mail.")
    contact_phone: Phone | None = Field(default=None, description="Contact phone.")
    webhook_url: AnyHttpUrl | None = Field(default=None, description="Notification address.")
    client_ids: list[str] | None = Field(default=None, max_length=20, description="Its clients.")


class RecipientRead(BaseModel):
    id: uuid.UUID = Field(description="Recipient id.")
    name: str = Field(description="Name.")
    kind: str = Field(description="Kind of recipient.")
    business_id: str | None = Field(description="Business ID.")
    country: str = Field(description="Country.")
    in_eu_eea: bool = Field(description="Whether it is in the EU/EEA (from the country).")
    purposes: list[str] = Field(description="Purposes it may receive data for.")
    legal_basis: str = Field(description="Basis of disclosure.")
    contact_name: str | None = Field(description="Contact person.")
    contact_email: str | None = Field(description="Contact e-mail.")
    contact_phone: str | None = Field(description="Contact phone.")
    webhook_url: str | None = Field(description="Notification address.")
    webhook_disabled_at: datetime | None = Field(
        default=None,
        description="When the endpoint answered 410 Gone; nothing is sent until the address "
        "changes.",
    )
    client_ids: list[str] = Field(description="Machine clients acting for it.")
    created_at: datetime = Field(description="When added.")


class RecipientCreated(RecipientRead):
    webhook_secret: str | None = Field(
        description="The Standard Webhooks signing secret (`whsec_...`) of its notifications: "
        "shown this once, never again."
    )


class WebhookSecretRotated(BaseModel):
    recipient_id: uuid.UUID = Field(description="The recipient.")
    webhook_secret: str = Field(description="The new `whsec_...` secret: shown this once.")
    previous_secret_valid_until: datetime | None = Field(
        description="Until then deliveries carry a signature by the previous secret too, so the "
        "receiver can switch without losing any."
    )


class RecipientList(WholeList):
    items: list[RecipientRead] = Field(description="Every recipient.")


class AudienceSelection(Input):
    channel: Literal["email", "sms", "phone", "post"] = Field(description="Audience channel.")
    cursor: Annotated[str, StringConstraints(max_length=500)] | None = Field(
        default=None, description="`next_cursor` of the previous release."
    )
    limit: int = Field(default=100, ge=1, le=1000, description="Users in this release.")


class ReleaseRequest(
    Input,
    json_schema_extra=example(
        {
            "purpose": "group_direct_marketing",
            "categories": ["name", "email"],
            "user_ids": ["3f1c2a9e-5b7d-4c1e-9a2b-7d8e6f5a4b3c"],
        }
    ),
):
    purpose: PurposeCode = Field(description="What the data is for.")
    categories: list[ReleaseCategory] = Field(
        min_length=1, max_length=6, description="Which data is wanted."
    )
    user_ids: list[uuid.UUID] | None = Field(
        default=None, min_length=1, max_length=1000, description="These users, or..."
    )
    audience: AudienceSelection | None = Field(
        default=None, description="...the next page of the purpose's audience."
    )

    @model_validator(mode="after")
    def _one_selection(self) -> ReleaseRequest:
        if (self.user_ids is None) == (self.audience is None):
            raise ValueError("give exactly one of user_ids and audience")
        return self


class ReleasedUser(BaseModel):
    user_id: uuid.UUID = Field(description="The user.")
    data: dict[str, Any] = Field(description="Only the permitted categories.")


class WithheldUser(BaseModel):
    user_id: uuid.UUID = Field(description="The user.")
    reason: Literal["not_permitted"] = Field(description="Always `not_permitted`.")


class ReleaseResult(BaseModel):
    recipient_id: uuid.UUID = Field(description="Who received it.")
    purpose: str = Field(description="For what.")
    legal_basis: str = Field(description="On what basis.")
    released: list[ReleasedUser] = Field(description="Users whose data is released.")
    withheld: list[WithheldUser] = Field(description="Users left out.")
    next_cursor: str | None = Field(description="For audience releases: the next page.")


class ExternalDisclosure(
    Input,
    json_schema_extra=example(
        {
            "recipient_id": "0b6d0c1e-2f3a-4b5c-8d9e-1f2a3b4c5d6e",
            "purpose": "billing",
            "categories": ["basic_data", "billing"],
            "legal_basis": "legal_obligation",
            "user_ids": ["3f1c2a9e-5b7d-4c1e-9a2b-7d8e6f5a4b3c"],
            "note": "Verohallinnon tietopyyntö 2026/123",
        }
    ),
):
    recipient_id: uuid.UUID = Field(description="Who received the data.")
    purpose: PurposeCode = Field(description="For what.")
    categories: list[Annotated[str, StringConstraints(pattern=r"^[a-z_]{2,32}$")]] = Field(
        min_length=1, max_length=12, description="Which data, e.g. `basic_data`, `billing`."
    )
    legal_basis: LegalBasis = Field(description="On what basis.")
    user_ids: list[uuid.UUID] = Field(min_length=1, max_length=1000, description="Whose data.")
    note: Annotated[str, StringConstraints(max_length=1000)] | None = Field(
        default=None, description="E.g. the authority's request number."
    )
    transfer_basis: TransferBasis | None = Field(
        default=None,
        description="Required for a recipient outside the EU/EEA: the GDPR Chapter V basis of "
        "the transfer (`adequacy_decision` Art. 45, `standard_contractual_clauses` Art. 46(2)(c), "
        "`binding_corporate_rules` Art. 47, `derogation` Art. 49).",
    )


class ExternalDisclosureResult(BaseModel):
    logged: int = Field(description="Entries written.")


class DisclosureRead(BaseModel):
    id: int = Field(description="Entry number.")
    disclosed_at: datetime = Field(description="When.")
    recipient_id: uuid.UUID = Field(description="Who received it.")
    recipient_name: str = Field(description="Its name then.")
    purpose: str = Field(description="For what.")
    categories: list[str] = Field(description="Which data.")
    legal_basis: str = Field(description="On what basis.")
    kind: str = Field(description="`release`, `audience` or `external`.")
    client_id: str | None = Field(description="The client that received it.")
    request_id: str | None = Field(description="The request it happened in.")
    note: str | None = Field(description="Staff note for external disclosures.")
    transfer_basis: str | None = Field(
        default=None, description="For a recipient outside the EU/EEA: the transfer's basis."
    )


class DisclosurePage(PageInfo):
    items: list[DisclosureRead] = Field(description="Entries, oldest first.")


class NotificationRead(BaseModel):
    id: int = Field(description="Notification number.")
    recipient_id: uuid.UUID = Field(description="Who is notified.")
    recipient_name: str = Field(description="Its name.")
    event: str = Field(description="`rectification`, `erasure` or `restriction`.")
    payload: dict[str, Any] = Field(description="What was sent.")
    created_at: datetime = Field(description="When the change happened.")
    attempts: int = Field(description="Delivery attempts so far.")
    sent_at: datetime | None = Field(description="When it was delivered.")
    failed_at: datetime | None = Field(description="When delivery was given up.")
    last_error: str | None = Field(description="The last delivery error.")


class NotificationList(WholeList):
    items: list[NotificationRead] = Field(description="Notifications about the user.")
