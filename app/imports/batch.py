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


async def claim_keys(connection: Any, run_id: int, stage: str, key: str) -> None:
    """Records the batch's keys for the run; a key the file already had is refused, naming the
    row that had it first."""
    await connection.execute(
        f"""
        WITH claimed AS (
            INSERT INTO import_keys (run_id, key, row_number)
            SELECT $1, {key}, min(row_number) FROM {stage} WHERE reason IS NULL GROUP BY {key}
            ON CONFLICT DO NOTHING
        )
        UPDATE {stage} s
        SET reason = 'duplicate_in_file', reason_column = '{key}',
            detail = 'the same {key} as row ' || k.row_number
        FROM (
            SELECT key, row_number FROM import_keys WHERE run_id = $1
            UNION ALL
            SELECT {key}, min(row_number) FROM {stage} WHERE reason IS NULL GROUP BY {key}
        ) k
        WHERE s.reason IS NULL AND s.{key} = k.key AND s.row_number > k.row_number
        """,
        run_id,
    )


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


def later_duplicate(stage: str, expression: str) -> str:
    """A condition: another row of the batch, not refused and earlier, has the same value."""
    return (
        f"{expression} IS NOT NULL AND EXISTS (SELECT 1 FROM {stage} o WHERE o.reason IS NULL "
        f"AND o.row_number < s.row_number AND {expression.replace('s.', 'o.')} = {expression})"
    )
