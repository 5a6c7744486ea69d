"""DVV and Posti updates: idempotent, provenance, unknown users reported, death notices."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.users.models import User, UserChange
from tests.conftest import Actors, bearer

NEW_ADDRESS = {
    "street": "Uusikatu 5 A 3",
    "postal_code": "33100",
    "city": "Tampere",
    "country": "FI",
}


@pytest.fixture
async def feed(actors: Actors) -> dict[str, str]:
    return bearer(await actors.client_token("integration"))


async def send(client: httpx.AsyncClient, feed: dict[str, str], *updates: dict) -> httpx.Response:  # type: ignore[type-arg]
    return await client.post("/v1/register-updates", json={"updates": list(updates)}, headers=feed)


class TestRegisterUpdates:
    async def test_needs_its_scope(self, client: httpx.AsyncClient, actors: Actors) -> None:
        staff = bearer(await actors.client_token("staff"))
        response = await send(client, staff, {})
        assert response.status_code == 403

    async def test_posti_address_change_applied_twice_is_one_change(
        self, client: httpx.AsyncClient, actors: Actors, feed, db: AsyncSession
    ) -> None:  # type: ignore[no-untyped-def]
        user_id = await actors.user()
        update = {
            "update_id": "posti-2026-0001",
            "source": "posti",
            "type": "address_change",
            "user_id": str(user_id),
            "address": NEW_ADDRESS,
        }
        first = await send(client, feed, update)
        second = await send(client, feed, update)
        assert first.json()["results"][0]["outcome"] == "applied"
        assert first.json()["results"][0]["changed_fields"] == [
            "city",
            "country",
            "postal_code",
            "street",
        ]
        assert second.json()["results"][0]["outcome"] == "duplicate"
        changes = (
            await db.scalars(
                select(UserChange).where(
                    UserChange.user_id == user_id, UserChange.source == "posti"
                )
            )
        ).all()
        assert len(changes) == 1
        assert changes[0].update_id == "posti-2026-0001"
        assert changes[0].changes["city"] == {"from": None, "to": "Tampere"}
        user = (await db.scalars(select(User).where(User.id == user_id))).one()
        assert (user.street, user.city) == ("Uusikatu 5 A 3", "Tampere")

        staff = bearer(await actors.client_token("staff"))
        history = (await client.get(f"/v1/users/{user_id}/history", headers=staff)).json()
        assert [c["source"] for c in history["items"]] == ["import", "posti"]

    async def test_unknown_user_is_reported_and_can_be_sent_again(
        self, client: httpx.AsyncClient, actors: Actors, feed
    ) -> None:  # type: ignore[no-untyped-def]
        known = await actors.user()
        updates = [
            {
                "update_id": "dvv-1",
                "source": "dvv",
                "type": "name_change",
                "user_id": str(uuid.uuid4()),
                "last_name": "Uusinimi",
            },
            {
                "update_id": "dvv-2",
                "source": "dvv",
                "type": "name_change",
                "user_id": str(known),
                "last_name": "Uusinimi",
            },
        ]
        response = await send(client, feed, *updates)
        assert response.status_code == 200
        assert [r["outcome"] for r in response.json()["results"]] == ["unknown_user", "applied"]
        again = await send(client, feed, updates[0])
        assert again.json()["results"][0]["outcome"] == "unknown_user"

    async def test_by_identity_code(self, client: httpx.AsyncClient, actors: Actors, feed) -> None:  # type: ignore[no-untyped-def]
        user_id = await actors.user()
        staff = bearer(await actors.client_token("staff"))
        await client.put(
            f"/v1/users/{user_id}/identity-code",
            json={"identity_code": "010110B234K", "method": "bank_id"},
            headers=staff,
        )
        response = await send(
            client,
            feed,
            {
                "update_id": "dvv-by-code",
                "source": "dvv",
                "type": "address_change",
                "identity_code": "010110B234K",
                "address": NEW_ADDRESS,
            },
        )
        assert response.json()["results"][0]["user_id"] == str(user_id)

    async def test_death_notice_closes_the_account(
        self, client: httpx.AsyncClient, actors: Actors, feed, db: AsyncSession
    ) -> None:  # type: ignore[no-untyped-def]
        await actors.user("departed")
        token = (await actors.login("departed")).json()["access_token"]
        user_id = await db.scalar(select(User.id))
        response = await send(
            client,
            feed,
            {
                "update_id": "dvv-death-1",
                "source": "dvv",
                "type": "death_notice",
                "user_id": str(user_id),
                "died_on": "2026-11-01",
            },
        )
        assert response.json()["results"][0]["outcome"] == "applied"
        user = (await db.scalars(select(User).where(User.id == user_id))).one()
        await db.refresh(user)
        assert (user.status, str(user.deceased_on)) == ("closed", "2026-11-01")
        assert (await client.get("/v1/users/me", headers=bearer(token))).status_code == 401
        change = (await db.scalars(select(UserChange).where(UserChange.action == "deceased"))).one()
        assert (change.source, change.update_id) == ("dvv", "dvv-death-1")

    @pytest.mark.parametrize(
        ("update", "message"),
        [
            ({"source": "posti", "type": "name_change", "last_name": "X"}, "address changes only"),
            ({"source": "dvv", "type": "death_notice"}, "died_on"),
            ({"source": "dvv", "type": "address_change"}, "address"),
        ],
    )
    async def test_inconsistent_updates_are_422(
        self, client: httpx.AsyncClient, feed, update, message
    ) -> None:  # type: ignore[no-untyped-def]
        body = {"update_id": "x", "user_id": str(uuid.uuid4()), **update}
        response = await send(client, feed, body)
        assert response.status_code == 422
        assert message in response.text
