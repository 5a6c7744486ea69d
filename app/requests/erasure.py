"""Erasure (Art. 17) with the Accounting Act's holds, and restriction (Art. 18).

Erasure removes or irreversibly anonymises everything not under a legal hold. Billing and
debt-collection records are vouchers under the Accounting Act (Kirjanpitolaki 2:10): kept six
years from the end of the year of the record (an open collection case also serves a legal claim,
Art. 17(3)(e)), restricted to the DPO meanwhile and removed by ``registry retention run`` when the
hold ends. Consent records and the logs survive only in pseudonymous form: the user's reference in
them is replaced, so nothing links them to the person any more.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth
from app.auth.dependencies import Principal
from app.auth.models import Credential
from app.consents.models import ConsentState
from app.core.errors import Conflict
from app.disclosures import notifications
from app.events.models import Event
from app.idempotency.models import IdempotencyKey
from app.records.models import BillingProfile, CollectionCase, Contract, Interest
from app.requests.models import SubjectRequest
from app.requests.schemas import ErasureItem, ErasureReport, KeptItem
from app.subject_notices import service as subject_notices
from app.users import history
from app.users import service as users
from app.users.models import IdentityCode, User, UserChange

VOUCHER_YEARS = 6
PROFILE_COLUMNS = (
    "first_name",
    "last_name",
    "birth_date",
    "company_name",
    "business_id",
    "contact_name",
    "e_invoice_address",
    "street",
    "postal_code",
    "city",
    "country",
    "phone",
    "email",
    "deceased_on",
)


class AlreadyErased(Conflict):
    type = "already-erased"
    title = "The user is already erased"


def voucher_hold_until(record_day: date) -> date:
    """Six years from the end of the (calendar) financial year of the record."""
    return date(record_day.year + VOUCHER_YEARS, 12, 31)


async def _holds(session: AsyncSession, user_id: uuid.UUID) -> list[KeptItem]:
    kept: list[KeptItem] = []
    billing = await session.get(BillingProfile, user_id)
    if billing is not None:
        until = voucher_hold_until(billing.updated_at.date())
        await session.execute(
            update(BillingProfile)
            .where(BillingProfile.user_id == user_id)
            .values(held_until=until, payment_method_reference=None)
        )
        kept.append(
            KeptItem(
                category="billing",
                reason="Accounting Act 2:10: billing vouchers six years from the year's end; "
                "restricted to the DPO meanwhile",
                until=until,
            )
        )
    cases = (
        await session.scalars(select(CollectionCase).where(CollectionCase.user_id == user_id))
    ).all()
    for case in cases:
        last_day = case.closed_on or datetime.now(UTC).date()
        until = voucher_hold_until(last_day)
        case.held_until = until
        kept.append(
            KeptItem(
                category="debt_collection",
                reason=(
                    "Accounting Act 2:10 and, while open, a legal claim (GDPR Art. 17(3)(e)); "
                    "restricted to the DPO meanwhile"
                ),
                until=None if case.status == "open" else until,
            )
        )
    return kept


async def erase_user(
    session: AsyncSession, principal: Principal, user_id: uuid.UUID
) -> ErasureReport:
    status = await users.require_user(session, user_id, lock=True)
    if status == "erased":
        raise AlreadyErased("The user's data has already been erased.")
    # Recipients hear of it first, while the log still links them to the user (Art. 19).
    notified = await notifications.notify_recipients(session, user_id, "erasure")
    kept = await _holds(session, user_id)
    erased: list[ErasureItem] = []

    async def remove(category: str, statement: object, detail: str) -> None:
        result = await session.execute(statement)  # type: ignore[call-overload]
        if result.rowcount:
            erased.append(ErasureItem(category=category, detail=f"{result.rowcount} {detail}"))

    await remove(
        "identity_code",
        delete(IdentityCode).where(IdentityCode.user_id == user_id),
        "identity code and its lookup index removed",
    )
    await auth.revoke_user_sessions(session, user_id)
    await remove(
        "credentials",
        delete(Credential).where(Credential.user_id == user_id),
        "username and password hash removed; every session revoked",
    )
    # The answers kept for the person's own Idempotency-Keys (at most a day old) hold their data.
    await session.execute(delete(IdempotencyKey).where(IdempotencyKey.owner == f"user:{user_id}"))
    await remove(
        "contracts", delete(Contract).where(Contract.user_id == user_id), "contracts removed"
    )
    await remove(
        "interests", delete(Interest).where(Interest.user_id == user_id), "interests removed"
    )
    await remove("events", delete(Event).where(Event.user_id == user_id), "events removed")
    await remove(
        "permissions",
        delete(ConsentState).where(ConsentState.user_id == user_id),
        "current permission states removed (the records of proof stay, pseudonymous)",
    )
    await remove(
        "history",
        delete(UserChange).where(UserChange.user_id == user_id),
        "change-history entries with old and new values removed",
    )
    # What the person wrote in their requests may identify them; the requests' facts stay.
    await remove(
        "requests",
        update(SubjectRequest)
        .where(
            SubjectRequest.user_id == user_id,
            (SubjectRequest.details.is_not(None)) | (SubjectRequest.resolution.is_not(None)),
        )
        .values(details=None, resolution=None),
        "data-subject requests' free text removed (their dates and outcomes kept as proof)",
    )
    await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(
            **dict.fromkeys(PROFILE_COLUMNS),
            language="fi",
            status="erased",
            erased_at=func.now(),
            updated_at=func.now(),
            # A new pseudonymous reference: log entries under the old one lead nowhere now.
            subject_ref=text("gen_random_uuid()"),
        )
    )
    erased.append(
        ErasureItem(
            category="basic_data",
            detail="name, address, birth date, phone, e-mail and company data removed, the "
            "language reset to the default; the pseudonymous reference in the logs replaced",
        )
    )
    if notified:
        erased.append(ErasureItem(category="disclosures", detail=f"{notified} recipients notified"))
    await history.record_change(
        session,
        user_id,
        source=principal.source,
        actor=principal.actor(),
        category="basic_data",
        action="erased",
        changes={},
        request_id=principal.request_id,
    )
    return ErasureReport(erased=erased, kept=kept)


async def restrict(session: AsyncSession, principal: Principal, user_id: uuid.UUID) -> None:
    """While restricted the data is only stored: no audiences, releases or marketing."""
    await users.require_user(session, user_id, lock=True)
    await session.execute(
        update(User)
        .where(User.id == user_id, User.restricted_at.is_(None))
        .values(restricted_at=func.now())
    )
    await notifications.notify_recipients(session, user_id, "restriction")
    await history.record_change(
        session,
        user_id,
        source=principal.source,
        actor=principal.actor(),
        category="basic_data",
        action="restricted",
        changes={"restricted": (False, True)},
        request_id=principal.request_id,
    )


async def lift_restriction(session: AsyncSession, principal: Principal, user_id: uuid.UUID) -> None:
    """Lifts the restriction, and tells the person (Art. 18(3)) in the same transaction."""
    await users.require_user(session, user_id, lock=True)
    await session.execute(update(User).where(User.id == user_id).values(restricted_at=None))
    await subject_notices.write_notice(session, user_id, "restriction_lifted")
    await history.record_change(
        session,
        user_id,
        source=principal.source,
        actor=principal.actor(),
        category="basic_data",
        action="restriction_lifted",
        changes={"restricted": (True, False)},
        request_id=principal.request_id,
    )


async def remove_expired_holds(session: AsyncSession, on: date | None = None) -> dict[str, int]:
    """Removes held records whose hold has ended (run by ``registry retention run``)."""
    day = on or datetime.now(UTC).date()
    billing = await session.execute(delete(BillingProfile).where(BillingProfile.held_until < day))
    cases = await session.execute(
        delete(CollectionCase).where(
            CollectionCase.held_until < day, CollectionCase.status != "open"
        )
    )
    return {
        "billing_profiles": int(billing.rowcount),  # type: ignore[attr-defined]
        "collection_cases": int(cases.rowcount),  # type: ignore[attr-defined]
    }
