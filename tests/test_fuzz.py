"""Schemathesis against the app's own OpenAPI document, on a real service process with valid
tokens: no 5xx, and every response matches its documented schema. Bounded examples per
operation, so it fits in CI."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app.auth import service as auth_service
from app.db import migrate
from tests.live import LiveService

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 15
# What the issue asks of every response: no 5xx, the documented status codes, content types and
# schemas. (Not "valid data must be accepted": our validators check more than a schema can say,
# e.g. the check digit of a Business ID, and answer 422 for it.)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _setup(url: str) -> dict[str, tuple[str, str]]:
    async def run() -> dict[str, tuple[str, str]]:
        engine = create_async_engine(url)
        async with engine.begin() as connection:
            await migrate.upgrade(connection)
        clients = {}
        async with AsyncSession(engine) as session, session.begin():
            for role in ("frontend", "partner", "dpo", "integration"):
                clients[role] = await auth_service.create_client(
                    session, name=f"fuzz {role}", role=role, scopes=None
                )
        await engine.dispose()
        return clients

    return asyncio.run(run())


@pytest.fixture(scope="module")
def live(server_url: str) -> Iterator[tuple[LiveService, dict[str, dict[str, str]]]]:
    import uuid

    from sqlalchemy.engine import make_url

    name = f"registry_fuzz_{uuid.uuid4().hex[:8]}"

    async def admin(statement: str) -> None:
        engine = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
        async with engine.connect() as connection:
            await connection.exec_driver_sql(statement)
        await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    clients = _setup(url)
    service = LiveService(
        url, registrations_per_minute="100000", registrations_per_address_per_hour="100000"
    ).start()
    headers = {}
    for role, client in clients.items():
        response = httpx.post(
            service.url + "/v1/auth/token", data={"grant_type": "client_credentials"}, auth=client
        )
        headers[role] = {"Authorization": f"Bearer {response.json()['access_token']}"}
    try:
        yield service, headers
    finally:
        service.stop()
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


FRONTEND_OPERATIONS = {("POST", "/v1/users"), ("POST", "/v1/events")}
PARTNER_OPERATIONS = {("POST", "/v1/disclosures")}
INTEGRATION_OPERATIONS = {("POST", "/v1/register-updates")}


def _role(method: str, path: str) -> str:
    key = (method.upper(), path)
    if key in FRONTEND_OPERATIONS:
        return "frontend"
    if key in PARTNER_OPERATIONS:
        return "partner"
    if key in INTEGRATION_OPERATIONS:
        return "integration"
    return "dpo"


def test_no_server_errors_and_responses_match_the_spec(live) -> None:  # type: ignore[no-untyped-def]
    service, headers = live
    api = schemathesis.openapi.from_url(service.url + "/openapi.json")
    failures: list[str] = []
    tested = 0

    def checker(operation, role: str):  # type: ignore[no-untyped-def]
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        @given(case=operation.as_strategy())
        def check(case) -> None:  # type: ignore[no-untyped-def]
            case.call_and_validate(base_url=service.url, headers=headers[role], checks=CHECKS)

        return check

    for result in api.get_all_operations():
        operation = result.ok()
        tested += 1
        try:
            checker(operation, _role(operation.method, operation.path))()
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:600]}")
    assert tested > 40
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)
