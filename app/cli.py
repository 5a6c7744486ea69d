"""The `registry` command for operators. Every command prints JSON where it prints data."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Annotated

import typer

from app.core.settings import get_settings
from app.db import migrate as migrations
from app.db.embedded import EmbeddedPostgres

cli = typer.Typer(help="Operate the Huutokaupat.com user registry.", no_args_is_help=True)


def echo_json(data: object) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


async def _with_database_url() -> tuple[str, EmbeddedPostgres | None]:
    settings = get_settings()
    if settings.database_url:
        return settings.database_url, None
    embedded = EmbeddedPostgres(settings.data_dir / "postgres")
    return await asyncio.to_thread(embedded.start), embedded


@cli.command()
def migrate(revision: str = "head") -> None:
    """Upgrade the database schema (default: to the newest migration)."""
    from sqlalchemy.ext.asyncio import create_async_engine

    async def run() -> list[str]:
        url, embedded = await _with_database_url()
        engine = create_async_engine(url)
        try:
            async with engine.begin() as connection:
                await migrations.upgrade(connection, revision)
                return sorted(await migrations.current_revisions(connection))
        finally:
            await engine.dispose()
            if embedded:
                embedded.stop()

    echo_json({"migrated_to": asyncio.run(run())})


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    migrate: Annotated[bool, typer.Option(help="Upgrade the schema before serving.")] = True,
) -> None:
    """Serve the API (on the embedded Postgres unless REGISTRY_DATABASE_URL is set)."""
    import uvicorn

    settings = get_settings()
    if migrate:
        os.environ["REGISTRY_MIGRATE_ON_START"] = "true"
        get_settings.cache_clear()
    bind_host = host or settings.host
    bind_port = port or settings.port
    base = f"http://{bind_host}:{bind_port}"
    where = "embedded Postgres in " + str(settings.data_dir / "postgres")
    typer.echo(
        f"\nHuutokaupat.com user registry on {base} "
        f"({where if not settings.database_url else 'REGISTRY_DATABASE_URL'})\n"
        f"  API docs (Swagger UI): {base}/docs\n"
        f"  OpenAPI document:      {base}/openapi.json\n"
        f"  Health:                {base}/healthz  {base}/readyz\n",
        err=True,
    )
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=bind_host,
        port=bind_port,
        access_log=False,
        timeout_graceful_shutdown=20,
    )


@cli.command()
def openapi(
    output: Annotated[Path, typer.Option(help="Where to write the spec.")] = Path(
        "openapi/openapi.json"
    ),
    check: Annotated[
        bool, typer.Option(help="Only compare: exit 1 when the file differs from the app.")
    ] = False,
) -> None:
    """Write the app's OpenAPI document (committed; a test checks it is current)."""
    from app.main import create_app

    spec = create_app().openapi()
    if check:
        current = json.loads(output.read_text(encoding="utf-8")) if output.exists() else None
        if current != spec:
            typer.echo(f"{output} differs from the app's spec: run `make openapi`.", err=True)
            raise typer.Exit(1)
        echo_json({"up_to_date": str(output), "paths": len(spec["paths"])})
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(spec, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    echo_json({"written": str(output), "paths": len(spec["paths"])})


def main() -> None:
    cli()
