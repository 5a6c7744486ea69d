"""The purpose catalogue: purposes and their notice versions, kept forever."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.dependencies import Principal
from app.consents.models import Purpose, PurposeVersion
from app.consents.rules import PurposeRule
from app.consents.schemas import (
    PurposeCreate,
    PurposeList,
    PurposeRead,
    PurposeUpdate,
    PurposeVersionRead,
)
from app.core.errors import Conflict, NotFound


class PurposeNotFound(NotFound):
    type = "purpose-not-found"
    title = "Purpose not found"


class PurposeExists(Conflict):
    type = "purpose-exists"
    title = "Purpose already exists"


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
        created_at=row.created_at,
        created_by=row.created_by,
    )


def rule_of(purpose: Purpose) -> PurposeRule:
    return PurposeRule(
        code=purpose.code,
        category=purpose.category,
        legal_basis=purpose.legal_basis,
        group_companies=purpose.group_companies,
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
        category=purpose.category,
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
) -> None:
    await session.execute(
        insert(PurposeVersion).values(
            purpose_code=code,
            version=version,
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
    await session.execute(
        insert(Purpose).values(
            code=body.code,
            name_en=body.name_en,
            category=body.category,
            legal_basis=body.legal_basis,
            channels=channels,
            group_companies=body.group_companies,
            dpv_purpose=body.dpv_purpose,
            current_version=1,
        )
    )
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
    session: AsyncSession, principal: Principal, code: str, body: PurposeUpdate
) -> PurposeRead:
    purpose = await session.get(Purpose, code, with_for_update=True)
    if purpose is None:
        raise PurposeNotFound(f"No purpose `{code}`.")
    current = await get_version(session, code, purpose.current_version)
    notice = body.notice.model_dump() if body.notice else current.notice
    legal_basis = body.legal_basis or current.legal_basis
    channels: list[str] = (
        sorted(set(body.channels)) if body.channels is not None else current.channels
    )
    values: dict[str, object] = {}
    if body.name_en:
        values["name_en"] = body.name_en
    if text_hash(notice, legal_basis, channels) != current.text_hash:
        version = purpose.current_version + 1
        await _add_version(session, code, version, notice, legal_basis, channels, principal.actor())
        values.update(current_version=version, legal_basis=legal_basis, channels=channels)
    if values:
        await session.execute(
            update(Purpose).where(Purpose.code == code).values(**values, updated_at=func.now())
        )
    session.expire_all()
    return await read_purpose(session, code)
