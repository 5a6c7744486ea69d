"""The personal-data catalogue: it matches the live schema (and says so when it does not), and
erasure, portability, retention, the summary page and the record of processing follow it."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pgserver
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app.core.settings import Settings
from app.db import migrate
from app.db.session import Database, service_url
from app.disclosures import notifications
from app.main import create_app
from app.privacy import catalogue, retention
from app.records.personal_data import CONTRACTS
from app.users.personal_data import USERS
from tests.conftest import Actors, bearer
from tests.test_requests import table_of

# Drift --------------------------------------------------------------------------------------------


async def test_the_catalogue_matches_the_live_schema(db: AsyncSession) -> None:
    assert catalogue.declaration_errors() == []
    drift = await catalogue.schema_drift(await db.connection())
    assert not drift, str(drift)


async def test_the_check_fails_for_an_undeclared_or_vanished_column(db: AsyncSession) -> None:
    """A scratch schema copies two tables; a column added without a declaration, a new table
    naming a user, and a declared column that is gone are each named."""
    for statement in (
        "CREATE SCHEMA scratch_drift",
        "CREATE TABLE scratch_drift.users (LIKE public.users)",
        "CREATE TABLE scratch_drift.contracts (LIKE public.contracts)",
        "ALTER TABLE scratch_drift.contracts ADD COLUMN shoe_size int",
        "ALTER TABLE scratch_drift.users DROP COLUMN phone",
        "CREATE TABLE scratch_drift.loyalty (id int PRIMARY KEY, user_id uuid, tier text)",
    ):
        await db.execute(text(statement))
    drift = await catalogue.schema_drift(
        await db.connection(), "scratch_drift", tables=(USERS, CONTRACTS)
    )
    assert drift.undeclared == [
        "contracts.shoe_size",
        "loyalty.id",
        "loyalty.tier",
        "loyalty.user_id",
    ]
    assert drift.missing == ["users.phone"]
    assert "not in the personal-data catalogue: contracts.shoe_size" in str(drift)


# Erasure, as a dump of the database shows it -----------------------------------------------------


class Committed(Actors):
    """Actors whose clients, recipients and users are committed (the dump reads another
    connection, and so does the service)."""

    async def client(self, role: str, scopes: set[str] | None = None) -> tuple[str, str]:
        made = await super().client(role, scopes)
        await self.session.commit()
        return made

    async def partner_token(self, *args: Any, **kwargs: Any) -> tuple[str, uuid.UUID, str | None]:
        made = await super().partner_token(*args, **kwargs)
        await self.session.commit()
        return made

    async def user(self, *args: Any, **kwargs: Any) -> uuid.UUID:
        made = await super().user(*args, **kwargs)
        await self.session.commit()
        return made


@pytest.fixture
async def committed(
    fresh_database, settings: Settings
) -> AsyncIterator[tuple[str, Any, Committed]]:  # type: ignore[no-untyped-def]
    url = await fresh_database()
    owner = create_async_engine(url)
    async with owner.begin() as connection:
        await migrate.upgrade(connection)
    database = Database.from_settings(service_url(url, settings), settings)
    app = create_app(settings.model_copy(update={"database_url": url}), database)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
        AsyncSession(owner, expire_on_commit=False) as session,
    ):
        yield url, app, Committed(http, session, app)
    await database.dispose()
    await owner.dispose()


def dump(url: str) -> str:
    """A full ``pg_dump`` of the database (pgserver's, new enough for either test server)."""
    binary = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_dump"
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    return subprocess.run(  # noqa: S603 (pgserver's pg_dump on our test database)
        [str(binary), "--no-owner", plain], capture_output=True, text=True, check=True
    ).stdout


def copy_block(dumped: str, table: str) -> str:
    start = dumped.index(f"COPY public.{table} ")
    return dumped[start : dumped.index("\\.\n", start)]


async def _person(
    http: httpx.AsyncClient, actors: Committed, staff: dict, tag: str
) -> tuple[uuid.UUID, str, list[str]]:  # type: ignore[type-arg]
    """A person with every kind of data but billing and collections; the strings that identify
    them."""
    username = f"tunnus-{tag}"
    user_id = await actors.user(username)
    token = (await actors.login(username)).json()["access_token"]
    me = bearer(token)
    strings = {
        "first": f"Etu{tag}",
        "last": f"Suku{tag}",
        "email": f"{tag}@example.fi",
        "street": f"Katu{tag} 5",
        "agent": f"Mozilla/5.0 (Selain-{tag})",
        "note": f"Muistiinpano-{tag}",
        "event": f"tapahtuma-{tag}",
        "details": f"Pyyntö-{tag}",
        "username": username,
    }
    assert (
        await http.patch(
            "/v1/users/me",
            json={
                "first_name": strings["first"],
                "last_name": strings["last"],
                "email": strings["email"],
                "phone": "0401234567",
                "address": {"street": strings["street"], "postal_code": "00100", "city": "Espoo"},
            },
            headers=me,
        )
    ).status_code == 200
    await http.put(
        f"/v1/users/{user_id}/identity-code",
        json={"identity_code": "131052-308T", "method": "bank_id"},
        headers=staff,
    )
    await http.post(
        f"/v1/users/{user_id}/contracts",
        json={"product": "Plus", "seller": "Mezzoforte Oy", "opened_on": "2024-01-01"},
        headers=staff,
    )
    await http.post(
        "/v1/users/me/interests", json={"topic": "Taide", "note": strings["note"]}, headers=me
    )
    decided = await http.post(
        "/v1/users/me/permissions",
        json={
            "source": "settings_page",
            "language": "fi",
            "decisions": [
                {"purpose": "analytics", "decision": "granted", "notice_version": 1},
                {
                    "purpose": "direct_marketing",
                    "channel": "email",
                    "decision": "granted",
                    "notice_version": 1,
                },
            ],
        },
        headers={**me, "User-Agent": strings["agent"]},
    )
    assert decided.status_code == 201, decided.text
    frontend = bearer(await actors.client_token("frontend"))
    sent = await http.post(
        "/v1/events",
        json={
            "events": [
                {
                    "user_id": str(user_id),
                    "type": "item.viewed",
                    "occurred_at": datetime.now(UTC).isoformat(),
                    "properties": {"detail": strings["event"]},
                }
            ]
        },
        headers=frontend,
    )
    assert sent.json()["accepted"] == 1, sent.text
    await http.post(
        "/v1/users/me/requests",
        json={"type": "access", "details": strings["details"]},
        headers=me,
    )
    return user_id, token, list(strings.values())


async def _erase(http: httpx.AsyncClient, user_id: uuid.UUID, staff: dict, dpo: dict) -> dict:  # type: ignore[type-arg]
    request = (
        await http.post(
            f"/v1/users/{user_id}/requests",
            json={"type": "erasure", "channel": "email"},
            headers=staff,
        )
    ).json()
    await http.post(f"/v1/requests/{request['id']}/verify", json={"method": "bank_id"}, headers=dpo)
    done = await http.post(f"/v1/requests/{request['id']}/complete", json={}, headers=dpo)
    assert done.status_code == 200, done.text
    return dict(done.json()["result"])


async def test_after_erasure_a_dump_holds_nothing_of_the_person(committed) -> None:  # type: ignore[no-untyped-def]
    url, app, actors = committed
    http = actors.http
    staff = bearer(await actors.client_token("staff"))
    dpo = bearer(await actors.client_token("dpo"))
    partner, _, _ = await actors.partner_token()
    plain_id, _, plain = await _person(http, actors, staff, "ruutulippis")
    billed_id, billed_token, billed = await _person(http, actors, staff, "laskutettava")
    await http.put(
        "/v1/users/me/billing",
        json={
            "street": "Laskukatu 77",
            "postal_code": "00100",
            "city": "Helsinki",
            "payment_method_reference": "pm_secret_77",
        },
        headers=bearer(billed_token),
    )
    await http.post(
        f"/v1/users/{billed_id}/collections",
        json={"referred_on": "2025-03-01", "agency": "Perintä Oy", "amount_cents": 5000},
        headers=staff,
    )
    # A partner received both, and later a rectification was sent to it (delivered before the
    # erasure: the recipient has no webhook, so it is given up at once).
    released = await http.post(
        "/v1/disclosures",
        json={
            "purpose": "group_direct_marketing",
            "categories": ["name", "email"],
            "user_ids": [str(plain_id), str(billed_id)],
        },
        headers=bearer(partner),
    )
    assert released.status_code == 200, released.text
    await http.patch(f"/v1/users/{plain_id}", json={"phone": "0409999999"}, headers=staff)
    hasher = app.state.auth.hasher
    async with httpx.AsyncClient() as web:
        await notifications.deliver_due(app.state.database, hasher, web)

    reports = [await _erase(http, user_id, staff, dpo) for user_id in (plain_id, billed_id)]
    # The erasure's own notifications carry the id the recipient knows until delivered.
    async with httpx.AsyncClient() as web:
        await notifications.deliver_due(app.state.database, hasher, web)

    dumped = await asyncio.to_thread(dump, url)
    for value in [*plain, str(plain_id), plain_id.hex, "0409999999", "0401234567"]:
        assert value not in dumped, value
    held = copy_block(dumped, "billing_profiles")
    for value in [*billed, str(billed_id), billed_id.hex, "pm_secret_77"]:
        assert value not in dumped, value
    pseudonym = reports[1]["pseudonym"]
    assert "Laskukatu 77" in held and pseudonym in held, "the hold keeps the address"
    assert dumped.count("Laskukatu 77") == 1, "nowhere but in the held billing row"
    assert {k["table"] for k in reports[1]["kept"]} == {"billing_profiles", "collection_cases"}
    assert reports[0]["kept"] == []

    # Only the DPO's request handling reads what the hold keeps.
    refused = await http.get(f"/v1/users/{pseudonym}/billing", headers=staff)
    assert refused.status_code == 409, refused.text
    read = await http.get(f"/v1/users/{pseudonym}/billing", headers=dpo)
    assert read.status_code == 200 and read.json()["street"] == "Laskukatu 77"
    assert read.json()["payment_method_reference"] is None


# Portability ---------------------------------------------------------------------------------------


async def test_portability_is_what_the_person_gave_and_did(
    client: httpx.AsyncClient,
    actors: Actors,
    staff,  # type: ignore[no-untyped-def]
) -> None:
    from tests.test_requests import _full_user

    user_id, token = await _full_user(client, actors, staff)
    feed = bearer(await actors.client_token("integration"))
    moved = await client.post(
        "/v1/register-updates",
        json={
            "updates": [
                {
                    "update_id": "p-1",
                    "source": "posti",
                    "type": "address_change",
                    "user_id": str(user_id),
                    "address": {
                        "street": "Postinkatu 3",
                        "postal_code": "02100",
                        "city": "Espoo",
                        "country": "FI",
                    },
                }
            ]
        },
        headers=feed,
    )
    assert moved.json()["results"][0]["outcome"] == "applied", moved.text
    response = await client.get(
        "/v1/users/me/export", params={"kind": "portability"}, headers=bearer(token)
    )
    assert response.status_code == 200
    export = json.loads(response.content)
    tables = {name for c in export["categories"].values() for name in c["tables"]}
    assert {"users", "contracts", "interests", "consent_records", "events"} <= tables
    assert not tables & {
        "billing_profiles",
        "collection_cases",
        "identity_codes",
        "consent_receipts",
        "subject_requests",
        "user_changes",
        "disclosure_log",
        "access_log",
        "register_updates",
    }
    assert export.get("gdpr_article_15") is None
    [profile] = table_of(export, "users")["rows"]
    assert (profile["first_name"], profile["last_name"]) == ("Erkki", "Esimerkki")
    assert profile["email"] == "erkki.esimerkki@example.fi"
    assert not {"street", "postal_code", "city"} & set(profile), "Posti gave the address"
    assert "Postinkatu" not in response.text and "Laskukatu" not in response.text
    assert "deceased_on" not in profile and "id" not in profile
    assert table_of(export, "interests")["rows"][0]["topic"] == "Taide"
    assert len(table_of(export, "events")["rows"]) == 30
    assert {r["decision"] for r in table_of(export, "consent_records")["rows"]} == {"granted"}
    for table in ("users", "contracts", "events"):
        assert {c["source"] for c in table_of(export, table)["columns"].values()} <= {
            "subject",
            "observed",
        }


# Retention -----------------------------------------------------------------------------------------


async def test_retention_dry_run_shows_what_is_due_and_removes_nothing(
    db: AsyncSession, settings: Settings, actors: Actors
) -> None:
    user_id = await actors.user()
    await db.execute(
        text(
            "INSERT INTO billing_profiles (user_id, street, held_until) "
            "VALUES (:u, 'Vanhakatu 1', :until)"
        ),
        {"u": user_id, "until": date(2031, 12, 31)},
    )
    on = date(2032, 1, 5)
    due = await retention.run(db, settings, on, dry_run=True)
    assert due["billing"] == [
        {"table": "billing_profiles", "due": 1, "next_on": None, "next_rows": 0}
    ]
    ahead = await retention.run(db, settings, date(2031, 6, 1), dry_run=True)
    assert ahead["billing"][0] == {
        "table": "billing_profiles",
        "due": 0,
        "next_on": "2032-01-01",
        "next_rows": 1,
    }
    assert await db.scalar(text("SELECT count(*) FROM billing_profiles")) == 1
    assert "events" in due and "credentials" in due and "accountability" in due


# The record of processing ----------------------------------------------------------------------------


async def test_the_record_of_processing_comes_from_the_catalogue(
    client: httpx.AsyncClient,
    dpo,
    staff,  # type: ignore[no-untyped-def]
) -> None:
    assert (await client.get("/v1/records-of-processing", headers=staff)).status_code == 403
    record = (
        await client.get("/v1/records-of-processing", params={"lang": "en"}, headers=dpo)
    ).json()
    purposes = {a["purpose"] for a in record["activities"]}
    assert {
        "dpv:DirectMarketing",
        "dpv:LegalCompliance",
        "dpv:CustomerRelationshipManagement",
    } <= purposes
    marketing = next(a for a in record["activities"] if a["purpose"] == "dpv:DirectMarketing")
    assert {p["code"] for p in marketing["consent_purposes"]} >= {
        "direct_marketing",
        "group_direct_marketing",
    }
    compliance = next(a for a in record["activities"] if a["purpose"] == "dpv:LegalCompliance")
    billing = next(c for c in compliance["categories"] if c["category"] == "billing")
    assert "Kirjanpitolaki 2:10" in " ".join(billing["retention"])
    assert record["security"]["measures"]
    assert record["controller"]["name"] == "Mezzoforte Oy"
    page = await client.get(
        "/v1/records-of-processing", params={"lang": "sv"}, headers={**dpo, "Accept": "text/html"}
    )
    assert page.headers["content-type"].startswith("text/html")
    assert "Register över behandling" in page.text and 'name="viewport"' in page.text
    sheet = await client.get(
        "/v1/records-of-processing", params={"lang": "fi"}, headers={**dpo, "Accept": "text/csv"}
    )
    assert sheet.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(sheet.text)))
    assert rows and {"purpose", "category", "retention", "recipients"} <= set(rows[0])
    assert any(r["category"] == "Laskutustiedot" for r in rows)


async def test_the_register_description_tells_what_each_retention_applies_to(
    client: httpx.AsyncClient,
) -> None:
    description = (await client.get("/v1/register-description", params={"lang": "en"})).json()
    retention_section = next(s for s in description["sections"] if s["number"] == 10)
    events = next(c for c in retention_section["categories"] if c["category"] == "events")
    [period] = events["retention"]
    assert period["period"].startswith("24 months") and "use of the service" in period["applies_to"]
    names = [c["category"] for c in retention_section["categories"]]
    assert names[-1] in ("accountability", "events") and "billing" in names


async def test_an_erasure_racing_an_event_leaves_no_event_behind(committed) -> None:  # type: ignore[no-untyped-def]
    """Events have no foreign key: a batch that comes while an erasure runs waits for it, then
    finds the user gone (before, it read the user as active and its event outlived the
    erasure)."""
    from app.auth.dependencies import Principal
    from app.requests import erasure

    url, app, actors = committed
    frontend = bearer(await actors.client_token("frontend"))
    user_id = await actors.user()
    dpo = Principal(
        subject="dpo", client_id="dpo", role="dpo", scopes=frozenset(), jti="j", user_id=None
    )
    event = {
        "user_id": str(user_id),
        "type": "bid.placed",
        "occurred_at": (datetime.now(UTC) - timedelta(seconds=1)).isoformat(),
    }
    async with app.state.database.session() as session, session.begin():
        await erasure.erase_user(session, dpo, user_id)
        batch = asyncio.create_task(
            actors.http.post("/v1/events", json={"events": [event]}, headers=frontend)
        )
        await asyncio.sleep(0.5)
        assert not batch.done(), "the batch waits for the erasure"
    answer = await batch
    assert answer.status_code == 200, answer.text
    assert answer.json()["rejected"] == [{"index": 0, "reason": "unknown_user"}]
    engine = create_async_engine(url)
    try:
        async with engine.connect() as reader:
            left = await reader.scalar(
                text("SELECT count(*) FROM events WHERE user_id = :u"), {"u": user_id}
            )
    finally:
        await engine.dispose()
    assert left == 0


async def test_the_dpo_settles_a_claim_kept_after_erasure_and_its_hold_then_ends(
    client: httpx.AsyncClient,
    actors: Actors,
    staff,
    dpo,
    db: AsyncSession,  # type: ignore[no-untyped-def]
) -> None:
    user_id = await actors.user()
    case = await client.post(
        f"/v1/users/{user_id}/collections",
        json={"referred_on": "2025-03-01", "agency": "Perintä Oy", "amount_cents": 5000},
        headers=staff,
    )
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
    done = await client.post(
        f"/v1/requests/{request['id']}/complete",
        json={"note": "Poistettu Matti Meikäläisen pyynnöstä"},
        headers=dpo,
    )
    assert done.status_code == 200, done.text
    assert done.json()["resolution"] is None, "an erasure keeps no free text"
    assert "Meikäläi" not in str(
        await db.scalar(text("SELECT string_agg(t::text, ' ') FROM subject_request_events t"))
    )
    [kept] = done.json()["result"]["kept"]
    assert kept["until"] is None, "an open claim is kept while it lasts"
    pseudonym = done.json()["result"]["pseudonym"]
    path = f"/v1/users/{pseudonym}/collections/{case.json()['id']}"
    settle = {"status": "paid", "closed_on": "2026-02-01"}
    assert (await client.patch(path, json=settle, headers=staff)).status_code == 409
    settled = await client.patch(path, json=settle, headers=dpo)
    assert settled.status_code == 200, settled.text
    assert settled.json()["status"] == "paid"
    held = await db.scalar(
        text("SELECT held_until FROM collection_cases WHERE id = :id"), {"id": case.json()["id"]}
    )
    assert held == date(2032, 12, 31), "six years from the end of the year it closed"
    assert (await retention.run(db, settings_of(client), date(2032, 12, 31), dry_run=True))[
        "debt_collection"
    ][0]["due"] == 0
    gone = await retention.run(db, settings_of(client), date(2033, 1, 1), dry_run=False)
    assert gone["debt_collection"][0]["removed"] == 1


def settings_of(client: httpx.AsyncClient) -> Settings:
    return client._transport.app.state.settings  # type: ignore[attr-defined]


async def test_proof_is_re_keyed_only_onto_the_tombstone_of_an_erasure_in_progress(
    committed,
) -> None:  # type: ignore[no-untyped-def]
    """The service's role cannot move a live user's consent records onto an older tombstone."""
    from app.auth.dependencies import Principal
    from app.requests import erasure

    _, app, actors = committed
    first, second = await actors.user(), await actors.user()
    dpo = Principal(
        subject="dpo", client_id="dpo", role="dpo", scopes=frozenset(), jti="j", user_id=None
    )
    async with app.state.database.session() as session, session.begin():
        old_tombstone = (await erasure.erase_user(session, dpo, first)).pseudonym
    async with app.state.database.session() as session:
        with pytest.raises(Exception, match="not the tombstone of an erasure in progress"):
            await session.execute(
                text("SELECT registry_rekey_proof('consent_records', :old, :new, '{}')"),
                {"old": second, "new": old_tombstone},
            )
