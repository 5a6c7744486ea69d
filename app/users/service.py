"""The register's users: reading and writing profiles."""

from __future__ import annotations

import uuid

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth
from app.auth.dependencies import UserNotFound
from app.auth.models import Credential
from app.users.models import User
from app.users.schemas import UserRead


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> UserRead:
    row = (
        await session.execute(
            select(
                User.id,
                User.kind,
                User.status,
                Credential.username,
                User.created_at,
                User.updated_at,
            )
            .outerjoin(Credential, Credential.user_id == User.id)
            .where(User.id == user_id)
        )
    ).one_or_none()
    if row is None:
        raise UserNotFound("No such user.")
    return UserRead.model_validate(row._asdict())


async def create_account(
    session: AsyncSession,
    auth_context: auth.AuthContext,
    *,
    kind: str,
    username: str,
    password: str,
) -> uuid.UUID:
    user_id: uuid.UUID = (
        await session.execute(insert(User).values(kind=kind).returning(User.id))
    ).scalar_one()
    await auth.create_credentials(session, auth_context, user_id, username, password)
    return user_id
