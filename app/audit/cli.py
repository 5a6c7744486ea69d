"""`registry audit`: the transparency logs' sequencer, checkpoints and verification."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from app.audit import tree
from app.audit.logs import LOGS, SEQUENCER_LOCK, Log, Signers, UnknownLog, Verifiers, by_name
from app.audit.note import NoteError, Verifier
from app.core.settings import get_settings
from app.db import raw

audit_cli = typer.Typer(help="The transparency logs (RFC 9162 Merkle trees over the logs).")

LogOption = Annotated[
    str | None, typer.Option("--log", help=f"One of {', '.join(LOGS)}; default: both.")
]


def _logs(name: str | None) -> list[Log]:
    try:
        return [by_name(name)] if name else list(LOGS.values())
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--log") from None


@audit_cli.command("verify")
def audit_verify(
    log: LogOption = None,
    full: Annotated[
        bool, typer.Option("--full", help="Rebuild the whole tree from every entry.")
    ] = False,
    against: Annotated[
        Path | None,
        typer.Option(
            "--against",
            help="A checkpoint kept outside (from `audit checkpoint --export`): prove the log "
            "only grew since.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    verifier_key: Annotated[
        list[str] | None,
        typer.Option(
            "--verifier-key",
            help="A log's note verifier key (from `audit checkpoint` or GET .../checkpoint), once "
            "per log: verify with the public keys alone, as an outside auditor does.",
        ),
    ] = None,
) -> None:
    """Check the logs from the last verified tree (or, with --full, from the first entry):
    every entry against its leaf, every node, every checkpoint's signature and root. Exits 1
    naming the first thing that does not match."""
    from app.audit import verify
    from app.cli import _session, echo_json

    settings = get_settings()
    signers: Signers | Verifiers
    if verifier_key:
        try:
            signers = Verifiers(
                settings.transparency_origin, [Verifier.parse(key) for key in verifier_key]
            )
        except NoteError as error:
            raise typer.BadParameter(str(error), param_hint="--verifier-key") from None
    else:
        # Never a new key here: checking with the wrong key must fail as "missing", not as
        # forgery.
        signers = Signers(settings, create=False)

    async def run() -> dict[str, object]:
        async with _session() as session:
            connection = await raw.driver(session)
            if against is not None:
                return await verify.against(
                    connection, signers, against.read_text(encoding="utf-8")
                )
            try:
                reports = [
                    await verify.verify(connection, one, signers, full=full) for one in _logs(log)
                ]
            except UnknownLog as error:
                raise typer.BadParameter(str(error), param_hint="--verifier-key") from None
            return {"ok": all(r.ok for r in reports), "logs": [r.as_dict() for r in reports]}

    result = asyncio.run(run())
    echo_json(result)
    if not result["ok"]:
        raise typer.Exit(1)


@audit_cli.command("checkpoint")
def audit_checkpoint(
    log: LogOption = None,
    export: Annotated[
        bool,
        typer.Option(
            "--export",
            help="Print the latest signed checkpoint (C2SP signed note) alone, for an outside "
            "party to keep (needs --log).",
        ),
    ] = False,
) -> None:
    """The latest signed checkpoint of each log (the sequencer signs them)."""
    from app.cli import _session, echo_json

    if export and not log:
        raise typer.BadParameter(
            "--export prints one log's checkpoint: name it", param_hint="--log"
        )
    signers = Signers(get_settings())

    async def run() -> list[dict[str, object]]:
        found = []
        async with _session() as session:
            connection = await raw.driver(session)
            for one in _logs(log):
                latest = await tree.latest_checkpoint(connection, one)
                found.append(
                    {
                        "log": one.name,
                        "tree_size": latest.tree_size if latest else 0,
                        "note": latest.note if latest else None,
                        "verifier_key": signers.verifier(one).vkey,
                        "created_at": latest.created_at.isoformat() if latest else None,
                    }
                )
        return found

    checkpoints = asyncio.run(run())
    if export:
        note = checkpoints[0]["note"]
        if note is None:
            typer.echo(f"{log} has no checkpoint yet", err=True)
            raise typer.Exit(1)
        typer.echo(note, nl=False)
        return
    echo_json({"checkpoints": checkpoints})


@audit_cli.command("sequence")
def audit_sequence(
    once: Annotated[
        bool, typer.Option("--once", help="Integrate what is queued now and stop.")
    ] = False,
) -> None:
    """Run the sequencer (the service runs it too; one process at a time holds it): integrate
    committed entries and sign checkpoints, at least every maximum merge delay."""
    from app.audit.sequencer import Sequencer, integrate_all
    from app.cli import _with_database_url, echo_json
    from app.db.session import service_url

    settings = get_settings()
    signers = Signers(settings)

    async def run() -> int | None:
        url, embedded = await _with_database_url()
        dsn = service_url(url, settings).replace("+asyncpg", "", 1)
        try:
            if once:
                import asyncpg

                connection = await asyncpg.connect(dsn)
                try:
                    if not await connection.fetchval(
                        "SELECT pg_try_advisory_lock($1)", SEQUENCER_LOCK
                    ):
                        typer.echo("another process holds the sequencer", err=True)
                        return 0
                    return await integrate_all(connection, signers)
                finally:
                    await connection.close()
            await Sequencer(dsn, signers, settings.transparency_max_merge_delay_seconds).run()
            return None
        finally:
            if embedded:
                embedded.stop()

    integrated = asyncio.run(run())
    echo_json({"integrated": integrated})
