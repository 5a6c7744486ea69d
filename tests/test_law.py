"""The law in the rules: each case a Finnish DPO reproduced through the API, and the domain facts
(shared/docs/domain.md) the rules rely on."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import DisclosureLogEntry
from app.consents.models import ConsentReceipt, ConsentState
from app.disclosures.webhooks import WebhookClients, WebhookPolicy
from app.events.models import Event
from app.subject_notices import service as subject_notices
from app.subject_notices.models import SubjectNotice
from app.users.models import User
from tests.conftest import Actors, bearer

PROBLEM = "application/problem+json"
GROUP_PURPOSES = ("group_direct_marketing",)


def decisions(
    *items: tuple[str, str | None, str], source: str = "settings_page", version: int = 1
) -> dict[str, Any]:
    return {
        "source": source,
        "language": "fi",
        "decisions": [
            {"purpose": p, "channel": c, "decision": d, "notice_version": version}
            for p, c, d in items
        ],
    }


async def _release(client: httpx.AsyncClient, partner: str, user_id: uuid.UUID) -> dict[str, Any]:
    response = await client.post(
        "/v1/disclosures",
        json={
            "purpose": "group_direct_marketing",
            "categories": ["name", "email", "phone_number"],
            "user_ids": [str(user_id)],
        },
        headers=bearer(partner),
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


# 1 and 8: objections ---------------------------------------------------------------------------


class TestObjections:
    async def test_an_objection_to_direct_marketing_covers_the_group_companies_at_once(
        self, client: httpx.AsyncClient, actors: Actors, db: AsyncSession
    ) -> None:
        """Defect: `prohibited` on `direct_marketing` left the group companies' marketing
        untouched: a group company's release still got the name, e-mail and phone."""
        partner, _, _ = await actors.partner_token(purposes=GROUP_PURPOSES)
        user_id, token = await actors.user_with_token()
        await client.patch(
            "/v1/users/me",
            json={"email": "objector@example.fi", "phone": "0405700736"},
            headers=bearer(token),
        )
        before = await _release(client, partner, user_id)
        assert before["released"] and before["released"][0]["data"].get("phone_number")

        objected = await client.post(
            "/v1/users/me/permissions",
            json=decisions(("direct_marketing", None, "prohibited")),
            headers=bearer(token),
        )
        assert objected.status_code == 201
        recorded = {(d["purpose"], d["decision"]) for d in objected.json()["decisions"]}
        assert recorded >= {
            ("direct_marketing", "prohibited"),
            ("group_direct_marketing", "prohibited"),
            ("distance_selling", "prohibited"),
        }
        receipts = (
            await db.scalars(select(ConsentReceipt.id).where(ConsentReceipt.user_id == user_id))
        ).all()
        assert len(receipts) == 1, "one receipt, one transaction"
        after = await _release(client, partner, user_id)
        assert after["released"] == []
        assert after["withheld"] == [{"user_id": str(user_id), "reason": "not_permitted"}]
        permissions = (await client.get("/v1/users/me/permissions", headers=bearer(token))).json()
        group = [p for p in permissions["items"] if p["purpose"] == "group_direct_marketing"]
        assert group and all(not p["allowed"] and p["reason"] == "objection" for p in group)
        audience = await client.get(
            "/v1/audiences/group_direct_marketing",
            params={"channel": "phone", "limit": 1000},
            headers=bearer(partner),
        )
        assert str(user_id) not in {m["user_id"] for m in audience.json()["items"]}

    async def test_an_objection_request_takes_effect_before_the_dpo_acts_in_the_persons_language(
        self, client: httpx.AsyncClient, actors: Actors, db: AsyncSession, dpo
    ) -> None:  # type: ignore[no-untyped-def]
        """Defects: an `objection` request prohibited marketing only when the DPO completed it,
        days later; the completed objection's receipt was in Finnish for a Swedish speaker."""
        partner, _, _ = await actors.partner_token(purposes=GROUP_PURPOSES)
        user_id, token = await actors.user_with_token()
        await client.patch("/v1/users/me", json={"language": "sv"}, headers=bearer(token))
        made = await client.post(
            "/v1/users/me/requests", json={"type": "objection"}, headers=bearer(token)
        )
        assert made.status_code == 201
        assert made.json()["status"] == "received"
        assert (await _release(client, partner, user_id))["released"] == []
        rows = await db.execute(
            select(ConsentState.purpose_code, ConsentState.decision).where(
                ConsentState.user_id == user_id, ConsentState.channel == "*"
            )
        )
        states = {code: decision for code, decision in rows}
        assert states == {
            "direct_marketing": "prohibited",
            "group_direct_marketing": "prohibited",
            "distance_selling": "prohibited",
        }
        completed = await client.post(
            f"/v1/requests/{made.json()['id']}/complete",
            json={"note": "Kielto kirjattu."},
            headers=dpo,
        )
        assert completed.status_code == 200, completed.text
        assert "market_research" in completed.json()["result"]["prohibited"]
        languages = set(
            (
                await db.scalars(
                    select(ConsentReceipt.language).where(ConsentReceipt.user_id == user_id)
                )
            ).all()
        )
        assert languages == {"sv"}

    async def test_a_direct_marketing_purpose_added_later_is_covered_by_objections_made_before(
        self, client: httpx.AsyncClient, actors: Actors, dpo
    ) -> None:  # type: ignore[no-untyped-def]
        _, token = await actors.user_with_token()
        await client.post(
            "/v1/users/me/permissions",
            json=decisions(("direct_marketing", None, "prohibited")),
            headers=bearer(token),
        )
        created = await client.post(
            "/v1/purposes",
            json={
                "code": "partner_offers",
                "name_en": "Partners' offers by post",
                "category": "marketing",
                "legal_basis": "legitimate_interest",
                "channels": ["post"],
                "dpv_purpose": "dpv:DirectMarketing",
                "notice": {
                    "fi": "Kumppanien tarjouksia.",
                    "sv": "Partners erbjudanden.",
                    "en": "Partners' offers.",
                },
            },
            headers=dpo,
        )
        assert created.status_code == 201, created.text
        assert created.json()["direct_marketing"] is True
        permissions = (await client.get("/v1/users/me/permissions", headers=bearer(token))).json()
        offers = [p for p in permissions["items"] if p["purpose"] == "partner_offers"]
        assert offers == [{**offers[0], "allowed": False, "reason": "objection"}], (
            "post marketing is otherwise allowed unless prohibited"
        )


# 2: analytics ---------------------------------------------------------------------------------


class TestAnalyticsEvents:
    async def test_analytics_events_need_the_analytics_consent(
        self, client: httpx.AsyncClient, actors: Actors, db: AsyncSession
    ) -> None:
        """Defect: after the person withdrew the analytics consent, their analytics events were
        still stored (`accepted: 1`)."""
        user_id, token = await actors.user_with_token()
        frontend = bearer(await actors.client_token("frontend"))
        now = datetime.now(UTC).isoformat()

        def batch(*types: str) -> dict[str, Any]:
            return {
                "events": [{"user_id": str(user_id), "type": t, "occurred_at": now} for t in types]
            }

        await client.post(
            "/v1/users/me/permissions",
            json=decisions(("analytics", None, "granted")),
            headers=bearer(token),
        )
        granted = await client.post("/v1/events", json=batch("page.view"), headers=frontend)
        assert granted.json() == {"accepted": 1, "rejected": []}
        await client.post(
            "/v1/users/me/permissions",
            json=decisions(("analytics", None, "withdrawn")),
            headers=bearer(token),
        )
        withdrawn = await client.post(
            "/v1/events", json=batch("page.view", "bid.placed", "made.up"), headers=frontend
        )
        assert withdrawn.json() == {
            "accepted": 1,
            "rejected": [
                {"index": 0, "reason": "no_analytics_consent"},
                {"index": 2, "reason": "unknown_event_type"},
            ],
        }
        stored = (await db.scalars(select(Event.type).where(Event.user_id == user_id))).all()
        assert sorted(stored) == ["bid.placed", "page.view"], "only the service event was added"

    async def test_the_declared_types_are_listed(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        frontend = bearer(await actors.client_token("frontend"))
        listed = {
            t["type"]: t["purpose"]
            for t in (await client.get("/v1/event-types", headers=frontend)).json()["items"]
        }
        assert listed["page.view"] == "analytics"
        assert listed["bid.placed"] == "customer_relationship"


# 3 and 4: notice versions, material changes, fixed bases ----------------------------------------


class TestNoticeVersions:
    async def test_a_decision_on_a_superseded_notice_is_409_naming_the_current_one(
        self, client: httpx.AsyncClient, actors: Actors, dpo
    ) -> None:  # type: ignore[no-untyped-def]
        for n in range(3):
            changed = await client.patch(
                "/v1/purposes/market_research",
                json={
                    "notice": {
                        "fi": f"Markkinatutkimus, versio {n + 2}.",
                        "sv": f"Marknadsundersökning, version {n + 2}.",
                        "en": f"Market research, version {n + 2}.",
                    },
                    "material": False,
                },
                headers=dpo,
            )
            assert changed.status_code == 200
        _, token = await actors.user_with_token()
        old = await client.post(
            "/v1/users/me/permissions",
            json=decisions(("market_research", "email", "granted"), version=1),
            headers=bearer(token),
        )
        assert old.status_code == 409
        assert old.headers["content-type"] == PROBLEM
        assert old.json()["type"].endswith("/notice-version-outdated")
        assert "version 4" in old.json()["detail"]
        current = await client.post(
            "/v1/users/me/permissions",
            json=decisions(("market_research", "email", "granted"), version=4),
            headers=bearer(token),
        )
        assert current.status_code == 201

    async def test_after_a_material_change_older_consents_wait_for_a_new_decision(
        self, client: httpx.AsyncClient, actors: Actors, dpo
    ) -> None:  # type: ignore[no-untyped-def]
        user_id, token = await actors.user_with_token()
        await client.post(
            "/v1/users/me/permissions",
            json=decisions(("group_direct_marketing", "email", "granted")),
            headers=bearer(token),
        )
        changed = await client.patch(
            "/v1/purposes/group_direct_marketing",
            json={
                "notice": {"fi": "Uudet yhtiöt.", "sv": "Nya bolag.", "en": "New companies."},
                "material": True,
            },
            headers=dpo,
        )
        assert changed.json()["material_version"] == 2
        email = [
            p
            for p in (await client.get("/v1/users/me/permissions", headers=bearer(token))).json()[
                "items"
            ]
            if p["purpose"] == "group_direct_marketing" and p["channel"] == "email"
        ]
        assert email[0]["allowed"] is False and email[0]["reason"] == "reconsent_required"
        waiting = await client.get("/v1/purposes/group_direct_marketing/reconsent", headers=dpo)
        assert waiting.status_code == 200
        assert {"user_id": str(user_id), "granted_version": 1} in waiting.json()["items"]
        await client.post(
            "/v1/users/me/permissions",
            json=decisions(("group_direct_marketing", "email", "granted"), version=2),
            headers=bearer(token),
        )
        again = (
            await client.get("/v1/purposes/group_direct_marketing/reconsent", headers=dpo)
        ).json()
        assert str(user_id) not in {item["user_id"] for item in again["items"]}

    async def test_the_basis_the_law_fixes_cannot_be_switched_and_a_switch_is_material(
        self, client: httpx.AsyncClient, actors: Actors, dpo
    ) -> None:  # type: ignore[no-untyped-def]
        """Defect: the DPO could switch a purpose's basis and every user's permission flipped
        silently."""
        refused = await client.patch(
            "/v1/purposes/analytics",
            json={"legal_basis": "legitimate_interest", "material": True},
            headers=dpo,
        )
        assert refused.status_code == 422
        assert refused.json()["type"].endswith("/invalid-purpose-change")
        _, token = await actors.user_with_token()
        await client.post(
            "/v1/users/me/permissions",
            json=decisions(("market_research", "email", "granted")),
            headers=bearer(token),
        )
        not_material = await client.patch(
            "/v1/purposes/market_research",
            json={"legal_basis": "consent", "material": False},
            headers=dpo,
        )
        assert not_material.status_code == 422
        switched = await client.patch(
            "/v1/purposes/market_research", json={"legal_basis": "consent"}, headers=dpo
        )
        assert switched.status_code == 200
        assert switched.json()["current_version"]["material"] is True
        email = [
            p
            for p in (await client.get("/v1/users/me/permissions", headers=bearer(token))).json()[
                "items"
            ]
            if p["purpose"] == "market_research" and p["channel"] == "email"
        ]
        assert email[0]["reason"] == "reconsent_required"


# 5: the register description --------------------------------------------------------------------


class TestRegisterDescription:
    async def test_names_bases_transfers_and_the_right_to_object_in_the_pages_language(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        await actors.partner_token(country="US", name="Kaukainen Inc")
        for lang, name, basis in (
            ("fi", "Mezzoforte Oy:n konserniyhtiöiden suoramarkkinointi", "oikeutettu etu"),
            ("sv", "Direktmarknadsföring av Mezzoforte Oy:s koncernbolag", "berättigat intresse"),
        ):
            body = (await client.get("/v1/register-description", params={"lang": lang})).json()
            section4 = next(s for s in body["sections"] if s["number"] == 4)
            named = {p["code"]: p for p in section4["purposes"]}
            assert named["group_direct_marketing"]["name"] == name
            assert basis in named["group_direct_marketing"]["legal_basis_text"]
            page = (
                await client.get(
                    "/v1/register-description",
                    params={"lang": lang},
                    headers={"Accept": "text/html"},
                )
            ).text
            assert "legal_obligation" not in page and "legitimate_interest" not in page
            assert "/v1/" not in page, "no API paths for the public"
            assert "Kaukainen" not in page, "a recipient outside the EU/EEA received nothing"
            assert 'name="viewport"' in page and "<style>" in page
            titles = [s["title"] for s in body["sections"]]
            objection = titles.index(
                next(t for t in titles if "suoramarkkinointia" in t or "direktmarknadsföring" in t)
            )
            rights = titles.index(next(t for t in titles if "oikeudet" in t or "rättigheter" in t))
            assert objection < rights, "the right to object comes first, in a section of its own"

    async def test_a_documented_transfer_is_listed_with_its_basis(
        self, client: httpx.AsyncClient, actors: Actors, staff
    ) -> None:  # type: ignore[no-untyped-def]
        _, recipient_id, _ = await actors.partner_token(country="CH", name="Alppi AG")
        user_id = await actors.user()
        logged = await client.post(
            "/v1/disclosure-log",
            json={
                "recipient_id": str(recipient_id),
                "purpose": "customer_relationship",
                "categories": ["basic_data"],
                "legal_basis": "contract",
                "user_ids": [str(user_id)],
                "transfer_basis": "adequacy_decision",
            },
            headers=staff,
        )
        assert logged.status_code == 201, logged.text
        body = (await client.get("/v1/register-description", params={"lang": "en"})).json()
        section8 = next(s for s in body["sections"] if s["number"] == 8)
        assert section8["transfers"] == [
            {
                "name": "Alppi AG",
                "country": "CH",
                "transfer_basis": "adequacy_decision",
                "transfer_basis_text": "an adequacy decision of the Commission (Art. 45)",
            }
        ]


# 6: the external disclosure log -----------------------------------------------------------------


class TestExternalDisclosures:
    async def test_the_purpose_must_exist_and_a_transfer_needs_its_basis(
        self, client: httpx.AsyncClient, actors: Actors, staff, dpo, db: AsyncSession
    ) -> None:  # type: ignore[no-untyped-def]
        _, outside, _ = await actors.partner_token(country="US", name="Kaukainen Inc")
        user_id = await actors.user()
        body = {
            "recipient_id": str(outside),
            "purpose": "customer_relationship",
            "categories": ["basic_data"],
            "legal_basis": "contract",
            "user_ids": [str(user_id)],
        }
        unknown = await client.post(
            "/v1/disclosure-log", json={**body, "purpose": "made_up"}, headers=staff
        )
        assert unknown.status_code == 422 and unknown.json()["type"].endswith("/unknown-purpose")
        no_basis = await client.post("/v1/disclosure-log", json=body, headers=staff)
        assert no_basis.status_code == 422
        assert no_basis.json()["type"].endswith("/transfer-basis-required")
        assert (await db.scalars(select(DisclosureLogEntry))).all() == []
        with_basis = await client.post(
            "/v1/disclosure-log",
            json={**body, "transfer_basis": "standard_contractual_clauses"},
            headers=staff,
        )
        assert with_basis.status_code == 201
        listed = (await client.get("/v1/disclosures", headers=dpo)).json()["items"]
        assert listed[-1]["transfer_basis"] == "standard_contractual_clauses"


# 7: register updates ----------------------------------------------------------------------------


class TestRegisterUpdates:
    async def test_dvv_and_posti_ids_do_not_collide_and_answers_name_only_their_user(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        feed = bearer(await actors.client_token("integration"))
        first, second = await actors.user(), await actors.user()

        def update_for(user_id: uuid.UUID, source: str, city: str) -> dict[str, Any]:
            return {
                "update_id": "2026-000017",
                "source": source,
                "type": "address_change",
                "user_id": str(user_id),
                "address": {
                    "street": "Katu 1",
                    "postal_code": "00100",
                    "city": city,
                    "country": "FI",
                },
            }

        answers = await client.post(
            "/v1/register-updates",
            json={
                "updates": [
                    update_for(first, "dvv", "Helsinki"),
                    update_for(first, "posti", "Espoo"),
                ]
            },
            headers=feed,
        )
        assert answers.status_code == 200, answers.text
        outcomes = [r["outcome"] for r in answers.json()["results"]]
        assert outcomes == ["applied", "applied"], "Posti's id is not DVV's"
        reused = await client.post(
            "/v1/register-updates",
            json={"updates": [update_for(second, "dvv", "Turku")]},
            headers=feed,
        )
        [result] = reused.json()["results"]
        assert result["outcome"] == "update_id_reused"
        assert result["user_id"] is None, "never the other user's id"
        repeat = await client.post(
            "/v1/register-updates",
            json={"updates": [update_for(first, "dvv", "Helsinki")]},
            headers=feed,
        )
        assert repeat.json()["results"][0] == {
            "update_id": "2026-000017",
            "outcome": "duplicate",
            "user_id": str(first),
            "changed_fields": [],
        }


# 9: restriction and the person's notices ----------------------------------------------------------


class TestRestriction:
    async def _restricted(
        self, client: httpx.AsyncClient, actors: Actors, dpo: dict[str, str]
    ) -> tuple[uuid.UUID, str, str]:
        user_id, token = await actors.user_with_token()
        await client.patch("/v1/users/me", json={"language": "sv"}, headers=bearer(token))
        made = await client.post(
            "/v1/users/me/requests", json={"type": "restriction"}, headers=bearer(token)
        )
        done = await client.post(
            f"/v1/requests/{made.json()['id']}/complete", json={"note": "Rajoitettu."}, headers=dpo
        )
        assert done.status_code == 200, done.text
        return user_id, token, made.json()["id"]

    async def test_only_the_person_and_the_dpos_request_handling_may_read(
        self, client: httpx.AsyncClient, actors: Actors, dpo, staff
    ) -> None:  # type: ignore[no-untyped-def]
        """Defect: while a user was restricted (Art. 18), staff could still read and change
        their data."""
        user_id, token, _ = await self._restricted(client, actors, dpo)
        for method, path, body in (
            ("GET", f"/v1/users/{user_id}", None),
            ("PATCH", f"/v1/users/{user_id}", {"last_name": "Muutettu"}),
            ("GET", f"/v1/users/{user_id}/contracts", None),
            ("GET", f"/v1/users/{user_id}/permissions", None),
        ):
            response = await client.request(method, path, json=body, headers=staff)
            assert response.status_code == 409, (method, path, response.text)
            assert response.headers["content-type"] == PROBLEM
            assert response.json()["type"].endswith("/processing-restricted")
        listed = (await client.get("/v1/users", params={"limit": 200}, headers=staff)).json()
        assert str(user_id) not in {u["id"] for u in listed["items"]}
        assert (await client.get("/v1/users/me", headers=bearer(token))).status_code == 200
        assert (await client.get(f"/v1/users/{user_id}", headers=dpo)).status_code == 200
        changed = await client.patch(f"/v1/users/{user_id}", json={"last_name": "X"}, headers=dpo)
        assert changed.status_code == 409, "the DPO reads to answer requests; it changes nothing"

    async def test_lifting_and_extending_tell_the_person_in_their_language(
        self, client: httpx.AsyncClient, actors: Actors, dpo, database, db: AsyncSession
    ) -> None:  # type: ignore[no-untyped-def]
        """Defects: lifting a restriction did not tell the person (Art. 18(3)), nor did
        extending a request (Art. 12(3))."""
        from tests.test_availability import Endpoint

        user_id, token, _ = await self._restricted(client, actors, dpo)
        lifted = await client.delete(f"/v1/users/{user_id}/restriction", headers=dpo)
        assert lifted.status_code == 204
        access = await client.post(
            "/v1/users/me/requests", json={"type": "access"}, headers=bearer(token)
        )
        extended = await client.post(
            f"/v1/requests/{access.json()['id']}/extend",
            json={"months": 2, "reason": "Paljon pyyntöjä."},
            headers=dpo,
        )
        assert extended.status_code == 200, extended.text
        notices = (await client.get("/v1/users/me/notices", headers=bearer(token))).json()["items"]
        assert [n["kind"] for n in notices] == ["request_extended", "restriction_lifted"]
        assert all(n["language"] == "sv" for n in notices)
        assert "2 månader" in notices[0]["body"] and "Paljon pyyntöjä." in notices[0]["body"]
        assert notices[1]["title"] == "Begränsningen av behandlingen upphävs"

        async with Endpoint() as frontend:
            clients = WebhookClients(WebhookPolicy.from_cidrs(["127.0.0.0/8"]), timeout=2)
            try:
                sent = await subject_notices.deliver_due(
                    database,
                    clients,
                    f"http://127.0.0.1:{frontend.port}/notices",
                    "frontend-secret",
                )
            finally:
                await clients.aclose()
        assert sent == 2 and len(frontend.bodies) == 2
        delivered = (
            await db.scalars(select(SubjectNotice.sent_at).where(SubjectNotice.user_id == user_id))
        ).all()
        assert all(delivered)


# 10: what the frontend may relay ------------------------------------------------------------------


class TestFrontendRelay:
    async def test_only_at_sign_up_within_ten_minutes_for_a_user_it_registered(
        self, client: httpx.AsyncClient, actors: Actors, db: AsyncSession
    ) -> None:
        """Defect: a frontend client token could record `granted` with source `sign_up_form`
        for any existing user at any time."""
        frontend = bearer(await actors.client_token("frontend"))
        other_frontend = bearer(await actors.client_token("frontend"))

        async def register(headers: dict[str, str]) -> str:
            response = await client.post(
                "/v1/users",
                json={
                    "kind": "private",
                    "username": f"new-{uuid.uuid4().hex[:8]}",
                    "password": "pitkä salasana 123",
                    "first_name": "Uusi",
                    "last_name": "Asiakas",
                },
                headers=headers,
            )
            assert response.status_code == 201, response.text
            return str(response.json()["id"])

        fresh = await register(frontend)
        at_sign_up = await client.post(
            f"/v1/users/{fresh}/permissions",
            json=decisions(("direct_marketing", "email", "granted"), source="sign_up_form"),
            headers=frontend,
        )
        assert at_sign_up.status_code == 201
        elsewhere = await client.post(
            f"/v1/users/{fresh}/permissions",
            json=decisions(("direct_marketing", "sms", "granted"), source="settings_page"),
            headers=frontend,
        )
        assert elsewhere.status_code == 403
        not_its_own = await client.post(
            f"/v1/users/{fresh}/permissions",
            json=decisions(("direct_marketing", "sms", "granted"), source="sign_up_form"),
            headers=other_frontend,
        )
        assert not_its_own.status_code == 403, "another client did not register this user"
        old = await register(frontend)
        await db.execute(
            update(User)
            .where(User.id == uuid.UUID(old))
            .values(created_at=datetime.now(UTC) - timedelta(minutes=11))
        )
        late = await client.post(
            f"/v1/users/{old}/permissions",
            json=decisions(("direct_marketing", "email", "granted"), source="sign_up_form"),
            headers=frontend,
        )
        assert late.status_code == 403
        assert late.json()["type"].endswith("/decision-window-closed")
        assert (
            await db.scalars(select(ConsentState).where(ConsentState.user_id == uuid.UUID(old)))
        ).all() == []


# Found in review: the ways around the rules above ---------------------------------------------------


class TestWaysAround:
    async def test_a_restricted_user_is_not_found_by_identity_code_either(
        self, client: httpx.AsyncClient, actors: Actors, dpo, staff
    ) -> None:  # type: ignore[no-untyped-def]
        user_id, token = await actors.user_with_token()
        stored = await client.put(
            f"/v1/users/{user_id}/identity-code",
            json={"identity_code": "131052-308T", "method": "bank_id"},
            headers=staff,
        )
        assert stored.status_code in (200, 201), stored.text
        made = await client.post(
            "/v1/users/me/requests", json={"type": "restriction"}, headers=bearer(token)
        )
        await client.post(f"/v1/requests/{made.json()['id']}/complete", json={}, headers=dpo)
        search = {"identity_code": "131052-308T"}
        refused = await client.post("/v1/users/search", json=search, headers=staff)
        assert refused.status_code == 409
        assert refused.json()["type"].endswith("/processing-restricted")
        assert (await client.post("/v1/users/search", json=search, headers=dpo)).status_code == 200
        on_behalf = await client.post(
            f"/v1/users/{user_id}/requests",
            json={"type": "access", "channel": "phone"},
            headers=staff,
        )
        assert on_behalf.status_code == 201, "the person's rights go on"

    async def test_a_marketing_purpose_cannot_opt_out_of_being_direct_marketing(
        self, client: httpx.AsyncClient, dpo
    ) -> None:  # type: ignore[no-untyped-def]
        response = await client.post(
            "/v1/purposes",
            json={
                "code": "sneaky_offers",
                "name_en": "Offers",
                "category": "marketing",
                "direct_marketing": False,
                "legal_basis": "legitimate_interest",
                "channels": ["email", "sms"],
                "dpv_purpose": "dpv:DirectMarketing",
                "notice": {
                    "fi": "Tarjouksia sinulle.",
                    "sv": "Erbjudanden.",
                    "en": "Offers to you.",
                },
            },
            headers=dpo,
        )
        assert response.status_code == 422
        assert response.json()["type"].endswith("/invalid-purpose-change")

    async def test_withdrawing_and_objecting_need_no_current_notice(
        self, client: httpx.AsyncClient, actors: Actors, dpo
    ) -> None:  # type: ignore[no-untyped-def]
        _, token = await actors.user_with_token()
        await client.post(
            "/v1/users/me/permissions",
            json=decisions(("analytics", None, "granted")),
            headers=bearer(token),
        )
        await client.patch(
            "/v1/purposes/analytics",
            json={
                "notice": {
                    "fi": "Analytiikka, uusi teksti.",
                    "sv": "Analys, ny text.",
                    "en": "Analytics, a new text.",
                },
                "material": False,
            },
            headers=dpo,
        )
        for decision in ("withdrawn", "prohibited"):
            response = await client.post(
                "/v1/users/me/permissions",
                json=decisions(("analytics", None, decision), version=1),
                headers=bearer(token),
            )
            assert response.status_code == 201, (decision, response.text)

    async def test_an_outdated_grant_counts_as_no_decision_not_less(
        self, client: httpx.AsyncClient, actors: Actors, dpo
    ) -> None:  # type: ignore[no-untyped-def]
        _, token = await actors.user_with_token()
        await client.post(
            "/v1/users/me/permissions",
            json=decisions(("direct_marketing", "phone", "granted")),
            headers=bearer(token),
        )
        await client.patch(
            "/v1/purposes/direct_marketing",
            json={
                "notice": {
                    "fi": "Suoramarkkinointi, uusi teksti.",
                    "sv": "Direktmarknadsföring, ny text.",
                    "en": "Direct marketing, a new text.",
                },
                "material": True,
            },
            headers=dpo,
        )
        items = (await client.get("/v1/users/me/permissions", headers=bearer(token))).json()[
            "items"
        ]
        phone = next(
            p for p in items if p["purpose"] == "direct_marketing" and p["channel"] == "phone"
        )
        assert phone["allowed"] is True, "phone marketing is allowed unless prohibited anyway"


async def test_objections_stored_before_the_taxonomy_cover_the_group_companies(
    fresh_database,
) -> None:  # type: ignore[no-untyped-def]
    """The migration that brought the taxonomy extends each person's existing objection to
    direct marketing to every direct-marketing purpose."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from app.db import migrate

    url = await fresh_database()
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await migrate.upgrade(connection, "0006_least_privilege")
            user_id = await connection.scalar(
                text("INSERT INTO users (kind) VALUES ('private') RETURNING id")
            )
            await connection.execute(
                text(
                    "INSERT INTO consent_states (user_id, purpose_code, channel, decision, "
                    "record_id, purpose_version, decided_at) VALUES "
                    "(:u, 'direct_marketing', '*', 'prohibited', 7, 1, now()), "
                    "(:u, 'group_direct_marketing', '*', 'allowed', 5, 1, now())"
                ),
                {"u": user_id},
            )
        async with engine.begin() as connection:
            await migrate.upgrade(connection)
            rows = await connection.execute(
                text(
                    "SELECT purpose_code, decision FROM consent_states WHERE user_id = :u "
                    "ORDER BY purpose_code"
                ),
                {"u": user_id},
            )
            states = {code: decision for code, decision in rows}
    finally:
        await engine.dispose()
    assert states == {
        "direct_marketing": "prohibited",
        "distance_selling": "prohibited",
        "group_direct_marketing": "prohibited",
    }


# The domain facts the rules rely on ----------------------------------------------------------------


class TestDomainFacts:
    """shared/docs/domain.md, one test per fact relied on."""

    async def test_917_2014_s200_private_email_needs_opt_in_companies_opt_out(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        _, private = await actors.user_with_token()
        company = await actors.user(kind="company", username=f"c-{uuid.uuid4().hex[:8]}")
        staff = bearer(await actors.client_token("staff"))
        mine = (await client.get("/v1/users/me/permissions", headers=bearer(private))).json()[
            "items"
        ]
        theirs = (await client.get(f"/v1/users/{company}/permissions", headers=staff)).json()[
            "items"
        ]

        def email(items: list[dict[str, Any]]) -> dict[str, Any]:
            return next(
                p for p in items if p["purpose"] == "direct_marketing" and p["channel"] == "email"
            )

        assert (
            email(mine)["allowed"] is False and email(mine)["reason"] == "default_opt_in_required"
        )
        assert (
            email(theirs)["allowed"] is True
            and email(theirs)["reason"] == "default_opt_out_company"
        )

    async def test_917_2014_s205_analytics_rests_on_consent(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        _, token = await actors.user_with_token()
        items = (await client.get("/v1/users/me/permissions", headers=bearer(token))).json()[
            "items"
        ]
        analytics = next(p for p in items if p["purpose"] == "analytics")
        assert (analytics["allowed"], analytics["legal_basis"]) == (False, "consent")

    async def test_gdpr_7_3_withdrawing_is_one_call_like_granting(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        _, token = await actors.user_with_token()
        for decision in ("granted", "withdrawn"):
            response = await client.post(
                "/v1/users/me/permissions",
                json=decisions(("direct_marketing", "email", decision)),
                headers=bearer(token),
            )
            assert response.status_code == 201
        items = (await client.get("/v1/users/me/permissions", headers=bearer(token))).json()[
            "items"
        ]
        assert (
            next(
                p for p in items if p["purpose"] == "direct_marketing" and p["channel"] == "email"
            )["allowed"]
            is False
        )

    async def test_gdpr_12_3_an_extension_is_told_within_the_first_month(
        self, client: httpx.AsyncClient, actors: Actors, dpo, db: AsyncSession
    ) -> None:  # type: ignore[no-untyped-def]
        from app.requests.models import SubjectRequest

        _, token = await actors.user_with_token()
        made = await client.post(
            "/v1/users/me/requests", json={"type": "access"}, headers=bearer(token)
        )
        await db.execute(
            update(SubjectRequest)
            .where(SubjectRequest.id == uuid.UUID(made.json()["id"]))
            .values(received_at=datetime.now(UTC) - timedelta(days=40))
        )
        late = await client.post(
            f"/v1/requests/{made.json()['id']}/extend",
            json={"months": 2, "reason": "Laaja."},
            headers=dpo,
        )
        assert late.status_code == 409
        assert (await db.scalars(select(SubjectNotice))).all() == [], (
            "nothing told of a refused one"
        )

    async def test_gdpr_21_an_objection_stops_no_contract_or_legal_obligation(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        _, token = await actors.user_with_token()
        refused = await client.post(
            "/v1/users/me/permissions",
            json=decisions(("billing", None, "prohibited")),
            headers=bearer(token),
        )
        assert refused.status_code == 422

    async def test_the_seed_catalogue_marks_direct_marketing(self, db: AsyncSession) -> None:
        rows = {
            code: marked
            for code, marked in await db.execute(
                text("SELECT code, direct_marketing FROM purposes")
            )
        }
        assert (
            rows["direct_marketing"] and rows["group_direct_marketing"] and rows["distance_selling"]
        )
        assert (
            not rows["market_research"] and not rows["analytics"] and not rows["customer_letters"]
        )
