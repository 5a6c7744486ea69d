"""The import row of `make bench`: `registry import users` of a generated CSV of 1 000 000 users
(80 % private, 20 % company, 1 % invalid in known ways) into a fresh database, its users per
second, and the importer's peak memory (all its processes) against a file a tenth the size: the
memory must not grow with the file.

    python -m bench.imports [--users 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
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

from app.core.validators import _HETU_CHECK

ROOT = Path(__file__).resolve().parents[1]
HEADER = [
    "external_id",
    "kind",
    "username",
    "first_name",
    "last_name",
    "birth_date",
    "company_name",
    "business_id",
    "contact_name",
    "language",
    "address.street",
    "address.postal_code",
    "address.city",
    "phone",
    "email",
    "identity_code",
    "identity_code_method",
]
# Every hundredth row is invalid, in one of these ways (the reason the reject file must give).
INVALID = (
    "invalid_phone",
    "invalid_email",
    "invalid_business_id",
    "missing_value",
    "invalid_identity_code",
)


def _business_ids() -> Any:
    weights = (7, 9, 10, 5, 8, 4, 2)
    n = 1_000_000
    while True:
        digits = f"{n:07d}"
        remainder = sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
        if remainder != 1:
            yield f"{digits}-{0 if remainder == 0 else 11 - remainder}"
        n += 1


def _identity_code(n: int) -> str:
    day, month, year = 1 + n % 28, 1 + (n // 28) % 12, 50 + (n // 336) % 50
    individual = 2 + (n // 16_800) % 898
    stem = f"{day:02d}{month:02d}{year:02d}"
    return f"{stem}-{individual:03d}{_HETU_CHECK[int(stem + f'{individual:03d}') % 31]}"


def generate(path: Path, users: int) -> dict[str, int]:
    """The file, and how many rows each reason must reject."""
    expected = dict.fromkeys(INVALID, 0)
    business_ids = _business_ids()
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(HEADER)
        for n in range(users):
            company = n % 5 == 4
            row = {
                "external_id": f"OLD-{n}",
                "kind": "company" if company else "private",
                "username": f"user{n}",
                "language": ("fi", "sv", "en")[n % 3],
                "address.street": f"Kauppakatu {n % 200 + 1}",
                "address.postal_code": f"{n % 99999:05d}",
                "address.city": "Helsinki",
                "phone": f"040 {n % 10_000_000:07d}",
                "email": f"user{n}@example.fi",
            }
            if company:
                row |= {
                    "company_name": f"Yritys {n} Oy",
                    "business_id": next(business_ids),
                    "contact_name": "Maija Virtanen",
                }
            else:
                row |= {"first_name": "Matti", "last_name": f"Meikäläinen{n % 1000}"}
                row["birth_date"] = f"{1950 + n % 50}-{1 + n % 12:02d}-{1 + n % 28:02d}"
                if n % 2 == 0:
                    row |= {"identity_code": _identity_code(n), "identity_code_method": "bank_id"}
            if n % 100 == 99:
                reason = INVALID[(n // 100) % len(INVALID)]
                if reason == "invalid_phone":
                    row["phone"] = "12345"
                elif reason == "invalid_email":
                    row["email"] = "user@"
                elif reason == "invalid_business_id" and company:
                    row["business_id"] = row["business_id"][:-1] + str(
                        (int(row["business_id"][-1]) + 1) % 10
                    )
                elif reason == "missing_value":
                    row["last_name" if not company else "company_name"] = ""
                elif reason == "invalid_identity_code" and not company:
                    row |= {"identity_code": "131052-308X", "identity_code_method": "bank_id"}
                else:
                    row["phone"] = "12345"
                    reason = "invalid_phone"
                expected[reason] += 1
            writer.writerow([row.get(column, "") for column in HEADER])
    return expected


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for member in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += member.memory_info().rss
    return total


def run_import(path: Path, env: dict[str, str]) -> dict[str, Any]:
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "import", "users", str(path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watched = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        with contextlib.suppress(psutil.Error):
            peak = max(peak, _tree_rss(watched))
        time.sleep(0.2)
    out, err = process.communicate()
    seconds = time.monotonic() - started
    if process.returncode != 0:
        raise RuntimeError(f"import failed: {err[-2000:]}")
    summary = json.loads(out.strip().splitlines()[-1])
    return {"summary": summary, "wall_seconds": seconds, "peak_rss_mib": peak / 2**20}


async def _fresh(admin: str, name: str) -> str:
    connection = await asyncpg.connect(admin)
    await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    url = admin.rsplit("/", 1)[0] + "/" + name
    from sqlalchemy.ext.asyncio import create_async_engine

    from app.db import migrate

    engine = create_async_engine(url.replace("postgresql://", "postgresql+asyncpg://"))
    async with engine.begin() as conn:
        await migrate.upgrade(conn)
    await engine.dispose()
    return url


async def import_run(admin_url: str, users: int = 1_000_000) -> dict[str, Any]:
    """``admin_url``: an asyncpg URL of a maintenance database on the bench's server."""
    work = Path(tempfile.mkdtemp(prefix="registry-bench-import-"))
    results: dict[str, Any] = {"users": users}
    # Both files large enough to be validated by worker processes, as a real one is.
    for label, count in (("small", users // 5), ("full", users)):
        path = work / f"users-{count}.csv"
        started = time.monotonic()
        expected = await asyncio.to_thread(generate, path, count)
        results[f"{label}_generate_seconds"] = time.monotonic() - started
        url = await _fresh(admin_url, "registry_bench_import")
        env = {
            **os.environ,
            "REGISTRY_DATABASE_URL": url.replace("postgresql://", "postgresql+asyncpg://"),
            "REGISTRY_DATA_DIR": str(work / "data"),
            "REGISTRY_GENERATE_KEYS": "true",
            "REGISTRY_LOG_LEVEL": "WARNING",
        }
        measured = await asyncio.to_thread(run_import, path, env)
        summary = measured["summary"]
        if summary["rejected_by_reason"] != {k: v for k, v in expected.items() if v}:
            raise RuntimeError(f"rejected {summary['rejected_by_reason']}, expected {expected}")
        results[label] = {
            "rows": count,
            "inserted": summary["inserted"],
            "rejected": summary["rejected"],
            "import_seconds": summary["seconds"],
            "wall_seconds": measured["wall_seconds"],
            "users_per_second": count / summary["seconds"],
            "peak_rss_mib": measured["peak_rss_mib"],
        }
        path.unlink()
    connection = await asyncpg.connect(admin_url)
    await connection.execute('DROP DATABASE IF EXISTS "registry_bench_import" WITH (FORCE)')
    await connection.close()
    return results


def row(results: dict[str, Any]) -> list[str]:
    full, small = results["full"], results["small"]
    growth = full["peak_rss_mib"] / small["peak_rss_mib"]
    return [
        f"| `registry import users` of {full['rows']:,} users (80 % private, 20 % company, "
        f"1 % invalid: {full['rejected']:,} rejected) | {full['users_per_second']:,.0f} users/s "
        f"({full['import_seconds']:.1f} s) | ≥ 20 000 users/s | "
        f"{'yes' if full['users_per_second'] >= 20_000 else 'NO'} |",
        f"| importer's peak memory (all its processes), {full['rows']:,} vs {small['rows']:,} "
        f"rows | {full['peak_rss_mib']:.0f} MiB vs {small['peak_rss_mib']:.0f} MiB = "
        f"{growth:.2f}x | does not grow with the file (≤ 1.2x) | {'yes' if growth <= 1.2 else 'NO'} |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument(
        "--server", default="postgresql://postgres@127.0.0.1:5432/postgres", help="asyncpg URL"
    )
    args = parser.parse_args()
    results = asyncio.run(import_run(args.server, args.users))
    results["command"] = "python -m bench.imports " + " ".join(sys.argv[1:])
    (ROOT / "bench" / "results" / "import-latest.json").write_text(
        json.dumps(results, indent=2) + "\n"
    )
    print(json.dumps(results, indent=2))
    print("\n".join(row(results)))


if __name__ == "__main__":
    main()
