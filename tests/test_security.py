"""OWASP API Security Top 10 (2023), the items that apply, one test each (more detailed cases
live with their endpoints)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.users.models import User
from tests.conftest import Actors, bearer


async def test_api1_object_level_authorization(client: httpx.AsyncClient, actors: Actors) -> None:
    """Every object a path names is checked against the caller: another user's answers 404."""
    _, token = await actors.user_with_token()
    other, other_token = await actors.user_with_token()
    staff = bearer(await actors.client_token("staff"))
    contract = (
        await client.post(
            f"/v1/users/{other}/contracts",
            json={"product": "Plus", "seller": "Mezzoforte Oy", "opened_on": "2025-01-01"},
            headers=staff,
        )
    ).json()
    interest = (
        await client.post(
            "/v1/users/me/interests", json={"topic": "Kellot"}, headers=bearer(other_token)
        )
    ).json()
    receipt = (
        await client.post(
            "/v1/users/me/permissions",
            json={
                "source": "settings_page",
                "language": "fi",
                "decisions": [{"purpose": "analytics", "decision": "granted", "notice_version": 1}],
            },
            headers=bearer(other_token),
        )
    ).json()["receipt_id"]
    attempts = [
        ("GET", f"/v1/users/{other}"),
        ("PATCH", f"/v1/users/{other}"),
        ("DELETE", f"/v1/users/{other}"),
        ("GET", f"/v1/users/{other}/contracts"),
        ("GET", f"/v1/users/{other}/billing"),
        ("GET", f"/v1/users/{other}/collections"),
        ("GET", f"/v1/users/{other}/interests"),
        ("DELETE", f"/v1/users/{other}/interests/{interest['id']}"),
        ("DELETE", f"/v1/users/me/interests/{interest['id']}"),
        ("GET", f"/v1/users/{other}/events"),
        ("GET", f"/v1/users/{other}/history"),
        ("GET", f"/v1/users/{other}/permissions"),
        ("POST", f"/v1/users/{other}/permissions"),
        ("GET", f"/v1/users/{other}/permissions/history"),
        ("GET", f"/v1/consent-receipts/{receipt}"),
        ("GET", f"/v1/users/{other}/disclosures"),
        ("GET", f"/v1/users/{other}/notifications"),
        ("GET", f"/v1/users/{other}/requests"),
        ("POST", f"/v1/users/{other}/requests"),
        ("GET", f"/v1/users/{other}/export"),
    ]
    bodies = {
        "PATCH": {"language": "en"},
        "POST": {"type": "access"},
    }
    for method, path in attempts:
        body = bodies.get(method)
        if path.endswith("/permissions") and method == "POST":
            body = {
                "source": "settings_page",
                "language": "fi",
                "decisions": [
                    {"purpose": "analytics", "decision": "withdrawn", "notice_version": 1}
                ],
            }
        response = await client.request(method, path, json=body, headers=bearer(token))
        assert response.status_code == 404, (method, path, response.status_code)
    assert contract["id"]


async def test_api2_broken_authentication(client: httpx.AsyncClient, actors: Actors) -> None:
    """No token, a garbage token and a token of another issuer are all 401 with a challenge
    (the full RFC 8725 set is in test_auth.py)."""
    user_id = await actors.user()
    for headers in ({}, bearer("not-a-jwt"), bearer("eyJhbGciOiJub25lIn0.e30.")):
        response = await client.get(f"/v1/users/{user_id}", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_api3_property_level_authorization(
    client: httpx.AsyncClient, actors: Actors, db: AsyncSession
) -> None:
    """Mass assignment is refused, and responses never carry secrets."""
    user_id, token = await actors.user_with_token()
    for field, value in (
        ("status", "active"),
        ("kind", "company"),
        ("id", str(uuid.uuid4())),
        ("subject_ref", str(uuid.uuid4())),
        ("password_hash", "x"),
    ):
        response = await client.patch("/v1/users/me", json={field: value}, headers=bearer(token))
        assert response.status_code == 422, field
    user = (await db.scalars(select(User).where(User.id == user_id))).one()
    assert (user.status, user.kind) == ("active", "private")
    profile = await client.get("/v1/users/me", headers=bearer(token))
    for secret in ("password", "hash", "subject_ref", "secret"):
        assert secret not in profile.text


async def test_api4_unrestricted_resource_consumption(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    """Page sizes, batch sizes and body sizes are bounded."""
    staff = bearer(await actors.client_token("staff"))
    frontend = bearer(await actors.client_token("frontend"))
    user_id = await actors.user()
    assert (
        await client.get("/v1/users", params={"limit": 10_000}, headers=staff)
    ).status_code == 422
    events = {
        "events": [{"user_id": str(user_id), "type": "x", "occurred_at": "2026-11-01T00:00:00Z"}]
        * 1001
    }
    assert (await client.post("/v1/events", json=events, headers=frontend)).status_code in (
        413,
        422,
    )
    huge = {"topic": "x" * (2 * 1024 * 1024)}
    assert (
        await client.post(f"/v1/users/{user_id}/interests", json=huge, headers=staff)
    ).status_code == 413
    big_properties = {
        "events": [
            {
                "user_id": str(user_id),
                "type": "x",
                "occurred_at": "2026-11-01T00:00:00Z",
                "properties": {"blob": "y" * 9000},
            }
        ]
    }
    assert (
        await client.post("/v1/events", json=big_properties, headers=frontend)
    ).status_code == 422


@pytest.mark.parametrize(
    ("role", "method", "path"),
    [
        ("subject", "GET", "/v1/users"),
        ("subject", "GET", "/v1/requests"),
        ("subject", "POST", "/v1/purposes"),
        ("subject", "GET", "/v1/recipients"),
        ("subject", "GET", "/v1/disclosures"),
        ("subject", "GET", "/v1/audiences/direct_marketing?channel=email"),
        ("staff", "PATCH", "/v1/purposes/analytics"),
        ("staff", "POST", "/v1/recipients"),
        ("staff", "GET", "/v1/requests"),
        ("staff", "POST", "/v1/disclosures"),
        ("partner", "GET", "/v1/users"),
        ("partner", "POST", "/v1/register-updates"),
        ("frontend", "GET", "/v1/users"),
        ("integration", "POST", "/v1/events"),
    ],
)
async def test_api5_function_level_authorization(
    client: httpx.AsyncClient, actors: Actors, role: str, method: str, path: str
) -> None:
    """Operations of another role are 403, whatever the body."""
    if role == "subject":
        _, token = await actors.user_with_token()
    else:
        token = await actors.client_token(role)
    response = await client.request(method, path, json={}, headers=bearer(token))
    assert response.status_code == 403, response.text


async def test_api8_errors_carry_no_personal_data(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    """Validation errors name the field, never echo the value."""
    staff = bearer(await actors.client_token("staff"))
    user_id = await actors.user()
    response = await client.put(
        f"/v1/users/{user_id}/identity-code",
        json={"identity_code": "131052-308U", "method": "bank_id"},
        headers=staff,
    )
    assert response.status_code == 422
    assert "131052" not in response.text
    bad_email = await client.patch(
        f"/v1/users/{user_id}", json={"email": "matti@@example.fi"}, headers=staff
    )
    assert "matti" not in bad_email.text
