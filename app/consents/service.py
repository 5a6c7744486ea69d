"""Decisions (append-only records with receipts), the current state, effective permissions."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.dependencies import Principal, UserNotFound
from app.consents.models import (
    WHOLE_PURPOSE,
    ConsentReceipt,
    ConsentRecord,
    ConsentState,
    PurposeVersion,
)
from app.consents.purposes import PurposeNotFound, get_purpose_row, load_purposes, rule_of
from app.consents.rules import Decided, Subject, objection_scope, permission_from_states
from app.consents.schemas import (
    DecisionIn,
    DecisionsIn,
    EffectivePermission,
    HistoryItem,
    HistoryPage,
    Permissions,
    RecordedDecision,
    RecordedDecisions,
)
from app.core.errors import AppError
from app.core.pagination import CursorId, decode_cursor, encode_cursor
from app.core.secrets import KeyedHasher
from app.db import raw
from app.users.models import User
from app.users.service import AccountNotActive


class InvalidDecision(AppError):
    status = 422
    type = "invalid-decision"
    title = "Decision not possible"


class OutdatedNotice(AppError):
    status = 409
    type = "notice-version-outdated"
    title = "The notice shown is not the current one"


class DecisionWindowClosed(AppError):
    status = 403
    type = "decision-window-closed"
    title = "Not a decision the frontend may relay"


# The frontend's own token may relay decisions only as part of a sign-up: for a user registered
# within this time, from the sign-up form. Afterwards the person's own token, staff or the DPO.
SIGN_UP_WINDOW = timedelta(minutes=10)


def subject_of(user: Any) -> Subject:
    """The rule's view of a user: a ``User`` or any row with its kind, status, deceased_on and
    restricted_at."""
    return Subject(
        kind=user.kind,
        status=user.status,
        deceased=user.deceased_on is not None,
        restricted=user.restricted_at is not None,
    )


async def _subject(session: AsyncSession, user_id: uuid.UUID) -> Subject:
    row = (
        await session.execute(
            select(User.kind, User.status, User.deceased_on, User.restricted_at).where(
                User.id == user_id
            )
        )
    ).one_or_none()
    if row is None:
        raise UserNotFound("No such user.")
    return subject_of(row)


def check_decision(purpose: Any, channel: str | None, decision: str, version: int) -> None:
    if channel is not None and channel not in purpose.channels:
        raise InvalidDecision(f"Purpose `{purpose.code}` does not use the channel `{channel}`.")
    if purpose.legal_basis in ("contract", "legal_obligation"):
        raise InvalidDecision(
            f"`{purpose.code}` rests on {purpose.legal_basis.replace('_', ' ')}: there is no "
            "consent to give or withdraw, and an objection does not stop it."
        )
    if version > purpose.current_version:
        raise InvalidDecision(
            f"Purpose `{purpose.code}` has no notice version {version} "
            f"(newest: {purpose.current_version})."
        )
    if version < purpose.current_version and decision in ("granted", "allowed"):
        # Art. 7(1) and 13: a consent given on a notice no longer in force. Withdrawing and
        # objecting need no notice (Art. 7(3), 21(3)): they are taken whatever version is named.
        raise OutdatedNotice(
            f"The current notice of `{purpose.code}` is version {purpose.current_version}; "
            f"show it and send notice_version {purpose.current_version}."
        )


_REGISTERED_BY = (
    "SELECT EXISTS (SELECT 1 FROM user_changes WHERE user_id = $1 AND category = 'basic_data' "
    "AND action = 'created' AND actor = $2)"
)


async def _check_relay(
    connection: Any,
    principal: Principal,
    user_id: uuid.UUID,
    user: Any,
    body: DecisionsIn,
    now: datetime,
) -> None:
    """A frontend client token relays decisions only at sign-up (see SIGN_UP_WINDOW), for a
    user that this same client registered."""
    if principal.role != "frontend" or principal.is_user:
        return
    registered_here = body.source == "sign_up_form" and now - user["created_at"] <= SIGN_UP_WINDOW
    if registered_here:
        registered_here = bool(
            await connection.fetchval(_REGISTERED_BY, user_id, principal.actor())
        )
    if not registered_here:
        raise DecisionWindowClosed(
            "The frontend's client may record decisions only from the sign-up form, within "
            f"{int(SIGN_UP_WINDOW.total_seconds() // 60)} minutes of the registration; later "
            "decisions come with the person's own token, or from staff."
        )


def with_objection_scope(decisions: list[DecisionIn], purposes: dict[str, Any]) -> list[DecisionIn]:
    """The decisions, plus what each objection covers by law (``objection_scope``): an objection
    to direct marketing prohibits every direct-marketing purpose, own and group companies', on
    the same channel (or wholly); one to research, every research purpose. Recorded in the same
    receipt and transaction as the objection itself."""
    if not any(item.decision == "prohibited" for item in decisions):
        return decisions  # the hot path: nothing to extend
    rules = {code: rule_of(purpose) for code, purpose in purposes.items()}
    wanted = {(d.purpose, d.channel) for d in decisions}
    extended = list(decisions)
    for item in decisions:
        if item.decision != "prohibited":
            continue
        for covered in objection_scope(rules[item.purpose], rules.values()):
            if item.channel is not None and item.channel not in covered.channels:
                continue
            if (covered.code, item.channel) in wanted:
                continue
            wanted.add((covered.code, item.channel))
            extended.append(
                DecisionIn(
                    purpose=covered.code,
                    channel=item.channel,
                    decision="prohibited",
                    notice_version=purposes[covered.code].current_version,
                )
            )
    return extended


_SUBJECT_FOR_UPDATE = (
    "SELECT kind, status, deceased_on, restricted_at, created_at FROM users WHERE id = $1 "
    "FOR UPDATE"
)
PURPOSES_SQL = (
    "SELECT code, category, legal_basis, channels, group_companies, direct_marketing, "
    "current_version, material_version FROM purposes ORDER BY code"
)
_INSERT_RECEIPT = (
    "INSERT INTO consent_receipts (id, user_id, recorded_at, source, language, actor, "
    "user_agent, client_address_hash, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
)
_INSERT_RECORDS = """
INSERT INTO consent_records
    (receipt_id, user_id, purpose_code, purpose_version, channel, decision, recorded_at)
SELECT $1, $2, t.p, t.v, t.c, t.d, $3
FROM unnest($4::text[], $5::int[], $6::text[], $7::text[]) WITH ORDINALITY AS t(p, v, c, d, n)
ORDER BY t.n
RETURNING id, purpose_code, purpose_version, channel, decision, recorded_at
"""
# The newest record per key wins; a concurrent writer with a newer record is never undone.
_UPSERT_STATES = """
INSERT INTO consent_states
    (user_id, purpose_code, channel, decision, record_id, purpose_version, decided_at)
SELECT $1, t.p, t.c, t.d, t.r, t.v, $2
FROM unnest($3::text[], $4::text[], $5::text[], $6::bigint[], $7::int[]) AS t(p, c, d, r, v)
ON CONFLICT (user_id, purpose_code, channel) DO UPDATE
SET decision = EXCLUDED.decision, record_id = EXCLUDED.record_id,
    purpose_version = EXCLUDED.purpose_version, decided_at = EXCLUDED.decided_at
WHERE consent_states.record_id < EXCLUDED.record_id
"""
_STATES_OF = (
    "SELECT purpose_code, channel, decision, decided_at, record_id, purpose_version "
    "FROM consent_states "
    "WHERE user_id = $1 AND purpose_code = ANY($2::text[])"
)


async def record_decisions(
    session: AsyncSession,
    hasher: KeyedHasher,
    principal: Principal,
    user_id: uuid.UUID,
    body: DecisionsIn,
    *,
    user_agent: str | None,
    client_address: str | None,
) -> RecordedDecisions:
    """Records the decisions with one receipt and updates the current state, in one transaction.
    On the raw driver: it is a hot write path (bench/README.md), six statements in all."""
    connection = await raw.driver(session)
    user = await connection.fetchrow(_SUBJECT_FOR_UPDATE, user_id)
    if user is None:
        raise UserNotFound("No such user.")
    if user["status"] == "erased":
        raise AccountNotActive("The account is erased; no decisions can be recorded.")
    if user["status"] != "active" and any(
        d.decision in ("granted", "allowed") for d in body.decisions
    ):
        # A closed account can still withdraw and object (as easy as giving), never grant.
        raise AccountNotActive(f"The account is {user['status']}; it can only withdraw or object.")
    now = datetime.now(UTC)
    await _check_relay(connection, principal, user_id, user, body, now)
    purposes = {r["code"]: SimpleNamespace(**r) for r in await connection.fetch(PURPOSES_SQL)}
    for item in body.decisions:
        purpose = purposes.get(item.purpose)
        if purpose is None:
            raise PurposeNotFound(f"No purpose `{item.purpose}`.")
        check_decision(purpose, item.channel, item.decision, item.notice_version)
    decisions = with_objection_scope(body.decisions, purposes)

    # Relayed evidence is taken from the frontend's client only; a user's own call is its own.
    evidence = body.evidence if not principal.is_user else None
    address = (evidence.client_address if evidence else None) or client_address
    agent = ((evidence.user_agent if evidence else None) or user_agent or "")[:500] or None
    receipt_id = uuid.uuid4()
    await connection.execute(
        _INSERT_RECEIPT,
        receipt_id,
        user_id,
        now,
        body.source,
        body.language,
        principal.actor(),
        agent,
        hasher.digest("consent-address", address) if address else None,
        principal.request_id,
    )
    records = await connection.fetch(
        _INSERT_RECORDS,
        receipt_id,
        user_id,
        now,
        [d.purpose for d in decisions],
        [d.notice_version for d in decisions],
        [d.channel or WHOLE_PURPOSE for d in decisions],
        [d.decision for d in decisions],
    )
    latest = {(r["purpose_code"], r["channel"]): r for r in sorted(records, key=lambda r: r["id"])}
    await connection.execute(
        _UPSERT_STATES,
        user_id,
        now,
        [r["purpose_code"] for r in latest.values()],
        [r["channel"] for r in latest.values()],
        [r["decision"] for r in latest.values()],
        [r["id"] for r in latest.values()],
        [r["purpose_version"] for r in latest.values()],
    )
    affected = sorted({item.purpose for item in decisions})
    states = {
        (r["purpose_code"], r["channel"]): SimpleNamespace(**r)
        for r in await connection.fetch(_STATES_OF, user_id, affected)
    }
    subject = Subject(
        kind=user["kind"],
        status=user["status"],
        deceased=user["deceased_on"] is not None,
        restricted=user["restricted_at"] is not None,
    )
    return RecordedDecisions(
        receipt_id=receipt_id,
        decisions=[
            RecordedDecision(
                id=r["id"],
                purpose=r["purpose_code"],
                purpose_version=r["purpose_version"],
                channel=r["channel"],
                decision=r["decision"],
                recorded_at=r["recorded_at"],
            )
            for r in records
        ],
        permissions=_answers(subject, [purposes[code] for code in affected], states),
    )


def _decided(state: Any) -> Decided | None:
    if state is None:
        return None
    return Decided(state.decision, state.record_id, state.purpose_version)


def _answers(
    subject: Subject, purposes: Iterable[Any], states: dict[tuple[str, str], Any]
) -> list[EffectivePermission]:
    """The effective permission for every channel of these purposes, by the rule function."""
    answers = []
    for purpose in purposes:
        whole = _decided(states.get((purpose.code, WHOLE_PURPOSE)))
        rule = rule_of(purpose)
        channels: list[str | None] = list(purpose.channels) or [None]
        for channel in channels:
            specific = _decided(states.get((purpose.code, channel))) if channel else None
            permission, applied_decision = permission_from_states(
                subject, rule, channel, whole, specific
            )
            key = channel if applied_decision is specific and channel else WHOLE_PURPOSE
            applied = states.get((purpose.code, key)) if applied_decision else None
            answers.append(
                EffectivePermission(
                    purpose=purpose.code,
                    channel=channel,
                    allowed=permission.allowed,
                    reason=permission.reason,
                    legal_basis=purpose.legal_basis,
                    decision=applied.decision if applied else None,
                    decided_at=applied.decided_at if applied else None,
                )
            )
    return answers


async def permitted_users(
    session: AsyncSession, purpose_code: str, user_ids: Iterable[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of these users' data the purpose (one without channels, e.g. analytics) may be
    processed for now, by the rule function. Two queries, whatever the number of users."""
    ids = list(set(user_ids))
    if not ids:
        return set()
    purpose = await get_purpose_row(session, purpose_code)
    users = (
        await session.execute(
            select(User.id, User.kind, User.status, User.deceased_on, User.restricted_at).where(
                User.id.in_(ids)
            )
        )
    ).all()
    states = {
        (state.user_id, state.channel): state
        for state in (
            await session.scalars(
                select(ConsentState).where(
                    ConsentState.user_id.in_(ids), ConsentState.purpose_code == purpose_code
                )
            )
        ).all()
    }
    rule = rule_of(purpose)
    permitted = set()
    for user in users:
        whole = _decided(states.get((user.id, WHOLE_PURPOSE)))
        if permission_from_states(subject_of(user), rule, None, whole, None)[0].allowed:
            permitted.add(user.id)
    return permitted


async def effective(
    session: AsyncSession, user_id: uuid.UUID, only: Iterable[str] | None = None
) -> list[EffectivePermission]:
    subject = await _subject(session, user_id)
    states = {
        (s.purpose_code, s.channel): s
        for s in (
            await session.scalars(select(ConsentState).where(ConsentState.user_id == user_id))
        ).all()
    }
    wanted = set(only) if only is not None else None
    purposes = [p for p in await load_purposes(session) if wanted is None or p.code in wanted]
    return _answers(subject, purposes, states)


async def effective_permissions(
    session: AsyncSession, principal: Principal, user_id: uuid.UUID
) -> Permissions:
    items = await effective(session, user_id)
    await audit.log_access(
        session, principal, [user_id], ["permissions"], "read_permissions", principal.request_id
    )
    return Permissions(user_id=user_id, items=items)


async def history(
    session: AsyncSession,
    principal: Principal,
    user_id: uuid.UUID,
    cursor: str | None,
    limit: int,
) -> HistoryPage:
    await _subject(session, user_id)
    after = decode_cursor(cursor, CursorId)
    query = (
        select(ConsentRecord, ConsentReceipt.source, ConsentReceipt.actor)
        .join(ConsentReceipt, ConsentReceipt.id == ConsentRecord.receipt_id)
        .where(ConsentRecord.user_id == user_id)
    )
    if after is not None:
        query = query.where(ConsentRecord.id > after[0])
    rows = (await session.execute(query.order_by(ConsentRecord.id).limit(limit + 1))).all()
    items = [
        HistoryItem(
            id=record.id,
            receipt_id=record.receipt_id,
            purpose=record.purpose_code,
            purpose_version=record.purpose_version,
            channel=record.channel,
            decision=record.decision,
            recorded_at=record.recorded_at,
            source=source,
            actor=actor,
        )
        for record, source, actor in rows[:limit]
    ]
    await audit.log_access(
        session,
        principal,
        [user_id],
        ["permissions"],
        "read_permission_history",
        principal.request_id,
    )
    next_cursor = encode_cursor([items[-1].id]) if len(rows) > limit else None
    return HistoryPage(items=items, next_cursor=next_cursor)


async def states_match_records(session: AsyncSession) -> list[dict[str, object]]:
    """Rebuilds the current state from the records and returns every difference (none: the
    table is exactly what the records say)."""
    rows = await session.execute(
        text(
            """
            WITH rebuilt AS (
                SELECT DISTINCT ON (user_id, purpose_code, channel)
                       user_id, purpose_code, channel, decision, id AS record_id, purpose_version
                FROM consent_records
                ORDER BY user_id, purpose_code, channel, id DESC
            )
            SELECT coalesce(r.user_id, s.user_id) AS user_id,
                   coalesce(r.purpose_code, s.purpose_code) AS purpose_code,
                   coalesce(r.channel, s.channel) AS channel,
                   r.decision AS rebuilt, s.decision AS kept
            FROM rebuilt r
            FULL JOIN consent_states s USING (user_id, purpose_code, channel)
            WHERE r.record_id IS DISTINCT FROM s.record_id
               OR r.decision IS DISTINCT FROM s.decision
               OR r.purpose_version IS DISTINCT FROM s.purpose_version
            """
        )
    )
    return [dict(row._mapping) for row in rows]


async def notice_versions(
    session: AsyncSession, keys: set[tuple[str, int]]
) -> dict[tuple[str, int], PurposeVersion]:
    if not keys:
        return {}
    rows = await session.scalars(
        select(PurposeVersion).where(
            tuple_(PurposeVersion.purpose_code, PurposeVersion.version).in_(sorted(keys))
        )
    )
    return {(r.purpose_code, r.version): r for r in rows}
