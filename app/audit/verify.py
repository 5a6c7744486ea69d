"""Checking the transparency logs as an auditor would, naming the first thing that does not match.

Incremental (the default): from the last tree this check verified (its size, root and right edge,
kept in ``transparency_verifications``), the stored edge must still be that tree, the latest
checkpoint must extend it (an RFC 9162 consistency proof from the stored nodes), and the new leaves
are recomputed from their entries, rebuilding every new node and the root of every new checkpoint.
Full: the same from the empty tree, over every entry. Both also look for entries that are neither
in the tree nor waiting for the sequencer (written past the trigger, or taken off the queue).

``against``: a checkpoint kept by an outside party (a witness) is checked for its signature and
shown to be a prefix of the log now, or named as a fork.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any

from app.audit import merkle, tree
from app.audit.logs import LOGS, Log, Signers, Verifiers
from app.audit.merkle import Frontier
from app.audit.note import Checkpoint, NoteError, Verifier

STREAM = 5000
# An entry queued longer than this means no sequencer is running (it integrates every second).
STALE_SECONDS = 60


@dataclass(frozen=True)
class Finding:
    kind: str  # entry, leaf, node, checkpoint
    reason: str
    entry_id: int | None = None
    leaf_index: int | None = None
    level: int | None = None
    index: int | None = None
    tree_size: int | None = None


@dataclass
class Report:
    log: str
    mode: str
    ok: bool = True
    from_size: int = 0
    tree_size: int = 0
    root_hash: str | None = None
    entries_checked: int = 0
    checkpoints_checked: int = 0
    waiting_for_sequencer: int = 0
    first_bad: Finding | None = None
    notes: list[str] = field(default_factory=list)

    def fail(self, finding: Finding) -> None:
        if self.first_bad is None:
            self.first_bad = finding
        self.ok = False

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.first_bad is not None:
            data["first_bad"] = {k: v for k, v in asdict(self.first_bad).items() if v is not None}
        return data


def _open_checkpoint(verifier: Verifier, origin: str, note: str) -> Checkpoint:
    checkpoint = Checkpoint.parse(verifier.open(note))
    if checkpoint.origin != origin:
        raise NoteError(f"the checkpoint is of {checkpoint.origin!r}, not {origin!r}")
    return checkpoint


async def _stream(connection: Any, query: str, *args: Any) -> AsyncIterator[Any]:
    async for row in connection.cursor(query, *args, prefetch=STREAM):
        yield row


def _node_ranges(start: int, end: int, levels: int) -> tuple[list[int], list[int], list[int]]:
    """Per level, the indices of the nodes that leaves [start, end) complete."""
    result: tuple[list[int], list[int], list[int]] = ([], [], [])
    for level in range(1, levels + 1):
        low = ((start + 1 + (1 << level) - 1) >> level) - 1
        high = (end >> level) - 1
        if low <= high:
            result[0].append(level)
            result[1].append(low)
            result[2].append(high)
    return result


def _edge_bytes(frontier: Frontier) -> bytes:
    return b"".join(h for _, h in frontier.edge)


def _edge_from(size: int, data: bytes) -> Frontier:
    subtrees = Frontier.edge_of(size)
    hashes = [data[i * 32 : (i + 1) * 32] for i in range(len(subtrees))]
    return Frontier(size, [(level, h) for (level, _), h in zip(subtrees, hashes, strict=True)])


async def _state(connection: Any, log: Log) -> tuple[int, bytes, Frontier] | None:
    """Where the last verification got to; a damaged record starts over from the first entry."""
    row = await connection.fetchrow(
        "SELECT tree_size, root_hash, frontier FROM transparency_verifications WHERE log = $1"
        " ORDER BY id DESC LIMIT 1",
        log.id,
    )
    if row is None:
        return None
    try:
        return row[0], bytes(row[1]), _edge_from(row[0], bytes(row[2]))
    except ValueError:
        return None


async def _check_old_edge(connection: Any, log: Log, trusted: Frontier, report: Report) -> None:
    """The stored subtrees of the tree verified last time are still the ones verified."""
    wanted = Frontier.edge_of(trusted.size)
    try:
        stored = await tree.hashes(connection, log, wanted)
    except tree.MissingHash as missing:
        level, index = missing.subtree
        report.fail(Finding("node" if level else "leaf", str(missing), level=level, index=index))
        return
    for (level, index), (_, expected) in zip(wanted, trusted.edge, strict=True):
        if stored[(level, index)] != expected:
            report.fail(
                Finding(
                    "node" if level else "leaf",
                    "changed since it was last verified",
                    level=level,
                    index=index,
                    leaf_index=None if level else index,
                )
            )
            return


async def _walk(
    connection: Any,
    log: Log,
    verifier: Verifier,
    origin: str,
    frontier: Frontier,
    end: int,
    report: Report,
) -> None:
    """Recomputes leaves [frontier.size, end) from their entries, every node they complete and
    the root of every checkpoint in that range; stops at the first mismatch."""
    start = frontier.size
    levels = max(end, 1).bit_length()
    level_list, lows, highs = _node_ranges(start, end, levels)
    nodes = _stream(
        connection,
        "SELECT n.level, n.idx, n.hash FROM transparency_nodes n"
        " JOIN unnest($2::smallint[], $3::bigint[], $4::bigint[]) AS r(level, low, high)"
        " ON n.level = r.level AND n.idx BETWEEN r.low AND r.high WHERE n.log = $1"
        " ORDER BY ((n.idx + 1) << n.level), n.level",
        log.id,
        level_list,
        lows,
        highs,
    )
    checkpoints = _stream(
        connection,
        "SELECT tree_size, root_hash, note FROM transparency_checkpoints"
        " WHERE log = $1 AND tree_size > $2 AND tree_size <= $3 ORDER BY tree_size",
        log.id,
        start,
        end,
    )
    leaves = _stream(
        connection,
        f"SELECT l.leaf_index, l.leaf_hash, l.entry_id, e.* FROM transparency_leaves l"  # noqa: S608
        f" LEFT JOIN {log.table} e ON e.id = l.entry_id"
        " WHERE l.log = $1 AND l.leaf_index >= $2 AND l.leaf_index < $3 ORDER BY l.leaf_index",
        log.id,
        start,
        end,
    )
    next_checkpoint = await anext(checkpoints, None)
    async for row in leaves:
        index = row["leaf_index"]
        if index != frontier.size:
            report.fail(Finding("leaf", "missing", leaf_index=frontier.size))
            return
        if row["id"] is None:
            report.fail(
                Finding("entry", "the entry is gone", entry_id=row["entry_id"], leaf_index=index)
            )
            return
        leaf = merkle.leaf_hash(log.model.entry_bytes(row))
        if leaf != bytes(row["leaf_hash"]):
            report.fail(
                Finding(
                    "entry",
                    "does not match its leaf hash: the entry or the leaf was changed",
                    entry_id=row["id"],
                    leaf_index=index,
                )
            )
            return
        for level, node_index, expected in frontier.append(leaf):
            stored = await anext(nodes, None)
            if stored is None or (stored[0], stored[1]) != (level, node_index):
                report.fail(Finding("node", "missing", level=level, index=node_index))
                return
            if bytes(stored[2]) != expected:
                report.fail(
                    Finding(
                        "node",
                        "does not match the leaves below it",
                        level=level,
                        index=node_index,
                    )
                )
                return
        report.entries_checked += 1
        while next_checkpoint is not None and next_checkpoint[0] == frontier.size:
            if not _checkpoint_holds(next_checkpoint, verifier, origin, frontier, report):
                return
            next_checkpoint = await anext(checkpoints, None)
    if frontier.size != end:
        report.fail(Finding("leaf", "missing", leaf_index=frontier.size))


def _checkpoint_holds(
    row: Any, verifier: Verifier, origin: str, frontier: Frontier, report: Report
) -> bool:
    size, root, note = row[0], bytes(row[1]), row[2]
    try:
        signed = _open_checkpoint(verifier, origin, note)
    except NoteError as error:
        report.fail(Finding("checkpoint", str(error), tree_size=size))
        return False
    if (signed.size, signed.root) != (size, root):
        report.fail(Finding("checkpoint", "its note says another tree", tree_size=size))
        return False
    if root != frontier.root():
        report.fail(
            Finding("checkpoint", "its root is not the tree's at that size", tree_size=size)
        )
        return False
    report.checkpoints_checked += 1
    return True


async def _unintegrated(connection: Any, log: Log, report: Report) -> None:
    """Entries neither in the tree nor queued. Counted first (one snapshot, index-only scans);
    only a difference pays for the search that names the first of them."""
    counted = await connection.fetchrow(
        f"SELECT (SELECT count(*) FROM {log.table})"  # noqa: S608
        " - (SELECT count(*) FROM transparency_leaves WHERE log = $1) - q.waiting, q.*"
        " FROM (SELECT count(*) AS waiting, min(entry_id) FILTER (WHERE queued_at <"
        " clock_timestamp() - $2 * interval '1 second') AS stale"
        " FROM transparency_queue WHERE log = $1) q",
        log.id,
        STALE_SECONDS,
    )
    unaccounted = counted[0]
    report.waiting_for_sequencer = int(counted["waiting"])
    if counted["stale"] is not None:
        report.fail(
            Finding(
                "entry",
                f"has waited more than {STALE_SECONDS} s for the sequencer: is it running?",
                entry_id=counted["stale"],
            )
        )
        return
    if not unaccounted:
        return
    if unaccounted < 0:
        gone = await connection.fetchrow(
            f"SELECT l.leaf_index, l.entry_id FROM transparency_leaves l"  # noqa: S608
            f" WHERE l.log = $1 AND NOT EXISTS"
            f" (SELECT 1 FROM {log.table} e WHERE e.id = l.entry_id)"
            " ORDER BY l.leaf_index LIMIT 1",
            log.id,
        )
        report.fail(
            Finding(
                "entry",
                "the entry is gone" if gone else "more leaves and queued ids than entries",
                entry_id=gone[1] if gone else None,
                leaf_index=gone[0] if gone else None,
            )
        )
        return
    orphan = await connection.fetchval(
        f"SELECT e.id FROM {log.table} e WHERE NOT EXISTS"  # noqa: S608
        " (SELECT 1 FROM transparency_leaves l WHERE l.log = $1 AND l.entry_id = e.id)"
        " AND NOT EXISTS"
        " (SELECT 1 FROM transparency_queue q WHERE q.log = $1 AND q.entry_id = e.id)"
        " ORDER BY e.id LIMIT 1",
        log.id,
    )
    if orphan is not None:
        report.fail(
            Finding(
                "entry",
                "is neither in the tree nor waiting for the sequencer: it was written past the "
                "trigger, or taken off the queue",
                entry_id=orphan,
            )
        )


async def verify(connection: Any, log: Log, signers: Signers | Verifiers, *, full: bool) -> Report:
    """Checks one log in the caller's transaction; records the verified tree when it holds."""
    verifier, origin = signers.verifier(log), signers.origin(log)
    state = None if full else await _state(connection, log)
    report = Report(log.name, "full" if state is None else "incremental")
    latest = await tree.latest_checkpoint(connection, log)
    end = latest.tree_size if latest else 0
    if state is not None:
        old_size, old_root, frontier = state
        report.from_size = old_size
        if end < old_size:
            report.fail(
                Finding(
                    "checkpoint",
                    f"the latest checkpoint has {end} entries, fewer than the {old_size} verified "
                    "before: the log was truncated",
                    tree_size=end,
                )
            )
            return report
        await _check_old_edge(connection, log, frontier, report)
        if not report.ok:
            return report
        frontier = frontier.copy()
        if latest is not None and old_size:
            try:
                proof = await tree.consistency_proof(connection, log, old_size, end)
                merkle.verify_consistency(old_size, end, old_root, latest.root_hash, proof)
            except (merkle.ProofError, tree.MissingHash) as error:
                report.notes.append(f"consistency {old_size} -> {end}: {error}")
    else:
        frontier = Frontier()
    beyond = await connection.fetchval(
        "SELECT count(*) FROM transparency_leaves WHERE log = $1 AND leaf_index >= $2",
        log.id,
        end,
    )
    if beyond:
        report.fail(
            Finding(
                "leaf",
                f"{beyond} leaves lie beyond the latest checkpoint: the sequencer writes a round's "
                "leaves and its checkpoint together, so these were written by someone else",
                leaf_index=end,
            )
        )
        return report
    await _walk(connection, log, verifier, origin, frontier, end, report)
    if report.ok:
        await _unintegrated(connection, log, report)
    report.tree_size = frontier.size
    report.root_hash = base64.b64encode(frontier.root()).decode()
    if report.ok and report.notes:
        # The leaves rebuilt the tree and every checkpoint, yet a proof from the stored nodes
        # failed: a stored node outside the new range is damaged.
        report.fail(Finding("node", report.notes[0]))
    if report.ok:
        await connection.execute(
            "INSERT INTO transparency_verifications (log, tree_size, root_hash, frontier)"
            " VALUES ($1, $2, $3, $4)",
            log.id,
            frontier.size,
            frontier.root(),
            _edge_bytes(frontier),
        )
    return report


async def against(connection: Any, signers: Signers | Verifiers, note: str) -> dict[str, Any]:
    """Checks a checkpoint kept outside (``registry audit checkpoint --export``) against the log
    now: its signature, and that today's tree extends it."""
    origins = {signers.origin(log): log for log in LOGS.values()}
    first_line = note.split("\n", 1)[0]
    log = origins.get(first_line)
    if log is None:
        return {"ok": False, "reason": f"the checkpoint's origin {first_line!r} is not ours"}
    try:
        kept = _open_checkpoint(signers.verifier(log), signers.origin(log), note)
    except (NoteError, ValueError) as error:
        return {"ok": False, "log": log.name, "reason": f"not a checkpoint we signed: {error}"}
    result: dict[str, Any] = {"log": log.name, "kept_size": kept.size}
    latest = await tree.latest_checkpoint(connection, log)
    size = latest.tree_size if latest else 0
    result["tree_size"] = size
    if kept.size > size:
        return {
            **result,
            "ok": False,
            "reason": f"the log has {size} entries, fewer than the {kept.size} of the kept "
            "checkpoint: it was truncated, or this is a fork",
        }
    try:
        root = await tree.root(connection, log, kept.size)
        proof = await tree.consistency_proof(connection, log, kept.size, size)
        newest = latest.root_hash if latest else merkle.EMPTY_ROOT
        merkle.verify_consistency(kept.size, size, kept.root, newest, proof)
    except (merkle.ProofError, tree.MissingHash) as error:
        return {
            **result,
            "ok": False,
            "reason": f"the log does not extend the kept checkpoint: {error}",
        }
    if root != kept.root:
        return {**result, "ok": False, "reason": "fork: the log's root at that size differs"}
    return {**result, "ok": True, "reason": f"the log grew from {kept.size} to {size} entries"}
