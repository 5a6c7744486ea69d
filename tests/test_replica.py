"""A read replica (issue 16): a real streaming replica, made with the Postgres binaries the suite
already has (pgserver's: `pg_basebackup -R` from a primary of the test's own, a second server
beside it). Bulk reads are served from it while it keeps up; a lagging or stopped replica is
bypassed; a request that writes and a person's own reads stay on the primary."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.db import migrate
from app.db.embedded import EmbeddedPostgres, EmbeddedStandby
from tests.conftest import bearer
from tests.live import LiveService, make_client, many_events, save_postgres_log

pytestmark = pytest.mark.slow

PASSWORD = "pitkä salasana 123"


class StreamingPair:
    """A primary (embedded) and a hot standby streaming from it."""

    def __init__(self) -> None:
        root = Path(tempfile.mkdtemp(prefix="registry-replica-"))
        self.primary = EmbeddedPostgres(root / "primary", database="registry", delete=True)
        self.url = self.primary.start()
        self.standby = EmbeddedStandby(self.primary, root / "standby")
        self.standby.start()
        self.root = root

    def start_standby(self) -> None:
        self.standby.start()

    def stop_standby(self) -> None:
        self.standby.stop("immediate")

    @property
    def replica_url(self) -> str:
        return self.standby.url_for("registry")

    async def on_standby(self, statement: str) -> Any:
        engine = create_async_engine(self.replica_url)
        try:
            async with engine.connect() as connection:
                return await connection.scalar(text(statement))
        finally:
            await engine.dispose()

    async def wait_caught_up(self) -> None:
        engine = create_async_engine(self.url)
        try:
            async with engine.connect() as connection:
                position = await connection.scalar(text("SELECT pg_current_wal_lsn()::text"))
        finally:
            await engine.dispose()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            caught_up = await self.on_standby(
                f"SELECT pg_last_wal_replay_lsn() >= '{position}'::pg_lsn"
            )
            if caught_up:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the standby did not catch up")

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # stopped by the test
            self.stop_standby()
        save_postgres_log(self.standby.log_path)
        save_postgres_log(self.primary.log_path)
        self.primary.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
async def streaming() -> AsyncIterator[StreamingPair]:
    pair = await asyncio.to_thread(StreamingPair)
    try:
        engine = create_async_engine(pair.url)
        async with engine.begin() as connection:
            await migrate.upgrade(connection)
        await engine.dispose()
        await pair.wait_caught_up()
        yield pair
    finally:
        await asyncio.to_thread(pair.close)


class Actors:
    """A frontend, the DPO and one person, on a running service."""

    def __init__(self, http: httpx.AsyncClient, frontend: tuple[str, str], dpo: tuple[str, str]):
        self.http = http
        self.frontend = frontend
        self.dpo_client = dpo

    async def client_token(self, client: tuple[str, str]) -> str:
        response = await self.http.post(
            "/v1/auth/token", data={"grant_type": "client_credentials"}, auth=client
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    async def person(self) -> tuple[str, str]:
        """A registered person: their id and their own token."""
        username = f"replica-{uuid.uuid4().hex[:8]}"
        frontend = await self.client_token(self.frontend)
        created = await self.http.post(
            "/v1/users",
            json={
                "kind": "private",
                "username": username,
                "password": PASSWORD,
                "first_name": "Reeta",
                "last_name": "Vanhanimi",
            },
            headers={**bearer(frontend), "X-Forwarded-For": "198.51.100.30"},
        )
        assert created.status_code == 201, created.text
        signed_in = await self.http.post(
            "/v1/auth/token",
            data={"grant_type": "password", "username": username, "password": PASSWORD},
            auth=self.frontend,
            headers={"X-Forwarded-For": "198.51.100.30"},
        )
        assert signed_in.status_code == 200, signed_in.text
        return created.json()["id"], signed_in.json()["access_token"]


async def _service(streaming: StreamingPair, max_lag: str, check: str = "0.2") -> LiveService:
    service = LiveService(
        streaming.url,
        database_replica_url=streaming.replica_url,
        replica_max_lag_seconds=max_lag,
        replica_check_seconds=check,
    )
    return await asyncio.to_thread(service.start)


async def _ready(http: httpx.AsyncClient, want: str, within: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        body: dict[str, Any] = (await http.get("/readyz")).json()
        if body["replica"].startswith(want) or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.1)


async def _export(http: httpx.AsyncClient, path: str, token: str) -> httpx.Response:
    """The export, once the one before it (whose client just went away) has ended."""
    deadline = time.monotonic() + 10
    while True:
        response = await http.get(path, headers=bearer(token))
        if response.status_code != 429 or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.2)


async def _copies_of_events(url: str) -> int:
    """The service's COPY of events running on this server (an export streaming)."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return int(
                await connection.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE usename = 'registry_app' "
                        "AND state = 'active' AND query ILIKE 'COPY%events%' "
                        "AND datname = current_database()"
                    )
                )
            )
    finally:
        await engine.dispose()


async def test_an_export_is_served_from_the_replica_and_never_staler_than_the_request(
    streaming: StreamingPair,
) -> None:
    service = await _service(streaming, max_lag="300")
    frontend = await make_client(streaming.url, "frontend")
    dpo = await make_client(streaming.url, "dpo")
    async with httpx.AsyncClient(base_url=service.url, timeout=60) as http:
        actors = Actors(http, frontend, dpo)
        user_id, own = await actors.person()
        await many_events(streaming.url, user_id, 200_000)
        dpo_token = await actors.client_token(dpo)
        await streaming.wait_caught_up()
        ready = await _ready(http, "in use")
        assert ready["replica"] == "in use", ready
        assert ready["replica_lag_seconds"] is not None and ready["replica_lag_seconds"] < 300

        # The DPO's export, its client reading slowly: its COPY runs on the replica, not on the
        # primary.
        path = f"/v1/users/{user_id}/export"
        async with http.stream("GET", path, headers=bearer(dpo_token)) as running:
            assert running.status_code == 200
            await anext(running.aiter_bytes())
            assert await _copies_of_events(streaming.replica_url) == 1
            assert await _copies_of_events(streaming.url) == 0

        # The replica stops replaying: what the primary takes from now on, it has not got.
        await streaming.on_standby("SELECT pg_wal_replay_pause()")
        changed = await http.patch(
            "/v1/users/me", json={"last_name": "Uusinimi"}, headers=bearer(own)
        )
        assert changed.status_code == 200, changed.text
        # Within the allowed lag (300 s) the replica still serves, but never anything staler
        # than the request: it has not replayed the change, so these read the primary.
        exported = await _export(http, path, dpo_token)
        assert exported.status_code == 200, exported.text
        # (The paused replica has no trace of the new name: not even in the profile's history.)
        assert "Uusinimi" in exported.text
        listed = await http.get("/v1/users", headers=bearer(dpo_token))
        assert listed.status_code == 200, listed.text
        assert "Uusinimi" in listed.text and "Vanhanimi" not in listed.text
        # The person's own export and a request that writes read the primary anyway.
        mine = await http.get("/v1/users/me/export", headers=bearer(own))
        assert mine.status_code == 200 and "Uusinimi" in mine.text
        again = await http.patch(
            f"/v1/users/{user_id}", json={"first_name": "Riikka"}, headers=bearer(own)
        )
        assert again.status_code == 200 and again.json()["last_name"] == "Uusinimi"
        # /readyz tells the lag growing (measured every 0.2 s here), still within what is allowed.
        deadline = time.monotonic() + 5
        while True:
            behind = (await http.get("/readyz")).json()
            if behind["replica_lag_seconds"] > 0.5 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        assert behind["replica"] == "in use" and behind["replica_lag_seconds"] > 0.5, behind

        # Replaying again, it catches up and serves again.
        await streaming.on_standby("SELECT pg_wal_replay_resume()")
        await streaming.wait_caught_up()
        async with http.stream("GET", path, headers=bearer(dpo_token)) as running:
            await anext(running.aiter_bytes())
            assert await _copies_of_events(streaming.replica_url) == 1
        metrics = await http.get("/metrics", headers=bearer(dpo_token))
        served = {
            line.split('"')[1]: float(line.rsplit(" ", 1)[1])
            for line in metrics.text.splitlines()
            if line.startswith("registry_replica_reads_total{")
        }
        assert served["replica"] >= 2 and served["primary"] >= 3, served


async def test_a_lagging_replica_is_bypassed(streaming: StreamingPair) -> None:
    service = await _service(streaming, max_lag="1")
    frontend = await make_client(streaming.url, "frontend")
    dpo = await make_client(streaming.url, "dpo")
    async with httpx.AsyncClient(base_url=service.url, timeout=30) as http:
        actors = Actors(http, frontend, dpo)
        user_id, own = await actors.person()
        dpo_token = await actors.client_token(dpo)
        await streaming.wait_caught_up()
        assert (await _ready(http, "in use"))["replica"] == "in use"

        await streaming.on_standby("SELECT pg_wal_replay_pause()")
        changed = await http.patch(
            "/v1/users/me", json={"last_name": "Uusinimi"}, headers=bearer(own)
        )
        assert changed.status_code == 200
        # Past the allowed lag (1 s), reads go to the primary and /readyz says why.
        ready = await _ready(http, "behind")
        assert ready["status"] == "ok"
        assert ready["replica"].startswith("behind by more than 1 s"), ready
        assert ready["replica_lag_seconds"] > 1
        exported = await http.get(f"/v1/users/{user_id}/export", headers=bearer(dpo_token))
        assert exported.status_code == 200
        assert "Uusinimi" in exported.text
        listed = await http.get("/v1/users", headers=bearer(dpo_token))
        assert "Uusinimi" in listed.text
        # Caught up again, it is used again.
        await streaming.on_standby("SELECT pg_wal_replay_resume()")
        assert (await _ready(http, "in use"))["replica"] == "in use"


async def test_a_stopped_replica_is_bypassed_at_once(streaming: StreamingPair) -> None:
    # Measured every 5 s: the requests right after the stop find it gone themselves.
    service = await _service(streaming, max_lag="300", check="5")
    frontend = await make_client(streaming.url, "frontend")
    dpo = await make_client(streaming.url, "dpo")
    async with httpx.AsyncClient(base_url=service.url, timeout=30) as http:
        actors = Actors(http, frontend, dpo)
        user_id, _ = await actors.person()
        dpo_token = await actors.client_token(dpo)
        await streaming.wait_caught_up()
        assert (await _ready(http, "in use"))["replica"] == "in use"
        # Warm the pools on the replica, then take it away without warning.
        warm = await http.get(f"/v1/users/{user_id}/export", headers=bearer(dpo_token))
        assert warm.status_code == 200
        await asyncio.to_thread(streaming.stop_standby)
        # The next reads, before any measure notices, are served from the primary.
        for path in (f"/v1/users/{user_id}/export", "/v1/users", "/v1/register-description"):
            response = await http.get(path, headers=bearer(dpo_token))
            assert response.status_code == 200, (path, response.text)
        assert (
            "Vanhanimi"
            in (await http.get(f"/v1/users/{user_id}/export", headers=bearer(dpo_token))).text
        )
        ready = await _ready(http, "unreachable")
        assert ready["status"] == "ok" and ready["replica"].startswith("unreachable"), ready
        assert ready["replica_lag_seconds"] is None
        # Back, it is used again.
        await asyncio.to_thread(streaming.start_standby)
        assert (await _ready(http, "in use", within=20))["replica"] == "in use"


async def test_an_audience_read_from_the_replica_never_includes_a_withdrawal_it_has_not_replayed(
    streaming: StreamingPair,
) -> None:
    service = await _service(streaming, max_lag="300")
    frontend = await make_client(streaming.url, "frontend")
    dpo = await make_client(streaming.url, "dpo")
    async with httpx.AsyncClient(base_url=service.url, timeout=30) as http:
        actors = Actors(http, frontend, dpo)
        staying, staying_token = await actors.person()
        leaving, leaving_token = await actors.person()
        for token in (staying_token, leaving_token):
            phone = await http.patch(
                "/v1/users/me", json={"phone": "0401234567"}, headers=bearer(token)
            )
            assert phone.status_code == 200, phone.text
            granted = await http.post(
                "/v1/users/me/permissions",
                json=_decision("granted"),
                headers=bearer(token),
            )
            assert granted.status_code == 201, granted.text
        dpo_token = await actors.client_token(dpo)
        await streaming.wait_caught_up()
        assert (await _ready(http, "in use"))["replica"] == "in use"

        async def audience() -> set[str]:
            response = await http.get(
                "/v1/audiences/direct_marketing",
                params={"channel": "sms", "limit": 1000},
                headers=bearer(dpo_token),
            )
            assert response.status_code == 200, response.text
            return {item["user_id"] for item in response.json()["items"]}

        assert {staying, leaving} <= await audience()
        await streaming.on_standby("SELECT pg_wal_replay_pause()")
        withdrawn = await http.post(
            "/v1/users/me/permissions", json=_decision("withdrawn"), headers=bearer(leaving_token)
        )
        assert withdrawn.status_code == 201
        # The replica still has the grant, but it has not replayed the withdrawal, committed
        # before the read: the audience is read on the primary, and the withdrawal holds at once.
        assert (
            await streaming.on_standby(
                "SELECT count(*) FROM consent_states WHERE purpose_code = 'direct_marketing' "
                "AND channel = 'sms' AND decision = 'granted'"
            )
            == 2
        )
        members = await audience()
        assert staying in members and leaving not in members
        await streaming.on_standby("SELECT pg_wal_replay_resume()")


def _decision(decision: str) -> dict[str, Any]:
    return {
        "source": "settings_page",
        "language": "fi",
        "decisions": [
            {
                "purpose": "direct_marketing",
                "channel": "sms",
                "decision": decision,
                "notice_version": 1,
            }
        ],
    }
