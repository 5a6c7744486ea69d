"""Token grants, refresh rotation, revocation, login throttling and principal checks."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, func, insert, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import tokens
from app.auth.addresses import address_block
from app.auth.keys import KeyRing
from app.auth.models import (
    Client,
    Credential,
    LoginThrottle,
    RateWindow,
    RefreshToken,
    RevokedAccessToken,
)
from app.auth.passwords import Passwords
from app.auth.scopes import ROLE_SCOPES, SUBJECT_SCOPES, format_scope, parse_scope
from app.core import ratelimit
from app.core.errors import AppError
from app.core.logging import get_logger
from app.core.secrets import KeyedHasher
from app.core.settings import Settings
from app.db import raw
from app.users.models import User

log = get_logger("app.auth")
ONE_DAY = timedelta(days=1)
KNOWN_ADDRESS_DAYS = timedelta(days=90)


def utcnow() -> datetime:
    return datetime.now(UTC)


class OAuthError(Exception):
    """An RFC 6749 §5.2 error answer."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


class RateLimited(AppError):
    status = 429
    type = "rate-limited"
    title = "Too many requests"


class TooManyLoginAttempts(AppError):
    status = 429
    type = "too-many-login-attempts"
    title = "Too many failed sign-in attempts"


@dataclass(frozen=True)
class AuthContext:
    """What the auth domain needs at run time, built once per app."""

    settings: Settings
    keys: KeyRing
    passwords: Passwords
    hasher: KeyedHasher
    verified: tokens.VerifiedTokens = field(default_factory=tokens.VerifiedTokens)

    @property
    def issuer(self) -> str:
        return self.settings.public_url.rstrip("/")


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    expires_in: int
    scope: str
    refresh_token: str | None = None


@dataclass(frozen=True)
class ClientIdentity:
    client_id: str
    role: str
    scopes: frozenset[str]


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_client_secret() -> tuple[str, str]:
    """A client secret and its stored hash. The secret is random (256 bits), so a plain SHA-256
    is enough to store it; passwords, chosen by people, get argon2id."""
    secret = secrets.token_urlsafe(32)
    return secret, _sha256(secret)


def issue_access_token(
    auth: AuthContext,
    *,
    subject: str,
    client_id: str,
    role: str,
    scopes: set[str] | frozenset[str],
    now: datetime | None = None,
    session_id: uuid.UUID | None = None,
) -> tuple[str, int]:
    now = now or utcnow()
    lifetime = auth.settings.access_token_minutes * 60
    issued = int(now.timestamp())
    claims: dict[str, Any] = {
        "iss": auth.issuer,
        "aud": auth.settings.jwt_audience,
        "sub": subject,
        "iat": issued,
        "nbf": issued,
        "exp": issued + lifetime,
        "jti": uuid.uuid4().hex,
        "scope": format_scope(scopes),
        "client_id": client_id,
        "role": role,
    }
    if session_id is not None:
        # The refresh-token family: revoking it (sign-out, reuse) revokes these tokens too.
        claims["sid"] = str(session_id)
    return auth.keys.signing_key(now).sign(claims), lifetime


# Clients ------------------------------------------------------------------------------------


async def authenticate_client(
    session: AsyncSession, client_id: str | None, secret: str | None
) -> ClientIdentity:
    if not client_id or not secret:
        raise OAuthError("invalid_client", "Client authentication is required.", 401)
    row = (
        await session.execute(
            select(Client.client_id, Client.role, Client.scopes, Client.secret_hash).where(
                Client.client_id == client_id, Client.disabled_at.is_(None)
            )
        )
    ).one_or_none()
    expected = row.secret_hash if row else _sha256(secrets.token_hex(16))
    if not hmac.compare_digest(expected, _sha256(secret)) or row is None:
        raise OAuthError("invalid_client", "Client authentication failed.", 401)
    return ClientIdentity(row.client_id, row.role, frozenset(row.scopes))


async def create_client(
    session: AsyncSession, *, name: str, role: str, scopes: set[str] | None
) -> tuple[str, str]:
    allowed = ROLE_SCOPES[role]
    wanted = set(allowed) if scopes is None else scopes
    if not wanted <= allowed:
        raise ValueError(f"role {role} cannot have: {format_scope(wanted - allowed)}")
    client_id = f"{role}-{secrets.token_hex(8)}"
    secret, secret_hash = new_client_secret()
    await session.execute(
        insert(Client).values(
            client_id=client_id,
            name=name,
            role=role,
            scopes=sorted(wanted),
            secret_hash=secret_hash,
        )
    )
    return client_id, secret


async def list_clients(session: AsyncSession) -> list[dict[str, Any]]:
    """Every machine client, without its secret's hash."""
    rows = await session.execute(
        select(
            Client.client_id,
            Client.name,
            Client.role,
            Client.scopes,
            Client.created_at,
            Client.disabled_at,
        ).order_by(Client.created_at)
    )
    return [row._asdict() for row in rows]


async def set_client_disabled(session: AsyncSession, client_id: str, disabled: bool) -> bool:
    """Disables (or enables again) a client: a disabled one gets no tokens, and the tokens it
    holds stop working at their next request. Returns False for an unknown client."""
    result = await session.execute(
        update(Client)
        .where(Client.client_id == client_id)
        .values(disabled_at=utcnow() if disabled else None)
        .returning(Client.client_id)
    )
    if result.one_or_none() is None:
        return False
    if disabled:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.client_id == client_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
    return True


def _granted_scopes(requested: str | None, allowed: frozenset[str]) -> set[str]:
    wanted = parse_scope(requested)
    if not wanted:
        return set(allowed)
    if not wanted <= allowed:
        raise OAuthError(
            "invalid_scope", f"Not allowed for this client: {format_scope(wanted - allowed)}."
        )
    return wanted


async def client_credentials_grant(
    auth: AuthContext, client: ClientIdentity, scope: str | None
) -> IssuedTokens:
    granted = _granted_scopes(scope, client.scopes & ROLE_SCOPES[client.role])
    token, lifetime = issue_access_token(
        auth, subject=client.client_id, client_id=client.client_id, role=client.role, scopes=granted
    )
    return IssuedTokens(token, lifetime, format_scope(granted))


# Users ---------------------------------------------------------------------------------------


class Throttle:
    """Failed sign-ins, counted so that nobody can use them to lock a person out (OWASP
    Authentication Cheat Sheet): per (username, address) pair with exponential back-off, per
    address up to a ceiling, and per username up to a ceiling far above what a person types,
    past which that username is slowed for addresses it has never signed in from. Keys are keyed
    hashes: no username or address is stored."""

    def __init__(
        self,
        auth: AuthContext,
        session: AsyncSession,
        username: str,
        address: str,
        *,
        per_username: bool = True,
    ):
        # ``per_username``: whether the username's own ceiling applies (not where the "username"
        # is a fixed name for a kind of attempt, such as redeeming password-reset tokens: its
        # ceiling would slow everyone).
        self.per_username = per_username
        self.settings = auth.settings
        self.session = session
        digest = auth.hasher.digest
        block = address_block(address)
        name = username.lower()
        self.pair = "p:" + digest("login-pair", f"{name}\x00{block}")[:64]
        self.known = "k:" + digest("login-known", f"{name}\x00{block}")[:64]
        self.address = "a:" + digest("login-address", block)[:64]
        self.username = "u:" + digest("login-username", name)[:64]

    async def lock(self) -> None:
        """Serialises attempts at the same username from the same address, so that parallel
        guesses cannot all pass the check before any failure is counted."""
        await self.session.execute(
            select(func.pg_advisory_xact_lock(func.hashtextextended(self.pair, 0)))
        )

    async def check(self, now: datetime) -> None:
        result = await self.session.execute(
            select(LoginThrottle.key, LoginThrottle.locked_until).where(
                LoginThrottle.key.in_([self.pair, self.known, self.address, self.username])
            )
        )
        rows = {key: locked_until for key, locked_until in result}
        waits = [rows.get(self.pair), rows.get(self.address)]
        if self.per_username and self.known not in rows:
            # A username under attack is slowed only for addresses it never signed in from.
            waits.append(rows.get(self.username))
        until = max((w for w in waits if w is not None and w > now), default=None)
        if until is not None:
            wait = max(1, math.ceil((until - now).total_seconds()))
            log.warning("sign_in_throttled", retry_after=wait)
            raise TooManyLoginAttempts(
                f"Too many failed attempts; try again in {wait} seconds.",
                headers={"Retry-After": str(wait), **ratelimit.exhausted("sign-in", wait)},
            )

    async def _count(self, key: str, now: datetime) -> int:
        forget_after = timedelta(seconds=self.settings.login_backoff_max_seconds)
        streak_is_old = LoginThrottle.last_failure_at < now - forget_after
        statement = (
            pg_insert(LoginThrottle)
            .values(key=key, failures=1, last_failure_at=now)
            .on_conflict_do_update(
                index_elements=[LoginThrottle.key],
                set_={
                    # Old failures are forgotten: a new streak starts at one.
                    "failures": case((streak_is_old, 1), else_=LoginThrottle.failures + 1),
                    "last_failure_at": now,
                },
            )
            .returning(LoginThrottle.failures)
        )
        return int((await self.session.execute(statement)).scalar_one())

    async def _wait(self, key: str, now: datetime, seconds: float) -> None:
        await self.session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key == key)
            .values(locked_until=now + timedelta(seconds=seconds))
        )

    def _backoff(self, failures: int, free: int) -> float:
        exponent = min(failures - free, 20)
        return float(
            min(
                self.settings.login_backoff_seconds * 2**exponent,
                self.settings.login_backoff_max_seconds,
            )
        )

    async def record_failure(self, now: datetime) -> None:
        settings = self.settings
        pair = await self._count(self.pair, now)
        if pair >= settings.login_free_failures:
            await self._wait(self.pair, now, self._backoff(pair, settings.login_free_failures))
        address = await self._count(self.address, now)
        if address >= settings.login_max_failures_per_address:
            ceiling = settings.login_max_failures_per_address
            await self._wait(self.address, now, self._backoff(address, ceiling))
        if not self.per_username:
            return
        username = await self._count(self.username, now)
        if username >= settings.login_max_failures_per_username:
            await self._wait(self.username, now, settings.login_username_slowdown_seconds)

    async def record_success(self, now: datetime) -> None:
        await self.session.execute(delete(LoginThrottle).where(LoginThrottle.key == self.pair))
        await self.session.execute(
            pg_insert(LoginThrottle)
            .values(key=self.known, failures=0, last_failure_at=now)
            .on_conflict_do_update(
                index_elements=[LoginThrottle.key], set_={"last_failure_at": now}
            )
        )


async def password_grant(
    session: AsyncSession,
    auth: AuthContext,
    client: ClientIdentity,
    *,
    username: str | None,
    password: str | None,
    scope: str | None,
    address: str,
) -> IssuedTokens:
    if client.role != "frontend":
        raise OAuthError("unauthorized_client", "This client may not sign users in.")
    if not username or not password:
        raise OAuthError("invalid_request", "username and password are required.")
    granted = _granted_scopes(scope, SUBJECT_SCOPES)
    now = utcnow()
    throttle = Throttle(auth, session, username, address)
    await throttle.lock()
    await throttle.check(now)
    row = (
        await session.execute(
            select(Credential.user_id, Credential.password_hash, User.status)
            .join(User, User.id == Credential.user_id)
            .where(func.lower(Credential.username) == username.lower())
        )
    ).one_or_none()
    # The hash is checked even for an unknown username (against a dummy), so timing tells nothing.
    valid = await auth.passwords.verify(row.password_hash if row else None, password)
    if row is None or not valid or row.status != "active":
        await throttle.record_failure(now)
        raise OAuthError("invalid_grant", "The username or password is wrong.")
    await throttle.record_success(now)
    values: dict[str, Any] = {"last_login_at": now}
    if auth.passwords.needs_rehash(row.password_hash):
        values["password_hash"] = await auth.passwords.hash(password)
    await session.execute(
        update(Credential).where(Credential.user_id == row.user_id).values(**values)
    )
    return await _issue_user_tokens(
        session, auth, user_id=row.user_id, client=client, scopes=granted, family_id=uuid.uuid4()
    )


async def _issue_user_tokens(
    session: AsyncSession,
    auth: AuthContext,
    *,
    user_id: uuid.UUID,
    client: ClientIdentity,
    scopes: set[str],
    family_id: uuid.UUID,
) -> IssuedTokens:
    now = utcnow()
    access, lifetime = issue_access_token(
        auth,
        subject=str(user_id),
        client_id=client.client_id,
        role="subject",
        scopes=scopes,
        now=now,
        session_id=family_id,
    )
    refresh = secrets.token_urlsafe(32)
    await session.execute(
        insert(RefreshToken).values(
            family_id=family_id,
            token_hash=_sha256(refresh),
            user_id=user_id,
            client_id=client.client_id,
            scope=format_scope(scopes),
            issued_at=now,
            expires_at=now + timedelta(days=auth.settings.refresh_token_days),
        )
    )
    return IssuedTokens(access, lifetime, format_scope(scopes), refresh)


async def refresh_grant(
    session: AsyncSession,
    auth: AuthContext,
    client: ClientIdentity,
    *,
    refresh_token: str | None,
    scope: str | None,
) -> IssuedTokens:
    if not refresh_token:
        raise OAuthError("invalid_request", "refresh_token is required.")
    now = utcnow()
    row = (
        await session.execute(
            select(RefreshToken, User.status)
            .join(User, User.id == RefreshToken.user_id)
            .where(RefreshToken.token_hash == _sha256(refresh_token))
            .with_for_update(of=RefreshToken)
        )
    ).one_or_none()
    if row is None or row[0].client_id != client.client_id:
        raise OAuthError("invalid_grant", "The refresh token is not valid.")
    token: RefreshToken = row[0]
    if token.used_at is not None:
        # Reuse: someone holds a copy. The whole family goes, including the newest token and the
        # access tokens issued with it.
        log.warning(
            "refresh_token_reuse", family_id=str(token.family_id), client_id=client.client_id
        )
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == token.family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        raise OAuthError("invalid_grant", "The refresh token was already used.")
    if token.revoked_at is not None or token.expires_at <= now or row.status != "active":
        raise OAuthError("invalid_grant", "The refresh token is not valid.")
    granted = _granted_scopes(scope, frozenset(parse_scope(token.scope)))
    token.used_at = now
    return await _issue_user_tokens(
        session,
        auth,
        user_id=token.user_id,
        client=client,
        scopes=granted,
        family_id=token.family_id,
    )


async def revoke_token(
    session: AsyncSession, auth: AuthContext, client: ClientIdentity, token: str
) -> None:
    """RFC 7009: revokes a refresh token (its whole family) or an access token of this client.
    Unknown tokens are ignored, as the RFC asks."""
    now = utcnow()
    family = (
        await session.execute(
            select(RefreshToken.family_id).where(
                RefreshToken.token_hash == _sha256(token),
                RefreshToken.client_id == client.client_id,
            )
        )
    ).scalar_one_or_none()
    if family is not None:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return
    try:
        claims = tokens.verify(
            token,
            auth.keys.verifying_key,
            issuer=auth.issuer,
            audience=auth.settings.jwt_audience,
            leeway=auth.settings.token_leeway_seconds,
        )
    except tokens.InvalidToken:
        return
    if claims.get("client_id") != client.client_id:
        return
    await session.execute(
        pg_insert(RevokedAccessToken)
        .values(jti=claims["jti"], expires_at=datetime.fromtimestamp(claims["exp"], UTC))
        .on_conflict_do_nothing()
    )


async def revoke_user_sessions(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Ends every refresh token family of a user (closure, erasure)."""
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def create_credentials(
    session: AsyncSession, auth: AuthContext, user_id: uuid.UUID, username: str, password: str
) -> None:
    await session.execute(
        insert(Credential).values(
            user_id=user_id, username=username, password_hash=await auth.passwords.hash(password)
        )
    )


async def username_taken(session: AsyncSession, username: str) -> bool:
    found = await session.execute(
        select(literal(1)).where(func.lower(Credential.username) == username.lower())
    )
    return found.first() is not None


STILL_VALID = """
SELECT NOT EXISTS (SELECT 1 FROM revoked_access_tokens WHERE jti = $1)
   AND EXISTS (SELECT 1 FROM clients WHERE client_id = $2 AND disabled_at IS NULL)
   AND ($3::uuid IS NULL OR EXISTS (SELECT 1 FROM users WHERE id = $3 AND status = 'active'))
   AND ($4::uuid IS NULL OR NOT EXISTS (
        SELECT 1 FROM refresh_tokens WHERE family_id = $4 AND revoked_at IS NOT NULL)),
   EXISTS (SELECT 1 FROM users WHERE id = $5 AND (restricted_at IS NOT NULL OR status = 'erased'))
"""


async def principal_still_valid(
    session: AsyncSession, standing: tuple[Any, ...]
) -> tuple[bool, bool]:
    """One round trip per request (on every request, so on the raw driver): whether the token
    still holds (not revoked, client enabled, the user still active, the sign-in session not
    revoked), and whether the user the path names is restricted (Art. 18), or erased: what an
    erasure keeps under a legal hold is restricted in the same way."""
    connection = await raw.driver(session)
    # $1 jti, $2 client_id, $3 the token's user, $4 its sign-in session, $5 the path's user.
    row = await connection.fetchrow(STILL_VALID, *standing)
    return bool(row[0]), bool(row[1])


async def consume_rate(
    session: AsyncSession, key: str, limit: int, window_seconds: int = 60, *, policy: str
) -> None:
    """Counts one request against ``key`` in the current fixed window; 429 past ``limit``. The
    quota is noted on the session, for the answer's RateLimit header fields."""
    now = utcnow()
    start = datetime.fromtimestamp(now.timestamp() // window_seconds * window_seconds, UTC)
    count = (
        await session.execute(
            pg_insert(RateWindow)
            .values(key=key, window_start=start, count=1)
            .on_conflict_do_update(
                index_elements=[RateWindow.key, RateWindow.window_start],
                set_={"count": RateWindow.count + 1},
            )
            .returning(RateWindow.count)
        )
    ).scalar_one()
    wait = max(1, math.ceil((start + timedelta(seconds=window_seconds) - now).total_seconds()))
    quotas = session.info.setdefault("rate_limits", [])
    quotas.append(ratelimit.Quota(policy, limit, window_seconds, max(0, limit - count), wait))
    if count > limit:
        raise RateLimited(
            f"At most {limit} per {window_seconds} seconds; try again in {wait} seconds.",
            headers={"Retry-After": str(wait), **ratelimit.headers(quotas)},
        )


async def purge_expired(session: AsyncSession) -> dict[str, int]:
    """Removes sign-in state that no longer matters: expired revocations, forgotten failed-login
    streaks and old rate windows (sessions go by the personal-data catalogue's retention)."""
    now = utcnow()
    statements = {
        "revoked_access_tokens": delete(RevokedAccessToken).where(
            RevokedAccessToken.expires_at < now
        ),
        "login_throttles": delete(LoginThrottle).where(
            # Where a username signed in from is remembered for 90 days, failures for one.
            LoginThrottle.last_failure_at
            < now - case((LoginThrottle.key.startswith("k:"), KNOWN_ADDRESS_DAYS), else_=ONE_DAY),
            or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < now),
        ),
        "rate_windows": delete(RateWindow).where(RateWindow.window_start < now - timedelta(days=1)),
    }
    counts = {}
    for name, statement in statements.items():
        result = await session.execute(statement)
        counts[name] = int(result.rowcount)  # type: ignore[attr-defined]
    return counts
