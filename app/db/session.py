"""The engine, and one session (one transaction) per request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request
from sqlalchemy.engine import make_url
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
        # The one-statement paths' own asyncpg pool (``open_statement_pool``); until it is open
        # they borrow a connection of the engine's.
        self.statement_pool: asyncpg.Pool | None = None
        self.statement_pool_timeout = 5.0

    async def open_statement_pool(self, dsn: str, settings: Settings) -> None:
        """A small asyncpg pool for requests served by one statement: acquiring from it costs a
        fraction of checking a connection out of SQLAlchemy's pool (measured: bench/README.md),
        and giving it back sends nothing (``_no_reset``: such a request leaves no state)."""
        self.statement_pool_timeout = settings.db_pool_timeout_seconds
        self.statement_pool = await asyncpg.create_pool(
            dsn,
            min_size=1,
            max_size=settings.db_statement_pool_size,
            reset=_no_reset,
            timeout=settings.db_pool_timeout_seconds,
            server_settings={
                "statement_timeout": str(settings.db_statement_timeout_ms),
                "application_name": "registry",
            },
        )

    @classmethod
    def from_settings(
        cls,
        url: str,
        settings: Settings,
        *,
        pool_size: int | None = None,
        max_overflow: int | None = None,
        pool_timeout: float | None = None,
        isolation_level: str | None = None,
    ) -> Database:
        """An engine on ``url`` as given (tests and tools); the service itself connects with
        ``service_url()``."""
        engine = create_async_engine(
            url,
            pool_size=pool_size or settings.db_pool_size,
            max_overflow=settings.db_max_overflow if max_overflow is None else max_overflow,
            pool_timeout=pool_timeout or settings.db_pool_timeout_seconds,
            pool_pre_ping=True,
            **({"isolation_level": isolation_level} if isolation_level else {}),
            # Failed statements are logged without their parameters (names, hashes, codes).
            hide_parameters=True,
            connect_args={
                # Fail fast when Postgres is away instead of hanging the request.
                "timeout": settings.db_pool_timeout_seconds,
                "server_settings": {
                    "statement_timeout": str(settings.db_statement_timeout_ms),
                    "application_name": "registry",
                },
            },
        )
        return cls(engine)

    @classmethod
    def for_exports(cls, url: str, settings: Settings) -> Database:
        """The exports' own small pool (on the primary, or on the replica): exports never take
        the API's connections, and each reads every table as of one moment."""
        return cls.from_settings(
            url,
            settings,
            pool_size=settings.export_pool_size,
            max_overflow=0,
            pool_timeout=60,
            isolation_level="REPEATABLE READ",
        )

    def session(self) -> AsyncSession:
        return self.sessionmaker()

    @asynccontextmanager
    async def statement_connection(self) -> AsyncIterator[Any]:
        """An asyncpg connection with no transaction open, for a request served by a single
        statement, which is its own transaction: no BEGIN and no COMMIT round trips."""
        if self.statement_pool is not None:
            async with self.statement_pool.acquire(timeout=self.statement_pool_timeout) as raw:
                yield raw
            return
        async with self.engine.connect() as connection:
            raw_connection = await connection.get_raw_connection()
            yield raw_connection.driver_connection

    async def dispose(self) -> None:
        if self.statement_pool is not None:
            await self.statement_pool.close()
        await self.engine.dispose()


async def _no_reset(connection: asyncpg.Connection) -> None:
    """A one-statement request leaves no session state; only a failed one may leave a
    transaction open, which is rolled back."""
    if connection.is_in_transaction():
        await connection.execute("ROLLBACK")


def service_url(owner_url: str, settings: Settings, *, replica: bool = False) -> str:
    """The URL the service connects with: ``app_database_url`` (``app_database_replica_url`` on
    the replica), or the owner's URL logged in as the restricted ``db_role`` without a password
    (trust or peer authentication)."""
    given = settings.app_database_replica_url if replica else settings.app_database_url
    if given:
        return given
    url = make_url(owner_url).set(username=settings.db_role, password=None)
    return url.render_as_string(hide_password=False)


def get_database(request: Request) -> Database:
    database = request.app.state.database
    assert isinstance(database, Database), "the database is set up by the app's lifespan"
    return database


def get_export_database(request: Request) -> Database:
    """The exports' own small pool (the request's pool when the app was given a database)."""
    database = getattr(request.app.state, "export_database", None) or get_database(request)
    assert isinstance(database, Database)
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
