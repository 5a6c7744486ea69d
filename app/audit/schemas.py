"""Shapes of the transparency logs' checkpoints, proofs and entries. Hashes are standard base64,
as in the C2SP checkpoint they are checked against."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from app.core.pagination import PageInfo

HASH = "SHA-256, standard base64."


class CheckpointRead(BaseModel):
    log: str = Field(description="`disclosure-log` or `access-log`.")
    origin: str = Field(description="The log's origin, the checkpoint's first line.")
    tree_size: int = Field(description="Entries in the tree.")
    root_hash: str = Field(description=f"RFC 9162 root of the tree ({HASH}).")
    note: str = Field(
        description="The C2SP checkpoint as a signed note (Ed25519): keep it, and check it with "
        "`verifier_key`. `Accept: text/plain` returns only this."
    )
    verifier_key: str = Field(
        description="The note verifier key (`<name>+<key id>+<base64 key>`); the same public "
        "key is in /.well-known/jwks.json (`kty` OKP)."
    )
    created_at: datetime = Field(description="When the sequencer signed it.")


class InclusionProof(BaseModel):
    log: str = Field(description="`disclosure-log` or `access-log`.")
    entry_id: int = Field(description="The entry's id in the log.")
    leaf_index: int = Field(description="Its leaf in the tree.")
    tree_size: int = Field(description="The tree the proof is against.")
    leaf_hash: str = Field(description=f"SHA-256(0x00 || entry bytes) ({HASH}).")
    hashes: list[str] = Field(description=f"The RFC 9162 inclusion path, leaf first ({HASH}).")
    root_hash: str = Field(description=f"The root of that tree ({HASH}).")
    checkpoint: str | None = Field(
        description="The signed checkpoint of that tree size, when one was published for it."
    )


class ConsistencyProof(BaseModel):
    log: str = Field(description="`disclosure-log` or `access-log`.")
    first: int = Field(description="The older tree size.")
    second: int = Field(description="The newer tree size.")
    hashes: list[str] = Field(description=f"The RFC 9162 consistency proof ({HASH}).")
    first_root: str = Field(description=f"Root of the older tree ({HASH}).")
    second_root: str = Field(description=f"Root of the newer tree ({HASH}).")


class LogEntryRead(BaseModel):
    leaf_index: int = Field(description="Its leaf in the tree.")
    entry_id: int = Field(description="The entry's id in the log.")
    leaf_hash: str = Field(description=f"SHA-256(0x00 || entry) ({HASH}).")
    entry: str = Field(
        description="The entry bytes the leaf hash is over: canonical JSON (sorted keys, no "
        "spaces, UTC timestamps), as UTF-8 text."
    )


class LogEntryPage(PageInfo):
    items: list[LogEntryRead] = Field(description="Entries by leaf index.")


class ExportEntryProof(BaseModel):
    entry_id: int = Field(description="The disclosure entry (the `id` of its row above).")
    leaf_index: int = Field(description="Its leaf in the tree.")
    entry: str = Field(
        description="The entry bytes its leaf hash, SHA-256(0x00 || entry), is over (UTF-8)."
    )
    hashes: list[str] = Field(description="Inclusion path against `checkpoint`, leaf first.")


class ExportTransparency(BaseModel):
    """The person's disclosure entries proven to be in the signed disclosure log."""

    log: str = Field(description="`disclosure-log`.")
    checkpoint: str | None = Field(description="The signed checkpoint the proofs are against.")
    verifier_key: str = Field(description="The key that signed it.")
    tree_size: int = Field(description="Its tree size.")
    root_hash: str = Field(description=f"Its root ({HASH}).")
    entries: list[ExportEntryProof] = Field(description="One inclusion proof per entry.")
    pending: list[int] = Field(
        description="Entries written too recently to be in that checkpoint (within a second)."
    )
    how_to_verify: str = Field(description="How to check the proofs offline.")
