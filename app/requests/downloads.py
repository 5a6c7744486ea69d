"""Exports as downloads that cannot starve the API.

An export is written to a temporary file first, on the exports' own small pool, so a database
connection is held only while the data is read (well under a second for the heaviest user) and
never while a slow client downloads. At most one export per user runs at a time, and a
configured number per worker (429 with ``Retry-After`` beyond). A client that disconnects ends
the download quietly; one that stops reading is cut off by the server's stall deadline
(``app.core.server``), which this sees as a disconnect.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.core.errors import AppError
from app.core.logging import get_logger

log = get_logger("app.requests.downloads")
CHUNK_BYTES = 256 * 1024


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


class SpooledDownload(Response):
    """Writes ``produce()`` to a temporary file, then sends it with its length.

    Errors while producing (the database away, say) still become a problem response, since
    nothing has been sent yet.
    """

    def __init__(
        self,
        produce: Callable[[], AsyncIterator[bytes]],
        *,
        release: Callable[[], None],
        media_type: str,
        filename: str,
    ) -> None:
        super().__init__(
            media_type=media_type,
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
        self.produce = produce
        self.release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            with tempfile.TemporaryFile(prefix="registry-export-") as spool:
                async for chunk in self.produce():
                    spool.write(chunk)
                size = spool.tell()
                spool.seek(0)
                await self._send_file(spool, size, receive, send)
        finally:
            self.release()

    async def _send_file(self, spool: object, size: int, receive: Receive, send: Send) -> None:
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.create_task(watch())
        self.headers["content-length"] = str(size)
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            sent = 0
            while sent < size and not gone.is_set():
                chunk = spool.read(CHUNK_BYTES)  # type: ignore[attr-defined]
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                sent += len(chunk)
            if gone.is_set():
                log.info("export_download_abandoned", sent_bytes=sent, size_bytes=size)
                return
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            # The connection broke under a send (ASGI 2.4): the client is gone.
            log.info("export_download_abandoned", size_bytes=size)
        finally:
            watcher.cancel()
