"""The `registry` command for operators. Every command prints JSON where it prints data."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app.auth import service as auth_service
from app.auth.keys import KeyRing, write_key
from app.auth.models import CLIENT_ROLES
from app.auth.scopes import parse_scope
from app.auth.service import AuthContext
from app.core.logging import configure_logging
from app.core.settings import get_settings
from app.db import migrate as migrations
from app.db.embedded import EmbeddedPostgres

cli = typer.Typer(help="Operate the Huutokaupat.com user registry.", no_args_is_help=True)


@cli.callback()
def _configure() -> None:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json, to_stderr=True)


clients_cli = typer.Typer(help="Machine clients (frontend, partners, staff tools, DPO).")
users_cli = typer.Typer(help="Users, for local testing.")
keys_cli = typer.Typer(help="Token signing keys.")
retention_cli = typer.Typer(help="Removing data whose retention period has ended.")
outbox_cli = typer.Typer(help="Art. 19 notifications waiting to be sent.")
cli.add_typer(outbox_cli, name="outbox")
cli.add_typer(retention_cli, name="retention")
cli.add_typer(clients_cli, name="clients")
cli.add_typer(users_cli, name="users")
cli.add_typer(keys_cli, name="keys")


def echo_json(data: object) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


async def _with_database_url() -> tuple[str, EmbeddedPostgres | None]:
    settings = get_settings()
    if settings.database_url:
        return settings.database_url, None
    embedded = EmbeddedPostgres(settings.data_dir / "postgres")
    return await asyncio.to_thread(embedded.start), embedded


@asynccontextmanager
async def _session() -> AsyncIterator[AsyncSession]:
    """One transaction on the configured database (the embedded one when none is)."""
    url, embedded = await _with_database_url()
    engine = create_async_engine(url, hide_parameters=True)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            yield session
    finally:
        await engine.dispose()
        if embedded:
            embedded.stop()


def _auth_context() -> AuthContext:
    from app.main import build_auth_context

    return build_auth_context(get_settings())


@clients_cli.command("create")
def clients_create(
    name: Annotated[str, typer.Option(help="Who the client is, e.g. 'Auction frontend'.")],
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(CLIENT_ROLES)}.")],
    scopes: Annotated[
        str | None, typer.Option(help="Space-separated; default: all the role's scopes.")
    ] = None,
    shell: Annotated[
        bool,
        typer.Option(
            "--shell", help="Print CLIENT_ID=... and CLIENT_SECRET=... for `eval` in a shell."
        ),
    ] = False,
) -> None:
    """Register a machine client; prints its client_id and a secret shown only this once."""
    if role not in CLIENT_ROLES:
        raise typer.BadParameter(
            f"role must be one of {', '.join(CLIENT_ROLES)}", param_hint="--role"
        )

    async def run() -> tuple[str, str]:
        async with _session() as session:
            return await auth_service.create_client(
                session, name=name, role=role, scopes=parse_scope(scopes) if scopes else None
            )

    try:
        client_id, secret = asyncio.run(run())
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--scopes") from exc
    if shell:
        typer.echo(f"CLIENT_ID={shlex.quote(client_id)}\nCLIENT_SECRET={shlex.quote(secret)}")
        return
    echo_json({"client_id": client_id, "client_secret": secret, "role": role})


@clients_cli.command("list")
def clients_list() -> None:
    """List the machine clients (never their secrets)."""

    async def run() -> list[dict[str, object]]:
        async with _session() as session:
            return await auth_service.list_clients(session)

    echo_json(asyncio.run(run()))


def _set_disabled(client_id: str, disabled: bool) -> None:
    async def run() -> bool:
        async with _session() as session:
            return await auth_service.set_client_disabled(session, client_id, disabled)

    if not asyncio.run(run()):
        typer.echo(f"No client {client_id!r}.", err=True)
        raise typer.Exit(1)
    echo_json({"client_id": client_id, "disabled": disabled})


@clients_cli.command("disable")
def clients_disable(client_id: Annotated[str, typer.Argument(help="The client_id.")]) -> None:
    """Disable a client: no new tokens, its access tokens refused from their next request, its
    refresh tokens revoked."""
    _set_disabled(client_id, True)


@clients_cli.command("enable")
def clients_enable(client_id: Annotated[str, typer.Argument(help="The client_id.")]) -> None:
    """Enable a disabled client again (its revoked refresh tokens stay revoked)."""
    _set_disabled(client_id, False)


@users_cli.command("create")
def users_create(
    username: Annotated[str, typer.Option()],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
    first_name: Annotated[str, typer.Option()] = "Testi",
    last_name: Annotated[str, typer.Option()] = "Käyttäjä",
    email: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Create a private user who can sign in (for local testing; source `import`)."""
    from pydantic import ValidationError

    from app.users import service as users
    from app.users.schemas import PrivateUserCreate

    context = _auth_context()
    try:
        body = PrivateUserCreate(
            kind="private",
            username=username,
            password=password,
            first_name=first_name,
            last_name=last_name,
            email=email,
        )
    except ValidationError as exc:
        fields = ", ".join(str(error["loc"][0]) for error in exc.errors())
        raise typer.BadParameter(f"invalid: {fields}") from exc

    async def run() -> str:
        async with _session() as session:
            user_id = await users.create_user(
                session, context, body, source="import", actor="cli", request_id=None
            )
            return str(user_id)

    echo_json({"id": asyncio.run(run()), "username": username, "kind": "private"})


@cli.command()
def token(
    client_id: Annotated[str, typer.Option()],
    client_secret: Annotated[str, typer.Option(prompt=True, hide_input=True)],
    scope: Annotated[str | None, typer.Option(help="Space-separated scopes wanted.")] = None,
    raw: Annotated[
        bool, typer.Option(help="Print the token alone, for TOKEN=$(registry token ... --raw).")
    ] = False,
) -> None:
    """Print an access token for a client (client credentials), for curl."""
    context = _auth_context()

    async def run() -> auth_service.IssuedTokens:
        async with _session() as session:
            client = await auth_service.authenticate_client(session, client_id, client_secret)
            return await auth_service.client_credentials_grant(context, client, scope)

    try:
        issued = asyncio.run(run())
    except auth_service.OAuthError as error:
        typer.echo(f"{error.error}: {error.description}", err=True)
        raise typer.Exit(1) from error
    if raw:
        typer.echo(issued.access_token)
        return
    echo_json(
        {
            "access_token": issued.access_token,
            "expires_in": issued.expires_in,
            "scope": issued.scope,
        }
    )


@keys_cli.command("rotate")
def keys_rotate() -> None:
    """Add a new signing key. It is published in the JWKS at once and signs after
    REGISTRY_JWT_KEY_ACTIVATION_SECONDS; old keys keep verifying until pruned."""
    settings = get_settings()
    created = write_key(settings.keys_dir)
    echo_json({"created": created.kid, "keys": KeyRing(settings).describe()})


@keys_cli.command("list")
def keys_list() -> None:
    """List the signing keys and which one signs now."""
    echo_json({"keys": KeyRing(get_settings()).describe()})


@keys_cli.command("prune")
def keys_prune() -> None:
    """Delete keys that stopped signing longer ago than the access-token lifetime."""
    settings = get_settings()
    ring = KeyRing(settings)
    removed = ring.prune(timedelta(minutes=settings.access_token_minutes))
    echo_json({"removed": removed, "keys": ring.describe()})


@cli.command()
def scopes() -> None:
    """Print the table of scopes and roles, as the README shows it."""
    from app.auth.scopes import markdown_table

    typer.echo(markdown_table(), nl=False)


@outbox_cli.command("deliver")
def outbox_deliver() -> None:
    """Send the Art. 19 notifications that are due now (the service also does this itself)."""
    from app.db.session import Database, service_url
    from app.disclosures import notifications
    from app.disclosures.webhooks import WebhookClients, WebhookPolicy

    settings = get_settings()
    context = _auth_context()

    async def run() -> int:
        url, embedded = await _with_database_url()
        database = Database.from_settings(service_url(url, settings), settings)
        clients = WebhookClients(
            WebhookPolicy.from_cidrs(settings.webhook_allowed_networks),
            settings.webhook_timeout_seconds,
        )
        try:
            return await notifications.deliver_due(database, context.hasher, clients)
        finally:
            await clients.aclose()
            await database.dispose()
            if embedded:
                embedded.stop()

    echo_json({"sent": asyncio.run(run())})


@retention_cli.command("run")
def retention_run(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what is due and what falls due next.")
    ] = False,
    on: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="As on this day (default today).")
    ] = None,
) -> None:
    """Apply every retention rule of the personal-data catalogue (event data older than
    REGISTRY_EVENTS_RETENTION_MONTHS, records whose Accounting Act hold has ended, expired
    sessions and kept answers) and print what was removed per category, with when the next
    rows fall due. Safe to run as often as you like (e.g. daily from cron)."""
    from app.events import service as events
    from app.privacy import retention

    settings = get_settings()
    today = (on or datetime.now(UTC)).date()

    async def run() -> dict[str, object]:
        async with _session() as session:
            due = await retention.run(session, settings, today, dry_run=True)
            if dry_run:
                await session.rollback()
                return {"on": today.isoformat(), "due": due}
            connection = await session.connection()
            # Whole months of events go as partitions, the rest of what is due row by row.
            dropped = await events.drop_expired_partitions(
                connection, settings.events_retention_months, today
            )
            await retention.run(session, settings, today, dry_run=False)
            # The next months' partitions, made here by the schema's owner, so that the
            # service itself need not create them.
            await events.ensure_partitions(session, events.upcoming_months(3))
            purged = await auth_service.purge_expired(session)
        removed = {
            category: [{**entry, "removed": entry.pop("due")} for entry in entries]
            for category, entries in due.items()
        }
        return {
            "on": today.isoformat(),
            "removed": removed,
            "dropped_event_partitions": dropped,
            "purged_sign_in_state": purged,
        }

    echo_json(asyncio.run(run()))


@cli.command()
def migrate(revision: str = "head") -> None:
    """Upgrade the database schema (default: to the newest migration)."""

    async def run() -> list[str]:
        url, embedded = await _with_database_url()
        engine = create_async_engine(url, hide_parameters=True)
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
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Worker processes sharing the port (default: REGISTRY_WORKERS, 1). Each has its "
            "own connection pools: docs/scaling.md.",
        ),
    ] = None,
) -> None:
    """Serve the API (on the embedded Postgres unless REGISTRY_DATABASE_URL is set)."""
    from app.core import server

    if migrate:
        os.environ["REGISTRY_MIGRATE_ON_START"] = "true"
    # The app (built by uvicorn's factory) reads the same address: the token issuer and the
    # metadata follow --host/--port unless REGISTRY_PUBLIC_URL says otherwise.
    if host:
        os.environ["REGISTRY_HOST"] = host
    if port:
        os.environ["REGISTRY_PORT"] = str(port)
    if workers:
        os.environ["REGISTRY_WORKERS"] = str(workers)
    get_settings.cache_clear()
    settings = get_settings()
    bind_host = settings.host
    bind_port = settings.port
    base = f"http://{bind_host}:{bind_port}"
    where = "embedded Postgres in " + str(settings.data_dir / "postgres")
    typer.echo(
        f"\nHuutokaupat.com user registry on {base} "
        f"({where if not settings.database_url else 'REGISTRY_DATABASE_URL'}"
        f"{f', {settings.workers} workers' if settings.workers > 1 else ''})\n"
        f"  API docs (Swagger UI): {base}/docs\n"
        f"  OpenAPI document:      {base}/openapi.json\n"
        f"  Health:                {base}/healthz  {base}/readyz\n"
        "\nTo get a token (in another shell, from this directory):\n"
        "  .venv/bin/registry clients create --name 'DPO tool' --role dpo\n"
        "  .venv/bin/registry token --client-id <client_id> --client-secret <client_secret>\n"
        f"  curl -H 'Authorization: Bearer <access_token>' {base}/v1/users/<id>\n"
        "or use the Authorize button in the Swagger UI (client credentials flow).\n",
        err=True,
    )
    server.serve(get_settings(), bind_host, bind_port)


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


def _add_domain_commands() -> None:
    from app.audit.cli import audit_cli
    from app.imports.cli import import_cli

    cli.add_typer(audit_cli, name="audit")
    cli.add_typer(import_cli, name="import")


_add_domain_commands()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
