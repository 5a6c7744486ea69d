"""Data-subject requests: deadlines, the DPO's workflow, erasure with legal holds, restriction,
objection, exports, and the live register description."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AccessLogEntry, DisclosureLogEntry
from app.consents.models import ConsentRecord
from app.core.settings import get_settings
from app.disclosures.models import Notification
from app.privacy import retention
from app.records.models import BillingProfile, CollectionCase
from app.requests.service import add_months
from app.users.models import User
from tests.conftest import Actors, bearer


@pytest.mark.parametrize(
    ("received", "months", "due"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 1, 15), 1, date(2026, 2, 15)),
        (date(2026, 12, 31), 1, date(2027, 1, 31)),
        (date(2026, 2, 28), 2, date(2026, 4, 28)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
    ],
)
def test_due_dates_handle_month_ends(received: date, months: int, due: date) -> None:
    assert add_months(received, months) == due


class TestWorkflow:
    async def test_user_request_and_the_dpo_handles_it(
        self, client: httpx.AsyncClient, actors: Actors, dpo
    ) -> None:  # type: ignore[no-untyped-def]
        _, token = await actors.user_with_token()
        made = await client.post(
            "/v1/users/me/requests", json={"type": "access"}, headers=bearer(token)
        )
        assert made.status_code == 201
        request = made.json()
        received = datetime.fromisoformat(request["received_at"]).date()
        assert request["due_on"] == add_months(received, 1).isoformat()
        assert request["identity_verification"] == "signed_in"
        assert (await client.get("/v1/requests", headers=bearer(token))).status_code == 403

        extended = await client.post(
            f"/v1/requests/{request['id']}/extend",
            json={"months": 2, "reason": "Many requests at once this month."},
            headers=dpo,
        )
        assert extended.json()["due_on"] == add_months(received, 3).isoformat()
        twice = await client.post(
            f"/v1/requests/{request['id']}/extend",
            json={"months": 1, "reason": "Again."},
            headers=dpo,
        )
        assert twice.status_code == 409
        done = await client.post(
            f"/v1/requests/{request['id']}/complete", json={"note": "Export sent."}, headers=dpo
        )
        assert done.json()["status"] == "completed"
        assert [e["action"] for e in done.json()["events"]] == ["received", "extended", "completed"]
        own = await client.get("/v1/users/me/requests", headers=bearer(token))
        assert own.json()["items"][0]["status"] == "completed"
        again = await client.post(
            f"/v1/requests/{request['id']}/reject", json={"reason": "Too late."}, headers=dpo
        )
        assert again.status_code == 409

    async def test_staff_on_behalf_needs_identity_verified(
        self, client: httpx.AsyncClient, actors: Actors, staff, dpo
    ) -> None:  # type: ignore[no-untyped-def]
        user_id = await actors.user()
        made = await client.post(
            f"/v1/users/{user_id}/requests",
            json={"type": "restriction", "channel": "letter", "details": "Kirje 12.11."},
            headers=staff,
        )
        request = made.json()
        assert (request["channel"], request["identity_verified_at"]) == ("letter", None)
        refused = await client.post(f"/v1/requests/{request['id']}/complete", json={}, headers=dpo)
        assert refused.status_code == 409
        await client.post(
            f"/v1/requests/{request['id']}/verify", json={"method": "bank_id"}, headers=dpo
        )
        done = await client.post(f"/v1/requests/{request['id']}/complete", json={}, headers=dpo)
        assert done.json()["status"] == "completed"

    async def test_work_list_overdue_and_rejection(
        self, client: httpx.AsyncClient, actors: Actors, dpo, db: AsyncSession
    ) -> None:  # type: ignore[no-untyped-def]
        _, token = await actors.user_with_token()
        late = (
            await client.post(
                "/v1/users/me/requests", json={"type": "rectification"}, headers=bearer(token)
            )
        ).json()
        fresh = (
            await client.post(
                "/v1/users/me/requests", json={"type": "objection"}, headers=bearer(token)
            )
        ).json()
        await db.execute(
            text("UPDATE subject_requests SET due_on = :d WHERE id = :id"),
            {"d": date.today() - timedelta(days=1), "id": late["id"]},
        )
        overdue = (await client.get("/v1/requests", params={"overdue": "true"}, headers=dpo)).json()
        assert [r["id"] for r in overdue["items"]] == [late["id"]]
        assert overdue["items"][0]["overdue"] is True
        rejected = await client.post(
            f"/v1/requests/{fresh['id']}/reject",
            json={"reason": "The person withdrew the request."},
            headers=dpo,
        )
        assert rejected.json()["resolution"] == "The person withdrew the request."
        closed = (
            await client.get("/v1/requests", params={"status": "rejected"}, headers=dpo)
        ).json()
        assert [r["id"] for r in closed["items"]] == [fresh["id"]]

    async def test_another_users_requests_are_404(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        _, token = await actors.user_with_token()
        other = await actors.user()
        response = await client.get(f"/v1/users/{other}/requests", headers=bearer(token))
        assert response.status_code == 404


async def _full_user(client: httpx.AsyncClient, actors: Actors, staff) -> tuple[uuid.UUID, str]:  # type: ignore[no-untyped-def]
    user_id, token = await actors.user_with_token()
    await client.patch(
        "/v1/users/me",
        json={
            "first_name": "Erkki",
            "last_name": "Esimerkki",
            "email": "erkki.esimerkki@example.fi",
            "phone": "0407654321",
            "address": {"street": "Poistokatu 9", "postal_code": "00100", "city": "Helsinki"},
        },
        headers=bearer(token),
    )
    await client.put(
        f"/v1/users/{user_id}/identity-code",
        json={"identity_code": "131052-308T", "method": "bank_id"},
        headers=staff,
    )
    await client.post(
        f"/v1/users/{user_id}/contracts",
        json={"product": "Plus", "seller": "Mezzoforte Oy", "opened_on": "2024-01-01"},
        headers=staff,
    )
    await client.put(
        "/v1/users/me/billing",
        json={
            "street": "Laskukatu 1",
            "postal_code": "00100",
            "city": "Helsinki",
            "payment_method_reference": "pm_123",
        },
        headers=bearer(token),
    )
    for closed in (None, "2025-06-01"):
        case = (
            await client.post(
                f"/v1/users/{user_id}/collections",
                json={"referred_on": "2025-03-01", "agency": "Perintä Oy", "amount_cents": 5000},
                headers=staff,
            )
        ).json()
        if closed:
            await client.patch(
                f"/v1/users/{user_id}/collections/{case['id']}",
                json={"status": "paid", "closed_on": closed},
                headers=staff,
            )
    await client.post("/v1/users/me/interests", json={"topic": "Taide"}, headers=bearer(token))
    await client.post(
        "/v1/users/me/permissions",
        json={
            "source": "settings_page",
            "language": "fi",
            "decisions": [
                {
                    "purpose": "direct_marketing",
                    "channel": "email",
                    "decision": "granted",
                    "notice_version": 1,
                },
                # Analytics events are stored only with this consent.
                {"purpose": "analytics", "decision": "granted", "notice_version": 1},
            ],
        },
        headers=bearer(token),
    )
    frontend = bearer(await actors.client_token("frontend"))
    now = datetime.now(UTC)
    await client.post(
        "/v1/events",
        json={
            "events": [
                {
                    "user_id": str(user_id),
                    "type": "item.viewed" if i % 2 else "bid.placed",
                    "occurred_at": (now - timedelta(seconds=i)).isoformat(),
                    "properties": {"n": i},
                }
                for i in range(30)
            ]
        },
        headers=frontend,
    )
    return user_id, token


class TestErasure:
    async def test_erasure_removes_everything_but_the_held_records(
        self, client: httpx.AsyncClient, actors: Actors, staff, dpo, db: AsyncSession
    ) -> None:  # type: ignore[no-untyped-def]
        partner, _, _ = await actors.partner_token(webhook_url="https://hooks.example.fi/x")
        user_id, token = await _full_user(client, actors, staff)
        await client.post(
            "/v1/disclosures",
            json={
                "purpose": "group_direct_marketing",
                "categories": ["name"],
                "user_ids": [str(user_id)],
            },
            headers=bearer(partner),
        )
        old_ref = await db.scalar(select(User.subject_ref).where(User.id == user_id))
        request = (
            await client.post(
                "/v1/users/me/requests", json={"type": "erasure"}, headers=bearer(token)
            )
        ).json()
        done = await client.post(f"/v1/requests/{request['id']}/complete", json={}, headers=dpo)
        assert done.status_code == 200, done.text
        report = done.json()["result"]
        erased = {item["table"] for item in report["erased"]}
        assert {
            "identity_codes",
            "credentials",
            "contracts",
            "interests",
            "events",
            "consent_states",
            "user_changes",
        } <= erased
        pseudonymised = {item["table"] for item in report["pseudonymised"]}
        assert {"users", "consent_records", "consent_receipts", "subject_requests"} <= pseudonymised
        assert {"disclosure_log", "notifications"} <= pseudonymised
        assert report["recipients_notified"] == 1
        kept = {(item["category"], item["until"]) for item in report["kept"]}
        assert ("billing", f"{datetime.now(UTC).year + 6}-12-31") in kept
        assert ("debt_collection", None) in kept, "an open case holds while the claim lasts"
        pseudonym = uuid.UUID(report["pseudonym"])
        assert done.json()["user_id"] == str(pseudonym), "the request moved to the pseudonym"
        closed = (
            await db.scalars(
                select(CollectionCase).where(
                    CollectionCase.user_id == pseudonym, CollectionCase.status != "open"
                )
            )
        ).one()
        assert str(closed.held_until) == "2031-12-31", "closed in 2025: six years from its end"

        # Nothing that identifies the user remains outside the held records.
        identifying = [
            "Erkki",
            "Esimerkki",
            "erkki.esimerkki@example.fi",
            "+358407654321",
            "Poistokatu",
            "131052",
            "Taide",
            str(user_id),
        ]
        tables = (
            await db.scalars(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename NOT IN ('billing_profiles', 'collection_cases')"
                )
            )
        ).all()
        for table in tables:
            dump = await db.scalar(
                text(f"SELECT coalesce(string_agg(t::text, ' '), '') FROM \"{table}\" t")
            )
            for value in identifying[:-1]:
                assert value not in str(dump), (table, value)
        assert (await db.get(User, user_id)) is None, "the user id is gone"
        tombstone = await db.get(User, pseudonym)
        assert tombstone is not None
        assert (tombstone.status, tombstone.email, tombstone.first_name) == ("erased", None, None)
        assert tombstone.subject_ref != old_ref
        assert (
            await db.scalars(select(ConsentRecord).where(ConsentRecord.user_id == pseudonym))
        ).all(), "consent records survive, under the pseudonym"
        logged = (await db.scalars(select(DisclosureLogEntry))).all()
        assert logged and all(e.subject_ref == old_ref for e in logged), (
            "log intact, now unlinkable"
        )
        [notice] = (
            await db.scalars(select(Notification).where(Notification.event == "erasure"))
        ).all()
        assert notice.payload["user_id"] == str(user_id), "the recipient must still learn of it"
        assert notice.user_id == pseudonym
        assert (await actors.login(str(user_id))).status_code == 400

        # The held records are unreadable to staff, readable to the DPO under the pseudonym.
        for path in ("billing", "collections"):
            assert (
                await client.get(f"/v1/users/{user_id}/{path}", headers=staff)
            ).status_code == 404
            refused = await client.get(f"/v1/users/{pseudonym}/{path}", headers=staff)
            assert refused.status_code == 409, refused.text
        held = await client.get(f"/v1/users/{pseudonym}/billing", headers=dpo)
        assert held.status_code == 200
        assert held.json()["payment_method_reference"] is None
        assert held.json()["street"], "the hold keeps the billing address"

        # When a hold ends, the retention run removes the record, never earlier.
        today = datetime.now(UTC).date()
        await retention.run(db, get_settings(), today, dry_run=False)
        assert len((await db.scalars(select(BillingProfile))).all()) == 1
        await db.execute(text("UPDATE billing_profiles SET held_until = '2020-01-01'"))
        await db.execute(text("UPDATE collection_cases SET held_until = '2020-01-01'"))
        removed = await retention.run(db, get_settings(), today, dry_run=False)
        assert [e["removed"] for e in removed["billing"]] == [1]
        assert [e["removed"] for e in removed["debt_collection"]] == [1], "the open claim stays"
        assert (await db.scalars(select(BillingProfile))).all() == []
        assert len((await db.scalars(select(CollectionCase))).all()) == 1

    async def test_erasing_twice_is_refused(
        self, client: httpx.AsyncClient, actors: Actors, dpo, staff
    ) -> None:  # type: ignore[no-untyped-def]
        user_id = await actors.user()
        requests = []
        for _ in range(2):
            request = (
                await client.post(
                    f"/v1/users/{user_id}/requests",
                    json={"type": "erasure", "channel": "email"},
                    headers=staff,
                )
            ).json()
            await client.post(
                f"/v1/requests/{request['id']}/verify", json={"method": "bank_id"}, headers=dpo
            )
            requests.append(request)
        for request, expected in zip(requests, (200, 409), strict=True):
            done = await client.post(f"/v1/requests/{request['id']}/complete", json={}, headers=dpo)
            assert done.status_code == expected, done.text
        assert done.json()["type"].endswith("already-erased")
        # The old id names no one now: a new request for it finds no user.
        again = await client.post(
            f"/v1/users/{user_id}/requests", json={"type": "erasure"}, headers=staff
        )
        assert again.status_code == 404


class TestRestrictionAndObjection:
    async def test_restricted_users_are_left_out_until_lifted(
        self, client: httpx.AsyncClient, actors: Actors, dpo, staff
    ) -> None:  # type: ignore[no-untyped-def]
        partner, _, _ = await actors.partner_token()
        company = await actors.user(kind="company", email="firma@example.fi")

        async def audience() -> list[str]:
            page = await client.get(
                "/v1/audiences/direct_marketing",
                params={"channel": "email"},
                headers=bearer(partner),
            )
            return [m["user_id"] for m in page.json()["items"]]

        assert await audience() == [str(company)]
        request = (
            await client.post(
                f"/v1/users/{company}/requests",
                json={"type": "restriction", "channel": "email"},
                headers=staff,
            )
        ).json()
        await client.post(
            f"/v1/requests/{request['id']}/verify", json={"method": "email"}, headers=dpo
        )
        await client.post(f"/v1/requests/{request['id']}/complete", json={}, headers=dpo)
        assert await audience() == []
        released = await client.post(
            "/v1/disclosures",
            json={
                "purpose": "direct_marketing",
                "categories": ["email"],
                "user_ids": [str(company)],
            },
            headers=bearer(partner),
        )
        assert released.json()["released"] == []
        permissions = (await client.get(f"/v1/users/{company}/permissions", headers=dpo)).json()
        assert {
            p["reason"] for p in permissions["items"] if p["purpose"] == "direct_marketing"
        } == {"processing_restricted"}
        lifted = await client.delete(f"/v1/users/{company}/restriction", headers=dpo)
        assert lifted.status_code == 204
        assert await audience() == [str(company)]

    async def test_a_closed_account_can_still_object(
        self, client: httpx.AsyncClient, actors: Actors, dpo, staff
    ) -> None:  # type: ignore[no-untyped-def]
        user_id = await actors.user()
        await client.delete(f"/v1/users/{user_id}", headers=staff)
        request = (
            await client.post(
                f"/v1/users/{user_id}/requests",
                json={"type": "objection", "channel": "letter"},
                headers=staff,
            )
        ).json()
        done = await client.post(f"/v1/requests/{request['id']}/complete", json={}, headers=dpo)
        assert done.status_code == 200, done.text
        grant = await client.post(
            f"/v1/users/{user_id}/permissions",
            json={
                "source": "letter",
                "language": "fi",
                "decisions": [{"purpose": "analytics", "decision": "granted", "notice_version": 1}],
            },
            headers=staff,
        )
        assert grant.status_code == 409, "a closed account cannot grant"

    async def test_objection_prohibits_all_marketing_and_research(
        self, client: httpx.AsyncClient, actors: Actors, dpo
    ) -> None:  # type: ignore[no-untyped-def]
        _, token = await actors.user_with_token()
        request = (
            await client.post(
                "/v1/users/me/requests", json={"type": "objection"}, headers=bearer(token)
            )
        ).json()
        done = await client.post(f"/v1/requests/{request['id']}/complete", json={}, headers=dpo)
        assert set(done.json()["result"]["prohibited"]) == {
            "direct_marketing",
            "group_direct_marketing",
            "distance_selling",
            "market_research",
        }
        permissions = (await client.get("/v1/users/me/permissions", headers=bearer(token))).json()
        for item in permissions["items"]:
            if item["purpose"] in done.json()["result"]["prohibited"]:
                assert (item["allowed"], item["reason"]) == (False, "objection")


def table_of(export: dict, name: str) -> dict:
    """A table of the export document, wherever its category puts it."""
    for category in export["categories"].values():
        if name in category["tables"]:
            return category["tables"][name]
    raise KeyError(name)


class TestExport:
    async def test_json_export_has_every_category_and_the_art_15_items(
        self, client: httpx.AsyncClient, actors: Actors, staff, dpo, db: AsyncSession
    ) -> None:  # type: ignore[no-untyped-def]
        user_id, token = await _full_user(client, actors, staff)
        request = (
            await client.post(
                "/v1/users/me/requests", json={"type": "access"}, headers=bearer(token)
            )
        ).json()
        response = await client.get(
            "/v1/users/me/export", params={"request_id": request["id"]}, headers=bearer(token)
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        export = json.loads(response.content)
        assert export["format"] == "huutokaupat-registry-export/2"
        assert set(export["categories"]) == {
            "basic_data",
            "identity_code",
            "contracts",
            "billing",
            "debt_collection",
            "credentials",
            "permissions",
            "interests",
            "events",
            "accountability",
        }
        users = table_of(export, "users")
        assert users["rows"][0]["email"] == "erkki.esimerkki@example.fi"
        assert users["columns"]["email"] == {
            "data_category": "user.contact.email",
            "source": "subject",
        }
        assert "dpv:CustomerRelationshipManagement" in users["purposes"]
        assert users["legal_basis"] == "contract"
        assert users["retention"] and users["on_erasure"]
        assert table_of(export, "identity_codes")["rows"][0]["masked"] == "131052-****"
        assert "identity_code" not in table_of(export, "identity_codes")["rows"][0]
        assert set(table_of(export, "credentials")["rows"][0]) == {
            "username",
            "created_at",
            "password_changed_at",
            "last_login_at",
        }
        assert "$argon2" not in response.text
        assert len(table_of(export, "events")["rows"]) == 30
        assert len(table_of(export, "collection_cases")["rows"]) == 2
        assert table_of(export, "consent_records")["rows"][0]["receipt_id"]
        assert table_of(export, "disclosure_log")["rows"] == []
        assert table_of(export, "access_log")["rows"], "staff reads of the person are listed"
        assert export["permissions_in_effect"]
        article = export["gdpr_article_15"]
        assert {
            "purposes_and_legal_bases",
            "categories_and_retention",
            "recipients",
            "rights",
            "complaint",
            "sources",
            "automated_decision_making",
        } <= set(article)
        assert "tietosuojavaltuutet" in article["complaint"].lower()
        assert set(export["sources_of_data"]["sources"]) >= {"subject", "staff"}
        entry = (
            await db.scalars(
                select(AccessLogEntry).where(AccessLogEntry.operation.like("export:%"))
            )
        ).one()
        assert entry.operation == f"export:access:{request['id']}"

        full = await client.get(
            f"/v1/users/{user_id}/export", params={"identity_code": "full"}, headers=dpo
        )
        row = table_of(json.loads(full.content), "identity_codes")["rows"][0]
        assert row["identity_code"] == "131052-308T"
        denied = await client.get(
            f"/v1/users/{user_id}/export", params={"identity_code": "full"}, headers=staff
        )
        assert denied.status_code == 403

    async def test_events_stream_past_one_batch(
        self, client: httpx.AsyncClient, actors: Actors, db: AsyncSession
    ) -> None:
        from app.events import service as events

        user_id, token = await actors.user_with_token()
        now = datetime.now(UTC)
        await events.ensure_partitions(
            db, {events.month_start(now), events.month_start(now - timedelta(hours=4))}
        )
        await db.execute(
            text(
                "INSERT INTO events (user_id, type, occurred_at, source, properties) "
                "SELECT :u, 'page.view', now() - (n || ' seconds')::interval, 'web', "
                "jsonb_build_object('n', n) FROM generate_series(1, 4500) n"
            ),
            {"u": user_id},
        )
        tricky = {"n": 0, "text": 'a "quoted" back\\slash, a\ttab and\na newline \\\\ ok'}
        await db.execute(
            text(
                "INSERT INTO events (user_id, type, occurred_at, source, properties) "
                "VALUES (:u, 'note', now() - interval '3 hours', 'web', CAST(:p AS jsonb))"
            ),
            {"u": user_id, "p": json.dumps(tricky)},
        )
        response = await client.get("/v1/users/me/export", headers=bearer(token))
        events = table_of(json.loads(response.content), "events")["rows"]
        assert len(events) == 4501
        assert len({e["properties"]["n"] for e in events}) == 4501
        assert events[0]["properties"] == tricky, "escapes survive the COPY stream"

    async def test_zip_has_json_csv_and_a_summary_in_the_users_language(
        self, client: httpx.AsyncClient, actors: Actors, staff
    ) -> None:  # type: ignore[no-untyped-def]
        _, token = await _full_user(client, actors, staff)
        await client.patch("/v1/users/me", json={"language": "sv"}, headers=bearer(token))
        response = await client.get(
            "/v1/users/me/export", params={"format": "zip"}, headers=bearer(token)
        )
        assert response.headers["content-type"] == "application/zip"
        archive = zipfile.ZipFile(io.BytesIO(response.content))
        names = set(archive.namelist())
        assert {
            "export.json",
            "summary.html",
            "events.csv",
            "contracts.csv",
            "users.csv",
            "consent_records.csv",
            "user_changes.csv",
            "disclosure_log.csv",
        } <= names
        assert json.loads(archive.read("export.json"))["language"] == "sv"
        summary = archive.read("summary.html").decode()
        assert 'lang="sv"' in summary and "Den registrerades rättigheter" in summary
        assert "Erkki Esimerkki" in summary and "Taide" in summary
        assert "Händelse- och användaranalysdata" in summary, "the events are listed"
        assert "Inga utlämnanden." in summary
        assert 'name="viewport"' in summary
        events_csv = archive.read("events.csv").decode().splitlines()
        assert len(events_csv) == 31
        # Every CSV has its header row, also when the person has no such rows.
        export = json.loads(archive.read("export.json"))
        for name in names - {"export.json", "summary.html"}:
            header = archive.read(name).decode().splitlines()[0].split(",")
            columns = list(table_of(export, name.removesuffix(".csv"))["columns"])
            assert header[: len(columns)] == columns, name
        assert archive.read("disclosure_log.csv").decode().startswith("id,disclosed_at,")

    async def test_another_users_export_is_404(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        _, token = await actors.user_with_token()
        other = await actors.user()
        assert (
            await client.get(f"/v1/users/{other}/export", headers=bearer(token))
        ).status_code == 404


class TestRegisterDescription:
    async def test_every_section_of_the_seed_is_there(
        self, client: httpx.AsyncClient, actors: Actors, dpo
    ) -> None:  # type: ignore[no-untyped-def]
        await actors.partner_token(name="Huutokaupat Sverige AB")
        body = (await client.get("/v1/register-description", params={"lang": "fi"})).json()
        sections = {s["number"]: s for s in body["sections"]}
        assert set(range(1, 10)) <= set(sections)
        assert sections[1]["controller"]["name"] == "Mezzoforte Oy"
        assert "Huopalahdentie 24 B, 00350 Helsinki" in sections[1]["controller"]["address"]
        assert sections[2]["contact"]["phone"] == "+358 40 5700736"
        assert sections[2]["contact"]["email"] == "juha.jaskara@mezzoforte.fi"
        assert "Huutokaupat.com" in sections[3]["text"]
        codes = {p["code"] for p in sections[4]["purposes"]}
        assert {
            "customer_relationship",
            "billing",
            "customer_letters",
            "direct_marketing",
            "group_direct_marketing",
            "distance_selling",
            "market_research",
        } <= codes
        categories = {c["category"] for c in sections[5]["categories"]}
        assert categories == {
            "basic_data",
            "billing",
            "debt_collection",
            "contracts",
            "credentials",
            "permissions",
            "interests",
            "events",
            "identity_code",
            "accountability",
        }
        assert "Postin" in sections[6]["text"] and "DVV" in sections[6]["text"]
        assert "konserniyhtiöt" in sections[7]["text"]
        assert [r["name"] for r in sections[7]["recipients"]] == ["Huutokaupat Sverige AB"]
        assert "EU:n tai ETA:n ulkopuolelle" in sections[8]["text"]
        assert sections[9]["text"].startswith("A.") and "B." in sections[9]["text"]

    async def test_html_and_other_languages(self, client: httpx.AsyncClient) -> None:
        page = await client.get(
            "/v1/register-description", params={"lang": "en"}, headers={"Accept": "text/html"}
        )
        assert page.headers["content-type"].startswith("text/html")
        assert "Register description and privacy notice" in page.text
        swedish = (await client.get("/v1/register-description", params={"lang": "sv"})).json()
        assert (
            swedish["sections"][2]["text"] == "Användarregistret för webbtjänsten Huutokaupat.com"
        )
