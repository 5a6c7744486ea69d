"""C2SP signed notes (c2sp.org/signed-note) carrying C2SP checkpoints (c2sp.org/tlog-checkpoint).

A checkpoint's body is three lines: the log's origin, the tree size in decimal and the root hash in
standard base64. The note is the body, a blank line, and one signature line per signer:
``— <key name> <base64(key id || Ed25519 signature over the body)>``, where the key id is the first
four bytes of ``SHA-256(key name || 0x0A || 0x01 || public key)``. The verifier key an outside
party pins is ``<key name>+<hex key id>+<base64(0x01 || public key)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from app.core.secrets import create_once

_ED25519 = b"\x01"
_DASH = "\u2014 "


class NoteError(ValueError):
    pass


def _key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + _ED25519 + public).digest()[:4]


def _valid_name(name: str) -> bool:
    return bool(name) and not any(c in name for c in " +\n") and name.isprintable()


@dataclass(frozen=True)
class Verifier:
    name: str
    public: bytes

    @property
    def key_id(self) -> bytes:
        return _key_id(self.name, self.public)

    @property
    def vkey(self) -> str:
        key = base64.b64encode(_ED25519 + self.public).decode()
        return f"{self.name}+{self.key_id.hex()}+{key}"

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        try:
            name, key_id, key = vkey.split("+", 2)
            raw = base64.b64decode(key, validate=True)
            claimed = bytes.fromhex(key_id)
        except (ValueError, binascii.Error) as error:
            raise NoteError(f"not a verifier key: {error}") from None
        if len(raw) != 33 or raw[:1] != _ED25519 or not _valid_name(name):
            raise NoteError("not an Ed25519 verifier key")
        verifier = cls(name, raw[1:])
        if verifier.key_id != claimed:
            raise NoteError("the verifier key's id does not match its key")
        return verifier

    def jwk(self) -> dict[str, str]:
        """The public key in a JWKS (RFC 8037). One key may sign under several names, so the
        ``kid`` comes from the key alone."""
        x = base64.urlsafe_b64encode(self.public).rstrip(b"=").decode()
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": x,
            "kid": "checkpoint-" + hashlib.sha256(self.public).hexdigest()[:16],
            "alg": "EdDSA",
            "use": "sig",
        }

    def open(self, note: str) -> str:
        """The body of ``note`` if this key signed it; raises NoteError otherwise."""
        body, signatures = split(note)
        for name, key_id, signature in signatures:
            if name == self.name and key_id == self.key_id:
                try:
                    Ed25519PublicKey.from_public_bytes(self.public).verify(signature, body.encode())
                except InvalidSignature:
                    raise NoteError(f"the signature of {name} does not verify") from None
                return body
        raise NoteError(f"the note is not signed by {self.name}")


class Signer:
    def __init__(self, name: str, key: Ed25519PrivateKey) -> None:
        if not _valid_name(name):
            raise NoteError(f"{name!r} cannot name a note key")
        self.name = name
        self._key = key
        public = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.verifier = Verifier(name, public)

    def sign(self, body: str) -> str:
        if not body.endswith("\n") or "\n\n" in body:
            raise NoteError("a note's text ends with a newline and has no blank line")
        signature = self._key.sign(body.encode())
        line = base64.b64encode(self.verifier.key_id + signature).decode()
        return f"{body}\n{_DASH}{self.name} {line}\n"


def split(note: str) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """The body and the (key name, key id, signature) of each signature line."""
    body, sep, rest = note.rpartition("\n\n")
    if not sep or not rest.endswith("\n"):
        raise NoteError("not a signed note: no blank line before the signatures")
    signatures = []
    for line in rest[:-1].split("\n"):
        if not line.startswith(_DASH):
            raise NoteError("a signature line starts with an em dash")
        try:
            name, encoded = line[len(_DASH) :].split(" ")
            raw = base64.b64decode(encoded, validate=True)
        except (ValueError, binascii.Error):
            raise NoteError("a signature line is malformed") from None
        if len(raw) < 5:
            raise NoteError("a signature line is too short")
        signatures.append((name, raw[:4], raw[4:]))
    return body + "\n", signatures


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        lines = body.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise NoteError("a checkpoint has an origin, a size and a root hash")
        origin, size, root = lines[0], lines[1], lines[2]
        if not re.fullmatch(r"0|[1-9][0-9]*", size):
            raise NoteError("the tree size is not a decimal number")
        try:
            raw = base64.b64decode(root, validate=True)
        except binascii.Error:
            raise NoteError("the root hash is not base64") from None
        if len(raw) != 32 or not origin:
            raise NoteError("the root hash is not 32 bytes")
        return cls(origin, int(size), raw)


def load_or_create_key(path: Path, *, create: bool) -> Ed25519PrivateKey:
    """The checkpoint signing key from a PKCS#8 PEM file, created (mode 0600) the first time
    when that is allowed."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise NoteError(f"{path} is not an Ed25519 key")
        return key
    if not create:
        raise NoteError(
            f"{path} is missing: set REGISTRY_TRANSPARENCY_SIGNING_KEY or "
            "REGISTRY_GENERATE_KEYS=true"
        )
    generated = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    create_once(path, generated)  # another process may have made it first: theirs is kept
    return load_or_create_key(path, create=False)


def key_from_pem(pem: str) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise NoteError("REGISTRY_TRANSPARENCY_SIGNING_KEY is not an Ed25519 key")
    return key
