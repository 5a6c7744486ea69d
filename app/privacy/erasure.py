"""Erasure (Art. 17), walked over the catalogue.

Nothing of the person survives outside a legal hold, and nothing that survives carries the user
id that recipients, the frontend or the logs knew: the user's row is replaced by a tombstone under
a fresh pseudonym, and every row kept as proof or under a hold moves to that pseudonym with its
identifying columns cleared. The append-only logs keep their entries, under the pseudonymous
reference the tombstone no longer has. The caller holds the user's row lock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.personal_data import Column, Erasure, OnErasure, Table, person_owner
from app.privacy.catalogue import TABLES


@dataclass
class Outcome:
    """What one table's erasure did."""

    table: Table
    rows: int
    held_until: list[date | None] = field(default_factory=list)


def _where(table: Table) -> str:
    if table.via is not None:
        column, parent = table.via
        return f"{column} IN (SELECT id FROM {parent} WHERE user_id = :old)"
    if table.link == "subject_ref":
        return "subject_ref = (SELECT subject_ref FROM users WHERE id = :old)"
    if table.link == "owner":
        # The person's own keys, and any kept answer that names them.
        return (
            "owner = :owner"
            " OR position(convert_to(:old_text, 'UTF8') IN body) > 0"
            " OR strpos(CAST(headers AS text), :old_text) > 0"
        )
    return f"{table.link} = :old"


def _values(old: uuid.UUID) -> dict[str, object]:
    """The erased user as the statements name them: by id, as text, and as an owner."""
    return {"old": old, "old_text": str(old), "owner": person_owner(old)}


def _cleared(column: Column) -> str:
    if column.clear_when is None:
        return f"{column.name} = {column.cleared}"
    return (
        f"{column.name} = CASE WHEN {column.clear_when} THEN {column.cleared} "
        f"ELSE {column.name} END"
    )


async def _tombstone(session: AsyncSession, table: Table, old: uuid.UUID, new: uuid.UUID) -> int:
    """The user's row, replaced: only what the catalogue keeps, under the fresh pseudonym."""
    names: list[str] = []
    values: list[str] = []
    for column in table.columns:
        if column.on_erasure is OnErasure.KEY:
            names.append(column.name)
            values.append(":new" if column.name == table.link else "gen_random_uuid()")
        elif column.on_erasure is OnErasure.KEEP and column.name not in dict(table.tombstone):
            names.append(column.name)
            values.append(column.name)
    for name, value in table.tombstone:
        names.append(name)
        values.append(value)
    inserted = await session.execute(
        text(
            f"INSERT INTO {table.name} ({', '.join(names)}) "
            f"SELECT {', '.join(values)} FROM {table.name} WHERE {table.link} = :old"
        ),
        {"old": old, "new": new},
    )
    return int(inserted.rowcount)  # type: ignore[attr-defined]


async def _keep(session: AsyncSession, table: Table, old: uuid.UUID, new: uuid.UUID) -> Outcome:
    """Rows kept as proof or under a hold: moved to the pseudonym, identifying columns cleared."""
    cleared = [c for c in table.columns if c.on_erasure is OnErasure.CLEAR]
    if table.append_only:
        moved = await session.scalar(
            text("SELECT registry_rekey_proof(CAST(:table AS regclass), :old, :new, :cleared)"),
            {"table": table.name, "old": old, "new": new, "cleared": [c.name for c in cleared]},
        )
        return Outcome(table, int(moved or 0))
    assignments = [f"{table.link} = :new", *(_cleared(c) for c in cleared)]
    returning = ""
    hold = table.retention.hold if table.erasure is Erasure.HOLD else None
    if hold is not None:
        start = f"COALESCE({hold.from_column}, now())"
        assignments.append(
            f"{hold.until_column} = make_date(CAST(extract(year FROM {start}) AS int) + "
            f"{hold.years}, 12, 31)"
        )
        needed = hold.still_needed or "false"
        returning = f" RETURNING CASE WHEN {needed} THEN NULL ELSE {hold.until_column} END"
    result = await session.execute(
        text(f"UPDATE {table.name} SET {', '.join(assignments)} WHERE {_where(table)}{returning}"),
        {**_values(old), "new": new},
    )
    if hold is not None:
        until = [row[0] for row in result]
        return Outcome(table, len(until), until)
    return Outcome(table, int(result.rowcount))  # type: ignore[attr-defined]


async def _count(session: AsyncSession, table: Table, old: uuid.UUID) -> int:
    return int(
        await session.scalar(
            text(f"SELECT count(*) FROM {table.name} WHERE {_where(table)}"), {"old": old}
        )
        or 0
    )


async def erase(session: AsyncSession, old: uuid.UUID) -> tuple[uuid.UUID, list[Outcome]]:
    """Erases the user ``old``; returns the pseudonym of what survives and what each table did."""
    new = uuid.uuid4()
    subject = next(t for t in TABLES if t.link == "id")
    await _tombstone(session, subject, old, new)
    outcomes: list[Outcome] = []
    # Rows that name a parent row go first, while the parent still names the user.
    for table in sorted(TABLES, key=lambda t: t.via is None):
        if table is subject:
            continue
        if table.erasure is Erasure.DELETE:
            deleted = await session.execute(
                text(f"DELETE FROM {table.name} WHERE {_where(table)}"),
                _values(old),
            )
            outcomes.append(Outcome(table, int(deleted.rowcount)))  # type: ignore[attr-defined]
        elif table.erasure is Erasure.UNLINK:
            outcomes.append(Outcome(table, await _count(session, table, old)))
        else:
            outcomes.append(await _keep(session, table, old, new))
    deleted = await session.execute(
        text(f"DELETE FROM {subject.name} WHERE {subject.link} = :old"), {"old": old}
    )
    outcomes.insert(0, Outcome(subject, int(deleted.rowcount)))  # type: ignore[attr-defined]
    return new, outcomes
