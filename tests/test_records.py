"""Contracts, billing, debt collection and interests: ownership, validation, provenance, logs."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AccessLogEntry
from app.records.models import BillingProfile, CollectionCase, Contract
from app.users.models import UserChange
from tests.conftest import Actors, bearer

CONTRACT = {
    "product": "Huutokaupat.com Plus",
    "seller": "Mezzoforte Oy",
    "opened_on": "2025-01-15",
    "communication": {"email": "asiakas@example.fi", "preferred_channel": "email"},
}


class TestContracts:
    async def test_staff_record_and_change_a_contract(
        self, client: httpx.AsyncClient, actors: Actors, staff, db: AsyncSession
    ) -> None:  # type: ignore[no-untyped-def]
        user_id = await actors.user()
        created = await client.post(f"/v1/users/{user_id}/contracts", json=CONTRACT, headers=staff)
        assert created.status_code == 201, created.text
        contract = created.json()
        assert contract["communication"] == {
            "email": "asiakas@example.fi",
            "phone": None,
            "preferred_channel": "email",
        }
        ended = await client.patch(
            f"/v1/users/{user_id}/contracts/{contract['id']}",
            json={"terminated_on": "2026-01-14"},
            headers=staff,
        )
        assert ended.status_code == 200
        assert ended.json()["terminated_on"] == "2026-01-14"
        listed = await client.get(f"/v1/users/{user_id}/contracts", headers=staff)
        assert [c["id"] for c in listed.json()["items"]] == [contract["id"]]
        stored = (await db.scalars(select(Contract))).one()
        assert str(stored.terminated_on) == "2026-01-14"
        actions = (
            await db.scalars(
                select(UserChange.action)
                .where(UserChange.category == "contracts")
                .order_by(UserChange.id)
            )
        ).all()
        assert actions == ["created", "updated"]

    async def test_end_before_start_is_refused(
        self, client: httpx.AsyncClient, actors: Actors, staff
    ) -> None:  # type: ignore[no-untyped-def]
        user_id = await actors.user()
        response = await client.post(
            f"/v1/users/{user_id}/contracts",
            json={**CONTRACT, "terminated_on": "2024-01-01"},
            headers=staff,
        )
        assert response.status_code == 422

    async def test_a_contract_of_another_user_is_404(
        self, client: httpx.AsyncClient, actors: Actors, staff
    ) -> None:  # type: ignore[no-untyped-def]
        owner, other = await actors.user(), await actors.user()
        contract = (
            await client.post(f"/v1/users/{owner}/contracts", json=CONTRACT, headers=staff)
        ).json()
        response = await client.patch(
            f"/v1/users/{other}/contracts/{contract['id']}", json={"seller": "X"}, headers=staff
        )
        assert response.status_code == 404

    async def test_users_read_their_own_but_cannot_write_contracts(
        self, client: httpx.AsyncClient, actors: Actors, staff
    ) -> None:  # type: ignore[no-untyped-def]
        user_id, token = await actors.user_with_token()
        await client.post(f"/v1/users/{user_id}/contracts", json=CONTRACT, headers=staff)
        own = await client.get("/v1/users/me/contracts", headers=bearer(token))
        assert len(own.json()["items"]) == 1
        write = await client.post("/v1/users/me/contracts", json=CONTRACT, headers=bearer(token))
        assert write.status_code == 403


class TestBilling:
    async def test_put_creates_then_replaces(
        self, client: httpx.AsyncClient, actors: Actors, db: AsyncSession
    ) -> None:
        user_id, token = await actors.user_with_token()
        assert (await client.get("/v1/users/me/billing", headers=bearer(token))).status_code == 404
        body = {
            "street": "Laskutie 1",
            "postal_code": "00100",
            "city": "Helsinki",
            "country": "FI",
            "payment_method_reference": "pm_1Nv0Ab2eZvKYlo2C",
        }
        first = await client.put("/v1/users/me/billing", json=body, headers=bearer(token))
        assert first.status_code == 201
        second = await client.put(
            "/v1/users/me/billing", json={**body, "city": "Espoo"}, headers=bearer(token)
        )
        assert second.status_code == 200
        assert second.json()["city"] == "Espoo"
        stored = (await db.scalars(select(BillingProfile))).one()
        assert (stored.user_id, stored.city) == (user_id, "Espoo")

    async def test_card_numbers_are_refused(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        _, token = await actors.user_with_token()
        response = await client.put(
            "/v1/users/me/billing",
            json={"payment_method_reference": "4111-1111-1111-1111"},
            headers=bearer(token),
        )
        assert response.status_code == 422
        assert "body.payment_method_reference" in {e["field"] for e in response.json()["errors"]}
        assert "4111" not in response.text


class TestCollections:
    async def test_open_and_close_a_case(
        self, client: httpx.AsyncClient, actors: Actors, staff, db: AsyncSession
    ) -> None:  # type: ignore[no-untyped-def]
        user_id = await actors.user()
        case = await client.post(
            f"/v1/users/{user_id}/collections",
            json={"referred_on": "2026-03-01", "agency": "Perintä Oy", "amount_cents": 12550},
            headers=staff,
        )
        assert case.status_code == 201, case.text
        assert (case.json()["currency"], case.json()["status"]) == ("EUR", "open")
        no_date = await client.patch(
            f"/v1/users/{user_id}/collections/{case.json()['id']}",
            json={"status": "paid"},
            headers=staff,
        )
        assert no_date.status_code == 422
        paid = await client.patch(
            f"/v1/users/{user_id}/collections/{case.json()['id']}",
            json={"status": "paid", "closed_on": "2026-04-01"},
            headers=staff,
        )
        assert paid.status_code == 200
        stored = (await db.scalars(select(CollectionCase))).one()
        assert (stored.status, str(stored.closed_on)) == ("paid", "2026-04-01")

    @pytest.mark.parametrize(
        "body",
        [
            {"referred_on": "2026-03-01", "agency": "A", "amount_cents": -1},
            {"referred_on": "2026-03-01", "agency": "A", "amount_cents": 1, "currency": "XYZ"},
        ],
    )
    async def test_bad_amounts_and_currencies(
        self, client: httpx.AsyncClient, actors: Actors, staff, body
    ) -> None:  # type: ignore[no-untyped-def]
        user_id = await actors.user()
        response = await client.post(f"/v1/users/{user_id}/collections", json=body, headers=staff)
        assert response.status_code == 422


class TestInterests:
    async def test_add_list_remove(
        self, client: httpx.AsyncClient, actors: Actors, staff, db: AsyncSession
    ) -> None:  # type: ignore[no-untyped-def]
        user_id, token = await actors.user_with_token()
        added = await client.post(
            "/v1/users/me/interests",
            json={"topic": "Antiikkihuonekalut", "note": "1800-luku"},
            headers=bearer(token),
        )
        assert added.status_code == 201
        duplicate = await client.post(
            "/v1/users/me/interests", json={"topic": "antiikkihuonekalut"}, headers=bearer(token)
        )
        assert duplicate.status_code == 409
        listed = await client.get(f"/v1/users/{user_id}/interests", headers=staff)
        assert [i["topic"] for i in listed.json()["items"]] == ["Antiikkihuonekalut"]
        removed = await client.delete(
            f"/v1/users/me/interests/{added.json()['id']}", headers=bearer(token)
        )
        assert removed.status_code == 204
        gone = await client.delete(f"/v1/users/me/interests/{uuid.uuid4()}", headers=bearer(token))
        assert gone.status_code == 404
        logged = (await db.scalars(select(AccessLogEntry.categories))).all()
        assert logged == [["interests"]], "staff read logged; the user's own reads not"
