"""Recipients, and reading the disclosure log and its checkpoints."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.audit.models import DisclosureLogEntry
from app.auth.dependencies import Principal, UserNotFound
from app.auth.models import Client
from app.consents.models import Purpose
from app.core.conditional import check_if_match
from app.core.errors import AppError, Forbidden, NotFound
from app.core.pagination import CursorId, CursorTime, decode_cursor, encode_cursor, past
from app.core.secrets import KeyedHasher
from app.disclosures.models import Recipient
from app.disclosures.schemas import (
    DisclosurePage,
    DisclosureRead,
    RecipientCreate,
    RecipientCreated,
    RecipientList,
    RecipientRead,
    RecipientUpdate,
    WebhookSecretRotated,
)
from app.disclosures.webhooks import WebhookAddressRefused, WebhookPolicy, new_secret
from app.users.models import User

# The 27 EU member states and Iceland, Liechtenstein and Norway.
EU_EEA = frozenset(
    {
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
        "IS",
        "LI",
        "NO",
    }
)


class RecipientNotFound(NotFound):
    type = "recipient-not-found"
    title = "Recipient not found"


class InvalidRecipient(AppError):
    status = 422
    type = "invalid-recipient"
    title = "Invalid recipient"


class NotARecipientClient(Forbidden):
    type = "client-acts-for-no-recipient"
    title = "This client acts for no recipient"


class RecipientOutsideEea(Forbidden):
    type = "recipient-outside-eu-eea"
    title = "Recipient outside the EU/EEA"


class PurposeNotAllowed(Forbidden):
    type = "purpose-not-allowed-for-recipient"
    title = "The recipient may not receive data for this purpose"


# Webhook secrets -------------------------------------------------------------------------------


def _webhook_cipher(hasher: KeyedHasher) -> AESGCM:
    return AESGCM(bytes.fromhex(hasher.digest("webhook-secret-key", "v1")))


def seal_webhook_secret(hasher: KeyedHasher, secret: str) -> bytes:
    nonce = os.urandom(12)
    return nonce + _webhook_cipher(hasher).encrypt(nonce, secret.encode(), b"webhook")


def open_webhook_secret(hasher: KeyedHasher, sealed: bytes) -> str:
    return _webhook_cipher(hasher).decrypt(sealed[:12], sealed[12:], b"webhook").decode()


def signing_secrets(hasher: KeyedHasher, recipient: Recipient) -> list[str]:
    """The secrets a delivery is signed with: the current one, and the previous one while a
    rotation's overlap lasts (receivers verify with either)."""
    found = []
    if recipient.webhook_secret is not None:
        found.append(open_webhook_secret(hasher, recipient.webhook_secret))
    until = recipient.previous_webhook_secret_until
    if recipient.previous_webhook_secret is not None and until and until > datetime.now(UTC):
        found.append(open_webhook_secret(hasher, recipient.previous_webhook_secret))
    return found


async def rotate_webhook_secret(
    session: AsyncSession, hasher: KeyedHasher, recipient_id: uuid.UUID, overlap: timedelta
) -> WebhookSecretRotated:
    """A new signing secret, shown once; the old one keeps signing too for ``overlap``."""
    recipient = await get_recipient(session, recipient_id)
    secret = new_secret()
    until = datetime.now(UTC) + overlap if recipient.webhook_secret is not None else None
    await session.execute(
        update(Recipient)
        .where(Recipient.id == recipient_id)
        .values(
            webhook_secret=seal_webhook_secret(hasher, secret),
            previous_webhook_secret=recipient.webhook_secret,
            previous_webhook_secret_until=until,
            updated_at=func.now(),
        )
    )
    return WebhookSecretRotated(
        recipient_id=recipient_id, webhook_secret=secret, previous_secret_valid_until=until
    )


def _check_webhook_url(url: str | None, policy: WebhookPolicy | None) -> None:
    if url is None:
        return
    try:
        (policy or WebhookPolicy()).check_url(url)
    except WebhookAddressRefused as exc:
        raise InvalidRecipient(str(exc)) from None


# Recipients ------------------------------------------------------------------------------------


async def _check_purposes(session: AsyncSession, codes: list[str]) -> None:
    known = set((await session.scalars(select(Purpose.code).where(Purpose.code.in_(codes)))).all())
    unknown = sorted(set(codes) - known)
    if unknown:
        raise InvalidRecipient(f"No such purposes: {', '.join(unknown)}.")


async def _link_clients(
    session: AsyncSession, recipient_id: uuid.UUID, client_ids: list[str]
) -> None:
    found = set(
        (
            await session.scalars(select(Client.client_id).where(Client.client_id.in_(client_ids)))
        ).all()
    )
    missing = sorted(set(client_ids) - found)
    if missing:
        raise InvalidRecipient(f"No such clients: {', '.join(missing)}.")
    await session.execute(
        update(Client)
        .where(Client.recipient_id == recipient_id, Client.client_id.not_in(client_ids))
        .values(recipient_id=None)
    )
    if client_ids:
        await session.execute(
            update(Client).where(Client.client_id.in_(client_ids)).values(recipient_id=recipient_id)
        )


async def _read(session: AsyncSession, recipient: Recipient) -> RecipientRead:
    clients = (
        await session.scalars(
            select(Client.client_id)
            .where(Client.recipient_id == recipient.id)
            .order_by(Client.client_id)
        )
    ).all()
    return RecipientRead(
        id=recipient.id,
        name=recipient.name,
        kind=recipient.kind,
        business_id=recipient.business_id,
        country=recipient.country,
        in_eu_eea=recipient.in_eu_eea,
        purposes=list(recipient.purposes),
        legal_basis=recipient.legal_basis,
        contact_name=recipient.contact_name,
        contact_email=recipient.contact_email,
        contact_phone=recipient.contact_phone,
        webhook_url=recipient.webhook_url,
        webhook_disabled_at=recipient.webhook_disabled_at,
        client_ids=list(clients),
        created_at=recipient.created_at,
    )


async def create_recipient(
    session: AsyncSession,
    hasher: KeyedHasher,
    body: RecipientCreate,
    policy: WebhookPolicy | None = None,
) -> RecipientCreated:
    await _check_purposes(session, body.purposes)
    webhook_url = str(body.webhook_url) if body.webhook_url else None
    _check_webhook_url(webhook_url, policy)
    secret = new_secret() if webhook_url else None
    recipient_id = (
        await session.execute(
            insert(Recipient)
            .values(
                name=body.name,
                kind=body.kind,
                business_id=body.business_id,
                country=body.country,
                in_eu_eea=body.country in EU_EEA,
                purposes=sorted(set(body.purposes)),
                legal_basis=body.legal_basis,
                contact_name=body.contact_name,
                contact_email=body.contact_email,
                contact_phone=body.contact_phone,
                webhook_url=webhook_url,
                webhook_secret=seal_webhook_secret(hasher, secret) if secret else None,
            )
            .returning(Recipient.id)
        )
    ).scalar_one()
    await _link_clients(session, recipient_id, body.client_ids)
    read = await _read(session, await session.get_one(Recipient, recipient_id))
    return RecipientCreated(**read.model_dump(), webhook_secret=secret)


async def get_recipient(session: AsyncSession, recipient_id: uuid.UUID) -> Recipient:
    recipient = await session.get(Recipient, recipient_id)
    if recipient is None:
        raise RecipientNotFound("No such recipient.")
    return recipient


async def read_recipient(session: AsyncSession, recipient_id: uuid.UUID) -> RecipientRead:
    return await _read(session, await get_recipient(session, recipient_id))


async def list_recipients(session: AsyncSession) -> RecipientList:
    rows = (await session.scalars(select(Recipient).order_by(Recipient.name))).all()
    return RecipientList(items=[await _read(session, r) for r in rows])


async def update_recipient(
    session: AsyncSession,
    hasher: KeyedHasher,
    recipient_id: uuid.UUID,
    body: RecipientUpdate,
    policy: WebhookPolicy | None = None,
    if_match: str | None = None,
) -> RecipientRead:
    recipient = await session.get(Recipient, recipient_id, with_for_update=True)
    if recipient is None:
        raise RecipientNotFound("No such recipient.")
    check_if_match(if_match, await _read(session, recipient), "recipient")
    values: dict[str, Any] = body.model_dump(exclude_unset=True, exclude={"client_ids"})
    if "purposes" in values:
        await _check_purposes(session, values["purposes"] or [])
        values["purposes"] = sorted(set(values["purposes"] or []))
    if values.get("country"):
        values["in_eu_eea"] = values["country"] in EU_EEA
    if "webhook_url" in values:
        values["webhook_url"] = str(values["webhook_url"]) if values["webhook_url"] else None
        _check_webhook_url(values["webhook_url"], policy)
        if values["webhook_url"] and recipient.webhook_secret is None:
            raise InvalidRecipient(
                "The recipient has no signing secret: get one with POST "
                f"/v1/recipients/{recipient_id}/webhook-secret first."
            )
        # A new address is a new endpoint: a 410 from the old one no longer holds.
        values["webhook_disabled_at"] = None
    if values:
        await session.execute(
            update(Recipient)
            .where(Recipient.id == recipient_id)
            .values(**values, updated_at=func.now())
        )
    if body.client_ids is not None:
        await _link_clients(session, recipient_id, body.client_ids)
    session.expire_all()
    return await read_recipient(session, recipient_id)


async def recipient_for(session: AsyncSession, principal: Principal, purpose: str) -> Recipient:
    """The recipient a partner client acts for, checked for the EU/EEA and the purpose."""
    recipient = await session.scalar(
        select(Recipient)
        .join(Client, Client.recipient_id == Recipient.id)
        .where(Client.client_id == principal.client_id)
    )
    if recipient is None:
        raise NotARecipientClient("Ask the DPO to register the recipient this client acts for.")
    if not recipient.in_eu_eea:
        raise RecipientOutsideEea(
            "Personal data is not disclosed outside the EU/EEA (register description, section 8)."
        )
    if purpose not in recipient.purposes:
        raise PurposeNotAllowed(f"{recipient.name} may not receive data for `{purpose}`.")
    return recipient


# Reading the log -------------------------------------------------------------------------------


def _page(rows: list[DisclosureLogEntry], limit: int) -> DisclosurePage:
    items = [DisclosureRead.model_validate(row, from_attributes=True) for row in rows[:limit]]
    next_cursor = encode_cursor([items[-1].id]) if len(rows) > limit else None
    return DisclosurePage(items=items, next_cursor=next_cursor)


async def user_disclosures(
    session: AsyncSession, principal: Principal, user_id: uuid.UUID, cursor: str | None, limit: int
) -> DisclosurePage:
    subject_ref = await session.scalar(select(User.subject_ref).where(User.id == user_id))
    if subject_ref is None:
        raise UserNotFound("No such user.")
    await audit.log_access(
        session,
        principal,
        [user_id],
        ["disclosures"],
        "read_disclosures",
        principal.request_id,
        subject_refs=[subject_ref],
    )
    after = decode_cursor(cursor, CursorId)
    query = select(DisclosureLogEntry).where(DisclosureLogEntry.subject_ref == subject_ref)
    if after is not None:
        query = query.where(DisclosureLogEntry.id > after[0])
    rows = (await session.scalars(query.order_by(DisclosureLogEntry.id).limit(limit + 1))).all()
    return _page(list(rows), limit)


async def list_disclosures(
    session: AsyncSession,
    *,
    recipient_id: uuid.UUID | None,
    since: datetime | None,
    until: datetime | None,
    cursor: str | None,
    limit: int,
) -> DisclosurePage:
    query = select(DisclosureLogEntry)
    if recipient_id is not None:
        query = query.where(DisclosureLogEntry.recipient_id == recipient_id)
    if since is not None:
        query = query.where(DisclosureLogEntry.disclosed_at >= since)
    if until is not None:
        query = query.where(DisclosureLogEntry.disclosed_at < until)
    after = decode_cursor(cursor, CursorTime, CursorId)
    if after is not None:
        query = query.where(past(after, DisclosureLogEntry.disclosed_at, DisclosureLogEntry.id))
    rows = list(
        (
            await session.scalars(
                query.order_by(DisclosureLogEntry.disclosed_at, DisclosureLogEntry.id).limit(
                    limit + 1
                )
            )
        ).all()
    )
    items = [DisclosureRead.model_validate(row, from_attributes=True) for row in rows[:limit]]
    next_cursor = (
        encode_cursor([items[-1].disclosed_at.isoformat(), items[-1].id])
        if len(rows) > limit
        else None
    )
    return DisclosurePage(items=items, next_cursor=next_cursor)
