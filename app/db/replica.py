"""The read replica: bulk reads go to a streaming replica while it keeps up.

What reads from it (``BulkSession``, ``export_source``): exports asked for by the DPO,
audiences, the staff listings (users, the disclosure log, the DPO's work list), the register
description and the record of processing. What never does: a request that writes (any method but
GET), and a person's own reads (their export, their profile). A GET's only write is its
access-log or disclosure-log entry, on the primary, which its read does not depend on.

Never staler than the request: a read goes to the replica only once the replica has replayed the
primary's WAL position as read when the read begins (``Replica.caught_up``: it waits up to
``replica_catch_up_seconds``, then reads the primary). So whatever anyone committed before the
request (a rectification, a restriction, a withdrawn permission) is in what it reads, from
either server.

How far behind it is, is measured by each worker every ``replica_check_seconds``: caught up when it
has replayed the primary's WAL position read just before; otherwise the time since the last
transaction it replayed (``pg_last_xact_replay_timestamp()``) or since it was last seen caught
up, whichever is less (an idle primary commits nothing to replay, so the timestamp alone would
call a current replica stale). Beyond ``replica_max_lag_seconds``, unmeasured for three checks,
unreachable, or promoted (no longer in recovery), reads go to the primary without waiting. A
replica that went away since its last measure is found out on the first connection of a read;
a busy replica pool sends that read to the primary.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.logging import get_logger
from app.core.metrics import REPLICA_LAG, REPLICA_READS
from app.core.settings import Settings
from app.db import raw
from app.db.session import Database, Session, get_database, get_export_database

log = get_logger("app.db.replica")

# What a replica that went away since it was measured raises on the first use of a connection.
UNREACHABLE = (
    OSError,
    TimeoutError,
    SQLAlchemyError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)

# Where the primary's WAL ends now, commits not yet flushed included (synchronous_commit = off,
# as the bulk import sets it): a replica that has replayed up to it has every transaction
# committed before.
POSITION = "SELECT pg_current_wal_insert_lsn()::text"
_REPLAYED = "SELECT coalesce(pg_last_wal_replay_lsn() >= $1::text::pg_lsn, false)"
_LAG = """
SELECT pg_is_in_recovery(),
       coalesce(pg_last_wal_replay_lsn() >= $1::text::pg_lsn, false),
       extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8
"""


@dataclass(frozen=True)
class ReplicaState:
    """What ``/readyz`` tells: whether reads go to the replica, and why not."""

    serving: bool
    lag_seconds: float | None
    reason: str


class Replica:
    """A worker's pools on the replica and what it last measured of its lag."""

    def __init__(
        self, database: Database, exports: Database, primary: Database, settings: Settings
    ) -> None:
        self.database = database
        self.exports = exports
        self.primary = primary
        self.max_lag = settings.replica_max_lag_seconds
        self.interval = settings.replica_check_seconds
        self.catch_up = settings.replica_catch_up_seconds
        self.lag: float | None = None
        self.reason = "not measured yet"
        self.measured_at = float("-inf")
        self.caught_up_at = float("-inf")
        self.not_caught_up_at = float("-inf")  # a read waited for it in vain

    async def measure(self) -> float | None:
        """Measures the lag now; ``None`` when the replica cannot serve."""
        started = time.monotonic()
        try:
            async with self.primary.statement_connection() as primary:
                position = await primary.fetchval(POSITION)
            async with self.database.statement_connection() as replica:
                in_recovery, caught_up, since_replay = await replica.fetchrow(_LAG, position)
        except UNREACHABLE as error:
            self._unusable(f"unreachable ({type(error).__name__})")
            return None
        if not in_recovery:
            self._unusable("not a replica (not in recovery)")
            return None
        if caught_up:
            self.caught_up_at = started
            lag = 0.0
        else:
            behind_since_caught_up = time.monotonic() - self.caught_up_at
            lag = min(
                since_replay if since_replay is not None else float("inf"),
                behind_since_caught_up,
            )
        self.lag = max(0.0, lag)
        self.measured_at = time.monotonic()
        self.reason = (
            "in use" if self.lag <= self.max_lag else f"behind by more than {self.max_lag:g} s"
        )
        REPLICA_LAG.set(self.lag)
        return self.lag

    async def caught_up(self, connection: Any, position: str) -> bool:
        """Whether the replica (``connection`` is one of its) has replayed the primary's WAL up
        to ``position``, waiting up to ``replica_catch_up_seconds`` for it. When it has not,
        reads go to the primary without waiting until the next measure."""
        deadline = time.monotonic() + self.catch_up
        while not await connection.fetchval(_REPLAYED, position):
            if time.monotonic() >= deadline:
                self.not_caught_up_at = time.monotonic()
                return False
            await asyncio.sleep(0.005)
        return True

    def _unusable(self, reason: str) -> None:
        if self.reason != reason:
            log.warning("replica_bypassed", reason=reason)
        self.lag = None
        self.reason = reason
        self.measured_at = time.monotonic()
        REPLICA_LAG.set(-1)

    def lost(self, error: BaseException) -> None:
        """A connection failed although the last measure was good: bypass it until measured."""
        self._unusable(f"unreachable ({type(error).__name__})")

    @property
    def _stale(self) -> bool:
        return time.monotonic() - self.measured_at > 3 * self.interval

    @property
    def serving(self) -> bool:
        waited_in_vain = self.not_caught_up_at > self.measured_at
        return (
            not self._stale
            and not waited_in_vain
            and self.lag is not None
            and self.lag <= self.max_lag
        )

    def state(self) -> ReplicaState:
        stale = self._stale
        reason = "not measured for three checks" if stale and self.lag is not None else self.reason
        return ReplicaState(self.serving, self.lag, reason)

    async def monitor(self) -> None:
        """Runs for the life of the worker (started by its lifespan)."""
        while True:
            try:
                await self.measure()
            except Exception:
                log.exception("replica_measure_failed")
            await asyncio.sleep(self.interval)

    @classmethod
    def from_settings(cls, url: str, primary: Database, settings: Settings) -> Replica:
        """The pools on the replica, as the service's role: one for bulk reads, and the
        exports' own, as on the primary."""
        return cls(
            # A busy pool sends the read to the primary after a second, never a 5 s wait.
            Database.from_settings(
                url, settings, pool_size=settings.replica_pool_size, max_overflow=0, pool_timeout=1
            ),
            Database.for_exports(url, settings),
            primary,
            settings,
        )

    async def dispose(self) -> None:
        await self.exports.dispose()
        await self.database.dispose()


def replica_of(request: Request) -> Replica | None:
    replica = getattr(request.app.state, "replica", None)
    return replica if isinstance(replica, Replica) else None


def _may_use(request: Request, replica: Replica | None) -> bool:
    # A request that writes reads what it wrote on the primary.
    return replica is not None and request.method == "GET" and replica.serving


async def _replayed(replica: Replica, connection: Any, position: str) -> bool:
    """Whether the replica can serve a read begun at ``position`` (the primary's WAL then)."""
    try:
        return await replica.caught_up(connection, position)
    except UNREACHABLE as error:
        replica.lost(error)
        return False


async def get_bulk_session(request: Request, session: Session) -> AsyncIterator[AsyncSession]:
    """A read-only transaction for a bulk read: on the replica while it serves and has replayed
    everything committed before now, else the request's own session on the primary."""
    replica = replica_of(request)
    if not _may_use(request, replica):
        if replica is not None:
            REPLICA_READS.labels("primary").inc()
        yield session
        return
    assert replica is not None
    # Where the primary's WAL ends as this read begins, read in the request's own transaction
    # (its access-log entry goes there anyway).
    position = await (await raw.driver(session)).fetchval(POSITION)
    bulk = replica.database.session()
    fresh = False
    try:
        fresh = await _replayed(replica, await raw.driver(bulk), position)
    except PoolTimeout:
        pass  # every connection of the replica busy for a second: this read goes to the primary
    except UNREACHABLE as error:
        replica.lost(error)
    finally:
        if not fresh:
            await bulk.close()  # its connection back before the primary is read
    if not fresh:
        REPLICA_READS.labels("primary").inc()
        yield session
        return
    REPLICA_READS.labels("replica").inc()
    try:
        yield bulk
    finally:
        await bulk.close()


BulkSession = Annotated[AsyncSession, Depends(get_bulk_session, scope="function")]


@dataclass(frozen=True)
class ExportSource:
    """Where an export reads: the replica's export pool while the replica serves and has
    replayed everything committed before the export began (and the export is not the person's
    own), else the primary's."""

    primary: Database
    replica: Replica | None
    # Where the primary's position is read: the API's one-statement pool (one short statement).
    positions: Database

    async def chunks(
        self, produce: Callable[[Database], AsyncIterator[bytes]]
    ) -> AsyncIterator[bytes]:
        """``produce(database)``'s chunks; when the replica's first chunk fails because it went
        away (or its export pool stayed busy), the whole export again from the primary: nothing
        has been sent yet."""
        replica = self.replica if self.replica is not None and await self._fresh() else None
        chunks = produce(replica.exports if replica else self.primary)
        try:
            try:
                first = await anext(aiter(chunks))
            except StopAsyncIteration:
                return
            except UNREACHABLE as error:
                if replica is None:
                    raise
                if not isinstance(error, PoolTimeout):
                    replica.lost(error)
                replica = None
                await _close(chunks)
                chunks = produce(self.primary)
                try:
                    first = await anext(aiter(chunks))
                except StopAsyncIteration:
                    return
            if self.replica is not None:
                REPLICA_READS.labels("replica" if replica else "primary").inc()
            yield first
            async for chunk in chunks:
                yield chunk
        finally:
            await _close(chunks)

    async def _fresh(self) -> bool:
        assert self.replica is not None
        try:
            async with self.positions.statement_connection() as primary:
                position = await primary.fetchval(POSITION)
        except UNREACHABLE:
            return False
        try:
            async with self.replica.database.statement_connection() as connection:
                return await _replayed(self.replica, connection, position)
        except PoolTimeout:
            return False
        except UNREACHABLE as error:
            self.replica.lost(error)
            return False


def export_source(request: Request, *, own: bool) -> ExportSource:
    """The person's own export reads the primary (they see what they just changed); the DPO's,
    the replica while it serves."""
    replica = replica_of(request)
    usable = replica if not own and _may_use(request, replica) else None
    if replica is not None and usable is None:
        REPLICA_READS.labels("primary").inc()
    return ExportSource(get_export_database(request), usable, get_database(request))


async def _close(chunks: AsyncIterator[bytes]) -> None:
    close = getattr(chunks, "aclose", None)
    if close is not None:
        await close()
