"""RFC 9162 section 2.1 Merkle trees: hashes, proofs and their verification, without storage.

A tree over leaves ``D[0:n]`` is stored as the hashes of its *complete subtrees*: the subtree at
``(level, index)`` covers leaves ``[index * 2**level, (index + 1) * 2**level)``. Level 0 is the
leaf hashes. Every hash a proof needs, for any tree size, is a complete subtree or is folded from a
few of them (``subtrees``), so the store keeps nothing else and proofs cost one read of O(log n)
hashes.

Proofs are produced by the RFC's own recursions (PATH and SUBPROOF, sections 2.1.3.1 and
2.1.4.1) over leaf ranges; verification follows sections 2.1.3.2 and 2.1.4.2.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

Hash = bytes
Range = tuple[int, int]  # leaves [start, end)
Subtree = tuple[int, int]  # (level, index)

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry: bytes) -> Hash:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: Hash, right: Hash) -> Hash:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


# Which leaf ranges a proof is made of ---------------------------------------------------------


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """PATH(m, D[n]) as leaf ranges, leaf first (RFC 9162 2.1.3.1)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    ranges: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def consistency_ranges(old: int, new: int) -> list[Range]:
    """PROOF(m, D[n]) as leaf ranges (RFC 9162 2.1.4.1); empty when m is 0 or m = n."""
    if not 0 <= old <= new:
        raise ValueError(f"no consistency proof from {old} to {new}")
    if old in (0, new):
        return []
    ranges: list[Range] = []

    def subproof(m: int, start: int, end: int, whole: bool) -> None:
        n = end - start
        if m == n:
            if not whole:
                ranges.append((start, end))
            return
        k = _split(n)
        if m <= k:
            subproof(m, start, start + k, whole)
            ranges.append((start + k, end))
        else:
            subproof(m - k, start + k, end, False)
            ranges.append((start, start + k))

    subproof(old, 0, new, True)
    return ranges


def subtrees(start: int, end: int) -> list[Subtree]:
    """The complete subtrees that make up the leaf range [start, end), left to right. A range a
    proof asks for starts on a boundary of its own size, so it splits like a tree's right edge."""
    found: list[Subtree] = []
    while start < end:
        level = min(
            (end - start).bit_length() - 1, (start & -start).bit_length() - 1 if start else 64
        )
        found.append((level, start >> level))
        start += 1 << level
    return found


def fold(hashes: Sequence[Hash]) -> Hash:
    """The hash of a range from its complete subtrees, left to right (each smaller than the
    one before): MTH of a left-complete tree combines right to left."""
    root = hashes[-1]
    for left in reversed(hashes[:-1]):
        root = node_hash(left, root)
    return root


def needed(ranges: Iterable[Range]) -> set[Subtree]:
    return {subtree for start, end in ranges for subtree in subtrees(start, end)}


def range_hashes(ranges: Iterable[Range], stored: Callable[[Subtree], Hash]) -> list[Hash]:
    return [fold([stored(s) for s in subtrees(start, end)]) for start, end in ranges]


# Verification -----------------------------------------------------------------------------------


class ProofError(ValueError):
    pass


def root_from_inclusion(index: int, size: int, leaf: Hash, proof: Sequence[Hash]) -> Hash:
    """RFC 9162 2.1.3.2: the root that ``proof`` leads to from ``leaf``."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size}")
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the proof is shorter than the tree is deep")
    return r


def verify_inclusion(index: int, size: int, leaf: Hash, proof: Sequence[Hash], root: Hash) -> None:
    if root_from_inclusion(index, size, leaf, proof) != root:
        raise ProofError(f"leaf {index} is not in the tree of {size} with that root")


def verify_consistency(
    old: int, new: int, old_root: Hash, new_root: Hash, proof: Sequence[Hash]
) -> None:
    """RFC 9162 2.1.4.2: the tree of ``new`` leaves extends the tree of ``old`` leaves."""
    if not 0 <= old <= new:
        raise ProofError(f"a tree of {new} cannot extend one of {old}")
    if old == new:
        if proof or old_root != new_root:
            raise ProofError("the same size must have the same root and an empty proof")
        return
    if old == 0:
        if proof:
            raise ProofError("a proof from the empty tree is empty")
        return
    if not proof:
        raise ProofError("the proof is empty")
    path = list(proof)
    if old & (old - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the proof is longer than the trees are deep")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the proof is shorter than the trees are deep")
    if fr != old_root:
        raise ProofError(f"the proof does not lead to the root of the tree of {old}")
    if sr != new_root:
        raise ProofError(f"the proof does not lead to the root of the tree of {new}")


# Appending --------------------------------------------------------------------------------------


@dataclass
class Frontier:
    """The right edge of a tree: its complete subtrees, largest first (a compact range over
    [0, size)). Appending a leaf completes new subtrees, which the caller stores."""

    size: int = 0
    edge: list[tuple[int, Hash]] = field(default_factory=list)  # (level, hash)

    @staticmethod
    def edge_of(size: int) -> list[Subtree]:
        """Which stored subtrees the frontier of a tree of ``size`` is."""
        return subtrees(0, size)

    @classmethod
    def load(cls, size: int, stored: Callable[[Subtree], Hash]) -> Frontier:
        return cls(size, [(level, stored((level, index))) for level, index in cls.edge_of(size)])

    def append(self, leaf: Hash) -> list[tuple[int, int, Hash]]:
        """Adds a leaf; returns the subtrees it completed above level 0 as (level, index, hash)."""
        completed: list[tuple[int, int, Hash]] = []
        self.edge.append((0, leaf))
        self.size += 1
        while len(self.edge) > 1 and self.edge[-1][0] == self.edge[-2][0]:
            level, right = self.edge.pop()
            _, left = self.edge.pop()
            parent = node_hash(left, right)
            self.edge.append((level + 1, parent))
            completed.append((level + 1, (self.size >> (level + 1)) - 1, parent))
        return completed

    def root(self) -> Hash:
        return fold([h for _, h in self.edge]) if self.edge else EMPTY_ROOT

    def copy(self) -> Frontier:
        return Frontier(self.size, list(self.edge))
