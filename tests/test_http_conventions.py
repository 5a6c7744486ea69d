"""HTTP as integrators expect it (part of the integrators' issue): malformed JSON is 400, a wrong
media type 415, personal data never cached, one address setting for the issuer."""

from __future__ import annotations

import json

import httpx

from app.core.settings import Settings
from tests.conftest import Actors, bearer, mint_token

PROBLEM = "application/problem+json"


class TestBodies:
    async def test_malformed_json_is_400_and_a_wrong_media_type_415(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        _, token = await actors.user_with_token()
        headers = bearer(token)
        malformed = await client.post(
            "/v1/users/me/requests",
            content=b'{"type": "access"',
            headers={**headers, "Content-Type": "application/json"},
        )
        assert malformed.status_code == 400
        assert malformed.headers["content-type"] == PROBLEM
        assert malformed.json()["type"].endswith("/malformed-json")
        wrong_type = await client.post(
            "/v1/users/me/requests",
            content=b'{"type": "access"}',
            headers={**headers, "Content-Type": "text/plain"},
        )
        assert wrong_type.status_code == 415
        assert wrong_type.json()["type"].endswith("/unsupported-media-type")
        fine = await client.post("/v1/users/me/requests", json={"type": "access"}, headers=headers)
        assert fine.status_code == 201


class TestCaching:
    async def test_personal_data_is_no_store_and_nosniff(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        _, token = await actors.user_with_token()
        profile = await client.get("/v1/users/me", headers=bearer(token))
        assert profile.headers["cache-control"] == "no-store"
        assert profile.headers["x-content-type-options"] == "nosniff"
        missing = await client.get("/v1/users/me")
        assert missing.headers["cache-control"] == "no-store", "errors too"
        public = await client.get("/v1/register-description")
        assert "no-store" not in public.headers.get("cache-control", "")
        assert public.headers["x-content-type-options"] == "nosniff"


class TestOneAddress:
    def test_the_issuer_follows_the_port_unless_the_public_url_is_set(self) -> None:
        moved = Settings(port=8123, _env_file=None)  # type: ignore[call-arg]
        assert moved.public_url == "http://127.0.0.1:8123"
        pinned = Settings(port=8123, public_url="https://registry.example.fi", _env_file=None)  # type: ignore[call-arg]
        assert pinned.public_url == "https://registry.example.fi"

    async def test_a_token_of_another_issuer_says_which_issuer_is_expected(
        self, client: httpx.AsyncClient, app
    ) -> None:  # type: ignore[no-untyped-def]
        token = mint_token(app, iss="http://127.0.0.1:9999")
        response = await client.get("/v1/users", headers=bearer(token))
        assert response.status_code == 401
        assert app.state.auth.issuer in response.json()["detail"]


def test_operation_ids_are_readable_and_unique() -> None:
    import re

    from app.main import create_app

    spec = create_app().openapi()
    ids = [op["operationId"] for ops in spec["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)*", i) for i in ids), ids
    assert {"readUser", "recordDecisions", "exportUser", "issueToken"} <= set(ids)


async def test_the_export_is_documented_as_what_it_is(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    from jsonschema import Draft202012Validator

    spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    content = paths["/v1/users/{user_ref}/export"]["get"]["responses"]["200"]["content"]
    assert content == {
        "application/json": {"schema": {"$ref": "#/components/schemas/ExportDocument"}}
    }
    zip_content = paths["/v1/users/{user_ref}/export.zip"]["get"]["responses"]["200"]["content"]
    assert zip_content == {"application/zip": {"schema": {"type": "string", "format": "binary"}}}
    schema = {**spec["components"]["schemas"]["ExportDocument"], "components": spec["components"]}
    _, token = await actors.user_with_token()
    for kind in ("access", "portability"):
        document = (
            await client.get(f"/v1/users/me/export?kind={kind}", headers=bearer(token))
        ).json()
        errors = list(Draft202012Validator(schema).iter_errors(document))
        assert errors == [], [e.message for e in errors]
    zipped = await client.get("/v1/users/me/export.zip", headers=bearer(token))
    assert zipped.headers["content-type"] == "application/zip"
    assert zipped.content[:2] == b"PK"


def test_the_quick_starts_token_command_gives_a_token_the_service_takes(
    database_url: str, settings: Settings, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from app.cli import cli
    from app.core.settings import get_settings
    from app.main import create_app

    monkeypatch.setenv("REGISTRY_DATABASE_URL", database_url)
    monkeypatch.setenv("REGISTRY_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("REGISTRY_GENERATE_KEYS", "true")
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        made = runner.invoke(cli, ["clients", "create", "--name", "DPO tool", "--role", "dpo"])
        assert made.exit_code == 0, made.output
        client = json.loads(made.stdout)
        printed = runner.invoke(
            cli,
            [
                "token",
                "--client-id",
                client["client_id"],
                "--client-secret",
                client["client_secret"],
                "--raw",
            ],
        )
        assert printed.exit_code == 0, printed.output
        token = printed.stdout.strip()
        assert token.count(".") == 2 and "\n" not in token
    finally:
        get_settings.cache_clear()
    app = create_app(settings)

    async def read() -> int:
        from app.db.session import Database

        database = Database.from_settings(database_url, settings)
        app.state.database = database
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                return (await http.get("/v1/purposes", headers=bearer(token))).status_code
        finally:
            await database.dispose()

    import anyio

    assert anyio.run(read) == 200
