"""Exports as downloads that cannot starve the API.

An export streams from the exports' own small pool of connections, never the API's, so however
many exports run or stall, the API keeps its connections. At most one export per user runs at a
time, across every worker and instance (``ExportLocks``), and a configured number per worker
(429 with ``Retry-After`` beyond). A client that
disconnects ends the download quietly; one that stops reading is cut off by the server's stall
deadline (``app.core.server``), which this sees as a disconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.core.errors import AppError, problem_response
from app.core.logging import get_logger
from app.db import raw
from app.db.session import Database

log = get_logger("app.requests.downloads")


class ExportAlreadyRunning(AppError):
    status = 429
    type = "export-already-running"
    title = "An export of this user is already running"


class TooManyExports(AppError):
    status = 429
    type = "too-many-exports"
    title = "Too many exports at once"


class ExportSlots:
    """The exports running in this worker: one per user, ``limit`` in all."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.running: set[uuid.UUID] = set()

    def acquire(self, user_id: uuid.UUID) -> Callable[[], None]:
        """Takes a slot for ``user_id``; returns the function that gives it back (idempotent)."""
        if user_id in self.running:
            raise ExportAlreadyRunning(
                "Wait for the running export of this user to finish; try again in 30 seconds.",
                headers={"Retry-After": "30"},
            )
        if len(self.running) >= self.limit:
            raise TooManyExports(
                f"{self.limit} exports are running; try again in 10 seconds.",
                headers={"Retry-After": "10"},
            )
        self.running.add(user_id)
        return lambda: self.running.discard(user_id)


class ExportLocks:
    """One export per person at a time across every worker and instance: a transaction-level
    advisory lock on the primary, in a transaction of its own on a connection of a small pool
    of its own (as many as the exports this worker may run, so taking one never waits), held
    while the export streams, wherever it reads (the primary or the replica). Given back when
    that transaction ends (the export ended, however), or by Postgres when the process dies and
    its connection closes. Transaction-level, so that it holds behind PgBouncer in transaction
    mode too and can never be left behind on a pooled connection; the transaction takes no
    snapshot, so it holds back no vacuum while the export runs."""

    def __init__(self, database: Database) -> None:
        self.database = database

    @asynccontextmanager
    async def hold(self, user_id: uuid.UUID) -> AsyncIterator[None]:
        async with self.database.session() as session:
            connection = await raw.driver(session)  # its transaction begun
            if not await connection.fetchval(_TRY_LOCK, f"export {user_id}"):
                raise ExportAlreadyRunning(
                    "Wait for the running export of this user to finish; try again in 30 seconds.",
                    headers={"Retry-After": "30"},
                )
            yield


_TRY_LOCK = "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 11))"


class ExportDownload(Response):
    """Streams ``produce()`` to the client, starting the answer with the first chunk: an error
    before it (the database away, say) is still a problem response. The export holds one of the
    exports' own connections while it streams; a client that goes away ends it quietly and gives
    the connection and the slot back at once."""

    def __init__(
        self,
        produce: Callable[[], AsyncIterator[bytes]],
        *,
        slots: ExportSlots,
        locks: ExportLocks,
        user_id: uuid.UUID,
        media_type: str,
        filename: str,
    ) -> None:
        super().__init__(
            media_type=media_type,
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
        # Streamed: the length is not known beforehand (chunked transfer).
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.produce = produce
        self.slots = slots
        self.locks = locks
        self.user_id = user_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The slot and the lock are taken here, once the request's transaction has committed: an
        # export that never starts never holds them.
        try:
            release = self.slots.acquire(self.user_id)
        except AppError as busy:
            await self._refuse(busy, scope, receive, send)
            return
        try:
            async with contextlib.AsyncExitStack() as held:
                try:
                    await held.enter_async_context(self.locks.hold(self.user_id))
                except AppError as busy:
                    await self._refuse(busy, scope, receive, send)
                    return
                await self._stream(scope, receive, send)
        finally:
            release()

    @staticmethod
    async def _refuse(busy: AppError, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = problem_response(
            scope["path"],
            busy.status,
            busy.type,
            busy.title,
            busy.detail,
            headers=busy.headers,
            request_id=scope.get("state", {}).get("request_id"),
        )
        await refusal(scope, receive, send)

    async def _stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.create_task(watch())
        chunks = self.produce()
        started = False
        sent = 0
        try:
            async for chunk in chunks:
                if gone.is_set():
                    log.info("export_download_abandoned", sent_bytes=sent)
                    return
                if not started:
                    await send(
                        {"type": "http.response.start", "status": 200, "headers": self.raw_headers}
                    )
                    started = True
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                sent += len(chunk)
            if not started:
                await send(
                    {"type": "http.response.start", "status": 200, "headers": self.raw_headers}
                )
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            # The connection broke under a send (ASGI 2.4): the client is gone.
            log.info("export_download_abandoned", sent_bytes=sent)
        finally:
            watcher.cancel()
            try:
                # Ends the export's transaction and gives its connection back.
                await chunks.aclose()  # type: ignore[attr-defined]
            except Exception as exc:
                # A connection left unusable by the interrupted read is discarded by the pool.
                log.info("export_connection_discarded", error=type(exc).__name__)
