"""The registry's transparency logs: which table each is over, its origin, and the key that signs
its checkpoints. Everything else (the sequencer, proofs, verification, the export) reads this."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.audit.entries import TransparentLog
from app.audit.models import AccessLogEntry, DisclosureLogEntry
from app.audit.note import Signer, Verifier, key_from_pem, load_or_create_key
from app.core.settings import Settings


@dataclass(frozen=True)
class Log:
    id: int  # the `log` column of the tree tables
    name: str  # in paths and on the command line
    model: type[TransparentLog]

    @property
    def table(self) -> str:
        return str(self.model.__tablename__)


DISCLOSURE_LOG = Log(1, "disclosure-log", DisclosureLogEntry)
ACCESS_LOG = Log(2, "access-log", AccessLogEntry)
LOGS: dict[str, Log] = {log.name: log for log in (DISCLOSURE_LOG, ACCESS_LOG)}
BY_ID: dict[int, Log] = {log.id: log for log in LOGS.values()}
# The sequencer's session-level advisory lock: one holder across every process and instance.
SEQUENCER_LOCK = 7_300_001


class UnknownLog(ValueError):
    pass


def by_name(name: str) -> Log:
    try:
        return LOGS[name]
    except KeyError:
        raise UnknownLog(f"no log {name!r}: one of {', '.join(LOGS)}") from None


class Origins:
    """Each log's checkpoint origin (and key name): the configured prefix and the log's name."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix.rstrip("/")

    def origin(self, log: Log) -> str:
        return f"{self.prefix}/{log.name}"


class Verifiers(Origins):
    """The logs' public keys as an outside auditor holds them (note verifier keys, named by
    each log's origin): enough to verify, nothing to sign with."""

    def __init__(self, prefix: str, keys: Iterable[Verifier]) -> None:
        super().__init__(prefix)
        self._by_name = {key.name: key for key in keys}

    def verifier(self, log: Log) -> Verifier:
        try:
            return self._by_name[self.origin(log)]
        except KeyError:
            raise UnknownLog(f"no verifier key named {self.origin(log)}") from None


class Signers(Origins):
    """The checkpoint key, named after each log's origin (C2SP: the key name is the origin)."""

    def __init__(self, settings: Settings, *, create: bool | None = None) -> None:
        super().__init__(settings.transparency_origin)
        key: Ed25519PrivateKey
        if settings.transparency_signing_key is not None:
            key = key_from_pem(settings.transparency_signing_key.get_secret_value())
        else:
            key = load_or_create_key(
                settings.data_dir / "transparency-ed25519.pem",
                create=settings.may_generate_keys if create is None else create,
            )
        self._signers = {log.id: Signer(self.origin(log), key) for log in LOGS.values()}

    def signer(self, log: Log) -> Signer:
        return self._signers[log.id]

    def verifier(self, log: Log) -> Verifier:
        return self._signers[log.id].verifier

    def jwk(self) -> dict[str, str]:
        return self._signers[DISCLOSURE_LOG.id].verifier.jwk()
