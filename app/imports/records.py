"""Importing contracts (keyed by the old register's contract id) and billing details (one per
user, keyed by the user's old id), as the API stores them, with provenance ``import``."""

from __future__ import annotations

import json
from typing import Any

from app.imports.batch import (
    Context,
    Result,
    Target,
    changed_here,
    claim_keys,
    held,
    owners,
    refuse,
    refused,
    stage,
)
from app.imports.rows import Raw

CONTRACT_STAGE = "import_stage_contracts"
CONTRACT_COLUMNS = ("product", "seller", "opened_on", "terminated_on", "communication")
BILLING_STAGE = "import_stage_billing"
BILLING_COLUMNS = (
    "street",
    "postal_code",
    "city",
    "country",
    "e_invoice_address",
    "payment_method_reference",
)
CONTRACTS = Target(
    table="contracts",
    table_key="id",
    stage=CONTRACT_STAGE,
    key="id",
    columns=CONTRACT_COLUMNS,
    user="s.user_id",
    category="contracts",
    existing="s.id IS NOT NULL",
)
BILLING = Target(
    table="billing_profiles",
    table_key="user_id",
    stage=BILLING_STAGE,
    key="user_id",
    columns=BILLING_COLUMNS,
    user="s.user_id",
    category="billing",
    existing="s.existing",
)


async def apply_contracts(connection: Any, context: Context, rows: list[Raw]) -> Result:
    result = Result()
    await connection.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {CONTRACT_STAGE} (row_number bigint, "
        "external_id text, user_id uuid, id uuid, product text, seller text, opened_on date, "
        "terminated_on date, communication jsonb, reason text, reason_column text, detail text, "
        f"PRIMARY KEY (row_number)) ON COMMIT DELETE ROWS; CREATE INDEX IF NOT EXISTS "
        f"{CONTRACT_STAGE}_key ON {CONTRACT_STAGE} (external_id)"
    )
    await connection.execute(f"DELETE FROM {CONTRACT_STAGE}")
    owned = await owners(connection, rows, "external_id", result)
    await stage(
        connection,
        CONTRACT_STAGE,
        [
            (
                number,
                row["external_id"],
                user_id,
                row["product"],
                row["seller"],
                row["opened_on"],
                row["terminated_on"],
                # As the API stores it: only the communication fields given.
                json.dumps({k: v for k, v in row["communication"].items() if v is not None}),
            )
            for number, row, user_id, _ in owned
        ],
        [
            "row_number",
            "external_id",
            "user_id",
            "product",
            "seller",
            "opened_on",
            "terminated_on",
            "communication",
        ],
    )
    await claim_keys(connection, context.run_id, CONTRACT_STAGE, "external_id")
    await connection.execute(
        f"UPDATE {CONTRACT_STAGE} s SET id = c.id FROM contracts c "
        "WHERE c.external_id = s.external_id"
    )
    await refuse(
        connection,
        CONTRACT_STAGE,
        "contract_of_another_user",
        "user_external_id",
        "this contract was imported for another user",
        held("SELECT true FROM contracts c WHERE c.id = s.id AND c.user_id <> s.user_id"),
    )
    await refuse(
        connection,
        CONTRACT_STAGE,
        "changed_in_service",
        "external_id",
        "the user's contracts have changed in this register since they were imported",
        f"{CONTRACTS.existing} AND {changed_here(CONTRACTS.user, CONTRACTS.category)}",
    )
    result.rejects += await refused(connection, CONTRACT_STAGE, "external_id")
    return await _write(
        connection, context, CONTRACTS, result, links="user_id, external_id", by="external_id"
    )


async def apply_billing(connection: Any, context: Context, rows: list[Raw]) -> Result:
    result = Result()
    await connection.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {BILLING_STAGE} (row_number bigint, "
        "user_external_id text, user_id uuid, existing boolean, "
        + ", ".join(f"{c} text" for c in BILLING_COLUMNS)
        + ", reason text, reason_column text, detail text, PRIMARY KEY (row_number)) "
        f"ON COMMIT DELETE ROWS; CREATE INDEX IF NOT EXISTS {BILLING_STAGE}_user "
        f"ON {BILLING_STAGE} (user_id)"
    )
    await connection.execute(f"DELETE FROM {BILLING_STAGE}")
    owned = await owners(connection, rows, "user_external_id", result)
    await stage(
        connection,
        BILLING_STAGE,
        [
            (number, row["user_external_id"], user_id, *(row[c] for c in BILLING_COLUMNS))
            for number, row, user_id, _ in owned
        ],
        ["row_number", "user_external_id", "user_id", *BILLING_COLUMNS],
    )
    await claim_keys(connection, context.run_id, BILLING_STAGE, "user_external_id")
    await connection.execute(
        f"UPDATE {BILLING_STAGE} s SET existing = EXISTS "
        "(SELECT 1 FROM billing_profiles b WHERE b.user_id = s.user_id)"
    )
    await refuse(
        connection,
        BILLING_STAGE,
        "changed_in_service",
        "user_external_id",
        "the user's billing details have changed in this register since they were imported",
        f"{BILLING.existing} AND {changed_here(BILLING.user, BILLING.category)}",
    )
    result.rejects += await refused(connection, BILLING_STAGE, "user_external_id")
    return await _write(connection, context, BILLING, result, links="user_id", by="user_id")


async def _write(
    connection: Any, context: Context, target: Target, result: Result, *, links: str, by: str
) -> Result:
    result.inserted = await target.insert_new(connection, context, links=links, by=by)
    result.updated = len(await target.update_changed(connection, context))
    result.unchanged = await target.count_existing(connection) - result.updated
    return result
