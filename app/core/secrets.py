"""The service's own secret for keyed hashes (HMAC-SHA-256) of values that must be matched but not
stored in the clear: client addresses, usernames in throttling keys."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path

from app.core.settings import Settings


class MissingSecret(RuntimeError):
    pass


def create_once(path: Path, content: bytes) -> bytes:
    """Writes ``content`` to ``path`` (mode 0600) unless it exists; returns what is there.

    Whole or not at all, and once: the content goes to a temporary file that is then hard-linked
    into place, so a process reading ``path`` never sees it half-written, and of several
    processes making it at once (workers, instances on a shared directory) one wins and the
    others read the winner's."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return path.read_bytes()
        except OSError:  # a filesystem without hard links: created exclusively, written at once
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                return path.read_bytes()
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
        _sync_directory(path.parent)
        return content
    finally:
        os.unlink(temporary)


def _sync_directory(directory: Path) -> None:
    """The new name survives a crash, as the content does."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_or_create_secret(path: Path, *, create: bool = True, setting: str = "") -> bytes:
    """Reads a 32-byte secret from ``path``, creating it (mode 0600) the first time if allowed."""
    if path.exists():
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    if not create:
        raise MissingSecret(
            f"{path} is missing: set {setting or 'the secret'} or REGISTRY_GENERATE_KEYS=true"
        )
    stored = create_once(path, secrets.token_bytes(32).hex().encode("ascii"))
    return bytes.fromhex(stored.decode("ascii").strip())


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
