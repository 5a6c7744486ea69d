"""Importing users: profiles, usernames (passwords only where the file has them), identity codes.

A batch is COPYed into a staging table, checked against itself and the register in a few
statements (the old id twice in the file, a username, Business ID or identity code held by
someone else, an account erased or changed in this service since it was imported), and written
with one statement per table. Provenance: ``import``, the file's name and checksum."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

from app.core.validators import mask_identity_code
from app.imports.batch import (
    Context,
    Result,
    Target,
    changed_here,
    claim_keys,
    held,
    refuse,
    refuse_later_duplicates,
    refused,
    stage,
)
from app.imports.rows import Raw, Reject
from app.users.personal_data import USERS

STAGE = "import_stage_users"
# The profile's columns: the kind, the language and what the catalogue declares as the profile
# the person gives (and DVV or Posti may update), as the API stores them.
PROFILE = ("kind", "language", *(c.name for c in USERS.columns if c.tracked_source))
_TYPES = {"birth_date": "date"}
STAGE_COLUMNS = (
    ("row_number", "bigint"),
    ("external_id", "text"),
    ("id", "uuid"),
    ("existing", "boolean"),
    ("username", "text"),
    ("password_hash", "text"),
    *((name, _TYPES.get(name, "text")) for name in PROFILE),
    ("ic_lookup", "text"),
    ("ic_ciphertext", "bytea"),
    ("ic_nonce", "bytea"),
    ("ic_key_id", "text"),
    ("ic_masked", "text"),
    ("ic_method", "text"),
    # A new user's provenance entry, made here from the values already at hand.
    ("created_fields", "text[]"),
    ("created_changes", "jsonb"),
)
CREATE_STAGE = (
    f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} ("
    + ", ".join(f"{name} {type_}" for name, type_ in STAGE_COLUMNS)
    + ", reason text, reason_column text, detail text, PRIMARY KEY (row_number)) "
    "ON COMMIT DELETE ROWS; "
    f"CREATE INDEX IF NOT EXISTS {STAGE}_id ON {STAGE} (id)"
)

_EXISTING = """
SELECT u.external_id, u.id, u.status, c.password_hash IS NOT NULL, i.lookup_hash, i.method
FROM users u
LEFT JOIN credentials c ON c.user_id = u.id
LEFT JOIN identity_codes i ON i.user_id = u.id
WHERE u.external_id = ANY($1::text[])
"""


PROFILES = Target(
    table="users",
    table_key="id",
    stage=STAGE,
    key="id",
    columns=PROFILE,
    user="s.id",
    category="basic_data",
    existing="s.existing",
)


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _values(row: dict[str, Any]) -> dict[str, Any]:
    address = row.get("address") or {}
    return {
        **{name: row.get(name) for name in PROFILE},
        **{name: address.get(name) for name in ("street", "postal_code", "city", "country")},
    }


async def apply(connection: Any, context: Context, rows: list[Raw]) -> Result:
    await connection.execute(CREATE_STAGE)
    # A dry run's batches are savepoints of one transaction: nothing else deletes their rows
    # (DELETE, not TRUNCATE, which would drop the statistics the checks are planned with).
    await connection.execute(f"DELETE FROM {STAGE}")
    keys = [row["external_id"] for _, row in rows]
    existing = {r[0]: r for r in await connection.fetch(_EXISTING, keys)}
    result = Result()
    records = []
    for number, row in rows:
        key = row["external_id"]
        found = existing.get(key)
        if found is not None and found[2] != "active":
            reason = "account_erased" if found[2] == "erased" else "account_closed"
            detail = f"the user is {found[2]} in this register; an import does not change them"
            result.rejects.append(Reject(number, key, "external_id", reason, detail))
            continue
        user_id = found[1] if found else uuid.uuid4()
        password_hash = None
        if row.get("password") and not (found and found[3]):
            # Only a password the account does not yet have: never one the person has set.
            password_hash = context.hash_password(row["password"])
        code = row.get("identity_code")
        sealed: tuple[Any, ...] = (None,) * 6
        if code:
            lookup = context.cipher.lookup_hash(code)
            if found and found[4] == lookup and found[5] == row["identity_code_method"]:
                sealed = (lookup, None, None, None, None, None)
            else:
                box = context.cipher.seal(user_id, code)
                sealed = (
                    lookup,
                    box.ciphertext,
                    box.nonce,
                    box.key_id,
                    mask_identity_code(code),
                    row["identity_code_method"],
                )
        values = _values(row)
        created = {
            name: {"from": None, "to": _jsonable(value)}
            for name, value in values.items()
            if value is not None and name != "kind"
        }
        records.append(
            (
                number,
                key,
                user_id,
                found is not None,
                row["username"],
                password_hash,
                *(values[name] for name in PROFILE),
                *sealed,
                None if found else sorted(created),
                None if found else json.dumps(created),
            )
        )
    await stage(connection, STAGE, records, [name for name, _ in STAGE_COLUMNS])
    await _check(connection, context)
    result.rejects += await refused(connection, STAGE, "external_id")
    result.inserted = await _insert(connection, context)
    changed = await _update(connection, context)
    result.updated = changed
    valid_existing = await connection.fetchval(
        f"SELECT count(*) FROM {STAGE} WHERE reason IS NULL AND existing"
    )
    result.unchanged = valid_existing - changed
    return result


async def _check(connection: Any, context: Context) -> None:
    await claim_keys(connection, context.run_id, STAGE, "external_id")
    for column, expression, reason, taken in (
        ("username", "lower(username)", "duplicate_username", "username_taken"),
        ("business_id", "business_id", "duplicate_business_id", "business_id_taken"),
        ("identity_code", "ic_lookup", "duplicate_identity_code", "identity_code_taken"),
    ):
        await refuse_later_duplicates(
            connection,
            STAGE,
            reason,
            column,
            f"an earlier row of the file has the same {column.replace('_', ' ')}",
            expression,
        )
        holder = {
            "username": "SELECT true FROM credentials c WHERE lower(c.username) = "
            "lower(s.username) AND c.user_id <> s.id",
            "business_id": "SELECT true FROM users u WHERE u.business_id = s.business_id "
            "AND u.id <> s.id",
            "identity_code": "SELECT true FROM identity_codes i WHERE i.lookup_hash = s.ic_lookup "
            "AND i.user_id <> s.id",
        }[column]
        await refuse(
            connection,
            STAGE,
            taken,
            column,
            f"the {column.replace('_', ' ')} is held by another user of this register",
            # Only rows with a value are looked up (a company has no identity code).
            f"{expression} IS NOT NULL AND {held(holder)}",
        )
    # The API never turns a private user into a company, nor an import.
    await refuse(
        connection,
        STAGE,
        "kind_changed",
        "kind",
        "the user is of the other kind in this register; the kind of a user never changes",
        "s.existing AND " + held("SELECT true FROM users u WHERE u.id = s.id AND u.kind <> s.kind"),
    )
    # A user changed in this service (by the person, staff, DVV or Posti) since the import is
    # theirs now: a corrected file does not undo it.
    await refuse(
        connection,
        STAGE,
        "changed_in_service",
        "external_id",
        "the user's data has changed in this register since it was imported",
        f"s.existing AND {changed_here('s.id', 'basic_data', 'identity_code')}",
    )


async def _insert(connection: Any, context: Context) -> int:
    columns = ", ".join(PROFILE)
    new = f"FROM {STAGE} s WHERE s.reason IS NULL AND NOT s.existing"
    status = await connection.execute(
        f"INSERT INTO users (id, external_id, {columns}) SELECT s.id, s.external_id, "
        f"{', '.join('s.' + name for name in PROFILE)} {new}"
    )
    inserted = int(status.split()[-1])
    if not inserted:
        return 0
    await connection.execute(
        f"INSERT INTO credentials (user_id, username, password_hash) "
        f"SELECT s.id, s.username, s.password_hash {new}"
    )
    await connection.execute(
        f"INSERT INTO identity_codes (user_id, ciphertext, nonce, key_id, lookup_hash, masked, "
        f"method) SELECT s.id, s.ic_ciphertext, s.ic_nonce, s.ic_key_id, s.ic_lookup, "
        f"s.ic_masked, s.ic_method {new} AND s.ic_ciphertext IS NOT NULL"
    )
    # The identity code itself never goes into the history: only that it was set, and how the
    # person was identified (as the API records it).
    await connection.execute(
        f"""
        INSERT INTO user_changes (user_id, source, actor, category, action, fields, changes,
                                  update_id)
        SELECT s.id, 'import', $1, 'basic_data', 'created', s.created_fields, s.created_changes,
               $2 {new}
        UNION ALL
        SELECT s.id, 'import', $1, 'identity_code', 'created', ARRAY['identity_code', 'method'],
               jsonb_build_object(
                   'identity_code', jsonb_build_object('from', NULL, 'to', 'changed'),
                   'method', jsonb_build_object('from', NULL, 'to', s.ic_method)),
               $2 {new} AND s.ic_ciphertext IS NOT NULL
        """,
        context.actor,
        context.update_id,
    )
    return inserted


async def _update(connection: Any, context: Context) -> int:
    """Existing users whose profile, username, password or identity code the file changes."""
    changed = await PROFILES.update_changed(connection, context)
    if changed:
        # Art. 19: the recipients that ever received a rectified person's data are told.
        await connection.execute(
            """
            INSERT INTO notifications (recipient_id, user_id, event, payload, next_attempt_at)
            SELECT DISTINCT ON (d.recipient_id, u.id) d.recipient_id, u.id, 'rectification',
                   jsonb_build_object('event', 'rectification', 'user_id', u.id::text,
                                      'fields', c.fields, 'occurred_at', now()),
                   now()
            FROM unnest($1::uuid[], $2::jsonb[]) AS c(id, fields)
            JOIN users u ON u.id = c.id
            JOIN disclosure_log d ON d.subject_ref = u.subject_ref
            """,
            [r["user_id"] for r in changed],
            [json.dumps(sorted(r["fields"])) for r in changed],
        )
    ids = {r["user_id"] for r in changed}
    credentials = await connection.fetch(
        f"""
        WITH named AS (
            UPDATE credentials c SET username = s.username FROM {STAGE} s
            WHERE c.user_id = s.id AND s.reason IS NULL AND s.existing
              AND c.username IS DISTINCT FROM s.username
            RETURNING c.user_id
        ), passwords AS (
            UPDATE credentials c SET password_hash = s.password_hash, password_changed_at = now()
            FROM {STAGE} s
            WHERE c.user_id = s.id AND s.reason IS NULL AND s.existing
              AND c.password_hash IS NULL AND s.password_hash IS NOT NULL
            RETURNING c.user_id
        )
        SELECT user_id FROM named UNION SELECT user_id FROM passwords
        """
    )
    ids |= {r[0] for r in credentials}
    ids |= await _identity_codes(connection, context, existing=True)
    return len(ids)


async def _identity_codes(connection: Any, context: Context, *, existing: bool) -> set[Any]:
    rows = await connection.fetch(
        f"""
        WITH written AS (
            INSERT INTO identity_codes (user_id, ciphertext, nonce, key_id, lookup_hash, masked,
                                        method, verified_at)
            SELECT s.id, s.ic_ciphertext, s.ic_nonce, s.ic_key_id, s.ic_lookup, s.ic_masked,
                   s.ic_method, now()
            FROM {STAGE} s
            WHERE s.reason IS NULL AND s.existing = $3 AND s.ic_ciphertext IS NOT NULL
            ON CONFLICT (user_id) DO UPDATE SET ciphertext = EXCLUDED.ciphertext,
                nonce = EXCLUDED.nonce, key_id = EXCLUDED.key_id,
                lookup_hash = EXCLUDED.lookup_hash, masked = EXCLUDED.masked,
                method = EXCLUDED.method, verified_at = EXCLUDED.verified_at
            RETURNING user_id, (xmax <> 0) AS replaced
        ), logged AS (
            INSERT INTO user_changes (user_id, source, actor, category, action, fields, changes,
                                      update_id)
            SELECT w.user_id, 'import', $1, 'identity_code',
                   CASE WHEN w.replaced THEN 'updated' ELSE 'created' END,
                   ARRAY['identity_code', 'method'],
                   jsonb_build_object(
                       'identity_code', jsonb_build_object(
                           'from', CASE WHEN w.replaced THEN 'set' END, 'to', 'changed'),
                       'method', jsonb_build_object('from', NULL, 'to', s.ic_method)),
                   $2
            FROM written w JOIN {STAGE} s ON s.id = w.user_id AND s.reason IS NULL
        )
        SELECT user_id FROM written
        """,
        context.actor,
        context.update_id,
        existing,
    )
    return {r[0] for r in rows}
