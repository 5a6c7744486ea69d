"""Faults, against a real service process and a Postgres the tests start and stop themselves:
the database restarting under load, an exhausted pool, SIGKILL mid-writes, SIGTERM, and
concurrent first-time decisions."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app.auth import service as auth_service
from app.db import migrate
from app.db.embedded import EmbeddedPostgres
from tests.conftest import bearer
from tests.live import LiveService, client_token, make_client, save_postgres_log

pytestmark = pytest.mark.slow

PASSWORD = "pitkä salasana 123"


class PrivatePostgres:
    """A Postgres of the test's own, so it can be stopped and started."""

    def __init__(self) -> None:
        self.embedded = EmbeddedPostgres(
            Path(tempfile.mkdtemp(prefix="registry-faults-")) / "pg",
            database="registry",
            delete=True,
        )
        self.url = self.embedded.start()

    def stop(self) -> None:
        from pgserver._commands import pg_ctl

        server = self.embedded._server
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)

    def start(self) -> None:
        self.embedded._server.ensure_postgres_running()

    def close(self) -> None:
        save_postgres_log(self.embedded.log_path)
        self.embedded.stop()


@pytest.fixture
async def private_postgres() -> AsyncIterator[PrivatePostgres]:
    postgres = await asyncio.to_thread(PrivatePostgres)
    engine = create_async_engine(postgres.url)
    async with engine.begin() as connection:
        await migrate.upgrade(connection)
    await engine.dispose()
    yield postgres
    await asyncio.to_thread(postgres.close)


def registration(name: str) -> dict[str, object]:
    return {
        "kind": "private",
        "username": name,
        "password": PASSWORD,
        "first_name": "Kuorma",
        "last_name": "Testi",
    }


async def test_postgres_restart_under_write_load(private_postgres: PrivatePostgres) -> None:
    frontend = await make_client(private_postgres.url, "frontend")
    service = LiveService(
        private_postgres.url,
        db_pool_timeout_seconds="2",
        registrations_per_minute="100000",
        registrations_per_address_per_hour="100000",
    )
    await asyncio.to_thread(service.start)
    try:
        headers = bearer(await client_token(service, frontend))
        outcomes: list[tuple[str, int, float, dict[str, str], str]] = []
        stop_at = time.monotonic() + 14

        async def writer(http: httpx.AsyncClient, worker: int) -> None:
            index = 0
            while time.monotonic() < stop_at:
                name = f"load-{worker}-{index}"
                index += 1
                started = time.monotonic()
                try:
                    response = await http.post(
                        "/v1/users", json=registration(name), headers=headers
                    )
                except httpx.HTTPError:
                    continue
                outcomes.append(
                    (
                        name,
                        response.status_code,
                        time.monotonic() - started,
                        dict(response.headers),
                        response.text,
                    )
                )
                await asyncio.sleep(0.02)

        async def outage() -> None:
            await asyncio.sleep(3)
            await asyncio.to_thread(private_postgres.stop)
            await asyncio.sleep(4)
            await asyncio.to_thread(private_postgres.start)

        async with httpx.AsyncClient(base_url=service.url, timeout=30) as http:
            await asyncio.gather(outage(), *(writer(http, w) for w in range(4)))
    finally:
        await asyncio.to_thread(service.stop)

    statuses = {status for _, status, _, _, _ in outcomes}
    assert statuses <= {201, 503}, (statuses, service.logs()[-2000:])
    unavailable = [o for o in outcomes if o[1] == 503]
    assert unavailable, "the outage was seen"
    for _, _, elapsed, response_headers, body in unavailable:
        assert response_headers["content-type"] == "application/problem+json"
        assert response_headers["retry-after"]
        assert json.loads(body)["status"] == 503
        assert elapsed < 8, "answered within the configured timeouts, not hung"
    assert all(o[1] == 201 for o in outcomes[-10:]), "recovered by itself"
    created = {name for name, status, *_ in outcomes if status == 201}
    connection = await asyncpg.connect(private_postgres.url.replace("+asyncpg", ""))
    stored = {r[0] for r in await connection.fetch("SELECT username FROM credentials")}
    await connection.close()
    assert created <= stored, "every write that got a 2xx is in the database"


async def test_exhausted_pool_answers_503_after_the_wait(private_postgres: PrivatePostgres) -> None:
    staff = await make_client(private_postgres.url, "staff")
    service = LiveService(
        private_postgres.url,
        db_pool_size="1",
        db_max_overflow="0",
        # GET /v1/users/{id} is served by one statement, from its own pool: exhaust that one.
        db_statement_pool_size="1",
        db_pool_timeout_seconds="1",
    )
    await asyncio.to_thread(service.start)
    blocker = await asyncpg.connect(private_postgres.url.replace("+asyncpg", ""))
    try:
        headers = bearer(await client_token(service, staff))
        user_id = uuid.uuid4()
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        async with httpx.AsyncClient(base_url=service.url, timeout=30) as http:
            holding = asyncio.create_task(http.get(f"/v1/users/{user_id}", headers=headers))
            await asyncio.sleep(0.5)  # the only connection now waits on the lock
            started = time.monotonic()
            waiting = await http.get(f"/v1/users/{user_id}", headers=headers)
            waited = time.monotonic() - started
            await transaction.rollback()
            held = await holding
    finally:
        await blocker.close()
        await asyncio.to_thread(service.stop)
    assert waiting.status_code == 503
    assert waiting.headers["content-type"] == "application/problem+json"
    assert waiting.headers["retry-after"]
    assert 0.9 <= waited < 5
    assert held.status_code == 404, "the first request finished once the lock went"


class Receiver:
    """A webhook endpoint on loopback that records what it gets."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:] if line)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append((headers, body))
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    async def start(self, port: int) -> None:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", port)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def test_sigkill_mid_writes_leaves_nothing_half_written_and_the_outbox_is_sent(
    private_postgres: PrivatePostgres,
) -> None:
    from tests.live import free_port

    url = private_postgres.url
    frontend = await make_client(url, "frontend")
    dpo = await make_client(url, "dpo")
    partner = await make_client(url, "partner")
    hook_port = free_port()
    service = LiveService(
        url,
        registrations_per_minute="100000",
        registrations_per_address_per_hour="100000",
        notification_poll_seconds="0.5",
        webhook_allowed_networks='["127.0.0.0/8"]',
    )
    await asyncio.to_thread(service.start)
    async with httpx.AsyncClient(base_url=service.url, timeout=30) as http:
        dpo_headers = bearer(await client_token(service, dpo))
        recipient = await http.post(
            "/v1/recipients",
            json={
                "name": "Konserniyhtiö Oy",
                "kind": "group_company",
                "country": "FI",
                "purposes": ["group_direct_marketing"],
                "legal_basis": "legitimate_interest",
                "webhook_url": f"http://127.0.0.1:{hook_port}/hook",
                "client_ids": [partner[0]],
            },
            headers=dpo_headers,
        )
        secret = recipient.json()["webhook_secret"]
        front_headers = bearer(await client_token(service, frontend))
        user = (
            await http.post("/v1/users", json=registration("rectified"), headers=front_headers)
        ).json()
        partner_headers = bearer(await client_token(service, partner))
        await http.post(
            "/v1/disclosures",
            json={
                "purpose": "group_direct_marketing",
                "categories": ["name"],
                "user_ids": [user["id"]],
            },
            headers=partner_headers,
        )
        await http.patch(f"/v1/users/{user['id']}", json={"last_name": "Uusi"}, headers=dpo_headers)

        async def writer(worker: int) -> None:
            for index in range(1000):
                try:
                    await http.post(
                        "/v1/users",
                        json=registration(f"kill-{worker}-{index}"),
                        headers=front_headers,
                    )
                except httpx.HTTPError:
                    return

        writers = [asyncio.create_task(writer(w)) for w in range(6)]
        await asyncio.sleep(2)
        service.signal(signal.SIGKILL)
        await asyncio.gather(*writers)
    assert service.process is not None
    service.process.wait()

    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    users = await connection.fetchval("SELECT count(*) FROM users")
    assert users > 5, "the load was running"
    half_written = await connection.fetchval(
        "SELECT count(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM credentials c WHERE c.user_id = u.id)"
        " OR NOT EXISTS (SELECT 1 FROM user_changes h WHERE h.user_id = u.id AND h.action = 'created')"
    )
    assert half_written == 0
    pending = await connection.fetchval("SELECT count(*) FROM notifications WHERE sent_at IS NULL")
    assert pending == 1, "the notification waits in the outbox"
    await connection.execute("UPDATE notifications SET next_attempt_at = now()")
    await connection.close()

    receiver = Receiver()
    await receiver.start(hook_port)
    restarted = LiveService(
        url,
        data_dir=service.data_dir,
        notification_poll_seconds="0.5",
        webhook_allowed_networks='["127.0.0.0/8"]',
    )
    await asyncio.to_thread(restarted.start)
    try:
        for _ in range(100):
            if receiver.requests:
                break
            await asyncio.sleep(0.1)
    finally:
        await asyncio.to_thread(restarted.stop)
        await receiver.stop()
    assert len(receiver.requests) == 1
    headers, body = receiver.requests[0]
    from standardwebhooks import Webhook

    Webhook(secret).verify(body, headers)
    assert json.loads(body)["event"] == "rectification"


async def test_sigterm_finishes_in_flight_requests_and_refuses_new_ones(
    private_postgres: PrivatePostgres,
) -> None:
    staff = await make_client(private_postgres.url, "staff")
    service = LiveService(private_postgres.url)
    await asyncio.to_thread(service.start)
    blocker = await asyncpg.connect(private_postgres.url.replace("+asyncpg", ""))
    try:
        headers = bearer(await client_token(service, staff))
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        async with httpx.AsyncClient(base_url=service.url, timeout=30) as http:
            in_flight = asyncio.create_task(http.get(f"/v1/users/{uuid.uuid4()}", headers=headers))
            await asyncio.sleep(0.5)
            service.signal(signal.SIGTERM)
            await asyncio.sleep(1)
            with pytest.raises(httpx.ConnectError):
                async with httpx.AsyncClient(base_url=service.url, timeout=3) as fresh:
                    await fresh.get("/healthz")
            await transaction.rollback()
            finished = await in_flight
    finally:
        await blocker.close()
    assert finished.status_code == 404, "the in-flight request got its answer"
    assert service.process is not None
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells why.
    assert service.process.wait(timeout=20) in (0, -signal.SIGTERM)
    assert "Finished server process" in service.logs()


async def test_simultaneous_first_decisions_all_succeed(fresh_database, settings) -> None:  # type: ignore[no-untyped-def]
    from app.consents import service as consents
    from app.db.session import Database
    from app.main import create_app
    from app.users import service as users
    from app.users.schemas import PrivateUserCreate

    url = await fresh_database()
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await migrate.upgrade(connection)
    database = Database.from_settings(url, settings.model_copy(update={"database_url": url}))
    app = create_app(settings.model_copy(update={"database_url": url}), database)
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        user_id = await users.create_user(
            session,
            app.state.auth,
            PrivateUserCreate(
                kind="private", username="racer", password=PASSWORD, first_name="A", last_name="B"
            ),
            source="import",
            actor="test",
            request_id=None,
        )
        staff_id, staff_secret = await auth_service.create_client(
            session, name="staff", role="staff", scopes=None
        )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        token = (
            await http.post(
                "/v1/auth/token",
                data={"grant_type": "client_credentials"},
                auth=(staff_id, staff_secret),
            )
        ).json()["access_token"]
        decisions = ["granted", "withdrawn"] * 8
        responses = await asyncio.gather(
            *(
                http.post(
                    f"/v1/users/{user_id}/permissions",
                    json={
                        "source": "customer_service_call",
                        "language": "fi",
                        "decisions": [
                            {
                                "purpose": "direct_marketing",
                                "channel": "sms",
                                "decision": d,
                                "notice_version": 1,
                            }
                        ],
                    },
                    headers={"Authorization": f"Bearer {token}"},
                )
                for d in decisions
            )
        )
    assert [r.status_code for r in responses] == [201] * len(decisions)
    async with AsyncSession(engine) as session:
        last = await session.scalar(
            text(
                "SELECT decision FROM consent_records WHERE user_id = :u ORDER BY id DESC LIMIT 1"
            ),
            {"u": user_id},
        )
        state = await session.scalar(
            text("SELECT decision FROM consent_states WHERE user_id = :u"), {"u": user_id}
        )
        assert state == last
        assert await consents.states_match_records(session) == []
    await database.dispose()
    await engine.dispose()


def _stalled_download(port: int, path: str, headers: dict[str, str]) -> socket.socket:
    """Asks for a download and never reads a byte of it."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=5)
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in headers.items()
    )
    connection.sendall((head + "\r\n").encode())
    return connection


async def test_stalled_exports_do_not_starve_the_api(private_postgres: PrivatePostgres) -> None:
    """Defect: sixteen stalled downloads of one user's 60 MB export held all 15 pool connections
    and the whole API answered 503 for 55 s; clients that disconnected left 500s in the log."""
    url = private_postgres.url
    frontend = await make_client(url, "frontend")
    dpo = await make_client(url, "dpo")
    service = LiveService(
        url, db_pool_size="3", db_max_overflow="0", send_stall_timeout_seconds="2"
    )
    await asyncio.to_thread(service.start)
    try:
        async with httpx.AsyncClient(base_url=service.url, timeout=30) as http:
            front_headers = bearer(await client_token(service, frontend))
            dpo_headers = bearer(await client_token(service, dpo))
            users = [
                (
                    await http.post(
                        "/v1/users", json=registration(f"heavy-{n}"), headers=front_headers
                    )
                ).json()["id"]
                for n in range(3)
            ]
            owner = await asyncpg.connect(url.replace("+asyncpg", ""))
            await owner.execute("SELECT registry_ensure_event_partition(now()::date)")
            for user_id in users:
                # About 12 MB of events each: far more than the sockets' buffers hold.
                await owner.execute(
                    "INSERT INTO events (user_id, type, occurred_at, source, properties) "
                    "SELECT $1, 'page.view', now() - g * interval '1 second', 'web', "
                    "jsonb_build_object('blob', repeat('x', 4000)) FROM generate_series(1, 3000) g",
                    uuid.UUID(user_id),
                )
            await owner.close()

            stalled = [
                await asyncio.to_thread(
                    _stalled_download, service.port, f"/v1/users/{user_id}/export", dpo_headers
                )
                for user_id in users
                for _ in range(5)
            ]
            probes: list[int] = []
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline:
                probe = await http.get(f"/v1/users/{users[0]}", headers=dpo_headers)
                probes.append(probe.status_code)
                await asyncio.sleep(0.1)
            assert probes and set(probes) == {200}, probes

            # Each user's export ran once; the stalled ones were cut off and gave their slot
            # back, so the next export is served whole.
            for connection in stalled:
                connection.close()
            # The slot comes back as soon as the server has seen the client go (a moment).
            closed = time.monotonic()
            whole = await http.get(f"/v1/users/{users[1]}/export", headers=dpo_headers)
            while whole.status_code == 429 and time.monotonic() - closed < 3:
                await asyncio.sleep(0.1)
                whole = await http.get(f"/v1/users/{users[1]}/export", headers=dpo_headers)
            assert whole.status_code == 200, whole.text
            [events] = [
                c["tables"]["events"]["rows"]
                for c in whole.json()["categories"].values()
                if "events" in c["tables"]
            ]
            assert len(events) == 3000

            # A client that goes away mid-download ends it quietly.
            async with http.stream(
                "GET", f"/v1/users/{users[2]}/export", headers=dpo_headers
            ) as partial:
                assert partial.status_code == 200
                async for _ in partial.aiter_bytes():
                    break
            await asyncio.sleep(0.5)
            assert (await http.get("/healthz")).status_code == 200
    finally:
        await asyncio.to_thread(service.stop)
    logs = service.logs()
    assert '"status": 500' not in logs
    assert "Traceback" not in logs and "unhandled_error" not in logs
    assert "connection_timed_out" in logs, "the stalled downloads were cut off"
