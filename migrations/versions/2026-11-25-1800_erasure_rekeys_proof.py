"""erasure re-keys the records of proof: consent records and receipts may change in one way only

Revision ID: 0010_erasure_rekeys_proof
Revises: 0009_idempotency_keys
Create Date: 2026-11-25 18:00:00+00:00

An erasure keeps consent records and receipts as proof (Art. 7(1)) but re-keys them to a fresh
pseudonym that nothing outside the registry has seen, and clears their evidence that identifies
the person (the browser's user agent, the keyed hash of the address). The tables stay append-only
for every other change; the service's role still has no UPDATE on them, and re-keys only through
``registry_rekey_proof``, which the schema's owner defines.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010_erasure_rekeys_proof"
down_revision: str | None = "0009_idempotency_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROOF_TABLES = ("consent_records", "consent_receipts")

# An UPDATE passes only when it moves the row to an erased user's pseudonym and every other
# column it changes becomes NULL.
PROOF_TRIGGER = """
CREATE FUNCTION refuse_change_to_proof() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed record;
BEGIN
    IF TG_OP <> 'UPDATE' THEN
        RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM users WHERE id = NEW.user_id AND status = 'erased') THEN
        RAISE EXCEPTION '% is append-only: only an erasure re-keys it', TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    FOR changed IN
        SELECT n.key, n.value FROM jsonb_each(to_jsonb(NEW)) n
        JOIN jsonb_each(to_jsonb(OLD)) o ON o.key = n.key
        WHERE n.value IS DISTINCT FROM o.value AND n.key <> 'user_id'
    LOOP
        IF changed.value <> 'null'::jsonb THEN
            RAISE EXCEPTION '% is append-only: an erasure may only clear %', TG_TABLE_NAME,
                changed.key USING ERRCODE = 'insufficient_privilege';
        END IF;
    END LOOP;
    RETURN NEW;
END
$$
"""

REKEY_FUNCTION = """
CREATE FUNCTION registry_rekey_proof(
    proof regclass, old_id uuid, new_id uuid, cleared text[]
) RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    assignments text := '';
    name text;
    moved bigint;
BEGIN
    IF proof NOT IN ('consent_records'::regclass, 'consent_receipts'::regclass) THEN
        RAISE EXCEPTION 'not a record of proof: %', proof;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM users WHERE id = old_id AND status <> 'erased') THEN
        RAISE EXCEPTION 'no user being erased';
    END IF;
    -- Only onto a tombstone this very transaction made (an erasure in progress; its own rows'
    -- xmin is not older than the transaction), never onto an older one.
    IF NOT EXISTS (
        SELECT 1 FROM users WHERE id = new_id AND status = 'erased' AND age(xmin) <= 0
    ) THEN
        RAISE EXCEPTION 'not the tombstone of an erasure in progress';
    END IF;
    FOREACH name IN ARRAY cleared LOOP
        assignments := assignments || format(', %I = NULL', name);
    END LOOP;
    EXECUTE format('UPDATE %s SET user_id = $2%s WHERE user_id = $1', proof, assignments)
        USING old_id, new_id;
    GET DIAGNOSTICS moved = ROW_COUNT;
    RETURN moved;
END
$$
"""


def upgrade() -> None:
    op.execute(PROOF_TRIGGER)
    for table in PROOF_TABLES:
        op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION refuse_change_to_proof()"
        )
    op.execute(REKEY_FUNCTION)
    op.execute(
        "REVOKE ALL ON FUNCTION registry_rekey_proof(regclass, uuid, uuid, text[]) FROM PUBLIC"
    )
    op.execute(
        "GRANT EXECUTE ON FUNCTION registry_rekey_proof(regclass, uuid, uuid, text[]) "
        "TO registry_app"
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION registry_rekey_proof(regclass, uuid, uuid, text[])")
    for table in PROOF_TABLES:
        op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION refuse_change_to_append_only()"
        )
    op.execute("DROP FUNCTION refuse_change_to_proof()")
