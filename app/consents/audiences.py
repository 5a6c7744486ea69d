"""Audiences: who may be contacted for a purpose on a channel, page by page.

Candidates come from index range scans in user-id order (never OFFSET, so a page deep in a
million users costs what the first does): every active user of a kind that the rules allow by
default, and the users who granted the purpose. Each candidate is then decided by the one rule
function, which has the last word.
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.dependencies import Principal
from app.consents.models import WHOLE_PURPOSE, Purpose
from app.consents.purposes import get_purpose_row, rule_of
from app.consents.rules import Decided, Subject, effective_permission, permission_from_states
from app.consents.schemas import AudienceMember, AudiencePage

__all__ = ["AudiencePage", "audience_page", "select_page"]
from app.consents.service import InvalidDecision, subject_of
from app.core.pagination import CursorUuid, decode_cursor, encode_cursor
from app.db import raw

CONTACT_COLUMNS = {
    "email": ("email",),
    "sms": ("phone",),
    "phone": ("phone",),
    "post": ("street", "postal_code", "city", "country"),
}


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


# Candidates after $1 (a user id; the nil UUID before the first page), $2 at a time: every active
# user of the kinds in $3 that the rules allow by default, and every user who granted or allowed
# purpose $4 on channel $5 or on the whole purpose. One stream per (channel, decision), each an
# ordered range of the audience index, so that Postgres merges them in id order instead of
# sorting every grant (and a page deep in a million users costs what the first does).
_GRANTS = """
(SELECT user_id FROM consent_states WHERE purpose_code = $4 AND channel = {channel}
   AND decision = '{decision}' AND user_id > $1 ORDER BY user_id LIMIT $2)"""
_CANDIDATES = (  # built of this module's constants only
    "SELECT DISTINCT id FROM ("  # noqa: S608
    # (No kind allowed by default: a one-time filter, the users are not scanned at all.)
    "(SELECT id AS user_id FROM users WHERE cardinality($3::text[]) > 0"
    " AND kind = ANY($3::text[]) AND status = 'active' AND id > $1 ORDER BY id LIMIT $2)"
    " UNION ALL"
    + " UNION ALL".join(
        _GRANTS.format(channel=channel, decision=decision)
        for channel in ("$5", f"'{WHOLE_PURPOSE}'")
        for decision in ("granted", "allowed")
    )
    + ") AS candidates (id) ORDER BY id LIMIT $2"
)
# What deciding and contacting a candidate reads of them, with their states for the purpose.
_USERS = (
    "SELECT u.id, u.subject_ref, u.kind, u.status, u.deceased_on, u.restricted_at,"  # noqa: S608
    " u.first_name, u.last_name, u.company_name, "
    + ", ".join(f"u.{c}" for c in dict.fromkeys(c for cs in CONTACT_COLUMNS.values() for c in cs))
    + " FROM users u WHERE u.id = ANY($1::uuid[])"
)
_STATES = (
    "SELECT user_id, channel, decision, record_id, purpose_version FROM consent_states"
    " WHERE user_id = ANY($1::uuid[]) AND purpose_code = $2 AND channel = ANY($3::text[])"
)
_BEFORE_ALL = uuid.UUID(int=0)


class Selected(NamedTuple):
    page: AudiencePage
    # The members' pseudonymous references, for the log entries the caller writes.
    subject_refs: dict[uuid.UUID, uuid.UUID]


async def select_page(
    session: AsyncSession, purpose: Purpose, channel: str, cursor: str | None, limit: int
) -> Selected:
    """One page of the audience, read with ``session`` (the replica's, when it serves: it has
    then replayed every decision committed before the request); the caller records who saw
    it."""
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
    connection = await raw.driver(session)
    while len(members) < limit and not exhausted:
        ids = [
            row[0]
            for row in await connection.fetch(
                _CANDIDATES, after or _BEFORE_ALL, batch, default_kinds, purpose.code, channel
            )
        ]
        exhausted = len(ids) < batch
        if not ids:
            break
        users = {row["id"]: SimpleNamespace(**row) for row in await connection.fetch(_USERS, ids)}
        states = {
            (s["user_id"], s["channel"]): Decided(
                s["decision"], s["record_id"], s["purpose_version"]
            )
            for s in await connection.fetch(_STATES, ids, purpose.code, [channel, WHOLE_PURPOSE])
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
    reader: AsyncSession | None = None,
) -> AudiencePage:
    """A page read by the controller's own staff or DPO (with ``reader``: the replica, when it
    serves), recorded in the access log (with ``session``, on the primary). (A partner's read is
    a disclosure: see ``app.disclosures.releases.audience_for_partner``.)"""
    page, refs = await select_page(
        reader or session, await get_purpose_row(session, purpose_code), channel, cursor, limit
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
