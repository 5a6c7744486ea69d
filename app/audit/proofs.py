"""What the transparency endpoints and the access export answer: checkpoints, inclusion and
consistency proofs, and entries by leaf index. A person may prove only their own disclosure
entries; everything else is the DPO's (``transparency:audit``)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncGenerator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import merkle, tree
from app.audit.logs import DISCLOSURE_LOG, Log, Signers
from app.audit.schemas import (
    CheckpointRead,
    ConsistencyProof,
    InclusionProof,
    LogEntryPage,
    LogEntryRead,
)
from app.auth.dependencies import Principal
from app.core.errors import AppError, Forbidden, NotFound
from app.db import raw

HOW_TO_VERIFY = (
    "Each entry's leaf hash is SHA-256 of the byte 0x00 followed by `entry` (UTF-8). Its "
    "`hashes` lead, by RFC 9162 section 2.1.3.2, from that leaf at `leaf_index` to the root "
    "hash of the tree of `tree_size` leaves, which `checkpoint` states and signs (a C2SP signed "
    "note; verify it with `verifier_key`). Later checkpoints are at "
    "GET /v1/transparency/disclosure-log/checkpoint; a consistency proof between the two sizes "
    "(GET /v1/transparency/disclosure-log/proofs/consistency) shows the log only grew."
)


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


class NotInTree(NotFound):
    type = "not-in-tree"
    title = "Not in the tree"


class TreeSizeOutOfRange(AppError):
    status = 422
    type = "tree-size-out-of-range"
    title = "No such tree size"


class NoCheckpointYet(NotFound):
    type = "no-checkpoint-yet"
    title = "No checkpoint yet"


async def _latest(connection: Any, log: Log) -> tree.StoredCheckpoint:
    latest = await tree.latest_checkpoint(connection, log)
    if latest is None:
        raise NoCheckpointYet(f"The {log.name} has no signed checkpoint yet.")
    return latest


async def checkpoint(session: AsyncSession, signers: Signers, log: Log) -> CheckpointRead:
    connection = await raw.driver(session)
    latest = await _latest(connection, log)
    return CheckpointRead(
        log=log.name,
        origin=signers.origin(log),
        tree_size=latest.tree_size,
        root_hash=b64(latest.root_hash),
        note=latest.note,
        verifier_key=signers.verifier(log).vkey,
        created_at=latest.created_at,
    )


async def _tree_size(connection: Any, log: Log, asked: int | None) -> int:
    latest = await _latest(connection, log)
    if asked is None:
        return latest.tree_size
    if not 0 <= asked <= latest.tree_size:
        raise TreeSizeOutOfRange(
            f"tree_size must be between 0 and {latest.tree_size}, the latest checkpoint's."
        )
    return asked


async def _owned_by(connection: Any, principal: Principal, entry_id: int) -> bool:
    return bool(
        await connection.fetchval(
            "SELECT 1 FROM disclosure_log d JOIN users u ON u.subject_ref = d.subject_ref"
            " WHERE d.id = $1 AND u.id = $2",
            entry_id,
            principal.user_id,
        )
    )


def _may_prove(principal: Principal, log: Log) -> None:
    if principal.is_user and log is not DISCLOSURE_LOG:
        raise Forbidden("A person may prove only their own entries of the disclosure log.")
    if not principal.is_user and "transparency:audit" not in principal.scopes:
        raise Forbidden("Proofs of any entry need the scope `transparency:audit` (the DPO).")


async def inclusion(
    session: AsyncSession,
    principal: Principal,
    log: Log,
    *,
    entry_id: int | None,
    leaf_index: int | None,
    tree_size: int | None,
) -> InclusionProof:
    _may_prove(principal, log)
    connection = await raw.driver(session)
    found = await tree.leaf(connection, log, entry_id=entry_id, leaf_index=leaf_index)
    named = f"entry {entry_id}" if entry_id is not None else f"leaf {leaf_index}"
    if found is None or (
        principal.is_user and not await _owned_by(connection, principal, found[1])
    ):
        raise NotInTree(
            f"{named} is not in the {log.name} tree (a new entry is integrated within a second)."
        )
    index, entry, leaf = found
    size = await _tree_size(connection, log, tree_size)
    if index >= size:
        raise TreeSizeOutOfRange(
            f"{named} is leaf {index}: prove it against a tree larger than it."
        )
    path = (await tree.inclusion_proofs(connection, log, [index], size))[index]
    stored = await tree.checkpoint_at(connection, log, size)
    return InclusionProof(
        log=log.name,
        entry_id=entry,
        leaf_index=index,
        tree_size=size,
        leaf_hash=b64(leaf),
        hashes=[b64(h) for h in path],
        root_hash=b64(await tree.root(connection, log, size)),
        checkpoint=stored.note if stored else None,
    )


async def consistency(
    session: AsyncSession, principal: Principal, log: Log, first: int, second: int | None
) -> ConsistencyProof:
    _may_prove(principal, log)
    connection = await raw.driver(session)
    new = await _tree_size(connection, log, second)
    if not 0 <= first <= new:
        raise TreeSizeOutOfRange(f"first must be between 0 and {new}.")
    path = await tree.consistency_proof(connection, log, first, new)
    return ConsistencyProof(
        log=log.name,
        first=first,
        second=new,
        hashes=[b64(h) for h in path],
        first_root=b64(await tree.root(connection, log, first)),
        second_root=b64(await tree.root(connection, log, new)),
    )


async def entries(session: AsyncSession, log: Log, start: int, limit: int) -> LogEntryPage:
    """Entries by leaf index from ``start`` (for auditors rebuilding the tree)."""
    connection = await raw.driver(session)
    rows = await connection.fetch(
        f"SELECT l.leaf_index, l.leaf_hash, e.* FROM transparency_leaves l"  # noqa: S608
        f" JOIN {log.table} e ON e.id = l.entry_id"
        " WHERE l.log = $1 AND l.leaf_index >= $2 ORDER BY l.leaf_index LIMIT $3",
        log.id,
        start,
        limit + 1,
    )
    items = [
        LogEntryRead(
            leaf_index=row["leaf_index"],
            entry_id=row["id"],
            leaf_hash=b64(bytes(row["leaf_hash"])),
            entry=log.model.entry_bytes(row).decode(),
        )
        for row in rows[:limit]
    ]
    more = len(rows) > limit
    return LogEntryPage(items=items, next_cursor=str(items[-1].leaf_index + 1) if more else None)


_BATCH = 2000
_CACHE_LIMIT = 200_000


async def export_proofs(
    connection: Any, signers: Signers, subject_ref: uuid.UUID
) -> AsyncGenerator[bytes, None]:
    """The export's ``transparency`` object (``ExportTransparency``), streamed: the person's
    disclosure entries with their inclusion proofs against the latest checkpoint, read in the
    export's snapshot (so they match its rows), a batch at a time. Memory stays bounded: each
    batch reads only the hashes its proofs need that earlier batches did not, and a proof's
    hashes are base64-encoded once for all the entries that share them."""
    log = DISCLOSURE_LOG
    latest = await tree.latest_checkpoint(connection, log)
    size = latest.tree_size if latest else 0
    root = latest.root_hash if latest else merkle.EMPTY_ROOT
    head = {
        "log": log.name,
        "checkpoint": latest.note if latest else None,
        "verifier_key": signers.verifier(log).vkey,
        "tree_size": size,
        "root_hash": b64(root),
        "how_to_verify": HOW_TO_VERIFY,
    }
    yield json.dumps(head, ensure_ascii=False)[:-1].encode() + b', "entries": ['
    pending: list[int] = []
    encoded: dict[merkle.Range, str] = {}
    first = True
    cursor = connection.cursor(
        f"SELECT l.leaf_index, e.* FROM {log.table} e"  # noqa: S608
        " LEFT JOIN transparency_leaves l ON l.log = $1 AND l.entry_id = e.id"
        " WHERE e.subject_ref = $2 ORDER BY e.id",
        log.id,
        subject_ref,
        prefetch=_BATCH,
    )
    batch: list[Any] = []

    async def flush() -> bytes:
        nonlocal first
        proven = [r for r in batch if r["leaf_index"] is not None and r["leaf_index"] < size]
        pending.extend(r["id"] for r in batch if r["leaf_index"] is None or r["leaf_index"] >= size)
        paths = {r["leaf_index"]: merkle.inclusion_ranges(r["leaf_index"], size) for r in proven}
        if len(encoded) > _CACHE_LIMIT:
            encoded.clear()
        missing = list({rng for ranges in paths.values() for rng in ranges if rng not in encoded})
        found = await tree.hashes(connection, log, merkle.needed(missing))
        for rng, value in zip(
            missing, merkle.range_hashes(missing, found.__getitem__), strict=True
        ):
            encoded[rng] = b64(value)
        pieces = []
        for r in proven:
            hashes = '","'.join(encoded[rng] for rng in paths[r["leaf_index"]])
            entry = json.dumps(log.model.entry_bytes(r).decode(), ensure_ascii=False)
            pieces.append(
                f'{{"entry_id":{r["id"]},"leaf_index":{r["leaf_index"]},"entry":{entry},'
                f'"hashes":[{"" if not hashes else chr(34) + hashes + chr(34)}]}}'
            )
        batch.clear()
        if not pieces:
            return b""
        text = ("" if first else ",") + "\n  " + ",\n  ".join(pieces)
        first = False
        return text.encode()

    async for row in cursor:
        batch.append(row)
        if len(batch) >= _BATCH:
            yield await flush()
    if batch:
        yield await flush()
    yield f'\n ], "pending": {json.dumps(pending)}}}'.encode()
