"""The engine, and one session (one transaction) per request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.core.settings import Settings


class Database:
    """An engine and its session factory."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, url: str, settings: Settings) -> Database:
        server_settings = {
            "statement_timeout": str(settings.db_statement_timeout_ms),
            "application_name": "registry",
        }
        if settings.db_role:
            server_settings["role"] = settings.db_role
        engine = create_async_engine(
            url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout_seconds,
            pool_pre_ping=True,
            # Failed statements are logged without their parameters (names, hashes, codes).
            hide_parameters=True,
            connect_args={
                # Fail fast when Postgres is away instead of hanging the request.
                "timeout": settings.db_pool_timeout_seconds,
                "server_settings": server_settings,
            },
        )
        return cls(engine)

    def session(self) -> AsyncSession:
        return self.sessionmaker()

    async def dispose(self) -> None:
        await self.engine.dispose()


def get_database(request: Request) -> Database:
    database = request.app.state.database
    assert isinstance(database, Database), "the database is set up by the app's lifespan"
    return database


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's transaction: committed when the endpoint returns, rolled back if it raises.

    Used with ``scope="function"`` so the commit happens before the response is sent: a failed
    commit is a 5xx, never a 2xx.
    """
    async with get_database(request).session() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
