"""Shapes of register updates from DVV and Posti."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.core.schemas import example
from app.core.validators import IdentityCode
from app.users.schemas import Address, LongName, Name

UpdateId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128, pattern=r"^\S+$")
]


class RegisterUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    update_id: UpdateId = Field(description="The source's id for this update; applied once.")
    source: Literal["dvv", "posti"] = Field(description="DVV (population register) or Posti.")
    type: Literal["address_change", "name_change", "death_notice"] = Field(
        description="What changes. Posti sends address changes only."
    )
    user_id: uuid.UUID | None = Field(default=None, description="The user, if known by id.")
    identity_code: IdentityCode | None = Field(
        default=None, description="Or the user's identity code (DVV)."
    )
    address: Address | None = Field(default=None, description="address_change: the new address.")
    first_name: Name | None = Field(default=None, description="name_change: private users.")
    last_name: Name | None = Field(default=None, description="name_change: private users.")
    company_name: LongName | None = Field(default=None, description="name_change: companies.")
    died_on: date | None = Field(default=None, description="death_notice: date of death.")

    @model_validator(mode="after")
    def _consistent(self) -> RegisterUpdate:
        if (self.user_id is None) == (self.identity_code is None):
            raise ValueError("give exactly one of user_id and identity_code")
        if self.source == "posti" and self.type != "address_change":
            raise ValueError("Posti sends address changes only")
        needed = {
            "address_change": self.address is not None,
            "name_change": any((self.first_name, self.last_name, self.company_name)),
            "death_notice": self.died_on is not None,
        }
        if not needed[self.type]:
            field = {
                "address_change": "address",
                "name_change": "a name",
                "death_notice": "died_on",
            }
            raise ValueError(f"{self.type} needs {field[self.type]}")
        return self


class RegisterUpdateBatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=example(
            {
                "updates": [
                    {
                        "update_id": "posti-2026-000123",
                        "source": "posti",
                        "type": "address_change",
                        "user_id": "3f1c2a9e-5b7d-4c1e-9a2b-7d8e6f5a4b3c",
                        "address": {
                            "street": "Uusikatu 7 B 12",
                            "postal_code": "33100",
                            "city": "Tampere",
                            "country": "FI",
                        },
                    }
                ]
            }
        ),
    )

    updates: list[RegisterUpdate] = Field(
        min_length=1, max_length=1000, description="1 to 1000 updates, applied in order."
    )


class RegisterUpdateResult(BaseModel):
    update_id: str = Field(description="The update.")
    outcome: Literal[
        "applied", "unchanged", "duplicate", "update_id_reused", "unknown_user", "not_applicable"
    ] = Field(
        description="`applied` (data changed), `unchanged` (already so), `duplicate` (this "
        "source's id was applied before to this user; nothing changed), `update_id_reused` "
        "(this source used the id for another user; not applied), `unknown_user` (not stored: "
        "send again once the user exists), `not_applicable` (e.g. a name change of the wrong "
        "kind). Update ids are per source: DVV's and Posti's never collide."
    )
    user_id: uuid.UUID | None = Field(description="The user it applied to.")
    changed_fields: list[str] = Field(description="Fields that changed.")


class RegisterUpdateResults(BaseModel):
    results: list[RegisterUpdateResult] = Field(description="One per update, in order.")
