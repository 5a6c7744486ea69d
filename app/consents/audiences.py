"""Audiences: who may be contacted for a purpose on a channel, page by page.

Candidates come from index range scans in user-id order (never OFFSET, so a page deep in a
million users costs what the first does): every active user of a kind that the rules allow by
default, and the users who granted the purpose. Each candidate is then decided by the one rule
function, which has the last word.
"""

from __future__ import annotations

import uuid
from typing import Any, NamedTuple

from sqlalchemy import Select, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.dependencies import Principal
from app.consents.models import WHOLE_PURPOSE, ConsentState, Purpose
from app.consents.purposes import get_purpose_row, rule_of
from app.consents.rules import Decided, Subject, effective_permission, permission_from_states
from app.consents.schemas import AudienceMember, AudiencePage

__all__ = ["AudiencePage", "audience_page", "select_page"]
from app.consents.service import InvalidDecision, subject_of
from app.core.pagination import CursorUuid, decode_cursor, encode_cursor
from app.users.models import User

CONTACT_COLUMNS = {
    "email": ("email",),
    "sms": ("phone",),
    "phone": ("phone",),
    "post": ("street", "postal_code", "city", "country"),
}


# What deciding and contacting a candidate reads of them.
_AUDIENCE_COLUMNS = (
    User.id,
    User.subject_ref,
    User.kind,
    User.status,
    User.deceased_on,
    User.restricted_at,
    User.first_name,
    User.last_name,
    User.company_name,
    *(getattr(User, c) for columns in CONTACT_COLUMNS.values() for c in dict.fromkeys(columns)),
)


def _contact(user: Any, channel: str) -> dict[str, str] | None:
    values = {column: getattr(user, column) for column in CONTACT_COLUMNS[channel]}
    if any(value is None for value in values.values()):
        return None
    if channel == "post":
        name = (
            user.company_name if user.kind == "company" else f"{user.first_name} {user.last_name}"
        )
        values = {"name": name, **values}
    return values


def _candidates(
    purpose_code: str, channel: str, default_kinds: list[str], after: uuid.UUID | None, batch: int
) -> Select[Any]:
    streams = []
    if default_kinds:
        users = select(User.id.label("id")).where(
            User.kind.in_(default_kinds), User.status == "active"
        )
        if after is not None:
            users = users.where(User.id > after)
        streams.append(users.order_by(User.id).limit(batch))
    # One stream per (channel, decision), each an ordered range of the audience index, so that
    # Postgres merges them in id order instead of sorting every grant.
    for applies in (channel, WHOLE_PURPOSE):
        for decision in ("granted", "allowed"):
            granted = select(ConsentState.user_id.label("id")).where(
                ConsentState.purpose_code == purpose_code,
                ConsentState.channel == applies,
                ConsentState.decision == decision,
            )
            if after is not None:
                granted = granted.where(ConsentState.user_id > after)
            streams.append(granted.order_by(ConsentState.user_id).limit(batch))
    merged = union_all(*streams).subquery()
    return select(merged.c.id).distinct().order_by(merged.c.id).limit(batch)


class Selected(NamedTuple):
    page: AudiencePage
    # The members' pseudonymous references, for the log entries the caller writes.
    subject_refs: dict[uuid.UUID, uuid.UUID]


async def select_page(
    session: AsyncSession, purpose: Purpose, channel: str, cursor: str | None, limit: int
) -> Selected:
    """One page of the audience; the caller records who saw it."""
    if channel not in purpose.channels:
        raise InvalidDecision(f"Purpose `{purpose.code}` does not use the channel `{channel}`.")
    rule = rule_of(purpose)
    default_kinds = [
        kind
        for kind in ("private", "company")
        if effective_permission(Subject(kind=kind), rule, channel).allowed
    ]
    decoded = decode_cursor(cursor, CursorUuid)
    after = decoded[0] if decoded else None
    members: list[AudienceMember] = []
    refs: dict[uuid.UUID, uuid.UUID] = {}
    batch = max(limit, 100)
    exhausted = False
    while len(members) < limit and not exhausted:
        ids = list(
            (
                await session.scalars(
                    _candidates(purpose.code, channel, default_kinds, after, batch)
                )
            ).all()
        )
        exhausted = len(ids) < batch
        if not ids:
            break
        # The candidates' rows (only the columns the rule and the contact need) and their
        # states, as plain rows: no ORM objects on this path.
        users = {
            row.id: row
            for row in await session.execute(select(*_AUDIENCE_COLUMNS).where(User.id.in_(ids)))
        }
        states = {
            (s.user_id, s.channel): Decided(s.decision, s.record_id, s.purpose_version)
            for s in await session.execute(
                select(
                    ConsentState.user_id,
                    ConsentState.channel,
                    ConsentState.decision,
                    ConsentState.record_id,
                    ConsentState.purpose_version,
                ).where(
                    ConsentState.user_id.in_(ids),
                    ConsentState.purpose_code == purpose.code,
                    or_(
                        ConsentState.channel == channel,
                        ConsentState.channel == literal(WHOLE_PURPOSE),
                    ),
                )
            )
        }
        for user_id in ids:
            after = user_id
            user = users[user_id]
            whole = states.get((user_id, WHOLE_PURPOSE))
            specific = states.get((user_id, channel))
            permission, _ = permission_from_states(subject_of(user), rule, channel, whole, specific)
            contact = _contact(user, channel) if permission.allowed else None
            if contact is not None:
                members.append(AudienceMember(user_id=user_id, contact=contact))
                refs[user_id] = user.subject_ref
                if len(members) == limit:
                    exhausted = exhausted and user_id == ids[-1]
                    break
    next_cursor = encode_cursor([str(after)]) if members and not exhausted else None
    page = AudiencePage(
        purpose=purpose.code, channel=channel, items=members, next_cursor=next_cursor
    )
    return Selected(page, refs)


async def audience_page(
    session: AsyncSession,
    principal: Principal,
    purpose_code: str,
    channel: str,
    cursor: str | None,
    limit: int,
) -> AudiencePage:
    """A page read by the controller's own staff or DPO, recorded in the access log. (A
    partner's read is a disclosure: see ``app.disclosures.releases.audience_for_partner``.)"""
    page, refs = await select_page(
        session, await get_purpose_row(session, purpose_code), channel, cursor, limit
    )
    await audit.log_access(
        session,
        principal,
        [m.user_id for m in page.items],
        ["basic_data"],
        f"audience:{purpose_code}:{channel}",
        principal.request_id,
        subject_refs=[refs[m.user_id] for m in page.items],
    )
    return page
