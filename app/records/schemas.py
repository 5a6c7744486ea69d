"""Shapes of contracts, billing, debt collection and interests."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.core.pagination import WholeList
from app.core.schemas import Input, Patch, example
from app.core.validators import Country, Currency, Email, PaymentReference, Phone

Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class Communication(Input):
    """What is needed to communicate about the contract."""

    email: Email | None = Field(default=None, description="E-mail for this contract.")
    phone: Phone | None = Field(default=None, description="Phone for this contract, E.164.")
    preferred_channel: Literal["email", "sms", "phone", "post"] | None = Field(
        default=None, description="How the customer wants to be reached about it."
    )


class ContractCreate(
    Input,
    json_schema_extra=example(
        {
            "product": "Huutokaupat Plus",
            "seller": "Mezzoforte Oy",
            "opened_on": "2026-01-15",
            "communication": {"email": "matti@example.fi"},
        }
    ),
):
    product: Text200 = Field(description="The product or service.")
    seller: Text200 = Field(description="Who sold it (Mezzoforte Oy or a group company).")
    opened_on: date = Field(description="When the contract began.")
    terminated_on: date | None = Field(default=None, description="When it ended.")
    communication: Communication = Field(
        default_factory=Communication, description="Contact data for this contract."
    )

    @model_validator(mode="after")
    def _ends_after_start(self) -> ContractCreate:
        if self.terminated_on is not None and self.terminated_on < self.opened_on:
            raise ValueError("terminated_on is before opened_on")
        return self


class ContractUpdate(Patch, json_schema_extra=example({"terminated_on": "2026-12-31"})):
    clearable = frozenset({"terminated_on"})

    product: Text200 | None = Field(default=None, description="The product or service.")
    seller: Text200 | None = Field(default=None, description="Who sold it.")
    opened_on: date | None = Field(default=None, description="When the contract began.")
    terminated_on: date | None = Field(default=None, description="When it ended; null reopens.")
    communication: Communication | None = Field(default=None, description="Replaces it whole.")


class ContractRead(BaseModel):
    id: uuid.UUID = Field(description="Contract id.")
    product: str = Field(description="The product or service.")
    seller: str = Field(description="Who sold it.")
    opened_on: date = Field(description="When it began.")
    terminated_on: date | None = Field(description="When it ended.")
    communication: Communication = Field(description="Contact data for this contract.")
    created_at: datetime = Field(description="When recorded.")
    updated_at: datetime = Field(description="When last changed.")


class ContractList(WholeList):
    items: list[ContractRead] = Field(description="Contracts, oldest first.")


class BillingWrite(
    Input,
    json_schema_extra=example(
        {
            "street": "Laskutuskatu 3",
            "postal_code": "00100",
            "city": "Helsinki",
            "country": "FI",
            "payment_method_reference": "pm_1Qx7example",
        }
    ),
):
    street: Text200 | None = Field(default=None, description="Billing street address.")
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=16)] | None = (
        Field(default=None, description="Billing postal code.")
    )
    city: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = Field(
        default=None, description="Billing city."
    )
    country: Country | None = Field(default=None, description="ISO 3166-1 alpha-2.")
    e_invoice_address: Annotated[str, StringConstraints(max_length=100)] | None = Field(
        default=None, description="E-invoicing address."
    )
    payment_method_reference: PaymentReference | None = Field(
        default=None,
        description="The payment provider's reference (a token); card numbers are refused.",
    )


class BillingRead(BillingWrite):
    model_config = ConfigDict(extra="ignore")

    created_at: datetime = Field(description="When first recorded.")
    updated_at: datetime = Field(description="When last changed.")


class CollectionCreate(
    Input,
    json_schema_extra=example(
        {
            "referred_on": "2026-03-01",
            "agency": "Perintä Oy",
            "amount_cents": 12900,
            "currency": "EUR",
        }
    ),
):
    referred_on: date = Field(description="When the debt was referred to the agency.")
    agency: Text200 = Field(description="The debt-collection agency.")
    amount_cents: int = Field(ge=0, le=10**12, description="Amount in cents.")
    currency: Currency = Field(default="EUR", description="ISO 4217 currency.")


class CollectionUpdate(
    Patch, json_schema_extra=example({"status": "paid", "closed_on": "2026-04-10"})
):
    clearable = frozenset({"closed_on"})

    status: Literal["open", "paid", "cancelled", "written_off"] | None = Field(
        default=None, description="Case status."
    )
    closed_on: date | None = Field(
        default=None, description="When it closed; required unless the status is `open`."
    )
    amount_cents: int | None = Field(default=None, ge=0, le=10**12, description="Amount.")
    agency: Text200 | None = Field(default=None, description="The agency.")


class CollectionRead(BaseModel):
    id: uuid.UUID = Field(description="Case id.")
    referred_on: date = Field(description="When referred.")
    agency: str = Field(description="The agency.")
    amount_cents: int = Field(description="Amount in cents.")
    currency: str = Field(description="ISO 4217 currency.")
    status: str = Field(description="`open`, `paid`, `cancelled` or `written_off`.")
    closed_on: date | None = Field(description="When closed.")
    created_at: datetime = Field(description="When recorded.")
    updated_at: datetime = Field(description="When last changed.")


class CollectionList(WholeList):
    items: list[CollectionRead] = Field(description="Cases, oldest first.")


class InterestCreate(
    Input,
    json_schema_extra=example(
        {"topic": "Taide ja antiikki", "note": "Erityisesti suomalainen lasi"}
    ),
):
    topic: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
    ] = Field(description="What the person is interested in, e.g. `antique furniture`.")
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = Field(
        default=None, description="Anything else they wanted to tell."
    )


class InterestRead(BaseModel):
    id: uuid.UUID = Field(description="Interest id.")
    topic: str = Field(description="The topic.")
    note: str | None = Field(description="The person's note.")
    created_at: datetime = Field(description="When given.")


class InterestList(WholeList):
    items: list[InterestRead] = Field(description="Interests, oldest first.")
