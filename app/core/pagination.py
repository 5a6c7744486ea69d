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
import re
import uuid
from functools import lru_cache
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import Query
from pydantic import (
    BaseModel,
    Field,
    TypeAdapter,
    ValidationError,
)
from sqlalchemy import tuple_
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


def past(after: tuple[Any, ...], *columns: Any) -> Any:
    """The keyset condition: rows sorted after the cursor's keys (a row comparison, which the
    index on the same columns serves)."""
    return tuple_(*columns) > tuple_(*after)


class PageInfo(BaseModel):
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page. The same link "
        'is in the `Link: <...>; rel="next"` header.'
    )


class WholeList(PageInfo):
    """A list that is always whole, in the shape every paged list has."""

    next_cursor: None = Field(
        default=None, description="Always null: the whole list is in `items`."
    )


Cursor = Annotated[
    str | None,
    Query(max_length=MAX_CURSOR_LENGTH, description="The `next_cursor` of the previous page."),
]


def limit_query(default: int = 50, maximum: int = 200) -> Any:
    return Query(default, ge=1, le=maximum, description=f"Page size, at most {maximum}.")


# A page's own next_cursor is its first field (PageInfo's, inherited first): never a key of the
# same name inside its items.
_NEXT = re.compile(rb'^\{"next_cursor":"([A-Za-z0-9_=+/-]{1,4000})"')


class NextLinkMiddleware:
    """Every page of a list answers ``Link: <...>; rel="next"`` (RFC 8288) beside its
    ``next_cursor``: the same request with ``cursor`` set to it. Only small JSON answers to GETs
    are looked at (never a streamed export), and only for the cursor's bytes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        held: Message | None = None

        async def send_with_link(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                json_body = headers.get(b"content-type", b"").startswith(b"application/json")
                if message["status"] == 200 and json_body and b"content-length" in headers:
                    held = message
                    return
                await send(message)
                return
            if held is not None:
                start, held = held, None
                found = _NEXT.match(message.get("body", b""))
                if found is not None:
                    start = {**start, "headers": [*start["headers"], _link(scope, found[1])]}
                await send(start)
            await send(message)

        await self.app(scope, receive, send_with_link)


def _link(scope: Scope, cursor: bytes) -> tuple[bytes, bytes]:
    query = [
        (k, v)
        for k, v in parse_qsl(
            scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True
        )
        if k != "cursor"
    ]
    query.append(("cursor", cursor.decode("ascii")))
    target = f"{scope.get('root_path', '')}{scope['path']}?{urlencode(query)}"
    return b"link", f'<{target}>; rel="next"'.encode("latin-1")
