"""The application: ``create_app()`` wires settings, database, middleware, errors and routers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app.audit.logs import Signers
from app.audit.router import router as audit_router
from app.audit.sequencer import Sequencer
from app.auth.keys import KeyRing
from app.auth.passwords import Passwords
from app.auth.router import router as auth_router
from app.auth.service import AuthContext
from app.consents.router import router as consents_router
from app.core import metrics
from app.core.conditional import NotModifiedMiddleware
from app.core.docs import install_docs
from app.core.errors import install_error_handlers
from app.core.logging import configure_logging, get_logger
from app.core.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from app.core.openapi import install_openapi, operation_id
from app.core.pagination import NextLinkMiddleware
from app.core.secrets import KeyedHasher, service_secret
from app.core.server import Deadlines
from app.core.settings import Settings, get_settings
from app.core.validators import IdentityCodePolicy
from app.db import migrate
from app.db.embedded import EmbeddedPostgres
from app.db.replica import Replica
from app.db.session import Database, service_url
from app.disclosures import notifications
from app.disclosures.router import router as disclosures_router
from app.disclosures.webhooks import WebhookClients, WebhookPolicy
from app.events.router import router as events_router
from app.health.router import router as health_router
from app.idempotency import service as idempotency
from app.notice.router import router as notice_router
from app.privacy.router import router as privacy_router
from app.records.router import router as records_router
from app.register_updates.router import router as register_updates_router
from app.requests.downloads import ExportLocks, ExportSlots
from app.requests.router import router as requests_router
from app.subject_notices import service as subject_notices
from app.subject_notices.router import router as subject_notices_router
from app.users.identity_codes import IdentityCodeCipher
from app.users.router import router as users_router

log = get_logger("app.main")

API_DESCRIPTION = """
The user register of Huutokaupat.com (controller Mezzoforte Oy): private and company users'
profiles, their permissions and prohibitions, data-subject requests and the record of every
disclosure of personal data.

Every error is `application/problem+json` (RFC 9457).
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    embedded: EmbeddedPostgres | None = None
    metrics.forget_dead_workers()
    try:
        if app.state.database is None:
            url = settings.database_url
            if url is None:
                embedded = EmbeddedPostgres(settings.data_dir / "postgres")
                url = await asyncio.to_thread(embedded.start)
            if embedded is not None or settings.migrate_on_start:
                await migrate.upgrade_database(url)
                log.info("migrated", embedded=embedded is not None)
            # The service logs in as the restricted role: it cannot change the append-only logs
            # nor disable their triggers, whatever it runs.
            app_url = service_url(url, settings)
            app.state.database = Database.from_settings(app_url, settings)
            await app.state.database.open_statement_pool(
                app_url.replace("+asyncpg", "", 1), settings
            )
            app.state.export_database = Database.for_exports(app_url, settings)
            app.state.export_locks = ExportLocks(
                Database.from_settings(
                    app_url, settings, pool_size=settings.exports_max_concurrent, max_overflow=0
                )
            )
            if settings.transparency_sequencer:
                sequencer = Sequencer(
                    app_url.replace("+asyncpg", "", 1),
                    app.state.signers,
                    settings.transparency_max_merge_delay_seconds,
                )
                app.state.background.append(asyncio.create_task(sequencer.run()))
        if settings.database_replica_url:
            replica = Replica.from_settings(
                service_url(settings.database_replica_url, settings, replica=True),
                app.state.database,
                settings,
            )
            app.state.replica = replica
            await replica.measure()
            app.state.background.append(asyncio.create_task(replica.monitor()))
        delivery = asyncio.create_task(
            notifications.delivery_loop(
                app.state.database,
                app.state.auth.hasher,
                WebhookClients(app.state.webhook_policy, settings.webhook_timeout_seconds),
                settings.notification_poll_seconds,
                timedelta(seconds=settings.notification_lease_seconds),
            )
        )
        background = [delivery, *app.state.background]
        notices_url = settings.subject_notices_webhook_url
        notices_secret = settings.subject_notices_webhook_secret
        if notices_url and notices_secret:
            background.append(
                asyncio.create_task(
                    subject_notices.delivery_loop(
                        app.state.database,
                        WebhookClients(app.state.webhook_policy, settings.webhook_timeout_seconds),
                        notices_url,
                        notices_secret.get_secret_value(),
                        settings.notification_poll_seconds,
                        timedelta(seconds=settings.notification_lease_seconds),
                    )
                )
            )
        try:
            yield
        finally:
            for task in background:
                task.cancel()
    finally:
        metrics.worker_exited()
        locks = app.state.export_locks
        if locks is not None and locks.database is not app.state.database:
            await locks.database.dispose()
        for name in ("replica", "export_database", "database"):
            database = getattr(app.state, name, None)
            if database is not None:
                await database.dispose()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json)
    Deadlines.configure(settings)
    app = FastAPI(
        title="Huutokaupat.com user registry",
        version="1.0.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.migration_heads = migrate.head_revisions()
    app.state.auth = build_auth_context(settings)
    app.state.identity_codes = IdentityCodeCipher.from_settings(settings)
    app.state.signers = Signers(settings)
    app.state.background = []
    app.state.export_database = None
    app.state.replica = None
    app.state.export_locks = ExportLocks(database) if database is not None else None
    app.state.webhook_policy = WebhookPolicy.from_cidrs(settings.webhook_allowed_networks)
    app.state.export_slots = ExportSlots(settings.exports_max_concurrent)
    IdentityCodePolicy.allow_temporary = settings.allow_temporary_identity_codes

    install_error_handlers(app)
    idempotency.install(app)
    install_openapi(app)
    install_docs(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "X-Request-ID"],
            expose_headers=["ETag", "X-Request-ID", "X-Correlation-ID", "Retry-After"],
        )
    app.add_middleware(NextLinkMiddleware)
    app.add_middleware(NotModifiedMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)

    app.include_router(health_router)
    app.include_router(auth_router)
    app.include_router(users_router)
    app.include_router(records_router)
    app.include_router(events_router)
    app.include_router(register_updates_router)
    app.include_router(consents_router)
    app.include_router(disclosures_router)
    app.include_router(audit_router)
    app.include_router(requests_router)
    app.include_router(subject_notices_router)
    app.include_router(notice_router)
    app.include_router(privacy_router)
    return app


def build_auth_context(settings: Settings) -> AuthContext:
    keys = KeyRing(settings)
    keys.ensure_key(settings.may_generate_keys)
    return AuthContext(
        settings=settings,
        keys=keys,
        passwords=Passwords(settings),
        hasher=KeyedHasher(service_secret(settings)),
    )


def __getattr__(name: str) -> FastAPI:
    # `uvicorn app.main:app` and tools that read `app.main.app` get an app built on first use, so
    # importing this module has no side effects.
    if name == "app":
        application = create_app()
        globals()["app"] = application
        return application
    raise AttributeError(name)
