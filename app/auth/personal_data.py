"""The personal data of sign-in: the username and password hash, the sign-in sessions."""

from __future__ import annotations

from app.core.personal_data import Column, Erasure, Retention, Source, Table, technical, user_key

CREDENTIALS = Table(
    name="credentials",
    category="credentials",
    description="The username and the password, stored only as an argon2id hash.",
    columns=(
        user_key(),
        Column("username", "user.account.username", Source.SUBJECT),
        Column("password_hash", "user.authorization.credentials", Source.SUBJECT, shown=False),
        Column("password_changed_at", "user.authorization.credentials", Source.OBSERVED),
        Column("last_login_at", "user.behavior", Source.OBSERVED),
        *technical("created_at"),
    ),
    purposes=("dpv:IdentityVerification", "dpv:EnforceSecurity"),
    legal_basis="contract",
    retention=Retention("relationship"),
    erasure=Erasure.DELETE,
)

REFRESH_TOKENS = Table(
    name="refresh_tokens",
    category="credentials",
    description="Sign-in sessions: refresh tokens, stored only as SHA-256 hashes.",
    columns=(
        *technical("id", "family_id"),
        Column("token_hash", "user.authorization.credentials", Source.DERIVED, shown=False),
        user_key(),
        Column("client_id", "user.behavior", Source.OBSERVED),
        *technical("scope", "issued_at", "expires_at", "used_at", "revoked_at"),
    ),
    purposes=("dpv:IdentityVerification", "dpv:EnforceSecurity"),
    legal_basis="contract",
    retention=Retention("expiry", column="expires_at", grace="1 day"),
    erasure=Erasure.DELETE,
    order_by="issued_at, id",
)

PASSWORD_RESETS = Table(
    name="password_resets",
    category="credentials",
    description="Password-reset tokens, single-use and short-lived, stored only as SHA-256 hashes.",
    columns=(
        Column("token_hash", "user.authorization.credentials", Source.DERIVED, shown=False),
        user_key(),
        *technical("created_at", "expires_at", "used_at"),
    ),
    purposes=("dpv:IdentityVerification", "dpv:EnforceSecurity"),
    legal_basis="contract",
    retention=Retention("expiry", column="expires_at", grace="1 day"),
    erasure=Erasure.DELETE,
    order_by="created_at",
)

TABLES = (CREDENTIALS, REFRESH_TOKENS, PASSWORD_RESETS)
