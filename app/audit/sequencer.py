"""The sequencer: puts committed log entries into their Merkle trees and signs checkpoints.

One process at a time holds it, across every worker and instance, by a session-level Postgres
advisory lock on its own connection. The others stand by, trying the lock every half second; when
the holder dies its connection closes, Postgres releases the lock and the next one takes over.

A round takes, in one transaction on that connection, the queued entries (committed ones only:
the queue row is written by a trigger in the writer's transaction), in the order they became
visible, by id within a round; gives them the next leaf indices; stores their leaf hashes and the
subtrees they complete; and signs a checkpoint of the new size. A round that dies rolls back whole,
so an entry is never lost nor integrated twice (the leaves' keys refuse a second time anyway).
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg

from app.audit import merkle, tree
from app.audit.logs import LOGS, SEQUENCER_LOCK, Log, Signers
from app.audit.note import Checkpoint
from app.core.logging import get_logger
from app.core.metrics import TRANSPARENCY_LAG, TRANSPARENCY_OLDEST_QUEUED

log = get_logger("app.audit.sequencer")

BATCH = 20_000


async def publish(connection: Any, log_: Log, signers: Signers, size: int, root: bytes) -> str:
    checkpoint = Checkpoint(signers.origin(log_), size, root)
    note = signers.signer(log_).sign(checkpoint.body())
    await connection.execute(
        "INSERT INTO transparency_checkpoints (log, tree_size, root_hash, note, created_at)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        log_.id,
        size,
        root,
        note,
        datetime.now(UTC),
    )
    return note


class TreeDamaged(RuntimeError):
    """The stored tree is not what the checkpoints signed: the sequencer stops rather than build
    on it (``registry audit verify`` names what is wrong)."""


async def signed_size(connection: Any, log_: Log, signers: Signers) -> int:
    """The size the next leaf goes after: the latest checkpoint's. Every round writes its leaves
    and its checkpoint together, so leaves beyond the checkpoint were written by someone else.
    Only before the first checkpoint (the migration that integrated the chained entries) are
    unsigned leaves expected, and they are signed now if they are whole."""
    latest = await tree.latest_checkpoint(connection, log_)
    # The highest leaf only (an index's last entry): this runs every round. Gaps below it are
    # for ``registry audit verify`` to name.
    size = await tree.size(connection, log_)
    if latest is None:
        await publish(connection, log_, signers, size, await tree.root(connection, log_, size))
        return size
    if size != latest.tree_size:
        raise TreeDamaged(
            f"{log_.name}: {size} leaves are stored but the latest checkpoint signs "
            f"{latest.tree_size}"
        )
    return size


async def integrate(connection: Any, log_: Log, signers: Signers, batch: int = BATCH) -> int:
    """One round for one log, in a transaction (a savepoint inside the caller's); returns how
    many entries it integrated."""
    async with connection.transaction():
        queued = await connection.fetch(
            "DELETE FROM transparency_queue WHERE log = $1 AND entry_id IN"
            " (SELECT entry_id FROM transparency_queue WHERE log = $1"
            "  ORDER BY entry_id LIMIT $2)"
            " RETURNING entry_id, queued_at, extract(epoch FROM clock_timestamp() - queued_at)",
            log_.id,
            batch,
        )
        size = await signed_size(connection, log_, signers)
        if not queued:
            return 0
        queued_at = {row[0]: row[1] for row in queued}
        rows = await connection.fetch(
            f"SELECT {log_.model.columns_sql()} FROM {log_.table}"  # noqa: S608
            " WHERE id = ANY($1::bigint[]) ORDER BY id",
            list(queued_at),
        )
        if len(rows) != len(queued_at):
            missing = sorted(set(queued_at) - {row["id"] for row in rows})
            raise RuntimeError(f"{log_.name}: queued entries {missing[:5]} are not in the log")
        frontier = await tree.frontier(connection, log_, size)
        now = datetime.now(UTC)
        leaves: list[tuple[Any, ...]] = []
        nodes: list[tuple[int, int, int, bytes]] = []
        for row in rows:
            leaf = merkle.leaf_hash(log_.model.entry_bytes(row))
            leaves.append((log_.id, frontier.size, row["id"], leaf, queued_at[row["id"]], now))
            nodes.extend((log_.id, level, index, h) for level, index, h in frontier.append(leaf))
        await connection.copy_records_to_table(
            "transparency_leaves",
            records=leaves,
            columns=["log", "leaf_index", "entry_id", "leaf_hash", "queued_at", "integrated_at"],
        )
        if nodes:
            await connection.copy_records_to_table(
                "transparency_nodes", records=nodes, columns=["log", "level", "idx", "hash"]
            )
        await publish(connection, log_, signers, frontier.size, frontier.root())
    for row in queued:
        TRANSPARENCY_LAG.labels(log_.name).observe(float(row[2]))
    return len(rows)


async def integrate_all(connection: Any, signers: Signers) -> int:
    """Rounds for every log until the queues are empty."""
    total = 0
    for log_ in LOGS.values():
        while True:
            done = await integrate(connection, log_, signers)
            total += done
            if done < BATCH:
                break
        waited = await connection.fetchval(
            "SELECT coalesce(extract(epoch FROM clock_timestamp() - min(queued_at)), 0)"
            " FROM transparency_queue WHERE log = $1",
            log_.id,
        )
        TRANSPARENCY_OLDEST_QUEUED.labels(log_.name).set(float(waited))
    return total


class Sequencer:
    """The loop every service process runs: stand by, or sequence while holding the lock."""

    def __init__(self, dsn: str, signers: Signers, max_merge_delay: float) -> None:
        self.dsn = dsn
        self.signers = signers
        self.interval = max_merge_delay / 4
        self.standby = min(0.5, max_merge_delay / 2)
        self.holding = False

    async def run(self) -> None:
        while True:
            try:
                connection = await asyncpg.connect(
                    self.dsn,
                    # Names the process, so an operator sees which one holds the sequencer.
                    server_settings={"application_name": f"registry-sequencer-{os.getpid()}"},
                )
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("sequencer_cannot_connect", error=type(error).__name__)
                await asyncio.sleep(self.standby)
                continue
            try:
                await self._hold(connection)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("sequencer_connection_lost", error=type(error).__name__)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Never die quietly: logged with its stack, the lock given back, tried again.
                log.exception("sequencer_round_failed")
                await asyncio.sleep(5 * self.standby)
            finally:
                if self.holding:
                    log.info("sequencer_released")
                    # Another process reports the queue from now on.
                    for log_ in LOGS.values():
                        TRANSPARENCY_OLDEST_QUEUED.labels(log_.name).set(0)
                self.holding = False
                connection.terminate()
            await asyncio.sleep(self.standby)

    async def _hold(self, connection: Any) -> None:
        # Polling Postgres for the lock, not a flag in this process.
        while not await connection.fetchval(  # noqa: ASYNC110
            "SELECT pg_try_advisory_lock($1)", SEQUENCER_LOCK
        ):
            await asyncio.sleep(self.standby)
        self.holding = True
        log.info("sequencer_took_over")
        while True:
            started = time.monotonic()
            await integrate_all(connection, self.signers)
            await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - started)))
