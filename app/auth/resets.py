"""Password resets: a single-use, short-lived token the frontend e-mails (this service sends no
e-mail), redeemed for a new password. How imported users, who have no password, first sign in.

Requests are throttled per person's address and per account; wrong tokens count as failed
sign-ins do (``Throttle``), per address."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.addresses import address_block
from app.auth.dependencies import Principal
from app.auth.models import Credential, PasswordReset
from app.auth.schemas import PasswordResetConfirm, PasswordResetIssued, PasswordResetRequest, Reset
from app.auth.service import AuthContext, Throttle, consume_rate, revoke_user_sessions, utcnow
from app.core.errors import AppError
from app.users import history
from app.users.models import User

# Failed redemptions are counted under this name per address, as failed sign-ins are per
# (username, address): never per token, which an attacker chooses.
REDEEMING = "\x00password-reset"


class InvalidResetToken(AppError):
    status = 400
    type = "invalid-reset-token"
    title = "Invalid password-reset token"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue(
    session: AsyncSession,
    auth: AuthContext,
    principal: Principal,
    body: PasswordResetRequest,
    address: str,
) -> PasswordResetIssued:
    """A token for each active account the username or e-mail address names that has an e-mail
    address to send it to; none (and the same answer) when there is no such account. Earlier
    tokens stay valid until they expire or the password is set: asking for a token never
    cancels the one the person is about to use."""
    settings = auth.settings
    digest = auth.hasher.digest
    block = address_block(address)
    await consume_rate(
        session,
        "reset-address:" + digest("reset-address", block)[:64],
        settings.password_resets_per_address_per_hour,
        window_seconds=3600,
        policy="password-resets-per-address",
    )
    named = (body.username or body.email or "").lower()
    query = (
        select(User.id, User.email, Credential.username)
        .join(Credential, Credential.user_id == User.id)
        .where(User.status == "active", User.email.is_not(None))
    )
    if body.username is not None:
        query = query.where(func.lower(Credential.username) == body.username.lower())
    else:
        query = query.where(func.lower(User.email) == named)
    accounts = (await session.execute(query.order_by(User.id))).all()
    # Counted per account (by whichever name it was asked for; a name of no account counts as
    # itself, so that the answers do not differ): one address asking for someone else's account
    # uses up its own quota long before the account's, which only a flood from many addresses
    # can.
    for account in [str(user_id) for user_id, _, _ in accounts] or ["name:" + named]:
        key = digest("reset-account", account)[:64]
        await consume_rate(
            session,
            "reset-account:" + key,
            settings.password_resets_per_account_per_hour,
            window_seconds=3600,
            policy="password-resets-per-account",
        )
        await consume_rate(
            session,
            "reset-pair:" + digest("reset-pair", f"{account}\x00{block}")[:64],
            settings.password_resets_per_account_and_address_per_hour,
            window_seconds=3600,
            policy="password-resets-per-account-and-address",
        )
    now = utcnow()
    expires_at = now + timedelta(minutes=settings.password_reset_minutes)
    resets = []
    for user_id, email, username in accounts:
        token = secrets.token_urlsafe(32)
        await session.execute(
            insert(PasswordReset).values(
                token_hash=_token_hash(token),
                user_id=user_id,
                created_at=now,
                expires_at=expires_at,
            )
        )
        resets.append(
            Reset(
                user_id=user_id, username=username, email=email, token=token, expires_at=expires_at
            )
        )
    return PasswordResetIssued(resets=resets)


async def confirm(
    session: AsyncSession,
    auth: AuthContext,
    principal: Principal,
    body: PasswordResetConfirm,
    address: str,
) -> None:
    """Sets the password and spends the token; every sign-in session of the account ends."""
    now = utcnow()
    throttle = Throttle(auth, session, REDEEMING, address, per_username=False)
    await throttle.lock()
    await throttle.check(now)
    spent = (
        await session.execute(
            update(PasswordReset)
            .where(
                PasswordReset.token_hash == _token_hash(body.token),
                PasswordReset.used_at.is_(None),
                PasswordReset.expires_at > now,
                PasswordReset.user_id.in_(select(User.id).where(User.status == "active")),
            )
            .values(used_at=now)
            .returning(PasswordReset.user_id)
        )
    ).scalar_one_or_none()
    if spent is None:
        # Counted even though the request fails: the router answers without raising, so the
        # count commits.
        await throttle.record_failure(now)
        raise InvalidResetToken(
            "The password-reset token is unknown, expired or already used; ask for a new one."
        )
    had_password = (
        await session.execute(
            select(Credential.password_hash.is_not(None))
            .where(Credential.user_id == spent)
            .with_for_update()
        )
    ).scalar_one()
    await session.execute(
        update(Credential)
        .where(Credential.user_id == spent)
        .values(password_hash=await auth.passwords.hash(body.password), password_changed_at=now)
    )
    # The other links sent before stop working with the password they were sent to replace.
    await session.execute(
        delete(PasswordReset).where(PasswordReset.user_id == spent, PasswordReset.used_at.is_(None))
    )
    await revoke_user_sessions(session, spent)
    await history.record_change(
        session,
        spent,
        source=principal.source,
        actor=principal.actor(),
        category="credentials",
        action="password_reset",
        changes={"password": ("set" if had_password else None, "changed")},
        request_id=principal.request_id,
    )
