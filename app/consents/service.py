"""Decisions (append-only records with receipts), the current state, effective permissions."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import select, text, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.dependencies import Principal, UserNotFound
from app.consents.models import (
    WHOLE_PURPOSE,
    ConsentReceipt,
    ConsentRecord,
    ConsentState,
    Purpose,
    PurposeVersion,
)
from app.consents.purposes import PurposeNotFound, load_purposes, rule_of
from app.consents.rules import Subject, effective_permission
from app.consents.schemas import (
    DecisionsIn,
    EffectivePermission,
    HistoryItem,
    HistoryPage,
    Permissions,
    RecordedDecision,
    RecordedDecisions,
)
from app.core.errors import AppError
from app.core.pagination import decode_cursor, encode_cursor
from app.core.secrets import KeyedHasher
from app.users.models import User


class InvalidDecision(AppError):
    status = 422
    type = "invalid-decision"
    title = "Decision not possible"


class AccountNotActive(AppError):
    status = 409
    type = "account-not-active"
    title = "The account is not active"


def subject_of(user: User) -> Subject:
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
    return Subject(
        kind=row.kind,
        status=row.status,
        deceased=row.deceased_on is not None,
        restricted=row.restricted_at is not None,
    )


def _check_decision(purpose: Purpose, channel: str | None, decision: str, version: int) -> None:
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
    """Records the decisions with one receipt and updates the current state, in one transaction."""
    status = (
        await session.execute(select(User.status).where(User.id == user_id).with_for_update())
    ).scalar_one_or_none()
    if status is None:
        raise UserNotFound("No such user.")
    if status != "active":
        raise AccountNotActive(f"The account is {status}; no decisions can be recorded.")
    purposes = {p.code: p for p in await load_purposes(session)}
    for item in body.decisions:
        purpose = purposes.get(item.purpose)
        if purpose is None:
            raise PurposeNotFound(f"No purpose `{item.purpose}`.")
        _check_decision(purpose, item.channel, item.decision, item.notice_version)

    evidence = body.evidence
    address = (evidence.client_address if evidence else None) or client_address
    receipt_id = uuid.uuid4()
    now = datetime.now(UTC)
    await session.execute(
        pg_insert(ConsentReceipt).values(
            id=receipt_id,
            user_id=user_id,
            recorded_at=now,
            source=body.source,
            language=body.language,
            actor=principal.actor(),
            user_agent=((evidence.user_agent if evidence else None) or user_agent or "")[:500]
            or None,
            client_address_hash=hasher.digest("consent-address", address) if address else None,
            request_id=principal.request_id,
        )
    )
    records = (
        await session.execute(
            pg_insert(ConsentRecord)
            .values(
                [
                    {
                        "receipt_id": receipt_id,
                        "user_id": user_id,
                        "purpose_code": item.purpose,
                        "purpose_version": item.notice_version,
                        "channel": item.channel or WHOLE_PURPOSE,
                        "decision": item.decision,
                        "recorded_at": now,
                    }
                    for item in body.decisions
                ]
            )
            .returning(
                ConsentRecord.id,
                ConsentRecord.purpose_code,
                ConsentRecord.purpose_version,
                ConsentRecord.channel,
                ConsentRecord.decision,
                ConsentRecord.recorded_at,
            )
        )
    ).all()
    # The newest record per key wins; a concurrent writer with a newer record is never undone.
    latest = {(r.purpose_code, r.channel): r for r in sorted(records, key=lambda r: r.id)}
    statement = pg_insert(ConsentState).values(
        [
            {
                "user_id": user_id,
                "purpose_code": r.purpose_code,
                "channel": r.channel,
                "decision": r.decision,
                "record_id": r.id,
                "purpose_version": r.purpose_version,
                "decided_at": r.recorded_at,
            }
            for r in latest.values()
        ]
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[ConsentState.user_id, ConsentState.purpose_code, ConsentState.channel],
            set_={
                "decision": statement.excluded.decision,
                "record_id": statement.excluded.record_id,
                "purpose_version": statement.excluded.purpose_version,
                "decided_at": statement.excluded.decided_at,
            },
            where=ConsentState.record_id < statement.excluded.record_id,
        )
    )
    affected = {item.purpose for item in body.decisions}
    permissions = await effective(session, user_id, only=affected)
    return RecordedDecisions(
        receipt_id=receipt_id,
        decisions=[
            RecordedDecision(
                id=r.id,
                purpose=r.purpose_code,
                purpose_version=r.purpose_version,
                channel=r.channel,
                decision=r.decision,
                recorded_at=r.recorded_at,
            )
            for r in records
        ],
        permissions=permissions,
    )


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
    answers = []
    for purpose in await load_purposes(session):
        if wanted is not None and purpose.code not in wanted:
            continue
        whole = states.get((purpose.code, WHOLE_PURPOSE))
        channels: list[str | None] = list(purpose.channels) or [None]
        for channel in channels:
            specific = states.get((purpose.code, channel)) if channel else None
            permission = effective_permission(
                subject,
                rule_of(purpose),
                channel,
                purpose_decision=whole.decision if whole else None,
                channel_decision=specific.decision if specific else None,
            )
            applied = specific or whole
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
    after = decode_cursor(cursor, 1)
    query = (
        select(ConsentRecord, ConsentReceipt.source, ConsentReceipt.actor)
        .join(ConsentReceipt, ConsentReceipt.id == ConsentRecord.receipt_id)
        .where(ConsentRecord.user_id == user_id)
    )
    if after is not None:
        query = query.where(ConsentRecord.id > int(after[0]))
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
