"""The asyncpg connection under a session's transaction, for the few hot statements where
SQLAlchemy's per-statement work costs more than the query (measured: bench/README.md). The
statements run in the same transaction as everything else the request does."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


async def driver(session: AsyncSession) -> Any:
    """The asyncpg ``Connection`` the session's transaction runs on (statements prepared once
    per connection and reused), with that transaction begun.

    SQLAlchemy's asyncpg adapter sends BEGIN lazily, with its first statement: a statement sent
    straight to the driver before any of SQLAlchemy's would run outside the transaction and
    commit on its own. So the adapter's transaction is started here when it has not been."""
    cached = session.info.get("driver")
    if cached is not None and session.in_transaction() and cached.is_in_transaction():
        return cached
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    adapter: Any = raw.dbapi_connection
    if getattr(adapter, "_transaction", None) is None and adapter.isolation_level != "autocommit":
        async with adapter._execute_mutex:  # the adapter's own way to begin
            if adapter._transaction is None:
                await adapter._start_transaction()
    session.info["driver"] = raw.driver_connection
    return raw.driver_connection
