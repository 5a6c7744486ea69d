"""The foundation: operations endpoints, problem+json errors, request ids, limits, metrics."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from app.main import create_app
from tests.conftest import Actors, bearer

PROBLEM = "application/problem+json"


class Thing(BaseModel):
    name: str
    count: int


class TestHealth:
    async def test_healthz_answers_ok(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}

    async def test_readyz_when_database_at_head(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/readyz")
        assert response.status_code == 200
        assert response.json() == {
            "status": "ok",
            "database": "reachable",
            "migrations": "head",
            "replica": "none",
            "replica_lag_seconds": None,
        }

    async def test_readyz_503_when_schema_behind(self, app, client: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
        app.state.migration_heads = {"a-revision-that-is-not-applied"}
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["retry-after"]
        assert "migration" in response.json()["detail"]

    async def test_readyz_503_when_database_unreachable(self, settings) -> None:  # type: ignore[no-untyped-def]
        from app.db.session import Database

        dead = settings.model_copy(update={"db_pool_timeout_seconds": 1.0})
        database = Database.from_settings("postgresql+asyncpg://postgres@127.0.0.1:1/none", dead)
        app = create_app(dead, database)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/readyz")
        await database.dispose()
        assert response.status_code == 503
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["type"].endswith("/not-ready")


class TestProblems:
    async def test_unknown_path_is_problem_404(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/no-such-thing")
        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM
        body = response.json()
        assert body["status"] == 404
        assert body["type"].endswith("/not-found")
        assert body["instance"] == "/v1/no-such-thing"
        assert body["request_id"] == response.headers["x-request-id"]

    async def test_wrong_method_is_problem_405(self, client: httpx.AsyncClient) -> None:
        response = await client.delete("/healthz")
        assert response.status_code == 405
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["type"].endswith("/method-not-allowed")

    async def test_validation_error_names_fields(self, settings, database) -> None:  # type: ignore[no-untyped-def]
        app = create_app(settings, database)
        router = APIRouter()

        @router.post("/v1/test-things")
        async def make_thing(thing: Thing) -> Thing:
            return thing

        app.include_router(router)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.post("/v1/test-things", json={"count": "many"})
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        body = response.json()
        fields = {error["field"] for error in body["errors"]}
        assert fields == {"body.name", "body.count"}
        assert "body.name" in body["detail"]
        assert "many" not in response.text  # the bad value itself is never echoed

    async def test_a_connection_lost_on_the_raw_driver_is_503(self, settings, database) -> None:  # type: ignore[no-untyped-def]
        """Seen under a Postgres restart: the hot paths' own asyncpg errors were 500s."""
        import asyncpg

        app = create_app(settings, database)
        router = APIRouter()

        @router.get("/v1/test-gone")
        async def gone() -> None:
            raise asyncpg.exceptions.ConnectionDoesNotExistError(
                "connection was closed in the middle of operation"
            )

        @router.get("/v1/test-shutdown")
        async def shutdown() -> None:
            raise asyncpg.exceptions.AdminShutdownError("terminating connection")

        app.include_router(router)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for path in ("/v1/test-gone", "/v1/test-shutdown"):
                response = await client.get(path)
                assert response.status_code == 503, path
                assert response.headers["content-type"] == PROBLEM
                assert response.headers["retry-after"] == "2"

    async def test_unhandled_error_is_500_without_internals(self, settings, database) -> None:  # type: ignore[no-untyped-def]
        app = create_app(settings, database)
        router = APIRouter()

        @router.get("/v1/test-boom")
        async def boom() -> None:
            raise ProgrammingError("SELECT secret FROM users", {}, Exception("boom"))

        app.include_router(router)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/v1/test-boom", headers={"X-Request-ID": "abc-123"})
        assert response.status_code == 500
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["x-correlation-id"] == "abc-123"
        body = response.json()
        assert body["type"].endswith("/internal-error")
        assert body["request_id"] == response.headers["x-request-id"]
        assert "SELECT" not in response.text
        assert "Traceback" not in response.text

    async def test_body_over_limit_is_413(self, settings, database) -> None:  # type: ignore[no-untyped-def]
        app = create_app(settings.model_copy(update={"max_body_bytes": 64}), database)
        router = APIRouter()

        @router.post("/v1/test-echo")
        async def echo(payload: dict[str, str]) -> dict[str, str]:
            return payload

        app.include_router(router)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            small = await client.post("/v1/test-echo", json={"a": "b"})
            declared = await client.post("/v1/test-echo", json={"a": "b" * 100})

            async def chunks():  # type: ignore[no-untyped-def]
                yield b'{"a": "'
                for _ in range(10):
                    yield b"x" * 20
                yield b'"}'

            streamed = await client.post(
                "/v1/test-echo", content=chunks(), headers={"content-type": "application/json"}
            )
        assert small.status_code == 200
        for response in (declared, streamed):
            assert response.status_code == 413
            assert response.headers["content-type"] == PROBLEM
            assert response.json()["type"].endswith("/payload-too-large")


class TestRequestIds:
    async def test_generated_when_absent(self, client: httpx.AsyncClient) -> None:
        first = await client.get("/healthz")
        second = await client.get("/healthz")
        assert len(first.headers["x-request-id"]) == 32
        assert first.headers["x-request-id"] != second.headers["x-request-id"]

    async def test_a_client_id_is_kept_apart_as_the_correlation_id(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/healthz", headers={"X-Request-ID": "req-42"})
        assert response.headers["x-correlation-id"] == "req-42"
        assert len(response.headers["x-request-id"]) == 32, "our own id, never the client's"

    async def test_malformed_is_replaced(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
        assert response.headers["x-request-id"] != "bad id\twith spaces"

    async def test_in_log_lines(self, client: httpx.AsyncClient, capsys) -> None:  # type: ignore[no-untyped-def]
        await client.get("/healthz", headers={"X-Request-ID": "log-me-1"})
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
        request_lines = [line for line in lines if line.get("event") == "request"]
        assert request_lines
        assert request_lines[-1]["correlation_id"] == "log-me-1"
        assert len(request_lines[-1]["request_id"]) == 32
        assert request_lines[-1]["route"] == "/healthz"


class TestMetricsAndCors:
    async def test_metrics_by_route_template(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        await client.get("/healthz")
        await client.get("/v1/users/123/nothing")
        assert (await client.get("/metrics")).status_code == 401, "not public"
        partner = await actors.client_token("partner")
        assert (await client.get("/metrics", headers=bearer(partner))).status_code == 403
        monitoring = await actors.client_token("monitoring")
        response = await client.get("/metrics", headers=bearer(monitoring))
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        assert 'registry_http_requests_total{method="GET",route="/healthz",status="200"}' in (
            response.text
        )
        assert 'route="<unmatched>"' in response.text
        assert "registry_http_request_duration_seconds_bucket" in response.text

    async def test_cors_origin_configurable(self, settings, database) -> None:  # type: ignore[no-untyped-def]
        app = create_app(
            settings.model_copy(update={"cors_origins": ["https://www.huutokaupat.com"]}), database
        )
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            allowed = await client.get(
                "/healthz", headers={"Origin": "https://www.huutokaupat.com"}
            )
            other = await client.get("/healthz", headers={"Origin": "https://evil.example"})
        assert allowed.headers["access-control-allow-origin"] == "https://www.huutokaupat.com"
        assert "access-control-allow-origin" not in other.headers


class TestOpenApi:
    def test_committed_spec_matches_app(self, app) -> None:  # type: ignore[no-untyped-def]
        committed = json.loads(Path("openapi/openapi.json").read_text(encoding="utf-8"))
        assert committed == app.openapi(), "run `make openapi` and commit openapi/openapi.json"

    async def test_swagger_ui_served(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/docs")
        assert response.status_code == 200
        assert "swagger-ui" in response.text

    def test_authorize_offers_the_password_and_client_credentials_flows(self, app) -> None:  # type: ignore[no-untyped-def]
        flows = app.openapi()["components"]["securitySchemes"]["registry"]["flows"]
        assert flows["password"]["tokenUrl"] == "/v1/auth/token"
        assert flows["clientCredentials"]["tokenUrl"] == "/v1/auth/token"
        assert "users:read" in flows["clientCredentials"]["scopes"]

    def test_every_operation_states_its_scope(self, app) -> None:  # type: ignore[no-untyped-def]
        public = {
            "/healthz",
            "/readyz",
            "/metrics",
            "/v1/auth/token",
            "/v1/auth/revoke",
            "/.well-known/jwks.json",
            "/.well-known/oauth-authorization-server",
            "/v1/transparency/{log}/checkpoint",
            "/v1/register-description",
        }
        for path, item in app.openapi()["paths"].items():
            for method, operation in item.items():
                if path in public:
                    continue
                scopes = [
                    s
                    for requirement in operation.get("security", [])
                    for s in requirement.get("registry", [])
                ]
                assert scopes, f"{method.upper()} {path} states no scope"


async def test_database_reachable(db) -> None:  # type: ignore[no-untyped-def]
    assert (await db.execute(text("SELECT 1"))).scalar_one() == 1
