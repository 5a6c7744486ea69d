"""The record of processing activities: GET /v1/records-of-processing."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from app.auth.dependencies import Principal, require
from app.core.errors import problem_responses
from app.db.replica import BulkSession
from app.privacy import records

router = APIRouter(tags=["register description"])

RecordReader = Annotated[Principal, require("processing-records:read", clients_only=True)]


@router.get(
    "/v1/records-of-processing",
    response_model=dict[str, Any],
    responses={
        200: {
            "description": "The record as JSON, a page (`Accept: text/html`) or CSV "
            "(`Accept: text/csv`, one row per activity and category of data).",
            "content": {"application/json": {}, "text/html": {}, "text/csv": {}},
        },
        **problem_responses(401, 403),
    },
)
async def records_of_processing(
    caller: RecordReader,
    session: BulkSession,
    request: Request,
    lang: Annotated[Literal["fi", "sv", "en"], Query(description="Language.")] = "fi",
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """The record of processing activities (GDPR Art. 30(1)), generated from the personal-data
    catalogue, the purpose catalogue and the recipient registry (scope
    `processing-records:read`, the DPO)."""
    document = await records.record(session, request.app.state.settings, lang)
    wanted = accept or ""
    if "text/csv" in wanted:
        return Response(
            records.render_csv(document),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="records-of-processing-{lang}.csv"'
            },
        )
    if "text/html" in wanted and "application/json" not in wanted:
        return HTMLResponse(records.render_html(document))
    return JSONResponse(document)
