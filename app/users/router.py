"""The users API: /v1/users."""

from typing import Annotated

from fastapi import APIRouter

from app.auth.dependencies import Principal, UserRef, require, resolve_user_id
from app.core.errors import problem_responses
from app.db.session import Session
from app.users import service
from app.users.schemas import UserRead

router = APIRouter(prefix="/v1/users", tags=["users"])

UsersRead = Annotated[Principal, require("users:read")]


@router.get("/{user_ref}", response_model=UserRead, responses=problem_responses(401, 403, 404))
async def read_user(user_ref: UserRef, caller: UsersRead, session: Session) -> UserRead:
    """A user's account (scope `users:read`; a user token only its own, or `me`)."""
    return await service.get_user(session, resolve_user_id(caller, user_ref))
