"""The service's own secret for keyed hashes (HMAC-SHA-256) of values that must be matched but not
stored in the clear: client addresses, usernames in throttling keys."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from app.core.settings import Settings


class MissingSecret(RuntimeError):
    pass


def load_or_create_secret(path: Path, *, create: bool = True, setting: str = "") -> bytes:
    """Reads a 32-byte secret from ``path``, creating it (mode 0600) the first time if allowed."""
    if path.exists():
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    if not create:
        raise MissingSecret(
            f"{path} is missing: set {setting or 'the secret'} or REGISTRY_GENERATE_KEYS=true"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(value.hex())
    return value


def service_secret(settings: Settings) -> bytes:
    if settings.secret_key is not None:
        return hashlib.sha256(settings.secret_key.get_secret_value().encode()).digest()
    return load_or_create_secret(
        settings.data_dir / "secret.key",
        create=settings.may_generate_keys,
        setting="REGISTRY_SECRET_KEY",
    )


class KeyedHasher:
    """HMAC-SHA-256 under the service secret, separated by purpose."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def digest(self, purpose: str, value: str) -> str:
        message = f"{purpose}\x00{value}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()
