"""`make bench`: the service against its baseline on the same data, one table of figures.

Loads a fresh database (bench/generate.py), starts the service, the baseline (bench/baseline.py)
and the service without disclosure logging (bench/nolog.py), one uvicorn worker each, and drives
them with wrk (or, without wrk, a bounded asyncio + httpx driver) at 32 connections and at 1,
interleaving repetitions. Prints req/s, p50/p99 and CPU per request, each service figure as a
ratio to its baseline from the same run, and whether each target is met. Writes
bench/results/latest.json and latest.md.

    python -m bench.run [--users 1000000] [--duration 8] [--reps 2] [--reuse]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app.auth import service as auth_service
from app.auth.models import Client
from app.core.pagination import encode_cursor
from app.db import migrate
from app.db.embedded import EmbeddedPostgres
from bench.imports import import_run
from bench.imports import row as import_row
from bench.scaling import replica_run, workers_env, workers_run
from bench.scaling import rows as scaling_rows

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DATABASE = "registry_bench"
PORTS = {"service": 8100, "baseline": 8101, "nolog": 8102}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def listening(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def server_url(args: argparse.Namespace) -> tuple[str, EmbeddedPostgres | None]:
    """A postgresql+asyncpg URL of a maintenance database on the server to use."""
    if os.environ.get("REGISTRY_BENCH_SERVER_URL"):
        return os.environ["REGISTRY_BENCH_SERVER_URL"], None
    if listening("127.0.0.1", 5432):
        return "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres", None
    embedded = EmbeddedPostgres(ROOT / "var" / "bench-postgres", database="postgres")
    return embedded.start(), embedded


def with_database(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    base = base.rsplit("/", 1)[0] + "/" + name
    return base + ("?" + query if query else "")


def plain(url: str) -> str:
    """asyncpg's own form of a SQLAlchemy URL (unix sockets as ?host=)."""
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def prepare(args: argparse.Namespace, admin_url: str) -> dict[str, Any]:
    url = with_database(admin_url, DATABASE)
    meta_file = RESULTS / "dataset.json"
    if args.reuse and meta_file.exists():
        # The loaded data stays; the schema follows the code (new migrations apply).
        engine = create_async_engine(url)
        async with engine.begin() as connection:
            await migrate.upgrade(connection)
        await engine.dispose()
        return json.loads(meta_file.read_text())
    admin = await asyncpg.connect(plain(admin_url))
    await admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{DATABASE}"')
    await admin.close()
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await migrate.upgrade(connection)
    await engine.dispose()
    from bench.generate import load

    log(f"loading {args.users} users, 200 000 events and 20 000 disclosures ...")
    dataset = await load(plain(url), args.users, 200_000, 20_000, 1_000_000, 20261125)
    log(f"loaded: {dataset['seconds']}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta_file.write_text(json.dumps(dataset, indent=2))
    return dataset


# The permission decision the write loads record.
DECISION = json.dumps(
    {
        "source": "customer_service_call",
        "language": "fi",
        "decisions": [
            {
                "purpose": "direct_marketing",
                "channel": "email",
                "decision": "granted",
                "notice_version": 1,
            }
        ],
    }
)


async def private_ids(url: str, limit: int = 2000) -> list[str]:
    """The first private users by id: the paths the read and write loads go through."""
    connection = await asyncpg.connect(plain(url))
    try:
        rows = await connection.fetch(
            "SELECT id FROM users WHERE kind = 'private' ORDER BY id LIMIT $1", limit
        )
    finally:
        await connection.close()
    return [str(row[0]) for row in rows]


async def make_clients(url: str, recipient: str) -> dict[str, tuple[str, str]]:
    engine = create_async_engine(url)
    clients = {}
    async with AsyncSession(engine) as session, session.begin():
        for role in ("staff", "dpo", "partner"):
            clients[role] = await auth_service.create_client(
                session, name=f"bench {role}", role=role, scopes=None
            )
        await session.execute(
            update(Client)
            .where(Client.client_id == clients["partner"][0])
            .values(recipient_id=uuid.UUID(recipient))
        )
    await engine.dispose()
    return clients


def start(
    name: str, target: str, env: dict[str, str], factory: bool = False
) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        target,
        "--port",
        str(PORTS[name]),
        "--workers",
        "1",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    if factory:
        command.append("--factory")
    if name == "service":
        # As deployed: `registry serve`, uvicorn with the service's connection deadlines.
        command = [sys.executable, "-m", "app.cli", "serve", "--port", str(PORTS[name])]
        command.append("--no-migrate")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not listening("127.0.0.1", PORTS[name]):
        if time.time() > deadline or process.poll() is not None:
            raise RuntimeError(f"{name} did not start")
        time.sleep(0.2)
    return process


async def token(port: int, client: tuple[str, str]) -> str:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"http://127.0.0.1:{port}/v1/auth/token",
            data={"grant_type": "client_credentials"},
            auth=client,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def lua_script(
    directory: Path, name: str, method: str, paths: list[str], body: str | None, bearer: str | None
) -> Path:
    headers = ['["Content-Type"]="application/json"']
    if bearer and bearer.startswith("Basic "):
        # The token endpoint: a form body and the client's Basic credentials.
        headers = [
            '["Content-Type"]="application/x-www-form-urlencoded"',
            f'["Authorization"]="{bearer}"',
        ]
    elif bearer:
        headers.append(f'["Authorization"]="Bearer {bearer}"')
    quoted = ",".join(f'"{p}"' for p in paths)
    body_lua = json.dumps(body) if body is not None else "nil"
    script = directory / f"{name}.lua"
    script.write_text(
        f"local paths = {{{quoted}}}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i + 1\n"
        f'  return wrk.format("{method}", paths[(i % #paths) + 1], {{{", ".join(headers)}}}, '
        f"{body_lua})\n"
        "end\n"
    )
    return script


def wrk(port: int, script: Path, connections: int, duration: int, pid: int) -> dict[str, float]:
    threads = 2 if connections > 1 else 1
    before = cpu_seconds(pid)
    output = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cpu = cpu_seconds(pid) - before
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", output, re.M))
    return {
        "rps": rps,
        "p50_ms": _ms(latency["50"]),
        "p99_ms": _ms(latency["99"]),
        "cpu_ms_per_request": 1000 * cpu / max(total, 1),
        "errors": int(errors.group(1)) if errors else 0,
    }


async def httpx_load(
    port: int,
    method: str,
    paths: list[str],
    body: str | None,
    bearer: str | None,
    connections: int,
    duration: int,
    pid: int,
) -> dict[str, float]:
    """The fallback driver when wrk is missing: bounded in time and in connections."""
    headers = {"Content-Type": "application/json"}
    if bearer and bearer.startswith("Basic "):
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": bearer}
    elif bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    latencies: list[float] = []
    errors = 0
    before = cpu_seconds(pid)
    deadline = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits) as http:

        async def worker(offset: int) -> None:
            nonlocal errors
            index = offset
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await http.request(
                    method, paths[index % len(paths)], content=body, headers=headers
                )
                latencies.append((time.perf_counter() - started) * 1000)
                errors += response.status_code >= 300
                index += connections

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(connections)))
        elapsed = time.perf_counter() - started
    cpu = cpu_seconds(pid) - before
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2],
        "p99_ms": latencies[int(len(latencies) * 0.99)],
        "cpu_ms_per_request": 1000 * cpu / max(len(latencies), 1),
        "errors": errors,
    }


class Driver:
    def __init__(self, directory: Path, duration: int) -> None:
        self.directory = directory
        self.duration = duration
        self.use_wrk = shutil.which("wrk") is not None

    async def run(
        self,
        name: str,
        port: int,
        pid: int,
        method: str,
        paths: list[str],
        body: str | None,
        bearer: str | None,
        connections: int,
    ) -> dict[str, float]:
        if self.use_wrk:
            script = lua_script(self.directory, name, method, paths, body, bearer)
            return await asyncio.to_thread(wrk, port, script, connections, self.duration, pid)
        return await httpx_load(port, method, paths, body, bearer, connections, self.duration, pid)


def mean_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.mean(run[key] for run in runs) for key in runs[0]}


async def compare(
    driver: Driver, reps: int, label: str, service: dict[str, Any], baseline: dict[str, Any]
) -> list[dict[str, Any]]:
    rows = []
    for connections in (32, 1):
        runs: dict[str, list[dict[str, float]]] = {"service": [], "baseline": []}
        for _ in range(reps):  # interleaved: baseline, service, baseline, service
            for side, spec in (("baseline", baseline), ("service", service)):
                runs[side].append(
                    await driver.run(f"{label}-{side}", connections=connections, **spec)
                )
        result = {side: mean_of(values) for side, values in runs.items()}
        rows.append(
            {
                "target": label,
                "connections": connections,
                **result,
                "ratio": result["service"]["rps"] / result["baseline"]["rps"],
            }
        )
        log(
            f"{label} c={connections}: service {result['service']['rps']:.0f} req/s, "
            f"baseline {result['baseline']['rps']:.0f} req/s"
        )
    return rows


async def audience_depth(
    port: int, bearer: str, deep_cursor: str, rounds: int = 25
) -> dict[str, float]:
    timings: dict[str, list[float]] = {"first": [], "deep": []}
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {bearer}"}
    ) as http:
        for index in range(rounds * 2):
            which = "first" if index % 2 == 0 else "deep"
            params = {"channel": "email", "limit": 100}
            if which == "deep":
                params["cursor"] = deep_cursor
            started = time.perf_counter()
            response = await http.get("/v1/audiences/direct_marketing", params=params)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200 and len(response.json()["items"]) == 100
            if index >= 2:  # the first pair warms up
                timings[which].append(elapsed)
    first, deep = statistics.median(timings["first"]), statistics.median(timings["deep"])
    return {"first_page_ms": first, "deep_page_ms": deep, "ratio": deep / first}


async def export_run(port: int, pid: int, bearer: str, heavy: str, url: str) -> dict[str, float]:
    process = psutil.Process(pid)
    samples: list[int] = []

    async def sample(stop: asyncio.Event) -> None:
        while not stop.is_set():
            samples.append(process.memory_info().rss)
            await asyncio.sleep(0.01)

    results = []
    for _ in range(3):
        baseline_rss = process.memory_info().rss
        samples.clear()
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample(stop))
        size = 0
        started = time.perf_counter()
        async with (
            httpx.AsyncClient(timeout=300) as http,
            http.stream(
                "GET",
                f"http://127.0.0.1:{port}/v1/users/{heavy}/export",
                headers={"Authorization": f"Bearer {bearer}"},
            ) as response,
        ):
            async for chunk in response.aiter_bytes():
                size += len(chunk)
        export_seconds = time.perf_counter() - started
        stop.set()
        await sampler
        connection = await asyncpg.connect(plain(url))
        received = [0]

        async def collect(data: bytes, received: list[int] = received) -> None:
            received[0] += len(data)

        started = time.perf_counter()
        await connection.copy_from_query(
            "SELECT * FROM events WHERE user_id = $1 ORDER BY occurred_at, id",
            uuid.UUID(heavy),
            output=collect,
        )
        copy_seconds = time.perf_counter() - started
        await connection.close()
        results.append(
            {
                "export_seconds": export_seconds,
                "copy_seconds": copy_seconds,
                "ratio": export_seconds / copy_seconds,
                "export_bytes": size,
                "peak_rss_growth_mib": (max(samples) - baseline_rss) / 2**20,
            }
        )
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    admin_url, embedded = server_url(args)
    url = with_database(admin_url, DATABASE)
    dataset = await prepare(args, admin_url)
    integration = await transparency_prepare(url)
    clients = await make_clients(url, dataset["recipient"])
    data_dir = Path(tempfile.mkdtemp(prefix="registry-bench-"))
    env = {
        **os.environ,
        "REGISTRY_DATABASE_URL": url,
        "REGISTRY_DATA_DIR": str(data_dir),
        "REGISTRY_GENERATE_KEYS": "true",
        # One issuer for the instances behind one address (the service and the no-log variant
        # take each other's tokens), as in a deployment.
        "REGISTRY_PUBLIC_URL": f"http://127.0.0.1:{PORTS['service']}",
        "REGISTRY_LOG_LEVEL": "WARNING",
        "REGISTRY_DB_POOL_SIZE": "15",
        "REGISTRY_DB_MAX_OVERFLOW": "0",
        "REGISTRY_REGISTRATIONS_PER_MINUTE": "1000000",
        "REGISTRY_REGISTRATIONS_PER_ADDRESS_PER_HOUR": "1000000",
        "REGISTRY_BENCH_URL": plain(url),
        "POOL": "15",
        "REGISTRY_TRANSPARENCY_SIGNING_KEY": KEY_FILE.read_text(),
    }
    # The service runs the sequencer (as deployed, in one of its processes); the variant without
    # logging does not.
    processes = {
        "service": start("service", "app.main:create_app", env, factory=True),
        "baseline": start("baseline", "bench.baseline:app", env),
        "nolog": start(
            "nolog", "bench.nolog:app", {**env, "REGISTRY_TRANSPARENCY_SEQUENCER": "false"}
        ),
    }
    try:
        private = await private_ids(url)
        pool = await asyncpg.connect(plain(url))
        companies = [
            str(r[0])
            for r in await pool.fetch(
                "SELECT id FROM users WHERE kind = 'company' ORDER BY id LIMIT 1000"
            )
        ]
        deep = await pool.fetchval(
            "SELECT id FROM users ORDER BY id OFFSET $1 LIMIT 1", int(args.users * 0.9)
        )
        await pool.close()
        tokens = {role: await token(PORTS["service"], client) for role, client in clients.items()}
        driver = Driver(Path(tempfile.mkdtemp(prefix="registry-wrk-")), args.duration)
        pids = {name: p.pid for name, p in processes.items()}
        rows = []
        wanted = (
            set(args.only.split(","))
            if args.only
            else {
                *TARGETS,
                "audience",
                "export",
                "erasure",
                "verify",
                "import",
                "workers",
                "replica",
            }
        )
        tokens["partner"] = await token(PORTS["service"], clients["partner"])
        decision = DECISION
        release = json.dumps(
            {
                "purpose": "group_direct_marketing",
                "categories": ["name", "email"],
                "user_ids": companies[:100],
            }
        )

        def spec(name: str, method: str, paths: list[str], body: str | None, bearer: str | None):  # type: ignore[no-untyped-def]
            return {
                "port": PORTS[name],
                "pid": pids[name],
                "method": method,
                "paths": paths,
                "body": body,
                "bearer": bearer,
            }

        specs = {
            "read_user": (
                spec("service", "GET", [f"/v1/users/{i}" for i in private], None, tokens["staff"]),
                spec("baseline", "GET", [f"/users/{i}" for i in private], None, None),
            ),
            "record_permission": (
                spec(
                    "service",
                    "POST",
                    [f"/v1/users/{i}/permissions" for i in private],
                    decision,
                    tokens["staff"],
                ),
                spec(
                    "baseline",
                    "POST",
                    [f"/users/{i}/inserts" for i in private],
                    json.dumps({"decision": "granted"}),
                    None,
                ),
            ),
            "release_100": (
                spec("service", "POST", ["/v1/disclosures"], release, tokens["partner"]),
                spec("nolog", "POST", ["/v1/disclosures"], release, tokens["partner"]),
            ),
        }
        basic = "Basic " + base64.b64encode(":".join(clients["staff"]).encode()).decode()
        grant = "grant_type=client_credentials"
        specs["token"] = (
            spec("service", "POST", ["/v1/auth/token"], grant, basic),
            spec("baseline", "GET", [f"/users/{i}" for i in private], None, None),
        )
        lag = None
        for label in TARGETS:
            if label in wanted:
                since = time.time()
                rows += await compare(driver, args.reps, label, *specs[label])
                if label == "release_100":
                    await asyncio.sleep(2)  # the last entries' merge delay
                    lag = await sequencer_lag(url, since)
                    log(f"sequencer lag under the release load: {lag}")
        tokens["dpo"] = await token(PORTS["service"], clients["dpo"])
        audience = export = None
        if "audience" in wanted:
            audience = await audience_depth(
                PORTS["service"], tokens["dpo"], encode_cursor([str(deep)])
            )
            log(f"audience: {audience}")
        if "export" in wanted:
            # The load above appended hundreds of thousands of log entries; give the planner the
            # statistics autovacuum would have given it by now.
            analyze = await asyncpg.connect(plain(url))
            await analyze.execute("ANALYZE disclosure_log; ANALYZE access_log")
            await analyze.close()
            export = await export_run(
                PORTS["service"], pids["service"], tokens["dpo"], dataset["heavy_user"], url
            )
            log(f"export: {export}")
        verified = None
        if "verify" in wanted:
            verified = await verify_run(url)
            log(f"verify: {verified}")
        erasure = None
        if "erasure" in wanted:
            erasure = await erasure_run(url, dataset["heavy_user"])
            log(f"erasure: {erasure}")
        imported = None
        if "import" in wanted:
            # With the services stopped: the importer and its database have the machine.
            for process in processes.values():
                process.terminate()
                process.wait(timeout=30)
            imported = await import_run(plain(admin_url), args.users)
            log(f"import: {imported}")
        scaling: dict[str, Any] = {}
        if "workers" in wanted or "replica" in wanted:
            # Servers of their own, on these ports: the ones above stop first.
            for process in processes.values():
                process.terminate()
                process.wait(timeout=30)
            if "workers" in wanted:
                scaling["workers"] = await workers_run(
                    workers_env(url, KEY_FILE), private, clients["staff"], driver, args.reps
                )
                log(f"workers: {scaling['workers']}")
            if "replica" in wanted:
                scaling["replica"] = await replica_run(args.duration, args.reps, 50_000, driver)
                log(f"replica: {scaling['replica']}")
    finally:
        for process in processes.values():
            process.terminate()
            process.wait(timeout=30)
        if embedded:
            embedded.stop()
    return {
        "dataset": dataset,
        "driver": "wrk" if driver.use_wrk else "asyncio+httpx",
        "duration_seconds": args.duration,
        "repetitions": args.reps,
        "comparisons": rows,
        "audience": audience,
        "export": export,
        "erasure": erasure,
        "integration": integration,
        "verify": verified,
        "sequencer_lag": lag,
        "import": imported,
        **scaling,
    }


ACCESS_ENTRIES = 1_000_000
KEY_FILE = ROOT / "var" / "bench" / "transparency-ed25519.pem"
# $1 reads of random users by the bench's staff client, a second apart up to now.
_ACCESS_ENTRIES = (
    "INSERT INTO access_log (accessed_at, subject_ref, actor, client_id, role, categories,"
    " operation, request_id) SELECT now() - make_interval(secs => n), gen_random_uuid(),"
    " 'client:bench-staff', 'bench-staff', 'staff', ARRAY['profile'], 'read_user',"
    " 'bench-' || n FROM generate_series(1, $1) n"
)


def transparency_signers() -> Any:
    """The checkpoint key of the benchmark database, kept between runs (its checkpoints verify)."""
    from app.audit.logs import Signers
    from app.core.settings import Settings

    settings = Settings(data_dir=KEY_FILE.parent, generate_keys=True, _env_file=None)  # type: ignore[call-arg]
    return Signers(settings)


async def transparency_prepare(url: str) -> dict[str, Any]:
    """At least a million access-log entries, all integrated: the time the sequencer takes for
    what is queued (a fresh load queues them all), as the service's role."""
    owner = await asyncpg.connect(plain(url))
    have = await owner.fetchval("SELECT count(*) FROM access_log")
    if have < ACCESS_ENTRIES:
        await owner.execute(_ACCESS_ENTRIES, ACCESS_ENTRIES - have)
    await owner.close()
    return await integrate_queued(url)


async def integrate_queued(url: str) -> dict[str, Any]:
    """Every queued log entry integrated, with the bench's checkpoint key, before a service
    starts: otherwise its sequencer would be doing it during the first measurement."""
    from app.audit import sequencer

    app_role = await asyncpg.connect(plain(url).replace("postgres@", "registry_app@", 1))
    try:
        queued = await app_role.fetchval("SELECT count(*) FROM transparency_queue")
        started = time.perf_counter()
        integrated = await sequencer.integrate_all(app_role, transparency_signers())
        seconds = time.perf_counter() - started
    finally:
        await app_role.close()
    log(f"sequencer: {integrated} of {queued} queued entries in {seconds:.1f} s")
    return {"queued": queued, "integrated": integrated, "seconds": seconds}


async def verify_run(url: str) -> dict[str, Any]:
    """`registry audit verify` of the access log (a million entries or more): full, then
    incremental after 10 000 new entries."""
    from app.audit import sequencer, verify
    from app.audit.logs import ACCESS_LOG

    signers = transparency_signers()
    connection = await asyncpg.connect(plain(url))
    try:
        started = time.perf_counter()
        async with connection.transaction():
            full = await verify.verify(connection, ACCESS_LOG, signers, full=True)
        full_seconds = time.perf_counter() - started
        await connection.execute(_ACCESS_ENTRIES, 10_000)
        await sequencer.integrate_all(connection, signers)
        started = time.perf_counter()
        async with connection.transaction():
            incremental = await verify.verify(connection, ACCESS_LOG, signers, full=False)
        incremental_seconds = time.perf_counter() - started
    finally:
        await connection.close()
    assert full.ok and incremental.ok, (full.as_dict(), incremental.as_dict())
    return {
        "entries": full.tree_size,
        "full_seconds": full_seconds,
        "incremental_entries": incremental.entries_checked,
        "incremental_seconds": incremental_seconds,
    }


async def sequencer_lag(url: str, since: float) -> dict[str, float]:
    """Seconds from an entry's insert to its leaf, over the entries written since ``since``."""
    connection = await asyncpg.connect(plain(url))
    row = await connection.fetchrow(
        "SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY lag),"
        " percentile_cont(0.99) WITHIN GROUP (ORDER BY lag), max(lag) FROM"
        " (SELECT extract(epoch FROM integrated_at - queued_at) AS lag FROM transparency_leaves"
        "  WHERE queued_at >= to_timestamp($1)) l",
        since,
    )
    await connection.close()
    return {
        "entries": row[0],
        "p50_s": float(row[1] or 0),
        "p99_s": float(row[2] or 0),
        "max_s": float(row[3] or 0),
    }


async def erasure_run(url: str, heavy: str) -> dict[str, Any]:
    """The erasure of the heavy user as the service's role runs it, timed and rolled back (the
    data stays for the next run): the catalogue's walk over every table of the person."""
    from app.auth.dependencies import Principal
    from app.requests import erasure

    dpo = Principal(
        subject="bench",
        client_id="bench",
        role="dpo",
        scopes=frozenset(),
        jti="bench",
        user_id=None,
    )
    engine = create_async_engine(url)
    timings, report = [], None
    try:
        for _ in range(3):
            async with AsyncSession(engine) as session:
                await session.execute(text("SET ROLE registry_app"))
                started = time.perf_counter()
                report = await erasure.erase_user(session, dpo, uuid.UUID(heavy))
                await session.flush()
                timings.append(time.perf_counter() - started)
                await session.rollback()
    finally:
        await engine.dispose()
    assert report is not None
    erased = {item.table: item.rows for item in report.erased}
    return {"erasure_seconds": statistics.median(timings), "events_erased": erased.get("events", 0)}


TARGETS = {
    "read_user": ("GET /v1/users/{id} (token, scope, access log) vs PK SELECT", 0.45),
    "record_permission": ("record a permission decision vs INSERT + commit", 0.6),
    "release_100": ("release of 100 users with logging vs without", 0.9),
    "token": ("token endpoint (client_credentials) vs PK SELECT", 0.0),
}


def table(results: dict[str, Any]) -> str:
    lines = [
        "| target | conns | service req/s | baseline req/s | ratio | goal | met | "
        "p50 / p99 ms (service) | p50 / p99 ms (baseline) | CPU ms/req (service / baseline) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in results["comparisons"]:
        name, goal = TARGETS[row["target"]]
        if row["target"] == "token":
            continue
        s, b = row["service"], row["baseline"]
        met = "—" if row["connections"] != 32 else ("yes" if row["ratio"] >= goal else "NO")
        lines.append(
            f"| {name} | {row['connections']} | {s['rps']:.0f} | {b['rps']:.0f} | "
            f"{row['ratio']:.2f} | ≥ {goal} at 32 | {met} | {s['p50_ms']:.1f} / {s['p99_ms']:.1f} | "
            f"{b['p50_ms']:.1f} / {b['p99_ms']:.1f} | "
            f"{s['cpu_ms_per_request']:.2f} / {b['cpu_ms_per_request']:.2f} |"
        )
    audience, export = results["audience"], results["export"]
    lines += ["", "| target | measured | goal | met |", "| --- | --- | --- | --- |"]
    if audience is not None:
        lines.append(
            f"| audience page of 100, 90 % deep in {results['dataset']['users']} users vs first "
            f"page | {audience['deep_page_ms']:.1f} ms vs {audience['first_page_ms']:.1f} ms = "
            f"{audience['ratio']:.2f}x | ≤ 1.2x and ≤ 8 ms | "
            f"{'yes' if audience['ratio'] <= 1.2 and audience['deep_page_ms'] <= 8 else 'NO'} |"
        )
    if export is not None:
        lines += [
            f"| export of the heavy user (200 000 events, 20 000 disclosures with proofs) vs COPY "
            f"of its events | {export['export_seconds']:.2f} s vs {export['copy_seconds']:.2f} s = "
            f"{export['ratio']:.2f}x | ≤ 2.5x | {'yes' if export['ratio'] <= 2.5 else 'NO'} |",
            f"| server peak memory growth during that export | "
            f"{export['peak_rss_growth_mib']:.1f} MiB | < 50 MiB | "
            f"{'yes' if export['peak_rss_growth_mib'] < 50 else 'NO'} |",
        ]
    for row in results["comparisons"]:
        if row["target"] == "token" and row["connections"] == 32:
            per_core = 1000 / row["service"]["cpu_ms_per_request"]
            lines.append(
                f"| token endpoint, client_credentials, 32 conns: {row['service']['rps']:.0f} "
                f"grants/s at {row['service']['cpu_ms_per_request']:.2f} ms CPU each "
                f"| {per_core:.0f} grants/s per core | Keycloak publishes 120 per vCPU "
                f"| {'yes' if per_core >= 120 else 'NO'} |"
            )
    verified, lag = results.get("verify"), results.get("sequencer_lag")
    if verified is not None:
        lines.append(
            f"| `audit verify` of the access log, {verified['entries']} entries: full "
            f"| {verified['full_seconds']:.1f} s | (none set) | — |"
        )
        lines.append(
            f"| `audit verify`, incremental after {verified['incremental_entries']} new entries "
            f"| {verified['incremental_seconds']:.2f} s | (none set) | — |"
        )
    if lag is not None:
        lines.append(
            f"| sequencer lag under the release load ({lag['entries']} entries), insert to leaf "
            f"| p50 {lag['p50_s']:.2f} s, p99 {lag['p99_s']:.2f} s, max {lag['max_s']:.2f} s "
            f"| p99 ≤ 2 s | {'yes' if lag['p99_s'] <= 2 else 'NO'} |"
        )
    if results.get("import") is not None:
        lines += import_row(results["import"])
    lines += scaling_rows(results)
    erasure = results.get("erasure")
    if erasure is not None:
        lines.append(
            f"| erasure of the heavy user ({erasure['events_erased']} events; rolled back) "
            f"| {erasure['erasure_seconds']:.2f} s | (none set) | — |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--duration", type=int, default=8, help="seconds per load run")
    parser.add_argument("--reps", type=int, default=2, help="interleaved repetitions")
    parser.add_argument("--reuse", action="store_true", help="keep the loaded database")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated: read_user,record_permission,release_100,token,audience,export,"
        "verify,erasure,import,workers,replica",
    )
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    results["command"] = "make bench  # python -m bench.run " + " ".join(sys.argv[1:])
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for name in (f"{stamp}.json", "latest.json"):
        (RESULTS / name).write_text(json.dumps(results, indent=2, default=str) + "\n")
    markdown = table(results)
    (RESULTS / "latest.md").write_text(markdown)
    print(markdown)


if __name__ == "__main__":
    main()
