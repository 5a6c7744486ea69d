"""The OpenAPI document, with every error documented as ``application/problem+json``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_FRAMEWORK_SCHEMAS = ("HTTPValidationError", "ValidationError")


def _problem_content(response: dict[str, Any]) -> None:
    response["content"] = {"application/problem+json": {"schema": _PROBLEM_REF}}


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
        for name in _FRAMEWORK_SCHEMAS:
            schemas.pop(name, None)
        for path_item in spec.get("paths", {}).values():
            for operation in path_item.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    documented_problem = "application/problem+json" in content
                    default_422 = status == "422" and "application/json" in content
                    if documented_problem or default_422:
                        _problem_content(response)
        app.openapi_schema = spec
        return spec

    app.openapi = build  # type: ignore[method-assign]
