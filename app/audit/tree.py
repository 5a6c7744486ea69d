"""The stored trees: complete-subtree hashes in ``transparency_leaves`` (level 0) and
``transparency_nodes`` (above), signed checkpoints, and the proofs made from them. Every function
takes the asyncpg connection of a transaction, so a proof and the checkpoint it is checked against
come from one snapshot."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.audit import merkle
from app.audit.logs import Log
from app.audit.merkle import Frontier, Hash, Subtree


class MissingHash(LookupError):
    """A hash a proof needs is not stored: the tree is damaged."""

    def __init__(self, log: Log, subtree: Subtree) -> None:
        level, index = subtree
        what = f"leaf {index}" if level == 0 else f"node (level {level}, index {index})"
        super().__init__(f"{log.name}: {what} is missing")
        self.subtree = subtree


@dataclass(frozen=True)
class StoredCheckpoint:
    tree_size: int
    root_hash: bytes
    note: str
    created_at: datetime


async def hashes(connection: Any, log: Log, wanted: Iterable[Subtree]) -> dict[Subtree, Hash]:
    """The stored hashes of these complete subtrees (one read per level kind)."""
    wanted = set(wanted)
    leaves = [index for level, index in wanted if level == 0]
    levels = [(level, index) for level, index in wanted if level > 0]
    found: dict[Subtree, Hash] = {}
    if leaves:
        rows = await connection.fetch(
            "SELECT leaf_index, leaf_hash FROM transparency_leaves"
            " WHERE log = $1 AND leaf_index = ANY($2::bigint[])",
            log.id,
            leaves,
        )
        found.update(((0, row[0]), bytes(row[1])) for row in rows)
    if levels:
        rows = await connection.fetch(
            "SELECT n.level, n.idx, n.hash FROM transparency_nodes n"
            " JOIN unnest($2::smallint[], $3::bigint[]) AS w(level, idx)"
            " ON n.level = w.level AND n.idx = w.idx WHERE n.log = $1",
            log.id,
            [level for level, _ in levels],
            [index for _, index in levels],
        )
        found.update(((row[0], row[1]), bytes(row[2])) for row in rows)
    for subtree in wanted:
        if subtree not in found:
            raise MissingHash(log, subtree)
    return found


async def size(connection: Any, log: Log) -> int:
    """Leaves in the tree now (integrated, whether or not a checkpoint names them yet)."""
    value = await connection.fetchval(
        "SELECT leaf_index + 1 FROM transparency_leaves WHERE log = $1"
        " ORDER BY leaf_index DESC LIMIT 1",
        log.id,
    )
    return int(value or 0)


async def frontier(connection: Any, log: Log, tree_size: int) -> Frontier:
    found = await hashes(connection, log, Frontier.edge_of(tree_size))
    return Frontier.load(tree_size, found.__getitem__)


async def root(connection: Any, log: Log, tree_size: int) -> Hash:
    return (await frontier(connection, log, tree_size)).root()


def _checkpoint(row: Any) -> StoredCheckpoint:
    return StoredCheckpoint(row[0], bytes(row[1]), row[2], row[3])


async def latest_checkpoint(connection: Any, log: Log) -> StoredCheckpoint | None:
    row = await connection.fetchrow(
        "SELECT tree_size, root_hash, note, created_at FROM transparency_checkpoints"
        " WHERE log = $1 ORDER BY tree_size DESC LIMIT 1",
        log.id,
    )
    return _checkpoint(row) if row else None


async def checkpoint_at(connection: Any, log: Log, tree_size: int) -> StoredCheckpoint | None:
    row = await connection.fetchrow(
        "SELECT tree_size, root_hash, note, created_at FROM transparency_checkpoints"
        " WHERE log = $1 AND tree_size = $2",
        log.id,
        tree_size,
    )
    return _checkpoint(row) if row else None


async def inclusion_proofs(
    connection: Any, log: Log, indices: Iterable[int], tree_size: int
) -> dict[int, list[Hash]]:
    """RFC 9162 inclusion proofs of many leaves against one tree size, read in one go (an
    export proves every disclosure of the person)."""
    ranges = {index: merkle.inclusion_ranges(index, tree_size) for index in indices}
    found = await hashes(connection, log, merkle.needed(r for rs in ranges.values() for r in rs))
    return {index: merkle.range_hashes(rs, found.__getitem__) for index, rs in ranges.items()}


async def consistency_proof(connection: Any, log: Log, old: int, new: int) -> list[Hash]:
    ranges = merkle.consistency_ranges(old, new)
    found = await hashes(connection, log, merkle.needed(ranges))
    return merkle.range_hashes(ranges, found.__getitem__)


_LEAF = "SELECT leaf_index, entry_id, leaf_hash FROM transparency_leaves WHERE log = $1 AND "
# One statement per key, so that each uses its own index.
_LEAF_BY = {"entry_id": _LEAF + "entry_id = $2", "leaf_index": _LEAF + "leaf_index = $2"}


async def leaf(
    connection: Any, log: Log, *, entry_id: int | None = None, leaf_index: int | None = None
) -> tuple[int, int, Hash] | None:
    """(leaf index, entry id, leaf hash) of an integrated entry, by either."""
    key, value = ("entry_id", entry_id) if entry_id is not None else ("leaf_index", leaf_index)
    row = await connection.fetchrow(_LEAF_BY[key], log.id, value)
    return (row[0], row[1], bytes(row[2])) if row else None
