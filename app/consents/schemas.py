"""Shapes of purposes, decisions, effective permissions, receipts and audiences."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.core.pagination import PageInfo, WholeList
from app.core.schemas import Input, Patch, example

LegalBasis = Literal["consent", "contract", "legal_obligation", "legitimate_interest"]
Category = Literal["service", "marketing", "research", "analytics"]
Channel = Literal["email", "sms", "phone", "post"]
DecisionValue = Literal["granted", "withdrawn", "prohibited", "allowed"]
Source = Literal["sign_up_form", "settings_page", "customer_service_call", "letter"]
Language = Literal["fi", "sv", "en"]
NoticeText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=10, max_length=5000)
]
PurposeCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{2,63}$")]


class Notice(Input):
    fi: NoticeText = Field(description="The notice in Finnish.")
    sv: NoticeText = Field(description="The notice in Swedish.")
    en: NoticeText = Field(description="The notice in English.")


PurposeName = Annotated[str, StringConstraints(min_length=3, max_length=200)]


class PurposeCreate(
    Input,
    json_schema_extra=example(
        {
            "code": "newsletter_partners",
            "name_en": "Partners' newsletter",
            "name_fi": "Yhteistyökumppanien uutiskirje",
            "name_sv": "Samarbetspartners nyhetsbrev",
            "category": "marketing",
            "direct_marketing": True,
            "legal_basis": "consent",
            "channels": ["email"],
            "group_companies": False,
            "dpv_purpose": "dpv:DirectMarketing",
            "notice": {
                "fi": "Lähetämme yhteistyökumppaniemme tarjouksia sähköpostitse.",
                "sv": "Vi skickar erbjudanden från våra samarbetspartner per e-post.",
                "en": "We send our partners' offers by e-mail.",
            },
        }
    ),
):
    code: PurposeCode = Field(description="Stable identifier, e.g. `direct_marketing`.")
    name_en: PurposeName = Field(description="Short English name.")
    name_fi: PurposeName | None = Field(
        default=None, description="Finnish name (default: English)."
    )
    name_sv: PurposeName | None = Field(
        default=None, description="Swedish name (default: English)."
    )
    category: Category = Field(description="What kind of use the purpose is.")
    direct_marketing: bool | None = Field(
        default=None,
        description="Direct marketing under GDPR Art. 21(2)-(3), profiling for marketing "
        "included: an objection to any direct marketing covers it. Default: the `marketing` "
        "category is, the others are not.",
    )
    legal_basis: LegalBasis = Field(description="GDPR Art. 6 basis.")
    channels: list[Channel] = Field(
        default_factory=list, max_length=4, description="Channels it contacts people through."
    )
    group_companies: bool = Field(
        default=False, description="For group companies (a disclosure), not the controller itself."
    )
    dpv_purpose: Annotated[str, StringConstraints(pattern=r"^dpv:[A-Za-z]+$")] = Field(
        description="The W3C DPV purpose term, e.g. `dpv:DirectMarketing`."
    )
    notice: Notice = Field(description="The notice shown to people, in three languages.")


class PurposeUpdate(
    Patch,
    json_schema_extra=example(
        {
            "notice": {
                "fi": "Lähetämme yhteistyökumppaniemme tarjouksia sähköpostitse kerran kuussa.",
                "sv": "Vi skickar våra samarbetspartners erbjudanden per e-post en gång i månaden.",
                "en": "We send our partners' offers by e-mail once a month.",
            },
            "material": False,
        }
    ),
):
    """A change to the notice, the legal basis or the channels makes a new version; say whether
    it is material (`material`). A change of legal basis always is."""

    name_en: PurposeName | None = Field(default=None, description="Short English name.")
    name_fi: PurposeName | None = Field(default=None, description="Finnish name.")
    name_sv: PurposeName | None = Field(default=None, description="Swedish name.")
    legal_basis: LegalBasis | None = Field(default=None, description="GDPR Art. 6 basis.")
    channels: list[Channel] | None = Field(default=None, max_length=4, description="Channels.")
    notice: Notice | None = Field(default=None, description="New notice texts.")
    material: bool | None = Field(
        default=None,
        description="Required with a new version: whether the change is material. After a "
        "material change, consents given under older versions no longer count until the person "
        "decides again (`GET /v1/purposes/{code}/reconsent` lists them).",
    )


class PurposeVersionRead(BaseModel):
    purpose: str = Field(description="Purpose code.")
    version: int = Field(description="Version number, from 1.")
    legal_basis: str = Field(description="The basis in this version.")
    channels: list[str] = Field(description="The channels in this version.")
    notice: dict[str, str] = Field(description="The notice texts by language.")
    text_hash: str = Field(description="SHA-256 of the canonical notice (texts, basis, channels).")
    material: bool = Field(description="Whether its change from the previous version was material.")
    created_at: datetime = Field(description="When this version was made.")
    created_by: str = Field(description="Who made it.")


class PurposeRead(BaseModel):
    code: str = Field(description="Purpose code.")
    name_en: str = Field(description="Short English name.")
    name_fi: str = Field(description="Finnish name.")
    name_sv: str = Field(description="Swedish name.")
    category: str = Field(description="service, marketing, research or analytics.")
    direct_marketing: bool = Field(description="Direct marketing (Art. 21(2)-(3)).")
    material_version: int = Field(
        description="The newest version whose change was material: consents given under older "
        "ones no longer count."
    )
    legal_basis: str = Field(description="GDPR Art. 6 basis.")
    channels: list[str] = Field(description="Channels it uses.")
    group_companies: bool = Field(description="For group companies.")
    dpv_purpose: str = Field(description="W3C DPV purpose term.")
    current_version: PurposeVersionRead = Field(description="The notice in force.")


class PurposeList(WholeList):
    items: list[PurposeRead] = Field(description="Every purpose.")


class Evidence(Input):
    """What the frontend saw of the person, when it relays a decision for them."""

    user_agent: Annotated[str, StringConstraints(max_length=500)] | None = Field(
        default=None, description="The person's browser user agent."
    )
    client_address: Annotated[str, StringConstraints(max_length=45)] | None = Field(
        default=None, description="The person's IP address (stored only as a keyed hash)."
    )


class DecisionIn(Input):
    purpose: PurposeCode = Field(description="Purpose code.")
    channel: Channel | None = Field(
        default=None, description="One channel, or none for the whole purpose."
    )
    decision: DecisionValue = Field(
        description="`granted` / `withdrawn` a consent, `prohibited` (objection) / `allowed`."
    )
    notice_version: int = Field(ge=1, description="The notice version the person was shown.")


class DecisionsIn(
    Input,
    json_schema_extra=example(
        {
            "source": "settings_page",
            "language": "fi",
            "decisions": [
                {
                    "purpose": "direct_marketing",
                    "channel": "email",
                    "decision": "granted",
                    "notice_version": 1,
                },
                {"purpose": "market_research", "decision": "prohibited", "notice_version": 1},
            ],
        }
    ),
):
    source: Source = Field(description="Where the person made the decision.")
    language: Language = Field(description="The language of the notice shown.")
    decisions: list[DecisionIn] = Field(min_length=1, max_length=50, description="1 to 50.")
    evidence: Evidence | None = Field(
        default=None, description="Default: the request's own user agent and address."
    )


class EffectivePermission(BaseModel):
    purpose: str = Field(description="Purpose code.")
    channel: str | None = Field(description="Channel, or null for a purpose without channels.")
    allowed: bool = Field(description="May the purpose use the data on this channel now.")
    reason: str = Field(
        description="Why: `explicit_consent`, `default_opt_in_required`, "
        "`default_opt_out_company`, `objection`, `account_closed`, `legal_obligation`, ..."
    )
    legal_basis: str = Field(description="The purpose's GDPR Art. 6 basis.")
    decision: str | None = Field(description="The person's latest decision that applies.")
    decided_at: datetime | None = Field(description="When it was made.")


class Permissions(WholeList):
    user_id: uuid.UUID = Field(description="The user.")
    items: list[EffectivePermission] = Field(description="Every purpose and channel.")


class RecordedDecision(BaseModel):
    id: int = Field(description="Record number.")
    purpose: str = Field(description="Purpose code.")
    purpose_version: int = Field(description="Notice version shown.")
    channel: str = Field(description="Channel, or `*` for the whole purpose.")
    decision: str = Field(description="The decision.")
    recorded_at: datetime = Field(description="When.")


class RecordedDecisions(BaseModel):
    receipt_id: uuid.UUID = Field(description="Fetch the receipt at /v1/consent-receipts/{id}.")
    decisions: list[RecordedDecision] = Field(description="What was recorded.")
    permissions: list[EffectivePermission] = Field(description="The new state of those purposes.")


class HistoryItem(RecordedDecision):
    receipt_id: uuid.UUID = Field(description="The receipt it belongs to.")
    source: str = Field(description="Where it was made.")
    actor: str = Field(description="Who recorded it.")


class HistoryPage(PageInfo):
    items: list[HistoryItem] = Field(description="Every record, oldest first.")


class ConsentReceipt(BaseModel):
    """Kantara Consent Receipt v1.1 fields, with the ISO/IEC TS 27560 record beside them."""

    model_config = ConfigDict(populate_by_name=True)

    version: str = Field(description="`KI-CR-v1.1.0`.")
    jurisdiction: str = Field(description="`FI`.")
    consentTimestamp: int = Field(description="Unix seconds.")
    collectionMethod: str = Field(description="Where the decisions were collected.")
    consentReceiptID: uuid.UUID = Field(description="This receipt's id.")
    language: str = Field(description="Language of the notice shown.")
    piiPrincipalId: uuid.UUID = Field(description="The user's id.")
    piiControllers: list[dict[str, Any]] = Field(description="The controller and its contact.")
    policyUrl: str = Field(description="The register description.")
    services: list[dict[str, Any]] = Field(description="Purposes decided, with their notices.")
    sensitive: bool = Field(description="No special categories of data.")
    spiCat: list[str] = Field(description="Empty.")
    iso27560: dict[str, Any] = Field(description="The ISO/IEC TS 27560 consent record.")


class AudienceMember(BaseModel):
    user_id: uuid.UUID = Field(description="The user.")
    contact: dict[str, str] = Field(description="Only the field the channel needs.")


class AudiencePage(PageInfo):
    purpose: str = Field(description="Purpose code.")
    channel: str = Field(description="Channel.")
    items: list[AudienceMember] = Field(description="Users who may be contacted, by id.")


class ReconsentItem(BaseModel):
    user_id: uuid.UUID = Field(description="A user whose consent was given under an older notice.")
    granted_version: int = Field(description="The notice version of their newest grant.")


class ReconsentPage(PageInfo):
    purpose: str = Field(description="Purpose code.")
    material_version: int = Field(description="The version they must decide on again.")
    items: list[ReconsentItem] = Field(description="Users, by id.")
