"""Who is calling: the bearer token checked, the scope required, and ownership of user ids.

Every endpoint states its scope with ``RequireScope``. A user's token reaches only that user's
data; any other user id answers 404 exactly like an id that does not exist.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Request, Security
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlowPassword, OAuthFlows
from fastapi.security import OAuth2

from app.auth import service, tokens
from app.auth.scopes import SCOPES, parse_scope
from app.core.errors import AppError, NotFound
from app.db.session import Session

TOKEN_URL = "/v1/auth/token"  # noqa: S105 (a path, not a secret)

oauth2_scheme = OAuth2(
    flows=OAuthFlows(
        password=OAuthFlowPassword(tokenUrl=TOKEN_URL, scopes=SCOPES),
        clientCredentials=OAuthFlowClientCredentials(tokenUrl=TOKEN_URL, scopes=SCOPES),
    ),
    scheme_name="registry",
    description="Bearer access tokens from `POST /v1/auth/token`.",
    auto_error=False,
)


class Unauthenticated(AppError):
    status = 401
    type = "unauthenticated"
    title = "Authentication required"

    def __init__(self, detail: str, error: str | None = "invalid_token") -> None:
        challenge = 'Bearer realm="registry"'
        if error:
            safe = detail.replace('"', "'")
            challenge += f', error="{error}", error_description="{safe}"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class InsufficientScope(AppError):
    status = 403
    type = "insufficient-scope"
    title = "Insufficient scope"

    def __init__(self, needed: str) -> None:
        super().__init__(
            f"This operation needs the scope `{needed}`.",
            headers={
                "WWW-Authenticate": f'Bearer realm="registry", error="insufficient_scope", '
                f'scope="{needed}"'
            },
        )


class UserNotFound(NotFound):
    type = "user-not-found"
    title = "User not found"


@dataclass(frozen=True)
class Principal:
    subject: str
    client_id: str
    role: str
    scopes: frozenset[str]
    jti: str
    user_id: uuid.UUID | None  # set for a signed-in user (role "subject")
    request_id: str | None = None
    correlation_id: str | None = None

    @property
    def is_user(self) -> bool:
        return self.user_id is not None

    def actor(self) -> str:
        """How the caller is named in provenance and audit records: ``subject`` for the person
        themself (every such row already names them, and their user id must not outlive an
        erasure in the append-only logs), ``client:<client_id>`` for a machine client."""
        return "subject" if self.user_id else f"client:{self.client_id}"

    @property
    def source(self) -> str:
        """Where data this caller writes comes from (provenance): the person, or staff."""
        return "staff" if self.role in ("staff", "dpo") else "subject"


@dataclass(frozen=True)
class Claimed:
    """A caller whose token is genuine, current and scoped, and whose standing in the database
    (revoked, the client disabled, the user or the path's user restricted) is still to be
    checked: by ``check_standing``'s query, or inside the one statement of a hot path."""

    principal: Principal
    session_id: uuid.UUID | None
    target: uuid.UUID | None

    def standing_args(self) -> tuple[Any, ...]:
        """The parameters of ``service.STILL_VALID``, in order ($1 to $5)."""
        p = self.principal
        return (p.jti, p.client_id, p.user_id, self.session_id, self.target)


def claimed(request: Request, authorization: str | None) -> Claimed:
    """The caller as its token says, without the database."""
    if not authorization:
        raise Unauthenticated("A bearer token is required.", error=None)
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("The Authorization header must be `Bearer <token>`.")
    auth: service.AuthContext = request.app.state.auth
    try:
        claims = tokens.verify(
            token.strip(),
            auth.keys.verifying_key,
            issuer=auth.issuer,
            audience=auth.settings.jwt_audience,
            leeway=auth.settings.token_leeway_seconds,
            cache=auth.verified,
            max_lifetime=auth.settings.access_token_minutes * 60,
        )
    except tokens.InvalidToken as exc:
        raise Unauthenticated(str(exc)) from exc
    role = claims.get("role")
    client_id = claims.get("client_id")
    if not isinstance(role, str) or not isinstance(client_id, str):
        raise Unauthenticated("The token lacks its role or client.")
    user_id: uuid.UUID | None = None
    if role == "subject":
        try:
            user_id = uuid.UUID(claims["sub"])
        except ValueError as exc:
            raise Unauthenticated("The token's subject is not a user.") from exc
    principal = Principal(
        subject=claims["sub"],
        client_id=client_id,
        role=role,
        scopes=frozenset(parse_scope(claims.get("scope"))),
        jti=claims["jti"],
        user_id=user_id,
        request_id=getattr(request.state, "request_id", None),
        correlation_id=getattr(request.state, "correlation_id", None),
    )
    session_id: uuid.UUID | None = None
    if isinstance(claims.get("sid"), str):
        try:
            session_id = uuid.UUID(claims["sid"])
        except ValueError as exc:
            raise Unauthenticated("The token's session is malformed.") from exc
    return Claimed(principal, session_id, _path_user(request, user_id))


def check_standing(caller: Claimed, request: Request, valid: bool, restricted: bool) -> Principal:
    """What ``STILL_VALID`` answered, as the caller's errors (every path, hot or not)."""
    if not valid:
        raise Unauthenticated("The token has been revoked.")
    if restricted and not restriction_allows(caller.principal, caller.target, request):
        raise ProcessingRestricted(
            "This user's data is restricted (GDPR Art. 18): it is only stored, and only the "
            "data protection officer's handling of the person's requests may read it."
        )
    request.state.principal = caller.principal
    return caller.principal


async def authenticate(
    request: Request,
    session: Session,
    authorization: Annotated[str | None, Depends(oauth2_scheme)],
) -> Principal:
    caller = claimed(request, authorization)
    valid, restricted = await service.principal_still_valid(session, caller.standing_args())
    return check_standing(caller, request, valid, restricted)


def _path_user(request: Request, own: uuid.UUID | None) -> uuid.UUID | None:
    """The user a path's ``{user_ref}`` names, if any (ownership is checked by the route)."""
    ref = request.path_params.get("user_ref")
    if ref == "me":
        return own
    try:
        return uuid.UUID(str(ref)) if ref is not None else None
    except ValueError:
        return None


class ProcessingRestricted(AppError):
    status = 409
    type = "processing-restricted"
    title = "Processing of this user's data is restricted"


# While a user is restricted (Art. 18(2)), their data is only stored. The person may still read
# it and use their rights (requests, withdrawals, objections); the DPO may read it to answer the
# person's requests and lift the restriction; anyone who may file a request on the person's
# behalf still may; nobody else may read or change their data.
_PERSON_MAY_WRITE = ("/requests", "/permissions")
_DPO_MAY_WRITE = ("/requests", "/restriction")
# ...and settle a debt claim (a legal claim, Art. 18(2); kept under a hold after an erasure).
_DPO_MAY_SETTLE = "/collections/"


def may_read_restricted(principal: Principal) -> bool:
    """The DPO's request handling (a client with `requests:manage`)."""
    return "requests:manage" in principal.scopes and not principal.is_user


def restriction_allows(principal: Principal, target: uuid.UUID | None, request: Request) -> bool:
    reading = request.method in ("GET", "HEAD")
    path = request.url.path
    if request.method == "POST" and path.endswith("/requests"):
        return True  # exercising the person's rights (the route checks the scope)
    if principal.user_id is not None and principal.user_id == target:
        return reading or path.endswith(_PERSON_MAY_WRITE)
    if may_read_restricted(principal):
        settling = request.method == "PATCH" and _DPO_MAY_SETTLE in path
        return reading or settling or path.endswith(_DPO_MAY_WRITE)
    return False


Caller = Annotated[Principal, Depends(authenticate)]


class NotForUserTokens(AppError):
    status = 403
    type = "not-for-user-tokens"
    title = "Not available to user tokens"


class RequireScope:
    """A dependency that lets the call through only with the given scope (and, for operations
    across many users, only for client tokens)."""

    def __init__(self, scope: str, *, clients_only: bool = False) -> None:
        assert scope in SCOPES, scope
        self.scope = scope
        self.clients_only = clients_only

    async def __call__(self, principal: Caller) -> Principal:
        if self.scope not in principal.scopes:
            raise InsufficientScope(self.scope)
        if self.clients_only and principal.is_user:
            raise NotForUserTokens("This operation spans many users or is staff work.")
        return principal


def require(scope: str, *, clients_only: bool = False) -> Any:
    """``caller: Annotated[Principal, require("users:read")]``: the scope enforced, and stated in
    the OpenAPI document."""
    return Security(RequireScope(scope, clients_only=clients_only), scopes=[scope])


class ClaimScope:
    """``require``'s twin for a hot path served by one statement: the token and scope are
    checked here, the caller's standing by that statement (``Claimed.standing_args``)."""

    def __init__(self, scope: str) -> None:
        assert scope in SCOPES, scope
        self.scope = scope

    async def __call__(
        self, request: Request, authorization: Annotated[str | None, Depends(oauth2_scheme)]
    ) -> Claimed:
        caller = claimed(request, authorization)
        if self.scope not in caller.principal.scopes:
            raise InsufficientScope(self.scope)
        return caller


def claim(scope: str) -> Any:
    return Security(ClaimScope(scope), scopes=[scope])


UserRef = Annotated[
    uuid.UUID | Literal["me"],
    Path(description="The user's id, or `me` for the signed-in user."),
]


def resolve_user_id(principal: Principal, user_ref: uuid.UUID | Literal["me"]) -> uuid.UUID:
    """The user a path names, checked against the caller: a user token reaches only itself."""
    if user_ref == "me":
        if principal.user_id is None:
            raise UserNotFound("`me` names a signed-in user; this token is a client's.")
        return principal.user_id
    assert isinstance(user_ref, uuid.UUID)
    if principal.user_id is not None and principal.user_id != user_ref:
        raise UserNotFound("No such user.")
    return user_ref
