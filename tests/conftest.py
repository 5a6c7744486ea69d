"""Test fixtures: a real Postgres, migrated by Alembic, and a rolled-back transaction per test.

`REGISTRY_TEST_DATABASE_URL` points at a server to use; otherwise an embedded one (pgserver) is
started for the run. Either way the suite creates its own fresh database on that server and drops it
at the end, so it never touches existing data.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

from app.core.settings import Settings
from app.db import migrate
from app.db.embedded import EmbeddedPostgres
from app.db.session import Database
from app.main import create_app


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A URL to an existing database on the Postgres server the suite runs against."""
    configured = os.environ.get("REGISTRY_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    pgdata = Path(tempfile.mkdtemp(prefix="registry-test-pg-")) / "data"
    embedded = EmbeddedPostgres(pgdata, database="postgres", delete=True)
    yield embedded.start()
    embedded.stop()


async def _admin(server_url: str, statement: str) -> None:
    engine = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
async def fresh_database(server_url: str) -> AsyncIterator[object]:
    """A factory of empty databases on the test server, all dropped at the end of the run."""
    created: list[str] = []

    async def create() -> str:
        name = f"registry_test_{uuid.uuid4().hex[:12]}"
        await _admin(server_url, f'CREATE DATABASE "{name}"')
        created.append(name)
        return make_url(server_url).set(database=name).render_as_string(hide_password=False)

    yield create
    for name in created:
        await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
async def database_url(fresh_database) -> str:  # type: ignore[no-untyped-def]
    url: str = await fresh_database()
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await migrate.upgrade(connection)
    await engine.dispose()
    return url


@pytest.fixture(scope="session")
def test_data_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="registry-test-data-"))


@pytest.fixture(scope="session")
def settings(database_url: str, test_data_dir: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=test_data_dir,
        jwt_key_activation_seconds=0,
        log_json=True,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    assert settings.database_url
    engine = Database.from_settings(settings.database_url, settings).engine
    yield engine
    await engine.dispose()


class RolledBackDatabase(Database):
    """Sessions joined to one outer transaction that the test rolls back: commits become
    savepoints, so every test starts from the migrated, empty schema."""

    def __init__(self, engine: AsyncEngine, connection: AsyncConnection) -> None:
        super().__init__(engine)
        self.connection = connection

    def session(self) -> AsyncSession:
        return AsyncSession(
            bind=self.connection,
            join_transaction_mode="create_savepoint",
            expire_on_commit=False,
        )


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as connection:
        transaction = await connection.begin()
        yield connection
        if transaction.is_active:
            await transaction.rollback()


@pytest.fixture
def database(engine: AsyncEngine, connection: AsyncConnection) -> Database:
    return RolledBackDatabase(engine, connection)


@pytest.fixture
async def db(database: Database) -> AsyncIterator[AsyncSession]:
    """A session for asserting what is in the database (sees the test's uncommitted work)."""
    async with database.session() as session:
        yield session


@pytest.fixture
def app(settings: Settings, database: Database):  # type: ignore[no-untyped-def]
    return create_app(settings, database)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
