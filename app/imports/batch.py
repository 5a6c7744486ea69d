"""What every kind of import shares: the batch's context, its result and the set-based checks."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from app.imports.rows import Reject


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
