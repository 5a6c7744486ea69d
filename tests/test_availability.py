"""Availability under abuse: each case of the attack report, reproduced through the API.

Cases 2 and 3 (throttling that cannot be turned against people) are in test_auth.py's
TestThrottling and in TestRegistrationLimits below; the stalled exports and slow connections
against a real server are in TestLiveServer (and test_faults.py).
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app.core.settings import Settings
from app.db import migrate
from app.db.session import Database, service_url
from app.disclosures import notifications
from app.disclosures.models import Notification, Recipient
from app.disclosures.webhooks import WebhookClients, WebhookPolicy
from tests.conftest import Actors, CapturedLogs, bearer, mint_token
from tests.live import LiveService

PROBLEM = "application/problem+json"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# Case 4: cursors ---------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)
TIMES = st.datetimes(timezones=st.timezones()).map(lambda moment: moment.isoformat())
KEYS = st.one_of(TIMES, st.dates().map(str), st.uuids().map(str), st.integers(), JSON_VALUES)
CURSORS = st.one_of(
    st.lists(KEYS, min_size=1, max_size=2).map(lambda v: _b64(json.dumps(v).encode())),
    JSON_VALUES.map(lambda value: _b64(json.dumps(value).encode())),
    st.lists(JSON_VALUES, min_size=1, max_size=3).map(lambda v: _b64(json.dumps(v).encode())),
    st.binary(max_size=40).map(_b64),
    st.text(max_size=60),
).filter(lambda cursor: len(cursor) <= 500)
# Shaped like real cursors, wrong in one key each; one holds a phone number, which must never
# reach a log.
PHONE_CURSOR = _b64(json.dumps(["+358401234567"]).encode())
SHAPED = [
    _b64(json.dumps(["2026-01-01T00:00:00+00:00", "not-a-uuid"]).encode()),
    _b64(json.dumps(["2026-01-01T00:00:00", 5]).encode()),
    _b64(json.dumps([123, "x"]).encode()),
    _b64(json.dumps(["1", 2**64]).encode()),
    _b64(json.dumps([-1]).encode()),
    _b64(json.dumps([{"a": 1}, [2]]).encode()),
    _b64(json.dumps(["2026-13-45", str(uuid.uuid4())]).encode()),
    _b64(json.dumps(["0001-01-01T00:00:00+14:00", 5]).encode()),
    _b64(json.dumps(["9999-12-31T23:59:59-12:00", str(uuid.uuid4())]).encode()),
    _b64(json.dumps(["0001-01-01", str(uuid.uuid4())]).encode()),
    PHONE_CURSOR,
]


def _examples(count: int) -> list[str]:
    """Hypothesis-drawn cursors (derandomised: the same on every run)."""
    drawn: list[str] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(CURSORS)
    def collect(cursor: str) -> None:
        drawn.append(cursor)

    collect()
    return drawn


class TestCursors:
    async def test_every_cursor_endpoint_answers_400_naming_the_parameter(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        dpo = bearer(await actors.client_token("dpo"))
        user_id = await actors.user()
        endpoints = [
            "/v1/users",
            f"/v1/users/{user_id}/history",
            f"/v1/users/{user_id}/events",
            f"/v1/users/{user_id}/permissions/history",
            f"/v1/users/{user_id}/disclosures",
            "/v1/audiences/direct_marketing?channel=post",
            "/v1/disclosures",
            "/v1/requests",
        ]
        for endpoint in endpoints:
            first = await client.get(endpoint, headers=dpo)
            assert first.status_code == 200, (endpoint, first.text)
        logged_before = len(CapturedLogs.lines)
        for cursor in SHAPED + _examples(80):
            for endpoint in endpoints:
                response = await client.get(endpoint, params={"cursor": cursor}, headers=dpo)
                assert response.status_code in (200, 400, 422), (endpoint, cursor, response.text)
                if response.status_code == 400:
                    assert response.headers["content-type"] == PROBLEM
                    problem = response.json()
                    assert problem["type"].endswith("/invalid-cursor"), problem
                    assert "`cursor`" in problem["detail"]
                    assert cursor not in problem["detail"] or len(cursor) < 4
        for line in CapturedLogs.lines[logged_before:]:
            if '"logger": "httpx"' in line:
                continue  # the test's own client logs the URLs it requests; the service never
            assert PHONE_CURSOR not in line and "+358401234567" not in line

    async def test_a_real_cursor_still_pages(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        staff = bearer(await actors.client_token("staff"))
        for _ in range(3):
            await actors.user()
        first = (await client.get("/v1/users", params={"limit": 2}, headers=staff)).json()
        assert first["next_cursor"]
        second = await client.get(
            "/v1/users", params={"limit": 2, "cursor": first["next_cursor"]}, headers=staff
        )
        assert second.status_code == 200
        seen = {item["id"] for item in first["items"]}
        assert not seen & {item["id"] for item in second.json()["items"]}


class TestNullsInPartialUpdates:
    async def test_a_recipient_patch_with_null_is_422_and_changes_nothing(
        self, client: httpx.AsyncClient, actors: Actors, db: AsyncSession
    ) -> None:
        """Defect: `{"legal_basis": null, "client_ids": []}` answered 500."""
        _, recipient_id, _ = await actors.partner_token()
        dpo = bearer(await actors.client_token("dpo"))
        response = await client.patch(
            f"/v1/recipients/{recipient_id}",
            json={"legal_basis": None, "client_ids": []},
            headers=dpo,
        )
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        fields = [error["field"] for error in response.json()["errors"]]
        assert fields == ["body.legal_basis"]
        basis = await db.scalar(select(Recipient.legal_basis).where(Recipient.id == recipient_id))
        assert basis == "legitimate_interest"
        cleared = await client.patch(
            f"/v1/recipients/{recipient_id}", json={"contact_name": None}, headers=dpo
        )
        assert cleared.status_code == 200, "null still clears what may be empty"

    async def test_other_partial_updates_refuse_null_where_a_value_is_required(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        _, token = await actors.user_with_token()
        response = await client.patch(
            "/v1/users/me", json={"language": None}, headers=bearer(token)
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "body.language"
        cleared = await client.patch("/v1/users/me", json={"phone": None}, headers=bearer(token))
        assert cleared.status_code == 200 and cleared.json()["phone"] is None


# Case 5: event properties ---------------------------------------------------------------------


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"x": value}
    return value


class TestEventProperties:
    @pytest.fixture
    async def sender(self, actors: Actors) -> tuple[uuid.UUID, dict[str, str], dict[str, str]]:
        user_id = await actors.user()
        frontend = bearer(await actors.client_token("frontend"))
        staff = bearer(await actors.client_token("staff"))
        return user_id, frontend, staff

    @staticmethod
    def _event(user_id: uuid.UUID, properties: Any) -> dict[str, Any]:
        return {
            "events": [
                {
                    "user_id": str(user_id),
                    "type": "bid.placed",
                    "occurred_at": datetime.now(UTC).isoformat(),
                    "properties": properties,
                }
            ]
        }

    async def test_deep_nesting_is_refused_and_the_list_keeps_working(
        self, client: httpx.AsyncClient, sender, db: AsyncSession
    ) -> None:  # type: ignore[no-untyped-def]
        """Defect: one event nested 256 deep was stored, and the user's event list answered 500
        for good."""
        user_id, frontend, staff = sender
        refused = await client.post(
            "/v1/events", json=self._event(user_id, _nested(256)), headers=frontend
        )
        assert refused.status_code == 422
        assert refused.headers["content-type"] == PROBLEM
        assert "deep" in refused.text
        assert await db.scalar(text("SELECT count(*) FROM events")) == 0
        deepest = _nested(8)
        stored = await client.post(
            "/v1/events", json=self._event(user_id, deepest), headers=frontend
        )
        assert stored.status_code == 200 and stored.json()["accepted"] == 1
        listed = await client.get(f"/v1/users/{user_id}/events", headers=staff)
        assert listed.status_code == 200
        assert listed.json()["items"][0]["properties"] == deepest

    @pytest.mark.parametrize(
        ("raw_properties", "reason"),
        [
            ('{"price": NaN}', "finite"),
            ('{"price": Infinity}', "finite"),
            ('{"price": 1e400}', "finite"),
            ('{"note": "a\\u0000b"}', "NUL"),
            ('{"a\\u0000": 1}', "NUL"),
            ('{"note": "\\ud800"}', "surrogate"),
        ],
    )
    async def test_values_postgres_would_refuse_are_422_before_it_sees_them(
        self, client: httpx.AsyncClient, sender, db: AsyncSession, raw_properties: str, reason: str
    ) -> None:  # type: ignore[no-untyped-def]
        user_id, frontend, _ = sender
        body = json.dumps(self._event(user_id, {})).replace(
            '"properties": {}', f'"properties": {raw_properties}'
        )
        response = await client.post(
            "/v1/events",
            content=body.encode("utf-8", "surrogatepass"),
            headers={**frontend, "Content-Type": "application/json"},
        )
        assert response.status_code in (400, 422), response.text
        assert response.headers["content-type"] == PROBLEM
        if response.status_code == 422:
            assert reason in response.text
        assert await db.scalar(text("SELECT count(*) FROM events")) == 0

    @pytest.mark.parametrize(
        "when", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "1800-01-01T00:00:00Z"]
    )
    async def test_times_out_of_any_plausible_range_are_422(
        self, client: httpx.AsyncClient, sender, when: str
    ) -> None:  # type: ignore[no-untyped-def]
        user_id, frontend, _ = sender
        body = {"events": [{"user_id": str(user_id), "type": "bid.placed", "occurred_at": when}]}
        response = await client.post("/v1/events", json=body, headers=frontend)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "body.events.0.occurred_at"

    async def test_what_is_stored_reads_back_as_sent(
        self, client: httpx.AsyncClient, sender
    ) -> None:  # type: ignore[no-untyped-def]
        user_id, frontend, staff = sender
        properties = {
            "big": 2**62,
            "negative": -(2**53) - 1,
            "float": 1.7976931348623157e308,
            "tiny": 5e-324,
            "text": 'Hyvää päivää 🐻 \t\n"quoted" \\ back',
            "list": [None, True, False, [], {}],
        }
        stored = await client.post(
            "/v1/events", json=self._event(user_id, properties), headers=frontend
        )
        assert stored.json()["accepted"] == 1
        listed = await client.get(f"/v1/users/{user_id}/events", headers=staff)
        assert listed.status_code == 200
        read = listed.json()["items"][0]["properties"]
        assert read["big"] == 2**62 and read["text"] == properties["text"]

        def as_doubles(value: Any) -> Any:
            # jsonb keeps numbers as decimals: 1.7976931348623157e308 comes back written out in
            # full, which every JSON parser reads as the same double.
            return json.loads(json.dumps(value), parse_int=float)

        assert as_doubles(read) == as_doubles(properties)


# Case 3: registrations ------------------------------------------------------------------------


def _registration(username: str) -> dict[str, str]:
    return {
        "kind": "private",
        "username": username,
        "password": "pitkä salasana 123",
        "first_name": "Testi",
        "last_name": "Käyttäjä",
    }


class TestRegistrationLimits:
    def test_ipv4_mapped_addresses_count_as_their_ipv4_address(self) -> None:
        from app.auth.addresses import address_block

        assert address_block("::ffff:198.51.100.7") == "198.51.100.7"
        assert address_block("::ffff:198.51.100.8") != address_block("::ffff:198.51.100.7")
        assert address_block("2001:db8:1:2::1") == address_block("2001:db8:1:2::ffff")

    async def test_junk_from_one_address_does_not_block_anyone_else(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        """Defect: the limit was per client, so 30 junk sign-ups a minute blocked every real one."""
        frontend = bearer(await actors.client_token("frontend"))
        junk = {**frontend, "X-Forwarded-For": "203.0.113.66"}
        statuses = [
            (
                await client.post("/v1/users", json=_registration(f"junk-{n}"), headers=junk)
            ).status_code
            for n in range(30)
        ]
        assert statuses[:10] == [201] * 10
        assert set(statuses[10:]) == {429}
        limited = await client.post("/v1/users", json=_registration("junk-x"), headers=junk)
        assert limited.headers["content-type"] == PROBLEM
        assert int(limited.headers["retry-after"]) >= 1
        real = await client.post(
            "/v1/users",
            json=_registration("a-real-person"),
            headers={**frontend, "X-Forwarded-For": "192.0.2.77"},
        )
        assert real.status_code == 201


# Case 1: exports --------------------------------------------------------------------------------


class TestExportLimits:
    async def test_one_export_per_user_at_a_time_and_a_ceiling_per_worker(
        self, client: httpx.AsyncClient, actors: Actors, app
    ) -> None:  # type: ignore[no-untyped-def]
        user_id, token = await actors.user_with_token()
        slots = app.state.export_slots
        release = slots.acquire(user_id)
        busy = await client.get("/v1/users/me/export", headers=bearer(token))
        assert busy.status_code == 429
        assert busy.headers["content-type"] == PROBLEM
        assert busy.headers["retry-after"] == "30"
        assert busy.json()["type"].endswith("/export-already-running")
        release()

        others = [slots.acquire(uuid.uuid4()) for _ in range(slots.limit)]
        full = await client.get("/v1/users/me/export", headers=bearer(token))
        assert full.status_code == 429 and full.json()["type"].endswith("/too-many-exports")
        for give_back in others:
            give_back()

        done = await client.get("/v1/users/me/export", headers=bearer(token))
        assert done.status_code == 200
        assert done.json()["user_id"] == str(user_id)
        assert slots.running == set(), "the slot is given back when the download ends"


# Case 6: webhooks -------------------------------------------------------------------------------


class TestWebhookAddresses:
    @pytest.mark.parametrize(
        "url",
        [
            "http://hooks.example.fi/registry",
            "https://127.0.0.1/hook",
            "https://[::1]/hook",
            "https://10.1.2.3/hook",
            "https://192.168.0.10/hook",
            "https://172.16.5.4/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://100.100.100.200/hook",
            "https://[fd00:ec2::254]/hook",
            "https://224.0.0.1/hook",
            "https://localhost/hook",
            "https://metadata.google.internal/hook",
            "https://user:secret@hooks.example.fi/registry",
        ],
    )
    async def test_refused_when_registered(
        self, client: httpx.AsyncClient, actors: Actors, url: str
    ) -> None:
        dpo = bearer(await actors.client_token("dpo"))
        response = await client.post(
            "/v1/recipients",
            json={
                "name": "Uhkaaja Oy",
                "kind": "partner",
                "country": "FI",
                "legal_basis": "consent",
                "webhook_url": url,
            },
            headers=dpo,
        )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == PROBLEM
        assert "webhook_url" in response.text

    @pytest.mark.parametrize(
        ("address", "allowed"),
        [
            ("64:ff9b::a9fe:a9fe", False),  # NAT64 to 169.254.169.254
            ("2002:a9fe:a9fe::1", False),  # 6to4 of the metadata address
            ("::7f00:1", False),  # IPv4-compatible 127.0.0.1
            ("::ffff:10.0.0.1", False),
            ("fec0::1", False),  # site-local
            ("fd00:ec2::254", False),
            ("2606:4700:4700::1111", True),
            ("2002:5db8:d822::1", True),  # 6to4 of a public address
            ("93.184.216.34", True),
        ],
    )
    def test_addresses_that_hide_an_inside_one_are_refused(
        self, address: str, allowed: bool
    ) -> None:
        import ipaddress

        assert (
            WebhookPolicy().may_connect(ipaddress.ip_address(address), plain_http=False) is allowed
        )

    def test_an_allowed_network_may_use_http(self) -> None:
        policy = WebhookPolicy.from_cidrs(["10.0.0.0/8"])
        policy.check_url("http://10.1.2.3:8080/hook")
        policy.check_url("https://hooks.example.fi/registry")
        with pytest.raises(ValueError, match="https"):
            policy.check_url("http://192.168.1.1/hook")


class Endpoint:
    """A loopback HTTP endpoint that counts connections and answers after ``delay`` seconds."""

    def __init__(self, delay: float = 0.0, status: int = 200) -> None:
        self.delay = delay
        self.status = status
        self.connections = 0
        self.bodies: list[bytes] = []
        self.received = asyncio.Event()
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                ),
                0,
            )
            self.bodies.append(await reader.readexactly(length))
            self.received.set()
            await asyncio.sleep(self.delay)
            writer.write(f"HTTP/1.1 {self.status} X\r\nContent-Length: 0\r\n\r\n".encode())
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> Endpoint:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])


@pytest.fixture
async def committed(fresh_database, settings: Settings) -> AsyncIterator[tuple[str, Database]]:  # type: ignore[no-untyped-def]
    """A database of the test's own whose rows are committed (deliveries run in parallel, on
    connections of their own), and the service's view of it."""
    url = await fresh_database()
    owner = create_async_engine(url)
    async with owner.begin() as connection:
        await migrate.upgrade(connection)
    await owner.dispose()
    database = Database.from_settings(service_url(url, settings), settings)
    yield url, database
    await database.dispose()


async def _queue(owner_url: str, hasher: Any, webhooks: dict[str, str]) -> dict[str, uuid.UUID]:
    """Recipients with these webhook addresses, a user, and one due notification for each."""
    from app.disclosures.service import seal_webhook_secret

    engine = create_async_engine(owner_url)
    ids: dict[str, uuid.UUID] = {}
    try:
        async with engine.begin() as connection:
            user_id = await connection.scalar(
                text("INSERT INTO users (kind) VALUES ('private') RETURNING id")
            )
            for name, url in webhooks.items():
                recipient_id = await connection.scalar(
                    text(
                        "INSERT INTO recipients (name, kind, country, in_eu_eea, purposes, "
                        "legal_basis, webhook_url, webhook_secret) VALUES (:name, 'partner', "
                        "'FI', true, '{}', 'consent', :url, :secret) RETURNING id"
                    ),
                    {"name": name, "url": url, "secret": seal_webhook_secret(hasher, "s3cret")},
                )
                await connection.execute(
                    text(
                        "INSERT INTO notifications (recipient_id, user_id, event, payload, "
                        "next_attempt_at) VALUES (:recipient, :user, 'rectification', "
                        "'{\"event\": \"rectification\"}', now() - interval '1 second')"
                    ),
                    {"recipient": recipient_id, "user": user_id},
                )
                ids[name] = recipient_id
    finally:
        await engine.dispose()
    return ids


async def _outcomes(database: Database) -> dict[uuid.UUID, tuple[Any, ...]]:
    async with database.session() as session:
        rows = await session.execute(
            select(
                Notification.recipient_id,
                Notification.sent_at,
                Notification.last_error,
                Notification.attempts,
            )
        )
        return {row[0]: tuple(row[1:]) for row in rows}


class TestWebhookDelivery:
    async def test_a_name_that_resolves_to_loopback_is_never_connected_to(
        self, committed, app, monkeypatch: pytest.MonkeyPatch
    ) -> None:  # type: ignore[no-untyped-def]
        """DNS rebinding: the name passed the check when registered, then points inward."""
        owner_url, database = committed
        async with Endpoint() as inside:
            ids = await _queue(
                owner_url,
                app.state.auth.hasher,
                {"rebinder": f"https://rebind.example.com:{inside.port}/hook"},
            )
            loop = asyncio.get_running_loop()
            real = loop.getaddrinfo

            async def rebound(host: str, *args: Any, **kwargs: Any) -> Any:
                if host == "rebind.example.com":
                    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", inside.port))]
                return await real(host, *args, **kwargs)

            monkeypatch.setattr(loop, "getaddrinfo", rebound)
            clients = WebhookClients(WebhookPolicy(), timeout=2)
            try:
                sent = await notifications.deliver_due(database, app.state.auth.hasher, clients)
            finally:
                await clients.aclose()
        assert sent == 0
        assert inside.connections == 0, "nothing reached the inside address"
        sent_at, error, attempts = (await _outcomes(database))[ids["rebinder"]]
        assert (sent_at, error, attempts) == (None, "refused", 1)

    async def test_a_slow_endpoint_delays_no_other_and_errors_say_little(
        self, committed, app
    ) -> None:  # type: ignore[no-untyped-def]
        owner_url, database = committed
        closed_port = Endpoint()
        async with Endpoint(delay=5) as slow, Endpoint() as fast, Endpoint(status=410) as gone:
            async with closed_port:
                unused = closed_port.port
            ids = await _queue(
                owner_url,
                app.state.auth.hasher,
                {
                    "slow": f"http://127.0.0.1:{slow.port}/hook",
                    "fast": f"http://127.0.0.1:{fast.port}/hook",
                    "gone": f"http://127.0.0.1:{gone.port}/hook",
                    "closed": f"http://127.0.0.1:{unused}/hook",
                },
            )
            clients = WebhookClients(WebhookPolicy.from_cidrs(["127.0.0.0/8"]), timeout=1.0)
            deliveries = notifications.Deliveries(database, app.state.auth.hasher, clients)
            started = time.monotonic()
            workers = deliveries.start_workers(await deliveries.due_recipients())
            await asyncio.wait_for(fast.received.wait(), timeout=5)
            assert time.monotonic() - started < 0.9, "the fast one did not wait for the slow one"
            await asyncio.gather(*workers)
            await clients.aclose()
        outcomes = await _outcomes(database)
        assert outcomes[ids["fast"]][0] is not None
        assert outcomes[ids["slow"]][1] == "timeout"
        assert outcomes[ids["gone"]][1] == "HTTP 410"
        assert outcomes[ids["closed"]][1] == "refused"
        assert {error for _, error, _ in outcomes.values()} <= {
            None,
            "timeout",
            "refused",
            "HTTP 410",
        }


# Tokens -------------------------------------------------------------------------------------------


class TestTokenLifetimes:
    async def test_issued_in_the_future_or_living_too_long_is_refused(
        self, client: httpx.AsyncClient, app
    ) -> None:  # type: ignore[no-untyped-def]
        now = int(time.time())
        future = mint_token(app, iat=now + 3600, exp=now + 3600 + 600)
        response = await client.get("/v1/users", headers=bearer(future))
        assert response.status_code == 401
        assert "future" in response.json()["detail"]
        long_lived = mint_token(app, exp=now + int(timedelta(days=30).total_seconds()))
        response = await client.get("/v1/users", headers=bearer(long_lived))
        assert response.status_code == 401
        assert "longer" in response.json()["detail"]


# Case 7: slow connections, against a real server ---------------------------------------------------


@pytest.fixture
def live_service(database_url: str):  # type: ignore[no-untyped-def]
    service = LiveService(
        database_url,
        header_timeout_seconds="1",
        body_timeout_seconds="1",
        max_connections="20",
    ).start()
    yield service
    service.stop()


def _slow_socket(port: int, payload: bytes) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", port), timeout=5)
    connection.sendall(payload)
    return connection


def _closed_by_server(connection: socket.socket) -> bool:
    connection.settimeout(3)
    try:
        while True:
            data = connection.recv(4096)
            if not data:
                return True
            if b" 503 " in data or b" 408 " in data:
                continue
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


@pytest.mark.slow
class TestLiveServer:
    def test_slow_headers_and_bodies_are_cut_off_and_the_cap_answers_503(
        self, live_service: LiveService
    ) -> None:
        slow_heads = [
            _slow_socket(live_service.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            for _ in range(30)
        ]
        beyond_cap = httpx.get(live_service.url + "/healthz", timeout=5)
        assert beyond_cap.status_code == 503, "more connections than the cap: 503"
        slow_body = _slow_socket(
            live_service.port,
            b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"events":',
        )
        time.sleep(1.5)
        assert all(_closed_by_server(connection) for connection in slow_heads)
        assert _closed_by_server(slow_body)
        for connection in [*slow_heads, slow_body]:
            connection.close()
        assert httpx.get(live_service.url + "/healthz", timeout=5).status_code == 200
        logs = live_service.logs()
        assert "Traceback" not in logs


# Case 8: clients can be disabled ---------------------------------------------------------------


class TestDisablingClients:
    async def test_a_disabled_client_gets_no_tokens_and_its_tokens_stop_working(
        self, client: httpx.AsyncClient, actors: Actors, db: AsyncSession
    ) -> None:
        from app.auth import service as auth_service

        client_id, secret = await actors.client("staff")
        token = (
            await client.post(
                "/v1/auth/token",
                data={"grant_type": "client_credentials"},
                auth=(client_id, secret),
            )
        ).json()["access_token"]
        assert (await client.get("/v1/users", headers=bearer(token))).status_code == 200
        assert await auth_service.set_client_disabled(db, client_id, True)
        refused = await client.get("/v1/users", headers=bearer(token))
        assert refused.status_code == 401
        again = await client.post(
            "/v1/auth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
        )
        assert again.status_code == 401 and again.json()["error"] == "invalid_client"
        assert await auth_service.set_client_disabled(db, client_id, False)
        assert (await client.get("/v1/users", headers=bearer(token))).status_code == 200
        assert not await auth_service.set_client_disabled(db, "no-such-client", True)


def test_the_clients_commands(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from app.cli import cli
    from app.core.settings import get_settings

    monkeypatch.setenv("REGISTRY_DATABASE_URL", database_url)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        created = runner.invoke(
            cli, ["clients", "create", "--name", "Scraper", "--role", "monitoring"]
        )
        assert created.exit_code == 0, created.output
        client_id = json.loads(created.stdout)["client_id"]
        disabled = runner.invoke(cli, ["clients", "disable", client_id])
        assert disabled.exit_code == 0 and json.loads(disabled.stdout)["disabled"] is True
        listed = {
            c["client_id"]: c for c in json.loads(runner.invoke(cli, ["clients", "list"]).stdout)
        }
        assert listed[client_id]["disabled_at"] is not None
        assert "secret_hash" not in listed[client_id]
        assert runner.invoke(cli, ["clients", "enable", client_id]).exit_code == 0
        listed = {
            c["client_id"]: c for c in json.loads(runner.invoke(cli, ["clients", "list"]).stdout)
        }
        assert listed[client_id]["disabled_at"] is None
        unknown = runner.invoke(cli, ["clients", "disable", "nobody"])
        assert unknown.exit_code == 1
    finally:
        get_settings.cache_clear()
