"""Proofs about the log that a verifier checks without trusting the store.

Two questions, each answered by RFC 9162 (§2.1.3, §2.1.4) against a signed checkpoint
(:mod:`threadline.integrity.checkpoint`), so that the store's operator, who can edit every
table, cannot answer them falsely:

* **consistency**: does today's log still hold every record a checkpoint committed to?
  :func:`threadline.integrity.chain.consistency_failure` builds the consistency proof from the checkpoint's size to the
  log's size over the log's leaves and checks it against the checkpoint's (signed) root;
* **inclusion**: is this record in the log?  :class:`InclusionProof` carries the record (its
  canonical body and the previous chain hash, from which its leaf is recomputed), its audit
  path and the signed checkpoint it is relative to; :func:`verify_inclusion_proof` checks it
  offline with the public key alone.

A leaf is the record's chain hash (:func:`threadline.integrity.chain.leaf`), which commits to
its body and to every record before it.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import blake3
import orjson

from threadline.errors import IntegrityError, UsageError
from threadline.integrity import merkle
from threadline.integrity.chain import link
from threadline.integrity.checkpoint import Checkpoint, open_checkpoint
from threadline.integrity.note import SignedNote
from threadline.integrity.signing import VerifyingKey

#: The ``format`` of a proof file; a verifier refuses any other.
INCLUSION_FORMAT: Final = "threadline-inclusion-proof/v1"
#: Audit paths are at most 64 hashes long (tree sizes are uint64).
_MAX_PATH: Final = 64
_HASH_SIZE: Final = 32


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """One record, its audit path, and the signed checkpoint the path leads to."""

    leaf_index: int
    """The record's position in the log, from 0; e.g. ``41`` for the 42nd record."""
    seq: int
    """The record's sequence number in the store that made the proof (informative)."""
    tree_size: int
    """The size of the tree the path leads to: the checkpoint's."""
    body: bytes
    """The record's canonical JSON body."""
    prev_hash: bytes
    """The chain hash of the record before it (32 zero bytes for the first)."""
    audit_path: tuple[bytes, ...]
    """RFC 9162 audit path, from the leaf's sibling up."""
    checkpoint: str
    """The signed checkpoint note (C2SP signed note text) the proof is relative to."""

    @property
    def event_digest(self) -> bytes:
        """BLAKE3 of the body: the id ``threadline prove`` takes (``b3:…``)."""
        return blake3.blake3(self.body).digest()

    @property
    def leaf_hash(self) -> bytes:
        return merkle.leaf_hash(link(self.prev_hash, self.body))

    def to_dict(self) -> dict[str, Any]:
        """The JSON ``threadline prove`` prints."""
        return {
            "format": INCLUSION_FORMAT,
            "leaf_index": self.leaf_index,
            "seq": self.seq,
            "tree_size": self.tree_size,
            "event_digest": "b3:" + self.event_digest.hex(),
            "leaf_hash": self.leaf_hash.hex(),
            "prev_hash": self.prev_hash.hex(),
            "body": self.body.decode("utf-8"),
            "audit_path": [node.hex() for node in self.audit_path],
            "checkpoint": self.checkpoint,
        }

    @classmethod
    def parse(cls, text: str | bytes) -> InclusionProof:
        """Read a proof file; a malformed one raises :class:`UsageError` naming the field."""
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise UsageError(f"the proof is not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise UsageError("the proof is not a JSON object")
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InclusionProof:
        if data.get("format") != INCLUSION_FORMAT:
            raise UsageError(
                f"the proof's format is {data.get('format')!r}, not {INCLUSION_FORMAT!r}"
            )
        body = _field(data, "body", str).encode("utf-8")
        path = _field(data, "audit_path", list)
        if len(path) > _MAX_PATH:
            raise UsageError(f"the proof's audit_path has {len(path)} hashes; at most {_MAX_PATH}")
        proof = cls(
            leaf_index=_count(data, "leaf_index"),
            seq=_count(data, "seq"),
            tree_size=_count(data, "tree_size"),
            body=body,
            prev_hash=_hash(_field(data, "prev_hash", str), "prev_hash"),
            audit_path=tuple(_hash(node, f"audit_path[{i}]") for i, node in enumerate(path)),
            checkpoint=_field(data, "checkpoint", str),
        )
        # Fields that are functions of the others must agree with them: a proof file edited
        # by hand to claim another event fails here, with the field named.
        claimed = _field(data, "event_digest", str)
        if claimed != "b3:" + proof.event_digest.hex():
            raise IntegrityError(
                f"the proof's event_digest {claimed} is not the digest of its body: "
                "the body or the digest was altered"
            )
        if data.get("leaf_hash") not in (None, proof.leaf_hash.hex()):
            raise IntegrityError(
                "the proof's leaf_hash is not the hash of its body and prev_hash: "
                "one of them was altered"
            )
        return proof


def verify_inclusion_proof(
    proof: InclusionProof,
    trusted: str | bytes,
    key: VerifyingKey,
    *,
    origin: str | None = None,
) -> Checkpoint:
    """Check ``proof`` against the signed checkpoint ``trusted`` with ``key``; return it.

    Raises :class:`~threadline.errors.IntegrityError` naming the first problem: a checkpoint
    not signed by ``key`` (another key, or altered text), a proof relative to another
    checkpoint than the trusted one (an older one replayed, or another log's), or an audit
    path that does not lead from the record to the checkpoint's root.
    """
    checkpoint = open_checkpoint(trusted, key, origin=origin)
    try:
        claimed = Checkpoint.parse(SignedNote.parse(proof.checkpoint).text)
    except UsageError as exc:
        raise UsageError(f"the proof's checkpoint note is malformed: {exc}") from None
    if claimed.origin != checkpoint.origin:
        raise IntegrityError(
            f"the proof is about log {claimed.origin!r}, the trusted checkpoint about "
            f"{checkpoint.origin!r}"
        )
    if claimed.size != checkpoint.size:
        raise IntegrityError(
            f"the proof is relative to a checkpoint of size {claimed.size}, not the trusted "
            f"one of size {checkpoint.size} (a replayed or stale proof); make a new one with "
            "threadline prove ID --checkpoint NOTE"
        )
    if claimed.root != checkpoint.root:
        raise IntegrityError(
            f"the proof's checkpoint claims another root for size {checkpoint.size} than the "
            "trusted checkpoint: it is forged"
        )
    if proof.tree_size != checkpoint.size:
        raise IntegrityError(
            f"the proof's tree_size {proof.tree_size} is not its checkpoint's size "
            f"{checkpoint.size}"
        )
    if proof.leaf_index >= checkpoint.size:
        raise IntegrityError(
            f"leaf {proof.leaf_index} is not in the checkpoint's tree of {checkpoint.size} "
            "records (it was appended later: prove it against a newer checkpoint)"
        )
    if not merkle.verify_inclusion(
        proof.leaf_hash, proof.leaf_index, proof.tree_size, proof.audit_path, checkpoint.root
    ):
        raise IntegrityError(
            f"the audit path of record {proof.leaf_index + 1} does not lead to the checkpoint's "
            "root: the record, its position or the path was altered"
        )
    return checkpoint


def _field(data: Mapping[str, Any], name: str, kind: type) -> Any:
    value = data.get(name)
    if not isinstance(value, kind):
        raise UsageError(f"the proof's {name} is missing or not a {kind.__name__}")
    return value


def _count(data: Mapping[str, Any], name: str) -> int:
    value = data.get(name)
    if type(value) is not int or value < 0:
        raise UsageError(f"the proof's {name} is missing or not a whole number ≥ 0")
    return value


def _hash(text: Any, name: str) -> bytes:
    try:
        raw = bytes.fromhex(text) if isinstance(text, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != _HASH_SIZE:
        raise UsageError(f"the proof's {name} is not a {_HASH_SIZE}-byte hash in hex")
    return raw


def decode_digest(text: str) -> bytes | None:
    """The 32 bytes of an event digest written ``b3:HEX`` or ``HEX``; None if it is not one."""
    raw = text.removeprefix("b3:")
    if len(raw) != 2 * _HASH_SIZE:
        return None
    try:
        return bytes.fromhex(raw)
    except (ValueError, binascii.Error):
        return None


__all__ = [
    "INCLUSION_FORMAT",
    "InclusionProof",
    "decode_digest",
    "verify_inclusion_proof",
]
