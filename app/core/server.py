"""The HTTP server: uvicorn with the limits a service facing the internet needs.

uvicorn caps concurrent connections (``limit_concurrency``: 503 beyond) but has no deadline for
a request's headers or body, nor for a client that stops reading a response: 2,000 slow
connections would all be held open. ``GuardedHttpProtocol`` adds the three deadlines:

- headers: a connection (or the next request on a kept-alive one) must send its whole request
  head within ``header_timeout_seconds``;
- body: once the head is in, the body must arrive within ``body_timeout_seconds``;
- stalled reads: while the client lets our send buffer fill up, it has
  ``send_stall_timeout_seconds`` to read some of it (a stalled download is cut off there).

A connection past a deadline is closed; the app sees a disconnect, never an error.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from typing import TYPE_CHECKING, Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.core.logging import get_logger
from app.core.settings import Settings

if TYPE_CHECKING:
    from app.db.embedded import EmbeddedPostgres

log = get_logger("app.server")


class Deadlines:
    """The deadlines of every connection, set once from the settings before serving."""

    header_seconds: float = 10.0
    body_seconds: float = 30.0
    send_stall_seconds: float = 30.0

    @classmethod
    def configure(cls, settings: Settings) -> None:
        cls.header_seconds = settings.header_timeout_seconds
        cls.body_seconds = settings.body_timeout_seconds
        cls.send_stall_seconds = settings.send_stall_timeout_seconds


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header, body and stalled-read deadlines."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_deadline: asyncio.TimerHandle | None = None
        self._stall_deadline: asyncio.TimerHandle | None = None

    def _arm_read_deadline(self, seconds: float, what: str) -> None:
        self._cancel_read_deadline()
        self._read_deadline = self.loop.call_later(seconds, self._expire, what)

    def _cancel_read_deadline(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _expire(self, what: str) -> None:
        log.info("connection_timed_out", waiting_for=what)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_read_deadline(Deadlines.header_seconds, "headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_read_deadline()
        if self._stall_deadline is not None:
            self._stall_deadline.cancel()
            self._stall_deadline = None
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_read_deadline(Deadlines.header_seconds, "headers")

    def on_headers_complete(self) -> None:
        self._arm_read_deadline(Deadlines.body_seconds, "body")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._cancel_read_deadline()
        super().on_message_complete()

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._stall_deadline is None:
            self._stall_deadline = self.loop.call_later(
                Deadlines.send_stall_seconds, self._expire, "the client to read"
            )

    def resume_writing(self) -> None:
        if self._stall_deadline is not None:
            self._stall_deadline.cancel()
            self._stall_deadline = None
        super().resume_writing()


def uvicorn_config(settings: Settings, host: str, port: int, **extra: Any) -> uvicorn.Config:
    Deadlines.configure(settings)
    return uvicorn.Config(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        http=GuardedHttpProtocol,
        access_log=False,
        limit_concurrency=settings.max_connections,
        timeout_keep_alive=5,
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
        timeout_graceful_shutdown=20,
        **extra,
    )


def serve(settings: Settings, host: str, port: int) -> None:
    """One process, or ``settings.workers`` worker processes sharing the listening socket (uvicorn's
    supervisor, which restarts a worker that dies). What must happen once per site happens here,
    in the supervisor, before any worker starts: the embedded Postgres, the migrations, and the
    keys and secrets generated on first start; the workers then start on what is there."""
    if settings.workers == 1:
        uvicorn.Server(uvicorn_config(settings, host, port)).run()
        return
    from uvicorn.supervisors import Multiprocess

    embedded = asyncio.run(_prepare_workers(settings))
    try:
        config = uvicorn_config(settings, host, port, workers=settings.workers)
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    finally:
        if embedded is not None:
            embedded.stop()


async def _prepare_workers(settings: Settings) -> EmbeddedPostgres | None:
    """Starts the embedded Postgres (when no URL is set), upgrades the schema when asked, builds
    the app once to generate missing keys and secrets, and points the workers (through the
    environment they inherit) at the result, with nothing left for them to generate or migrate.
    Metrics of all workers are gathered in one directory (prometheus-client's multiprocess
    mode)."""
    from app.db import migrate
    from app.db.embedded import EmbeddedPostgres
    from app.main import create_app

    embedded: EmbeddedPostgres | None = None
    url = settings.database_url
    if url is None:
        embedded = EmbeddedPostgres(settings.data_dir / "postgres")
        url = await asyncio.to_thread(embedded.start)
    try:
        if embedded is not None or settings.migrate_on_start:
            await migrate.upgrade_database(url)
        await _check_connection_budget(settings, url)
        create_app(settings)  # generates what is missing, where that is allowed
    except BaseException:
        if embedded is not None:
            embedded.stop()
        raise
    os.environ["REGISTRY_DATABASE_URL"] = url
    os.environ["REGISTRY_MIGRATE_ON_START"] = "false"
    metrics_dir = settings.data_dir.resolve() / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    log.info("workers_starting", workers=settings.workers, embedded=embedded is not None)
    return embedded


async def _check_connection_budget(settings: Settings, url: str) -> None:
    """Warns when this instance's workers alone could open more connections than Postgres takes
    (docs/scaling.md has the arithmetic for several instances)."""
    import asyncpg

    connection = await asyncpg.connect(url.replace("+asyncpg", "", 1))
    try:
        available = await connection.fetchval(
            "SELECT current_setting('max_connections')::int"
            " - current_setting('superuser_reserved_connections')::int"
        )
    finally:
        await connection.close()
    wanted = settings.workers * settings.db_connections_per_worker
    if wanted > available:
        log.warning(
            "connection_budget_exceeded",
            workers=settings.workers,
            per_worker=settings.db_connections_per_worker,
            wanted=wanted,
            postgres_allows=available,
            advice="lower REGISTRY_DB_POOL_SIZE / _MAX_OVERFLOW / _STATEMENT_POOL_SIZE, or "
            "raise max_connections, or put PgBouncer in between (docs/scaling.md)",
        )
