"""RFC 9162 Merkle trees over the log: roots, inclusion proofs and consistency proofs.

The tree is the one Certificate Transparency defines (RFC 6962 §2.1, unchanged in RFC 9162
§2.1): the empty tree hashes to ``HASH()``, a leaf to ``HASH(0x00 ‖ data)``, an inner node to
``HASH(0x01 ‖ left ‖ right)``, and a tree of ``n > 1`` leaves splits at the largest power of two
below ``n``.  The two prefixes keep a leaf from being passed off as an inner node.

The hash function is a parameter.  threadline logs use BLAKE3 (:func:`blake3_256`, the default);
the RFC test vectors use SHA-256 (:func:`sha256`).  A proof made with one hash verifies only
with the same one.

Everything except :func:`leaf_hash` takes *leaf hashes*, not leaf data, so a caller keeps 32
bytes per record instead of the records.  The functions are pure (no I/O);
:class:`MerkleAccumulator` is the one stateful helper.

Cost: :func:`root`, :func:`inclusion_proof` and :func:`consistency_proof` hash each node of the
tree at most once (fewer than ``size`` node hashes per call, no recursion).  The verifiers do
O(log n) work.  The accumulator keeps one hash per set bit of its size.

Proof generators reject impossible arguments with :class:`~threadline.errors.UsageError`.  The
verifiers return ``False`` for everything RFC 9162 calls a failed verification (including an
index outside the tree or an old size above the new one), because those values arrive with the
proof from whoever is being checked; they raise only for negative numbers, which no wire format
can carry and so are a bug in the caller.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Final, TypeAlias

import blake3

from threadline.errors import UsageError

HashFunction: TypeAlias = Callable[[bytes], bytes]
"""Maps bytes to a fixed-length digest; every hash in one tree must come from the same one."""

LEAF_PREFIX: Final = b"\x00"
NODE_PREFIX: Final = b"\x01"


def blake3_256(data: bytes) -> bytes:
    """BLAKE3 in its ordinary mode with a 32-byte digest: threadline's tree hash."""
    return blake3.blake3(data).digest()


def sha256(data: bytes) -> bytes:
    """SHA-256: the hash of the RFC 6962 test vectors and of Certificate Transparency logs."""
    return hashlib.sha256(data).digest()


def leaf_hash(data: bytes, *, hash: HashFunction = blake3_256) -> bytes:
    """The hash of the leaf holding ``data``."""
    return hash(LEAF_PREFIX + data)


def node_hash(left: bytes, right: bytes, *, hash: HashFunction = blake3_256) -> bytes:
    """The hash of the inner node whose children hash to ``left`` and ``right``."""
    return hash(NODE_PREFIX + left + right)


def empty_root(*, hash: HashFunction = blake3_256) -> bytes:
    """The root of the tree with no leaves."""
    return hash(b"")


def root(leaves: Sequence[bytes], *, hash: HashFunction = blake3_256) -> bytes:
    """The Merkle tree hash (MTH) of ``leaves``, a sequence of leaf hashes."""
    if not leaves:
        return hash(b"")
    return _subtree_root(leaves, 0, len(leaves), hash)


def inclusion_proof(
    leaves: Sequence[bytes],
    index: int,
    size: int | None = None,
    *,
    hash: HashFunction = blake3_256,
) -> list[bytes]:
    """The audit path (RFC 9162 §2.1.3.1) of leaf ``index`` in the tree of the first ``size`` leaves.

    ``size`` defaults to ``len(leaves)``; a smaller one proves inclusion in an earlier tree
    (an older checkpoint) from today's leaves.  The path runs from the leaf's sibling up.
    """
    size = _tree_size(leaves, size)
    if index < 0 or index >= size:
        raise UsageError(
            f"leaf index {index} is not in a tree of {size} leaves; "
            + ("an empty tree has no inclusion proofs" if size == 0 else f"use 0..{size - 1}"),
            detail={"index": index, "size": size},
        )
    siblings: list[bytes] = []
    lo, hi = 0, size
    # Walk down from the root, keeping the half holding the leaf and recording the root of the
    # other half.  The halves are disjoint, so the whole walk hashes each node at most once.
    while hi - lo > 1:
        mid = lo + _split(hi - lo)
        if index < mid:
            siblings.append(_subtree_root(leaves, mid, hi, hash))
            hi = mid
        else:
            siblings.append(_subtree_root(leaves, lo, mid, hash))
            lo = mid
    siblings.reverse()
    return siblings


def verify_inclusion(
    leaf_hash: bytes,
    index: int,
    size: int,
    proof: Sequence[bytes],
    root: bytes,
    *,
    hash: HashFunction = blake3_256,
) -> bool:
    """Whether ``proof`` shows the leaf hashing to ``leaf_hash`` at ``index`` in the tree ``root``.

    This is RFC 9162 §2.1.3.2.  ``root`` must be the root of a tree of exactly ``size`` leaves
    (a signed checkpoint binds the two): the algorithm cannot tell a root of another size apart.
    """
    _require_non_negative(index=index, size=size)
    if index >= size:
        return False
    fn, sn = index, size - 1
    computed = leaf_hash
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            computed = hash(NODE_PREFIX + sibling + computed)
            # On the right edge of the tree a node may have no right sibling at some levels;
            # skip those levels, where the node is carried up unchanged.
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            computed = hash(NODE_PREFIX + computed + sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and computed == root


def consistency_proof(
    leaves: Sequence[bytes],
    old_size: int,
    new_size: int | None = None,
    *,
    hash: HashFunction = blake3_256,
) -> list[bytes]:
    """The proof (RFC 9162 §2.1.4.1) that the tree of ``old_size`` leaves is a prefix of the tree
    of ``new_size`` leaves (default ``len(leaves)``).

    It is empty when the sizes are equal or ``old_size`` is 0: every tree extends the empty one.
    """
    new_size = _tree_size(leaves, new_size)
    if old_size < 0 or old_size > new_size:
        raise UsageError(
            f"old tree size {old_size} must be in 0..{new_size} (the new tree size)",
            detail={"old_size": old_size, "new_size": new_size},
        )
    if old_size in (0, new_size):
        return []
    upper: list[bytes] = []
    lo, hi = 0, new_size
    old_is_whole_subtree = True
    # SUBPROOF(m, D[lo:hi], b) walked iteratively: record the root of the half the old tree does
    # not reach (or fully covers), and descend into the half where the old tree ends.
    while old_size != hi:
        mid = lo + _split(hi - lo)
        if old_size <= mid:
            upper.append(_subtree_root(leaves, mid, hi, hash))
            hi = mid
        else:
            upper.append(_subtree_root(leaves, lo, mid, hash))
            lo = mid
            old_is_whole_subtree = False
    # When the old tree is one complete left subtree, the verifier already holds its root (the
    # old root), so the RFC leaves it out.
    proof = [] if old_is_whole_subtree else [_subtree_root(leaves, lo, hi, hash)]
    proof.extend(reversed(upper))
    return proof


def verify_consistency(
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
    *,
    hash: HashFunction = blake3_256,
) -> bool:
    """Whether ``proof`` shows the tree ``old_root`` of ``old_size`` leaves is a prefix of the
    tree ``new_root`` of ``new_size`` leaves (RFC 9162 §2.1.4.2).

    Beyond the RFC, which covers ``0 < old_size < new_size``: equal sizes need an empty proof
    and equal roots, and an old size of 0 needs an empty proof and the empty tree's root.
    """
    _require_non_negative(old_size=old_size, new_size=new_size)
    if old_size > new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == hash(b"")
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    old_computed = new_computed = path[0]
    for node in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            old_computed = hash(NODE_PREFIX + node + old_computed)
            new_computed = hash(NODE_PREFIX + node + new_computed)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            new_computed = hash(NODE_PREFIX + new_computed + node)
        fn >>= 1
        sn >>= 1
    return sn == 0 and old_computed == old_root and new_computed == new_root


class MerkleAccumulator:
    """The root of a growing tree, kept in O(log n) memory while leaves are appended.

    It holds the roots of the perfect subtrees that make up the tree (one per set bit of the
    size, largest first, what transparency-dev calls a compact range), so a writer can take a
    checkpoint at any size without re-reading earlier leaves.  Save :attr:`size` and
    :attr:`peaks` with a checkpoint and :meth:`from_state` resumes after a restart.
    """

    __slots__ = ("_hash", "_peaks", "_size")

    def __init__(self, *, hash: HashFunction = blake3_256) -> None:
        self._hash = hash
        self._peaks: list[bytes] = []
        self._size = 0

    @classmethod
    def from_state(
        cls, size: int, peaks: Sequence[bytes], *, hash: HashFunction = blake3_256
    ) -> MerkleAccumulator:
        """Resume from a saved :attr:`size` and :attr:`peaks`."""
        if size < 0:
            raise UsageError(f"tree size {size} is negative", detail={"size": size})
        if len(peaks) != size.bit_count():
            raise UsageError(
                f"a tree of {size} leaves has {size.bit_count()} peaks, not {len(peaks)}; "
                "the saved accumulator state is damaged",
                detail={"size": size, "peaks": len(peaks)},
            )
        accumulator = cls(hash=hash)
        accumulator._peaks = list(peaks)
        accumulator._size = size
        return accumulator

    @property
    def size(self) -> int:
        """How many leaves have been appended."""
        return self._size

    @property
    def peaks(self) -> tuple[bytes, ...]:
        """The roots of the perfect subtrees making up the tree, largest (leftmost) first."""
        return tuple(self._peaks)

    def append(self, leaf_hash: bytes) -> None:
        """Add the next leaf, given as its leaf hash."""
        self._peaks.append(leaf_hash)
        # Each trailing 1 bit of the old size is a perfect subtree the size of the one just
        # completed on its right; merging them is binary carry propagation.
        carry = self._size
        while carry & 1:
            right = self._peaks.pop()
            left = self._peaks.pop()
            self._peaks.append(self._hash(NODE_PREFIX + left + right))
            carry >>= 1
        self._size += 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Add leaves in order."""
        for item in leaf_hashes:
            self.append(item)

    def root(self) -> bytes:
        """The root of the tree of all leaves appended so far."""
        if not self._peaks:
            return self._hash(b"")
        # The RFC tree splits at the largest power of two, which is the leftmost peak, so the
        # root folds the peaks together from the right.
        computed = self._peaks[-1]
        for peak in reversed(self._peaks[:-1]):
            computed = self._hash(NODE_PREFIX + peak + computed)
        return computed

    def __repr__(self) -> str:
        return f"MerkleAccumulator(size={self._size})"


def _split(count: int) -> int:
    """The largest power of two below ``count`` (``count >= 2``): where RFC 9162 splits a tree."""
    return 1 << ((count - 1).bit_length() - 1)


def _subtree_root(leaves: Sequence[bytes], lo: int, hi: int, hash: HashFunction) -> bytes:
    """MTH of ``leaves[lo:hi]`` (non-empty), level by level.

    Pairing neighbours and carrying an odd last node up a level builds the same tree as the
    RFC's split at the largest power of two, without recursion.
    """
    level = list(leaves[lo:hi])
    while len(level) > 1:
        paired = [hash(NODE_PREFIX + level[i] + level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _tree_size(leaves: Sequence[bytes], size: int | None) -> int:
    if size is None:
        return len(leaves)
    if size < 0 or size > len(leaves):
        raise UsageError(
            f"tree size {size} must be in 0..{len(leaves)} (the number of leaves given)",
            detail={"size": size, "leaves": len(leaves)},
        )
    return size


def _require_non_negative(**values: int) -> None:
    for name, value in values.items():
        if value < 0:
            raise UsageError(f"{name} {value} is negative", detail={name: value})


__all__ = [
    "LEAF_PREFIX",
    "NODE_PREFIX",
    "HashFunction",
    "MerkleAccumulator",
    "blake3_256",
    "consistency_proof",
    "empty_root",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "sha256",
    "verify_consistency",
    "verify_inclusion",
]
