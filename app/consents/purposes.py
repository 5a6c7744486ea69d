"""The purpose catalogue: purposes and their notice versions, kept forever."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.dependencies import Principal
from app.consents.models import Purpose, PurposeVersion
from app.consents.rules import PurposeRule, law_fixed_basis
from app.consents.schemas import (
    PurposeCreate,
    PurposeList,
    PurposeRead,
    PurposeUpdate,
    PurposeVersionRead,
    ReconsentItem,
    ReconsentPage,
)
from app.core.conditional import check_if_match
from app.core.errors import AppError, Conflict, NotFound
from app.core.pagination import CursorUuid, decode_cursor, encode_cursor
from app.db import raw


class PurposeNotFound(NotFound):
    type = "purpose-not-found"
    title = "Purpose not found"


class PurposeExists(Conflict):
    type = "purpose-exists"
    title = "Purpose already exists"


class InvalidPurposeChange(AppError):
    status = 422
    type = "invalid-purpose-change"
    title = "Purpose change not possible"


def _check_basis(rule: PurposeRule) -> None:
    fixed = law_fixed_basis(rule)
    if fixed is not None and rule.legal_basis != fixed:
        raise InvalidPurposeChange(
            f"The law fixes the legal basis of `{rule.code}` to {fixed} (analytics, and e-mail "
            "and SMS marketing to private persons, rest on consent)."
        )


def text_hash(notice: dict[str, str], legal_basis: str, channels: list[str]) -> str:
    """SHA-256 of the canonical notice: what exactly the person was shown and on what basis."""
    canonical = json.dumps(
        {"channels": sorted(channels), "legal_basis": legal_basis, "notice": notice},
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _version_read(row: PurposeVersion) -> PurposeVersionRead:
    return PurposeVersionRead(
        purpose=row.purpose_code,
        version=row.version,
        legal_basis=row.legal_basis,
        channels=list(row.channels),
        notice={"fi": row.notice_fi, "sv": row.notice_sv, "en": row.notice_en},
        text_hash=row.text_hash,
        material=row.material,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def rule_of(purpose: Any) -> PurposeRule:
    """The rule's view of a purpose (an ORM row or a raw record with the same fields)."""
    return PurposeRule(
        code=purpose.code,
        category=purpose.category,
        legal_basis=purpose.legal_basis,
        group_companies=purpose.group_companies,
        direct_marketing=purpose.direct_marketing,
        channels=tuple(purpose.channels),
        material_version=purpose.material_version,
    )


async def load_purposes(session: AsyncSession) -> list[Purpose]:
    return list((await session.scalars(select(Purpose).order_by(Purpose.code))).all())


async def get_purpose_row(session: AsyncSession, code: str) -> Purpose:
    purpose = await session.get(Purpose, code)
    if purpose is None:
        raise PurposeNotFound(f"No purpose `{code}`.")
    return purpose


async def get_version(session: AsyncSession, code: str, version: int) -> PurposeVersionRead:
    row = await session.get(PurposeVersion, (code, version))
    if row is None:
        raise PurposeNotFound(f"No version {version} of purpose `{code}`.")
    return _version_read(row)


async def _read(session: AsyncSession, purpose: Purpose) -> PurposeRead:
    return PurposeRead(
        code=purpose.code,
        name_en=purpose.name_en,
        name_fi=purpose.name_fi,
        name_sv=purpose.name_sv,
        category=purpose.category,
        direct_marketing=purpose.direct_marketing,
        material_version=purpose.material_version,
        legal_basis=purpose.legal_basis,
        channels=list(purpose.channels),
        group_companies=purpose.group_companies,
        dpv_purpose=purpose.dpv_purpose,
        current_version=await get_version(session, purpose.code, purpose.current_version),
    )


async def list_purposes(session: AsyncSession) -> PurposeList:
    return PurposeList(items=[await _read(session, p) for p in await load_purposes(session)])


async def read_purpose(session: AsyncSession, code: str) -> PurposeRead:
    return await _read(session, await get_purpose_row(session, code))


async def _add_version(
    session: AsyncSession,
    code: str,
    version: int,
    notice: dict[str, str],
    legal_basis: str,
    channels: list[str],
    actor: str,
    material: bool = True,
) -> None:
    await session.execute(
        insert(PurposeVersion).values(
            purpose_code=code,
            version=version,
            material=material,
            legal_basis=legal_basis,
            channels=channels,
            notice_fi=notice["fi"],
            notice_sv=notice["sv"],
            notice_en=notice["en"],
            text_hash=text_hash(notice, legal_basis, channels),
            created_by=actor,
        )
    )


async def create_purpose(
    session: AsyncSession, principal: Principal, body: PurposeCreate
) -> PurposeRead:
    if await session.get(Purpose, body.code) is not None:
        raise PurposeExists(f"Purpose `{body.code}` exists; change it with PATCH.")
    channels: list[str] = sorted(set(body.channels))
    if body.category == "marketing" and body.direct_marketing is False:
        raise InvalidPurposeChange(
            "A marketing purpose is direct marketing (Art. 21(2)): its opt-in rules and every "
            "objection apply to it."
        )
    direct_marketing = body.category == "marketing" or bool(body.direct_marketing)
    _check_basis(
        PurposeRule(
            code=body.code,
            category=body.category,
            legal_basis=body.legal_basis,
            direct_marketing=direct_marketing,
            channels=tuple(channels),
        )
    )
    await session.execute(
        insert(Purpose).values(
            code=body.code,
            name_en=body.name_en,
            name_fi=body.name_fi or body.name_en,
            name_sv=body.name_sv or body.name_en,
            category=body.category,
            legal_basis=body.legal_basis,
            channels=channels,
            group_companies=body.group_companies,
            direct_marketing=direct_marketing,
            dpv_purpose=body.dpv_purpose,
            current_version=1,
            material_version=1,
        )
    )
    if direct_marketing:
        await carry_objections(session, body.code)
    await _add_version(
        session,
        body.code,
        1,
        body.notice.model_dump(),
        body.legal_basis,
        channels,
        principal.actor(),
    )
    return await read_purpose(session, body.code)


async def update_purpose(
    session: AsyncSession,
    principal: Principal,
    code: str,
    body: PurposeUpdate,
    if_match: str | None = None,
) -> PurposeRead:
    purpose = await session.get(Purpose, code, with_for_update=True)
    if purpose is None:
        raise PurposeNotFound(f"No purpose `{code}`.")
    check_if_match(if_match, await _read(session, purpose), "purpose")
    current = await get_version(session, code, purpose.current_version)
    notice = body.notice.model_dump() if body.notice else current.notice
    legal_basis = body.legal_basis or current.legal_basis
    channels: list[str] = (
        sorted(set(body.channels)) if body.channels is not None else current.channels
    )
    values: dict[str, object] = {
        name: getattr(body, name)
        for name in ("name_en", "name_fi", "name_sv")
        if getattr(body, name)
    }
    if text_hash(notice, legal_basis, channels) != current.text_hash:
        material = body.material
        if legal_basis != current.legal_basis:
            _check_basis(
                replace(rule_of(purpose), legal_basis=legal_basis, channels=tuple(channels))
            )
            if material is False:
                raise InvalidPurposeChange("A change of legal basis is always material.")
            material = True
        if material is None:
            raise InvalidPurposeChange(
                "This change makes a new notice version: say whether it is material "
                "(`material`: true makes consents given under older versions lapse)."
            )
        version = purpose.current_version + 1
        await _add_version(
            session, code, version, notice, legal_basis, channels, principal.actor(), material
        )
        values.update(current_version=version, legal_basis=legal_basis, channels=channels)
        if material:
            values["material_version"] = version
    if values:
        await session.execute(
            update(Purpose).where(Purpose.code == code).values(**values, updated_at=func.now())
        )
    session.expire_all()
    return await read_purpose(session, code)


# An objection to direct marketing is the person's, not one purpose's: a direct-marketing
# purpose added later is covered by every objection already made (as a prohibition recorded
# against its first version, pointing at the objection's own record as proof).
_CARRY_OBJECTIONS = """
INSERT INTO consent_states
    (user_id, purpose_code, channel, decision, record_id, purpose_version, decided_at)
SELECT DISTINCT ON (s.user_id)
    s.user_id, $1::varchar, '*', 'prohibited', s.record_id, 1, s.decided_at
FROM consent_states s JOIN purposes p ON p.code = s.purpose_code
WHERE p.direct_marketing AND s.channel = '*' AND s.decision = 'prohibited'
  AND p.code <> $1::varchar
ORDER BY s.user_id, s.record_id DESC
ON CONFLICT DO NOTHING
"""


async def carry_objections(session: AsyncSession, code: str) -> None:
    connection = await raw.driver(session)
    await connection.execute(_CARRY_OBJECTIONS, code)


_RECONSENT = """
SELECT user_id, max(purpose_version) AS granted_version FROM consent_states
WHERE purpose_code = $1 AND decision = 'granted' AND purpose_version < $2
  AND ($3::uuid IS NULL OR user_id > $3)
GROUP BY user_id ORDER BY user_id LIMIT $4
"""


async def reconsent(
    session: AsyncSession, code: str, cursor: str | None, limit: int
) -> ReconsentPage:
    """The users whose consent to ``code`` was given under a version older than its last
    material change, by user id: they must decide again before it counts."""
    purpose = await get_purpose_row(session, code)
    after = decode_cursor(cursor, CursorUuid)
    connection = await raw.driver(session)
    rows = await connection.fetch(
        _RECONSENT, code, purpose.material_version, after[0] if after else None, limit + 1
    )
    items = [
        ReconsentItem(user_id=row["user_id"], granted_version=row["granted_version"])
        for row in rows[:limit]
    ]
    return ReconsentPage(
        purpose=code,
        material_version=purpose.material_version,
        items=items,
        next_cursor=encode_cursor([str(items[-1].user_id)]) if len(rows) > limit else None,
    )
