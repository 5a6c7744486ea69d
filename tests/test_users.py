"""Users: registration, profiles, ETags, closure, listing, identity codes, history, access log."""

from __future__ import annotations

import uuid
from datetime import date

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AccessLogEntry
from app.auth.models import Credential
from app.users.models import IdentityCode, User, UserChange
from tests.conftest import Actors, bearer

PRIVATE = {
    "kind": "private",
    "username": "maija.meikalainen",
    "password": "pitkä salasana 123",
    "first_name": "Maija",
    "last_name": "Meikäläinen",
    "birth_date": "1985-06-15",
    "language": "fi",
    "address": {"street": "Huopalahdentie 24 B", "postal_code": "00350", "city": "Helsinki"},
    "phone": "040 570 0736",
    "email": "maija@example.fi",
}
COMPANY = {
    "kind": "company",
    "username": "mezzoforte",
    "password": "yrityksen salasana",
    "company_name": "Mezzoforte Oy",
    "business_id": "0737546-2",
    "contact_name": "Juha Jaskara",
    "address": {
        "street": "Huopalahdentie 24 B",
        "postal_code": "00350",
        "city": "Helsinki",
        "country": "fi",
    },
    "phone": "+358405700736",
    "email": "info@example.fi",
    "e_invoice_address": "003707375462",
}


@pytest.fixture
async def frontend(actors: Actors) -> dict[str, str]:
    return bearer(await actors.client_token("frontend"))


async def register(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict
) -> httpx.Response:  # type: ignore[type-arg]
    return await client.post("/v1/users", json=body, headers=headers)


class TestRegistration:
    async def test_needs_the_frontends_scope(self, client: httpx.AsyncClient, staff) -> None:  # type: ignore[no-untyped-def]
        assert (await client.post("/v1/users", json=PRIVATE)).status_code == 401
        assert (await register(client, staff, PRIVATE)).status_code == 403

    async def test_private_user_round_trip(
        self, client: httpx.AsyncClient, frontend, staff, db: AsyncSession
    ) -> None:  # type: ignore[no-untyped-def]
        created = await register(client, frontend, PRIVATE)
        assert created.status_code == 201, created.text
        body = created.json()
        assert created.headers["location"] == f"/v1/users/{body['id']}"
        assert created.headers["etag"].startswith('"')
        assert body["kind"] == "private"
        assert body["phone"] == "+358405700736"
        assert body["address"] == {
            "street": "Huopalahdentie 24 B",
            "postal_code": "00350",
            "city": "Helsinki",
            "country": "FI",
        }
        today = date.today()
        assert body["age"] == today.year - 1985 - ((today.month, today.day) < (6, 15))
        assert "password" not in created.text

        read = await client.get(f"/v1/users/{body['id']}", headers=staff)
        assert read.status_code == 200
        assert read.json() == body
        assert read.headers["etag"] == created.headers["etag"]

        stored = (
            await db.execute(select(User).where(User.id == uuid.UUID(body["id"])))
        ).scalar_one()
        assert (stored.first_name, stored.email, stored.country) == (
            "Maija",
            "maija@example.fi",
            "FI",
        )
        password_hash = await db.scalar(
            select(Credential.password_hash).where(Credential.user_id == stored.id)
        )
        assert str(password_hash).startswith("$argon2id$")

    async def test_company_user_round_trip(
        self, client: httpx.AsyncClient, frontend, staff
    ) -> None:  # type: ignore[no-untyped-def]
        created = await register(client, frontend, COMPANY)
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["kind"] == "company"
        assert body["business_id"] == "0737546-2"
        assert body["e_invoice_address"] == "003707375462"
        assert "identity_code" not in body and "age" not in body
        read = await client.get(f"/v1/users/{body['id']}", headers=staff)
        assert read.json() == body

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"phone": "123"}, "body.private.phone"),
            ({"email": "not-an-email"}, "body.private.email"),
            ({"birth_date": "2999-01-01"}, "body.private.birth_date"),
            (
                {"address": {"street": "x", "postal_code": "00100", "city": "y", "country": "XX"}},
                "body.private.address.country",
            ),
            ({"nickname": "extra"}, "body.private.nickname"),
            ({"password": "short"}, "body.private.password"),
        ],
    )
    async def test_bad_private_fields_are_named(
        self, client: httpx.AsyncClient, frontend, db: AsyncSession, changes, field
    ) -> None:  # type: ignore[no-untyped-def]
        response = await register(client, frontend, {**PRIVATE, **changes})
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert field in {error["field"] for error in response.json()["errors"]}
        assert await db.scalar(select(User.id)) is None, "nothing was written"

    @pytest.mark.parametrize("business_id", ["0737546-3", "0000006-0", "737546-2"])
    async def test_bad_business_id_is_named(
        self, client: httpx.AsyncClient, frontend, business_id: str
    ) -> None:  # type: ignore[no-untyped-def]
        response = await register(client, frontend, {**COMPANY, "business_id": business_id})
        assert response.status_code == 422
        assert "body.company.business_id" in {e["field"] for e in response.json()["errors"]}

    async def test_username_is_unique_regardless_of_case(
        self, client: httpx.AsyncClient, frontend
    ) -> None:  # type: ignore[no-untyped-def]
        assert (await register(client, frontend, PRIVATE)).status_code == 201
        again = await register(
            client, frontend, {**PRIVATE, "username": PRIVATE["username"].upper()}
        )
        assert again.status_code == 409
        assert again.json()["type"].endswith("/username-taken")

    async def test_business_id_is_unique(self, client: httpx.AsyncClient, frontend) -> None:  # type: ignore[no-untyped-def]
        assert (await register(client, frontend, COMPANY)).status_code == 201
        again = await register(client, frontend, {**COMPANY, "username": "other-company"})
        assert again.status_code == 409
        assert again.json()["type"].endswith("/business-id-taken")

    async def test_throttled_per_client(self, client: httpx.AsyncClient, frontend, app) -> None:  # type: ignore[no-untyped-def]
        app.state.auth.settings.__dict__["registrations_per_minute"] = 2
        try:
            statuses = [
                (
                    await register(client, frontend, {**PRIVATE, "username": f"u{i}-name"})
                ).status_code
                for i in range(3)
            ]
        finally:
            app.state.auth.settings.__dict__["registrations_per_minute"] = 30
        assert statuses[:2] == [201, 201]
        assert statuses[2] == 429

    async def test_registration_is_in_the_history(
        self, client: httpx.AsyncClient, frontend, staff
    ) -> None:  # type: ignore[no-untyped-def]
        user_id = (await register(client, frontend, PRIVATE)).json()["id"]
        history = (await client.get(f"/v1/users/{user_id}/history", headers=staff)).json()
        assert [(c["action"], c["source"]) for c in history["items"]] == [("created", "subject")]
        assert history["items"][0]["changes"]["first_name"] == {"from": None, "to": "Maija"}


class TestReadAndUpdate:
    async def test_user_token_reaches_only_itself(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        _, token = await actors.user_with_token()
        other = await actors.user()
        for method, path in [
            ("GET", f"/v1/users/{other}"),
            ("PATCH", f"/v1/users/{other}"),
            ("DELETE", f"/v1/users/{other}"),
            ("GET", f"/v1/users/{other}/history"),
        ]:
            response = await client.request(
                method,
                path,
                headers=bearer(token),
                json={"language": "en"} if method == "PATCH" else None,
            )
            assert response.status_code == 404, (method, path)

    async def test_patch_changes_only_what_was_sent_and_records_it(
        self, client: httpx.AsyncClient, actors: Actors, db: AsyncSession
    ) -> None:
        user_id, token = await actors.user_with_token()
        before = (await client.get("/v1/users/me", headers=bearer(token))).json()
        response = await client.patch(
            "/v1/users/me",
            json={"language": "sv", "phone": "0405700736"},
            headers=bearer(token),
        )
        assert response.status_code == 200
        after = response.json()
        assert (after["language"], after["phone"]) == ("sv", "+358405700736")
        assert after["first_name"] == before["first_name"]
        change = (
            await db.scalars(
                select(UserChange).where(
                    UserChange.user_id == user_id, UserChange.action == "updated"
                )
            )
        ).one()
        assert change.source == "subject"
        assert change.actor == "subject", "the person themself; the row names them"
        assert change.changes == {
            "language": {"from": "fi", "to": "sv"},
            "phone": {"from": None, "to": "+358405700736"},
        }

    async def test_stale_if_match_is_412_and_changes_nothing(
        self, client: httpx.AsyncClient, actors: Actors, db: AsyncSession
    ) -> None:
        user_id, token = await actors.user_with_token()
        etag = (await client.get("/v1/users/me", headers=bearer(token))).headers["etag"]
        first = await client.patch(
            "/v1/users/me", json={"language": "en"}, headers={**bearer(token), "If-Match": etag}
        )
        assert first.status_code == 200
        assert first.headers["etag"] != etag
        stale = await client.patch(
            "/v1/users/me", json={"language": "sv"}, headers={**bearer(token), "If-Match": etag}
        )
        assert stale.status_code == 412
        assert stale.headers["content-type"] == "application/problem+json"
        assert await db.scalar(select(User.language).where(User.id == user_id)) == "en"
        fresh = await client.patch(
            "/v1/users/me",
            json={"language": "sv"},
            headers={**bearer(token), "If-Match": first.headers["etag"]},
        )
        assert fresh.status_code == 200

    async def test_unknown_and_other_kind_fields_are_refused(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        _, token = await actors.user_with_token()
        unknown = await client.patch(
            "/v1/users/me", json={"status": "erased"}, headers=bearer(token)
        )
        assert unknown.status_code == 422
        assert "body.status" in {e["field"] for e in unknown.json()["errors"]}
        other_kind = await client.patch(
            "/v1/users/me", json={"company_name": "Oy Ab"}, headers=bearer(token)
        )
        assert other_kind.status_code == 422
        assert "company_name" in other_kind.json()["detail"]
        cleared = await client.patch(
            "/v1/users/me", json={"last_name": None}, headers=bearer(token)
        )
        assert cleared.status_code == 422

    async def test_closing_the_account(
        self, client: httpx.AsyncClient, actors: Actors, db: AsyncSession
    ) -> None:
        await actors.user("closer")
        signed_in = (await actors.login("closer")).json()
        response = await client.delete("/v1/users/me", headers=bearer(signed_in["access_token"]))
        assert response.status_code == 200
        assert response.json()["status"] == "closed"
        assert (await actors.login("closer")).status_code == 400
        again = await client.get("/v1/users/me", headers=bearer(signed_in["access_token"]))
        assert again.status_code == 401
        client_id, secret = await actors.frontend_client()
        refreshed = await client.post(
            "/v1/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": signed_in["refresh_token"]},
            auth=(client_id, secret),
        )
        assert refreshed.status_code == 400
        user = (await db.scalars(select(User).where(User.status == "closed"))).one()
        assert user.first_name == "Testi", "data stays until erased"


class TestListing:
    async def test_user_tokens_cannot_list(self, client: httpx.AsyncClient, actors: Actors) -> None:
        _, token = await actors.user_with_token()
        response = await client.get("/v1/users", headers=bearer(token))
        assert response.status_code == 403

    async def test_cursor_returns_everyone_once_while_users_are_added(
        self, client: httpx.AsyncClient, actors: Actors, staff
    ) -> None:  # type: ignore[no-untyped-def]
        existing = {await actors.user() for _ in range(7)}
        seen: list[str] = []
        cursor = None
        added = set()
        while True:
            params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/v1/users", params=params, headers=staff)).json()
            seen.extend(item["id"] for item in page["items"])
            added.add(await actors.user())  # someone registers between pages
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)), "nobody twice"
        assert {str(u) for u in existing} <= set(seen), "everyone who existed, once"

    async def test_filters(self, client: httpx.AsyncClient, actors: Actors, staff) -> None:  # type: ignore[no-untyped-def]
        await actors.user(first_name="Aino", last_name="Virtanen", email="aino@example.fi")
        await actors.user(first_name="Eino", last_name="Korhonen")
        await actors.user(kind="company", company_name="Virta Oy", business_id="2077474-0")

        async def ids(**params: str) -> int:
            response = await client.get("/v1/users", params=params, headers=staff)
            assert response.status_code == 200, response.text
            return len(response.json()["items"])

        assert await ids(name_prefix="virt") == 2
        assert await ids(name_prefix="virt", kind="company") == 1
        assert await ids(email="AINO@example.fi") == 1
        assert await ids(business_id="2077474-0") == 1
        assert await ids(name_prefix="%") == 0

    async def test_page_size_is_capped(self, client: httpx.AsyncClient, staff) -> None:  # type: ignore[no-untyped-def]
        response = await client.get("/v1/users", params={"limit": 201}, headers=staff)
        assert response.status_code == 422
        bad_cursor = await client.get("/v1/users", params={"cursor": "garbage"}, headers=staff)
        assert bad_cursor.status_code == 400


class TestIdentityCode:
    CODE = "131052-308T"

    async def test_stored_encrypted_masked_elsewhere_whole_only_with_scope(
        self,
        client: httpx.AsyncClient,
        actors: Actors,
        staff,
        dpo,
        db: AsyncSession,
        capsys,
    ) -> None:  # type: ignore[no-untyped-def]
        user_id = await actors.user()
        put = await client.put(
            f"/v1/users/{user_id}/identity-code",
            json={"identity_code": self.CODE, "method": "bank_id"},
            headers=staff,
        )
        assert put.status_code == 200, put.text
        assert put.json()["masked"] == "131052-****"
        assert self.CODE not in put.text

        profile = await client.get(f"/v1/users/{user_id}", headers=staff)
        assert profile.json()["identity_code"]["masked"] == "131052-****"
        assert self.CODE not in profile.text

        denied = await client.get(f"/v1/users/{user_id}/identity-code", headers=staff)
        assert denied.status_code == 403
        whole = await client.get(f"/v1/users/{user_id}/identity-code", headers=dpo)
        assert whole.status_code == 200
        assert whole.json()["identity_code"] == self.CODE

        raw = (await db.execute(text("SELECT * FROM identity_codes"))).mappings().one()
        for value in raw.values():
            assert self.CODE.encode() not in (
                value if isinstance(value, bytes) else str(value).encode()
            )
        dump = (
            await db.execute(text("SELECT string_agg(changes::text, ' ') FROM user_changes"))
        ).scalar()
        assert self.CODE not in str(dump)
        assert self.CODE not in capsys.readouterr().out

    async def test_invalid_codes_are_named(
        self, client: httpx.AsyncClient, actors: Actors, staff
    ) -> None:  # type: ignore[no-untyped-def]
        user_id = await actors.user()
        for code in ("131052-308U", "290200-1239", "131052-001W", "131052-900W", "131052Z308T"):
            response = await client.put(
                f"/v1/users/{user_id}/identity-code",
                json={"identity_code": code, "method": "bank_id"},
                headers=staff,
            )
            assert response.status_code == 422, code
            assert "body.identity_code" in {e["field"] for e in response.json()["errors"]}
            assert code not in response.text

    async def test_search_by_code_in_the_body(
        self, client: httpx.AsyncClient, actors: Actors, staff, db: AsyncSession
    ) -> None:  # type: ignore[no-untyped-def]
        user_id = await actors.user()
        await client.put(
            f"/v1/users/{user_id}/identity-code",
            json={"identity_code": "131052Y308T", "method": "mobile_id"},
            headers=staff,
        )
        found = await client.post(
            "/v1/users/search", json={"identity_code": "131052Y308T"}, headers=staff
        )
        assert [u["id"] for u in found.json()["items"]] == [str(user_id)]
        other_sign = await client.post(
            "/v1/users/search", json={"identity_code": "131052-308T"}, headers=staff
        )
        assert other_sign.json()["items"] == [], "the century sign is part of the identity"
        lookup = await db.scalar(select(IdentityCode.lookup_hash))
        assert lookup and "131052" not in lookup

    async def test_one_code_one_user(
        self, client: httpx.AsyncClient, actors: Actors, staff
    ) -> None:  # type: ignore[no-untyped-def]
        first, second = await actors.user(), await actors.user()
        body = {"identity_code": self.CODE, "method": "bank_id"}
        assert (
            await client.put(f"/v1/users/{first}/identity-code", json=body, headers=staff)
        ).status_code == 200
        clash = await client.put(f"/v1/users/{second}/identity-code", json=body, headers=staff)
        assert clash.status_code == 409


class TestAccessLog:
    async def test_staff_reads_are_logged_with_a_pseudonymous_reference(
        self, client: httpx.AsyncClient, actors: Actors, staff, db: AsyncSession
    ) -> None:  # type: ignore[no-untyped-def]
        user_id = await actors.user()
        response = await client.get(
            f"/v1/users/{user_id}", headers={**staff, "X-Request-ID": "read-1"}
        )
        assert response.status_code == 200
        entry = (await db.scalars(select(AccessLogEntry))).one()
        subject_ref = await db.scalar(select(User.subject_ref).where(User.id == user_id))
        assert entry.subject_ref == subject_ref
        assert entry.role == "staff"
        assert entry.actor.startswith("client:staff-")
        assert entry.categories == ["basic_data"]
        # The server's own id, and the client's X-Request-ID apart as its correlation id.
        assert entry.request_id == response.headers["x-request-id"] != "read-1"
        assert entry.correlation_id == "read-1"

    async def test_own_reads_are_not_logged(
        self, client: httpx.AsyncClient, actors: Actors, db: AsyncSession
    ) -> None:
        _, token = await actors.user_with_token()
        await client.get("/v1/users/me", headers=bearer(token))
        assert (await db.scalars(select(AccessLogEntry))).all() == []

    async def test_the_log_refuses_changes(
        self, client: httpx.AsyncClient, actors: Actors, staff, db: AsyncSession
    ) -> None:  # type: ignore[no-untyped-def]
        user_id = await actors.user()
        await client.get(f"/v1/users/{user_id}", headers=staff)
        for statement in ("UPDATE access_log SET actor = 'x'", "DELETE FROM access_log"):
            with pytest.raises(Exception, match="append-only"):
                async with db.begin_nested():
                    await db.execute(text(statement))


def test_the_hot_reads_log_entry_has_the_logs_columns() -> None:
    """The one-statement read writes the access-log entry itself: its columns are the log's."""
    import re

    from app.users.service import READ_USER

    inserted = re.search(r"INSERT INTO access_log \(([^)]*)\)", READ_USER)
    assert inserted is not None
    columns = tuple(c.strip() for c in inserted.group(1).split(","))
    assert columns == AccessLogEntry.CONTENT


async def test_the_hot_read_logs_only_what_it_served(
    client: httpx.AsyncClient, actors: Actors, db: AsyncSession
) -> None:
    user_id = await actors.user()
    client_id, secret = await actors.client("staff")
    issued = await client.post(
        "/v1/auth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    token = issued.json()["access_token"]
    staff = bearer(token)
    assert (await client.get(f"/v1/users/{user_id}", headers=staff)).status_code == 200
    assert (await client.get(f"/v1/users/{uuid.uuid4()}", headers=staff)).status_code == 404
    revoked = await client.post("/v1/auth/revoke", data={"token": token}, auth=(client_id, secret))
    assert revoked.status_code == 200
    after = await client.get(f"/v1/users/{user_id}", headers=staff)
    assert after.status_code == 401 and after.json()["detail"] == "The token has been revoked."
    entries = (await db.execute(select(AccessLogEntry.operation, AccessLogEntry.actor))).all()
    assert len(entries) == 1 and entries[0][0] == "read_user"
    queued = await db.scalar(text("SELECT count(*) FROM transparency_queue WHERE log = 2"))
    assert queued == 1
