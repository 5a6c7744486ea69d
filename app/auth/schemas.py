"""Shapes of the OAuth endpoints."""

from pydantic import BaseModel, Field


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
