"""Signing keys: a directory of ``<kid>.pem`` files (and optionally one key from the environment).

Rotation (``registry keys rotate``) adds a key. Every key in the directory is published in the JWKS
at once, but a new key signs only after ``jwt_key_activation_seconds``, so that clients caching the
JWKS know it before they meet it. The newest active key signs. Old keys keep verifying until they
are pruned (``registry keys prune``), which keeps those that signed within the longest token
lifetime.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.auth.tokens import JoseKey
from app.core.secrets import create_once
from app.core.settings import Settings

_KID_TIME_FORMAT = "%Y%m%dT%H%M%SZ"
# A token naming a key this process has not loaded makes it look again, at most this often.
_UNKNOWN_KID_RELOAD_SECONDS = 1.0


@dataclass(frozen=True)
class KeyInfo:
    kid: str
    created_at: datetime
    path: Path | None


def new_kid(now: datetime) -> str:
    return f"{now.strftime(_KID_TIME_FORMAT)}-{secrets.token_hex(4)}"


def kid_created_at(kid: str) -> datetime | None:
    try:
        return datetime.strptime(kid.split("-", 1)[0], _KID_TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def generate_private_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_key(directory: Path, now: datetime | None = None) -> KeyInfo:
    """Creates a new key file (mode 0600) in ``directory``."""
    now = now or datetime.now(UTC)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    kid = new_kid(now)
    path = directory / f"{kid}.pem"
    # Whole or not at all: the workers of every instance read this directory.
    create_once(path, generate_private_pem())
    return KeyInfo(kid=kid, created_at=now.replace(microsecond=0), path=path)


def _thumbprint_kid(pem: bytes) -> str:
    """An RFC 7638 thumbprint of the public key, for a key given without a name."""
    public = serialization.load_pem_private_key(pem, password=None).public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    numbers = public.public_numbers()

    def b64(value: int) -> str:
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    canonical = json.dumps(
        {"e": b64(numbers.e), "kty": "RSA", "n": b64(numbers.n)}, separators=(",", ":")
    )
    return (
        "env-"
        + base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest())
        .rstrip(b"=")
        .decode()[:16]
    )


class KeyRing:
    def __init__(self, settings: Settings) -> None:
        self.directory = settings.keys_dir
        self.activation = timedelta(seconds=settings.jwt_key_activation_seconds)
        self._env_pem = (
            settings.jwt_private_key_pem.get_secret_value().encode()
            if settings.jwt_private_key_pem
            else None
        )
        self.reload_seconds = settings.jwt_keys_reload_seconds
        self._keys: dict[str, JoseKey] = {}
        self._info: dict[str, KeyInfo] = {}
        self._loaded_at = 0.0
        self.load()

    def load(self) -> None:
        keys: dict[str, JoseKey] = {}
        info: dict[str, KeyInfo] = {}
        if self.directory.exists():
            for path in sorted(self.directory.glob("*.pem")):
                created = kid_created_at(path.stem)
                if created is None:
                    continue
                try:
                    pem = path.read_bytes()
                except FileNotFoundError:  # pruned by another process since the listing
                    continue
                keys[path.stem] = JoseKey(path.stem, pem)
                info[path.stem] = KeyInfo(path.stem, created, path)
        if self._env_pem is not None:
            kid = _thumbprint_kid(self._env_pem)
            keys[kid] = JoseKey(kid, self._env_pem)
            info[kid] = KeyInfo(kid, datetime.min.replace(tzinfo=UTC), None)
        self._keys, self._info = keys, info
        self._loaded_at = time.monotonic()

    def ensure_key(self, may_generate: bool) -> None:
        """Generates the first key when none is configured and that is allowed (the embedded
        default); otherwise refuses to start without one."""
        if not self._keys:
            if not may_generate:
                raise RuntimeError(
                    f"no signing key in {self.directory}: run `registry keys rotate`, set "
                    "REGISTRY_JWT_PRIVATE_KEY_PEM, or REGISTRY_GENERATE_KEYS=true"
                )
            write_key(self.directory)
            self.load()

    def reload_if_stale(self, older_than: float | None = None) -> None:
        limit = self.reload_seconds if older_than is None else older_than
        if time.monotonic() - self._loaded_at >= limit:
            self.load()
            if not self._keys:
                raise RuntimeError(f"no signing keys left in {self.directory}")

    def verifying_key(self, kid: str) -> JoseKey | None:
        # Keys added or pruned by another process (`registry keys rotate`, another instance on
        # the same key directory) are seen within the reload interval; a token signed by a key
        # this process has not seen yet makes it look at once (at most once a second).
        self.reload_if_stale()
        if kid not in self._keys:
            self.reload_if_stale(_UNKNOWN_KID_RELOAD_SECONDS)
        return self._keys.get(kid)

    def signing_key(self, now: datetime | None = None) -> JoseKey:
        self.reload_if_stale()
        if self._env_pem is not None:
            return self._keys[_thumbprint_kid(self._env_pem)]
        if not self._info:
            raise RuntimeError("no signing key: run `registry keys rotate`")
        now = now or datetime.now(UTC)
        ordered = sorted(self._info.values(), key=lambda k: k.created_at)
        active = [k for k in ordered if k.created_at + self.activation <= now]
        chosen = active[-1] if active else ordered[0]
        return self._keys[chosen.kid]

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [self._keys[kid].public_jwk for kid in sorted(self._keys)]}

    def describe(self, now: datetime | None = None) -> list[dict[str, object]]:
        signer = self.signing_key(now).kid if self._keys else None
        return [
            {
                "kid": info.kid,
                "created_at": info.created_at.isoformat(),
                "signing": info.kid == signer,
                "source": str(info.path) if info.path else "REGISTRY_JWT_PRIVATE_KEY_PEM",
            }
            for info in sorted(self._info.values(), key=lambda k: k.created_at)
        ]

    def prune(self, keep_for: timedelta, now: datetime | None = None) -> list[str]:
        """Deletes directory keys that stopped signing more than ``keep_for`` ago."""
        now = now or datetime.now(UTC)
        signer = self.signing_key(now).kid
        ordered = sorted(
            (k for k in self._info.values() if k.path is not None), key=lambda k: k.created_at
        )
        removed: list[str] = []
        for older, newer in itertools.pairwise(ordered):
            if older.kid == signer:
                break
            # `older` stopped signing when `newer` became active.
            if newer.created_at + self.activation + keep_for <= now and older.path:
                older.path.unlink()
                removed.append(older.kid)
        self.load()
        return removed
