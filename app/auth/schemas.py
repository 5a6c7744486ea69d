"""Shapes of the OAuth and password-reset endpoints."""

import uuid
from datetime import datetime
from typing import Self

from pydantic import BaseModel, Field, model_validator

from app.core.schemas import Input, example
from app.core.validators import Email
from app.users.schemas import Password, Username


class TokenResponse(BaseModel):
    access_token: str = Field(description="A JWT (RS256) to send as `Authorization: Bearer ...`.")
    token_type: str = Field(default="Bearer", description="Always `Bearer`.")
    expires_in: int = Field(description="Seconds until the access token expires.")
    scope: str = Field(description="The scopes granted, space-separated.")
    refresh_token: str | None = Field(
        default=None, description="For the password and refresh grants: use once, then discard."
    )


class OAuthErrorResponse(BaseModel):
    error: str = Field(description="RFC 6749 error code, e.g. `invalid_grant`.")
    error_description: str = Field(description="What went wrong, for people.")
    type: str = Field(description="Problem type URI (RFC 9457).")
    title: str = Field(description="Problem title.")
    status: int = Field(description="HTTP status.")


class Jwk(BaseModel):
    kty: str = Field(
        description="Key type: `RSA` (tokens) or `OKP` (the Ed25519 key of the transparency "
        "logs' checkpoints)."
    )
    kid: str = Field(description="Key id, as in the tokens' `kid` header.")
    alg: str = Field(description="The one algorithm this key is used with (`RS256`, `EdDSA`).")
    use: str = Field(description="`sig`.")
    n: str | None = Field(default=None, description="RSA modulus, base64url.")
    e: str | None = Field(default=None, description="RSA exponent, base64url.")
    crv: str | None = Field(default=None, description="OKP curve (`Ed25519`).")
    x: str | None = Field(default=None, description="OKP public key, base64url.")


class Jwks(BaseModel):
    keys: list[Jwk] = Field(description="Every key that may have signed a live token.")


class ServerMetadata(BaseModel):
    issuer: str = Field(description="The `iss` of every token.")
    token_endpoint: str = Field(description="Where to get tokens.")
    revocation_endpoint: str = Field(description="RFC 7009 revocation.")
    jwks_uri: str = Field(description="The public signing keys.")
    grant_types_supported: list[str] = Field(description="The grants the token endpoint takes.")
    response_types_supported: list[str] = Field(description="None: there is no browser flow.")
    token_endpoint_auth_methods_supported: list[str] = Field(description="Client auth methods.")
    revocation_endpoint_auth_methods_supported: list[str] = Field(description="Same as above.")
    scopes_supported: list[str] = Field(description="Every scope of the API.")


class PasswordResetRequest(Input, json_schema_extra=example({"username": "matti.meikalainen"})):
    """Exactly one of `username` and `email`."""

    username: Username | None = Field(default=None, description="The account's username.")
    email: Email | None = Field(
        default=None, description="The account's e-mail address (may name several accounts)."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.username is None) == (self.email is None):
            raise ValueError("send exactly one of username and email")
        return self


class Reset(BaseModel):
    user_id: uuid.UUID = Field(description="The account.")
    username: str = Field(description="Its username, to show in the e-mail.")
    email: str = Field(description="Where to send the token.")
    token: str = Field(description="Single use; send it only to `email`, never show it here.")
    expires_at: datetime = Field(description="When it stops working.")


class PasswordResetIssued(BaseModel):
    resets: list[Reset] = Field(
        description="One per active account with an e-mail address; empty when there is none "
        "(tell the person the same either way)."
    )


class PasswordResetConfirm(
    Input,
    json_schema_extra=example(
        {
            "token": "q1Vb0yT3kq3t9oO2zq8sJ8m5rR7y4cXWv6nHh2dLkPw",
            "password": "uusi pitkä salasana 2026",
        }
    ),
):
    token: str = Field(min_length=20, max_length=200, description="The token from the e-mail.")
    password: Password = Field(description="The new password, at least 10 characters.")
