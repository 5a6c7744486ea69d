"""Authentication and authorization: the token endpoint, refresh rotation, throttling, revocation,
RFC 8725 verification, scopes and ownership, and key rotation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from jose import jwt
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service
from app.auth.keys import KeyRing, write_key
from app.auth.models import Credential, LoginThrottle, RefreshToken
from app.users.models import User
from tests.conftest import Actors, bearer

PASSWORD = "correct horse battery"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unverified(token: str) -> tuple[dict[str, object], dict[str, object]]:
    header, payload, _ = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(header))),
        json.loads(base64.urlsafe_b64decode(pad(payload))),
    )


class TestClientCredentials:
    async def test_wrong_secret_is_invalid_client(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        client_id, _ = await actors.client("partner")
        response = await client.post(
            "/v1/auth/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, "not-the-secret"),
        )
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"
        assert response.headers["www-authenticate"].startswith("Basic")

    async def test_unknown_client_is_invalid_client(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/v1/auth/token", data={"grant_type": "client_credentials"}, auth=("nobody", "x")
        )
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"

    async def test_issues_a_jwt_with_the_required_claims(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        client_id, secret = await actors.client("partner")
        response = await client.post(
            "/v1/auth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
        )
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 900
        assert body["scope"] == "audiences:read disclosures:write"
        assert "refresh_token" not in body
        header, claims = _unverified(body["access_token"])
        assert header["alg"] == "RS256"
        assert header["typ"] == "at+jwt"
        assert header["kid"]
        assert claims["iss"] == "http://127.0.0.1:8000"
        assert claims["aud"] == "huutokaupat-registry"
        assert claims["sub"] == client_id
        assert claims["client_id"] == client_id
        assert claims["exp"] - claims["iat"] == 900  # type: ignore[operator]
        assert claims["nbf"] == claims["iat"]
        assert len(str(claims["jti"])) == 32

    async def test_secret_in_the_form_works_too(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        client_id, secret = await actors.client("staff")
        response = await client.post(
            "/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
                "scope": "users:read",
            },
        )
        assert response.status_code == 200
        assert response.json()["scope"] == "users:read"

    async def test_scope_beyond_the_clients_is_invalid_scope(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        client_id, secret = await actors.client("staff", {"users:read"})
        response = await client.post(
            "/v1/auth/token",
            data={"grant_type": "client_credentials", "scope": "users:read users:write"},
            auth=(client_id, secret),
        )
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_scope"
        assert "users:write" in response.json()["error_description"]

    async def test_missing_and_unknown_grant_types(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        client_id, secret = await actors.client("partner")
        missing = await client.post("/v1/auth/token", data={}, auth=(client_id, secret))
        unknown = await client.post(
            "/v1/auth/token", data={"grant_type": "implicit"}, auth=(client_id, secret)
        )
        assert (missing.status_code, missing.json()["error"]) == (400, "invalid_request")
        assert (unknown.status_code, unknown.json()["error"]) == (400, "unsupported_grant_type")

    async def test_disabled_client_is_refused_and_its_tokens_stop_working(
        self, client: httpx.AsyncClient, actors: Actors, db: AsyncSession
    ) -> None:
        from app.auth.models import Client

        client_id, secret = await actors.client("staff")
        response = await client.post(
            "/v1/auth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
        )
        token = response.json()["access_token"]
        user_id = await actors.user()
        assert (await client.get(f"/v1/users/{user_id}", headers=bearer(token))).status_code == 200
        await db.execute(
            update(Client)
            .where(Client.client_id == client_id)
            .values(disabled_at=datetime.now(UTC))
        )
        again = await client.post(
            "/v1/auth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
        )
        assert again.status_code == 401
        assert (await client.get(f"/v1/users/{user_id}", headers=bearer(token))).status_code == 401


class TestPasswordGrant:
    async def test_signs_in_with_access_and_refresh_tokens(
        self, client: httpx.AsyncClient, actors: Actors, db: AsyncSession
    ) -> None:
        user_id = await actors.user("Matti.Meikalainen")
        response = await actors.login("matti.meikalainen")  # usernames are case-insensitive
        assert response.status_code == 200
        body = response.json()
        assert body["refresh_token"]
        _, claims = _unverified(body["access_token"])
        assert claims["sub"] == str(user_id)
        assert claims["role"] == "subject"
        assert set(str(claims["scope"]).split()) == {
            "users:read",
            "users:write",
            "consents:read",
            "consents:write",
            "requests:write",
            "disclosures:read",
            "transparency:read",
        }
        last_login = await db.scalar(
            select(Credential.last_login_at).where(Credential.user_id == user_id)
        )
        assert last_login is not None

    async def test_wrong_password_and_unknown_user_answer_alike(
        self, actors: Actors, app, monkeypatch: pytest.MonkeyPatch
    ) -> None:  # type: ignore[no-untyped-def]
        await actors.user("known-user")
        passwords = app.state.auth.passwords
        calls: list[str] = []

        class CountingHasher:
            def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
                self.inner = inner

            def verify(self, hash_: str, password: str) -> bool:
                calls.append(hash_)
                return bool(self.inner.verify(hash_, password))

            def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
                return getattr(self.inner, name)

        monkeypatch.setattr(passwords, "_hasher", CountingHasher(passwords._hasher))
        wrong = await actors.login("known-user", "wrong password")
        unknown = await actors.login("no-such-user", "wrong password")
        assert wrong.status_code == unknown.status_code == 400
        assert wrong.json() == unknown.json()
        assert wrong.json()["error"] == "invalid_grant"
        assert len(calls) == 2, "an unknown username is hashed against a dummy all the same"

    async def test_only_the_frontend_client_may_sign_users_in(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        await actors.user("someone")
        client_id, secret = await actors.client("partner")
        response = await client.post(
            "/v1/auth/token",
            data={"grant_type": "password", "username": "someone", "password": PASSWORD},
            auth=(client_id, secret),
        )
        assert response.status_code == 400
        assert response.json()["error"] == "unauthorized_client"

    async def test_closed_account_cannot_sign_in(self, actors: Actors, db: AsyncSession) -> None:
        user_id = await actors.user("closing")
        await db.execute(update(User).where(User.id == user_id).values(status="closed"))
        response = await actors.login("closing")
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_grant"

    async def test_password_rehashed_when_parameters_change(
        self, actors: Actors, app, db: AsyncSession
    ) -> None:  # type: ignore[no-untyped-def]
        from argon2 import PasswordHasher

        user_id = await actors.user("old-hash")
        old_hash = PasswordHasher(time_cost=1, memory_cost=512, parallelism=1).hash(PASSWORD)
        await db.execute(
            update(Credential).where(Credential.user_id == user_id).values(password_hash=old_hash)
        )
        assert (await actors.login("old-hash")).status_code == 200
        new_hash = await db.scalar(
            select(Credential.password_hash).where(Credential.user_id == user_id)
        )
        assert new_hash != old_hash
        assert "m=1024" in str(new_hash)
        assert (await actors.login("old-hash")).status_code == 200


class TestThrottling:
    """OWASP's authentication cheat sheet: failures slow the guesser down without letting anyone
    lock a person out (the frontend passes each person's address in X-Forwarded-For)."""

    @pytest.fixture
    def limits(self, app, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
        def set_limits(**values: int) -> None:
            for name, value in values.items():
                monkeypatch.setitem(app.state.auth.settings.__dict__, name, value)

        return set_limits

    async def test_a_pair_backs_off_exponentially_until_the_wait_is_over(
        self, actors: Actors, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        await actors.user("target")
        for _ in range(3):
            response = await actors.login("target", "guess", address="198.51.100.7")
            assert response.status_code == 400
        waiting = await actors.login("target", PASSWORD, address="198.51.100.7")
        assert waiting.status_code == 429
        assert waiting.headers["content-type"] == "application/problem+json"
        assert waiting.headers["retry-after"] == "2"
        assert waiting.json()["type"].endswith("/too-many-login-attempts")

        later = datetime.now(UTC) + timedelta(seconds=3)
        monkeypatch.setattr(service, "utcnow", lambda: later)
        assert (await actors.login("target", "guess", address="198.51.100.7")).status_code == 400
        doubled = await actors.login("target", PASSWORD, address="198.51.100.7")
        assert doubled.status_code == 429 and doubled.headers["retry-after"] == "4"

        much_later = later + timedelta(seconds=5)
        monkeypatch.setattr(service, "utcnow", lambda: much_later)
        assert (await actors.login("target", PASSWORD, address="198.51.100.7")).status_code == 200

    async def test_guesses_from_elsewhere_do_not_lock_the_person_out(self, actors: Actors) -> None:
        """Defect: 5 guesses a period from anywhere kept a chosen person locked out."""
        await actors.user("chosen")
        for attacker in range(10):
            for _ in range(5):
                await actors.login("chosen", "guess", address=f"203.0.113.{attacker}")
        assert (await actors.login("chosen", PASSWORD, address="192.0.2.44")).status_code == 200

    async def test_spraying_from_one_address_locks_out_no_one_else(
        self, actors: Actors, limits, db: AsyncSession
    ) -> None:  # type: ignore[no-untyped-def]
        """Defect: 20 failures with random usernames locked out every user of the site, since the
        per-address count saw only the frontend's address."""
        limits(login_max_failures_per_address=20)
        await actors.user("innocent")
        for attempt in range(20):
            await actors.login(f"sprayed-{attempt}", "guess", address="203.0.113.9")
        assert (await actors.login("innocent", PASSWORD, address="192.0.2.10")).status_code == 200
        # The sprayer's own address now waits, whatever username it tries.
        sprayer = await actors.login("innocent", PASSWORD, address="203.0.113.9")
        assert sprayer.status_code == 429
        keys = (await db.scalars(select(LoginThrottle.key))).all()
        assert all("sprayed" not in key and "203.0" not in key for key in keys), "keyed hashes"

    async def test_a_username_past_its_ceiling_is_slowed_for_new_addresses_only(
        self, actors: Actors, limits
    ) -> None:  # type: ignore[no-untyped-def]
        limits(login_max_failures_per_username=10)
        await actors.user("popular")
        assert (await actors.login("popular", PASSWORD, address="192.0.2.1")).status_code == 200
        for attacker in range(10):
            await actors.login("popular", "guess", address=f"203.0.113.{attacker}")
        fresh = await actors.login("popular", PASSWORD, address="198.51.100.99")
        assert fresh.status_code == 429
        assert fresh.headers["retry-after"] == "5", "slowed by seconds, not locked"
        known = await actors.login("popular", PASSWORD, address="192.0.2.1")
        assert known.status_code == 200, "an address it signed in from before is not slowed"

    async def test_ipv6_addresses_count_per_64(self, actors: Actors) -> None:
        await actors.user("six")
        for host in range(3):
            await actors.login("six", "guess", address=f"2001:db8:1:2::{host + 1}")
        same_block = await actors.login("six", PASSWORD, address="2001:db8:1:2::ffff")
        assert same_block.status_code == 429
        other_block = await actors.login("six", PASSWORD, address="2001:db8:1:3::1")
        assert other_block.status_code == 200

    def test_forwarded_for_is_believed_only_from_the_frontend(self) -> None:
        from starlette.requests import Request

        from app.auth.addresses import person_address

        scope = {
            "type": "http",
            "headers": [(b"x-forwarded-for", b"198.51.100.1, 10.0.0.1")],
            "client": ("10.0.0.2", 5000),
        }
        request = Request(scope)
        assert person_address(request, from_frontend=True) == "198.51.100.1"
        assert person_address(request, from_frontend=False) == "10.0.0.2"
        junk = Request({**scope, "headers": [(b"x-forwarded-for", b"not an address")]})
        assert person_address(junk, from_frontend=True) == "10.0.0.2"


class TestRefreshTokens:
    async def _refresh(self, actors: Actors, token: str) -> httpx.Response:
        client_id, secret = await actors.frontend_client()
        return await actors.http.post(
            "/v1/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": token},
            auth=(client_id, secret),
        )

    async def test_rotates_and_detects_reuse(self, actors: Actors, db: AsyncSession) -> None:
        user_id = await actors.user("rotating")
        first = (await actors.login("rotating")).json()["refresh_token"]

        rotated = await self._refresh(actors, first)
        assert rotated.status_code == 200
        second = rotated.json()["refresh_token"]
        assert second != first

        reused = await self._refresh(actors, first)
        assert reused.status_code == 400
        assert reused.json()["error"] == "invalid_grant"
        # The family is gone: the rotated token fails too.
        after = await self._refresh(actors, second)
        assert after.status_code == 400
        revoked = (
            await db.scalars(select(RefreshToken.revoked_at).where(RefreshToken.user_id == user_id))
        ).all()
        assert len(revoked) == 2 and all(revoked)

    async def test_refresh_token_of_another_client_is_refused(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        await actors.user("bound")
        refresh = (await actors.login("bound")).json()["refresh_token"]
        other_id, other_secret = await actors.client("frontend")
        response = await client.post(
            "/v1/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh},
            auth=(other_id, other_secret),
        )
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_grant"


class TestRevocation:
    async def test_revoking_a_refresh_token(self, actors: Actors) -> None:
        await actors.user("leaving")
        refresh = (await actors.login("leaving")).json()["refresh_token"]
        client_id, secret = await actors.frontend_client()
        revoked = await actors.http.post(
            "/v1/auth/revoke", data={"token": refresh}, auth=(client_id, secret)
        )
        assert revoked.status_code == 200
        response = await actors.http.post(
            "/v1/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh},
            auth=(client_id, secret),
        )
        assert response.status_code == 400

    async def test_revoking_an_access_token(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        user_id, token = await actors.user_with_token()
        assert (await client.get("/v1/users/me", headers=bearer(token))).status_code == 200
        client_id, secret = await actors.frontend_client()
        revoked = await client.post(
            "/v1/auth/revoke",
            data={"token": token, "token_type_hint": "access_token"},
            auth=(client_id, secret),
        )
        assert revoked.status_code == 200
        response = await client.get(f"/v1/users/{user_id}", headers=bearer(token))
        assert response.status_code == 401
        assert "revoked" in response.json()["detail"]

    async def test_unknown_token_answers_200_but_client_must_authenticate(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        client_id, secret = await actors.frontend_client()
        unknown = await client.post(
            "/v1/auth/revoke", data={"token": "nonsense"}, auth=(client_id, secret)
        )
        anonymous = await client.post("/v1/auth/revoke", data={"token": "nonsense"})
        assert unknown.status_code == 200
        assert anonymous.status_code == 401
        assert anonymous.json()["error"] == "invalid_client"


class TestDiscovery:
    async def test_jwks_lists_the_signing_key(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        token = await actors.client_token("partner")
        header, _ = _unverified(token)
        jwks = (await client.get("/.well-known/jwks.json")).json()
        kids = {key["kid"] for key in jwks["keys"]}
        assert header["kid"] in kids
        key = jwks["keys"][0]
        assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig"
        assert "d" not in key, "never the private part"

    async def test_metadata(self, client: httpx.AsyncClient) -> None:
        body = (await client.get("/.well-known/oauth-authorization-server")).json()
        assert body["issuer"] == "http://127.0.0.1:8000"
        assert body["token_endpoint"] == "http://127.0.0.1:8000/v1/auth/token"
        assert body["jwks_uri"].endswith("/.well-known/jwks.json")
        assert set(body["grant_types_supported"]) == {
            "password",
            "client_credentials",
            "refresh_token",
        }
        assert "requests:manage" in body["scopes_supported"]


def _signing_pem(settings) -> bytes:  # type: ignore[no-untyped-def]
    ring = KeyRing(settings)
    kid = ring.signing_key().kid
    return Path(settings.keys_dir, f"{kid}.pem").read_bytes()


class TestRejectedTokens:
    """RFC 8725: each of these answers 401 with a WWW-Authenticate challenge."""

    @pytest.fixture
    async def forge(self, settings, actors: Actors):  # type: ignore[no-untyped-def]
        user_id, token = await actors.user_with_token()
        header, claims = _unverified(token)
        pem = _signing_pem(settings)

        def make(claim_changes=None, header_changes=None) -> str:  # type: ignore[no-untyped-def]
            new_claims = {**claims, **(claim_changes or {})}
            new_header = {"kid": header["kid"], "typ": "at+jwt", **(header_changes or {})}
            return str(jwt.encode(new_claims, pem.decode(), algorithm="RS256", headers=new_header))

        return user_id, token, claims, header, make

    async def _assert_401(self, client: httpx.AsyncClient, user_id: uuid.UUID, token: str) -> str:
        response = await client.get(f"/v1/users/{user_id}", headers=bearer(token))
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.headers["content-type"] == "application/problem+json"
        return str(response.json()["detail"])

    async def test_the_genuine_token_works(self, client: httpx.AsyncClient, forge) -> None:  # type: ignore[no-untyped-def]
        user_id, token, *_ = forge
        assert (await client.get(f"/v1/users/{user_id}", headers=bearer(token))).status_code == 200

    async def test_no_token(self, client: httpx.AsyncClient, forge) -> None:  # type: ignore[no-untyped-def]
        user_id, *_ = forge
        response = await client.get(f"/v1/users/{user_id}")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer realm="registry"'

    async def test_alg_none(self, client: httpx.AsyncClient, forge) -> None:  # type: ignore[no-untyped-def]
        user_id, _, claims, header, _ = forge
        unsigned = (
            _b64(json.dumps({"alg": "none", "typ": "at+jwt", "kid": header["kid"]}).encode())
            + "."
            + _b64(json.dumps(claims).encode())
            + "."
        )
        assert "algorithm" in await self._assert_401(client, user_id, unsigned)

    async def test_hs256_signed_with_the_public_key(
        self, client: httpx.AsyncClient, forge, settings
    ) -> None:  # type: ignore[no-untyped-def]
        from cryptography.hazmat.primitives import serialization

        user_id, _, claims, header, _ = forge
        private = serialization.load_pem_private_key(_signing_pem(settings), password=None)
        public_pem = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        signing_input = (
            _b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": header["kid"]}).encode())
            + "."
            + _b64(json.dumps(claims).encode())
        )
        signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
        await self._assert_401(client, user_id, signing_input + "." + _b64(signature))

    async def test_wrong_issuer(self, client: httpx.AsyncClient, forge) -> None:  # type: ignore[no-untyped-def]
        user_id, *_, make = forge
        await self._assert_401(client, user_id, make({"iss": "https://evil.example"}))

    async def test_wrong_audience(self, client: httpx.AsyncClient, forge) -> None:  # type: ignore[no-untyped-def]
        user_id, *_, make = forge
        await self._assert_401(client, user_id, make({"aud": "some-other-api"}))

    async def test_expired(self, client: httpx.AsyncClient, forge) -> None:  # type: ignore[no-untyped-def]
        user_id, *_, make = forge
        past = int(time.time()) - 3600
        detail = await self._assert_401(
            client, user_id, make({"iat": past, "nbf": past, "exp": past + 900})
        )
        assert "expired" in detail

    async def test_not_yet_valid(self, client: httpx.AsyncClient, forge) -> None:  # type: ignore[no-untyped-def]
        user_id, *_, make = forge
        await self._assert_401(client, user_id, make({"nbf": int(time.time()) + 3600}))

    async def test_unknown_kid(self, client: httpx.AsyncClient, forge) -> None:  # type: ignore[no-untyped-def]
        user_id, *_, make = forge
        detail = await self._assert_401(client, user_id, make(header_changes={"kid": "nope"}))
        assert "key" in detail

    async def test_not_an_access_token_type(self, client: httpx.AsyncClient, forge) -> None:  # type: ignore[no-untyped-def]
        user_id, *_, make = forge
        await self._assert_401(client, user_id, make(header_changes={"typ": "JWT"}))

    async def test_tampered_payload(self, client: httpx.AsyncClient, forge) -> None:  # type: ignore[no-untyped-def]
        user_id, token, claims, *_ = forge
        header_part, _, signature = token.split(".")
        tampered_claims = {**claims, "scope": claims["scope"] + " requests:manage"}
        tampered = header_part + "." + _b64(json.dumps(tampered_claims).encode()) + "." + signature
        assert "signature" in await self._assert_401(client, user_id, tampered)

    async def test_not_bearer(self, client: httpx.AsyncClient, forge) -> None:  # type: ignore[no-untyped-def]
        user_id, token, *_ = forge
        response = await client.get(f"/v1/users/{user_id}", headers={"Authorization": token})
        assert response.status_code == 401


class TestAuthorization:
    async def test_missing_scope_is_403(self, client: httpx.AsyncClient, actors: Actors) -> None:
        user_id = await actors.user()
        token = await actors.client_token("partner")
        response = await client.get(f"/v1/users/{user_id}", headers=bearer(token))
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"].endswith("/insufficient-scope")
        assert 'scope="users:read"' in response.headers["www-authenticate"]

    async def test_another_users_id_is_404_like_a_missing_one(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        _, token = await actors.user_with_token()
        other = await actors.user()
        someone_else = await client.get(f"/v1/users/{other}", headers=bearer(token))
        nobody = await client.get(f"/v1/users/{uuid.uuid4()}", headers=bearer(token))
        assert someone_else.status_code == nobody.status_code == 404
        strip = lambda body: {k: v for k, v in body.items() if k not in ("instance", "request_id")}  # noqa: E731
        assert strip(someone_else.json()) == strip(nobody.json())

    async def test_me_and_own_id(self, client: httpx.AsyncClient, actors: Actors) -> None:
        user_id, token = await actors.user_with_token()
        me = await client.get("/v1/users/me", headers=bearer(token))
        own = await client.get(f"/v1/users/{user_id}", headers=bearer(token))
        assert me.status_code == own.status_code == 200
        assert me.json()["id"] == own.json()["id"] == str(user_id)

    async def test_staff_reach_any_user_but_me_is_not_theirs(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        user_id = await actors.user()
        token = await actors.client_token("staff")
        assert (await client.get(f"/v1/users/{user_id}", headers=bearer(token))).status_code == 200
        assert (await client.get("/v1/users/me", headers=bearer(token))).status_code == 404
        missing = await client.get(f"/v1/users/{uuid.uuid4()}", headers=bearer(token))
        assert missing.status_code == 404

    async def test_token_of_a_closed_account_stops_working(
        self, client: httpx.AsyncClient, actors: Actors, db: AsyncSession
    ) -> None:
        user_id, token = await actors.user_with_token()
        await db.execute(update(User).where(User.id == user_id).values(status="closed"))
        response = await client.get("/v1/users/me", headers=bearer(token))
        assert response.status_code == 401


class TestKeyRotation:
    async def test_old_tokens_verify_after_rotation_and_jwks_lists_both(
        self,
        client: httpx.AsyncClient,
        actors: Actors,
        app,
        settings,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:  # type: ignore[no-untyped-def]
        await actors.user("rotation-watcher")
        old_token = (await actors.login("rotation-watcher")).json()["access_token"]
        user_id = _unverified(old_token)[1]["sub"]
        old_kid = _unverified(old_token)[0]["kid"]

        now = datetime.now(UTC)
        new_key = write_key(settings.keys_dir, now + timedelta(seconds=1))
        monkeypatch.setattr(service, "utcnow", lambda: now + timedelta(seconds=2))
        try:
            app.state.auth.keys.load()
            new_token = (await actors.login("rotation-watcher")).json()["access_token"]
            assert _unverified(new_token)[0]["kid"] == new_key.kid
            kids = {k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"]}
            assert {old_kid, new_key.kid} <= kids
            for token in (old_token, new_token):
                response = await client.get(f"/v1/users/{user_id}", headers=bearer(token))
                assert response.status_code == 200
        finally:
            assert new_key.path is not None
            new_key.path.unlink()
            app.state.auth.keys.load()

    def test_new_key_is_published_before_it_signs(self, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
        ring_settings = settings.model_copy(
            update={"jwt_keys_dir": tmp_path, "jwt_key_activation_seconds": 300}
        )
        now = datetime.now(UTC)
        first = write_key(tmp_path, now - timedelta(days=1))
        second = write_key(tmp_path, now)
        ring = KeyRing(ring_settings)
        assert {k["kid"] for k in ring.jwks()["keys"]} == {first.kid, second.kid}
        assert ring.signing_key(now).kid == first.kid
        assert ring.signing_key(now + timedelta(seconds=301)).kid == second.kid

    def test_prune_keeps_keys_until_their_tokens_expire(self, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
        ring_settings = settings.model_copy(
            update={"jwt_keys_dir": tmp_path, "jwt_key_activation_seconds": 0}
        )
        now = datetime.now(UTC)
        old = write_key(tmp_path, now - timedelta(days=2))
        newer = write_key(tmp_path, now - timedelta(minutes=5))
        ring = KeyRing(ring_settings)
        assert ring.prune(timedelta(minutes=15), now) == []  # old signed until 5 minutes ago
        assert ring.prune(timedelta(minutes=15), now + timedelta(minutes=11)) == [old.kid]
        assert {k["kid"] for k in ring.jwks()["keys"]} == {newer.kid}


def test_readme_scope_table_matches_the_code() -> None:
    from app.auth.scopes import markdown_table

    readme = Path("README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- scopes:start (generated by `registry scopes`) -->\n")[1]
    assert section.split("<!-- scopes:end -->")[0] == markdown_table(), "run `registry scopes`"


class TestSessionRevocation:
    async def test_refresh_reuse_also_revokes_the_familys_access_tokens(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        await actors.user("stolen")
        first = (await actors.login("stolen")).json()
        client_id, secret = await actors.frontend_client()
        refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
        rotated = (
            await client.post("/v1/auth/token", data=refresh, auth=(client_id, secret))
        ).json()
        me = await client.get("/v1/users/me", headers=bearer(rotated["access_token"]))
        assert me.status_code == 200

        reuse = await client.post("/v1/auth/token", data=refresh, auth=(client_id, secret))
        assert reuse.status_code == 400
        for token in (first["access_token"], rotated["access_token"]):
            response = await client.get("/v1/users/me", headers=bearer(token))
            assert response.status_code == 401
            assert response.headers["www-authenticate"].startswith("Bearer")

    async def test_a_new_sign_in_is_unaffected(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        await actors.user("two-devices")
        phone = (await actors.login("two-devices")).json()
        laptop = (await actors.login("two-devices")).json()
        client_id, secret = await actors.frontend_client()
        await client.post(
            "/v1/auth/revoke", data={"token": phone["refresh_token"]}, auth=(client_id, secret)
        )
        assert (
            await client.get("/v1/users/me", headers=bearer(phone["access_token"]))
        ).status_code == 401
        assert (
            await client.get("/v1/users/me", headers=bearer(laptop["access_token"]))
        ).status_code == 200


async def test_database_unreachable_is_503_with_retry_after(settings, actors: Actors) -> None:  # type: ignore[no-untyped-def]
    from app.db.session import Database
    from app.main import create_app

    token = await actors.client_token("staff")
    dead_settings = settings.model_copy(update={"db_pool_timeout_seconds": 1.0})
    database = Database.from_settings(
        "postgresql+asyncpg://postgres@127.0.0.1:1/none", dead_settings
    )
    app = create_app(dead_settings, database)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as dead:
        response = await dead.get(f"/v1/users/{uuid.uuid4()}", headers=bearer(token))
    await database.dispose()
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "2"
    assert response.json()["type"].endswith("/database-unavailable")
