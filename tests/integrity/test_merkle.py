"""RFC 9162 Merkle trees: the RFC 6962 vectors, tampering, and the RFC's recursive definitions.

The vectors are the classic Certificate Transparency set, copied into ``tests/data/merkle``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import blake3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.data import MERKLE

from threadline.errors import UsageError
from threadline.integrity.merkle import (
    MerkleAccumulator,
    blake3_256,
    consistency_proof,
    empty_root,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    sha256,
    verify_consistency,
    verify_inclusion,
)


def load_vectors() -> dict[str, Any]:
    # A missing file fails the import, not a skip: without the vectors nothing ties the tree to
    # the RFC.
    path = MERKLE / "rfc6962.json"
    vectors: dict[str, Any] = json.loads(path.read_text())
    assert vectors["hash"] == "sha256"
    assert (vectors["leaf_prefix"], vectors["node_prefix"]) == ("00", "01")
    return vectors


VECTORS = load_vectors()
LEAVES = [leaf_hash(bytes.fromhex(data), hash=sha256) for data in VECTORS["leaves_hex"]]
ROOTS = {int(size): bytes.fromhex(value) for size, value in VECTORS["roots"].items()}
INCLUSION = VECTORS["inclusion"]
CONSISTENCY = VECTORS["consistency"]


def unhex(values: Sequence[str]) -> list[bytes]:
    return [bytes.fromhex(value) for value in values]


def byte_flips(value: bytes) -> list[bytes]:
    return [value[:i] + bytes([value[i] ^ 0x01]) + value[i + 1 :] for i in range(len(value))]


def tampered_proofs(proof: list[bytes], extra: bytes) -> list[list[bytes]]:
    """Every one-byte flip of every element, each element dropped, an element added anywhere."""
    variants: list[list[bytes]] = []
    for i, element in enumerate(proof):
        variants.extend([*proof[:i], flipped, *proof[i + 1 :]] for flipped in byte_flips(element))
        variants.append(proof[:i] + proof[i + 1 :])
    for candidate in {extra, bytes(32), *proof}:
        variants.extend([*proof[:i], candidate, *proof[i:]] for i in range(len(proof) + 1))
    return variants


def make_leaves(count: int, salt: int = 0) -> list[bytes]:
    return [leaf_hash(f"{salt}:{i}".encode()) for i in range(count)]


# The RFC 9162 §2.1 definitions transcribed literally (recursive, slow), as the reference.


def largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def reference_root(leaves: Sequence[bytes]) -> bytes:
    if not leaves:
        return blake3_256(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = largest_power_of_two_below(len(leaves))
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


def reference_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = largest_power_of_two_below(len(leaves))
    if m < k:
        return [*reference_path(m, leaves[:k]), reference_root(leaves[k:])]
    return [*reference_path(m - k, leaves[k:]), reference_root(leaves[:k])]


def reference_subproof(m: int, leaves: Sequence[bytes], whole: bool) -> list[bytes]:
    if m == len(leaves):
        return [] if whole else [reference_root(leaves)]
    k = largest_power_of_two_below(len(leaves))
    if m <= k:
        return [*reference_subproof(m, leaves[:k], whole), reference_root(leaves[k:])]
    return [*reference_subproof(m - k, leaves[k:], False), reference_root(leaves[:k])]


# The vectors


def test_vector_leaves_hash_as_the_vectors_say() -> None:
    for vector in INCLUSION:
        assert LEAVES[vector["leaf_index"]].hex() == vector["leaf_hash"]


@pytest.mark.parametrize("size", sorted(ROOTS))
def test_vector_roots(size: int) -> None:
    assert root(LEAVES[:size], hash=sha256) == ROOTS[size]
    accumulator = MerkleAccumulator(hash=sha256)
    accumulator.extend(LEAVES[:size])
    assert accumulator.root() == ROOTS[size]


def test_the_vector_set_is_complete() -> None:
    assert sorted(ROOTS) == list(range(9))
    assert sorted((v["leaf_index"], v["tree_size"]) for v in INCLUSION) == sorted(
        (i, n) for n in range(1, 9) for i in range(n)
    )
    assert sorted((v["size1"], v["size2"]) for v in CONSISTENCY) == sorted(
        (m, n) for m in range(1, 9) for n in range(m, 9)
    )


@pytest.mark.parametrize(
    "vector", INCLUSION, ids=lambda v: f"leaf{v['leaf_index']}-of-{v['tree_size']}"
)
def test_vector_inclusion_proofs(vector: dict[str, Any]) -> None:
    index, size, proof = vector["leaf_index"], vector["tree_size"], unhex(vector["proof"])
    assert inclusion_proof(LEAVES, index, size, hash=sha256) == proof
    assert bytes.fromhex(vector["root"]) == ROOTS[size]
    assert verify_inclusion(LEAVES[index], index, size, proof, ROOTS[size], hash=sha256)


@pytest.mark.parametrize(
    "vector", INCLUSION, ids=lambda v: f"leaf{v['leaf_index']}-of-{v['tree_size']}"
)
def test_vector_inclusion_proofs_fail_when_tampered(vector: dict[str, Any]) -> None:
    index, size, proof = vector["leaf_index"], vector["tree_size"], unhex(vector["proof"])
    leaf, tree_root = LEAVES[index], ROOTS[size]

    def verify(leaf: bytes, index: int, size: int, proof: list[bytes], tree_root: bytes) -> bool:
        return verify_inclusion(leaf, index, size, proof, tree_root, hash=sha256)

    for bad_leaf in byte_flips(leaf):
        assert not verify(bad_leaf, index, size, proof, tree_root)
    for bad_root in byte_flips(tree_root):
        assert not verify(leaf, index, size, proof, bad_root)
    for bad_proof in tampered_proofs(proof, extra=leaf):
        assert not verify(leaf, index, size, bad_proof, tree_root)
    for other in range(size + 2):
        if other != index:
            assert not verify(leaf, other, size, proof, tree_root)
    # Another size is checked against that size's root: a root is only ever trusted together
    # with its size (a signed checkpoint), see test_a_root_must_come_with_its_own_size.
    for other in range(9):
        if other != size:
            assert not verify(leaf, index, other, proof, ROOTS[other])
    # A proof too short for the claimed size fails even when the root is the one it leads to.
    for other in range(9, 17):
        assert not verify(leaf, index, other, proof, tree_root)


@pytest.mark.parametrize("vector", CONSISTENCY, ids=lambda v: f"{v['size1']}-to-{v['size2']}")
def test_vector_consistency_proofs(vector: dict[str, Any]) -> None:
    old, new, proof = vector["size1"], vector["size2"], unhex(vector["proof"])
    assert consistency_proof(LEAVES, old, new, hash=sha256) == proof
    assert (bytes.fromhex(vector["root1"]), bytes.fromhex(vector["root2"])) == (
        ROOTS[old],
        ROOTS[new],
    )
    assert verify_consistency(old, new, ROOTS[old], ROOTS[new], proof, hash=sha256)


@pytest.mark.parametrize("vector", CONSISTENCY, ids=lambda v: f"{v['size1']}-to-{v['size2']}")
def test_vector_consistency_proofs_fail_when_tampered(vector: dict[str, Any]) -> None:
    old, new, proof = vector["size1"], vector["size2"], unhex(vector["proof"])

    def verify(old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]) -> bool:
        return verify_consistency(old, new, old_root, new_root, proof, hash=sha256)

    for bad_root in byte_flips(ROOTS[old]):
        assert not verify(old, new, bad_root, ROOTS[new], proof)
    for bad_root in byte_flips(ROOTS[new]):
        assert not verify(old, new, ROOTS[old], bad_root, proof)
    for bad_proof in tampered_proofs(proof, extra=ROOTS[old]):
        assert not verify(old, new, ROOTS[old], ROOTS[new], bad_proof)
    # Changed sizes, each with its own root.  The one change that may pass is to an old size of
    # 0 when the proof is empty: every tree extends the empty tree, with an empty proof.
    for other in range(9):
        if other != old:
            expected = other == 0 and not proof
            assert verify(other, new, ROOTS[other], ROOTS[new], proof) is expected
        if other != new:
            assert not verify(old, other, ROOTS[old], ROOTS[other], proof)
    # A proof too short for the claimed new size fails even with the roots it leads to.
    for other in range(9, 17):
        assert not verify(old, other, ROOTS[old], ROOTS[new], proof)


def test_a_root_must_come_with_its_own_size() -> None:
    # RFC 9162 verification cannot tell which size a root belongs to: the path of leaf 0 has
    # the same shape in trees of 3 and 4 leaves, so the size-4 proof and root "verify" for
    # size 3.  Trust (size, root) only as a pair from a verified checkpoint.
    proof = inclusion_proof(LEAVES, 0, 4, hash=sha256)
    assert verify_inclusion(LEAVES[0], 0, 3, proof, ROOTS[4], hash=sha256)
    assert not verify_inclusion(LEAVES[0], 0, 3, proof, ROOTS[3], hash=sha256)


# Properties over larger trees, with the production hash


def test_blake3_is_the_default_hash() -> None:
    assert leaf_hash(b"x") == blake3.blake3(b"\x00x").digest()
    assert node_hash(b"l", b"r") == blake3.blake3(b"\x01lr").digest()
    assert empty_root() == root([]) == blake3.blake3(b"").digest()
    assert MerkleAccumulator().root() == empty_root()


def test_proofs_equal_the_rfc_definitions_for_every_tree_up_to_40_leaves() -> None:
    leaves = make_leaves(40)
    for size in range(0, 41):
        assert root(leaves[:size]) == reference_root(leaves[:size])
        for index in range(size):
            assert inclusion_proof(leaves, index, size) == reference_path(index, leaves[:size])
        for old in range(1, size + 1):
            expected = reference_subproof(old, leaves[:size], True)
            assert consistency_proof(leaves, old, size) == expected


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 300), salt=st.integers(0, 2**16), data=st.data())
def test_inclusion_proofs_verify(n: int, salt: int, data: st.DataObject) -> None:
    leaves = make_leaves(n, salt)
    size = data.draw(st.integers(1, n), label="size")
    tree_root = root(leaves[:size])
    for index in data.draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=8)):
        proof = inclusion_proof(leaves, index, size)
        assert verify_inclusion(leaves[index], index, size, proof, tree_root)
        if proof:
            element = data.draw(st.integers(0, len(proof) - 1), label="element")
            position = data.draw(st.integers(0, len(proof[element]) - 1), label="byte")
            proof[element] = byte_flips(proof[element])[position]
            assert not verify_inclusion(leaves[index], index, size, proof, tree_root)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 300), salt=st.integers(0, 2**16), data=st.data())
def test_consistency_proofs_verify(n: int, salt: int, data: st.DataObject) -> None:
    leaves = make_leaves(n, salt)
    new = data.draw(st.integers(1, n), label="new size")
    old = data.draw(st.integers(0, new), label="old size")
    proof = consistency_proof(leaves, old, new)
    old_root, new_root = root(leaves[:old]), root(leaves[:new])
    assert verify_consistency(old, new, old_root, new_root, proof)
    if 0 < old < new:
        # A log that rewrote a leaf the old tree covers cannot prove it extends the old tree.
        changed = data.draw(st.integers(0, old - 1), label="rewritten leaf")
        forked = [*leaves[:changed], leaf_hash(b"rewritten"), *leaves[changed + 1 : new]]
        forked_proof = consistency_proof(forked, old)
        assert not verify_consistency(old, new, old_root, root(forked), forked_proof)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 300), salt=st.integers(0, 2**16))
def test_accumulator_root_equals_batch_root_at_every_size(n: int, salt: int) -> None:
    leaves = make_leaves(n, salt)
    accumulator = MerkleAccumulator()
    assert accumulator.root() == root([])
    for size, leaf in enumerate(leaves, start=1):
        accumulator.append(leaf)
        assert accumulator.size == size
        assert len(accumulator.peaks) == size.bit_count()
        assert accumulator.root() == root(leaves[:size])


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 300), data=st.data())
def test_accumulator_resumes_from_saved_state(n: int, data: st.DataObject) -> None:
    leaves = make_leaves(n)
    cut = data.draw(st.integers(0, n), label="saved at")
    first = MerkleAccumulator()
    first.extend(leaves[:cut])
    resumed = MerkleAccumulator.from_state(first.size, first.peaks)
    resumed.extend(leaves[cut:])
    assert resumed.size == n
    assert resumed.root() == root(leaves)


def test_accumulator_refuses_damaged_state() -> None:
    with pytest.raises(UsageError, match="has 2 peaks, not 1"):
        MerkleAccumulator.from_state(3, [bytes(32)])
    with pytest.raises(UsageError, match="negative"):
        MerkleAccumulator.from_state(-1, [])


def test_proof_generation_hashes_each_node_at_most_once() -> None:
    n = 2**12 + 1234
    leaves = make_leaves(n)
    calls = 0

    def counting(data: bytes) -> bytes:
        nonlocal calls
        calls += 1
        return blake3_256(data)

    def cost(action: Callable[[], object]) -> int:
        nonlocal calls
        calls = 0
        action()
        return calls

    assert cost(lambda: root(leaves, hash=counting)) == n - 1
    for index in (0, 1, n // 2, 2**12 - 1, 2**12, n - 1):
        assert cost(lambda: inclusion_proof(leaves, index, hash=counting)) < n  # noqa: B023
    for old in (1, 2**11, 2**12, 2**12 + 1, n - 1):
        assert cost(lambda: consistency_proof(leaves, old, hash=counting)) < n  # noqa: B023


# Arguments


@pytest.mark.parametrize(
    ("index", "size", "message"),
    [
        (0, 0, "an empty tree has no inclusion proofs"),
        (3, 3, r"use 0\.\.2"),
        (-1, 3, "is not in a tree of 3 leaves"),
        (0, 9, r"tree size 9 must be in 0\.\.8"),
        (0, -1, r"tree size -1 must be in 0\.\.8"),
    ],
)
def test_inclusion_proof_rejects_bad_arguments(index: int, size: int, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        inclusion_proof(LEAVES, index, size, hash=sha256)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (5, 4, r"old tree size 5 must be in 0\.\.4"),
        (-1, 4, r"old tree size -1 must be in 0\.\.4"),
        (1, 9, r"tree size 9 must be in 0\.\.8"),
    ],
)
def test_consistency_proof_rejects_bad_arguments(old: int, new: int, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        consistency_proof(LEAVES, old, new, hash=sha256)


def test_verifiers_fail_impossible_claims_and_reject_negative_numbers() -> None:
    assert not verify_inclusion(LEAVES[0], 1, 1, [], ROOTS[1], hash=sha256)
    assert not verify_consistency(2, 1, ROOTS[2], ROOTS[1], [], hash=sha256)
    with pytest.raises(UsageError, match="index -1 is negative"):
        verify_inclusion(LEAVES[0], -1, 1, [], ROOTS[1], hash=sha256)
    with pytest.raises(UsageError, match="new_size -1 is negative"):
        verify_consistency(0, -1, ROOTS[0], ROOTS[0], [], hash=sha256)


def test_the_empty_tree_is_consistent_with_every_tree() -> None:
    assert consistency_proof(LEAVES, 0, 5, hash=sha256) == []
    assert verify_consistency(0, 5, ROOTS[0], ROOTS[5], [], hash=sha256)
    assert verify_consistency(0, 0, ROOTS[0], ROOTS[0], [], hash=sha256)
    assert not verify_consistency(0, 5, ROOTS[1], ROOTS[5], [], hash=sha256)
    assert not verify_consistency(0, 5, ROOTS[0], ROOTS[5], [ROOTS[0]], hash=sha256)


def test_size_defaults_to_every_leaf_given() -> None:
    assert inclusion_proof(LEAVES, 2, hash=sha256) == inclusion_proof(LEAVES, 2, 8, hash=sha256)
    assert consistency_proof(LEAVES, 3, hash=sha256) == consistency_proof(LEAVES, 3, 8, hash=sha256)
