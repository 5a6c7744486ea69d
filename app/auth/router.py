"""The registry as its own OAuth 2.0 token issuer: token, revocation, JWKS, metadata."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response, status
from fastapi.responses import JSONResponse

from app.auth import resets, service
from app.auth.addresses import person_address
from app.auth.dependencies import Principal, require
from app.auth.schemas import (
    Jwks,
    OAuthErrorResponse,
    PasswordResetConfirm,
    PasswordResetIssued,
    PasswordResetRequest,
    ServerMetadata,
    TokenResponse,
)
from app.auth.scopes import SCOPES
from app.core import ratelimit
from app.core.errors import PROBLEM_BASE, problem_response, problem_responses
from app.core.ratelimit import RATE_LIMIT_HEADERS
from app.db.session import Session


def form_example(values: dict[str, str]) -> dict[str, object]:
    """An example of a form body (OAuth 2.0 endpoints take forms, not JSON)."""
    form = "application/x-www-form-urlencoded"
    return {"requestBody": {"content": {form: {"example": values}}}}


router = APIRouter(tags=["auth"])

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
OAUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": OAuthErrorResponse, "description": "RFC 6749 error"},
    401: {"model": OAuthErrorResponse, "description": "Client authentication failed"},
}


def _oauth_error(error: service.OAuthError) -> JSONResponse:
    headers = dict(NO_STORE)
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="registry"'
    body = OAuthErrorResponse(
        error=error.error,
        error_description=error.description,
        type=PROBLEM_BASE + "oauth-" + error.error.replace("_", "-"),
        title=error.error.replace("_", " ").capitalize(),
        status=error.status,
    )
    return JSONResponse(body.model_dump(), status_code=error.status, headers=headers)


def _client_credentials(
    request: Request, client_id: str | None, client_secret: str | None
) -> tuple[str | None, str | None]:
    """client_secret_basic (the Authorization header) or client_secret_post (the form)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        basic_id, _, basic_secret = decoded.partition(":")
        return basic_id, basic_secret
    return client_id, client_secret


@router.post(
    "/v1/auth/token",
    response_model=TokenResponse,
    responses={**OAUTH_ERRORS, **problem_responses(429)},
    openapi_extra=form_example(
        {"grant_type": "client_credentials", "client_id": "dpo-1a2b3c", "client_secret": "..."}
    ),
)
async def issue_token(
    request: Request,
    session: Session,
    grant_type: Annotated[
        str | None, Form(description="`password`, `client_credentials` or `refresh_token`.")
    ] = None,
    username: Annotated[str | None, Form(description="password grant")] = None,
    password: Annotated[str | None, Form(description="password grant")] = None,
    refresh_token: Annotated[str | None, Form(description="refresh_token grant")] = None,
    scope: Annotated[str | None, Form(description="Space-separated scopes wanted.")] = None,
    client_id: Annotated[str | None, Form(description="Unless sent with HTTP Basic.")] = None,
    client_secret: Annotated[str | None, Form(description="Unless sent with HTTP Basic.")] = None,
) -> Response:
    """Issue tokens (RFC 6749): password, client_credentials and refresh_token grants.

    Errors are RFC 6749 JSON (`error`, `error_description`). What a failed grant records — a
    counted failed sign-in, a token family revoked after reuse — is kept.
    """
    auth: service.AuthContext = request.app.state.auth
    try:
        identity, secret = _client_credentials(request, client_id, client_secret)
        client = await service.authenticate_client(session, identity, secret)
        if grant_type == "client_credentials":
            issued = await service.client_credentials_grant(auth, client, scope)
        elif grant_type == "password":
            address = person_address(request, from_frontend=client.role == "frontend")
            issued = await service.password_grant(
                session,
                auth,
                client,
                username=username,
                password=password,
                scope=scope,
                address=address,
            )
        elif grant_type == "refresh_token":
            issued = await service.refresh_grant(
                session, auth, client, refresh_token=refresh_token, scope=scope
            )
        elif grant_type is None:
            raise service.OAuthError("invalid_request", "grant_type is required.")
        else:
            raise service.OAuthError(
                "unsupported_grant_type", "Use password, client_credentials or refresh_token."
            )
    except service.OAuthError as error:
        return _oauth_error(error)
    body = TokenResponse(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        scope=issued.scope,
        refresh_token=issued.refresh_token,
    )
    return JSONResponse(body.model_dump(exclude_none=True), headers=NO_STORE)


@router.post(
    "/v1/auth/revoke",
    responses=OAUTH_ERRORS,
    response_class=Response,
    openapi_extra=form_example({"token": "eyJhbGciOi...", "token_type_hint": "refresh_token"}),
)
async def revoke_token(
    request: Request,
    session: Session,
    token: Annotated[str | None, Form(description="The access or refresh token.")] = None,
    token_type_hint: Annotated[
        str | None, Form(description="`access_token` or `refresh_token` (optional).")
    ] = None,
    client_id: Annotated[str | None, Form(description="Unless sent with HTTP Basic.")] = None,
    client_secret: Annotated[str | None, Form(description="Unless sent with HTTP Basic.")] = None,
) -> Response:
    """Revoke a token (RFC 7009). A refresh token takes its whole family with it. Answers 200
    for unknown tokens too."""
    auth: service.AuthContext = request.app.state.auth
    try:
        identity, secret = _client_credentials(request, client_id, client_secret)
        client = await service.authenticate_client(session, identity, secret)
        if not token:
            raise service.OAuthError("invalid_request", "token is required.")
        await service.revoke_token(session, auth, client, token)
    except service.OAuthError as error:
        return _oauth_error(error)
    return Response(status_code=200, headers=NO_STORE)


Resetter = Annotated[Principal, require("credentials:reset", clients_only=True)]


@router.post(
    "/v1/auth/password-reset",
    response_model=PasswordResetIssued,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        202: {"headers": {**RATE_LIMIT_HEADERS}},
        **problem_responses(401, 403, 422, 429),
    },
)
async def request_password_reset(
    body: PasswordResetRequest,
    caller: Resetter,
    session: Session,
    request: Request,
    response: Response,
) -> PasswordResetIssued:
    """Issue a single-use password-reset token for the account a username or e-mail address
    names (scope `credentials:reset`, the frontend, which e-mails it: this service sends no
    e-mail). Imported users without a password set their first one this way. Throttled per
    person's address (`X-Forwarded-For` from the frontend) and per account."""
    address = person_address(request, from_frontend=caller.role == "frontend")
    issued = await resets.issue(session, request.app.state.auth, caller, body, address)
    response.headers.update(NO_STORE)
    response.headers.update(ratelimit.headers(ratelimit.counted(session.info)))
    return issued


@router.post(
    "/v1/auth/password-reset/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(400, 401, 403, 422, 429),
)
async def confirm_password_reset(
    body: PasswordResetConfirm, caller: Resetter, session: Session, request: Request
) -> Response:
    """Set a new password with a password-reset token (scope `credentials:reset`); the token is
    spent and every sign-in session of the account ends. Wrong tokens count as failed sign-ins
    do, per person's address."""
    address = person_address(request, from_frontend=caller.role == "frontend")
    try:
        await resets.confirm(session, request.app.state.auth, caller, body, address)
    except resets.InvalidResetToken as error:
        # Answered, not raised: the failure just counted is committed with the request.
        return problem_response(
            request.url.path,
            error.status,
            error.type,
            error.title,
            error.detail,
            request_id=getattr(request.state, "request_id", None),
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/.well-known/jwks.json", response_model=Jwks, response_model_exclude_none=True, tags=["auth"]
)
async def get_jwks(request: Request, response: Response) -> Jwks:
    """The public keys that verify access tokens (RFC 7517), and the Ed25519 key that signs the
    transparency logs' checkpoints (`kty` OKP, RFC 8037)."""
    auth: service.AuthContext = request.app.state.auth
    auth.keys.reload_if_stale()
    response.headers["Cache-Control"] = "public, max-age=300"
    keys = auth.keys.jwks()["keys"] + [request.app.state.signers.jwk()]
    return Jwks.model_validate({"keys": keys})


@router.get("/.well-known/oauth-authorization-server", response_model=ServerMetadata)
async def get_server_metadata(request: Request) -> ServerMetadata:
    """Authorization server metadata (RFC 8414)."""
    auth: service.AuthContext = request.app.state.auth
    base = auth.issuer
    methods = ["client_secret_basic", "client_secret_post"]
    return ServerMetadata(
        issuer=base,
        token_endpoint=base + "/v1/auth/token",
        revocation_endpoint=base + "/v1/auth/revoke",
        jwks_uri=base + "/.well-known/jwks.json",
        grant_types_supported=["password", "client_credentials", "refresh_token"],
        response_types_supported=[],
        token_endpoint_auth_methods_supported=methods,
        revocation_endpoint_auth_methods_supported=methods,
        scopes_supported=sorted(SCOPES),
    )
