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
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.core.logging import get_logger
from app.core.settings import Settings

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
    uvicorn.Server(uvicorn_config(settings, host, port)).run()
