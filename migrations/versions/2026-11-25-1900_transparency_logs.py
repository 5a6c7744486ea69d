"""transparency logs: the access and disclosure logs become RFC 9162 Merkle trees

Revision ID: 0011_transparency_logs
Revises: 0010_erasure_rekeys_proof
Create Date: 2026-11-25 19:00:00+00:00

Writers no longer chain their entries under a lane's lock: they insert, and a statement trigger
queues the new ids for the sequencer, which integrates committed entries into each log's tree and
signs C2SP checkpoints. The existing entries are integrated here, in id order (the order of their
chains). The chains' columns and their JWS checkpoints go: the tree covers every entry they did.
Leaves, nodes and checkpoints are append-only like the logs; the service's role may only read and
insert them, and take entries off the queue.
"""

import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0011_transparency_logs"
down_revision: str | None = "0010_erasure_rekeys_proof"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (log id, table, content columns, content hashed only when set), as app.audit.models had them.
LOGS = (
    (
        1,
        "disclosure_log",
        (
            "disclosed_at",
            "subject_ref",
            "recipient_id",
            "recipient_name",
            "purpose",
            "categories",
            "legal_basis",
            "channel",
            "client_id",
            "request_id",
            "kind",
            "note",
            "transfer_basis",
        ),
        {"transfer_basis"},
    ),
    (
        2,
        "access_log",
        (
            "accessed_at",
            "subject_ref",
            "actor",
            "client_id",
            "role",
            "categories",
            "operation",
            "request_id",
            "correlation_id",
        ),
        {"correlation_id"},
    ),
)
TREE_TABLES = ("transparency_leaves", "transparency_nodes", "transparency_checkpoints")

QUEUE_FUNCTION = """
CREATE FUNCTION registry_queue_log_entries() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO transparency_queue (log, entry_id, queued_at)
    SELECT CAST(TG_ARGV[0] AS smallint), id, clock_timestamp() FROM added;
    RETURN NULL;
END
$$
"""


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return value


def _canonical(content: dict[str, Any]) -> bytes:
    return json.dumps(
        {key: _json_value(value) for key, value in content.items()},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def _content(row: Any, columns: Sequence[str], optional: set[str]) -> dict[str, Any]:
    content = {"id": row.id}
    for name in columns:
        value = getattr(row, name)
        if value is not None or name not in optional:
            content[name] = value
    return content


def _integrate_existing(
    log_id: int, table: str, columns: Sequence[str], optional: set[str]
) -> None:
    bind = op.get_bind()
    # No writer adds an entry between this read and the queue's trigger (to the migration's end).
    op.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
    now = datetime.now(UTC)
    edge: list[tuple[int, bytes]] = []
    leaves: list[dict[str, Any]] = []
    nodes: list[dict[str, Any]] = []

    def flush() -> None:
        if leaves:
            bind.execute(
                sa.text(
                    "INSERT INTO transparency_leaves"
                    " (log, leaf_index, entry_id, leaf_hash, queued_at, integrated_at)"
                    " VALUES (:log, :leaf_index, :entry_id, :leaf_hash, :at, :at)"
                ),
                leaves,
            )
            leaves.clear()
        if nodes:
            bind.execute(
                sa.text(
                    "INSERT INTO transparency_nodes (log, level, idx, hash)"
                    " VALUES (:log, :level, :idx, :hash)"
                ),
                nodes,
            )
            nodes.clear()

    size = 0
    after = 0
    while True:
        rows = bind.execute(
            sa.text(
                f"SELECT id, {', '.join(columns)} FROM {table}"  # noqa: S608
                " WHERE id > :after ORDER BY id LIMIT 5000"
            ),
            {"after": after},
        ).all()
        if not rows:
            break
        after = rows[-1].id
        for row in rows:
            leaf = hashlib.sha256(b"\x00" + _canonical(_content(row, columns, optional))).digest()
            leaves.append(
                {
                    "log": log_id,
                    "leaf_index": size,
                    "entry_id": row.id,
                    "leaf_hash": leaf,
                    "at": now,
                }
            )
            size += 1
            edge.append((0, leaf))
            while len(edge) > 1 and edge[-1][0] == edge[-2][0]:
                level, right = edge.pop()
                _, left = edge.pop()
                parent = hashlib.sha256(b"\x01" + left + right).digest()
                edge.append((level + 1, parent))
                index = (size >> (level + 1)) - 1
                nodes.append({"log": log_id, "level": level + 1, "idx": index, "hash": parent})
        flush()


def upgrade() -> None:
    op.create_table(
        "transparency_queue",
        sa.Column("log", sa.SmallInteger(), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "queued_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("log", "entry_id", name=op.f("pk_transparency_queue")),
    )
    op.create_table(
        "transparency_leaves",
        sa.Column("log", sa.SmallInteger(), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("integrated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("log", "leaf_index", name=op.f("pk_transparency_leaves")),
    )
    op.create_index(
        "uq_transparency_leaves_log_entry_id",
        "transparency_leaves",
        ["log", "entry_id"],
        unique=True,
    )
    op.create_table(
        "transparency_nodes",
        sa.Column("log", sa.SmallInteger(), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("log", "level", "idx", name=op.f("pk_transparency_nodes")),
    )
    op.create_table(
        "transparency_checkpoints",
        sa.Column("log", sa.SmallInteger(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("log", "tree_size", name=op.f("pk_transparency_checkpoints")),
    )
    op.create_table(
        "transparency_verifications",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("log", sa.SmallInteger(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.Column(
            "verified_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transparency_verifications")),
    )
    for log_id, table, columns, optional in LOGS:
        _integrate_existing(log_id, table, columns, optional)

    op.execute(QUEUE_FUNCTION)
    op.execute("REVOKE ALL ON FUNCTION registry_queue_log_entries() FROM PUBLIC")
    for log_id, table, _columns, _optional in LOGS:
        op.execute(
            f"CREATE TRIGGER {table}_queue AFTER INSERT ON {table} REFERENCING NEW TABLE AS added"
            f" FOR EACH STATEMENT EXECUTE FUNCTION registry_queue_log_entries('{log_id}')"
        )
        op.drop_index(f"ix_{table}_lane_id", table_name=table)
        for column in ("entry_hash", "prev_hash", "lane"):
            op.drop_column(table, column)
    op.drop_table("log_checkpoints")

    for table in (*TREE_TABLES, "transparency_verifications"):
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION refuse_change_to_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION refuse_change_to_append_only()"
        )
    op.execute(f"GRANT SELECT, INSERT ON {', '.join(TREE_TABLES)} TO registry_app")
    op.execute("GRANT SELECT, DELETE ON transparency_queue TO registry_app")
    op.execute("GRANT SELECT ON transparency_verifications TO registry_app")


def _chain(table: str, columns: Sequence[str], optional: set[str]) -> None:
    """Back to one chain (lane 0) in id order, as the previous code hashed it."""
    bind = op.get_bind()
    prev = "0" * 64
    rows = bind.execute(
        sa.text(f"SELECT id, {', '.join(columns)} FROM {table} ORDER BY id")  # noqa: S608
    ).all()
    for row in rows:
        digest = hashlib.sha256(
            prev.encode() + _canonical(_content(row, columns, optional))
        ).hexdigest()
        bind.execute(
            sa.text(
                f"UPDATE {table} SET lane = 0, prev_hash = :prev, entry_hash = :hash"  # noqa: S608
                " WHERE id = :id"
            ),
            {"prev": prev, "hash": digest, "id": row.id},
        )
        prev = digest


def downgrade() -> None:
    for table in (*TREE_TABLES, "transparency_verifications", "transparency_queue"):
        op.drop_table(table)
    op.create_table(
        "log_checkpoints",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("log", sa.String(length=32), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("heads", sa.Text(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_checkpoints")),
    )
    op.execute("GRANT SELECT, INSERT ON log_checkpoints TO registry_app")
    op.execute(
        "CREATE TRIGGER log_checkpoints_append_only BEFORE UPDATE OR DELETE ON log_checkpoints "
        "FOR EACH ROW EXECUTE FUNCTION refuse_change_to_append_only()"
    )
    op.execute(
        "CREATE TRIGGER log_checkpoints_append_only_truncate BEFORE TRUNCATE ON log_checkpoints "
        "FOR EACH STATEMENT EXECUTE FUNCTION refuse_change_to_append_only()"
    )
    for _log_id, table, columns, optional in LOGS:
        op.execute(f"DROP TRIGGER {table}_queue ON {table}")
        op.add_column(table, sa.Column("lane", sa.SmallInteger(), server_default="0"))
        op.add_column(table, sa.Column("prev_hash", sa.String(64), server_default=""))
        op.add_column(table, sa.Column("entry_hash", sa.String(64), server_default=""))
        op.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        _chain(table, columns, optional)
        op.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        for column in ("lane", "prev_hash", "entry_hash"):
            op.alter_column(table, column, nullable=False)
        if table == "disclosure_log":
            for column in ("lane", "prev_hash", "entry_hash"):
                op.alter_column(table, column, server_default=None)
        op.create_index(f"ix_{table}_lane_id", table, ["lane", "id"])
    op.execute("DROP FUNCTION registry_queue_log_entries()")
