"""`registry import`: bring the old register's users, permissions, contracts and billing in."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import asyncpg
import typer
from argon2 import PasswordHasher

from app.core.settings import Settings, get_settings
from app.imports.batch import Context
from app.imports.rows import COLUMNS, BadFile

import_cli = typer.Typer(
    help="Import the old register from CSV (a header row, UTF-8) or JSON Lines files. Rows are "
    "keyed by the old register's ids: the same file again changes nothing, a corrected file only "
    "what it corrects. Refused rows go to FILE.rejects.csv; one JSON summary line is printed."
)

FileArgument = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV or .jsonl file.")
]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Validate and report; write nothing to the register.")
]
BatchSize = Annotated[
    int, typer.Option("--batch-size", min=1, max=100_000, help="Rows per transaction.")
]
Workers = Annotated[
    int | None,
    typer.Option(
        "--workers",
        min=0,
        help="Processes that validate rows (0: none); default: one per core for files over 4 MiB.",
    ),
]


async def import_file(
    settings: Settings,
    kind: str,
    path: Path,
    *,
    dry_run: bool = False,
    batch_size: int = 5000,
    workers: int | None = None,
    progress: bool = False,
) -> dict[str, object]:
    """Imports one file into the configured database (the embedded one when none is) as the
    service's own role; returns the summary."""
    from app.cli import _with_database_url
    from app.db.session import service_url
    from app.imports import runner
    from app.users.identity_codes import IdentityCodeCipher

    cipher = IdentityCodeCipher.from_settings(settings) if kind == "users" else None
    hasher = PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )

    def context_for(run_id: int, checksum: str) -> Context:
        return Context(
            run_id=run_id,
            file_name=path.name,
            sha256=checksum,
            actor=f"import:{path.name}"[:100],
            update_id=f"import:{checksum}",
            cipher=cipher,
            hash_password=hasher.hash,
        )

    if settings.database_url:
        url, embedded = settings.database_url, None
    else:
        url, embedded = await _with_database_url()
    try:
        options = runner.Options(
            kind=kind,
            path=path,
            dsn=service_url(url, settings).replace("+asyncpg", "", 1),
            batch_size=batch_size,
            dry_run=dry_run,
            workers=workers,
            allow_temporary_identity_codes=settings.allow_temporary_identity_codes,
        )
        return await runner.run(options, context_for, progress=progress)
    finally:
        if embedded:
            embedded.stop()


def _run(kind: str, path: Path, dry_run: bool, batch_size: int, workers: int | None) -> None:
    run = import_file(
        get_settings(),
        kind,
        path,
        dry_run=dry_run,
        batch_size=batch_size,
        workers=workers,
        progress=sys.stderr.isatty(),
    )
    try:
        summary = asyncio.run(run)
    except BadFile as error:
        typer.echo(f"{path}: {error}", err=True)
        raise typer.Exit(2) from None
    except asyncpg.PostgresError as error:
        # The batch was rolled back whole; what the database said, never the row's values.
        typer.echo(
            f"{path}: the database refused a batch ({error.sqlstate} {type(error).__name__}: "
            f"{error}); the committed batches stay, run the same command again to resume",
            err=True,
        )
        raise typer.Exit(1) from None
    typer.echo(json.dumps(summary, separators=(",", ":")))


def _command(kind: str, what: str) -> None:
    def command(
        file: FileArgument,
        dry_run: DryRun = False,
        batch_size: BatchSize = 5000,
        workers: Workers = None,
    ) -> None:
        _run(kind, file, dry_run, batch_size, workers)

    command.__doc__ = f"{what} Columns: {', '.join(sorted(COLUMNS[kind]))}."
    import_cli.command(kind)(command)


_command(
    "users",
    "Users, private and company, keyed by external_id; a user without a password signs in "
    "after setting one through the password reset.",
)
_command(
    "permissions",
    "Permissions and prohibitions, each keyed by external_id, for the user user_external_id, "
    "at its original time (decided_at), as imported receipts.",
)
_command("contracts", "Contracts keyed by external_id, for the user user_external_id.")
_command("billing", "Billing details, one row per user, keyed by user_external_id.")
