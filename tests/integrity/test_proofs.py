"""Inclusion proofs and consistency checks against signed checkpoints, without a store:
genuine ones verify; forged, truncated, replayed and wrong-key ones are refused, each naming
what is wrong."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from threadline.errors import IntegrityError, UsageError
from threadline.integrity import merkle
from threadline.integrity.chain import GENESIS, ChainRecord, consistency_failure, leaf, link
from threadline.integrity.checkpoint import Checkpoint, sign_checkpoint
from threadline.integrity.proofs import InclusionProof, verify_inclusion_proof
from threadline.integrity.signing import SigningKey

ORIGIN = "example.com/lineage"
KEY = SigningKey.generate()


def chain(count: int, start: int = 0) -> list[ChainRecord]:
    records, prev = [], GENESIS
    for n in range(start, start + count):
        body = orjson.dumps({"n": n})
        records.append(ChainRecord(n + 1, body, prev, link(prev, body)))
        prev = records[-1].hash
    return records


def note(records: list[ChainRecord], size: int, key: SigningKey = KEY, origin: str = ORIGIN) -> str:
    root = merkle.root([leaf(r) for r in records[:size]])
    return sign_checkpoint(Checkpoint(origin, size, root, 1_700_000_000_000), key).to_text()


def proof_of(records: list[ChainRecord], index: int, size: int, signed: str) -> InclusionProof:
    leaves = [leaf(r) for r in records[:size]]
    record = records[index]
    path = tuple(merkle.inclusion_proof(leaves, index))
    return InclusionProof(index, record.seq, size, record.body, record.prev_hash, path, signed)


RECORDS = chain(13)
SIGNED = note(RECORDS, 13)


@given(size=st.integers(1, 40), data=st.data())
def test_every_record_of_every_tree_has_a_proof_that_verifies(
    size: int, data: st.DataObject
) -> None:
    records = chain(size)
    index = data.draw(st.integers(0, size - 1))
    signed = note(records, size)
    proof = proof_of(records, index, size, signed)
    # Through its JSON, as verify-proof reads it.
    parsed = InclusionProof.parse(orjson.dumps(proof.to_dict()))
    assert parsed == proof
    assert verify_inclusion_proof(parsed, signed, KEY.verifying_key).size == size


def test_a_proof_checked_with_another_key_is_refused() -> None:
    proof = proof_of(RECORDS, 4, 13, SIGNED)
    with pytest.raises(IntegrityError, match=r"carries no signature by key example.com/lineage"):
        verify_inclusion_proof(proof, SIGNED, SigningKey.generate().verifying_key)


def test_a_checkpoint_signed_by_a_forger_is_refused() -> None:
    forged = note(RECORDS, 13, key=SigningKey.generate())
    proof = proof_of(RECORDS, 4, 13, forged)
    with pytest.raises(IntegrityError, match="carries no signature"):
        verify_inclusion_proof(proof, forged, KEY.verifying_key)


def test_a_forged_body_is_refused() -> None:
    proof = proof_of(RECORDS, 4, 13, SIGNED)
    forged = dataclasses.replace(proof, body=orjson.dumps({"n": 99}))
    with pytest.raises(IntegrityError, match="audit path of record 5 does not lead"):
        verify_inclusion_proof(forged, SIGNED, KEY.verifying_key)
    # In the file, the digest no longer matches the body it claims.
    data = proof.to_dict() | {"body": '{"n":99}'}
    with pytest.raises(IntegrityError, match=r"event_digest .* is not the digest of its body"):
        InclusionProof.parse(orjson.dumps(data))


def test_a_moved_leaf_or_an_altered_path_is_refused() -> None:
    proof = proof_of(RECORDS, 4, 13, SIGNED)
    for bad in (
        dataclasses.replace(proof, leaf_index=5),
        dataclasses.replace(proof, audit_path=proof.audit_path[:-1]),
        dataclasses.replace(proof, audit_path=(bytes(32), *proof.audit_path[1:])),
    ):
        with pytest.raises(IntegrityError, match="does not lead to the checkpoint's root"):
            verify_inclusion_proof(bad, SIGNED, KEY.verifying_key)


def test_a_proof_replayed_against_a_newer_checkpoint_is_refused() -> None:
    older = note(RECORDS, 8)
    proof = proof_of(RECORDS, 4, 8, older)
    assert verify_inclusion_proof(proof, older, KEY.verifying_key).size == 8
    with pytest.raises(IntegrityError, match="relative to a checkpoint of size 8, not the trusted"):
        verify_inclusion_proof(proof, SIGNED, KEY.verifying_key)


def test_a_proof_from_another_log_is_refused() -> None:
    other = note(RECORDS, 13, origin="other.example/log")
    proof = proof_of(RECORDS, 4, 13, other)
    with pytest.raises(IntegrityError, match=r"about log 'other.example/log'"):
        verify_inclusion_proof(proof, SIGNED, KEY.verifying_key)
    with pytest.raises(IntegrityError, match=r"is of log 'example.com/lineage', not 'x/y'"):
        verify_inclusion_proof(
            proof_of(RECORDS, 4, 13, SIGNED), SIGNED, KEY.verifying_key, origin="x/y"
        )


def test_a_proof_whose_checkpoint_claims_another_root_is_refused() -> None:
    forged = note(chain(13, start=100), 13, key=SigningKey.generate())
    proof = proof_of(RECORDS, 4, 13, forged)
    with pytest.raises(IntegrityError, match=r"claims another root for size 13 .* forged"):
        verify_inclusion_proof(proof, SIGNED, KEY.verifying_key)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "x"}, "format is 'x'"),
        ({"leaf_index": -1}, "leaf_index is missing or not a whole number"),
        ({"tree_size": "13"}, "tree_size is missing or not a whole number"),
        ({"prev_hash": "zz"}, "prev_hash is not a 32-byte hash"),
        ({"audit_path": ["00" * 31]}, r"audit_path\[0\] is not a 32-byte hash"),
        ({"audit_path": ["00" * 32] * 65}, "audit_path has 65 hashes; at most 64"),
        ({"checkpoint": None}, "checkpoint is missing or not a str"),
    ],
)
def test_malformed_proofs_name_the_field(change: dict[str, object], message: str) -> None:
    data = proof_of(RECORDS, 4, 13, SIGNED).to_dict() | change
    with pytest.raises(UsageError, match=message):
        InclusionProof.parse(orjson.dumps(data))


def test_a_truncated_proof_file_is_refused() -> None:
    text = orjson.dumps(proof_of(RECORDS, 4, 13, SIGNED).to_dict())
    with pytest.raises(UsageError, match="the proof is not JSON"):
        InclusionProof.parse(text[: len(text) // 2])


def test_a_truncated_checkpoint_is_refused() -> None:
    proof = proof_of(RECORDS, 4, 13, SIGNED)
    with pytest.raises(UsageError, match=r"no blank line|no signature lines"):
        verify_inclusion_proof(proof, SIGNED[: SIGNED.index("\n\n") + 1], KEY.verifying_key)


# consistency


@given(old=st.integers(0, 30), grown=st.integers(0, 30))
def test_a_grown_log_is_consistent_with_every_earlier_checkpoint(old: int, grown: int) -> None:
    leaves = [leaf(r) for r in chain(old + grown)]
    assert consistency_failure(old, merkle.root(leaves[:old]), leaves) is None


def test_a_cut_tail_and_a_rewritten_log_fail_the_consistency_proof() -> None:
    leaves = [leaf(r) for r in RECORDS]
    root = merkle.root(leaves[:10])
    assert consistency_failure(10, root, leaves[:7]) == (
        "the log was cut: the checkpoint covers 10 records, the log holds 7 "
        "(records 8..10 are missing)"
    )
    rewritten = [leaf(r) for r in chain(13, start=1)]
    reason = consistency_failure(10, root, rewritten)
    assert reason is not None
    assert "no longer hash to the checkpoint's root" in reason
    # A record inserted in the middle shifts every later leaf: inconsistent too.
    inserted = [*leaves[:3], leaf(chain(1, start=50)[0]), *leaves[3:]]
    assert consistency_failure(10, root, inserted) is not None


@given(
    index=st.integers(0, 12),
    field=st.sampled_from(["leaf_index", "tree_size", "body", "prev_hash", "audit_path"]),
    salt=st.integers(1, 2**16),
)
def test_no_single_altered_field_is_ever_accepted(index: int, field: str, salt: int) -> None:
    data = proof_of(RECORDS, index, 13, SIGNED).to_dict()
    if field in ("leaf_index", "tree_size"):
        data[field] = data[field] + salt
    elif field == "body":
        data["body"] = orjson.dumps({"n": index, "salt": salt}).decode()
        # The forger also fixes the digest fields, so only the Merkle check can catch it.
        data = _fixed(data).to_dict()
    elif field == "prev_hash":
        data["prev_hash"] = salt.to_bytes(32, "big").hex()
        data = _fixed(data).to_dict()
    else:
        position = salt % len(data["audit_path"])
        data["audit_path"][position] = salt.to_bytes(32, "big").hex()
    with pytest.raises((IntegrityError, UsageError)):
        verify_inclusion_proof(InclusionProof.parse(orjson.dumps(data)), SIGNED, KEY.verifying_key)


def _fixed(data: dict[str, Any]) -> InclusionProof:
    """The proof in ``data`` with its derived fields recomputed, as a careful forger would."""
    return InclusionProof(
        data["leaf_index"],
        data["seq"],
        data["tree_size"],
        data["body"].encode(),
        bytes.fromhex(data["prev_hash"]),
        tuple(bytes.fromhex(node) for node in data["audit_path"]),
        data["checkpoint"],
    )
