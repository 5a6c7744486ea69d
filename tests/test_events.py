"""Events: batch ingestion, monthly partitions, keyset listing, retention."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.events import service
from app.events.models import Event
from tests.conftest import Actors, bearer


@pytest.fixture
async def sender(actors: Actors) -> dict[str, str]:
    return bearer(await actors.client_token("frontend"))


def event(user_id, when: datetime, type_: str = "item.listed", **properties) -> dict:  # type: ignore[no-untyped-def,type-arg]
    return {
        "user_id": str(user_id),
        "type": type_,
        "occurred_at": when.isoformat(),
        "properties": properties,
    }


class TestIngestion:
    async def test_only_the_frontend_sends_events(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        staff = bearer(await actors.client_token("staff"))
        response = await client.post("/v1/events", json={"events": []}, headers=staff)
        assert response.status_code == 403

    async def test_batch_stored_unknown_users_reported(
        self, client: httpx.AsyncClient, actors: Actors, sender, db: AsyncSession
    ) -> None:  # type: ignore[no-untyped-def]
        import uuid

        user_id = await actors.user()
        now = datetime.now(UTC)
        batch = [
            event(user_id, now - timedelta(minutes=1), "bid.placed", amount=1200),
            event(uuid.uuid4(), now),
            event(user_id, now - timedelta(days=40)),
            event(user_id, now + timedelta(days=1)),
            event(user_id, now - timedelta(days=365 * 3)),
        ]
        response = await client.post("/v1/events", json={"events": batch}, headers=sender)
        assert response.status_code == 200, response.text
        assert response.json() == {
            "accepted": 2,
            "rejected": [
                {"index": 1, "reason": "unknown_user"},
                {"index": 3, "reason": "in_the_future"},
                {"index": 4, "reason": "too_old"},
            ],
        }
        rows = (await db.scalars(select(Event).order_by(Event.occurred_at))).all()
        assert [row.type for row in rows] == ["item.listed", "bid.placed"]
        assert rows[1].properties == {"amount": 1200}
        partitions = await service.existing_partitions(db)
        for row in rows:
            assert service.partition_name(service.month_start(row.occurred_at)) in partitions

    async def test_batch_limit(self, client: httpx.AsyncClient, actors: Actors, sender) -> None:  # type: ignore[no-untyped-def]
        user_id = await actors.user()
        now = datetime.now(UTC)
        too_many = [event(user_id, now)] * 1001
        response = await client.post("/v1/events", json={"events": too_many}, headers=sender)
        assert response.status_code == 422
        assert "body.events" in {e["field"] for e in response.json()["errors"]}

    async def test_naive_timestamps_are_refused(
        self, client: httpx.AsyncClient, actors: Actors, sender
    ) -> None:  # type: ignore[no-untyped-def]
        user_id = await actors.user()
        body = {
            "events": [{"user_id": str(user_id), "type": "x", "occurred_at": "2026-01-01T10:00:00"}]
        }
        response = await client.post("/v1/events", json=body, headers=sender)
        assert response.status_code == 422


class TestListing:
    async def test_keyset_pages_newest_first(
        self, client: httpx.AsyncClient, actors: Actors, sender
    ) -> None:  # type: ignore[no-untyped-def]
        user_id, token = await actors.user_with_token()
        start = datetime.now(UTC) - timedelta(hours=1)
        batch = [event(user_id, start + timedelta(seconds=i // 2), n=i) for i in range(25)]
        await client.post("/v1/events", json={"events": batch}, headers=sender)
        seen: list[int] = []
        cursor = None
        while True:
            params = {"limit": 10, **({"cursor": cursor} if cursor else {})}
            page = (
                await client.get("/v1/users/me/events", params=params, headers=bearer(token))
            ).json()
            seen.extend(item["properties"]["n"] for item in page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert sorted(seen) == list(range(25))
        assert len(seen) == 25
        times = [batch[n]["occurred_at"] for n in seen]
        assert times == sorted(times, reverse=True)

    async def test_another_users_events_are_404(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        _, token = await actors.user_with_token()
        other = await actors.user()
        response = await client.get(f"/v1/users/{other}/events", headers=bearer(token))
        assert response.status_code == 404


async def test_retention_drops_old_partitions(db: AsyncSession) -> None:
    old, recent = date(2020, 1, 1), service.month_start(datetime.now(UTC))
    await service.ensure_partitions(db, {old, recent})
    connection = await db.connection()
    dropped = await service.drop_expired_partitions(connection, retention_months=24)
    assert "events_p202001" in dropped
    remaining = await service.existing_partitions(db)
    assert service.partition_name(recent) in remaining
    assert "events_p202001" not in remaining
    count = await db.scalar(text("SELECT count(*) FROM pg_class WHERE relname = 'events_p202001'"))
    assert count == 0
