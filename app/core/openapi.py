"""The OpenAPI document, with every error documented as ``application/problem+json``."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from app.core.ratelimit import RATE_LIMIT_HEADERS

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_FRAMEWORK_SCHEMAS = ("HTTPValidationError", "ValidationError")


def _problem_content(response: dict[str, Any]) -> None:
    response["content"] = {"application/problem+json": {"schema": _PROBLEM_REF}}


def _document_common_errors(path: str, operation: dict[str, Any]) -> None:
    """The answers any operation of this kind can give, whatever its own code: 401/403 where a
    token is needed, 404 where the path names something, 400 for a bad cursor or value, 413 and
    422 for bodies and parameters, 500 and 503 (database unavailable) everywhere."""
    responses = operation.setdefault("responses", {})
    wanted = {"500", "503"}
    if operation.get("security"):
        wanted |= {"401", "403"}
    if "{" in path:
        wanted.add("404")
    parameters = operation.get("parameters", [])
    if parameters or "requestBody" in operation:
        wanted |= {"400", "422"}
    if "requestBody" in operation:
        wanted |= {"413", "415"}
    for status in sorted(wanted - set(responses)):
        responses[status] = {"description": HTTPStatus(int(status)).phrase}
        _problem_content(responses[status])


REQUEST_ID_HEADER = {
    "X-Request-ID": {
        "description": "The service's own id of this request: quote it when reporting a problem.",
        "schema": {"type": "string"},
    }
}
RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer"},
    }
}


def _document_headers(status: str, response: dict[str, Any]) -> None:
    """The headers every answer carries (X-Request-ID), and those of a refusal to wait."""
    headers = response.setdefault("headers", {})
    headers.update(REQUEST_ID_HEADER)
    if status in ("429", "503"):
        headers.update(RETRY_AFTER_HEADER)
    if status == "429":
        headers.update(RATE_LIMIT_HEADERS)


def _example_of(schema: dict[str, Any], schemas: dict[str, Any]) -> Any:
    """The first example of a body's schema (or of the first member of a union)."""
    if "$ref" in schema:
        schema = schemas.get(schema["$ref"].rsplit("/", 1)[-1], {})
    for member in schema.get("oneOf", schema.get("anyOf", [])):
        found = _example_of(member, schemas)
        if found is not None:
            return found
    examples = schema.get("examples")
    return examples[0] if examples else None


def _document_body_example(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    for media in operation.get("requestBody", {}).get("content", {}).values():
        if "example" not in media:
            found = _example_of(media.get("schema", {}), schemas)
            if found is not None:
                media["example"] = found


def operation_id(route: APIRoute) -> str:
    """Every operation's id is its endpoint function's name in camelCase (`readUser`,
    `recordDecisions`, `exportUser`): what generated clients name their methods after."""
    head, *rest = route.name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def install_openapi(app: FastAPI) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        from app.core.errors import FieldError, Problem

        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas["FieldError"] = FieldError.model_json_schema()
        schemas["Problem"].pop("$defs", None)
        from app.requests.schemas import ExportDocument

        # Streamed, so not a response model: its shape is published all the same.
        document = ExportDocument.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(document.pop("$defs", {}))
        schemas["ExportDocument"] = document
        for name in _FRAMEWORK_SCHEMAS:
            schemas.pop(name, None)
        for path, path_item in spec.get("paths", {}).items():
            for operation in path_item.values():
                _document_common_errors(path, operation)
                _document_body_example(operation, schemas)
                for status, response in operation.get("responses", {}).items():
                    _document_headers(status, response)
                    content = response.get("content", {})
                    documented_problem = "application/problem+json" in content
                    default_422 = status == "422" and "application/json" in content
                    if documented_problem or default_422:
                        _problem_content(response)
        app.openapi_schema = spec
        return spec

    app.openapi = build  # type: ignore[method-assign]
