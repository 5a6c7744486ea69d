"""Disclosures: recipients, releases checked and logged together, the tamper-evident log and its
checkpoints, external disclosures, and Art. 19 notifications."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks import Webhook

from app.audit.models import DisclosureLogEntry
from app.disclosures import notifications
from app.disclosures.models import Notification
from tests.conftest import Actors, bearer

MARKETING = "group_direct_marketing"


def decisions(*items: tuple[str, str | None, str]) -> dict:  # type: ignore[type-arg]
    return {
        "source": "settings_page",
        "language": "fi",
        "decisions": [
            {"purpose": p, "channel": c, "decision": d, "notice_version": 1} for p, c, d in items
        ],
    }


async def entries(db: AsyncSession) -> list[DisclosureLogEntry]:
    return list(
        (await db.scalars(select(DisclosureLogEntry).order_by(DisclosureLogEntry.id))).all()
    )


class TestRecipients:
    async def test_the_dpo_manages_recipients(
        self, client: httpx.AsyncClient, actors: Actors, dpo
    ) -> None:  # type: ignore[no-untyped-def]
        client_id, _ = await actors.client("partner")
        body = {
            "name": "Huutokaupat Sverige AB",
            "kind": "group_company",
            "country": "se",
            "purposes": [MARKETING],
            "legal_basis": "legitimate_interest",
            "contact_email": "dpo@example.se",
            "webhook_url": "https://hooks.example.se/registry",
            "client_ids": [client_id],
        }
        created = await client.post("/v1/recipients", json=body, headers=dpo)
        assert created.status_code == 201, created.text
        recipient = created.json()
        assert (recipient["country"], recipient["in_eu_eea"]) == ("SE", True)
        assert recipient["client_ids"] == [client_id]
        assert len(recipient["webhook_secret"]) > 30
        read = await client.get(f"/v1/recipients/{recipient['id']}", headers=dpo)
        assert "webhook_secret" not in read.json(), "shown once only"
        moved = await client.patch(
            f"/v1/recipients/{recipient['id']}", json={"country": "US"}, headers=dpo
        )
        assert moved.json()["in_eu_eea"] is False
        staff = bearer(await actors.client_token("staff"))
        assert (await client.get("/v1/recipients", headers=staff)).status_code == 403

    async def test_unknown_purposes_and_plain_http_are_refused(
        self, client: httpx.AsyncClient, dpo
    ) -> None:  # type: ignore[no-untyped-def]
        base = {"name": "X Oy", "kind": "partner", "country": "FI", "legal_basis": "consent"}
        unknown = await client.post(
            "/v1/recipients", json={**base, "purposes": ["nope_purpose"]}, headers=dpo
        )
        assert unknown.status_code == 422
        http = await client.post(
            "/v1/recipients", json={**base, "webhook_url": "http://example.com/hook"}, headers=dpo
        )
        assert http.status_code == 422


class TestReleases:
    async def test_only_permitted_users_and_categories_with_one_entry_each(
        self, client: httpx.AsyncClient, actors: Actors, db: AsyncSession
    ) -> None:
        token, recipient_id, _ = await actors.partner_token()
        # A company that never prohibited, a private person who prohibited group disclosure,
        # and a private person who said nothing (phone allowed, e-mail needs a grant).
        company = await actors.user(
            kind="company", email="firma@example.fi", phone="0405700736", business_id="2077474-0"
        )
        objector_id, objector_token = await actors.user_with_token()
        await client.post(
            "/v1/users/me/permissions",
            json=decisions((MARKETING, None, "prohibited")),
            headers=bearer(objector_token),
        )
        silent = await actors.user(email="hiljainen@example.fi", phone="0401234567")
        unknown = uuid.uuid4()
        response = await client.post(
            "/v1/disclosures",
            json={
                "purpose": MARKETING,
                "categories": ["name", "email", "phone_number"],
                "user_ids": [str(company), str(objector_id), str(silent), str(unknown)],
            },
            headers=bearer(token),
        )
        assert response.status_code == 200, response.text
        body = response.json()
        released = {r["user_id"]: r["data"] for r in body["released"]}
        assert set(released) == {str(company), str(silent)}
        assert released[str(company)]["email"] == "firma@example.fi"
        assert released[str(silent)] == {
            "name": {"first_name": "Testi", "last_name": "Käyttäjä"},
            "phone_number": "+358401234567",
        }, "no e-mail without the person's own grant"
        assert {w["user_id"]: w["reason"] for w in body["withheld"]} == {
            str(objector_id): "not_permitted",
            str(unknown): "not_permitted",
        }
        logged = await entries(db)
        assert len(logged) == 2
        by_ref = {e.subject_ref: e for e in logged}
        company_ref = await db.scalar(
            text("SELECT subject_ref FROM users WHERE id = :id"), {"id": company}
        )
        silent_ref = await db.scalar(
            text("SELECT subject_ref FROM users WHERE id = :id"), {"id": silent}
        )
        assert by_ref[company_ref].categories == ["email", "name", "phone_number"]
        assert by_ref[silent_ref].categories == ["name", "phone_number"]
        entry = by_ref[silent_ref]
        assert (entry.recipient_id, entry.purpose, entry.legal_basis, entry.kind) == (
            recipient_id,
            MARKETING,
            "legitimate_interest",
            "release",
        )
        assert entry.request_id == response.headers["x-request-id"]

    async def test_outside_the_eea_gets_nothing_and_nothing_is_logged(
        self, client: httpx.AsyncClient, actors: Actors, db: AsyncSession
    ) -> None:
        token, _, _ = await actors.partner_token(country="US", name="Auctions Inc.")
        user = await actors.user(kind="company", email="a@example.fi")
        response = await client.post(
            "/v1/disclosures",
            json={"purpose": MARKETING, "categories": ["email"], "user_ids": [str(user)]},
            headers=bearer(token),
        )
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"].endswith("/recipient-outside-eu-eea")
        assert "a@example.fi" not in response.text
        audience = await client.get(
            f"/v1/audiences/{MARKETING}", params={"channel": "email"}, headers=bearer(token)
        )
        assert audience.status_code == 403
        assert await entries(db) == []

    async def test_purpose_not_granted_to_the_recipient(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        token, _, _ = await actors.partner_token(purposes=("market_research",))
        response = await client.post(
            "/v1/disclosures",
            json={"purpose": MARKETING, "categories": ["email"], "user_ids": [str(uuid.uuid4())]},
            headers=bearer(token),
        )
        assert response.status_code == 403
        assert response.json()["type"].endswith("/purpose-not-allowed-for-recipient")

    async def test_a_partner_without_a_recipient_and_other_roles(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        lone = await actors.client_token("partner")
        body = {"purpose": MARKETING, "categories": ["email"], "user_ids": [str(uuid.uuid4())]}
        response = await client.post("/v1/disclosures", json=body, headers=bearer(lone))
        assert response.status_code == 403
        assert response.json()["type"].endswith("/client-acts-for-no-recipient")
        staff = await actors.client_token("staff")
        assert (
            await client.post("/v1/disclosures", json=body, headers=bearer(staff))
        ).status_code == 403

    async def test_a_failed_commit_leaves_neither_data_out_nor_an_entry(
        self,
        client: httpx.AsyncClient,
        actors: Actors,
        db: AsyncSession,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        from sqlalchemy.ext.asyncio import AsyncSession as Session

        token, _, _ = await actors.partner_token()
        user = await actors.user(kind="company", email="secret@example.fi")
        original = Session.commit

        async def failing_commit(self: Session) -> None:
            if await self.scalar(select(func.count()).select_from(DisclosureLogEntry)):
                raise RuntimeError("the database went away at commit")
            await original(self)

        monkeypatch.setattr(Session, "commit", failing_commit)
        response = await client.post(
            "/v1/disclosures",
            json={"purpose": MARKETING, "categories": ["email"], "user_ids": [str(user)]},
            headers=bearer(token),
        )
        monkeypatch.setattr(Session, "commit", original)
        assert response.status_code == 500
        assert "secret@example.fi" not in response.text
        assert await entries(db) == []

    async def test_releases_by_audience_cursor(
        self, client: httpx.AsyncClient, actors: Actors, db: AsyncSession
    ) -> None:
        token, _, _ = await actors.partner_token()
        for index, business_id in enumerate(("2077474-0", "0737546-2", "1234567-1")):
            await actors.user(kind="company", email=f"c{index}@example.fi", business_id=business_id)
        seen: list[str] = []
        cursor = None
        for _ in range(5):
            audience = {"channel": "email", "limit": 2, **({"cursor": cursor} if cursor else {})}
            body = (
                await client.post(
                    "/v1/disclosures",
                    json={"purpose": MARKETING, "categories": ["email"], "audience": audience},
                    headers=bearer(token),
                )
            ).json()
            seen.extend(r["user_id"] for r in body["released"])
            cursor = body["next_cursor"]
            if not cursor:
                break
        assert len(seen) == len(set(seen)) == 3
        assert len(await entries(db)) == 3

    async def test_a_partners_audience_page_is_a_logged_disclosure(
        self, client: httpx.AsyncClient, actors: Actors, db: AsyncSession
    ) -> None:
        token, recipient_id, _ = await actors.partner_token()
        await actors.user(kind="company", phone="0405700736")
        page = await client.get(
            f"/v1/audiences/{MARKETING}", params={"channel": "sms"}, headers=bearer(token)
        )
        assert len(page.json()["items"]) == 1
        [entry] = await entries(db)
        assert (entry.kind, entry.channel, entry.categories) == ("audience", "sms", ["sms_number"])
        assert entry.recipient_id == recipient_id


class TestTheLog:
    async def _some_entries(
        self, client: httpx.AsyncClient, actors: Actors, count: int = 4
    ) -> None:
        token, _, _ = await actors.partner_token()
        ids = [
            str(await actors.user(kind="company", email=f"x{i}@example.fi", business_id=b))
            for i, b in enumerate(("2077474-0", "0737546-2", "1234567-1", "1572860-0")[:count])
        ]
        for user_id in ids:  # one release each
            await client.post(
                "/v1/disclosures",
                json={"purpose": MARKETING, "categories": ["email"], "user_ids": [user_id]},
                headers=bearer(token),
            )

    async def test_the_user_and_the_dpo_read_it(
        self, client: httpx.AsyncClient, actors: Actors, dpo
    ) -> None:  # type: ignore[no-untyped-def]
        token, recipient_id, _ = await actors.partner_token()
        user_id, user_token = await actors.user_with_token()
        other = await actors.user()
        await client.post(
            "/v1/disclosures",
            json={"purpose": MARKETING, "categories": ["name"], "user_ids": [str(user_id)]},
            headers=bearer(token),
        )
        own = (await client.get("/v1/users/me/disclosures", headers=bearer(user_token))).json()
        assert [(e["recipient_name"], e["purpose"]) for e in own["items"]] == [
            ("Konserniyhtiö Oy", MARKETING)
        ]
        assert (
            await client.get(f"/v1/users/{other}/disclosures", headers=bearer(user_token))
        ).status_code == 404
        listed = await client.get(
            "/v1/disclosures",
            params={"recipient": str(recipient_id), "from": "2000-01-01T00:00:00Z"},
            headers=dpo,
        )
        assert len(listed.json()["items"]) == 1
        assert (await client.get("/v1/disclosures", headers=bearer(user_token))).status_code == 403

    async def test_truncation_is_refused_and_the_app_role_cannot_change_it(
        self, client: httpx.AsyncClient, actors: Actors, db: AsyncSession
    ) -> None:
        await self._some_entries(client, actors, 1)
        for statement in ("TRUNCATE disclosure_log", "DELETE FROM disclosure_log"):
            with pytest.raises(Exception, match="append-only"):
                async with db.begin_nested():
                    await db.execute(text(statement))
        with pytest.raises(Exception, match="permission denied"):
            async with db.begin_nested():
                await db.execute(text("SET LOCAL ROLE registry_app"))
                await db.execute(text("UPDATE disclosure_log SET note = 'x'"))
        async with db.begin_nested() as savepoint:
            await db.execute(text("SET LOCAL ROLE registry_app"))
            assert await db.scalar(text("SELECT count(*) FROM disclosure_log")) == 1
            await savepoint.rollback()

    async def test_external_disclosures(
        self, client: httpx.AsyncClient, actors: Actors, db: AsyncSession, dpo
    ) -> None:  # type: ignore[no-untyped-def]
        agency = (
            await client.post(
                "/v1/recipients",
                json={
                    "name": "Perintä Oy",
                    "kind": "debt_collection_agency",
                    "country": "FI",
                    "legal_basis": "legitimate_interest",
                },
                headers=dpo,
            )
        ).json()
        user = await actors.user()
        staff = bearer(await actors.client_token("staff"))
        body = {
            "recipient_id": agency["id"],
            "purpose": "billing",
            "categories": ["basic_data", "billing"],
            "legal_basis": "legitimate_interest",
            "user_ids": [str(user)],
            "note": "Perintätoimeksianto 2026/17",
        }
        logged = await client.post("/v1/disclosure-log", json=body, headers=staff)
        assert logged.status_code == 201
        [entry] = await entries(db)
        assert (entry.kind, entry.note) == ("external", "Perintätoimeksianto 2026/17")
        unknown = await client.post(
            "/v1/disclosure-log", json={**body, "user_ids": [str(uuid.uuid4())]}, headers=staff
        )
        assert unknown.status_code == 422


class TestArt19Notifications:
    async def test_rectification_reaches_every_recipient_signed(
        self, client: httpx.AsyncClient, actors: Actors, db: AsyncSession, app, database
    ) -> None:  # type: ignore[no-untyped-def]
        token, recipient_id, secret = await actors.partner_token(
            webhook_url="https://hooks.example.fi/registry"
        )
        user_id, user_token = await actors.user_with_token()
        await client.post(
            "/v1/disclosures",
            json={"purpose": MARKETING, "categories": ["name"], "user_ids": [str(user_id)]},
            headers=bearer(token),
        )
        changed = await client.patch(
            "/v1/users/me", json={"last_name": "Uusinimi"}, headers=bearer(user_token)
        )
        assert changed.status_code == 200
        [queued] = (await db.scalars(select(Notification))).all()
        assert (queued.recipient_id, queued.event, queued.payload["fields"]) == (
            recipient_id,
            "rectification",
            ["last_name"],
        )
        received: list[httpx.Request] = []
        attempts = iter([503, 200])

        def webhook(request: httpx.Request) -> httpx.Response:
            received.append(request)
            return httpx.Response(next(attempts))

        async with httpx.AsyncClient(transport=httpx.MockTransport(webhook)) as http:
            assert await notifications.deliver_due(database, app.state.auth.hasher, http) == 0
            await db.refresh(queued)
            assert (queued.attempts, queued.last_error, queued.sent_at) == (1, "HTTP 503", None)
            await db.execute(text("UPDATE notifications SET next_attempt_at = now()"))
            assert await notifications.deliver_due(database, app.state.auth.hasher, http) == 1
        request = received[-1]
        # Standard Webhooks, checked by a library someone else wrote.
        assert str(secret).startswith("whsec_")
        verified = Webhook(str(secret)).verify(request.content, dict(request.headers))
        assert verified["event"] == "rectification"
        assert request.headers["webhook-id"] == received[0].headers["webhook-id"], (
            "the same id on every attempt"
        )
        assert json.loads(request.content)["user_id"] == str(user_id)
        assert "Uusinimi" not in request.content.decode(), "names of fields, never the values"
        listed = (await client.get("/v1/users/me/notifications", headers=bearer(user_token))).json()
        assert listed["items"][0]["sent_at"] is not None
        assert listed["items"][0]["attempts"] == 2

    async def _one_queued(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> tuple[uuid.UUID, str, str]:
        token, recipient_id, secret = await actors.partner_token(
            webhook_url="https://hooks.example.fi/registry"
        )
        user_id, user_token = await actors.user_with_token()
        await client.post(
            "/v1/disclosures",
            json={"purpose": MARKETING, "categories": ["name"], "user_ids": [str(user_id)]},
            headers=bearer(token),
        )
        await client.patch("/v1/users/me", json={"last_name": "Toinen"}, headers=bearer(user_token))
        return recipient_id, str(secret), user_token

    async def test_a_rotated_secret_signs_alongside_the_old_one_for_a_day(
        self, client: httpx.AsyncClient, actors: Actors, app, database
    ) -> None:  # type: ignore[no-untyped-def]
        recipient_id, old_secret, _ = await self._one_queued(client, actors)
        dpo = bearer(await actors.client_token("dpo"))
        rotated = await client.post(f"/v1/recipients/{recipient_id}/webhook-secret", headers=dpo)
        assert rotated.status_code == 201
        new_secret = rotated.json()["webhook_secret"]
        assert new_secret.startswith("whsec_") and new_secret != old_secret
        assert rotated.json()["previous_secret_valid_until"] is not None
        received: list[httpx.Request] = []

        def webhook(request: httpx.Request) -> httpx.Response:
            received.append(request)
            return httpx.Response(204)

        async with httpx.AsyncClient(transport=httpx.MockTransport(webhook)) as http:
            assert await notifications.deliver_due(database, app.state.auth.hasher, http) == 1
        [request] = received
        assert len(request.headers["webhook-signature"].split(" ")) == 2
        for secret in (old_secret, new_secret):
            Webhook(secret).verify(request.content, dict(request.headers))

    async def test_a_410_disables_the_endpoint_until_its_address_changes(
        self, client: httpx.AsyncClient, actors: Actors, app, database, db: AsyncSession
    ) -> None:  # type: ignore[no-untyped-def]
        recipient_id, _, user_token = await self._one_queued(client, actors)
        calls: list[httpx.Request] = []

        def gone(request: httpx.Request) -> httpx.Response:
            calls.append(request)
            return httpx.Response(410)

        async with httpx.AsyncClient(transport=httpx.MockTransport(gone)) as http:
            assert await notifications.deliver_due(database, app.state.auth.hasher, http) == 0
            await client.patch(
                "/v1/users/me", json={"last_name": "Kolmas"}, headers=bearer(user_token)
            )
            assert await notifications.deliver_due(database, app.state.auth.hasher, http) == 0
        assert len(calls) == 1, "nothing more is sent to an endpoint that is gone"
        dpo = bearer(await actors.client_token("dpo"))
        read = (await client.get(f"/v1/recipients/{recipient_id}", headers=dpo)).json()
        assert read["webhook_disabled_at"] is not None
        failed = (await db.scalars(select(Notification.last_error))).all()
        assert sorted(failed) == ["HTTP 410", "webhook disabled (HTTP 410)"]
        moved = await client.patch(
            f"/v1/recipients/{recipient_id}",
            json={"webhook_url": "https://hooks.example.fi/v2"},
            headers=dpo,
        )
        assert moved.json()["webhook_disabled_at"] is None

    async def test_no_recipients_no_notifications(
        self, client: httpx.AsyncClient, actors: Actors, db: AsyncSession
    ) -> None:
        _, token = await actors.user_with_token()
        await client.patch("/v1/users/me", json={"language": "en"}, headers=bearer(token))
        assert (await db.scalars(select(Notification))).all() == []


async def test_the_app_role_appends_but_cannot_change_the_logs(settings) -> None:  # type: ignore[no-untyped-def]
    """The service logs in as registry_app (not the owner with SET ROLE): whatever it runs, it
    cannot change the append-only tables, disable their triggers or become the owner."""
    from app.db.session import Database, service_url

    database = Database.from_settings(service_url(settings.database_url, settings), settings)
    try:
        async with database.session() as session:
            assert await session.scalar(text("SELECT session_user")) == "registry_app"
            assert await session.scalar(text("SELECT count(*) FROM disclosure_log")) >= 0
            for statement in (
                "UPDATE disclosure_log SET note = 'x'",
                "DELETE FROM access_log",
                "TRUNCATE consent_records",
                "UPDATE purpose_versions SET notice_fi = 'x'",
                "ALTER TABLE disclosure_log DISABLE TRIGGER USER",
                "ALTER TABLE access_log DISABLE TRIGGER access_log_append_only_truncate",
                "SET session_replication_role = replica",
                "DROP TRIGGER access_log_append_only_truncate ON access_log",
                "SET ROLE postgres",
            ):
                with pytest.raises(Exception, match=r"permission denied|must be owner"):
                    async with session.begin_nested():
                        await session.execute(text(statement))
            await session.execute(text("RESET ROLE"))
            assert await session.scalar(text("SELECT current_user")) == "registry_app"
            await session.rollback()
    finally:
        await database.dispose()
