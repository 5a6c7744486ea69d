"""Conditional requests (RFC 9110 section 13): strong ETags on every writable resource, ``If-Match``
checked under the write's lock (412), and ``If-None-Match`` answered 304 for any GET whose answer
carries an ETag (one middleware, so every resource that tags its answers gets it)."""

from __future__ import annotations

import hashlib
from typing import Annotated, TypeVar

from fastapi import Header, Response
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import PreconditionFailed

Model = TypeVar("Model", bound=BaseModel)

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The ETag you read: the write happens only if the resource is still that "
        "(412 otherwise); `*`: only if it exists.",
    ),
]

ETAG_HEADER = {
    "ETag": {"description": "A strong ETag of this representation.", "schema": {"type": "string"}}
}
LOCATION_HEADER = {
    "Location": {"description": "Where the new resource is read.", "schema": {"type": "string"}}
}


def tagged(status: int, *, location: bool = False) -> dict[int | str, dict[str, object]]:
    """The OpenAPI ``responses`` entry of an answer that carries an ETag (and a Location)."""
    headers = {**ETAG_HEADER, **(LOCATION_HEADER if location else {})}
    return {status: {"headers": headers}}


def strong_etag(representation: BaseModel) -> str:
    """The hash of the representation itself: equal bytes, equal tag."""
    return '"' + hashlib.sha256(representation.model_dump_json().encode()).hexdigest()[:32] + '"'


def _listed(header: str, etag: str) -> bool:
    # Strong comparison (If-Match): a weak tag (W/"...") never matches.
    return any(candidate.strip() == etag for candidate in header.split(","))


def _listed_weakly(header: str, etag: str) -> bool:
    # Weak comparison (If-None-Match, RFC 9110 13.1.2): W/ is ignored on both sides, so a tag a
    # compressing proxy weakened still gets its 304.
    plain = etag.removeprefix("W/")
    return any(candidate.strip().removeprefix("W/") == plain for candidate in header.split(","))


def check_if_match(if_match: str | None, current: BaseModel | None, what: str) -> None:
    """Raises 412 unless ``If-Match`` is absent or names the current representation (``current``
    read under the write's lock; None when there is none yet)."""
    if if_match is None:
        return
    if current is None:
        raise PreconditionFailed(f"There is no {what} yet; send the write without If-Match.")
    if if_match.strip() != "*" and not _listed(if_match, strong_etag(current)):
        raise PreconditionFailed(f"The {what} changed since you read it; read it again (ETag).")


def tag(response: Response, representation: Model) -> Model:
    """Puts the representation's ETag on the answer."""
    response.headers["ETag"] = strong_etag(representation)
    return representation


class NotModifiedMiddleware:
    """A GET or HEAD with ``If-None-Match`` naming the answer's ETag gets 304 and no body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        wanted = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == b"if-none-match"), None
        )
        if wanted is None:
            await self.app(scope, receive, send)
            return
        not_modified = False

        async def send_conditionally(message: Message) -> None:
            nonlocal not_modified
            if message["type"] == "http.response.start" and message["status"] == 200:
                headers = message.get("headers", [])
                etag = next((v.decode("latin-1") for k, v in headers if k == b"etag"), None)
                if etag is not None and (wanted.strip() == "*" or _listed_weakly(wanted, etag)):
                    not_modified = True
                    kept = [
                        (k, v) for k, v in headers if k not in (b"content-length", b"content-type")
                    ]
                    await send({"type": "http.response.start", "status": 304, "headers": kept})
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
            if not_modified:
                return  # the body of the answer the client already has
            await send(message)

        await self.app(scope, receive, send_conditionally)
