"""The register's users: registration, profiles, closure, listing, identity codes, provenance."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

from fastapi import Request
from sqlalchemy import Select, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.audit.models import AccessLogEntry
from app.auth import service as auth
from app.auth.addresses import address_block
from app.auth.dependencies import (
    Claimed,
    Principal,
    UserNotFound,
    check_standing,
    may_read_restricted,
    restriction_allows,
)
from app.auth.models import Credential
from app.auth.service import STILL_VALID
from app.core.conditional import check_if_match
from app.core.errors import AppError, Conflict
from app.core.pagination import CursorTime, CursorUuid, decode_cursor, encode_cursor
from app.db.session import Database
from app.disclosures import notifications
from app.users import history
from app.users.models import IdentityCode, User
from app.users.schemas import (
    Address,
    CompanyUserCreate,
    CompanyUserRead,
    IdentityCodeStatus,
    PrivateUserCreate,
    PrivateUserRead,
    UserPage,
    UserUpdate,
)

AnyUserRead = PrivateUserRead | CompanyUserRead

PRIVATE_ONLY = {"first_name", "last_name", "birth_date"}
COMPANY_ONLY = {"company_name", "business_id", "contact_name", "e_invoice_address"}
REQUIRED = {"first_name", "last_name", "company_name", "business_id"}


class UsernameTaken(Conflict):
    type = "username-taken"
    title = "Username taken"


class BusinessIdTaken(Conflict):
    type = "business-id-taken"
    title = "Business ID already registered"


class IdentityCodeTaken(Conflict):
    type = "identity-code-taken"
    title = "Identity code belongs to another user"


class FieldNotApplicable(AppError):
    status = 422
    type = "field-not-applicable"
    title = "Field does not apply to this kind of user"


class AccountNotActive(Conflict):
    type = "account-not-active"
    title = "The account is not active"


class IdentityCodeNotHeld(UserNotFound):
    type = "identity-code-not-found"
    title = "No identity code held"


# Reading ---------------------------------------------------------------------------------------


def _profile_query() -> Select[*tuple[Any, ...]]:
    return (
        select(
            User.id,
            User.kind,
            User.status,
            User.language,
            User.first_name,
            User.last_name,
            User.birth_date,
            User.company_name,
            User.business_id,
            User.contact_name,
            User.e_invoice_address,
            User.street,
            User.postal_code,
            User.city,
            User.country,
            User.phone,
            User.email,
            User.deceased_on,
            User.created_at,
            User.updated_at,
            Credential.username,
            IdentityCode.masked.label("identity_masked"),
            IdentityCode.method.label("identity_method"),
            IdentityCode.verified_at.label("identity_verified_at"),
        )
        .outerjoin(Credential, Credential.user_id == User.id)
        .outerjoin(IdentityCode, IdentityCode.user_id == User.id)
    )


def age_on(birth_date: date, today: date) -> int:
    return (
        today.year
        - birth_date.year
        - ((today.month, today.day) < (birth_date.month, birth_date.day))
    )


def _to_read(row: Any) -> AnyUserRead:
    address = (
        Address.model_construct(
            street=row.street, postal_code=row.postal_code, city=row.city, country=row.country
        )
        if row.street is not None
        else None
    )
    common = {
        "id": row.id,
        "status": row.status,
        "username": row.username,
        "language": row.language,
        "address": address,
        "phone": row.phone,
        "email": row.email,
        "deceased_on": row.deceased_on,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }
    if row.kind == "company":
        return CompanyUserRead(
            kind="company",
            company_name=row.company_name,
            business_id=row.business_id,
            contact_name=row.contact_name,
            e_invoice_address=row.e_invoice_address,
            **common,
        )
    identity = (
        IdentityCodeStatus(
            masked=row.identity_masked,
            method=row.identity_method,
            verified_at=row.identity_verified_at,
        )
        if row.identity_masked
        else None
    )
    return PrivateUserRead(
        kind="private",
        first_name=row.first_name,
        last_name=row.last_name,
        birth_date=row.birth_date,
        age=age_on(row.birth_date, date.today()) if row.birth_date else None,
        identity_code=identity,
        **common,
    )


async def get_user(session: AsyncSession, user_id: uuid.UUID, *, lock: bool = False) -> AnyUserRead:
    query = _profile_query().where(User.id == user_id)
    if lock:
        query = query.with_for_update(of=User)
    row = (await session.execute(query)).one_or_none()
    if row is None:
        raise UserNotFound("No such user.")
    return _to_read(row)


_PROFILE_COLUMNS = """
u.id, u.kind, u.status, u.language, u.first_name, u.last_name, u.birth_date, u.company_name,
u.business_id, u.contact_name, u.e_invoice_address, u.street, u.postal_code, u.city, u.country,
u.phone, u.email, u.deceased_on, u.created_at, u.updated_at, u.subject_ref, c.username,
i.masked AS identity_masked, i.method AS identity_method, i.verified_at AS identity_verified_at
FROM users u
LEFT JOIN credentials c ON c.user_id = u.id
LEFT JOIN identity_codes i ON i.user_id = u.id
"""

# What the hot read's access-log entry holds, column by column: the log's own content columns
# (AccessLogEntry.CONTENT), in its order; a column added to the log and not here fails at import.
_LOGGED = {
    "accessed_at": "$8",
    "subject_ref": "subject_ref",
    "actor": "$9",
    "client_id": "$2",
    "role": "$10",
    "categories": "$11",
    "operation": "'read_user'",
    "request_id": "$12",
    "correlation_id": "$13",
}
if tuple(_LOGGED) != AccessLogEntry.CONTENT:
    raise RuntimeError("READ_USER must write every access-log column, in the log's order")

# The hot read, one statement and so one transaction of its own: the caller's standing (auth's
# STILL_VALID: $1-$5, $5 being the user read), the profile when the standing allows it ($6: may
# read a restricted user), and the access-log entry of the read ($7: logged).
READ_USER = f"""
WITH standing AS (SELECT * FROM ({STILL_VALID}) s (valid, restricted)),
found AS (
    SELECT {_PROFILE_COLUMNS}
    WHERE u.id = $5 AND (SELECT valid FROM standing)
      AND (NOT (SELECT restricted FROM standing) OR $6)
),
logged AS (
    INSERT INTO access_log ({", ".join(_LOGGED)})
    SELECT {", ".join(_LOGGED.values())} FROM found WHERE $7
)
SELECT standing.valid, standing.restricted, found.* FROM standing LEFT JOIN found ON true
"""  # noqa: S608 (composed of this module's constants)


async def read_user(database: Database, caller: Claimed, request: Request) -> AnyUserRead:
    """GET /v1/users/{id}: standing, profile and access log in one statement, with no BEGIN and
    no COMMIT around it. A person reading their own profile is not logged."""
    principal, target = caller.principal, caller.target
    if target is None:
        raise UserNotFound("No such user.")
    async with database.statement_connection() as connection:
        row = await connection.fetchrow(
            READ_USER,
            *caller.standing_args(),
            restriction_allows(principal, target, request),
            not principal.is_user,
            datetime.now(UTC),
            principal.actor(),
            principal.role,
            ["basic_data"],
            principal.request_id,
            principal.correlation_id,
        )
    check_standing(caller, request, row["valid"], row["restricted"])
    if row["id"] is None:
        raise UserNotFound("No such user.")
    return _to_read(SimpleNamespace(**row))


async def require_user(session: AsyncSession, user_id: uuid.UUID, *, lock: bool = False) -> str:
    """The user's status, or 404. Other domains call this before touching a user's data."""
    query = select(User.status).where(User.id == user_id)
    if lock:
        query = query.with_for_update()
    status = (await session.execute(query)).scalar_one_or_none()
    if status is None:
        raise UserNotFound("No such user.")
    return status


async def require_active_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    if await require_user(session, user_id, lock=True) != "active":
        raise AccountNotActive("The account is closed or erased; its data cannot change.")


# Writing ---------------------------------------------------------------------------------------


def _profile_values(body: PrivateUserCreate | CompanyUserCreate | UserUpdate) -> dict[str, Any]:
    """Column values for the fields sent; the nested address spreads over its columns."""
    values = body.model_dump(exclude_unset=True, exclude={"kind", "username", "password"})
    if "address" in body.model_fields_set:
        values.pop("address")
        address = body.address.model_dump() if body.address else {}
        for column in ("street", "postal_code", "city", "country"):
            values[column] = address.get(column)
    return values


async def _unique_or_conflict(session: AsyncSession, statement: Any) -> Any:
    try:
        async with session.begin_nested():
            return await session.execute(statement)
    except IntegrityError as exc:
        if "uq_users_business_id" in str(exc.orig):
            raise BusinessIdTaken("A user with this Business ID is already registered.") from None
        if "uq_credentials_username_lower" in str(exc.orig):
            raise UsernameTaken("This username is taken; choose another.") from None
        if "uq_identity_codes_lookup_hash" in str(exc.orig):
            raise IdentityCodeTaken("This identity code is held for another user.") from None
        raise


async def register(
    session: AsyncSession,
    auth_context: auth.AuthContext,
    principal: Principal,
    body: PrivateUserCreate | CompanyUserCreate,
    address: str,
) -> AnyUserRead:
    """Registrations are limited per person's address (junk sign-ups from one place are stopped
    without blocking anyone else) and, far higher, per client (a runaway or stolen frontend
    credential)."""
    settings = auth_context.settings
    block = auth_context.hasher.digest("register-address", address_block(address))[:64]
    await auth.consume_rate(
        session,
        f"register-address:{block}",
        settings.registrations_per_address_per_hour,
        window_seconds=3600,
        policy="registrations-per-address",
    )
    await auth.consume_rate(
        session,
        f"register:{principal.client_id}",
        settings.registrations_per_minute,
        policy="registrations-per-client",
    )
    user_id = await create_user(
        session,
        auth_context,
        body,
        source=principal.source,
        actor=principal.actor(),
        request_id=principal.request_id,
    )
    return await get_user(session, user_id)


async def create_user(
    session: AsyncSession,
    auth_context: auth.AuthContext,
    body: PrivateUserCreate | CompanyUserCreate,
    *,
    source: str,
    actor: str,
    request_id: str | None,
) -> uuid.UUID:
    """A user with credentials and the provenance of their data."""
    if await auth.username_taken(session, body.username):
        raise UsernameTaken("This username is taken; choose another.")
    values = _profile_values(body)
    result = await _unique_or_conflict(
        session, insert(User).values(kind=body.kind, **values).returning(User.id)
    )
    user_id: uuid.UUID = result.scalar_one()
    try:
        async with session.begin_nested():
            await auth.create_credentials(
                session, auth_context, user_id, body.username, body.password
            )
    except IntegrityError:
        # Another registration took the name between the check above and this insert.
        raise UsernameTaken("This username is taken; choose another.") from None
    await history.record_change(
        session,
        user_id,
        source=source,
        actor=actor,
        category="basic_data",
        action="created",
        changes={field: (None, value) for field, value in values.items()},
        request_id=request_id,
    )
    return user_id


async def update_user(
    session: AsyncSession,
    principal: Principal,
    user_id: uuid.UUID,
    body: UserUpdate,
    if_match: str | None,
) -> AnyUserRead:
    current = await get_user(session, user_id, lock=True)
    check_if_match(if_match, current, "user")
    if current.status != "active":
        raise AccountNotActive("The account is closed or erased; its data cannot change.")
    values = _profile_values(body)
    not_applicable = set(values) & (COMPANY_ONLY if current.kind == "private" else PRIVATE_ONLY)
    if not_applicable:
        raise FieldNotApplicable(
            f"Not for {current.kind} users: {', '.join(sorted(not_applicable))}."
        )
    cleared_required = {k for k, v in values.items() if k in REQUIRED and v is None}
    if cleared_required:
        raise FieldNotApplicable(f"Cannot be cleared: {', '.join(sorted(cleared_required))}.")
    before = current.model_dump()
    if current.address is not None:
        before.update(current.address.model_dump())
    else:
        before.update(dict.fromkeys(("street", "postal_code", "city", "country")))
    changes = {k: (before.get(k), v) for k, v in values.items() if before.get(k) != v}
    if not changes:
        return current
    await _unique_or_conflict(
        session,
        update(User)
        .where(User.id == user_id)
        .values(**{k: v for k, (_, v) in changes.items()}, updated_at=func.now()),
    )
    await history.record_change(
        session,
        user_id,
        source=principal.source,
        actor=principal.actor(),
        category="basic_data",
        action="updated",
        changes=changes,
        request_id=principal.request_id,
    )
    await notifications.notify_recipients(session, user_id, "rectification", changes)
    return await get_user(session, user_id)


async def close_account(
    session: AsyncSession,
    principal: Principal,
    user_id: uuid.UUID,
    *,
    source: str | None = None,
    update_id: str | None = None,
    deceased_on: date | None = None,
) -> AnyUserRead:
    """Closes the account: sign-in refused, sessions and tokens revoked, data kept until erased."""
    status = await require_user(session, user_id, lock=True)
    if status == "erased":
        raise AccountNotActive("The account is erased.")
    values: dict[str, Any] = {}
    if status == "active":
        values.update(status="closed", closed_at=datetime.now(UTC))
    if deceased_on is not None:
        values["deceased_on"] = deceased_on
    if values:
        await session.execute(
            update(User).where(User.id == user_id).values(**values, updated_at=func.now())
        )
        await auth.revoke_user_sessions(session, user_id)
        await history.record_change(
            session,
            user_id,
            source=source or principal.source,
            actor=principal.actor(),
            category="basic_data",
            action="deceased" if deceased_on else "closed",
            changes={k: (status if k == "status" else None, v) for k, v in values.items()},
            request_id=principal.request_id,
            update_id=update_id,
        )
    return await get_user(session, user_id)


# Listing and search ----------------------------------------------------------------------------


async def list_users(
    session: AsyncSession,
    principal: Principal,
    *,
    kind: str | None,
    email: str | None,
    business_id: str | None,
    name_prefix: str | None,
    cursor: str | None,
    limit: int,
    reader: AsyncSession | None = None,
) -> UserPage:
    """The page is read with ``reader`` (the replica, when it serves), logged with ``session``."""
    query = _profile_query()
    if not may_read_restricted(principal):
        # Restricted users' data is only stored (Art. 18): out of staff's lists too.
        query = query.where(User.restricted_at.is_(None))
    if kind:
        query = query.where(User.kind == kind)
    if email:
        query = query.where(func.lower(User.email) == email.strip().lower())
    if business_id:
        query = query.where(User.business_id == business_id.strip())
    if name_prefix:
        pattern = (
            name_prefix.strip()
            .lower()
            .replace("\\", "\\\\")
            .replace("%", "\\%")
            .replace("_", "\\_")
            + "%"
        )
        query = query.where(
            or_(
                func.lower(User.last_name).like(pattern),
                func.lower(User.first_name).like(pattern),
                func.lower(User.company_name).like(pattern),
            )
        )
    after = decode_cursor(cursor, CursorTime, CursorUuid)
    if after is not None:
        created, last_id = after
        query = query.where(
            or_(User.created_at > created, and_(User.created_at == created, User.id > last_id))
        )
    rows = (
        await (reader or session).execute(query.order_by(User.created_at, User.id).limit(limit + 1))
    ).all()
    items = [_to_read(row) for row in rows[:limit]]
    await audit.log_access(
        session,
        principal,
        [item.id for item in items],
        ["basic_data"],
        "list_users",
        principal.request_id,
    )
    next_cursor = (
        encode_cursor([items[-1].created_at.isoformat(), str(items[-1].id)])
        if len(rows) > limit
        else None
    )
    return UserPage(items=items, next_cursor=next_cursor)
