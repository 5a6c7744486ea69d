"""GET /v1/users/{user_ref}/notices: what the registry has told the person."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response
from fastapi.responses import HTMLResponse

from app.auth.dependencies import Principal, UserRef, require, resolve_user_id
from app.core.errors import problem_responses
from app.core.pagination import Cursor, limit_query
from app.db.session import Session
from app.subject_notices import service
from app.subject_notices.schemas import NoticePage
from app.users import service as users

router = APIRouter(tags=["notices to the person"])


@router.get(
    "/v1/users/{user_ref}/notices",
    response_model=NoticePage,
    responses={
        200: {"content": {"application/json": {}, "text/html": {}}},
        **problem_responses(400, 401, 403, 404),
    },
)
async def list_notices(
    user_ref: UserRef,
    caller: Annotated[Principal, require("users:read")],
    session: Session,
    cursor: Cursor = None,
    limit: int = limit_query(20, 100),
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response | NoticePage:
    """The notices owed to the person (a restriction lifted, Art. 18(3); a request's deadline
    extended, Art. 12(3)), newest first, in their language; a page for `Accept: text/html`
    (scope `users:read`: the person, staff, the DPO)."""
    user_id = resolve_user_id(caller, user_ref)
    user = await users.get_user(session, user_id)
    page = await service.list_notices(session, user_id, cursor, limit)
    if accept and "text/html" in accept and "application/json" not in accept:
        return HTMLResponse(
            service.render_html(page, user.language), headers={"Cache-Control": "no-store"}
        )
    return page
