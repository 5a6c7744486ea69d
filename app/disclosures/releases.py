"""Data releases to partners: checked against the recipient, the purpose and every user's
permission, and logged per user in the same transaction as the read. No data leaves without its
log entry, and no entry is written without the data (both commit, or neither)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import entries
from app.audit.models import DisclosureLogEntry
from app.auth.dependencies import Principal
from app.consents import audiences
from app.consents.models import WHOLE_PURPOSE, ConsentState, Purpose
from app.consents.purposes import PurposeNotFound, get_purpose_row, rule_of
from app.consents.rules import Decided, permission_from_states
from app.consents.service import subject_of
from app.core.errors import AppError
from app.disclosures.models import Recipient
from app.disclosures.schemas import (
    ExternalDisclosure,
    ReleasedUser,
    ReleaseRequest,
    ReleaseResult,
    WithheldUser,
)
from app.disclosures.service import get_recipient, recipient_for
from app.users.models import User

# Which channel's permission each contact category needs; name and language go along with any.
CATEGORY_CHANNEL = {
    "email": "email",
    "sms_number": "sms",
    "phone_number": "phone",
    "postal_address": "post",
}
DISCLOSABLE_CATEGORIES = ("marketing", "research")


class PurposeNotDisclosable(AppError):
    status = 422
    type = "purpose-not-disclosable"
    title = "Data is not disclosed for this purpose"


def _values(user: User, category: str) -> Any:
    if category == "name":
        if user.kind == "company":
            return {"company_name": user.company_name, "contact_name": user.contact_name}
        return {"first_name": user.first_name, "last_name": user.last_name}
    if category == "language":
        return user.language
    if category == "email":
        return user.email
    if category in ("sms_number", "phone_number"):
        return user.phone
    if user.street is None:
        return None
    return {
        "street": user.street,
        "postal_code": user.postal_code,
        "city": user.city,
        "country": user.country,
    }


def permitted_data(
    user: User, purpose: Purpose, categories: list[str], states: dict[str, Decided]
) -> dict[str, Any]:
    """The categories of this user's data the purpose may have, by the one rule function."""
    subject = subject_of(user)
    rule = rule_of(purpose)

    whole = states.get(WHOLE_PURPOSE)

    def allowed(channel: str | None) -> bool:
        specific = states.get(channel) if channel else None
        return permission_from_states(subject, rule, channel, whole, specific)[0].allowed

    channels = [CATEGORY_CHANNEL[c] for c in categories if c in CATEGORY_CHANNEL]
    data: dict[str, Any] = {}
    for category in categories:
        channel = CATEGORY_CHANNEL.get(category)
        if channel is not None and (channel not in purpose.channels or not allowed(channel)):
            continue
        candidates: list[str | None] = list(channels or purpose.channels) or [None]
        if channel is None and not any(allowed(c) for c in candidates):
            continue
        value = _values(user, category)
        if value is not None:
            data[category] = value
    if not any(c in data for c in CATEGORY_CHANNEL) and channels:
        return {}  # a name without any permitted way to contact is not released either
    return data


async def _states(
    session: AsyncSession, ids: list[uuid.UUID], purpose_code: str
) -> dict[uuid.UUID, dict[str, Decided]]:
    states: dict[uuid.UUID, dict[str, Decided]] = {}
    rows = await session.execute(
        select(
            ConsentState.user_id,
            ConsentState.channel,
            ConsentState.decision,
            ConsentState.record_id,
            ConsentState.purpose_version,
        ).where(ConsentState.user_id.in_(ids), ConsentState.purpose_code == purpose_code)
    )
    for user_id, channel, decision, record_id, version in rows:
        states.setdefault(user_id, {})[channel] = Decided(decision, record_id, version)
    return states


async def log_disclosures(
    session: AsyncSession,
    principal: Principal,
    recipient: Recipient,
    purpose: str,
    released: list[tuple[uuid.UUID, list[str]]],
    *,
    kind: str,
    channel: str | None = None,
    subject_refs: dict[uuid.UUID, uuid.UUID] | None = None,
) -> None:
    """One disclosure-log entry per user released, in the caller's transaction.
    Callers that hold the users' pseudonymous references pass them and save a query."""
    if not released:
        return
    refs = subject_refs or {
        row.id: row.subject_ref
        for row in await session.execute(
            select(User.id, User.subject_ref).where(User.id.in_([u for u, _ in released]))
        )
    }
    now = datetime.now(UTC)
    await entries.append(
        session,
        DisclosureLogEntry,
        [
            {
                "disclosed_at": now,
                "subject_ref": refs[user_id],
                "recipient_id": recipient.id,
                "recipient_name": recipient.name,
                "purpose": purpose,
                "categories": sorted(categories),
                "legal_basis": recipient.legal_basis,
                "channel": channel,
                "client_id": principal.client_id,
                "request_id": principal.request_id,
                "kind": kind,
                "note": None,
            }
            for user_id, categories in released
        ],
    )


async def release(
    session: AsyncSession, principal: Principal, body: ReleaseRequest
) -> ReleaseResult:
    recipient = await recipient_for(session, principal, body.purpose)
    purpose = await get_purpose_row(session, body.purpose)
    if purpose.category not in DISCLOSABLE_CATEGORIES:
        raise PurposeNotDisclosable(f"`{purpose.code}` is not a purpose data is disclosed for.")
    next_cursor = None
    if body.user_ids is not None:
        ids = list(dict.fromkeys(body.user_ids))
    else:
        assert body.audience is not None
        page, _ = await audiences.select_page(
            session,
            purpose,
            body.audience.channel,
            body.audience.cursor,
            body.audience.limit,
        )
        ids = [member.user_id for member in page.items]
        next_cursor = page.next_cursor
    users = {
        u.id: u
        for u in (
            await session.scalars(
                select(User)
                .where(User.id.in_(ids), User.status != "erased")
                # An erasure of one of them waits for this release, or this release for it (and
                # then withholds the person): the erasure's Art. 19 notice never misses it.
                .with_for_update(key_share=True)
            )
        ).all()
    }
    states = await _states(session, ids, purpose.code)
    categories: list[str] = list(dict.fromkeys(body.categories))
    released: list[ReleasedUser] = []
    withheld: list[WithheldUser] = []
    for user_id in ids:
        user = users.get(user_id)
        data = permitted_data(user, purpose, categories, states.get(user_id, {})) if user else {}
        if data:
            released.append(ReleasedUser(user_id=user_id, data=data))
        else:
            withheld.append(WithheldUser(user_id=user_id, reason="not_permitted"))
    await log_disclosures(
        session,
        principal,
        recipient,
        purpose.code,
        [(r.user_id, list(r.data)) for r in released],
        kind="release",
        subject_refs={user_id: user.subject_ref for user_id, user in users.items()},
    )
    return ReleaseResult(
        recipient_id=recipient.id,
        purpose=purpose.code,
        legal_basis=recipient.legal_basis,
        released=released,
        withheld=withheld,
        next_cursor=next_cursor,
    )


async def audience_for_partner(
    session: AsyncSession,
    principal: Principal,
    purpose_code: str,
    channel: str,
    cursor: str | None,
    limit: int,
    reader: AsyncSession | None = None,
) -> audiences.AudiencePage:
    """An audience page read by a partner: each member's contact is a disclosure, logged."""
    recipient = await recipient_for(session, principal, purpose_code)
    purpose = await get_purpose_row(session, purpose_code)
    if purpose.category not in DISCLOSABLE_CATEGORIES:
        raise PurposeNotDisclosable(f"`{purpose.code}` is not a purpose data is disclosed for.")
    page, refs = await audiences.select_page(reader or session, purpose, channel, cursor, limit)
    category = next(c for c, ch in CATEGORY_CHANNEL.items() if ch == channel)
    categories = [category, "name"] if channel == "post" else [category]
    await log_disclosures(
        session,
        principal,
        recipient,
        purpose.code,
        [(m.user_id, categories) for m in page.items],
        kind="audience",
        channel=channel,
        subject_refs=refs,
    )
    return page


class UnknownUsers(AppError):
    status = 422
    type = "unknown-users"
    title = "Unknown users"


class UnknownPurpose(AppError):
    status = 422
    type = "unknown-purpose"
    title = "Unknown purpose"


class TransferBasisRequired(AppError):
    status = 422
    type = "transfer-basis-required"
    title = "A transfer outside the EU/EEA needs its basis"


async def log_external(
    session: AsyncSession, principal: Principal, body: ExternalDisclosure
) -> int:
    """Logs a disclosure made outside the API (to a collection agency, an authority). The purpose
    must be one of the catalogue's, and a recipient outside the EU/EEA needs a transfer basis
    (GDPR Chapter V), kept in the entry."""
    recipient = await get_recipient(session, body.recipient_id)
    try:
        await get_purpose_row(session, body.purpose)
    except PurposeNotFound:
        raise UnknownPurpose(
            f"No purpose `{body.purpose}` in the catalogue (`GET /v1/purposes`)."
        ) from None
    if not recipient.in_eu_eea and body.transfer_basis is None:
        raise TransferBasisRequired(
            f"{recipient.name} is outside the EU/EEA ({recipient.country}): name the "
            "`transfer_basis` of the transfer (GDPR Chapter V)."
        )
    ids = list(dict.fromkeys(body.user_ids))
    refs = {
        row.id: row.subject_ref
        for row in await session.execute(select(User.id, User.subject_ref).where(User.id.in_(ids)))
    }
    unknown = [str(i) for i in ids if i not in refs]
    if unknown:
        raise UnknownUsers(f"No such users: {', '.join(unknown)}.")
    now = datetime.now(UTC)
    await entries.append(
        session,
        DisclosureLogEntry,
        [
            {
                "disclosed_at": now,
                "subject_ref": refs[user_id],
                "recipient_id": recipient.id,
                "recipient_name": recipient.name,
                "purpose": body.purpose,
                "categories": sorted(set(body.categories)),
                "legal_basis": body.legal_basis,
                "channel": None,
                "client_id": principal.client_id,
                "request_id": principal.request_id,
                "kind": "external",
                "note": body.note,
                "transfer_basis": body.transfer_basis,
            }
            for user_id in ids
        ],
    )
    return len(ids)
