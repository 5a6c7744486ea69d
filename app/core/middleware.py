"""Pure ASGI middleware: request ids, access logs, metrics, the last-resort 500, body limits."""

from __future__ import annotations

import logging
import re
import time
import uuid

import structlog
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core import metrics
from app.core.errors import problem_response
from app.core.logging import get_logger

log = get_logger("app.request")
_request_logger = logging.getLogger("app.request")

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Answers that hold no personal data and may be cached (everything else under /v1 is no-store).
PUBLIC_PATHS = frozenset(
    {
        "/v1/register-description",
        "/v1/transparency/disclosure-log/checkpoint",
        "/v1/transparency/access-log/checkpoint",
    }
)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


class RequestContextMiddleware:
    """Gives each request an id, logs it, counts it, and answers 500 for unhandled errors.

    Being outermost, it also turns an unhandled exception into a problem+json 500 that still carries
    the request id: no stack trace or SQL ever reaches the client.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Our own id, always: a client's X-Request-ID is its claim, kept apart as the
        # correlation id (echoed in X-Correlation-ID) and never stored as if it were ours.
        request_id = uuid.uuid4().hex
        incoming = _header(scope, b"x-request-id")
        correlation_id = incoming if incoming and _VALID_REQUEST_ID.match(incoming) else None
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["correlation_id"] = correlation_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        if correlation_id:
            structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        private = scope["path"].startswith("/v1/") and scope["path"] not in PUBLIC_PATHS
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                headers.append((b"x-content-type-options", b"nosniff"))
                if private and not any(name == b"cache-control" for name, _ in headers):
                    # Personal data and tokens are never kept by a browser or a proxy.
                    headers.append((b"cache-control", b"no-store"))
                if correlation_id:
                    headers.append((b"x-correlation-id", correlation_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled_error", method=scope["method"], path=scope["path"])
            if not response_started:
                response = problem_response(
                    scope["path"],
                    500,
                    "internal-error",
                    "Internal server error",
                    "The request failed on our side; quote the request id when reporting it.",
                    request_id=request_id,
                )
                await response(scope, receive, send_with_id)
            status = 500
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            metrics.observe_request(scope["method"], template, status, elapsed)
            # The path template, never the query string: queries may carry e-mail addresses.
            if _request_logger.isEnabledFor(logging.INFO):
                log.info(
                    "request",
                    method=scope["method"],
                    route=template,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )
            structlog.contextvars.clear_contextvars()


class BodySizeLimitMiddleware:
    """Refuses request bodies over ``max_bytes`` with 413, by header or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            response = problem_response(
                scope["path"],
                413,
                "payload-too-large",
                "Payload too large",
                f"The request body is larger than {self.max_bytes} bytes.",
                request_id=scope.get("state", {}).get("request_id"),
            )
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise StarletteHTTPException(
                        413, f"The request body is larger than {self.max_bytes} bytes."
                    )
            return message

        await self.app(scope, limited_receive, send)
