"""Keyset (cursor) pagination: opaque cursors, never OFFSET.

A cursor is the base64 of a JSON array of the last row's sort keys. Decoding checks it against the
shape the endpoint pages by (a time, then an id...), so a cursor of any other shape, forged or
from another endpoint, is a 400 naming the parameter and never reaches SQL. The cursor's value is
never logged: it may hold what a row is sorted by.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from functools import lru_cache
from typing import Annotated, Any

from fastapi import Query
from pydantic import (
    BaseModel,
    Field,
    TypeAdapter,
    ValidationError,
)

from app.core.errors import AppError
from app.core.validators import PlausibleDate, PlausibleTime

# The types a cursor's keys may have; each is checked in strict JSON form.
CursorTime = PlausibleTime
CursorDate = PlausibleDate
CursorId = Annotated[int, Field(strict=True, ge=0, le=2**63 - 1)]
CursorUuid = uuid.UUID

MAX_CURSOR_LENGTH = 500


class InvalidCursor(AppError):
    status = 400
    type = "invalid-cursor"
    title = "Invalid cursor"


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@lru_cache
def _adapter(shape: tuple[Any, ...]) -> TypeAdapter[tuple[Any, ...]]:
    return TypeAdapter(tuple[shape])  # type: ignore[valid-type]


def decode_cursor(
    cursor: str | None, *shape: Any, parameter: str = "cursor"
) -> tuple[Any, ...] | None:
    """The typed keys of ``cursor`` (None for the first page); 400 unless it has ``shape``."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return _adapter(shape).validate_json(raw)
    except (ValueError, binascii.Error, ValidationError):
        # ValidationError's text would quote the value: it stays out of the answer and the log.
        raise InvalidCursor(
            f"The query parameter `{parameter}` is not a cursor this endpoint gave out; "
            "pass a `next_cursor` unchanged, or leave it out for the first page."
        ) from None


class PageInfo(BaseModel):
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


Cursor = Annotated[
    str | None,
    Query(max_length=MAX_CURSOR_LENGTH, description="The `next_cursor` of the previous page."),
]


def limit_query(default: int = 50, maximum: int = 200) -> Any:
    return Query(default, ge=1, le=maximum, description=f"Page size, at most {maximum}.")
