"""The OpenAPI document, with every error documented as ``application/problem+json``."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

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
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    documented_problem = "application/problem+json" in content
                    default_422 = status == "422" and "application/json" in content
                    if documented_problem or default_422:
                        _problem_content(response)
        app.openapi_schema = spec
        return spec

    app.openapi = build  # type: ignore[method-assign]
