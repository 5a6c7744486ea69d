"""Test fixtures: a real Postgres, migrated by Alembic, and a rolled-back transaction per test.

`REGISTRY_TEST_DATABASE_URL` points at a server to use; otherwise an embedded one (pgserver) is
started for the run. Either way the suite creates its own fresh database on that server and drops it
at the end, so it never touches existing data.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

from app.core.settings import Settings
from app.db import migrate
from app.db.embedded import QUIET_LOG_SETTINGS, EmbeddedPostgres
from app.db.session import Database
from app.main import create_app
from tests.live import RUNNING, save_postgres_log, watch_postgres_log

APP_ROLE = "registry_app"


class CapturedLogs(logging.Handler):
    """Every log line of the suite as the service would print it, for the final log scan."""

    lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        from app.core.logging import _StdoutHandler

        formatter = next(
            (h.formatter for h in logging.getLogger().handlers if isinstance(h, _StdoutHandler)),
            None,
        )
        try:
            self.lines.append(formatter.format(record) if formatter else record.getMessage())
        except Exception:
            self.lines.append(str(record.msg))


@pytest.fixture(scope="session", autouse=True)
def captured_logs() -> Iterator[type[CapturedLogs]]:
    handler = CapturedLogs(level=logging.DEBUG)
    logging.getLogger().addHandler(handler)
    yield CapturedLogs
    logging.getLogger().removeHandler(handler)


@pytest.fixture(autouse=True)
def no_service_left_running() -> Iterator[None]:
    """A test that fails half-way still leaves no server process behind."""
    yield
    for service in list(RUNNING):
        service.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The log scan runs last, over everything the suite logged."""
    items.sort(key=lambda item: item.nodeid.startswith("tests/test_log_scan.py"))


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A URL to an existing database on the Postgres server the suite runs against."""
    configured = os.environ.get("REGISTRY_TEST_DATABASE_URL")
    if configured:
        log_path = asyncio.run(_server_log_path(configured))
        if log_path.exists():
            watch_postgres_log(log_path)
        yield configured
        return
    pgdata = Path(tempfile.mkdtemp(prefix="registry-test-pg-")) / "data"
    embedded = EmbeddedPostgres(pgdata, database="postgres", delete=True)
    url = embedded.start()
    watch_postgres_log(embedded.log_path)
    yield url
    save_postgres_log(embedded.log_path)
    embedded.stop()


async def _server_log_path(server_url: str) -> Path:
    """Where a configured server logs: its collector's file, or Debian's cluster log."""
    engine = create_async_engine(server_url)
    try:
        async with engine.connect() as connection:
            current = await connection.scalar(text("SELECT pg_current_logfile()"))
            data_dir = await connection.scalar(text("SHOW data_directory"))
            version = int(await connection.scalar(text("SHOW server_version_num")))
    finally:
        await engine.dispose()
    if current:
        path = Path(current)
        return path if path.is_absolute() else Path(data_dir) / path
    return Path(f"/var/log/postgresql/postgresql-{version // 10000}-main.log")


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
        for setting, value in QUIET_LOG_SETTINGS.items():
            await _admin(server_url, f"ALTER DATABASE \"{name}\" SET {setting} = '{value}'")
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
        generate_keys=True,
        log_json=True,
        # Cheap hashing keeps the suite fast; production keeps argon2-cffi's defaults.
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    assert settings.database_url
    engine = Database.from_settings(settings.database_url, settings).engine
    yield engine
    await engine.dispose()


def _as_service_role(session: Any, transaction: Any, connection: Any) -> None:
    connection.exec_driver_sql(f"SET ROLE {APP_ROLE}")


class ServiceRoleSession(AsyncSession):
    """A session of the app under test: its statements run as the restricted role the service
    logs in as (the suite's connection is the owner's, so the test's own ``db`` can inspect and
    tamper as a DBA would)."""

    def __init__(self, connection: AsyncConnection) -> None:
        super().__init__(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        self.outer = connection
        event.listen(self.sync_session, "after_begin", _as_service_role)

    async def close(self) -> None:
        await super().close()
        await self.outer.exec_driver_sql("RESET ROLE")


class RolledBackDatabase(Database):
    """Sessions joined to one outer transaction that the test rolls back: commits become
    savepoints, so every test starts from the migrated, empty schema."""

    def __init__(self, engine: AsyncEngine, connection: AsyncConnection) -> None:
        super().__init__(engine)
        self.connection = connection

    def session(self) -> AsyncSession:
        return ServiceRoleSession(self.connection)

    @asynccontextmanager
    async def statement_connection(self) -> AsyncIterator[Any]:
        """Inside the test's transaction (a savepoint), as the service's role."""
        from app.db import raw

        async with self.session() as session:
            yield await raw.driver(session)
            await session.commit()

    def owner_session(self) -> AsyncSession:
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
async def db(database: RolledBackDatabase) -> AsyncIterator[AsyncSession]:
    """A session for asserting what is in the database (sees the test's uncommitted work), as
    the schema's owner."""
    async with database.owner_session() as session:
        yield session


@pytest.fixture
def app(settings: Settings, database: Database):  # type: ignore[no-untyped-def]
    return create_app(settings, database)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


# Actors ------------------------------------------------------------------------------------------


class Actors:
    """Creates clients and users and gets tokens for them, through the real token endpoint."""

    def __init__(self, client: httpx.AsyncClient, session: AsyncSession, app) -> None:  # type: ignore[no-untyped-def]
        self.http = client
        self.session = session
        self.app = app
        self.frontend: tuple[str, str] | None = None

    async def client(self, role: str, scopes: set[str] | None = None) -> tuple[str, str]:
        from app.auth import service

        return await service.create_client(
            self.session, name=f"test {role}", role=role, scopes=scopes
        )

    async def client_token(self, role: str, scopes: set[str] | None = None) -> str:
        client_id, secret = await self.client(role, scopes)
        response = await self.http.post(
            "/v1/auth/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, secret),
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    async def partner_token(
        self,
        purposes: tuple[str, ...] = (
            "direct_marketing",
            "group_direct_marketing",
            "market_research",
        ),
        country: str = "FI",
        name: str = "Konserniyhtiö Oy",
        webhook_url: str | None = None,
    ) -> tuple[str, uuid.UUID, str | None]:
        """A partner client acting for a new recipient: its token, the recipient id and the
        recipient's webhook secret."""
        from app.disclosures import service as disclosures
        from app.disclosures.schemas import RecipientCreate

        client_id, secret = await self.client("partner")
        recipient = await disclosures.create_recipient(
            self.session,
            self.app.state.auth.hasher,
            RecipientCreate(
                name=name,
                kind="group_company",
                country=country,
                purposes=list(purposes),
                legal_basis="legitimate_interest",
                client_ids=[client_id],
                webhook_url=webhook_url,  # type: ignore[arg-type]
            ),
        )
        response = await self.http.post(
            "/v1/auth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
        )
        return str(response.json()["access_token"]), recipient.id, recipient.webhook_secret

    async def frontend_client(self) -> tuple[str, str]:
        if self.frontend is None:
            self.frontend = await self.client("frontend")
        return self.frontend

    async def user(
        self, username: str | None = None, password: str = "correct horse battery", **profile
    ) -> uuid.UUID:
        """A user made as the CLI makes one (source `import`); private unless `kind` says."""
        from pydantic import TypeAdapter

        from app.users import service as users
        from app.users.schemas import UserCreate

        kind = profile.pop("kind", "private")
        defaults = (
            {"first_name": "Testi", "last_name": "Käyttäjä"}
            if kind == "private"
            else {"company_name": "Testi Oy", "business_id": "2077474-0"}
        )
        body = TypeAdapter(UserCreate).validate_python(
            {
                "kind": kind,
                "username": username or f"user-{uuid.uuid4().hex[:10]}",
                "password": password,
                **defaults,
                **profile,
            }
        )
        return await users.create_user(
            self.session, self.app.state.auth, body, source="import", actor="test", request_id=None
        )

    async def login(
        self, username: str, password: str = "correct horse battery", address: str | None = None
    ) -> httpx.Response:
        """Signs in through the frontend, which passes the person's address (if given)."""
        client_id, secret = await self.frontend_client()
        return await self.http.post(
            "/v1/auth/token",
            data={"grant_type": "password", "username": username, "password": password},
            auth=(client_id, secret),
            headers={"X-Forwarded-For": address} if address else {},
        )

    async def user_with_token(self) -> tuple[uuid.UUID, str]:
        username = f"user-{uuid.uuid4().hex[:10]}"
        user_id = await self.user(username)
        response = await self.login(username)
        assert response.status_code == 200, response.text
        return user_id, str(response.json()["access_token"])


@pytest.fixture
async def staff(actors: Actors) -> dict[str, str]:
    """Headers of a customer-service staff client."""
    return bearer(await actors.client_token("staff"))


@pytest.fixture
async def dpo(actors: Actors) -> dict[str, str]:
    """Headers of the data protection officer's client."""
    return bearer(await actors.client_token("dpo"))


@pytest.fixture
async def actors(client: httpx.AsyncClient, db: AsyncSession, app) -> Actors:  # type: ignore[no-untyped-def]
    return Actors(client, db, app)


def mint_token(app, **changes: object) -> str:  # type: ignore[no-untyped-def]
    """An access token signed with the service's own key, with the claims a test wants
    (a DPO client's by default): for checks the token endpoint would never issue."""
    import time
    from datetime import UTC, datetime

    auth = app.state.auth
    now = int(time.time())
    claims = {
        "iss": auth.issuer,
        "aud": auth.settings.jwt_audience,
        "sub": "dpo-x",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "scope": "users:read",
        "client_id": "dpo-x",
        "role": "dpo",
        **changes,
    }
    return str(auth.keys.signing_key(datetime.now(UTC)).sign(claims))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
