"""Two service processes on one Postgres (issue 16): whatever state the registry keeps is right
with several processes: signing keys, the Art. 19 outbox, throttling, idempotency keys and the
transparency log's sequencer. Each instance is a real `registry serve` process; they share what
a site's instances share (the database, the key directory and the configured secrets)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from jose import jwt
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.audit.logs import SEQUENCER_LOCK
from app.core.secrets import KeyedHasher
from app.disclosures.service import seal_webhook_secret
from tests.conftest import bearer
from tests.live import ROOT, LiveService, client_token, make_client, many_events

pytestmark = pytest.mark.slow

SECRET = "instances-test-secret-key"
PASSWORD = "pitkä salasana 123"


class Pair:
    """Two instances on one database, sharing a data directory (keys and secrets)."""

    def __init__(self, url: str, **settings: str) -> None:
        self.url = url
        self.data_dir = Path(tempfile.mkdtemp(prefix="registry-instances-"))
        common = {
            # Behind one load balancer: one address, the tokens' issuer.
            "public_url": "https://registry.test",
            "secret_key": SECRET,
            "jwt_key_activation_seconds": "0",
            "jwt_keys_reload_seconds": "2",
            "log_level": "INFO",
            **settings,
        }
        self.a = LiveService(url, self.data_dir, **common)
        self.b = LiveService(url, self.data_dir, **common)

    async def start(self) -> Pair:
        # The first generates the keys the site shares; then the second starts on them. Both
        # upgrade the schema at start, one after the other (the migration lock).
        await asyncio.to_thread(self.a.start)
        await asyncio.to_thread(self.b.start)
        return self

    def stop(self) -> None:
        for service in (self.a, self.b):
            service.stop()


def registration(name: str) -> dict[str, object]:
    return {
        "kind": "private",
        "username": name,
        "password": PASSWORD,
        "first_name": "Monta",
        "last_name": "Instanssia",
    }


async def register(
    http: httpx.AsyncClient, service: LiveService, frontend: tuple[str, str], name: str
) -> str:
    """A new person, registered through ``service``: their id."""
    created = await http.post(
        service.url + "/v1/users",
        json=registration(f"{name}-{uuid.uuid4().hex[:6]}"),
        headers={
            **bearer(await client_token(service, frontend)),
            "X-Forwarded-For": "198.51.100.9",
        },
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def scalar(url: str, statement: str, **params: object) -> Any:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.scalar(text(statement), params)
    finally:
        await engine.dispose()


@pytest.fixture
async def database(fresh_database) -> str:  # type: ignore[no-untyped-def]
    url: str = await fresh_database()
    return url


@pytest.fixture
async def pair(database: str) -> AsyncIterator[Pair]:
    started = Pair(database)
    try:
        yield await started.start()
    finally:
        started.stop()


async def test_a_key_rotated_by_the_cli_signs_and_verifies_on_both(pair: Pair) -> None:
    staff = await make_client(pair.url, "staff")
    async with httpx.AsyncClient() as http:
        before = {
            k["kid"] for k in (await http.get(pair.a.url + "/.well-known/jwks.json")).json()["keys"]
        }
    rotated = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "app.cli", "keys", "rotate"],
        cwd=ROOT,
        env=pair.a.env,
        capture_output=True,
        text=True,
        check=True,
    )
    new_kid = json.loads(rotated.stdout)["created"]
    assert new_kid not in before
    rotated_at = time.monotonic()
    async with httpx.AsyncClient() as http:
        # Within the documented reload time (REGISTRY_JWT_KEYS_RELOAD_SECONDS, 2 s here) both
        # publish it.
        seen: dict[str, float] = {}
        while len(seen) < 2 and time.monotonic() - rotated_at < 10:
            for service in (pair.a, pair.b):
                keys = (await http.get(service.url + "/.well-known/jwks.json")).json()["keys"]
                if service.url not in seen and new_kid in {k["kid"] for k in keys}:
                    seen[service.url] = time.monotonic() - rotated_at
            await asyncio.sleep(0.1)
        assert set(seen) == {pair.a.url, pair.b.url}, seen
        assert max(seen.values()) < 2 + 1, seen
        # Both now sign with it, and each accepts the other's tokens.
        for signer, verifier in ((pair.a, pair.b), (pair.b, pair.a)):
            issued = await client_token(signer, staff)
            assert jwt.get_unverified_header(issued)["kid"] == new_kid
            response = await http.get(verifier.url + "/v1/users", headers=bearer(issued))
            assert response.status_code == 200, response.text


async def test_a_token_signed_by_a_key_the_other_has_not_loaded_yet_is_accepted(
    database: str,
) -> None:
    # A long reload interval: the second instance learns of the key only because a token names it.
    pair = Pair(database, jwt_keys_reload_seconds="600")
    try:
        await pair.start()
        staff = await make_client(pair.url, "staff")
        await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "app.cli", "keys", "rotate"],
            cwd=ROOT,
            env=pair.a.env,
            capture_output=True,
            check=True,
        )
        # Restarted, the first instance signs with the new key at once.
        pair.a.stop()
        await asyncio.to_thread(pair.a.start)
        issued = await client_token(pair.a, staff)
        async with httpx.AsyncClient() as http:
            response = await http.get(pair.b.url + "/v1/users", headers=bearer(issued))
        assert response.status_code == 200, response.text
    finally:
        pair.stop()


async def test_idempotency_keys_hold_across_instances(pair: Pair) -> None:
    frontend = await make_client(pair.url, "frontend")
    headers = {
        "Authorization": f"Bearer {await client_token(pair.a, frontend)}",
        "X-Forwarded-For": "198.51.100.20",
    }
    async with httpx.AsyncClient(timeout=30) as http:
        for round_ in range(4):
            name = f"idem-{round_}-{uuid.uuid4().hex[:6]}"
            key = {"Idempotency-Key": f"key-{name}"}
            body = registration(name)
            # The same key to both at once: one does the work.
            first, second = await asyncio.gather(
                http.post(pair.a.url + "/v1/users", json=body, headers={**headers, **key}),
                http.post(pair.b.url + "/v1/users", json=body, headers={**headers, **key}),
            )
            statuses = sorted([first.status_code, second.status_code])
            assert statuses in ([201, 201], [201, 409]), (first.text, second.text)
            if statuses == [201, 201]:
                assert {
                    first.headers.get("Idempotent-Replayed"),
                    second.headers.get("Idempotent-Replayed"),
                } == {None, "true"}
                assert first.json()["id"] == second.json()["id"]
            # Sent again to either, it replays the one answer.
            again = await http.post(pair.b.url + "/v1/users", json=body, headers={**headers, **key})
            assert again.status_code == 201
            assert again.headers["Idempotent-Replayed"] == "true"
            stored = await scalar(
                pair.url, "SELECT count(*) FROM credentials WHERE username = :name", name=name
            )
            assert stored == 1


async def test_throttling_counts_across_instances(database: str) -> None:
    pair = Pair(database, registrations_per_address_per_hour="3")
    try:
        await pair.start()
        frontend = await make_client(pair.url, "frontend")
        headers = {
            "Authorization": f"Bearer {await client_token(pair.a, frontend)}",
            "X-Forwarded-For": "203.0.113.7",
        }
        async with httpx.AsyncClient(timeout=30) as http:
            statuses = []
            for index, service in enumerate((pair.a, pair.b, pair.a, pair.b, pair.a)):
                response = await http.post(
                    service.url + "/v1/users",
                    json=registration(f"throttled-{index}-{uuid.uuid4().hex[:6]}"),
                    headers=headers,
                )
                statuses.append(response.status_code)
            # Three from the address in all, whichever instance took them; then 429 on both.
            assert statuses == [201, 201, 201, 429, 429], statuses
            assert "Retry-After" in response.headers
            elsewhere = await http.post(
                pair.b.url + "/v1/users",
                json=registration(f"elsewhere-{uuid.uuid4().hex[:6]}"),
                headers={**headers, "X-Forwarded-For": "192.0.2.55"},
            )
            assert elsewhere.status_code == 201, elsewhere.text
            # Failed sign-ins of one (username, address) pair, alternating instances: the wait
            # starts after the free failures, counted together.
            login = []
            for service in (pair.a, pair.b, pair.a, pair.b):
                response = await http.post(
                    service.url + "/v1/auth/token",
                    data={
                        "grant_type": "password",
                        "username": "nobody-here",
                        "password": "wrong password",
                    },
                    headers=headers,
                    auth=frontend,
                )
                login.append(response.status_code)
            assert login[:3] == [400, 400, 400] or login[:3] == [401, 401, 401], login
            assert login[3] == 429, login
    finally:
        pair.stop()


class Receiver:
    """A recipient's webhook endpoint on loopback: it takes a while to answer, and records every
    delivery's `webhook-id` and notification."""

    def __init__(self, hold_seconds: float) -> None:
        self.deliveries: list[tuple[str, int]] = []
        self.in_flight = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length))
                with receiver.lock:
                    receiver.in_flight += 1
                try:
                    time.sleep(hold_seconds)
                    with receiver.lock:
                        receiver.deliveries.append(
                            (self.headers["webhook-id"], int(body["notification_id"]))
                        )
                    self.send_response(204)
                    self.end_headers()
                finally:
                    with receiver.lock:
                        receiver.in_flight -= 1

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(hold_seconds=0.4) as endpoint:
        yield endpoint


async def _queue_notifications(url: str, webhook: str, count: int) -> list[int]:
    """A recipient with this webhook, a user, and ``count`` due notifications for it."""
    hasher = KeyedHasher(hashlib.sha256(SECRET.encode()).digest())
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            user_id = await connection.scalar(
                text("INSERT INTO users (kind) VALUES ('private') RETURNING id")
            )
            recipient_id = await connection.scalar(
                text(
                    "INSERT INTO recipients (name, kind, country, in_eu_eea, purposes, "
                    "legal_basis, webhook_url, webhook_secret) VALUES ('Ryhmäyhtiö Oy', "
                    "'group_company', 'FI', true, '{}', 'legitimate_interest', :url, :secret) "
                    "RETURNING id"
                ),
                {"url": webhook, "secret": seal_webhook_secret(hasher, "whsec-test")},
            )
            ids = []
            for _ in range(count):
                ids.append(
                    await connection.scalar(
                        text(
                            "INSERT INTO notifications (recipient_id, user_id, event, payload, "
                            "next_attempt_at) VALUES (:recipient, :user, 'rectification', "
                            '\'{"event": "rectification"}\', now()) RETURNING id'
                        ),
                        {"recipient": recipient_id, "user": user_id},
                    )
                )
    finally:
        await engine.dispose()
    return ids


async def test_each_notification_reaches_the_recipient_once_when_an_instance_is_killed(
    database: str, receiver: Receiver
) -> None:
    pair = Pair(
        database,
        webhook_allowed_networks='["127.0.0.0/8"]',
        notification_poll_seconds="0.2",
        webhook_timeout_seconds="2",
        notification_lease_seconds="4",
    )
    try:
        await pair.start()
        ids = await _queue_notifications(pair.url, receiver.url, 24)
        # Both deliver; SIGKILL one while deliveries are in flight at the receiver.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with receiver.lock:
                delivered, in_flight = len(receiver.deliveries), receiver.in_flight
            if delivered >= 4 and in_flight >= 2:
                break
            await asyncio.sleep(0.02)
        assert in_flight >= 2, "both instances were delivering at once"
        pair.a.kill()
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            unsent = await scalar(
                pair.url, "SELECT count(*) FROM notifications WHERE sent_at IS NULL"
            )
            if unsent == 0:
                break
            await asyncio.sleep(0.3)
        assert unsent == 0, "every notification was sent"
    finally:
        pair.stop()
    webhook_ids: dict[int, set[str]] = {}
    for webhook_id, notification in receiver.deliveries:
        webhook_ids.setdefault(notification, set()).add(webhook_id)
    assert set(webhook_ids) == set(ids), "every notification reached the recipient"
    # One webhook-id each, whoever sent it: a delivery the killed instance had in flight was
    # sent again after its lease by the other, with the same id (the recipient drops repeats).
    assert all(len(seen) == 1 for seen in webhook_ids.values()), webhook_ids
    repeats = len(receiver.deliveries) - len(ids)
    assert repeats <= 1, f"only the delivery in flight at the kill is repeated ({repeats})"
    # While both ran, no notification went out twice at once (its lease): a repeat is only the
    # one the killed instance had started.


async def _sequencer_holders(url: str) -> list[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a "
                    "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
                    "AND l.classid = 0 AND l.objid = :key AND l.objsubid = 1 "
                    # Advisory locks are per database; other databases have sequencers too.
                    "AND l.database = (SELECT oid FROM pg_database "
                    "WHERE datname = current_database())"
                ),
                {"key": SEQUENCER_LOCK},
            )
            return [row[0] for row in rows]
    finally:
        await engine.dispose()


async def test_the_sequencer_runs_on_one_instance_and_moves_when_it_dies(pair: Pair) -> None:
    staff = await make_client(pair.url, "staff")
    frontend = await make_client(pair.url, "frontend")
    async with httpx.AsyncClient(timeout=30) as http:
        user_id = await register(http, pair.a, frontend, "seq")
        # One holder at a time, whenever looked at.
        for _ in range(10):
            holders = await _sequencer_holders(pair.url)
            assert len(holders) == 1, holders
            await asyncio.sleep(0.1)
        holder_pid = int(holders[0].rsplit("-", 1)[1])
        holder, other = (pair.a, pair.b) if holder_pid == pair.a.pid else (pair.b, pair.a)
        assert holder_pid == holder.pid
        staff_token = await client_token(other, staff)

        async def checkpoint_size() -> int:
            response = await http.get(
                other.url + "/v1/transparency/access-log/checkpoint",
                headers=bearer(staff_token),
            )
            assert response.status_code == 200, response.text
            return int(response.json()["tree_size"])

        killed_at = time.monotonic()
        holder.kill()
        while time.monotonic() - killed_at < 5:
            holders = await _sequencer_holders(pair.url)
            if holders:
                break
            await asyncio.sleep(0.05)
        moved_after = time.monotonic() - killed_at
        assert holders == [f"registry-sequencer-{other.pid}"], holders
        assert moved_after < 2.0, f"took over after {moved_after:.2f} s"
        # And it sequences: a staff read (an access-log entry) is in a signed checkpoint soon.
        size = await checkpoint_size()
        read = await http.get(f"{other.url}/v1/users/{user_id}", headers=bearer(staff_token))
        assert read.status_code == 200, read.text
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and await checkpoint_size() <= size:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        assert await checkpoint_size() > size


async def test_one_export_of_a_person_at_a_time_across_instances(pair: Pair) -> None:
    frontend = await make_client(pair.url, "frontend")
    dpo = await make_client(pair.url, "dpo")
    async with httpx.AsyncClient(timeout=60) as http:
        user_id = await register(http, pair.a, frontend, "export")
        await many_events(pair.url, user_id, 200_000)
        dpo_token = bearer(await client_token(pair.a, dpo))
        path = f"/v1/users/{user_id}/export"
        # An export running on one instance (its client reading slowly)...
        async with http.stream("GET", pair.a.url + path, headers=dpo_token) as running:
            assert running.status_code == 200
            chunks = running.aiter_bytes()
            await anext(chunks)
            # ...and the same person's on the other: 429, as on the first.
            for service in (pair.b, pair.a):
                refused = await http.get(service.url + path, headers=dpo_token)
                assert refused.status_code == 429, refused.text
                assert refused.headers["content-type"] == "application/problem+json"
                assert refused.json()["type"].endswith("/export-already-running")
                assert refused.headers["Retry-After"]
            # Another person's export is not held up.
            other = await register(http, pair.b, frontend, "other")
            elsewhere = await http.get(f"{pair.b.url}/v1/users/{other}/export", headers=dpo_token)
            assert elsewhere.status_code == 200, elsewhere.text
        # Once it ended (its client went away), the person's export runs on either.
        deadline = time.monotonic() + 10
        while True:
            again = await http.get(pair.b.url + path, headers=dpo_token)
            if again.status_code == 200 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert again.status_code == 200, again.text
        assert user_id in again.text


async def test_two_workers_share_the_port_and_count_their_metrics_together(database: str) -> None:
    # Pools far too big for two workers on this server: the supervisor says so at start.
    service = LiveService(database, workers="2", db_pool_size="60")
    await asyncio.to_thread(service.start)
    try:
        monitoring = await make_client(database, "monitoring")
        # Two worker processes, each with its own pools (and its own sequencer connection,
        # one of them holding the lock).
        deadline = time.monotonic() + 10
        while True:
            sequencers = await scalar(
                database,
                "SELECT count(DISTINCT application_name) FROM pg_stat_activity "
                "WHERE application_name LIKE 'registry-sequencer-%' "
                "AND datname = current_database()",
            )
            if sequencers == 2 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert sequencers == 2
        assert len(await _sequencer_holders(database)) == 1
        async with httpx.AsyncClient(base_url=service.url, timeout=30) as http:
            # New connections each time: the kernel spreads them over both workers.
            for _ in range(40):
                async with httpx.AsyncClient(base_url=service.url) as fresh:
                    assert (await fresh.get("/healthz")).status_code == 200
            metrics = await http.get(
                "/metrics", headers=bearer(await client_token(service, monitoring))
            )
        assert metrics.status_code == 200
        counted = sum(
            float(line.rsplit(" ", 1)[1])
            for line in metrics.text.splitlines()
            if line.startswith("registry_http_requests_total{") and 'route="/healthz"' in line
        )
        assert counted == 40, "whichever worker answers, /metrics counts every worker's requests"
        answered = list((service.data_dir / "metrics").glob("counter_*.db"))
        assert len(answered) >= 2, "both workers answered requests"
    finally:
        service.stop()
    logs = service.logs()
    assert "connection_budget_exceeded" in logs
    assert '"workers": 2' in logs


async def test_instances_starting_together_on_a_new_database_agree(database: str) -> None:
    """Two instances started at the same moment on an empty database and one shared data
    directory: they upgrade the schema one after the other (the migration lock), and generate
    one set of keys and secrets, not one each (files made once: ``create_once``)."""
    shared = Path(tempfile.mkdtemp(prefix="registry-together-"))
    common = {
        "public_url": "https://registry.test",
        "jwt_key_activation_seconds": "0",
    }
    a = LiveService(database, shared, **common)
    b = LiveService(database, shared, **common)
    try:
        await asyncio.gather(asyncio.to_thread(a.start), asyncio.to_thread(b.start))
        version = await scalar(database, "SELECT count(*) FROM alembic_version")
        assert version == 1
        staff = await make_client(database, "staff")
        dpo = await make_client(database, "dpo")
        frontend = await make_client(database, "frontend")
        async with httpx.AsyncClient(timeout=30) as http:
            user_id = await register(http, a, frontend, "together")
            # Sealed by one instance, opened by the other: the same identity-code key.
            stored = await http.put(
                f"{a.url}/v1/users/{user_id}/identity-code",
                json={"identity_code": "131052-308T", "method": "bank_id"},
                headers=bearer(await client_token(a, staff)),
            )
            assert stored.status_code in (200, 201), stored.text
            read = await http.get(
                f"{b.url}/v1/users/{user_id}/identity-code",
                headers=bearer(await client_token(b, dpo)),
            )
            assert read.status_code == 200, read.text
            assert read.json()["identity_code"] == "131052-308T"
            # Each accepts the other's tokens.
            for signer, verifier in ((a, b), (b, a)):
                issued = await client_token(signer, staff)
                response = await http.get(verifier.url + "/v1/users", headers=bearer(issued))
                assert response.status_code == 200, response.text
        assert len(list((shared / "identity-code-keys").glob("*.key"))) == 1
    finally:
        a.stop()
        b.stop()


def test_a_new_identity_code_key_seals_only_once_every_instance_can_have_it() -> None:
    """A rolling deploy adds an identity-code key to the instances one by one: until its
    activation has passed, no instance seals with it, so those without it yet open every code."""
    from datetime import UTC, datetime, timedelta

    from app.users.identity_codes import IdentityCodeCipher

    user_id, code, index = uuid.uuid4(), "131052-308T", bytes(32)
    old_id = "20250101T000000Z-old"
    new_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-new"
    keys = {old_id: os.urandom(32), new_id: os.urandom(32)}
    hour = timedelta(hours=1)
    upgraded = IdentityCodeCipher(keys, index, hour)
    not_yet = IdentityCodeCipher({old_id: keys[old_id]}, index, hour)
    sealed = upgraded.seal(user_id, code)
    assert sealed.key_id == old_id
    assert not_yet.open(user_id, sealed) == code
    # Once active (here: no activation time), the new key seals; every key still opens.
    active = IdentityCodeCipher(keys, index, timedelta(0))
    resealed = active.seal(user_id, code)
    assert resealed.key_id == new_id
    assert upgraded.open(user_id, resealed) == code
    assert active.open(user_id, sealed) == code
    # Key ids that are not times are active at once, the greatest sealing, as before.
    named = IdentityCodeCipher({"k1": os.urandom(32), "k2": os.urandom(32)}, index, hour)
    assert named.active_key_id == "k2"
