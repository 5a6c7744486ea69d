"""Encryption of personal identity codes: AES-256-GCM under a key id (so keys can rotate), the user
id as associated data (a ciphertext cannot be moved to another user), and a keyed HMAC for exact
lookup. The plain code lives only in memory, never in logs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.core.secrets import load_or_create_secret
from app.core.settings import Settings


@dataclass(frozen=True)
class Sealed:
    key_id: str
    nonce: bytes
    ciphertext: bytes


def new_key_file(directory: Path) -> str:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(4)
    load_or_create_secret(directory / f"{key_id}.key")
    return key_id


class IdentityCodeCipher:
    def __init__(self, keys: dict[str, bytes], index_key: bytes) -> None:
        if not keys:
            raise ValueError("no identity-code encryption key")
        self._keys = {kid: AESGCM(key) for kid, key in keys.items()}
        self.active_key_id = max(keys)  # key ids sort by creation time
        self._index_key = index_key

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
                new_key_file(directory)
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
        return cls(keys, index_key)

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
