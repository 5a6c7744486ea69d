"""Base shapes of request bodies, shared by every domain."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator


class Input(BaseModel):
    """A request body: unknown fields are refused, never ignored."""

    model_config = ConfigDict(extra="forbid")


class Patch(Input):
    """A partial update: a field left out keeps its value, and ``null`` clears it only where the
    field may be empty (``clearable``). A ``null`` anywhere else is a 422 naming the field, never
    a constraint violation in the database."""

    clearable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _null_only_where_clearable(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.clearable:
            raise ValueError("may not be null; leave the field out to keep its current value")
        return value


def example(values: dict[str, Any]) -> dict[str, Any]:
    """A request body's example for the OpenAPI document (copied into each operation that takes
    it): what the explorer prefills and what curl users copy."""
    return {"examples": [values]}
