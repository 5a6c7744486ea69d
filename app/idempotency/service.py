"""`Idempotency-Key` on the POSTs that create (IETF httpapi draft, with Stripe's semantics).

A client that sends the same key again within a day gets the first answer again (status, body
and headers, marked `Idempotent-Replayed: true`) and nothing is done twice; the same key with
another request is a 422; a key whose first request is still running is a 409. Keys are per
caller (the signed-in person, or the machine client: one person's key never replays another's
answer), and the answer is stored in the same transaction as the work, so a request that fails
leaves no key behind and can simply be sent again.

How: ``IdempotentRoute`` gives every POST of a router the ``claim`` dependency, which takes a
transaction-scoped advisory lock on (caller, key) in the request's own session and looks for a
stored answer; after the endpoint has built its answer (still inside the request's transaction),
the route stores it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.dependencies import Caller, Principal
from app.core.errors import AppError, Conflict
from app.core.personal_data import person_owner
from app.db.session import Session
from app.idempotency.models import IdempotencyKey

HEADER = "Idempotency-Key"
KEPT = timedelta(hours=24)
REPLAYED_HEADERS = ("content-type", "location", "etag")


class IdempotencyKeyInFlight(Conflict):
    type = "idempotency-key-in-flight"
    title = "A request with this Idempotency-Key is still being processed"


class IdempotencyKeyReused(AppError):
    status = 422
    type = "idempotency-key-reused"
    title = "This Idempotency-Key was used for another request"


class InvalidIdempotencyKey(AppError):
    status = 400
    type = "invalid-idempotency-key"
    title = "Invalid Idempotency-Key"


class Replay(Exception):  # the stored answer, sent again
    def __init__(self, stored: IdempotencyKey) -> None:
        # Copied out: the request's transaction ends (rolled back) before the answer is sent.
        super().__init__("replay")
        self.status = stored.status
        self.body = bytes(stored.body)
        self.headers = dict(stored.headers)


@dataclass
class Claim:
    session: AsyncSession
    owner: str
    key: str
    fingerprint: str


def owner_of(caller: Principal) -> str:
    """Whose keys: each person's own, each machine client's own (keys never cross callers)."""
    return person_owner(caller.user_id) if caller.user_id else f"client:{caller.client_id}"


async def claim(request: Request, caller: Caller, session: Session) -> None:
    """Before the endpoint: 409 if the key's first request is running, the stored answer if it
    finished, 422 if the key was used for another request."""
    key = request.headers.get(HEADER)
    if key is None:
        return
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise InvalidIdempotencyKey("An Idempotency-Key is 1 to 255 printable characters.")
    body = await request.body()
    fingerprint = hashlib.sha256(
        request.method.encode() + b" " + request.url.path.encode() + b"\n" + body
    ).hexdigest()
    locked = await session.scalar(
        select(
            func.pg_try_advisory_xact_lock(func.hashtextextended(f"{owner_of(caller)} {key}", 7))
        )
    )
    if not locked:
        raise IdempotencyKeyInFlight(
            "The first request with this key has not finished; try again in a moment.",
            headers={"Retry-After": "1"},
        )
    stored = await session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.owner == owner_of(caller),
            IdempotencyKey.key == key,
            IdempotencyKey.created_at > datetime.now(UTC) - KEPT,
        )
    )
    if stored is not None:
        if stored.fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                "This key was sent with another request; use a new key for a new request."
            )
        raise Replay(stored)
    await session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.owner == owner_of(caller), IdempotencyKey.key == key
        )
    )
    request.state.idempotency = Claim(session, owner_of(caller), key, fingerprint)


async def _store(request: Request, response: Response) -> None:
    pending: Claim | None = getattr(request.state, "idempotency", None)
    if pending is None or response.status_code >= 500 or not hasattr(response, "body"):
        return
    headers = {
        name: response.headers[name] for name in REPLAYED_HEADERS if name in response.headers
    }
    await pending.session.execute(
        insert(IdempotencyKey).values(
            owner=pending.owner,
            key=pending.key,
            fingerprint=pending.fingerprint,
            status=response.status_code,
            body=bytes(response.body),
            headers=headers,
        )
    )


class IdempotentRoute(APIRoute):
    """A route whose POSTs honour `Idempotency-Key` (documented in the OpenAPI document).

    A request without the header runs the route as it is; one with it runs a twin of the route
    that also has the ``claim`` dependency, so the common case pays nothing for the feature."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        methods = {m.upper() for m in kwargs.get("methods") or ()}
        self._claiming: APIRoute | None = None
        if "POST" in methods:
            extra = dict(kwargs.get("openapi_extra") or {})
            extra["parameters"] = [
                *extra.get("parameters", []),
                {
                    "name": HEADER,
                    "in": "header",
                    "required": False,
                    "description": "Send the same key again (within 24 hours) to get the first "
                    "answer instead of doing the work again; a new request needs a new key.",
                    "schema": {"type": "string", "maxLength": 255},
                },
            ]
            kwargs["openapi_extra"] = extra
            claiming = dict(kwargs)
            claiming["dependencies"] = [*(kwargs.get("dependencies") or []), Depends(claim)]
            self._claiming = APIRoute(path, endpoint, **claiming)
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        if self._claiming is None:
            return handle
        handle_claimed = self._claiming.get_route_handler()

        async def handle_maybe_claimed(request: Request) -> Response:
            if HEADER.lower().encode() not in dict(request.scope["headers"]):
                return await handle(request)
            response = await handle_claimed(request)
            # Still inside the request's transaction: the answer and the work commit together.
            await _store(request, response)
            return response

        return handle_maybe_claimed


async def _replay(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Replay)
    return Response(
        content=exc.body,
        status_code=exc.status,
        headers={**exc.headers, "Idempotent-Replayed": "true"},
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(Replay, _replay)
