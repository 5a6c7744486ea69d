"""Shapes of the users API: profiles of both kinds, registration, updates, search, history."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from app.core.pagination import PageInfo, WholeList
from app.core.schemas import Input, Patch, example
from app.core.validators import (
    BusinessId,
    Country,
    Email,
    IdentityCode,
    Phone,
)

Language = Literal["fi", "sv", "en"]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
LongName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Username = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=3, max_length=64, pattern=r"^[A-Za-z0-9._@+-]+$"
    ),
]
Password = Annotated[str, StringConstraints(min_length=10, max_length=256)]
EInvoiceAddress = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=4, max_length=100)
]


def _plausible_birth_date(value: date) -> date:
    if value > date.today():
        raise ValueError("is in the future")
    if value.year < 1900:
        raise ValueError("is before 1900")
    return value


BirthDate = Annotated[date, AfterValidator(_plausible_birth_date)]


class Address(Input):
    street: LongName = Field(description="Street address.")
    postal_code: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=2, max_length=16)
    ] = Field(description="Postal code (five digits in Finland).")
    city: Name = Field(description="Post office or city.")
    country: Country = Field(default="FI", description="ISO 3166-1 alpha-2 country code.")


class PrivateUserCreate(
    Input,
    json_schema_extra=example(
        {
            "kind": "private",
            "username": "matti.meikalainen",
            "password": "pitkä salasana 2026",
            "first_name": "Matti",
            "last_name": "Meikäläinen",
            "language": "fi",
            "address": {
                "street": "Mannerheimintie 1 A 2",
                "postal_code": "00100",
                "city": "Helsinki",
                "country": "FI",
            },
            "phone": "040 123 4567",
            "email": "matti@example.fi",
        }
    ),
):
    kind: Literal["private"] = Field(description="A private person.")
    username: Username = Field(description="Sign-in name; unique regardless of case.")
    password: Password = Field(description="At least 10 characters; stored as argon2id only.")
    first_name: Name = Field(description="First name.")
    last_name: Name = Field(description="Last name.")
    birth_date: BirthDate | None = Field(default=None, description="Date of birth (gives age).")
    language: Language = Field(default="fi", description="Language of communication.")
    address: Address | None = Field(default=None, description="Postal address.")
    phone: Phone | None = Field(default=None, description="Phone; stored as E.164.")
    email: Email | None = Field(default=None, description="E-mail address.")


class CompanyUserCreate(
    Input,
    json_schema_extra=example(
        {
            "kind": "company",
            "username": "huutajat-oy",
            "password": "pitkä salasana 2026",
            "company_name": "Huutajat Oy",
            "business_id": "2077474-0",
            "contact_name": "Maija Virtanen",
            "email": "myynti@huutajat.example.fi",
            "e_invoice_address": "003720774740",
        }
    ),
):
    kind: Literal["company"] = Field(description="A company (legal person).")
    username: Username = Field(description="Sign-in name; unique regardless of case.")
    password: Password = Field(description="At least 10 characters; stored as argon2id only.")
    company_name: LongName = Field(description="The company's registered name.")
    business_id: BusinessId = Field(description="Business ID (Y-tunnus), NNNNNNN-C; unique.")
    contact_name: LongName | None = Field(default=None, description="Contact person's name.")
    language: Language = Field(default="fi", description="Language of communication.")
    address: Address | None = Field(default=None, description="Postal address.")
    phone: Phone | None = Field(default=None, description="Phone; stored as E.164.")
    email: Email | None = Field(default=None, description="E-mail address.")
    e_invoice_address: EInvoiceAddress | None = Field(
        default=None, description="E-invoicing address (OVT or IBAN-based)."
    )


UserCreate = Annotated[PrivateUserCreate | CompanyUserCreate, Field(discriminator="kind")]


class UserUpdate(
    Patch,
    json_schema_extra=example(
        {
            "phone": "+358 40 765 4321",
            "address": {
                "street": "Aleksanterinkatu 5",
                "postal_code": "00170",
                "city": "Helsinki",
                "country": "FI",
            },
        }
    ),
):
    """Only the fields sent change; `null` clears an optional one. Fields of the other kind of
    user are refused."""

    clearable = frozenset(
        {"birth_date", "contact_name", "e_invoice_address", "address", "phone", "email"}
    )

    first_name: Name | None = Field(default=None, description="Private users.")
    last_name: Name | None = Field(default=None, description="Private users.")
    birth_date: BirthDate | None = Field(default=None, description="Private users.")
    company_name: LongName | None = Field(default=None, description="Company users.")
    business_id: BusinessId | None = Field(default=None, description="Company users.")
    contact_name: LongName | None = Field(default=None, description="Company users.")
    e_invoice_address: EInvoiceAddress | None = Field(default=None, description="Company users.")
    language: Language | None = Field(default=None, description="Language of communication.")
    address: Address | None = Field(default=None, description="Replaces the whole address.")
    phone: Phone | None = Field(default=None, description="Phone; stored as E.164.")
    email: Email | None = Field(default=None, description="E-mail address.")


class IdentityCodeStatus(BaseModel):
    masked: str = Field(description="Date and century sign only, e.g. `131052-****`.")
    method: str = Field(description="How the person was strongly identified.")
    verified_at: datetime = Field(description="When the code was stored.")


class UserReadBase(BaseModel):
    id: uuid.UUID = Field(description="The user's id.")
    status: Literal["active", "closed", "erased"] = Field(description="Account status.")
    username: str | None = Field(description="Sign-in name.")
    language: Language = Field(description="Language of communication.")
    address: Address | None = Field(description="Postal address.")
    phone: str | None = Field(description="Phone, E.164.")
    email: str | None = Field(description="E-mail address.")
    deceased_on: date | None = Field(description="Date of death from the population register.")
    created_at: datetime = Field(description="When the user registered.")
    updated_at: datetime = Field(description="When the profile last changed.")


class PrivateUserRead(UserReadBase):
    kind: Literal["private"] = Field(description="A private person.")
    first_name: str | None = Field(description="First name.")
    last_name: str | None = Field(description="Last name.")
    birth_date: date | None = Field(description="Date of birth.")
    age: int | None = Field(description="Age in whole years today, from the birth date.")
    identity_code: IdentityCodeStatus | None = Field(
        description="Whether an identity code is held, masked."
    )


class CompanyUserRead(UserReadBase):
    kind: Literal["company"] = Field(description="A company.")
    company_name: str | None = Field(description="Registered name.")
    business_id: str | None = Field(description="Business ID (Y-tunnus).")
    contact_name: str | None = Field(description="Contact person's name.")
    e_invoice_address: str | None = Field(description="E-invoicing address.")


UserRead = Annotated[PrivateUserRead | CompanyUserRead, Field(discriminator="kind")]


class UserPage(PageInfo):
    items: list[PrivateUserRead | CompanyUserRead] = Field(description="Users, oldest first.")


class IdentityCodeSet(
    Input, json_schema_extra=example({"identity_code": "131052-308T", "method": "bank_id"})
):
    identity_code: IdentityCode = Field(description="Personal identity code (henkilötunnus).")
    method: Literal["bank_id", "mobile_id", "certificate_card", "in_person", "dvv"] = Field(
        description="How the person was strongly identified."
    )


class IdentityCodeRead(BaseModel):
    identity_code: str = Field(description="The full identity code.")
    method: str = Field(description="How the person was strongly identified.")
    verified_at: datetime = Field(description="When the code was stored.")


class UserSearch(Input, json_schema_extra=example({"identity_code": "131052-308T"})):
    identity_code: IdentityCode = Field(description="Exact identity code to look for.")


class UserSearchResult(WholeList):
    items: list[PrivateUserRead | CompanyUserRead] = Field(description="Zero or one user.")


class ChangeRead(BaseModel):
    id: int = Field(description="Change number, increasing.")
    changed_at: datetime = Field(description="When.")
    source: Literal["subject", "staff", "dvv", "posti", "import"] = Field(
        description="Where the change came from."
    )
    actor: str = Field(description="Who made it: `subject` (the person) or `client:<client_id>`.")
    category: str = Field(description="Which of the register's categories changed.")
    action: str = Field(description="What happened: `created`, `updated`, `closed`, ...")
    fields: list[str] = Field(description="Which fields changed.")
    changes: dict[str, Any] = Field(
        description="Old and new values per field; identity codes only as `changed`."
    )
    update_id: str | None = Field(description="The register update (DVV, Posti) it came from.")


class ChangePage(PageInfo):
    items: list[ChangeRead] = Field(description="Changes, oldest first.")
