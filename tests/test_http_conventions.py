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


# Conditional requests ------------------------------------------------------------------------------


async def _conditional(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    method: str,
    change: dict,  # type: ignore[type-arg]
) -> None:
    """A read gives a strong ETag and 304 for it; a write with a stale one is 412 and changes
    nothing; with the current one it goes through and the tag changes."""
    first = await client.get(url, headers=headers)
    assert first.status_code == 200, first.text
    etag = first.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/"), etag
    again = await client.get(url, headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    other = await client.get(url, headers={**headers, "If-None-Match": '"something-else"'})
    assert other.status_code == 200
    stale = await client.request(
        method, url, json=change, headers={**headers, "If-Match": '"stale"'}
    )
    assert stale.status_code == 412, stale.text
    assert stale.headers["content-type"] == PROBLEM
    assert (await client.get(url, headers=headers)).json() == first.json(), "nothing changed"
    done = await client.request(method, url, json=change, headers={**headers, "If-Match": etag})
    assert done.status_code in (200, 201), done.text
    assert done.headers["etag"] != etag
    assert (await client.get(url, headers=headers)).headers["etag"] == done.headers["etag"]
    late = await client.request(method, url, json=change, headers={**headers, "If-Match": etag})
    assert late.status_code == 412, "the old tag no longer matches"


class TestConditionalRequests:
    async def test_billing(self, client: httpx.AsyncClient, actors: Actors, staff) -> None:  # type: ignore[no-untyped-def]
        user_id = await actors.user()
        url = f"/v1/users/{user_id}/billing"
        assert (
            await client.put(url, json={"street": "Katu 1"}, headers={**staff, "If-Match": "*"})
        ).status_code == 412, "If-Match on what does not exist yet"
        assert (await client.put(url, json={"street": "Katu 1"}, headers=staff)).status_code == 201
        await _conditional(client, url, staff, "PUT", {"street": "Katu 2"})

    async def test_contracts_and_collections(
        self,
        client: httpx.AsyncClient,
        actors: Actors,
        staff,  # type: ignore[no-untyped-def]
    ) -> None:
        user_id = await actors.user()
        made = await client.post(
            f"/v1/users/{user_id}/contracts",
            json={"product": "Plus", "seller": "Mezzoforte Oy", "opened_on": "2026-01-01"},
            headers=staff,
        )
        assert made.status_code == 201
        assert made.headers["location"] == f"/v1/users/{user_id}/contracts/{made.json()['id']}"
        await _conditional(
            client, made.headers["location"], staff, "PATCH", {"terminated_on": "2026-12-31"}
        )
        case = await client.post(
            f"/v1/users/{user_id}/collections",
            json={"referred_on": "2026-03-01", "agency": "Perintä Oy", "amount_cents": 100},
            headers=staff,
        )
        await _conditional(client, case.headers["location"], staff, "PATCH", {"amount_cents": 90})

    async def test_purposes_and_recipients(
        self,
        client: httpx.AsyncClient,
        dpo,  # type: ignore[no-untyped-def]
    ) -> None:
        await _conditional(
            client, "/v1/purposes/market_research", dpo, "PATCH", {"name_en": "Market surveys"}
        )
        made = await client.post(
            "/v1/recipients",
            json={
                "name": "Kumppani Oy",
                "kind": "partner",
                "country": "FI",
                "legal_basis": "consent",
            },
            headers=dpo,
        )
        assert made.status_code == 201
        await _conditional(
            client, made.headers["location"], dpo, "PATCH", {"contact_name": "Maija"}
        )


# Lists ------------------------------------------------------------------------------------------------


async def test_every_list_is_items_and_next_cursor_with_a_next_link(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    spec = (await client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            content = operation["responses"].get("200", {}).get("content", {})
            schema = content.get("application/json", {}).get("schema", {})
            assert schema.get("type") != "array", f"{method} {path} answers a bare array"
            ref = schema.get("$ref", "").rsplit("/", 1)[-1]
            properties = schemas.get(ref, {}).get("properties", {})
            if "items" in properties and properties["items"].get("type") == "array":
                assert "next_cursor" in properties, f"{method} {path}: no next_cursor"

    _, token = await actors.user_with_token()
    for _ in range(3):
        await client.post("/v1/users/me/requests", json={"type": "access"}, headers=bearer(token))
    seen: list[str] = []
    url: str | None = "/v1/users/me/requests?limit=2"
    while url:
        page = await client.get(url, headers=bearer(token))
        body = page.json()
        assert set(body) == {"items", "next_cursor"}
        seen += [r["id"] for r in body["items"]]
        link = page.headers.get("link")
        if body["next_cursor"] is None:
            assert link is None
            url = None
        else:
            assert link.endswith('>; rel="next"') and "limit=2" in link
            url = link[1 : link.index(">")]
            assert body["next_cursor"] in httpx.URL(url).params["cursor"]
    assert len(seen) == 3 and len(set(seen)) == 3


# Rate limits -----------------------------------------------------------------------------------------


async def test_registrations_tell_their_rate_limits(
    client: httpx.AsyncClient, actors: Actors, settings: Settings
) -> None:
    from tests.test_faults import registration

    frontend = bearer(await actors.client_token("frontend"))
    headers = {**frontend, "X-Forwarded-For": "198.51.100.77"}
    made = await client.post("/v1/users", json=registration("rate-1"), headers=headers)
    assert made.status_code == 201, made.text
    policy = made.headers["ratelimit-policy"]
    quota = settings.registrations_per_address_per_hour
    assert f'"registrations-per-address";q={quota};w=3600' in policy
    assert '"registrations-per-client";q=' in policy
    assert f'"registrations-per-address";r={quota - 1};t=' in made.headers["ratelimit"]
    for n in range(quota):
        last = await client.post("/v1/users", json=registration(f"rate-x{n}"), headers=headers)
    assert last.status_code == 429
    assert '"registrations-per-address";r=0;t=' in last.headers["ratelimit"]
    assert int(last.headers["retry-after"]) >= 1


# The document ---------------------------------------------------------------------------------------


async def test_every_body_has_an_example_that_fits_and_headers_are_listed(
    client: httpx.AsyncClient,
) -> None:
    from jsonschema import Draft202012Validator

    spec = (await client.get("/openapi.json")).json()
    bodies = 0
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for media, content in operation.get("requestBody", {}).get("content", {}).items():
                bodies += 1
                assert "example" in content, f"{method} {path} {media}: no example"
                schema = {**content["schema"], "components": spec["components"]}
                errors = list(Draft202012Validator(schema).iter_errors(content["example"]))
                assert errors == [], (method, path, [e.message for e in errors])
            for status, response in operation["responses"].items():
                headers = response.get("headers", {})
                assert "X-Request-ID" in headers, (method, path, status)
                if status in ("429", "503"):
                    assert "Retry-After" in headers, (method, path, status)
    assert bodies >= 26
    paths = spec["paths"]
    assert "ETag" in paths["/v1/users/{user_ref}/billing"]["get"]["responses"]["200"]["headers"]
    created = paths["/v1/users/{user_ref}/contracts"]["post"]["responses"]["201"]["headers"]
    assert {"ETag", "Location"} <= set(created)
    registered = paths["/v1/users"]["post"]["responses"]["201"]["headers"]
    assert {"RateLimit", "RateLimit-Policy", "Location"} <= set(registered)


async def test_a_weakened_tag_still_gets_304_and_links_come_only_from_the_page(
    client: httpx.AsyncClient,
    actors: Actors,
    staff,  # type: ignore[no-untyped-def]
) -> None:
    user_id = await actors.user()
    await client.put(f"/v1/users/{user_id}/billing", json={"street": "Katu 1"}, headers=staff)
    read = await client.get(f"/v1/users/{user_id}/billing", headers=staff)
    weak = "W/" + read.headers["etag"]
    again = await client.get(
        f"/v1/users/{user_id}/billing", headers={**staff, "If-None-Match": weak}
    )
    assert again.status_code == 304, "If-None-Match compares weakly (RFC 9110 13.1.2)"
    stale = await client.put(
        f"/v1/users/{user_id}/billing",
        json={"street": "Katu 2"},
        headers={**staff, "If-Match": weak},
    )
    assert stale.status_code == 412, "If-Match compares strongly"
    # An event whose properties hold a key named next_cursor does not make a Link.
    frontend = bearer(await actors.client_token("frontend"))
    from datetime import UTC, datetime

    await client.post(
        "/v1/users/me/permissions",
        json={
            "source": "settings_page",
            "language": "fi",
            "decisions": [{"purpose": "analytics", "decision": "granted", "notice_version": 1}],
        },
        headers=bearer(
            (await actors.login(await _username(actors, user_id))).json()["access_token"]
        ),
    )
    await client.post(
        "/v1/events",
        json={
            "events": [
                {
                    "user_id": str(user_id),
                    "type": "item.viewed",
                    "occurred_at": datetime.now(UTC).isoformat(),
                    "properties": {"next_cursor": "forged"},
                }
            ]
        },
        headers=frontend,
    )
    page = await client.get(f"/v1/users/{user_id}/events", headers=staff)
    assert page.status_code == 200, page.text
    assert page.json()["next_cursor"] is None and "link" not in page.headers


async def _username(actors: Actors, user_id: object) -> str:
    from sqlalchemy import text

    return str(
        await actors.session.scalar(
            text("SELECT username FROM credentials WHERE user_id = :u"), {"u": user_id}
        )
    )
