"""Art. 19 notifications: every recipient that received a user's data hears of its
rectification, erasure or restriction, by a webhook signed with HMAC-SHA256.

They are written to an outbox in the same transaction as the change, and a delivery loop sends
them with retries and backoff; a crash between the two only delays them.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import case, insert, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import DisclosureLogEntry
from app.core.logging import get_logger
from app.core.secrets import KeyedHasher
from app.db import raw
from app.db.session import Database
from app.disclosures.models import Notification, Recipient
from app.disclosures.personal_data import NOTIFICATIONS
from app.disclosures.schemas import NotificationList, NotificationRead
from app.disclosures.service import signing_secrets
from app.disclosures.webhooks import (
    MAX_ATTEMPTS,
    WebhookClients,
    outcome,
    post_signed,
)
from app.users.models import User

log = get_logger("app.notifications")


async def notify_recipients(
    session: AsyncSession, user_id: uuid.UUID, event: str, fields: Iterable[str] = ()
) -> int:
    """Queues a notification for every recipient that ever received this user's data."""
    subject_ref = await session.scalar(select(User.subject_ref).where(User.id == user_id))
    recipients = (
        await session.scalars(
            select(DisclosureLogEntry.recipient_id)
            .where(DisclosureLogEntry.subject_ref == subject_ref)
            .distinct()
        )
    ).all()
    if not recipients:
        return 0
    now = datetime.now(UTC)
    payload = {
        "event": event,
        "user_id": str(user_id),
        "fields": sorted(fields),
        "occurred_at": now.isoformat(),
    }
    await session.execute(
        insert(Notification),
        [
            {
                "recipient_id": recipient_id,
                "user_id": user_id,
                "event": event,
                "payload": payload,
                "next_attempt_at": now,
            }
            for recipient_id in recipients
        ],
    )
    return len(recipients)


# A claimed notification is leased: no other worker or instance takes it until the lease ends,
# and no connection is held while the recipient answers. A worker that dies mid-delivery only
# delays it until the lease is over (``notification_lease_seconds``); the one that sends it then
# sends the same ``webhook-id``, by which the recipient knows a repeat (Standard Webhooks).
LEASE = timedelta(seconds=60)

_CLAIM = """
UPDATE notifications SET attempts = attempts + 1, next_attempt_at = clock_timestamp() + $2::interval
WHERE id = (
    SELECT id FROM notifications
    WHERE recipient_id = $1 AND sent_at IS NULL AND failed_at IS NULL
      AND next_attempt_at <= clock_timestamp()
    ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id, attempts, payload
"""

PAYLOAD = NOTIFICATIONS.column("payload")

_DUE_RECIPIENTS = """
SELECT DISTINCT recipient_id FROM notifications
WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= clock_timestamp()
"""


@dataclass(frozen=True)
class Claimed:
    id: int
    attempts: int
    payload: dict[str, object]


class Deliveries:
    """Sends due notifications, one worker per recipient, so a slow or dead endpoint delays only
    its own notifications; each delivery has a short timeout."""

    def __init__(
        self,
        database: Database,
        hasher: KeyedHasher,
        clients: WebhookClients | httpx.AsyncClient,
        lease: timedelta = LEASE,
    ) -> None:
        self.database = database
        self.hasher = hasher
        self.clients = clients
        self.lease = lease
        self.workers: dict[uuid.UUID, asyncio.Task[int]] = {}

    def _client(self, url: str) -> httpx.AsyncClient:
        if isinstance(self.clients, WebhookClients):
            return self.clients.for_url(url)
        return self.clients

    async def due_recipients(self) -> list[uuid.UUID]:
        async with self.database.session() as session:
            connection = await raw.driver(session)
            return [row[0] for row in await connection.fetch(_DUE_RECIPIENTS)]

    def start_workers(self, recipients: list[uuid.UUID]) -> list[asyncio.Task[int]]:
        started = []
        for recipient_id in recipients:
            running = self.workers.get(recipient_id)
            if running is None or running.done():
                task = asyncio.create_task(self.drain(recipient_id))
                self.workers[recipient_id] = task
                started.append(task)
        return started

    async def drain(self, recipient_id: uuid.UUID, limit: int = 1000) -> int:
        """Sends this recipient's due notifications one after another; returns how many went."""
        sent = 0
        for _ in range(limit):
            async with self.database.session() as session, session.begin():
                recipient = await session.get(Recipient, recipient_id)
                if recipient is None:
                    return sent
                url, signing = recipient.webhook_url, signing_secrets(self.hasher, recipient)
                disabled = recipient.webhook_disabled_at is not None
                connection = await raw.driver(session)
                row = await connection.fetchrow(_CLAIM, recipient_id, self.lease)
            if row is None:
                return sent
            payload = row["payload"]
            if isinstance(payload, str | bytes):
                payload = json.loads(payload)
            claimed = Claimed(row["id"], row["attempts"], payload)
            if not url or not signing:
                await self._record(claimed, error="no webhook configured", final=True)
                continue
            if disabled:
                await self._record(claimed, error="webhook disabled (HTTP 410)", final=True)
                continue
            body = {**claimed.payload, "notification_id": claimed.id}
            error = await post_signed(
                self._client(url), url, signing, f"notification-{claimed.id}", body
            )
            if error is None:
                sent += 1
            elif error == "HTTP 410":
                # Standard Webhooks: the endpoint is gone. Nothing more is sent to it until the
                # DPO gives the recipient an address again.
                await self._disable(recipient_id)
            await self._record(claimed, error=error, final=error == "HTTP 410")
        return sent

    async def _disable(self, recipient_id: uuid.UUID) -> None:
        async with self.database.session() as session, session.begin():
            await session.execute(
                update(Recipient)
                .where(Recipient.id == recipient_id)
                .values(webhook_disabled_at=datetime.now(UTC))
            )

    async def _record(self, claimed: Claimed, *, error: str | None, final: bool) -> None:
        values = outcome(error, MAX_ATTEMPTS if final else claimed.attempts)
        if "sent_at" in values or "failed_at" in values:
            # Delivered or given up (the catalogue's ``clear_when``): the user id the recipient
            # knows is no longer needed in it once the person is erased; cleared in the same
            # statement.
            erased = (
                select(User.id)
                .where(User.id == Notification.user_id, User.status == "erased")
                .exists()
            )
            values["payload"] = case(
                (erased, literal_column(PAYLOAD.cleared)), else_=Notification.payload
            )
        async with self.database.session() as session, session.begin():
            await session.execute(
                update(Notification).where(Notification.id == claimed.id).values(**values)
            )


async def deliver_due(
    database: Database, hasher: KeyedHasher, http: WebhookClients | httpx.AsyncClient
) -> int:
    """Sends every notification due now, recipients in parallel; returns how many were sent."""
    deliveries = Deliveries(database, hasher, http)
    tasks = deliveries.start_workers(await deliveries.due_recipients())
    return sum(await asyncio.gather(*tasks))


async def delivery_loop(
    database: Database,
    hasher: KeyedHasher,
    clients: WebhookClients,
    interval: float,
    lease: timedelta = LEASE,
) -> None:
    """Runs for the life of the service (started by its lifespan): every ``interval`` it starts a
    worker for each recipient with due notifications that has none running, and never waits for
    one, so a recipient that times out holds back nobody else."""
    deliveries = Deliveries(database, hasher, clients, lease)
    try:
        while True:
            try:
                deliveries.start_workers(await deliveries.due_recipients())
            except Exception:
                log.exception("notification_delivery_failed")
            await asyncio.sleep(interval)
    finally:
        for task in deliveries.workers.values():
            task.cancel()
        await clients.aclose()


async def list_notifications(session: AsyncSession, user_id: uuid.UUID) -> NotificationList:
    rows = await session.execute(
        select(Notification, Recipient.name)
        .join(Recipient, Recipient.id == Notification.recipient_id)
        .where(Notification.user_id == user_id)
        .order_by(Notification.id)
    )
    return NotificationList(
        items=[
            NotificationRead(
                id=n.id,
                recipient_id=n.recipient_id,
                recipient_name=name,
                event=n.event,
                payload=n.payload,
                created_at=n.created_at,
                attempts=n.attempts,
                sent_at=n.sent_at,
                failed_at=n.failed_at,
                last_error=n.last_error,
            )
            for n, name in rows
        ]
    )
