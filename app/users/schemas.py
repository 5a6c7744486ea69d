"""Shapes of the users API."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class UserRead(BaseModel):
    id: uuid.UUID = Field(description="The user's id.")
    kind: Literal["private", "company"] = Field(description="Private person or company.")
    status: Literal["active", "closed", "erased"] = Field(description="Account status.")
    username: str | None = Field(description="Sign-in name (case-insensitive, unique).")
    created_at: datetime = Field(description="When the user registered.")
    updated_at: datetime = Field(description="When the profile last changed.")
