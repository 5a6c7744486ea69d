"""Password resets: how imported users (no password) first sign in, and how anyone recovers."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import Credential, PasswordReset, RefreshToken
from app.users.models import UserChange
from tests.conftest import Actors, bearer

NEW_PASSWORD = "uusi pitkä salasana 2026"


async def _frontend(actors: Actors) -> dict[str, str]:
    return bearer(await actors.client_token("frontend"))


async def _passwordless(actors: Actors, db: AsyncSession, email: str = "maija@example.fi") -> str:
    """A user as an import leaves them: a username, an e-mail address, no password."""
    username = f"imported-{uuid.uuid4().hex[:8]}"
    user_id = await actors.user(username, email=email)
    await db.execute(
        update(Credential).where(Credential.user_id == user_id).values(password_hash=None)
    )
    return username


async def test_an_imported_user_sets_a_password_and_signs_in(
    client: httpx.AsyncClient, actors: Actors, db: AsyncSession
) -> None:
    username = await _passwordless(actors, db)
    # No password: no sign-in, whatever is typed.
    assert (await actors.login(username, "")).status_code == 400
    assert (await actors.login(username, "anything at all")).status_code == 400

    frontend = await _frontend(actors)
    issued = await client.post(
        "/v1/auth/password-reset", json={"username": username.upper()}, headers=frontend
    )
    assert issued.status_code == 202, issued.text
    assert issued.headers["cache-control"] == "no-store"
    [reset] = issued.json()["resets"]
    assert reset["username"] == username and reset["email"] == "maija@example.fi"
    # Only a hash of the token is stored.
    stored = (await db.scalars(select(PasswordReset.token_hash))).all()
    assert reset["token"] not in stored and len(stored) == 1

    done = await client.post(
        "/v1/auth/password-reset/confirm",
        json={"token": reset["token"], "password": NEW_PASSWORD},
        headers=frontend,
    )
    assert done.status_code == 204, done.text
    assert (await actors.login(username, NEW_PASSWORD)).status_code == 200
    change = (
        await db.scalars(select(UserChange).where(UserChange.category == "credentials"))
    ).one()
    assert change.action == "password_reset"
    assert change.changes == {"password": {"from": None, "to": "changed"}}
    assert NEW_PASSWORD not in str(change.changes)

    # Single use.
    again = await client.post(
        "/v1/auth/password-reset/confirm",
        json={"token": reset["token"], "password": "yet another password"},
        headers=frontend,
    )
    assert again.status_code == 400
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["type"].endswith("/invalid-reset-token")
    assert (await actors.login(username, NEW_PASSWORD)).status_code == 200


async def test_by_email_unknown_and_expired(
    client: httpx.AsyncClient, actors: Actors, db: AsyncSession
) -> None:
    frontend = await _frontend(actors)
    await _passwordless(actors, db, email="Same.Person@Example.fi")
    await _passwordless(actors, db, email="same.person@example.fi")
    by_email = await client.post(
        "/v1/auth/password-reset", json={"email": "same.person@EXAMPLE.fi"}, headers=frontend
    )
    assert by_email.status_code == 202
    assert len(by_email.json()["resets"]) == 2

    # The same answer, with nothing in it, for an account that does not exist.
    nobody = await client.post(
        "/v1/auth/password-reset", json={"username": "no-such-user"}, headers=frontend
    )
    assert nobody.status_code == 202 and nobody.json() == {"resets": []}

    both = await client.post(
        "/v1/auth/password-reset",
        json={"username": "x-user", "email": "a@example.fi"},
        headers=frontend,
    )
    assert both.status_code == 422
    assert "exactly one" in both.text

    username = await _passwordless(actors, db, email="late@example.fi")
    [reset] = (
        await client.post("/v1/auth/password-reset", json={"username": username}, headers=frontend)
    ).json()["resets"]
    await db.execute(update(PasswordReset).values(expires_at=PasswordReset.created_at))
    expired = await client.post(
        "/v1/auth/password-reset/confirm",
        json={"token": reset["token"], "password": NEW_PASSWORD},
        headers=frontend,
    )
    assert expired.status_code == 400
    hashes = (await db.scalars(select(Credential.password_hash))).all()
    assert None in hashes  # nothing set


async def test_asking_again_never_cancels_a_token_and_a_reset_ends_the_rest(
    client: httpx.AsyncClient, actors: Actors, db: AsyncSession
) -> None:
    frontend = await _frontend(actors)
    username = f"known-{uuid.uuid4().hex[:8]}"
    user_id = await actors.user(username, email="known@example.fi")
    assert (await actors.login(username)).status_code == 200

    async def ask() -> str:
        answer = await client.post(
            "/v1/auth/password-reset", json={"username": username}, headers=frontend
        )
        return str(answer.json()["resets"][0]["token"])

    first = await ask()
    # Someone else asking for the same account does not cancel the person's link.
    second = await ask()
    new = await client.post(
        "/v1/auth/password-reset/confirm",
        json={"token": first, "password": NEW_PASSWORD},
        headers=frontend,
    )
    assert new.status_code == 204
    # Once the password is set, the other links stop working.
    old = await client.post(
        "/v1/auth/password-reset/confirm",
        json={"token": second, "password": "another password 2026"},
        headers=frontend,
    )
    assert old.status_code == 400
    sessions = (
        await db.scalars(select(RefreshToken.revoked_at).where(RefreshToken.user_id == user_id))
    ).all()
    assert sessions and all(revoked is not None for revoked in sessions)
    assert (await actors.login(username)).status_code == 400
    assert (await actors.login(username, NEW_PASSWORD)).status_code == 200


async def test_throttled_like_sign_in(
    client: httpx.AsyncClient, actors: Actors, db: AsyncSession, app
) -> None:  # type: ignore[no-untyped-def]
    frontend = await _frontend(actors)
    # Requests: per account and address, per account from all addresses, per address.
    settings = app.state.auth.settings
    pair = settings.password_resets_per_account_and_address_per_hour
    same_place = [
        await client.post(
            "/v1/auth/password-reset",
            json={"username": "target-user"},
            headers={**frontend, "X-Forwarded-For": "198.51.100.1"},
        )
        for _ in range(pair + 1)
    ]
    assert [a.status_code for a in same_place] == [202] * pair + [429]
    assert "retry-after" in same_place[-1].headers
    # The person, elsewhere, still gets theirs.
    elsewhere = await client.post(
        "/v1/auth/password-reset",
        json={"username": "target-user"},
        headers={**frontend, "X-Forwarded-For": "203.0.113.9"},
    )
    assert elsewhere.status_code == 202
    limit = settings.password_resets_per_account_per_hour
    spread = [
        await client.post(
            "/v1/auth/password-reset",
            json={"username": "other-user"},
            headers={**frontend, "X-Forwarded-For": f"198.51.100.{n + 10}"},
        )
        for n in range(limit + 1)
    ]
    assert [a.status_code for a in spread] == [202] * limit + [429]

    # Wrong tokens: the guessing address backs off as a failed sign-in does; others do not.
    free = app.state.auth.settings.login_free_failures
    guesses = [
        await client.post(
            "/v1/auth/password-reset/confirm",
            json={"token": "x" * 43, "password": NEW_PASSWORD},
            headers={**frontend, "X-Forwarded-For": "192.0.2.66"},
        )
        for _ in range(free + 1)
    ]
    assert [g.status_code for g in guesses] == [400] * free + [429]
    username = await _passwordless(actors, db, email="elsewhere@example.fi")
    [reset] = (
        await client.post(
            "/v1/auth/password-reset",
            json={"username": username},
            headers={**frontend, "X-Forwarded-For": "192.0.2.77"},
        )
    ).json()["resets"]
    elsewhere = await client.post(
        "/v1/auth/password-reset/confirm",
        json={"token": reset["token"], "password": NEW_PASSWORD},
        headers={**frontend, "X-Forwarded-For": "192.0.2.77"},
    )
    assert elsewhere.status_code == 204


async def test_only_the_frontend_resets(client: httpx.AsyncClient, actors: Actors, staff) -> None:  # type: ignore[no-untyped-def]
    answer = await client.post(
        "/v1/auth/password-reset", json={"username": "someone"}, headers=staff
    )
    assert answer.status_code == 403
    _, token = await actors.user_with_token()
    mine = await client.post(
        "/v1/auth/password-reset", json={"username": "someone"}, headers=bearer(token)
    )
    assert mine.status_code == 403
