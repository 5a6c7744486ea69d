"""Every error leaves the service as ``application/problem+json`` (RFC 9457).

Services raise subclasses of :class:`AppError`; the handlers here turn them, and the framework's own
404/405/422/413 errors, into problem documents with a stable ``type``.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "https://registry.huutokaupat.com/problems/"


class FieldError(BaseModel):
    field: str = Field(description="Where the bad value is, e.g. `body.phone`.")
    message: str = Field(description="What is wrong with it.")
    type: str = Field(description="A stable code for the kind of error.")


class Problem(BaseModel):
    type: str = Field(description="A URI naming the kind of problem; stable.")
    title: str = Field(description="A short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str | None = Field(default=None, description="What went wrong this time.")
    instance: str | None = Field(default=None, description="The request path.")
    request_id: str | None = Field(default=None, description="The request's X-Request-ID.")
    errors: list[FieldError] | None = Field(
        default=None, description="For validation errors: each failing field."
    )


class AppError(Exception):
    """A domain error with its own problem type."""

    status: int = 400
    type: str = "bad-request"
    title: str = "Bad request"
    headers: Mapping[str, str] | None = None

    def __init__(self, detail: str | None = None, *, headers: Mapping[str, str] | None = None):
        super().__init__(detail or self.title)
        self.detail = detail
        if headers is not None:
            self.headers = headers


class NotFound(AppError):
    status = 404
    type = "not-found"
    title = "Not found"


class Conflict(AppError):
    status = 409
    type = "conflict"
    title = "Conflict"


class Forbidden(AppError):
    status = 403
    type = "forbidden"
    title = "Forbidden"


class PreconditionFailed(AppError):
    status = 412
    type = "precondition-failed"
    title = "Precondition failed"


class ServiceUnavailable(AppError):
    status = 503
    type = "service-unavailable"
    title = "Service unavailable"


def problem_response(
    request_path: str | None,
    status: int,
    type_: str,
    title: str,
    detail: str | None = None,
    *,
    errors: list[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
    request_id: str | None = None,
) -> JSONResponse:
    body = Problem(
        type=PROBLEM_BASE + type_,
        title=title,
        status=status,
        detail=detail,
        instance=request_path,
        request_id=request_id,
        errors=errors,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        headers=dict(headers or {}),
        media_type=PROBLEM_CONTENT_TYPE,
    )


def _request_id(request: Request) -> str | None:
    value = getattr(request.state, "request_id", None)
    return value if isinstance(value, str) else None


_HTTP_TYPES = {
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    413: "payload-too-large",
    415: "unsupported-media-type",
    429: "too-many-requests",
}


async def _handle_app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return problem_response(
        request.url.path,
        exc.status,
        exc.type,
        exc.title,
        exc.detail,
        headers=exc.headers,
        request_id=_request_id(request),
    )


async def _handle_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
    return problem_response(
        request.url.path,
        status,
        _HTTP_TYPES.get(status, f"http-{status}"),
        title,
        detail,
        headers=exc.headers,
        request_id=_request_id(request),
    )


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


async def _handle_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    raw = exc.errors()
    about_body = any(tuple(err.get("loc", ()))[:1] == ("body",) for err in raw)
    content_type = request.headers.get("content-type", "")
    if about_body and content_type and not _is_json(content_type) and "form" not in content_type:
        # A JSON body sent as something else: the media type is wrong, not the fields.
        return problem_response(
            request.url.path,
            415,
            "unsupported-media-type",
            "Unsupported media type",
            f"The body must be `application/json`, not `{content_type.split(';')[0]}`.",
            request_id=_request_id(request),
        )
    if any(err.get("type") == "json_invalid" for err in raw):
        return problem_response(
            request.url.path,
            400,
            "malformed-json",
            "Malformed JSON",
            "The request body is not well-formed JSON.",
            request_id=_request_id(request),
        )
    errors = [
        # The failing value itself is left out: it may be a password or an identity code.
        FieldError(field=_field_path(err.get("loc", ())), message=err["msg"], type=err["type"])
        for err in raw
    ]
    fields = ", ".join(sorted({e.field for e in errors}))
    return problem_response(
        request.url.path,
        422,
        "validation-error",
        "Request validation failed",
        f"Invalid or missing: {fields}" if fields else None,
        errors=errors,
        request_id=_request_id(request),
    )


class DatabaseUnavailable(ServiceUnavailable):
    type = "database-unavailable"
    title = "Database unavailable"


def _connection_lost(exc: DBAPIError) -> bool:
    """The database went away or refuses connections (SQLSTATE class 08, or 57P: shutting down,
    starting up), as opposed to an error in a statement."""
    if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
        return True
    return _sqlstate(exc).startswith(("08", "57P"))


class InvalidInput(AppError):
    status = 400
    type = "invalid-input"
    title = "Invalid input"


def _sqlstate(exc: DBAPIError) -> str:
    cause = getattr(exc.orig, "__cause__", None) or exc.orig
    return str(getattr(cause, "sqlstate", None) or getattr(exc.orig, "sqlstate", "") or "")


async def _handle_database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """No connection within the pool timeout, or the database went away: 503, try again.
    A value the database cannot take (SQLSTATE class 22, e.g. a number out of range) is the
    caller's: 400."""
    if isinstance(exc, DBAPIError) and _sqlstate(exc).startswith("22"):
        return await _handle_app_error(
            request, InvalidInput("A value is out of range or not of its type.")
        )
    if isinstance(exc, DBAPIError) and not _connection_lost(exc):
        raise exc
    error = DatabaseUnavailable(
        "The database is not reachable right now; try again shortly.",
        headers={"Retry-After": "2"},
    )
    return await _handle_app_error(request, error)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _handle_app_error)
    # The hot paths on the raw driver raise asyncpg's own errors, which SQLAlchemy never wraps:
    # a connection lost or a server shutting down (SQLSTATE 08, 57P) is the same 503 there.
    raw_connection_lost = (
        asyncpg.exceptions.PostgresConnectionError,
        asyncpg.exceptions.OperatorInterventionError,
    )
    for unavailable in (PoolTimeout, DBAPIError, OSError, TimeoutError, *raw_connection_lost):
        app.add_exception_handler(unavailable, _handle_database_unavailable)
    app.add_exception_handler(StarletteHTTPException, _handle_http_error)
    app.add_exception_handler(RequestValidationError, _handle_validation_error)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries documenting problem+json answers."""
    return {
        status: {"description": HTTPStatus(status).phrase, "content": {PROBLEM_CONTENT_TYPE: {}}}
        for status in statuses
    }
