"""The scaling rows of `make bench` (issue 16).

1. Workers: `GET /v1/users/{id}` at 32 connections with `registry serve --workers 2` against one
   worker, beside the baseline app's own two-worker and one-worker figures (uvicorn --workers),
   on the bench's database. The service's gain (2 workers / 1) should be at least 0.9 of the
   baseline's.
2. The replica: a write load (recording permission decisions, wrk) on a primary, alone and while
   the DPO's export of the heavy user runs again and again, served from a streaming replica (an
   embedded primary and its standby, `EmbeddedStandby`) and, for comparison, from the primary.
   The write load's throughput should drop by less than 10 % with the replica.

    python -m bench.scaling [--duration 8] [--reps 2]   (on the bench database: run bench.run
                                                         once first)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import psutil
from sqlalchemy.ext.asyncio import create_async_engine

from app.db import migrate
from app.db.embedded import EmbeddedPostgres, EmbeddedStandby

ROOT = Path(__file__).resolve().parents[1]
SERVICE_PORT, BASELINE_PORT, PRIMARY_ONLY_PORT, EXPORTER_PORT = 8100, 8101, 8103, 8104


def log(message: str) -> None:
    print(f"[bench.scaling] {message}", file=sys.stderr, flush=True)


def start_server(
    kind: str, workers: int, port: int, env: dict[str, str], cpus: set[int] | None = None
) -> subprocess.Popen[bytes]:
    from bench.run import listening

    if kind == "service":
        command = [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--no-migrate"]
        command += ["--workers", str(workers)]
    else:
        command = [sys.executable, "-m", "uvicorn", "bench.baseline:app", "--port", str(port)]
        command += ["--workers", str(workers), "--no-access-log", "--log-level", "warning"]
    if cpus is not None:
        command = ["taskset", "-c", ",".join(map(str, sorted(cpus))), *command]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    deadline = time.time() + 90
    while not listening("127.0.0.1", port) or not _workers_up(process, workers):
        if time.time() > deadline or process.poll() is not None:
            raise RuntimeError(f"{kind} ({workers} workers) did not start")
        time.sleep(0.2)
    time.sleep(1.0 if workers > 1 else 0.3)  # every worker past its lifespan's start
    return process


def pin_postgres(pgdata: Path, cpus: set[int]) -> None:
    """Pins a Postgres server (its postmaster, so every backend it starts, and those running)."""
    postmaster = psutil.Process(int((pgdata / "postmaster.pid").read_text().split()[0]))
    for process in [postmaster, *postmaster.children(recursive=True)]:
        process.cpu_affinity(sorted(cpus))


def _workers_up(process: subprocess.Popen[bytes], workers: int) -> bool:
    if workers == 1:
        return True
    try:
        children = psutil.Process(process.pid).children()
    except psutil.NoSuchProcess:
        return False
    # uvicorn's supervisor spawns its workers (and multiprocessing's resource tracker).
    return len(children) >= workers


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def workers_run(
    env: dict[str, str],
    private: list[str],
    staff: tuple[str, str],
    driver: Any,
    reps: int,
) -> dict[str, Any]:
    """read_user at 32 connections: service and baseline, 1 and 2 workers, interleaved."""
    from bench.run import mean_of, token

    runs: dict[tuple[str, int], list[dict[str, float]]] = {}
    for _ in range(reps):
        for kind, port in (("baseline", BASELINE_PORT), ("service", SERVICE_PORT)):
            for workers in (1, 2):
                process = start_server(kind, workers, port, env)
                try:
                    if kind == "service":
                        bearer = await token(port, staff)
                        paths = [f"/v1/users/{i}" for i in private]
                    else:
                        bearer, paths = None, [f"/users/{i}" for i in private]
                    result = await driver.run(
                        f"workers-{kind}-{workers}",
                        port=port,
                        pid=process.pid,
                        method="GET",
                        paths=paths,
                        body=None,
                        bearer=bearer,
                        connections=32,
                    )
                finally:
                    stop_server(process)
                runs.setdefault((kind, workers), []).append(result)
                log(f"{kind} --workers {workers}: {result['rps']:.0f} req/s")
    means = {key: mean_of(values) for key, values in runs.items()}
    figures = {f"{kind}_{workers}": means[(kind, workers)]["rps"] for kind, workers in means}
    service_gain = figures["service_2"] / figures["service_1"]
    baseline_gain = figures["baseline_2"] / figures["baseline_1"]
    return {
        **figures,
        "p99_ms": {f"{k}_{w}": means[(k, w)]["p99_ms"] for k, w in means},
        "service_gain": service_gain,
        "baseline_gain": baseline_gain,
        "gain_ratio": service_gain / baseline_gain,
    }


def workers_row(result: dict[str, Any]) -> list[str]:
    return [
        f"| GET /v1/users/{{id}}, 32 conns, `--workers 2` vs 1: service {result['service_2']:.0f}"
        f" vs {result['service_1']:.0f} req/s = {result['service_gain']:.2f}x; baseline "
        f"{result['baseline_2']:.0f} vs {result['baseline_1']:.0f} req/s = "
        f"{result['baseline_gain']:.2f}x | service's gain / baseline's = "
        f"{result['gain_ratio']:.2f} | ≥ 0.9 | {'yes' if result['gain_ratio'] >= 0.9 else 'NO'} |"
    ]


class ExportLoop:
    """The DPO's export of the heavy user, again and again (curl, to /dev/null), until stopped."""

    def __init__(self, port: int, bearer: str, heavy: str) -> None:  # on the replica's side
        self.command = [
            *("taskset", "-c", "1"),
            "curl",
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{size_download}\\n",
            "-H",
            f"Authorization: Bearer {bearer}",
            f"http://127.0.0.1:{port}/v1/users/{heavy}/export",
        ]
        self.exports: list[tuple[int, int]] = []
        self.stopping = False

    async def run(self) -> None:
        while not self.stopping:
            done = await asyncio.to_thread(
                subprocess.run, self.command, capture_output=True, text=True, check=False
            )
            status, size = done.stdout.split()
            self.exports.append((int(status), int(size)))


async def replica_run(duration: int, reps: int, users: int, driver: Any) -> dict[str, Any]:
    """A write load on an embedded primary, alone and beside exports served from its streaming
    standby or from itself."""
    from bench.generate import load
    from bench.run import (
        DECISION,
        KEY_FILE,
        integrate_queued,
        make_clients,
        mean_of,
        plain,
        private_ids,
        token,
    )

    root = Path(tempfile.mkdtemp(prefix="registry-bench-replica-"))
    primary = EmbeddedPostgres(root / "primary", database="registry", delete=True)
    url = await asyncio.to_thread(primary.start)
    standby: EmbeddedStandby | None = None
    processes: list[subprocess.Popen[bytes]] = []
    try:
        engine = create_async_engine(url)
        async with engine.begin() as connection:
            await migrate.upgrade(connection)
        await engine.dispose()
        log(f"loading {users} users and the heavy user on the primary ...")
        dataset = await load(plain(url), users, 200_000, 20_000, 100_000, 20261126)
        await integrate_queued(url)
        standby = EmbeddedStandby(primary, root / "standby")
        await asyncio.to_thread(standby.start)
        clients = await make_clients(url, str(dataset["recipient"]))
        private = await private_ids(url)
        data_dir = Path(tempfile.mkdtemp(prefix="registry-bench-replica-data-"))
        env = {
            **os.environ,
            "REGISTRY_DATABASE_URL": url,
            "REGISTRY_DATA_DIR": str(data_dir),
            "REGISTRY_GENERATE_KEYS": "true",
            "REGISTRY_PUBLIC_URL": f"http://127.0.0.1:{SERVICE_PORT}",
            "REGISTRY_LOG_LEVEL": "WARNING",
            "REGISTRY_JWT_KEY_ACTIVATION_SECONDS": "0",
            "REGISTRY_TRANSPARENCY_SIGNING_KEY": KEY_FILE.read_text(),
        }
        with_replica = {
            **env,
            "REGISTRY_DATABASE_REPLICA_URL": standby.url_for("registry"),
            "REGISTRY_REPLICA_MAX_LAG_SECONDS": "30",
        }
        # One machine of 2 cores stands in for two: the primary's side (its Postgres, the
        # instance taking the writes, wrk) on core 0, the replica's side (its Postgres, the
        # instance serving the exports, the download) on core 1. Exports go to an instance of
        # their own in every case, configured with the replica or without it: what changes is
        # only which Postgres the export reads.
        pin_postgres(primary.pgdata, {0})
        pin_postgres(standby.pgdata, {1})
        os.sched_setaffinity(0, {0})  # this process and the wrk it starts
        service = start_server("service", 1, SERVICE_PORT, env, {0})
        processes.append(service)
        exporter = start_server("service", 1, EXPORTER_PORT, with_replica, {1})
        processes.append(exporter)
        primary_only = start_server("service", 1, PRIMARY_ONLY_PORT, env, {1})
        processes.append(primary_only)
        staff = await token(SERVICE_PORT, clients["staff"])
        dpo = await token(SERVICE_PORT, clients["dpo"])
        runs: dict[str, list[dict[str, float]]] = {"alone": [], "replica": [], "primary": []}
        exported: dict[str, list[tuple[int, int]]] = {"replica": [], "primary": []}
        for _ in range(reps):
            for case in ("alone", "replica", "primary"):
                loop = None
                if case != "alone":
                    # From the replica, or (the instance without it) from the primary: the
                    # writes share the primary with the export's reads only in the second case.
                    port = EXPORTER_PORT if case == "replica" else PRIMARY_ONLY_PORT
                    loop = ExportLoop(port, dpo, str(dataset["heavy_user"]))
                    running = asyncio.create_task(loop.run())
                    await asyncio.sleep(0.5)
                result = await driver.run(
                    f"replica-{case}",
                    port=SERVICE_PORT,
                    pid=service.pid,
                    method="POST",
                    paths=[f"/v1/users/{i}/permissions" for i in private],
                    body=DECISION,
                    bearer=staff,
                    connections=8,
                )
                if loop is not None:
                    loop.stopping = True
                    await running
                    exported[case] += loop.exports
                runs[case].append(result)
                log(f"writes, {case}: {result['rps']:.0f} req/s")
        metrics = await _replica_reads(EXPORTER_PORT, dpo)
    finally:
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
        for process in processes:
            stop_server(process)
        if standby is not None:
            await asyncio.to_thread(standby.stop)
        await asyncio.to_thread(primary.stop)
    means = {case: mean_of(values) for case, values in runs.items()}
    return {
        "users": users,
        "writes_alone_rps": means["alone"]["rps"],
        "writes_with_replica_export_rps": means["replica"]["rps"],
        "writes_with_primary_export_rps": means["primary"]["rps"],
        "drop_with_replica": 1 - means["replica"]["rps"] / means["alone"]["rps"],
        "drop_with_primary": 1 - means["primary"]["rps"] / means["alone"]["rps"],
        "p99_ms": {case: means[case]["p99_ms"] for case in means},
        "exports": {case: len(done) for case, done in exported.items()},
        "export_statuses": sorted({s for done in exported.values() for s, _ in done}),
        "export_bytes": max((b for done in exported.values() for _, b in done), default=0),
        "replica_reads": metrics,
    }


async def _replica_reads(port: int, bearer: str) -> dict[str, float]:
    import httpx

    async with httpx.AsyncClient() as http:
        text = (
            await http.get(
                f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {bearer}"}
            )
        ).text
    reads = {}
    for line in text.splitlines():
        if line.startswith("registry_replica_reads_total{"):
            name, value = line.rsplit(" ", 1)
            reads[name.split('"')[1]] = float(value)
    return reads


def replica_row(result: dict[str, Any]) -> list[str]:
    drop = result["drop_with_replica"]
    return [
        f"| write load (record a permission, 8 conns) while the DPO's export of the heavy user "
        f"runs again and again from the replica: {result['writes_with_replica_export_rps']:.0f} "
        f"vs {result['writes_alone_rps']:.0f} req/s alone (from the primary instead: "
        f"{result['writes_with_primary_export_rps']:.0f} req/s, "
        f"{100 * result['drop_with_primary']:.0f} % less); each side on a core of its own "
        f"| {100 * drop:.1f} % less | < 10 % | "
        f"{'yes' if drop < 0.10 else 'NO'} |"
    ]


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    from bench.run import (
        DATABASE,
        KEY_FILE,
        RESULTS,
        Driver,
        integrate_queued,
        make_clients,
        prepare,
        private_ids,
        server_url,
        with_database,
    )

    results: dict[str, Any] = {}
    driver = Driver(Path(tempfile.mkdtemp(prefix="registry-wrk-")), args.duration)
    if "workers" in args.only:
        admin_url, embedded = server_url(args)
        try:
            url = with_database(admin_url, DATABASE)
            args.reuse = await _bench_database_exists(admin_url, DATABASE)
            dataset = await prepare(args, admin_url)
            clients = await make_clients(url, dataset["recipient"])
            private = await private_ids(url)
            await integrate_queued(url)
            env = workers_env(url, KEY_FILE)
            results["workers"] = await workers_run(
                env, private, clients["staff"], driver, args.reps
            )
        finally:
            if embedded:
                embedded.stop()
    if "replica" in args.only:
        results["replica"] = await replica_run(args.duration, args.reps, args.replica_users, driver)
    RESULTS.mkdir(parents=True, exist_ok=True)
    latest = RESULTS / "scaling-latest.json"
    # A run of one part (--only) keeps the other's latest figures.
    kept = json.loads(latest.read_text()) if latest.exists() else {}
    latest.write_text(json.dumps({**kept, **results}, indent=2) + "\n")
    return results


def workers_env(url: str, key_file: Path) -> dict[str, str]:
    from bench.run import plain

    return {
        **os.environ,
        "REGISTRY_DATABASE_URL": url,
        "REGISTRY_DATA_DIR": tempfile.mkdtemp(prefix="registry-bench-workers-"),
        "REGISTRY_GENERATE_KEYS": "true",
        "REGISTRY_PUBLIC_URL": f"http://127.0.0.1:{SERVICE_PORT}",
        "REGISTRY_LOG_LEVEL": "WARNING",
        "REGISTRY_DB_POOL_SIZE": "15",
        "REGISTRY_DB_MAX_OVERFLOW": "0",
        "REGISTRY_BENCH_URL": plain(url),
        "POOL": "15",
        **(
            {"REGISTRY_TRANSPARENCY_SIGNING_KEY": key_file.read_text()} if key_file.exists() else {}
        ),
    }


async def _bench_database_exists(admin_url: str, name: str) -> bool:
    from bench.run import RESULTS, plain

    connection = await asyncpg.connect(plain(admin_url))
    try:
        found = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
    finally:
        await connection.close()
    return bool(found) and (RESULTS / "dataset.json").exists()


def rows(results: dict[str, Any]) -> list[str]:
    lines = []
    if results.get("workers"):
        lines += workers_row(results["workers"])
    if results.get("replica"):
        lines += replica_row(results["replica"])
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=8, help="seconds per load run")
    parser.add_argument("--reps", type=int, default=2, help="interleaved repetitions")
    parser.add_argument("--users", type=int, default=1_000_000, help="users of the bench database")
    parser.add_argument(
        "--replica-users", type=int, default=50_000, help="users on the replica's primary"
    )
    parser.add_argument("--only", default="workers,replica")
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    print(
        "\n".join(
            ["| target | measured | goal | met |", "| --- | --- | --- | --- |", *rows(results)]
        )
    )


if __name__ == "__main__":
    main()
