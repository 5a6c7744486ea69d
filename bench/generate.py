"""Loads the benchmark data with COPY into the service's own schema in a fresh database.

1 000 000 users (80 % private, 20 % company), each with permissions for three purposes (a receipt,
three records and three current states), one heavy user with 200 000 events and 20 000
disclosure-log entries, and 1 000 000 access-log entries of reads of random users. The log entries
are queued for the sequencer by the logs' trigger, as the service's own would be; `bench.run`
integrates them into the Merkle trees before it measures. Deterministic: the same seed gives the
same data.

    python -m bench.generate --url postgresql://postgres@127.0.0.1:5432/registry_bench
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from app.audit.models import AccessLogEntry, DisclosureLogEntry
from app.events.service import month_start, next_month, partition_name

WEIGHTS = (7, 9, 10, 5, 8, 4, 2)
FIRST_NAMES = ["Aino", "Eino", "Helmi", "Onni", "Ella", "Leo", "Sofia", "Väinö", "Aada", "Eetu"]
LAST_NAMES = ["Virtanen", "Korhonen", "Mäkinen", "Nieminen", "Hämäläinen", "Laine", "Koskinen"]
CITIES = [("00100", "Helsinki"), ("33100", "Tampere"), ("20100", "Turku"), ("90100", "Oulu")]


def business_ids(rng: random.Random, count: int) -> list[str]:
    """``count`` distinct valid Business IDs (check digit per domain.md; remainder 1 skipped)."""
    found: list[str] = []
    number = rng.randrange(1_000_000, 2_000_000)
    while len(found) < count:
        digits = f"{number:07d}"
        remainder = sum(int(d) * w for d, w in zip(digits, WEIGHTS, strict=True)) % 11
        if remainder != 1:
            found.append(f"{digits}-{0 if remainder == 0 else 11 - remainder}")
        number += 1
    return found


def make_uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


async def load(
    url: str, users: int, events: int, disclosures: int, access_entries: int, seed: int
) -> dict[str, object]:
    rng = random.Random(seed)
    connection = await asyncpg.connect(url)
    started = time.perf_counter()
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    companies = users // 5
    ids = business_ids(rng, companies)
    user_rows = []
    for index in range(users):
        company = index < companies
        postal, city = CITIES[index % len(CITIES)]
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        user_rows.append(
            (
                make_uuid(rng),
                make_uuid(rng),
                "company" if company else "private",
                "active",
                "fi",
                None if company else first,
                None if company else last,
                None,
                f"{last} Oy {index}" if company else None,
                ids[index] if company else None,
                f"{first} {last}" if company else None,
                f"Katu {index % 200 + 1}",
                postal,
                city,
                "FI",
                f"+35840{index:07d}",
                f"user{index}@example.fi",
                now - timedelta(seconds=users - index),
                now - timedelta(seconds=users - index),
            )
        )
    await connection.copy_records_to_table(
        "users",
        records=user_rows,
        columns=[
            "id",
            "subject_ref",
            "kind",
            "status",
            "language",
            "first_name",
            "last_name",
            "birth_date",
            "company_name",
            "business_id",
            "contact_name",
            "street",
            "postal_code",
            "city",
            "country",
            "phone",
            "email",
            "created_at",
            "updated_at",
        ],
    )
    loaded_users = time.perf_counter()

    # Permissions for three purposes: a receipt, three records and three states per user.
    choices = [
        ("direct_marketing", "email", (("granted", 0.35), ("withdrawn", 0.05))),
        ("group_direct_marketing", "sms", (("granted", 0.15), ("prohibited", 0.05))),
        ("market_research", "*", (("prohibited", 0.08), ("allowed", 0.02))),
    ]
    receipts, records, states = [], [], []
    record_id = 0
    for row in user_rows:
        user_id = row[0]
        receipt_id = make_uuid(rng)
        receipts.append((receipt_id, user_id, now, "sign_up_form", "fi", "import"))
        for purpose, channel, weights in choices:
            draw, decision = rng.random(), "withdrawn"
            for value, share in weights:
                if draw < share:
                    decision = value
                    break
                draw -= share
            record_id += 1
            records.append((record_id, receipt_id, user_id, purpose, 1, channel, decision, now))
            states.append((user_id, purpose, channel, decision, record_id, 1, now))
    await connection.copy_records_to_table(
        "consent_receipts",
        records=receipts,
        columns=["id", "user_id", "recorded_at", "source", "language", "actor"],
    )
    await connection.copy_records_to_table(
        "consent_records",
        records=records,
        columns=[
            "id",
            "receipt_id",
            "user_id",
            "purpose_code",
            "purpose_version",
            "channel",
            "decision",
            "recorded_at",
        ],
    )
    await connection.execute(
        "SELECT setval('consent_records_id_seq', (SELECT max(id) FROM consent_records))"
    )
    await connection.copy_records_to_table(
        "consent_states",
        records=states,
        columns=[
            "user_id",
            "purpose_code",
            "channel",
            "decision",
            "record_id",
            "purpose_version",
            "decided_at",
        ],
    )
    loaded_permissions = time.perf_counter()

    # The heavy user: a private user with 200 000 events and 20 000 disclosure entries.
    heavy = user_rows[-1][0]
    heavy_ref = user_rows[-1][1]
    start = now - timedelta(days=40)
    month = month_start(start)
    while month <= month_start(now):
        await connection.execute(
            f'CREATE TABLE IF NOT EXISTS "{partition_name(month)}" PARTITION OF events '
            f"FOR VALUES FROM ('{month.isoformat()}') TO ('{next_month(month).isoformat()}')"
        )
        month = next_month(month)
    step = (now - start) / events
    await connection.copy_records_to_table(
        "events",
        records=[
            (
                heavy,
                "page.view" if i % 5 else "bid.placed",
                start + step * i,
                "web",
                json.dumps({"item": i % 9973, "n": i}),
                now,
            )
            for i in range(events)
        ],
        columns=["user_id", "type", "occurred_at", "source", "properties", "received_at"],
    )
    recipient = make_uuid(rng)
    await connection.execute(
        "INSERT INTO recipients (id, name, kind, country, in_eu_eea, purposes, legal_basis) "
        "VALUES ($1, 'Konserniyhtiö Oy', 'group_company', 'FI', true, "
        "ARRAY['direct_marketing', 'group_direct_marketing', 'market_research'], "
        "'legitimate_interest')",
        recipient,
    )
    entries = []
    for entry_id in range(1, disclosures + 1):
        content = {
            "disclosed_at": now - timedelta(minutes=disclosures - entry_id),
            "subject_ref": heavy_ref,
            "recipient_id": recipient,
            "recipient_name": "Konserniyhtiö Oy",
            "purpose": "group_direct_marketing",
            "categories": ["email", "name"],
            "legal_basis": "legitimate_interest",
            "channel": None,
            "client_id": "bench",
            "request_id": None,
            "kind": "release",
            "note": None,
            "transfer_basis": None,
        }
        entries.append(tuple(content[name] for name in DisclosureLogEntry.CONTENT))
    await connection.copy_records_to_table(
        "disclosure_log", records=entries, columns=list(DisclosureLogEntry.CONTENT)
    )
    refs = [row[1] for row in user_rows[:: max(1, users // 1000)]]
    for first in range(0, access_entries, 100_000):
        await connection.copy_records_to_table(
            "access_log",
            records=[
                (
                    now - timedelta(seconds=access_entries - i),
                    refs[i % len(refs)],
                    "client:bench-staff",
                    "bench-staff",
                    "staff",
                    ["profile"],
                    "read_user",
                    f"bench-{i}",
                    None,
                )
                for i in range(first, min(first + 100_000, access_entries))
            ],
            columns=list(AccessLogEntry.CONTENT),
        )
    await connection.execute("ANALYZE")
    await connection.close()
    finished = time.perf_counter()
    return {
        "users": users,
        "companies": companies,
        "heavy_user": str(heavy),
        "recipient": str(recipient),
        "seconds": {
            "users": round(loaded_users - started, 1),
            "permissions": round(loaded_permissions - loaded_users, 1),
            "heavy_user": round(finished - loaded_permissions, 1),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="postgresql:// URL of a migrated database")
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--disclosures", type=int, default=20_000)
    parser.add_argument("--access-entries", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20261125)
    args = parser.parse_args()
    result = asyncio.run(
        load(args.url, args.users, args.events, args.disclosures, args.access_entries, args.seed)
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
