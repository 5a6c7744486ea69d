"""Encryption of personal identity codes: AES-256-GCM under a key id (so keys can rotate), the user
id as associated data (a ciphertext cannot be moved to another user), and a keyed HMAC for exact
lookup. The plain code lives only in memory, never in logs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.dependencies import Principal, ProcessingRestricted, may_read_restricted
from app.core.secrets import load_or_create_secret
from app.core.settings import Settings
from app.core.validators import mask_identity_code
from app.users import history
from app.users.models import IdentityCode, User
from app.users.schemas import IdentityCodeRead, IdentityCodeSet, IdentityCodeStatus
from app.users.service import (
    AccountNotActive,
    AnyUserRead,
    FieldNotApplicable,
    IdentityCodeNotHeld,
    IdentityCodeTaken,
    get_user,
    require_user,
)


@dataclass(frozen=True)
class Sealed:
    key_id: str
    nonce: bytes
    ciphertext: bytes


# Sorts before every generated key id (a time): a rotated key takes over from it.
FIRST_KEY_ID = "00000000T000000Z-first"


_KEY_TIME = "%Y%m%dT%H%M%SZ"


def key_created_at(key_id: str) -> datetime | None:
    """The time a key id starts with (``20261126T120000Z-...``), if it does."""
    try:
        return datetime.strptime(key_id.split("-", 1)[0], _KEY_TIME).replace(tzinfo=UTC)
    except ValueError:
        return None


class IdentityCodeCipher:
    """Every configured key opens; the newest *active* key seals. A key whose id starts with its
    creation time becomes active ``activation`` after it, so that a key added to every instance
    one by one (a rolling deploy) seals nothing before all of them can open it; other ids are
    active at once."""

    def __init__(
        self, keys: dict[str, bytes], index_key: bytes, activation: timedelta = timedelta(0)
    ) -> None:
        if not keys:
            raise ValueError("no identity-code encryption key")
        self._keys = {kid: AESGCM(key) for kid, key in keys.items()}
        # When each key starts sealing (None: at once).
        self._active_from = {
            kid: None if (created := key_created_at(kid)) is None else created + activation
            for kid in keys
        }
        self._index_key = index_key

    @property
    def active_key_id(self) -> str:
        now = datetime.now(UTC)
        active = [kid for kid, start in self._active_from.items() if start is None or start <= now]
        # Key ids sort by creation time; before any is active, the oldest seals.
        return max(active) if active else min(self._keys)

    @classmethod
    def from_settings(cls, settings: Settings) -> IdentityCodeCipher:
        keys: dict[str, bytes] = {}
        if settings.identity_code_keys is not None:
            given = json.loads(settings.identity_code_keys.get_secret_value())
            keys = {kid: base64.b64decode(value) for kid, value in given.items()}
        else:
            directory = settings.data_dir / "identity-code-keys"
            if not directory.exists() or not any(directory.glob("*.key")):
                if not settings.may_generate_keys:
                    raise ValueError(
                        f"no identity-code keys in {directory}: set "
                        "REGISTRY_IDENTITY_CODE_KEYS or REGISTRY_GENERATE_KEYS=true"
                    )
                # The first key has a fixed id: instances starting together on a shared
                # directory make it once, and all encrypt with the same key.
                load_or_create_secret(directory / f"{FIRST_KEY_ID}.key")
            for path in sorted(directory.glob("*.key")):
                keys[path.stem] = bytes.fromhex(path.read_text(encoding="ascii").strip())
        for kid, key in keys.items():
            if len(key) != 32:
                raise ValueError(f"identity-code key {kid} is not 256 bits")
        if settings.identity_code_index_key is not None:
            index_key = hashlib.sha256(
                settings.identity_code_index_key.get_secret_value().encode()
            ).digest()
        else:
            index_key = load_or_create_secret(
                settings.data_dir / "identity-code-index.key",
                create=settings.may_generate_keys,
                setting="REGISTRY_IDENTITY_CODE_INDEX_KEY",
            )
        return cls(
            keys, index_key, timedelta(seconds=settings.identity_code_key_activation_seconds)
        )

    def seal(self, user_id: uuid.UUID, code: str) -> Sealed:
        nonce = os.urandom(12)
        ciphertext = self._keys[self.active_key_id].encrypt(nonce, code.encode(), user_id.bytes)
        return Sealed(self.active_key_id, nonce, ciphertext)

    def open(self, user_id: uuid.UUID, sealed: Sealed) -> str:
        key = self._keys.get(sealed.key_id)
        if key is None:
            raise LookupError(f"identity-code key {sealed.key_id} is not configured")
        return key.decrypt(sealed.nonce, sealed.ciphertext, user_id.bytes).decode()

    def lookup_hash(self, code: str) -> str:
        return hmac.new(self._index_key, code.encode(), hashlib.sha256).hexdigest()


async def find_by_identity_code(
    session: AsyncSession, principal: Principal, cipher: IdentityCodeCipher, code: str
) -> list[AnyUserRead]:
    user_id = (
        await session.execute(
            select(IdentityCode.user_id).where(IdentityCode.lookup_hash == cipher.lookup_hash(code))
        )
    ).scalar_one_or_none()
    if user_id is None:
        return []
    restricted = await session.scalar(select(User.restricted_at).where(User.id == user_id))
    if restricted is not None and not may_read_restricted(principal):
        raise ProcessingRestricted(
            "This user's data is restricted (GDPR Art. 18): only the data protection officer's "
            "handling of the person's requests may read it."
        )
    await audit.log_access(
        session,
        principal,
        [user_id],
        ["basic_data", "identity_code"],
        "search_by_identity_code",
        principal.request_id,
    )
    return [await get_user(session, user_id)]


async def set_identity_code(
    session: AsyncSession,
    principal: Principal,
    cipher: IdentityCodeCipher,
    user_id: uuid.UUID,
    body: IdentityCodeSet,
) -> IdentityCodeStatus:
    if await require_user(session, user_id, lock=True) != "active":
        raise AccountNotActive("The account is closed or erased.")
    kind = (await session.execute(select(User.kind).where(User.id == user_id))).scalar_one()
    if kind != "private":
        raise FieldNotApplicable("Identity codes are for private users only.")
    lookup = cipher.lookup_hash(body.identity_code)
    holder = (
        await session.execute(
            select(IdentityCode.user_id).where(IdentityCode.lookup_hash == lookup)
        )
    ).scalar_one_or_none()
    if holder is not None and holder != user_id:
        raise IdentityCodeTaken("This identity code is held for another user.")
    sealed = cipher.seal(user_id, body.identity_code)
    values = {
        "ciphertext": sealed.ciphertext,
        "nonce": sealed.nonce,
        "key_id": sealed.key_id,
        "lookup_hash": lookup,
        "masked": mask_identity_code(body.identity_code),
        "method": body.method,
        "verified_at": datetime.now(UTC),
    }
    existed = await session.get(IdentityCode, user_id)
    try:
        async with session.begin_nested():
            if existed is None:
                await session.execute(insert(IdentityCode).values(user_id=user_id, **values))
            else:
                await session.execute(
                    update(IdentityCode).where(IdentityCode.user_id == user_id).values(**values)
                )
    except IntegrityError:
        # Stored for another user between the check above and this write.
        raise IdentityCodeTaken("This identity code is held for another user.") from None
    await history.record_change(
        session,
        user_id,
        source=principal.source,
        actor=principal.actor(),
        category="identity_code",
        action="updated" if existed else "created",
        # The code itself never goes into the history; only that it changed and how it was verified.
        changes={
            "identity_code": ("set" if existed else None, "changed"),
            "method": (None, body.method),
        },
        request_id=principal.request_id,
    )
    return IdentityCodeStatus(
        masked=str(values["masked"]),
        method=body.method,
        verified_at=values["verified_at"],
    )


async def read_identity_code(
    session: AsyncSession, principal: Principal, cipher: IdentityCodeCipher, user_id: uuid.UUID
) -> IdentityCodeRead:
    await require_user(session, user_id)
    row = (
        await session.execute(select(IdentityCode).where(IdentityCode.user_id == user_id))
    ).scalar_one_or_none()
    if row is None:
        raise IdentityCodeNotHeld("No identity code is held for this user.")
    code = cipher.open(user_id, Sealed(row.key_id, row.nonce, row.ciphertext))
    await audit.log_access(
        session, principal, [user_id], ["identity_code"], "read_identity_code", principal.request_id
    )
    return IdentityCodeRead(identity_code=code, method=row.method, verified_at=row.verified_at)
