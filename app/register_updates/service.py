"""Applying DVV and Posti updates: idempotent by update id, with provenance, in one transaction."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.dependencies import Principal
from app.register_updates.models import AppliedUpdate
from app.register_updates.schemas import (
    RegisterUpdate,
    RegisterUpdateBatch,
    RegisterUpdateResult,
    RegisterUpdateResults,
)
from app.users import history
from app.users import service as users
from app.users.identity_codes import IdentityCodeCipher
from app.users.models import IdentityCode, User


async def _resolve_user(
    session: AsyncSession, cipher: IdentityCodeCipher, item: RegisterUpdate
) -> tuple[uuid.UUID, str, str] | None:
    """The user's id, kind and status, or None when no such user (or only an erased one)."""
    query = select(User.id, User.kind, User.status)
    if item.user_id is not None:
        query = query.where(User.id == item.user_id)
    else:
        assert item.identity_code is not None
        query = query.join(IdentityCode, IdentityCode.user_id == User.id).where(
            IdentityCode.lookup_hash == cipher.lookup_hash(item.identity_code)
        )
    row = (await session.execute(query)).one_or_none()
    if row is None or row.status == "erased":
        return None
    return row.id, row.kind, row.status


def _values(item: RegisterUpdate, kind: str) -> dict[str, Any] | None:
    if item.type == "address_change":
        assert item.address is not None
        return item.address.model_dump()
    if item.type == "name_change":
        if kind == "company":
            return {"company_name": item.company_name} if item.company_name else None
        names = {"first_name": item.first_name, "last_name": item.last_name}
        return {k: v for k, v in names.items() if v} or None
    return {}


async def apply_batch(
    session: AsyncSession,
    principal: Principal,
    cipher: IdentityCodeCipher,
    batch: RegisterUpdateBatch,
) -> RegisterUpdateResults:
    results = []
    for item in batch.updates:
        results.append(await _apply_one(session, principal, cipher, item))
    return RegisterUpdateResults(results=results)


async def _apply_one(
    session: AsyncSession, principal: Principal, cipher: IdentityCodeCipher, item: RegisterUpdate
) -> RegisterUpdateResult:
    claimed = (
        await session.execute(
            pg_insert(AppliedUpdate)
            .values(
                update_id=item.update_id,
                source=item.source,
                type=item.type,
                user_id=uuid.UUID(int=0),
                changed_fields=[],
            )
            .on_conflict_do_nothing()
            .returning(AppliedUpdate.update_id)
        )
    ).scalar_one_or_none()
    found = await _resolve_user(session, cipher, item)
    if claimed is None:
        previous = await session.get_one(AppliedUpdate, (item.source, item.update_id))
        # The answer names only the user this update is for: when the source reused the id for
        # someone else, it is refused and names no one.
        same = found is not None and previous.user_id == found[0]
        return RegisterUpdateResult(
            update_id=item.update_id,
            outcome="duplicate" if same else "update_id_reused",
            user_id=found[0] if same and found else None,
            changed_fields=[],
        )
    values = _values(item, found[1]) if found else None
    if found is None or values is None:
        # Not recorded as applied, so the same update can be sent again later.
        await session.execute(
            delete(AppliedUpdate).where(
                AppliedUpdate.source == item.source, AppliedUpdate.update_id == item.update_id
            )
        )
        return RegisterUpdateResult(
            update_id=item.update_id,
            outcome="unknown_user" if found is None else "not_applicable",
            user_id=found[0] if found else None,
            changed_fields=[],
        )
    user_id = found[0]
    if item.type == "death_notice":
        before = await users.get_user(session, user_id)
        await users.close_account(
            session,
            principal,
            user_id,
            source=item.source,
            update_id=item.update_id,
            deceased_on=item.died_on,
        )
        changed = ["status", "deceased_on"] if before.deceased_on != item.died_on else []
    else:
        changes = await history.apply_register_change(
            session,
            user_id,
            values,
            source=item.source,
            actor=principal.actor(),
            action=item.type,
            request_id=principal.request_id,
            update_id=item.update_id,
        )
        changed = sorted(changes)
    await session.execute(
        update(AppliedUpdate)
        .where(AppliedUpdate.source == item.source, AppliedUpdate.update_id == item.update_id)
        .values(user_id=user_id, changed_fields=changed)
    )
    return RegisterUpdateResult(
        update_id=item.update_id,
        outcome="applied" if changed else "unchanged",
        user_id=user_id,
        changed_fields=changed,
    )
