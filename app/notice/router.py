"""The register description, live: GET /v1/register-description."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from app.db.replica import BulkSession
from app.notice import service

router = APIRouter(tags=["register description"])


@router.get(
    "/v1/register-description",
    response_model=dict[str, Any],
    responses={200: {"content": {"application/json": {}, "text/html": {}}}},
)
async def register_description(
    session: BulkSession,
    request: Request,
    lang: Annotated[Literal["fi", "sv", "en"], Query(description="Language.")] = "fi",
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """The register description and privacy notice (GDPR Art. 13/14), built from the live
    configuration: JSON, or a page for `Accept: text/html` (public, no token)."""
    description = await service.register_description(session, request.app.state.settings, lang)
    if accept and "text/html" in accept and "application/json" not in accept:
        return HTMLResponse(service.render_html(description))
    return JSONResponse(description)
