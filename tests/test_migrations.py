"""Migrations: the models and the migrations agree, and the chain goes down and up again."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import create_async_engine

from app.db import migrate
from app.db.models import Base


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "compare_server_default": True,
            "include_name": migrate.include_name,
        },
    )
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_upgrade_matches_models_and_round_trips(fresh_database) -> None:  # type: ignore[no-untyped-def]
    url = await fresh_database()
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await migrate.upgrade(connection)
            assert await migrate.current_revisions(connection) == migrate.head_revisions()
            assert await connection.run_sync(_differences) == []
            tables_at_head = await connection.run_sync(_tables)

        async with engine.begin() as connection:
            await migrate.downgrade(connection, "base")
            assert await connection.run_sync(_tables) <= {"alembic_version"}

        async with engine.begin() as connection:
            await migrate.upgrade(connection)
            assert await connection.run_sync(_tables) == tables_at_head
            assert await connection.run_sync(_differences) == []
    finally:
        await engine.dispose()
