"""Importing contracts (keyed by the old register's contract id) and billing details (one per
user, keyed by the user's old id), as the API stores them, with provenance ``import``."""

from __future__ import annotations

import json
from typing import Any

from app.imports.batch import Context, Result, claim_keys, held, refuse, refused, stage
from app.imports.rows import Raw, Reject

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
_USERS = "SELECT external_id, id, status FROM users WHERE external_id = ANY($1::text[])"


async def _owners(
    connection: Any, rows: list[Raw], result: Result, key: str
) -> list[tuple[int, dict[str, Any], Any]]:
    """The rows whose user is known and not erased, with the user's id; the others refused."""
    users = {
        r[0]: r
        for r in await connection.fetch(
            _USERS, sorted({row["user_external_id"] for _, row in rows})
        )
    }
    owned = []
    for number, row in rows:
        user = users.get(row["user_external_id"])
        if user is None:
            result.rejects.append(
                Reject(
                    number,
                    row[key],
                    "user_external_id",
                    "unknown_user",
                    "no user of this register has this old id; import the users first",
                )
            )
        elif user[2] == "erased":
            result.rejects.append(
                Reject(
                    number,
                    row[key],
                    "user_external_id",
                    "account_erased",
                    "the user is erased in this register; an import does not change them",
                )
            )
        else:
            owned.append((number, row, user[1]))
    return owned


def _changes(old: str | None, columns: tuple[str, ...]) -> str:
    pairs = ", ".join(
        f"('{name}', {('to_jsonb(' + old + '.' + name + ')') if old else 'NULL::jsonb'}, "
        f"to_jsonb(s.{name}))"
        for name in columns
    )
    return f"CROSS JOIN LATERAL (VALUES {pairs}) AS f(name, old, new)"


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
    owned = await _owners(connection, rows, result, "external_id")
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
            for number, row, user_id in owned
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
        "s.id IS NOT NULL AND "
        + held(
            "SELECT true FROM user_changes h WHERE h.user_id = s.user_id "
            "AND h.category = 'contracts' AND h.source <> 'import'"
        ),
    )
    result.rejects += await refused(connection, CONTRACT_STAGE, "external_id")
    cols = ", ".join(CONTRACT_COLUMNS)
    inserted = await connection.fetchval(
        f"""
        WITH new AS (
            INSERT INTO contracts (user_id, external_id, {cols})
            SELECT s.user_id, s.external_id, {", ".join("s." + c for c in CONTRACT_COLUMNS)}
            FROM {CONTRACT_STAGE} s WHERE s.reason IS NULL AND s.id IS NULL
            RETURNING id, user_id, external_id
        ), logged AS (
            INSERT INTO user_changes (user_id, source, actor, category, action, fields, changes,
                                      update_id)
            SELECT n.user_id, 'import', $1, 'contracts', 'created',
                   array_agg(f.name ORDER BY f.name),
                   jsonb_object_agg(f.name, jsonb_build_object('from', f.old, 'to', f.new)), $2
            FROM new n JOIN {CONTRACT_STAGE} s
                ON s.external_id = n.external_id AND s.reason IS NULL
            {_changes(None, CONTRACT_COLUMNS)}
            WHERE f.new IS NOT NULL AND f.new <> 'null'::jsonb
            GROUP BY n.id, n.user_id
        )
        SELECT count(*) FROM new
        """,
        context.actor,
        context.update_id,
    )
    updated = await connection.fetchval(
        f"""
        WITH changed AS (
            SELECT s.id, s.user_id, array_agg(f.name ORDER BY f.name) AS fields,
                   jsonb_object_agg(f.name, jsonb_build_object('from', f.old, 'to', f.new))
                       AS changes
            FROM {CONTRACT_STAGE} s JOIN contracts c ON c.id = s.id
            {_changes("c", CONTRACT_COLUMNS)}
            WHERE s.reason IS NULL AND f.old IS DISTINCT FROM f.new
            GROUP BY s.id, s.user_id
        ), updated AS (
            UPDATE contracts c SET {", ".join(f"{n} = s.{n}" for n in CONTRACT_COLUMNS)},
                updated_at = now()
            FROM {CONTRACT_STAGE} s JOIN changed ch ON ch.id = s.id
            WHERE c.id = s.id AND s.reason IS NULL
        ), logged AS (
            INSERT INTO user_changes (user_id, source, actor, category, action, fields, changes,
                                      update_id)
            SELECT user_id, 'import', $1, 'contracts', 'updated', fields, changes, $2
            FROM changed
        )
        SELECT count(*) FROM changed
        """,
        context.actor,
        context.update_id,
    )
    existing = await connection.fetchval(
        f"SELECT count(*) FROM {CONTRACT_STAGE} WHERE reason IS NULL AND id IS NOT NULL"
    )
    result.inserted, result.updated, result.unchanged = inserted, updated, existing - updated
    return result


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
    owned = await _owners(connection, rows, result, "user_external_id")
    await stage(
        connection,
        BILLING_STAGE,
        [
            (number, row["user_external_id"], user_id, *(row[c] for c in BILLING_COLUMNS))
            for number, row, user_id in owned
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
        "s.existing AND "
        + held(
            "SELECT true FROM user_changes h WHERE h.user_id = s.user_id "
            "AND h.category = 'billing' AND h.source <> 'import'"
        ),
    )
    result.rejects += await refused(connection, BILLING_STAGE, "user_external_id")
    cols = ", ".join(BILLING_COLUMNS)
    inserted = await connection.fetchval(
        f"""
        WITH new AS (
            INSERT INTO billing_profiles (user_id, {cols})
            SELECT s.user_id, {", ".join("s." + c for c in BILLING_COLUMNS)}
            FROM {BILLING_STAGE} s WHERE s.reason IS NULL AND NOT s.existing
            RETURNING user_id
        ), logged AS (
            INSERT INTO user_changes (user_id, source, actor, category, action, fields, changes,
                                      update_id)
            SELECT n.user_id, 'import', $1, 'billing', 'created',
                   array_agg(f.name ORDER BY f.name),
                   jsonb_object_agg(f.name, jsonb_build_object('from', f.old, 'to', f.new)), $2
            FROM new n JOIN {BILLING_STAGE} s ON s.user_id = n.user_id AND s.reason IS NULL
            {_changes(None, BILLING_COLUMNS)}
            WHERE f.new IS NOT NULL
            GROUP BY n.user_id
        )
        SELECT count(*) FROM new
        """,
        context.actor,
        context.update_id,
    )
    updated = await connection.fetchval(
        f"""
        WITH changed AS (
            SELECT s.user_id, array_agg(f.name ORDER BY f.name) AS fields,
                   jsonb_object_agg(f.name, jsonb_build_object('from', f.old, 'to', f.new))
                       AS changes
            FROM {BILLING_STAGE} s JOIN billing_profiles b ON b.user_id = s.user_id
            {_changes("b", BILLING_COLUMNS)}
            WHERE s.reason IS NULL AND s.existing AND f.old IS DISTINCT FROM f.new
            GROUP BY s.user_id
        ), updated AS (
            UPDATE billing_profiles b
            SET {", ".join(f"{n} = s.{n}" for n in BILLING_COLUMNS)}, updated_at = now()
            FROM {BILLING_STAGE} s JOIN changed ch ON ch.user_id = s.user_id AND s.reason IS NULL
            WHERE b.user_id = s.user_id
        ), logged AS (
            INSERT INTO user_changes (user_id, source, actor, category, action, fields, changes,
                                      update_id)
            SELECT user_id, 'import', $1, 'billing', 'updated', fields, changes, $2 FROM changed
        )
        SELECT count(*) FROM changed
        """,
        context.actor,
        context.update_id,
    )
    existing = await connection.fetchval(
        f"SELECT count(*) FROM {BILLING_STAGE} WHERE reason IS NULL AND existing"
    )
    result.inserted, result.updated, result.unchanged = inserted, updated, existing - updated
    return result
