"""The sequencer across processes: two writers and two sequencer processes on one Postgres; the
one holding the sequencer is SIGKILLed. Nothing is lost or integrated twice, and the other takes
over within two seconds."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
from sqlalchemy.ext.asyncio import create_async_engine

from app.audit import verify
from app.audit.logs import ACCESS_LOG, SEQUENCER_LOCK, Signers
from app.core.settings import Settings
from app.db import migrate
from tests.live import LOG_FILES, ROOT

WRITER = """
import asyncio, sys, time, uuid
import asyncpg

async def main(dsn, seconds, name):
    connection = await asyncpg.connect(dsn)
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        rows = [
            (uuid.uuid4(), "client:w", "w", "staff", ["profile"], f"{name}-{n}-{i}")
            for i in range(1 if n % 3 else 20)
        ]
        async with connection.transaction():
            await connection.executemany(
                "INSERT INTO access_log (accessed_at, subject_ref, actor, client_id, role,"
                " categories, operation) VALUES (now(), $1, $2, $3, $4, $5, $6)",
                rows,
            )
        n += 1
        await asyncio.sleep(0.005)
    await connection.close()

asyncio.run(main(sys.argv[1], float(sys.argv[2]), sys.argv[3]))
"""


async def _holder(connection: asyncpg.Connection) -> str | None:
    return await connection.fetchval(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = $1"
        " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        SEQUENCER_LOCK,
    )


async def _until(check, within: float, step: float = 0.02):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(step)
    return None


async def test_a_killed_sequencer_loses_nothing_and_another_takes_over(fresh_database) -> None:  # type: ignore[no-untyped-def]
    url = await fresh_database()
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await migrate.upgrade(connection)
    await engine.dispose()
    data_dir = Path(tempfile.mkdtemp(prefix="registry-sequencer-"))
    settings = Settings(database_url=url, data_dir=data_dir, generate_keys=True, _env_file=None)  # type: ignore[call-arg]
    signers = Signers(settings)  # makes the shared checkpoint key before the processes start
    env = {
        **os.environ,
        "REGISTRY_DATABASE_URL": url,
        "REGISTRY_DATA_DIR": str(data_dir),
        "REGISTRY_GENERATE_KEYS": "true",
    }
    owner_dsn = url.replace("+asyncpg", "", 1)
    app_dsn = owner_dsn.replace("postgres@", "registry_app@", 1)
    processes: list[subprocess.Popen[bytes]] = []

    def start(*args: str, name: str) -> subprocess.Popen[bytes]:
        log = data_dir / f"{name}.log"
        LOG_FILES.append(log)
        process = subprocess.Popen(  # noqa: S603 (our own interpreter)
            [sys.executable, *args],
            cwd=ROOT,
            env=env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        processes.append(process)
        return process

    watcher = await asyncpg.connect(owner_dsn)
    try:
        first = start("-m", "app.cli", "audit", "sequence", name="sequencer-a")
        assert await _until(lambda: _holder(watcher), 20), "the first sequencer took the lock"
        assert await _holder(watcher) == f"registry-sequencer-{first.pid}"
        second = start("-m", "app.cli", "audit", "sequence", name="sequencer-b")
        writers = [start("-c", WRITER, app_dsn, "6", f"w{n}", name=f"writer-{n}") for n in (1, 2)]
        await asyncio.sleep(2.5)
        assert await watcher.fetchval("SELECT count(*) FROM transparency_leaves") > 0

        first.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        signed_before = await watcher.fetchval(
            "SELECT max(tree_size) FROM transparency_checkpoints WHERE log = 2"
        )

        async def taken_over() -> bool:
            holder = await _holder(watcher)
            newest = await watcher.fetchval(
                "SELECT max(tree_size) FROM transparency_checkpoints WHERE log = 2"
            )
            return holder == f"registry-sequencer-{second.pid}" and newest > signed_before

        assert await _until(taken_over, 5), "the second sequencer took over"
        took = time.monotonic() - killed_at
        assert took < 2.0, f"took over after {took:.2f} s"

        for writer in writers:
            assert await asyncio.to_thread(writer.wait, 30) == 0

        async def drained() -> bool:
            queued = await watcher.fetchval("SELECT count(*) FROM transparency_queue")
            signed = await watcher.fetchval(
                "SELECT max(tree_size) FROM transparency_checkpoints WHERE log = 2"
            )
            leaves = await watcher.fetchval(
                "SELECT count(*) FROM transparency_leaves WHERE log = 2"
            )
            return queued == 0 and signed == leaves

        assert await _until(drained, 10), "everything written was integrated and signed"
        entries = await watcher.fetchval("SELECT count(*) FROM access_log")
        leaves = await watcher.fetchrow(
            "SELECT count(*), count(DISTINCT entry_id), min(leaf_index), max(leaf_index)"
            " FROM transparency_leaves WHERE log = 2"
        )
        assert entries > 100
        assert tuple(leaves) == (entries, entries, 0, entries - 1), "each entry exactly once"
        async with watcher.transaction():
            report = await verify.verify(watcher, ACCESS_LOG, signers, full=True)
        assert report.ok and report.tree_size == entries, report.as_dict()
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()
        await watcher.close()
