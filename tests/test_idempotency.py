"""`Idempotency-Key` on the POSTs that create: the same key and body replay the first answer and
do nothing twice, another body is a 422, a key still in flight a 409."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.consents.models import ConsentReceipt
from app.requests.models import SubjectRequest
from tests.conftest import Actors, bearer

DECISION = {
    "source": "settings_page",
    "language": "fi",
    "decisions": [
        {
            "purpose": "direct_marketing",
            "channel": "email",
            "decision": "granted",
            "notice_version": 1,
        }
    ],
}


async def test_a_retried_post_replays_the_first_answer(
    client: httpx.AsyncClient, actors: Actors, db: AsyncSession
) -> None:
    """Defect: a retried POST made two consent receipts and two access requests."""
    user_id, token = await actors.user_with_token()
    headers = {**bearer(token), "Idempotency-Key": "decide-1"}
    first = await client.post("/v1/users/me/permissions", json=DECISION, headers=headers)
    again = await client.post("/v1/users/me/permissions", json=DECISION, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    receipts = await db.scalar(
        select(func.count()).select_from(ConsentReceipt).where(ConsentReceipt.user_id == user_id)
    )
    assert receipts == 1

    request_headers = {**bearer(token), "Idempotency-Key": str(uuid.uuid4())}
    made = [
        await client.post("/v1/users/me/requests", json={"type": "access"}, headers=request_headers)
        for _ in range(3)
    ]
    assert {r.json()["id"] for r in made} == {made[0].json()["id"]}
    count = await db.scalar(
        select(func.count()).select_from(SubjectRequest).where(SubjectRequest.user_id == user_id)
    )
    assert count == 1
    other = await client.post(
        "/v1/users/me/requests", json={"type": "erasure"}, headers=request_headers
    )
    assert other.status_code == 422
    assert other.json()["type"].endswith("/idempotency-key-reused")


async def test_keys_are_per_caller_and_a_failed_request_keeps_no_key(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    _, first_token = await actors.user_with_token()
    _, second_token = await actors.user_with_token()
    key = {"Idempotency-Key": "same-key"}
    one = await client.post(
        "/v1/users/me/requests", json={"type": "access"}, headers={**bearer(first_token), **key}
    )
    two = await client.post(
        "/v1/users/me/requests", json={"type": "access"}, headers={**bearer(second_token), **key}
    )
    assert one.json()["id"] != two.json()["id"]
    failed = await client.post(
        "/v1/users/me/requests",
        json={"type": "nonsense"},
        headers={**bearer(first_token), "Idempotency-Key": "k2"},
    )
    assert failed.status_code == 422
    fixed = await client.post(
        "/v1/users/me/requests",
        json={"type": "access"},
        headers={**bearer(first_token), "Idempotency-Key": "k2"},
    )
    assert fixed.status_code == 201, "a failed request left no key behind"


async def test_a_key_in_flight_is_409(client: httpx.AsyncClient, actors: Actors, engine) -> None:  # type: ignore[no-untyped-def]
    """While another transaction holds the key's lock (its first request still running), the
    same key is answered 409 at once rather than doing the work again."""
    _, token = await actors.user_with_token()
    import jose.jwt

    owner = "user:" + jose.jwt.get_unverified_claims(token)["sub"]
    async with engine.connect() as other:
        await other.begin()
        await other.exec_driver_sql(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 7))", (f"{owner} busy-key",)
        )
        response = await asyncio.wait_for(
            client.post(
                "/v1/users/me/requests",
                json={"type": "access"},
                headers={**bearer(token), "Idempotency-Key": "busy-key"},
            ),
            timeout=10,
        )
        await other.rollback()
    assert response.status_code == 409
    assert response.json()["type"].endswith("/idempotency-key-in-flight")
    assert response.headers["retry-after"] == "1"
