"""Importing permissions and prohibitions: each decision of the old register becomes a receipt
marked as imported (``source = 'import'``, keyed by the old id) with the evidence the old register
had, and a record at its original time, by the same rules as the API (``check_decision``, and an
objection covering what the law says it covers, ``with_objection_scope``).

Which decision is the current one: the later date, and on the same date a prohibition or
withdrawal over a grant, then the later time. A decision older than the current one (a file out
of order, or a later decision made in this service) is refused as ``superseded``: the records'
order is the order of the decisions, so the current state stays the newest record."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from app.consents.models import WHOLE_PURPOSE
from app.consents.schemas import DecisionIn
from app.consents.service import PURPOSES_SQL, InvalidDecision, check_decision, with_objection_scope
from app.imports.batch import Context, Result, claim_keys, owners, refused, stage
from app.imports.rows import HELSINKI, Raw, Reject

STAGE = "import_stage_permissions"
NEGATIVE = frozenset({"prohibited", "withdrawn"})
# What each imported receipt recorded as its own decision (the first of its records; the others
# are what its objection covered).
_RECEIPTS = """
SELECT DISTINCT ON (c.id) c.external_id, r.purpose_code, r.channel, r.decision, c.recorded_at
FROM consent_receipts c JOIN consent_records r ON r.receipt_id = c.id
WHERE c.external_id = ANY($1::text[])
ORDER BY c.id, r.id
"""
_STATES = (
    "SELECT user_id, purpose_code, channel, decision, decided_at FROM consent_states "
    "WHERE user_id = ANY($1::uuid[])"
)
_INSERT_RECEIPTS = """
INSERT INTO consent_receipts (id, user_id, recorded_at, source, language, actor, external_id,
                              evidence)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[],
                     $6::text[], $7::text[], $8::jsonb[])
"""
_INSERT_RECORDS = """
INSERT INTO consent_records
    (receipt_id, user_id, purpose_code, purpose_version, channel, decision, recorded_at)
SELECT r, u, p, v, c, d, t
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::int[], $5::text[], $6::text[],
            $7::timestamptz[]) WITH ORDINALITY AS x(r, u, p, v, c, d, t, n)
ORDER BY n
RETURNING id, user_id, purpose_code, channel, decision, purpose_version, recorded_at
"""
_UPSERT_STATES = """
INSERT INTO consent_states
    (user_id, purpose_code, channel, decision, record_id, purpose_version, decided_at)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::int[],
                     $7::timestamptz[])
ON CONFLICT (user_id, purpose_code, channel) DO UPDATE
SET decision = EXCLUDED.decision, record_id = EXCLUDED.record_id,
    purpose_version = EXCLUDED.purpose_version, decided_at = EXCLUDED.decided_at
WHERE consent_states.record_id < EXCLUDED.record_id
"""


def precedence(decision: str, at: datetime) -> tuple[Any, bool, datetime]:
    """Orders decisions about one purpose and channel: the date (in Finland), then a
    prohibition or withdrawal over a grant of the same date, then the time."""
    return (at.astimezone(HELSINKI).date(), decision in NEGATIVE, at)


async def apply(connection: Any, context: Context, rows: list[Raw]) -> Result:
    result = Result()
    await connection.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} (row_number bigint, external_id text, "
        "reason text, reason_column text, detail text, PRIMARY KEY (row_number)) "
        "ON COMMIT DELETE ROWS"
    )
    await connection.execute(f"DELETE FROM {STAGE}")
    await stage(
        connection,
        STAGE,
        [(n, row["external_id"]) for n, row in rows],
        ["row_number", "external_id"],
    )
    await claim_keys(connection, context.run_id, STAGE, "external_id")
    result.rejects += await refused(connection, STAGE, "external_id")
    duplicate = {r.row for r in result.rejects}
    rows = [(n, row) for n, row in rows if n not in duplicate]

    imported = {
        r[0]: tuple(r[1:])
        for r in await connection.fetch(_RECEIPTS, [row["external_id"] for _, row in rows])
    }
    new = []
    for number, row in rows:
        key = row["external_id"]
        if key not in imported:
            new.append((number, row))
            continue
        # A receipt is proof and never changes: the same decision again is nothing new, and a
        # different one under the same id is refused.
        recorded = (
            row["purpose"],
            row["channel"] or WHOLE_PURPOSE,
            row["decision"],
            row["decided_at"],
        )
        if imported[key] == recorded:
            result.unchanged += 1
        else:
            result.rejects.append(
                Reject(
                    number,
                    key,
                    "external_id",
                    "receipt_immutable",
                    "this old id was imported with another decision; a receipt never "
                    "changes: give the correction an id of its own",
                )
            )
    purposes = {r["code"]: SimpleNamespace(**r) for r in await connection.fetch(PURPOSES_SQL)}
    accepted = []
    for number, row, user_id, status in await owners(connection, new, "external_id", result):
        purpose = purposes.get(row["purpose"])
        refusal = None
        if status != "active" and row["decision"] not in NEGATIVE:
            refusal = ("decision", "account_closed", "a closed account can only withdraw or object")
        elif purpose is None:
            refusal = ("purpose", "unknown_purpose", "no such purpose in the catalogue")
        else:
            version = row["notice_version"] or purpose.current_version
            try:
                # Not the API's outdated-notice check: an old grant was given on an old notice,
                # and the rules already ask for consent again after a material change.
                check_decision(purpose, row["channel"], "withdrawn", version)
            except InvalidDecision as exc:
                refusal = ("purpose", "invalid_decision", str(exc))
            row["notice_version"] = version
        if refusal is not None:
            result.rejects.append(Reject(number, row["external_id"], *refusal))
            continue
        accepted.append((number, row, user_id))
    if not accepted:
        return result
    await _record(connection, context, accepted, purposes, result)
    return result


async def _record(
    connection: Any,
    context: Context,
    accepted: list[tuple[int, dict[str, Any], Any]],
    purposes: dict[str, Any],
    result: Result,
) -> None:
    states = {
        (r[0], r[1], r[2]): precedence(r[3], r[4])
        for r in await connection.fetch(_STATES, sorted({user_id for _, _, user_id in accepted}))
    }
    receipts: list[tuple[Any, ...]] = []
    decisions: list[tuple[tuple[Any, ...], uuid.UUID, Any, DecisionIn, datetime]] = []
    for number, row, user_id in accepted:
        at = row["decided_at"]
        own = DecisionIn(
            purpose=row["purpose"],
            channel=row["channel"],
            decision=row["decision"],
            notice_version=row["notice_version"],
        )
        taken = []
        for item in with_objection_scope([own], purposes):
            state_key = (user_id, item.purpose, item.channel or WHOLE_PURPOSE)
            current = states.get(state_key)
            if current is not None and precedence(item.decision, at) <= current:
                if item is own:
                    break
                continue  # what the objection covers is already decided later
            taken.append(item)
        else:
            receipt_id = uuid.uuid4()
            evidence = {
                "imported": True,
                "file": context.file_name,
                "sha256": context.sha256,
                "original_source": row["original_source"],
                "original_time": at.isoformat(),
                "notice_text": row["notice_text"],
            }
            receipts.append(
                (receipt_id, user_id, at, row["language"], row["external_id"], json.dumps(evidence))
            )
            for item in taken:
                order = precedence(item.decision, at)
                decisions.append((order, receipt_id, user_id, item, at))
                # The rows are taken in the file's order whatever the batches: a later row
                # older than one taken is superseded, in this batch as in the next.
                states[(user_id, item.purpose, item.channel or WHOLE_PURPOSE)] = order
            result.inserted += 1
            continue
        result.rejects.append(
            Reject(
                number,
                row["external_id"],
                "decided_at",
                "superseded",
                "a later decision about this purpose and channel is already recorded "
                "(or the same date's prohibition); sort the file by time",
            )
        )
    if not receipts:
        return
    await connection.execute(
        _INSERT_RECEIPTS,
        [r[0] for r in receipts],
        [r[1] for r in receipts],
        [r[2] for r in receipts],
        ["import"] * len(receipts),
        [r[3] for r in receipts],
        [context.actor] * len(receipts),
        [r[4] for r in receipts],
        [r[5] for r in receipts],
    )
    # In order of precedence, so that the newest record per purpose and channel is the current.
    decisions.sort(key=lambda d: (d[0], str(d[1])))
    records = await connection.fetch(
        _INSERT_RECORDS,
        [d[1] for d in decisions],
        [d[2] for d in decisions],
        [d[3].purpose for d in decisions],
        [d[3].notice_version for d in decisions],
        [d[3].channel or WHOLE_PURPOSE for d in decisions],
        [d[3].decision for d in decisions],
        [d[4] for d in decisions],
    )
    latest = {(r["user_id"], r["purpose_code"], r["channel"]): r for r in records}
    await connection.execute(
        _UPSERT_STATES,
        [k[0] for k in latest],
        [k[1] for k in latest],
        [k[2] for k in latest],
        [r["decision"] for r in latest.values()],
        [r["id"] for r in latest.values()],
        [r["purpose_version"] for r in latest.values()],
        [r["recorded_at"] for r in latest.values()],
    )
