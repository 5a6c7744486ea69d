"""Art. 19 notifications: every recipient that received a user's data hears of its
rectification, erasure or restriction, by a webhook signed with HMAC-SHA256.

They are written to an outbox in the same transaction as the change, and a delivery loop sends
them with retries and backoff; a crash between the two only delays them.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import DisclosureLogEntry
from app.core.logging import get_logger
from app.core.secrets import KeyedHasher
from app.db.session import Database
from app.disclosures.models import Notification, Recipient
from app.disclosures.schemas import NotificationList, NotificationRead
from app.disclosures.service import open_webhook_secret
from app.users.models import User

log = get_logger("app.notifications")
MAX_ATTEMPTS = 12
SIGNATURE_HEADER = "X-Registry-Signature"


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


def sign(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(10 * 2 ** (attempts - 1), 3600))


async def deliver_due(
    database: Database, hasher: KeyedHasher, http: httpx.AsyncClient, batch: int = 20
) -> int:
    """Sends the notifications that are due, each in its own transaction (row locks with SKIP
    LOCKED, so several instances never send one twice at once). Returns how many were sent."""
    sent = 0
    for _ in range(batch):
        async with database.session() as session, session.begin():
            row = (
                await session.execute(
                    select(Notification, Recipient.webhook_url, Recipient.webhook_secret)
                    .join(Recipient, Recipient.id == Notification.recipient_id)
                    .where(
                        Notification.sent_at.is_(None),
                        Notification.failed_at.is_(None),
                        Notification.next_attempt_at <= datetime.now(UTC),
                    )
                    .order_by(Notification.next_attempt_at, Notification.id)
                    .limit(1)
                    .with_for_update(of=Notification, skip_locked=True)
                )
            ).one_or_none()
            if row is None:
                return sent
            notification, url, sealed_secret = row
            values: dict[str, object] = {"attempts": notification.attempts + 1}
            if not url or not sealed_secret:
                values.update(failed_at=datetime.now(UTC), last_error="no webhook configured")
            else:
                body = json.dumps(
                    {**notification.payload, "notification_id": notification.id},
                    separators=(",", ":"),
                ).encode()
                timestamp = int(time.time())
                headers = {
                    "Content-Type": "application/json",
                    "X-Registry-Timestamp": str(timestamp),
                    "X-Registry-Notification-Id": str(notification.id),
                    SIGNATURE_HEADER: sign(
                        open_webhook_secret(hasher, sealed_secret), timestamp, body
                    ),
                }
                try:
                    response = await http.post(url, content=body, headers=headers, timeout=10)
                    ok = 200 <= response.status_code < 300
                    error = None if ok else f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    ok, error = False, type(exc).__name__
                if ok:
                    values["sent_at"] = datetime.now(UTC)
                    sent += 1
                elif notification.attempts + 1 >= MAX_ATTEMPTS:
                    values.update(failed_at=datetime.now(UTC), last_error=error)
                else:
                    values.update(
                        last_error=error,
                        next_attempt_at=datetime.now(UTC) + _backoff(notification.attempts + 1),
                    )
            await session.execute(
                update(Notification).where(Notification.id == notification.id).values(**values)
            )
    return sent


async def delivery_loop(database: Database, hasher: KeyedHasher, interval: float) -> None:
    """Runs for the life of the service (started by its lifespan)."""
    async with httpx.AsyncClient() as http:
        while True:
            try:
                await deliver_due(database, hasher, http)
            except Exception:
                log.exception("notification_delivery_failed")
            await asyncio.sleep(interval)


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
