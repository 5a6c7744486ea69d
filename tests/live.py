"""A real service process (uvicorn) for the tests that need one: faults, fuzzing. Each test
starts what it needs and stops it; nothing is left running."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
# Every live service's log file, for the log scan at the end of the suite.
LOG_FILES: list[Path] = []
# Services started and not yet stopped: conftest stops them after each test, whatever happened.
RUNNING: set[LiveService] = set()
# The Postgres servers' logs, from where this run began, for the same scan; and the lines of
# servers that were removed before it.
POSTGRES_LOGS: list[tuple[Path, int]] = []
SAVED_POSTGRES_LINES: list[str] = []


def watch_postgres_log(path: Path) -> None:
    POSTGRES_LOGS.append((path, path.stat().st_size if path.exists() else 0))


def save_postgres_log(path: Path) -> None:
    if path.exists():
        SAVED_POSTGRES_LINES.extend(path.read_text(errors="replace").splitlines())


def postgres_log_lines() -> list[str]:
    lines = list(SAVED_POSTGRES_LINES)
    for path, offset in POSTGRES_LOGS:
        if path.exists():
            with path.open("rb") as log:
                log.seek(offset)
                lines.extend(log.read().decode(errors="replace").splitlines())
    return lines


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LiveService:
    def __init__(self, database_url: str, data_dir: Path | None = None, **settings: str) -> None:
        self.port = free_port()
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="registry-live-"))
        # Per port: instances may share a data directory (keys and secrets), never a log.
        self.log_path = self.data_dir / f"service-{self.port}.log"
        LOG_FILES.append(self.log_path)
        self.env = {
            **os.environ,
            "REGISTRY_DATABASE_URL": database_url,
            "REGISTRY_DATA_DIR": str(self.data_dir),
            "REGISTRY_GENERATE_KEYS": "true",
            "REGISTRY_MIGRATE_ON_START": "true",
            "REGISTRY_PUBLIC_URL": f"http://127.0.0.1:{self.port}",
            **{f"REGISTRY_{key.upper()}": value for key, value in settings.items()},
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> LiveService:
        log = self.log_path.open("ab")
        RUNNING.add(self)
        self.process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            # As `registry serve` runs it: uvicorn with the service's connection limits.
            [sys.executable, "-m", "app.cli", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=log,
        )
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the service exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the service did not become ready")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL: the process dies at once, finishing nothing."""
        RUNNING.discard(self)
        if self.process is not None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def signal(self, number: int) -> None:
        assert self.process is not None
        self.process.send_signal(number)

    def stop(self) -> None:
        RUNNING.discard(self)
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


async def many_events(url: str, user_id: str, count: int) -> None:
    """``count`` events of the user in this month's partition (made if missing), by COPY."""
    from datetime import UTC, datetime

    from app.events.service import month_start, next_month, partition_name

    now = datetime.now(UTC)
    month = month_start(now)
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute(
            f'CREATE TABLE IF NOT EXISTS "{partition_name(month)}" PARTITION OF events '
            f"FOR VALUES FROM ('{month.isoformat()}') TO ('{next_month(month).isoformat()}')"
        )
        start = datetime.combine(month, datetime.min.time(), tzinfo=UTC)
        step = (now - start) / (count + 1)
        await connection.copy_records_to_table(
            "events",
            records=[
                (uuid.UUID(user_id), "page.view", start + step * i, "web", '{"n": 1}')
                for i in range(count)
            ],
            columns=["user_id", "type", "occurred_at", "source", "properties"],
        )
    finally:
        await connection.close()


async def make_client(url: str, role: str) -> tuple[str, str]:
    """A machine client of ``role`` in the database at ``url``: its id and secret."""
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    from app.auth import service as auth_service

    engine = create_async_engine(url)
    try:
        async with AsyncSession(engine) as session, session.begin():
            return await auth_service.create_client(
                session, name=f"live {role}", role=role, scopes=None
            )
    finally:
        await engine.dispose()


async def client_token(service: LiveService, client: tuple[str, str]) -> str:
    """An access token of ``client`` from the running ``service``."""
    async with httpx.AsyncClient(base_url=service.url) as http:
        response = await http.post(
            "/v1/auth/token", data={"grant_type": "client_credentials"}, auth=client
        )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])
