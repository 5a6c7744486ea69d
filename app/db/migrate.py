"""Alembic, driven from code: the CLI, the embedded start-up and the tests use these."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parents[2]
# Held (for the transaction) by whoever upgrades: instances starting together with
# REGISTRY_MIGRATE_ON_START take turns, and the second finds the schema at head.
MIGRATION_LOCK = 7_300_002


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Autogenerate ignores the event partitions, which the service makes month by month."""
    return not (type_ == "table" and name is not None and name.startswith("events_p"))


def alembic_config(url: str | None = None) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _downgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


async def upgrade(connection: AsyncConnection, revision: str = "head") -> None:
    """Upgrades in the connection's transaction, one process at a time."""
    await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    await connection.run_sync(_upgrade, revision)


async def upgrade_database(url: str) -> None:
    """Upgrades the database at ``url`` as its login role (the schema's owner, not
    REGISTRY_DB_ROLE), on a connection of its own."""
    owner = create_async_engine(url, poolclass=NullPool)
    try:
        async with owner.begin() as connection:
            await upgrade(connection)
    finally:
        await owner.dispose()


async def downgrade(connection: AsyncConnection, revision: str = "base") -> None:
    await connection.run_sync(_downgrade, revision)


async def current_revisions(connection: AsyncConnection) -> set[str]:
    def read(sync: Connection) -> set[str]:
        return set(MigrationContext.configure(sync).get_current_heads())

    return await connection.run_sync(read)
