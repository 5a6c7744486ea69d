"""The embedded default: with no database URL the service runs its own Postgres, keeps its data
between starts, and stops it on shutdown."""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from app.core.settings import Settings
from app.main import create_app


@pytest.mark.slow
async def test_embedded_postgres_migrates_and_keeps_data_across_restarts() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="registry-embedded-"))
    settings = Settings(database_url=None, data_dir=data_dir, _env_file=None)  # type: ignore[call-arg]

    async def one_run(*notes: str) -> tuple[int, list[str]]:
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                ready = await client.get("/readyz")
            async with app.state.database.engine.begin() as connection:
                # `make run` serves as the restricted role, never as the embedded superuser.
                assert await connection.scalar(text("SELECT session_user")) == "registry_app"
                for note in notes:
                    await connection.execute(
                        text("INSERT INTO rate_windows VALUES (:key, now(), 1)"), {"key": note}
                    )
                rows = await connection.execute(
                    text("SELECT key FROM rate_windows WHERE key IN ('first', 'second') ORDER BY 1")
                )
                kept = [row[0] for row in rows]
        return ready.status_code, kept

    first = await one_run("first")
    second = await one_run("second")

    assert first == (200, ["first"])
    assert second == (200, ["first", "second"])
    assert (data_dir / "postgres" / "PG_VERSION").exists()
    assert not (data_dir / "postgres" / "postmaster.pid").exists(), "stopped on shutdown"
