"""Retention, walked over the catalogue: ``registry retention run`` removes what every table's rule
says is due, and ``--dry-run`` shows what is due now and what is due next, without removing.

- ``months``: rows older than the setting's number of whole months (counted as the events'
  partitions are: the current month and the months before it);
- ``expiry``: rows whose time column, plus the grace, is past;
- ``hold``: rows kept after an erasure whose hold has ended, and which no claim still needs;
- ``relationship``, ``proof`` and ``log``: nothing by the calendar (erasure, or never).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.personal_data import Table
from app.privacy.catalogue import TABLES


def _rule(table: Table, settings: Any) -> tuple[str, str, str] | None:
    """As SQL: which rows are due on ``:today``, the day a row falls due, and which rows the rule
    applies to at all; None when no calendar rule applies."""
    retention = table.retention
    if retention.rule == "months" and retention.setting and retention.column:
        months = int(getattr(settings, retention.setting))
        start = "date_trunc('month', CAST(:today AS timestamptz))"
        due = f"{retention.column} < {start} - interval '{months - 1} months'"
        falls = (
            f"CAST(date_trunc('month', {retention.column}) + interval '{months} months' AS date)"
        )
        return due, falls, "true"
    if retention.rule == "expiry" and retention.column and retention.grace:
        due = f"{retention.column} < CAST(:today AS timestamptz) - interval '{retention.grace}'"
        falls = f"CAST({retention.column} + interval '{retention.grace}' AS date) + 1"
        return due, falls, "true"
    if retention.rule == "hold" and retention.hold is not None:
        hold = retention.hold
        applies = f"NOT ({hold.still_needed})" if hold.still_needed else "true"
        return f"{hold.until_column} < :today AND {applies}", f"{hold.until_column} + 1", applies
    return None


async def run(
    session: AsyncSession, settings: Any, today: date, *, dry_run: bool
) -> dict[str, list[dict[str, Any]]]:
    """What is due on ``today``, per category, removed unless ``dry_run``."""
    report: dict[str, list[dict[str, Any]]] = {}
    for table in TABLES:
        rule = _rule(table, settings)
        if rule is None:
            continue
        due, falls, applies = rule
        values = {"today": today}
        if dry_run:
            rows = int(
                await session.scalar(text(f"SELECT count(*) FROM {table.name} WHERE {due}"), values)
                or 0
            )
        else:
            removed = await session.execute(text(f"DELETE FROM {table.name} WHERE {due}"), values)
            rows = int(removed.rowcount)  # type: ignore[attr-defined]
        upcoming = (
            await session.execute(
                text(
                    f"SELECT {falls} AS day, count(*) FROM {table.name} "
                    f"WHERE {falls} > :today AND {applies} GROUP BY 1 ORDER BY 1 LIMIT 1"
                ),
                values,
            )
        ).first()
        entry = {
            "table": table.name,
            ("due" if dry_run else "removed"): rows,
            "next_on": upcoming[0].isoformat() if upcoming else None,
            "next_rows": int(upcoming[1]) if upcoming else 0,
        }
        report.setdefault(table.category, []).append(entry)
    return report
