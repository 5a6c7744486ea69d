"""The asyncpg connection under a session's transaction, for the few hot statements where
SQLAlchemy's per-statement work costs more than the query (measured: bench/README.md). The
statements run in the same transaction as everything else the request does."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


async def driver(session: AsyncSession) -> Any:
    """The asyncpg ``Connection`` the session's transaction runs on (statements prepared once
    per connection and reused)."""
    cached = session.info.get("driver")
    if cached is not None and session.in_transaction():
        return cached
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    session.info["driver"] = raw.driver_connection
    return raw.driver_connection
