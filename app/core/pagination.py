"""Keyset (cursor) pagination: opaque cursors, never OFFSET."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, Field

from app.core.errors import AppError


class InvalidCursor(AppError):
    status = 400
    type = "invalid-cursor"
    title = "Invalid cursor"


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str | None, length: int) -> list[Any] | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidCursor("The cursor is not one this API gave out.") from None
    if not isinstance(values, list) or len(values) != length:
        raise InvalidCursor("The cursor is not one this API gave out.")
    return values


class PageInfo(BaseModel):
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


Cursor = Annotated[
    str | None,
    Query(max_length=500, description="The `next_cursor` of the previous page."),
]


def limit_query(default: int = 50, maximum: int = 200) -> Any:
    return Query(default, ge=1, le=maximum, description=f"Page size, at most {maximum}.")
