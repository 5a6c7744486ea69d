"""Contracts, billing, debt collection and interests: each read logged for staff, each write with
its provenance."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.dependencies import Principal
from app.core.conditional import check_if_match
from app.core.errors import AppError, Conflict, NotFound
from app.db.base import Base
from app.records.models import BillingProfile, CollectionCase, Contract, Interest
from app.records.personal_data import COLLECTION_CASES
from app.records.schemas import (
    BillingRead,
    BillingWrite,
    CollectionCreate,
    CollectionRead,
    CollectionUpdate,
    ContractCreate,
    ContractRead,
    ContractUpdate,
    InterestCreate,
    InterestRead,
)
from app.users import history
from app.users import service as users


class RecordNotFound(NotFound):
    type = "record-not-found"
    title = "Record not found"


class InvalidRecord(AppError):
    status = 422
    type = "invalid-record"
    title = "Invalid record"


class InterestExists(Conflict):
    type = "interest-exists"
    title = "Interest already recorded"


async def _writable(
    session: AsyncSession, user_id: uuid.UUID, *, active_only: bool, held: bool = False
) -> str:
    """The user's status, locked; refused when erased, unless the write is to a record the
    erasure keeps under its hold (``held``: the DPO closing a claim)."""
    status = await users.require_user(session, user_id, lock=True)
    if (status == "erased" and not held) or (active_only and status != "active"):
        raise users.AccountNotActive(f"The account is {status}; this data cannot change.")
    return status


async def _record(
    session: AsyncSession,
    principal: Principal,
    user_id: uuid.UUID,
    category: str,
    action: str,
    changes: dict[str, tuple[Any, Any]],
) -> None:
    await history.record_change(
        session,
        user_id,
        source=principal.source,
        actor=principal.actor(),
        category=category,
        action=action,
        changes=changes,
        request_id=principal.request_id,
    )


async def _list(
    session: AsyncSession,
    principal: Principal,
    user_id: uuid.UUID,
    model: type[Base],
    order: Any,
    category: str,
) -> list[Any]:
    status = await users.require_user(session, user_id)
    if status == "erased" and "requests:manage" not in principal.scopes:
        # What an erasure keeps under a legal hold is restricted to the DPO.
        raise RecordNotFound("Nothing readable is held for this user.")
    rows = (
        await session.scalars(
            select(model).where(model.user_id == user_id).order_by(order)  # type: ignore[attr-defined]
        )
    ).all()
    await audit.log_access(
        session, principal, [user_id], [category], f"read_{category}", principal.request_id
    )
    return list(rows)


async def _owned(
    session: AsyncSession, model: type[Base], record_id: uuid.UUID, user_id: uuid.UUID
) -> Any:
    """A record by id, only if it belongs to the user in the path."""
    row = (
        await session.scalars(
            select(model)
            .where(model.id == record_id, model.user_id == user_id)  # type: ignore[attr-defined]
            .with_for_update()
        )
    ).one_or_none()
    if row is None:
        raise RecordNotFound("No such record for this user.")
    return row


def _diff(row: Any, values: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {k: (getattr(row, k), v) for k, v in values.items() if getattr(row, k) != v}


async def _update(
    session: AsyncSession,
    principal: Principal,
    user_id: uuid.UUID,
    row: Any,
    values: dict[str, Any],
    category: str,
) -> None:
    """Applies the values that differ to a locked record, with their provenance."""
    changes = _diff(row, values)
    if not changes:
        return
    for field, (_, new) in changes.items():
        setattr(row, field, new)
    row.updated_at = func.now()
    await session.flush()
    await session.refresh(row)
    await _record(session, principal, user_id, category, "updated", changes)


async def _update_held(session: AsyncSession, row: Any, values: dict[str, Any]) -> None:
    """A change to a record kept under a hold after an erasure: no provenance entry (there is
    no person's history any more), only the record."""
    for field, value in values.items():
        setattr(row, field, value)
    row.updated_at = func.now()
    await session.flush()
    await session.refresh(row)


# Contracts --------------------------------------------------------------------------------------


async def list_contracts(
    session: AsyncSession, principal: Principal, user_id: uuid.UUID
) -> list[ContractRead]:
    rows = await _list(session, principal, user_id, Contract, Contract.opened_on, "contracts")
    return [ContractRead.model_validate(row, from_attributes=True) for row in rows]


async def create_contract(
    session: AsyncSession, principal: Principal, user_id: uuid.UUID, body: ContractCreate
) -> ContractRead:
    await _writable(session, user_id, active_only=False)
    values = body.model_dump(exclude_none=True)
    contract_id = (
        await session.execute(
            insert(Contract).values(user_id=user_id, **values).returning(Contract.id)
        )
    ).scalar_one()
    await _record(
        session,
        principal,
        user_id,
        "contracts",
        "created",
        {k: (None, v) for k, v in values.items() if v is not None},
    )
    row = await session.get_one(Contract, contract_id)
    return ContractRead.model_validate(row, from_attributes=True)


async def update_contract(
    session: AsyncSession,
    principal: Principal,
    user_id: uuid.UUID,
    contract_id: uuid.UUID,
    body: ContractUpdate,
    if_match: str | None = None,
) -> ContractRead:
    await _writable(session, user_id, active_only=False)
    row = await _owned(session, Contract, contract_id, user_id)
    check_if_match(if_match, ContractRead.model_validate(row, from_attributes=True), "contract")
    values = body.model_dump(exclude_unset=True)
    if "communication" in values:
        values["communication"] = (
            body.communication.model_dump(exclude_none=True) if body.communication else {}
        )
    for required in ("product", "seller", "opened_on"):
        if required in values and values[required] is None:
            raise InvalidRecord(f"{required} cannot be cleared.")
    opened = values.get("opened_on", row.opened_on)
    terminated = values.get("terminated_on", row.terminated_on)
    if terminated is not None and terminated < opened:
        raise InvalidRecord("terminated_on is before opened_on.")
    await _update(session, principal, user_id, row, values, "contracts")
    return ContractRead.model_validate(row, from_attributes=True)


# Billing ----------------------------------------------------------------------------------------


async def read_billing(
    session: AsyncSession, principal: Principal, user_id: uuid.UUID
) -> BillingRead:
    rows = await _list(
        session, principal, user_id, BillingProfile, BillingProfile.user_id, "billing"
    )
    if not rows:
        raise RecordNotFound("No billing details are recorded for this user.")
    return BillingRead.model_validate(rows[0], from_attributes=True)


async def write_billing(
    session: AsyncSession,
    principal: Principal,
    user_id: uuid.UUID,
    body: BillingWrite,
    if_match: str | None = None,
) -> tuple[BillingRead, bool]:
    """Replaces the billing details; returns them and whether they were created."""
    await _writable(session, user_id, active_only=False)
    values = body.model_dump()
    row = await session.get(BillingProfile, user_id, with_for_update=True)
    current = BillingRead.model_validate(row, from_attributes=True) if row else None
    check_if_match(if_match, current, "billing details")
    if row is None:
        await session.execute(insert(BillingProfile).values(user_id=user_id, **values))
        changes = {k: (None, v) for k, v in values.items() if v is not None}
        created = True
    else:
        changes = _diff(row, values)
        if changes:
            await session.execute(
                update(BillingProfile)
                .where(BillingProfile.user_id == user_id)
                .values(**values, updated_at=func.now())
            )
        created = False
    if changes:
        await _record(
            session, principal, user_id, "billing", "created" if created else "updated", changes
        )
    session.expire_all()
    fresh = await session.get_one(BillingProfile, user_id)
    return BillingRead.model_validate(fresh, from_attributes=True), created


async def read_contract(
    session: AsyncSession, principal: Principal, user_id: uuid.UUID, contract_id: uuid.UUID
) -> ContractRead:
    rows = await _list(session, principal, user_id, Contract, Contract.opened_on, "contracts")
    for row in rows:
        if row.id == contract_id:
            return ContractRead.model_validate(row, from_attributes=True)
    raise RecordNotFound("No such record for this user.")


# Debt collection -----------------------------------------------------------------------------


async def list_collections(
    session: AsyncSession, principal: Principal, user_id: uuid.UUID
) -> list[CollectionRead]:
    rows = await _list(
        session, principal, user_id, CollectionCase, CollectionCase.referred_on, "debt_collection"
    )
    return [CollectionRead.model_validate(row, from_attributes=True) for row in rows]


async def create_collection(
    session: AsyncSession, principal: Principal, user_id: uuid.UUID, body: CollectionCreate
) -> CollectionRead:
    await _writable(session, user_id, active_only=False)
    values = body.model_dump()
    case_id = (
        await session.execute(
            insert(CollectionCase).values(user_id=user_id, **values).returning(CollectionCase.id)
        )
    ).scalar_one()
    await _record(
        session,
        principal,
        user_id,
        "debt_collection",
        "created",
        {k: (None, v) for k, v in values.items()},
    )
    row = await session.get_one(CollectionCase, case_id)
    return CollectionRead.model_validate(row, from_attributes=True)


async def update_collection(
    session: AsyncSession,
    principal: Principal,
    user_id: uuid.UUID,
    case_id: uuid.UUID,
    body: CollectionUpdate,
    if_match: str | None = None,
) -> CollectionRead:
    # A claim kept after an erasure can still be settled, by the DPO: its hold then ends six
    # years from the year it closed, and the retention run removes it then.
    dpo = "requests:manage" in principal.scopes and not principal.is_user
    status = await _writable(session, user_id, active_only=False, held=dpo)
    row = await _owned(session, CollectionCase, case_id, user_id)
    check_if_match(if_match, CollectionRead.model_validate(row, from_attributes=True), "case")
    values = body.model_dump(exclude_unset=True)
    for required in ("status", "amount_cents", "agency"):
        if required in values and values[required] is None:
            raise InvalidRecord(f"{required} cannot be cleared.")
    status = values.get("status", row.status)
    closed_on = values.get("closed_on", row.closed_on)
    if status == "open":
        values["closed_on"] = closed_on = None
    if (status == "open") != (closed_on is None):
        raise InvalidRecord("closed_on is required when the case is not open, and only then.")
    if closed_on is not None and closed_on < row.referred_on:
        raise InvalidRecord("closed_on is before referred_on.")
    if status == "erased":
        hold = COLLECTION_CASES.retention.hold
        assert hold is not None
        values["held_until"] = hold.ends_on(closed_on) if closed_on else None
        await _update_held(session, row, values)
        return CollectionRead.model_validate(row, from_attributes=True)
    await _update(session, principal, user_id, row, values, "debt_collection")
    return CollectionRead.model_validate(row, from_attributes=True)


async def read_collection(
    session: AsyncSession, principal: Principal, user_id: uuid.UUID, case_id: uuid.UUID
) -> CollectionRead:
    rows = await _list(
        session, principal, user_id, CollectionCase, CollectionCase.referred_on, "debt_collection"
    )
    for row in rows:
        if row.id == case_id:
            return CollectionRead.model_validate(row, from_attributes=True)
    raise RecordNotFound("No such record for this user.")


# Interests --------------------------------------------------------------------------------------


async def list_interests(
    session: AsyncSession, principal: Principal, user_id: uuid.UUID
) -> list[InterestRead]:
    rows = await _list(session, principal, user_id, Interest, Interest.created_at, "interests")
    return [InterestRead.model_validate(row, from_attributes=True) for row in rows]


async def add_interest(
    session: AsyncSession, principal: Principal, user_id: uuid.UUID, body: InterestCreate
) -> InterestRead:
    await _writable(session, user_id, active_only=True)
    try:
        async with session.begin_nested():
            interest_id = (
                await session.execute(
                    insert(Interest)
                    .values(user_id=user_id, topic=body.topic, note=body.note)
                    .returning(Interest.id)
                )
            ).scalar_one()
    except IntegrityError:
        raise InterestExists("This topic is already among the user's interests.") from None
    await _record(
        session,
        principal,
        user_id,
        "interests",
        "created",
        {"topic": (None, body.topic), "note": (None, body.note)},
    )
    row = await session.get_one(Interest, interest_id)
    return InterestRead.model_validate(row, from_attributes=True)


async def remove_interest(
    session: AsyncSession, principal: Principal, user_id: uuid.UUID, interest_id: uuid.UUID
) -> None:
    await _writable(session, user_id, active_only=True)
    row = await _owned(session, Interest, interest_id, user_id)
    await session.execute(delete(Interest).where(Interest.id == interest_id))
    await _record(
        session,
        principal,
        user_id,
        "interests",
        "deleted",
        {"topic": (row.topic, None), "note": (row.note, None)},
    )
