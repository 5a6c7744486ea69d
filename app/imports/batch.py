"""What every kind of import shares: the batch's context, its result and the set-based checks."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from app.imports.rows import Raw, Reject


@dataclass(frozen=True)
class Context:
    run_id: int
    file_name: str
    sha256: str
    # Provenance: who (the file) and which import (its checksum).
    actor: str
    update_id: str
    cipher: Any  # IdentityCodeCipher (users)
    hash_password: Any  # str -> str (argon2id), users with a password in the file


@dataclass
class Result:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejects: list[Reject] = field(default_factory=list)

    def counts(self) -> Counter[str]:
        counts: Counter[str] = Counter(
            inserted=self.inserted, updated=self.updated, unchanged=self.unchanged
        )
        # Rows rejected, by the first reason given for each row.
        first: dict[int, str] = {}
        for reject in self.rejects:
            first.setdefault(reject.row, reject.reason)
        counts.update(f"rejected:{reason}" for reason in first.values())
        return counts


# Every statement of a batch probes the register's tables through their indexes: a batch is a
# few thousand rows, and a hash join would read a table of millions for each (the planner
# prefers that from about a million rows on, and the import would slow down as it fills them).
# The staging tables are keyed by row number (and indexed where batches join them), so the
# in-batch joins are index lookups too. No JIT: the per-row lookups make the estimates large
# enough for it, and compiling cost a quarter of a second a statement (measured), far more than
# running one.
PROBE_BY_INDEX = (
    "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; SET LOCAL jit = off; "
    # A batch lost in a crash before it reached the disk is redone by the next run (its progress
    # is in the same transaction): it need not wait for the flush.
    "SET LOCAL synchronous_commit = off"
)


async def stage(
    connection: Any, table: str, records: list[tuple[Any, ...]], columns: list[str]
) -> None:
    """COPYs the batch into its staging table and gives the planner its size (a temporary table
    has no statistics until analysed: without them, the checks below join row by row)."""
    await connection.copy_records_to_table(table, records=records, columns=columns)
    # Once a session: the statistics of a temporary table outlive its rows, and the planner
    # scales them by the table's size at each batch (-1: never analysed).
    if await connection.fetchval(
        "SELECT reltuples < 0 FROM pg_class WHERE oid = $1::regclass", table
    ):
        await connection.execute(f"ANALYZE {table}")


async def claim_keys(connection: Any, run_id: int, stage: str, key: str) -> None:
    """Records the batch's keys for the run; a key the file already had (in an earlier batch,
    or earlier in this one) is refused, naming the row that had it first."""
    # A scalar subquery per row (never turned into a join): each key is one index lookup.
    await connection.execute(
        f"""
        WITH seen AS MATERIALIZED (
            SELECT s.row_number,
                   (SELECT k.row_number FROM import_keys k
                    WHERE k.run_id = $1 AND k.key = s.{key}) AS first
            FROM {stage} s WHERE s.reason IS NULL
        )
        UPDATE {stage} s SET reason = 'duplicate_in_file', reason_column = '{key}',
            detail = 'the same {key} as row ' || seen.first
        FROM seen WHERE seen.row_number = s.row_number AND seen.first IS NOT NULL
        """,
        run_id,
    )
    await refuse_later_duplicates(
        connection, stage, "duplicate_in_file", key, f"the same {key} as an earlier row", key
    )
    await connection.execute(
        f"INSERT INTO import_keys (run_id, key, row_number) "
        f"SELECT $1, {key}, row_number FROM {stage} WHERE reason IS NULL ON CONFLICT DO NOTHING",
        run_id,
    )


def held(query: str) -> str:
    """A condition: ``query`` (SQL over ``s``, the staged row) finds a row. A scalar subquery,
    which the planner never turns into a join: one index lookup per staged row."""
    return f"coalesce(({query} LIMIT 1), false)"


async def refuse(
    connection: Any, stage: str, reason: str, column: str, detail: str, condition: str
) -> None:
    """Marks the batch's rows not yet refused that meet ``condition`` (SQL over ``s``)."""
    await connection.execute(
        f"UPDATE {stage} s SET reason = $1, reason_column = $2, detail = $3 "
        f"WHERE s.reason IS NULL AND ({condition})",
        reason,
        column,
        detail,
    )


async def refused(connection: Any, stage: str, key: str) -> list[Reject]:
    rows = await connection.fetch(
        f"SELECT row_number, {key}, reason_column, reason, detail FROM {stage} "
        "WHERE reason IS NOT NULL ORDER BY row_number"
    )
    return [Reject(r[0], r[1], r[2], r[3], r[4]) for r in rows]


async def refuse_later_duplicates(
    connection: Any, stage: str, reason: str, column: str, detail: str, expression: str
) -> None:
    """Refuses the rows not yet refused whose ``expression`` (SQL over the stage's columns) an
    earlier such row of the batch has too."""
    await connection.execute(
        f"""
        UPDATE {stage} s
        SET reason = $1, reason_column = $2, detail = $3 || ' (row ' || d.first || ')'
        FROM (
            SELECT row_number,
                   min(row_number) OVER (PARTITION BY {expression}) AS first
            FROM {stage} WHERE reason IS NULL AND {expression} IS NOT NULL
        ) d
        WHERE s.row_number = d.row_number AND d.row_number > d.first
        """,
        reason,
        column,
        detail,
    )


# Writing to the register's tables -----------------------------------------------------------


def changes_join(old: str | None, columns: tuple[str, ...]) -> str:
    """Per column of a staged row ``s``: its name, and its old (from ``old``, a joined row of
    the register; none for a new row) and new values as JSON."""
    pairs = ", ".join(
        f"('{name}', {f'to_jsonb({old}.{name})' if old else 'NULL::jsonb'}, to_jsonb(s.{name}))"
        for name in columns
    )
    return f"CROSS JOIN LATERAL (VALUES {pairs}) AS f(name, old, new)"


def changed_here(user: str, *categories: str) -> str:
    """A condition: the user's data of these categories has changed in this register (by the
    person, staff, DVV or Posti) since it was imported. A correction never undoes that."""
    named = ", ".join(f"'{category}'" for category in categories)
    return held(
        f"SELECT true FROM user_changes h WHERE h.user_id = {user} "
        f"AND h.category IN ({named}) AND h.source <> 'import'"
    )


@dataclass(frozen=True)
class Target:
    """A table of the register an import writes from its staging table: the columns it takes,
    how a staged row ``s`` finds its row (``t.<table_key> = s.<key>``), which user it is of
    (SQL over ``s``), its category in the history, and when a staged row's row exists."""

    table: str
    table_key: str
    stage: str
    key: str
    columns: tuple[str, ...]
    user: str
    category: str
    existing: str

    async def insert_new(self, connection: Any, context: Context, *, links: str, by: str) -> int:
        """Inserts the staged rows that have no row yet (with the ``links`` columns besides the
        target's, found again by ``by``) and their ``created`` history entries."""
        columns = ", ".join((*links.split(", "), *self.columns))
        return int(
            await connection.fetchval(
                f"""
                WITH new AS (
                    INSERT INTO {self.table} ({columns})
                    SELECT {", ".join("s." + c for c in columns.split(", "))}
                    FROM {self.stage} s WHERE s.reason IS NULL AND NOT ({self.existing})
                    RETURNING {by}
                ), logged AS (
                    INSERT INTO user_changes (user_id, source, actor, category, action, fields,
                                              changes, update_id)
                    SELECT {self.user}, 'import', $1, '{self.category}', 'created',
                           array_agg(f.name ORDER BY f.name),
                           jsonb_object_agg(f.name, jsonb_build_object('from', f.old, 'to', f.new)),
                           $2
                    FROM new n JOIN {self.stage} s ON s.{by} = n.{by} AND s.reason IS NULL
                    {changes_join(None, self.columns)}
                    WHERE f.new IS NOT NULL AND f.new <> 'null'::jsonb
                    GROUP BY s.{by}, {self.user}
                )
                SELECT count(*) FROM new
                """,
                context.actor,
                context.update_id,
            )
        )

    async def update_changed(self, connection: Any, context: Context) -> list[Any]:
        """Updates the existing rows whose columns the file changes, only those columns'
        values, with one ``updated`` history entry each; returns (user, changed fields)."""
        return list(
            await connection.fetch(
                f"""
                WITH changed AS (
                    SELECT s.{self.key} AS key, {self.user} AS user_id,
                           array_agg(f.name ORDER BY f.name) AS fields,
                           jsonb_object_agg(f.name, jsonb_build_object('from', f.old, 'to', f.new))
                               AS changes
                    FROM {self.stage} s JOIN {self.table} t ON t.{self.table_key} = s.{self.key}
                    {changes_join("t", self.columns)}
                    WHERE s.reason IS NULL AND {self.existing} AND f.old IS DISTINCT FROM f.new
                    GROUP BY s.{self.key}, {self.user}
                ), updated AS (
                    UPDATE {self.table} t
                    SET {", ".join(f"{c} = s.{c}" for c in self.columns)}, updated_at = now()
                    FROM {self.stage} s JOIN changed ch ON ch.key = s.{self.key}
                    WHERE t.{self.table_key} = s.{self.key} AND s.reason IS NULL
                ), logged AS (
                    INSERT INTO user_changes (user_id, source, actor, category, action, fields,
                                              changes, update_id)
                    SELECT user_id, 'import', $1, '{self.category}', 'updated', fields, changes,
                           $2
                    FROM changed
                )
                SELECT user_id, fields FROM changed
                """,
                context.actor,
                context.update_id,
            )
        )

    async def count_existing(self, connection: Any) -> int:
        return int(
            await connection.fetchval(
                f"SELECT count(*) FROM {self.stage} s WHERE s.reason IS NULL AND {self.existing}"
            )
        )


_OWNERS = "SELECT external_id, id, status FROM users WHERE external_id = ANY($1::text[])"


async def owners(
    connection: Any, rows: list[Raw], key: str, result: Result
) -> list[tuple[int, dict[str, Any], Any, str]]:
    """The rows whose user (``user_external_id``) is known and not erased, with the user's id
    and status; the others are refused, never guessed."""
    found = {
        r[0]: r
        for r in await connection.fetch(
            _OWNERS, sorted({row["user_external_id"] for _, row in rows})
        )
    }
    owned = []
    for number, row in rows:
        user = found.get(row["user_external_id"])
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
            owned.append((number, row, user[1], user[2]))
    return owned
