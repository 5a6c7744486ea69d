"""An import run: the file read in batches, each validated (in worker processes for a large file)
and written in its own transaction, with the run's progress, so that an interrupted import run
again with the same file finishes the work. A dry run writes nothing: every batch is undone."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from itertools import islice
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import asyncpg

from app.imports import permissions, records, users
from app.imports.batch import PROBE_BY_INDEX, Context, Result
from app.imports.rows import BadFile, Raw, Reject, read_rows, validate

APPLY: dict[str, Callable[[Any, Context, list[Raw]], Awaitable[Result]]] = {
    "users": users.apply,
    "permissions": permissions.apply,
    "contracts": records.apply_contracts,
    "billing": records.apply_billing,
}
# Files smaller than this are validated in this process: starting workers costs more.
WORKERS_FROM_BYTES = 4 * 1024 * 1024
REJECT_HEADER = ("row", "external_id", "column", "reason", "detail")


@dataclass(frozen=True)
class Options:
    kind: str
    path: Path
    dsn: str
    batch_size: int = 5000
    dry_run: bool = False
    workers: int | None = None  # None: one per core for a large file
    allow_temporary_identity_codes: bool = False


def measure(path: Path) -> tuple[str, int]:
    """The file's SHA-256 and its number of lines (for the progress bar), in one read."""
    digest = hashlib.sha256()
    lines = 0
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
            lines += chunk.count(b"\n")
    return digest.hexdigest(), lines


def reject_path(path: Path) -> Path:
    return path.with_name(path.name + ".rejects.csv")


def _batches(rows: Iterator[Raw], size: int) -> Iterator[list[Raw]]:
    while batch := list(islice(rows, size)):
        yield batch


class Progress:
    """Rows, rows a second and time left, on a terminal (stderr); nothing elsewhere."""

    def __init__(self, path: Path, total: int, enabled: bool) -> None:
        self.total = max(total, 1)
        self.rows = 0
        self._bar: Any = None
        if enabled:
            from rich.progress import (
                BarColumn,
                TaskProgressColumn,
                TextColumn,
                TimeRemainingColumn,
            )
            from rich.progress import (
                Progress as Bar,
            )

            self._bar = Bar(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[rows]:,} rows, {task.fields[rate]:,.0f} rows/s"),
                TimeRemainingColumn(),
                transient=True,
            )
            self._task = self._bar.add_task(path.name, total=self.total, rows=0, rate=0.0)
            self._bar.start()
        self._started = time.monotonic()

    def advance(self, rows: int) -> None:
        self.rows += rows
        if self._bar is not None:
            rate = self.rows / max(time.monotonic() - self._started, 1e-6)
            self._bar.update(
                self._task, completed=min(self.rows, self.total), rows=self.rows, rate=rate
            )

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()


async def run(
    options: Options,
    context_for: Callable[[int, str], Context],
    *,
    progress: bool = False,
) -> dict[str, Any]:
    """Imports the file; returns the summary (read, inserted, updated, unchanged, rejected per
    reason, seconds), which covers the batches an earlier, interrupted run committed too."""
    started = time.monotonic()
    # A file that cannot be read (its header, its encoding at the start) is refused before any
    # run is recorded for it.
    next(read_rows(options.kind, options.path), None)
    checksum, lines = await asyncio.to_thread(measure, options.path)
    workers = options.workers
    if workers is None:
        workers = os.cpu_count() or 1 if options.path.stat().st_size >= WORKERS_FROM_BYTES else 0
    pool: Executor | None = (
        ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
        if workers
        else None
    )
    connection = await asyncpg.connect(options.dsn)
    outer = connection.transaction() if options.dry_run else None
    bar = Progress(options.path, lines, progress)
    try:
        if outer is not None:
            await outer.start()
        run_id, batch_size, done = await _start(connection, options, checksum)
        context = context_for(run_id, checksum)
        await _import(connection, options, context, batch_size, done, pool, bar)
        counts = await _finish(connection, options, run_id)
    finally:
        bar.stop()
        if outer is not None:
            await outer.rollback()
        await connection.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return _summary(options, checksum, counts, time.monotonic() - started)


async def _start(connection: Any, options: Options, checksum: str) -> tuple[int, int, int]:
    """The unfinished run of this kind and file (resumed), or a new one. One process at a time
    imports a file: the lock is the session's, held until the connection closes."""
    if not await connection.fetchval(
        "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", f"import:{options.kind}:{checksum}"
    ):
        raise BadFile("another process is importing this file now; wait for it to finish")
    if not options.dry_run:
        found = await connection.fetchrow(
            "SELECT id, batch_size, batches_done FROM import_runs "
            "WHERE kind = $1 AND sha256 = $2 AND finished_at IS NULL FOR UPDATE",
            options.kind,
            checksum,
        )
        if found is not None:
            return found[0], found[1], found[2]
    # A dry run starts from the first row, whatever an interrupted real run did (its own run is
    # marked finished at once: it never stands for a run to resume, and is rolled back anyway).
    run_id = await connection.fetchval(
        "INSERT INTO import_runs (kind, file_name, sha256, batch_size, finished_at) "
        "VALUES ($1, $2, $3, $4, CASE WHEN $5 THEN now() END) RETURNING id",
        options.kind,
        options.path.name[:255],
        checksum,
        options.batch_size,
        options.dry_run,
    )
    return run_id, options.batch_size, 0


async def _import(
    connection: Any,
    options: Options,
    context: Context,
    batch_size: int,
    done: int,
    pool: Executor | None,
    bar: Progress,
) -> None:
    loop = asyncio.get_running_loop()
    check = partial(
        validate,
        options.kind,
        allow_temporary=options.allow_temporary_identity_codes,
    )
    batches = _batches(read_rows(options.kind, options.path), batch_size)
    # Batches already committed by an interrupted run of this file are read past, not redone.
    for skipped in islice(batches, done):
        bar.advance(len(skipped))
    pending: list[asyncio.Future[tuple[list[Raw], list[Reject]]]] = []
    numbers: list[int] = []
    ahead = max(2, (getattr(pool, "_max_workers", 0) or 0) + 1)

    def submit() -> bool:
        batch = next(batches, None)
        if batch is None:
            return False
        if pool is not None:
            pending.append(loop.run_in_executor(pool, check, batch))
        else:
            future: asyncio.Future[tuple[list[Raw], list[Reject]]] = loop.create_future()
            future.set_result(check(batch))
            pending.append(future)
        numbers.append(len(batch))
        return True

    while len(pending) < ahead and submit():
        pass
    batch_number = done
    while pending:
        valid, rejects = await pending.pop(0)
        count = numbers.pop(0)
        submit()
        await _write_batch(connection, options, context, batch_number, count, valid, rejects)
        batch_number += 1
        bar.advance(count)


async def _write_batch(
    connection: Any,
    options: Options,
    context: Context,
    batch_number: int,
    count: int,
    valid: list[Raw],
    rejects: list[Reject],
) -> None:
    """One transaction: the batch's rows, its rejects, and the run's progress. A batch that a
    concurrent writer made conflict (a username taken meanwhile) is tried once more."""
    for attempt in (1, 2):
        try:
            async with connection.transaction():
                await connection.execute(PROBE_BY_INDEX)
                result = (
                    await APPLY[options.kind](connection, context, valid) if valid else Result()
                )
                result.rejects = rejects + result.rejects
                await connection.copy_records_to_table(
                    "import_rejects",
                    records=[
                        (context.run_id, r.row, r.external_id, r.column, r.reason, r.detail)
                        for r in result.rejects
                    ],
                    columns=[
                        "run_id",
                        "row_number",
                        "external_id",
                        "column_name",
                        "reason",
                        "detail",
                    ],
                )
                await connection.execute(
                    """
                    UPDATE import_runs SET batches_done = $2, rows_done = rows_done + $3,
                        counts = (SELECT coalesce(jsonb_object_agg(key, total), '{}')
                                  FROM (SELECT key, sum(value::bigint) AS total
                                        FROM (SELECT * FROM jsonb_each_text(counts)
                                              UNION ALL
                                              SELECT * FROM jsonb_each_text($4::jsonb)) t
                                        GROUP BY key) s)
                    WHERE id = $1
                    """,
                    context.run_id,
                    batch_number + 1,
                    count,
                    json.dumps(dict(result.counts())),
                )
            return
        except asyncpg.UniqueViolationError:
            if attempt == 2:
                raise


async def _finish(connection: Any, options: Options, run_id: int) -> Counter[str]:
    """Writes the reject file from the run's rejects, then closes the run."""
    target = reject_path(options.path)
    partial_file = target.with_name(target.name + ".part")
    with partial_file.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(REJECT_HEADER)
        async with connection.transaction():
            cursor = connection.cursor(
                "SELECT row_number, external_id, column_name, reason, detail FROM import_rejects "
                "WHERE run_id = $1 ORDER BY row_number, id",
                run_id,
            )
            async for record in cursor:
                writer.writerow(tuple(record))
    os.replace(partial_file, target)
    async with connection.transaction():
        counts = await connection.fetchval(
            "UPDATE import_runs SET finished_at = now() WHERE id = $1 RETURNING counts", run_id
        )
        await connection.execute("DELETE FROM import_keys WHERE run_id = $1", run_id)
        await connection.execute("DELETE FROM import_rejects WHERE run_id = $1", run_id)
    return Counter({k: int(v) for k, v in json.loads(counts).items()})


def _summary(
    options: Options, checksum: str, counts: Counter[str], seconds: float
) -> dict[str, Any]:
    rejected = {
        k.split(":", 1)[1]: v for k, v in sorted(counts.items()) if k.startswith("rejected:")
    }
    inserted, updated, unchanged = counts["inserted"], counts["updated"], counts["unchanged"]
    return {
        "kind": options.kind,
        "file": options.path.name,
        "sha256": checksum,
        "dry_run": options.dry_run,
        "read": inserted + updated + unchanged + sum(rejected.values()),
        "inserted": inserted,
        "updated": updated,
        "unchanged": unchanged,
        "rejected": sum(rejected.values()),
        "rejected_by_reason": rejected,
        "rejects_file": str(reject_path(options.path)),
        "seconds": round(seconds, 3),
    }
