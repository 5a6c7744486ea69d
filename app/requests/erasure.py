"""Erasure (Art. 17) with the Accounting Act's holds, and restriction (Art. 18).

What erasure does to each table is declared in the personal-data catalogue and carried out by
``app.privacy.erasure``: removed, kept as proof under a fresh pseudonym with the identifying
values cleared, or kept under a legal hold (billing and collection records are vouchers under
the Accounting Act, Kirjanpitolaki 2:10), restricted to the DPO and removed by ``registry
retention run`` when the hold ends.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth
from app.auth.dependencies import Principal
from app.core.errors import Conflict
from app.core.personal_data import Erasure
from app.disclosures import notifications
from app.privacy import erasure as catalogue_erasure
from app.privacy.vocabulary import ERASURE
from app.requests.schemas import ErasureItem, ErasureReport, KeptItem
from app.subject_notices import service as subject_notices
from app.users import history
from app.users import service as users
from app.users.models import User


class AlreadyErased(Conflict):
    type = "already-erased"
    title = "The user is already erased"


async def erase_user(
    session: AsyncSession, principal: Principal, user_id: uuid.UUID
) -> ErasureReport:
    """Erases the user (their row locked: a racing write waits, or finds them gone)."""
    status = await users.require_user(session, user_id, lock=True)
    if status == "erased":
        raise AlreadyErased("The user's data has already been erased.")
    # Recipients hear of it first, while the log still links them to the user (Art. 19).
    notified = await notifications.notify_recipients(session, user_id, "erasure")
    await auth.revoke_user_sessions(session, user_id)
    pseudonym, outcomes = await catalogue_erasure.erase(session, user_id)
    report = ErasureReport(
        pseudonym=pseudonym, erased=[], pseudonymised=[], kept=[], recipients_notified=notified
    )
    for outcome in outcomes:
        table = outcome.table
        if not outcome.rows:
            continue
        detail = f"{table.description} {ERASURE[table.erasure]['en'].capitalize()}."
        item = ErasureItem(
            category=table.category, table=table.name, rows=outcome.rows, detail=detail
        )
        if table.erasure is Erasure.DELETE:
            report.erased.append(item)
        elif table.erasure is Erasure.HOLD and table.retention.hold is not None:
            hold = table.retention.hold
            still_needed = None in outcome.held_until
            report.kept.append(
                KeptItem(
                    category=table.category,
                    table=table.name,
                    rows=outcome.rows,
                    reason=f"{hold.law}: {hold.years} years from the end of the year of the "
                    "record"
                    + ("; an open claim is kept while it lasts" if still_needed else "")
                    + "; restricted to the DPO (`requests:manage`) meanwhile",
                    until=None
                    if still_needed
                    else max(d for d in outcome.held_until if d is not None),
                )
            )
        else:
            report.pseudonymised.append(item)
    await history.record_change(
        session,
        pseudonym,
        source=principal.source,
        actor=principal.actor(),
        category="basic_data",
        action="erased",
        changes={},
        request_id=principal.request_id,
    )
    return report


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
