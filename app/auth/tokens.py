"""JWT signing and verification: the only module that uses python-jose.

RFC 8725 habits: one fixed algorithm (RS256) for every key, the key chosen by our code from the
``kid`` (never a key set handed to the library), ``typ`` checked, and ``iss``, ``aud``, ``exp``,
``nbf`` and ``iat`` required and validated. Keys are built once (``jwk.construct``), not per call.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from jose import jwk, jws, jwt
from jose.exceptions import JOSEError

ALGORITHM = "RS256"
TOKEN_TYPE = "at+jwt"  # noqa: S105 (RFC 9068 access-token type)
_ACCEPTED_TYPES = {"at+jwt", "application/at+jwt"}


class InvalidToken(Exception):
    """The token is not one of ours, or no longer valid; the message is safe to show."""


class JoseKey:
    """A private key built once for signing, with its public half for verifying and the JWKS."""

    def __init__(self, kid: str, private_pem: bytes) -> None:
        self.kid = kid
        self._signer = jwk.construct(private_pem.decode("ascii"), ALGORITHM)
        self._verifier = self._signer.public_key()
        public = self._verifier.to_dict()
        self.public_jwk: dict[str, str] = {
            "kty": public["kty"],
            "n": public["n"],
            "e": public["e"],
            "kid": kid,
            "alg": ALGORITHM,
            "use": "sig",
        }

    def sign(self, claims: Mapping[str, Any], typ: str = TOKEN_TYPE) -> str:
        token: str = jwt.encode(
            dict(claims), self._signer, algorithm=ALGORITHM, headers={"kid": self.kid, "typ": typ}
        )
        return token

    def verify_document(self, document: str) -> dict[str, Any]:
        try:
            payload = jws.verify(document, self._verifier, algorithms=[ALGORITHM])
        except JOSEError as exc:
            raise InvalidToken("The document's signature is not valid.") from exc
        claims: dict[str, Any] = json.loads(payload)
        return claims

    def verify(self, token: str, *, issuer: str, audience: str, leeway: int) -> dict[str, Any]:
        claims: dict[str, Any] = jwt.decode(
            token,
            self._verifier,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={
                "require_iat": True,
                "require_exp": True,
                "require_nbf": True,
                "require_iss": True,
                "require_aud": True,
                "require_sub": True,
                "require_jti": True,
                "leeway": leeway,
            },
        )
        return claims


class VerifiedTokens:
    """Tokens whose signature and claims were verified, by the token itself: a signature stays
    valid, so a repeat only needs its time window checked again (saves the RSA work on every
    request of a client that reuses its token). Bounded; the oldest go first."""

    def __init__(self, size: int = 10_000) -> None:
        self._claims: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._size = size

    def get(self, token: str, leeway: int) -> dict[str, Any] | None:
        claims = self._claims.get(token)
        if claims is None:
            return None
        now = time.time()
        if not (claims["nbf"] - leeway <= now < claims["exp"] + leeway):
            self._claims.pop(token, None)
            return None
        return claims

    def put(self, token: str, claims: dict[str, Any]) -> None:
        self._claims[token] = claims
        if len(self._claims) > self._size:
            self._claims.popitem(last=False)


def verify(
    token: str,
    key_for: Callable[[str], JoseKey | None],
    *,
    issuer: str,
    audience: str,
    leeway: int,
    cache: VerifiedTokens | None = None,
    max_lifetime: int | None = None,
) -> dict[str, Any]:
    """Checks the header against our rules, picks the key by ``kid``, verifies and validates.

    With ``max_lifetime`` (seconds), a token issued in the future (beyond the leeway) or living
    longer than this issuer ever issues is refused: a leaked key cannot mint long-lived tokens
    unnoticed."""
    if cache is not None:
        claims = cache.get(token, leeway)
        if claims is not None and key_for(claims["_kid"]) is not None:
            return claims
    try:
        header = jwt.get_unverified_header(token)
    except JOSEError as exc:
        raise InvalidToken("The token is malformed.") from exc
    if header.get("alg") != ALGORITHM:
        raise InvalidToken("The token's algorithm is not accepted.")
    if header.get("typ") not in _ACCEPTED_TYPES:
        raise InvalidToken("The token is not an access token.")
    kid = header.get("kid")
    key = key_for(kid) if isinstance(kid, str) else None
    if key is None:
        raise InvalidToken("The token's signing key is not known.")
    try:
        claims = key.verify(token, issuer=issuer, audience=audience, leeway=leeway)
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("The token has expired.") from exc
    except jwt.JWTClaimsError as exc:
        if "issuer" in str(exc).lower():
            raise InvalidToken(
                f"The token's issuer is not this service's ({issuer}): get a token from "
                f"{issuer}/v1/auth/token."
            ) from exc
        raise InvalidToken(f"The token's claims are not valid: {exc}") from exc
    except JOSEError as exc:
        raise InvalidToken("The token's signature is not valid.") from exc
    if max_lifetime is not None:
        _check_lifetime(claims, max_lifetime, leeway)
    if cache is not None:
        cache.put(token, {**claims, "_kid": kid})
    return claims


def _check_lifetime(claims: dict[str, Any], max_lifetime: int, leeway: int) -> None:
    issued, expires = claims.get("iat"), claims.get("exp")
    if not isinstance(issued, int | float) or not isinstance(expires, int | float):
        raise InvalidToken("The token's iat and exp must be numbers.")
    if issued > time.time() + leeway:
        raise InvalidToken("The token was issued in the future (iat).")
    if expires - issued > max_lifetime + leeway:
        raise InvalidToken(f"The token lives longer than the {max_lifetime} seconds we issue.")


def verify_signed_document(
    document: str, key_for: Callable[[str], JoseKey | None], typ: str
) -> dict[str, Any]:
    """Verifies a JWS we signed that is not an access token (e.g. a log checkpoint)."""
    try:
        header = jwt.get_unverified_header(document)
    except JOSEError as exc:
        raise InvalidToken("The document is malformed.") from exc
    if header.get("alg") != ALGORITHM or header.get("typ") != typ:
        raise InvalidToken("The document's algorithm or type is not accepted.")
    kid = header.get("kid")
    key = key_for(kid) if isinstance(kid, str) else None
    if key is None:
        raise InvalidToken("The document's signing key is not known.")
    return key.verify_document(document)
