"""The hash chain over the event log.

Each record carries ``prev_hash`` (the previous record's ``hash``; 32 zero bytes for the first)
and ``hash = BLAKE3(prev_hash ‖ body)`` where ``body`` is the record's canonical JSON.  Editing a
body, deleting or reordering records, or editing a stored hash breaks the chain at the first
affected record, which :func:`verify_chain` names.  Truncating the tail keeps the chain valid by
construction, and so does rewriting the whole log from its first record; Merkle checkpoints
(:mod:`threadline.integrity.merkle`) catch both, and :func:`verify_log` checks the chain and
the checkpoints in one pass.

An *erased* record (``threadline gc`` applying a ``delete`` rule) keeps its ``prev_hash`` and
``hash`` but holds a rewritten body: the names and facets the rule deleted are gone.  A later
record of the log, the erasure event, commits to that record's ``hash`` and to the BLAKE3 of its
new body (:class:`Erasure`).  For such a record the chain checks continuity (``prev_hash``), the
hash the erasure committed to, and the new body against its committed digest, instead of
``hash = BLAKE3(prev_hash ‖ body)``; the Merkle leaf is the unchanged ``hash``, so checkpoints
signed before the erasure still verify, and any other change to the record still fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import blake3

from threadline.integrity import merkle
from threadline.model.canonical import canonical_json
from threadline.model.canonical_text import parse_canonical

GENESIS: Final = bytes(32)


def link(prev_hash: bytes, body: bytes) -> bytes:
    """The hash of a record whose canonical body is ``body``, appended after ``prev_hash``."""
    hasher = blake3.blake3(prev_hash)
    hasher.update(body)
    return hasher.digest()


@dataclass(frozen=True, slots=True)
class ChainRecord:
    seq: int
    body: bytes
    prev_hash: bytes
    hash: bytes


@dataclass(frozen=True, slots=True)
class Erasure:
    """What an erasure event says of one record it rewrote."""

    by: int
    """The sequence number of the erasure event (later in the log than the record)."""
    hash: bytes
    """The record's chain hash, which stays."""
    body_digest: bytes
    """BLAKE3 of the record's rewritten body."""
    digest: bytes = b""
    """The record's original event digest (its indexed ``digest`` column keeps it)."""
    archived_in: str | None = None
    """Set when the record was *archived*, not erased: its body moved, unchanged, to this
    archive file, and the log keeps an empty body; ``body_digest`` is the moved body's."""


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """Where and why verification failed."""

    seq: int
    reason: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    records: int
    head: bytes
    first_break: ChainBreak | None

    @property
    def ok(self) -> bool:
        return self.first_break is None


def verify_chain(
    records: Iterable[ChainRecord],
    *,
    check_canonical: bool = True,
    start: bytes = GENESIS,
    erased: Mapping[int, Erasure] | None = None,
) -> ChainReport:
    """Walk records in ``seq`` order and report the first one that breaks the chain;
    ``erased``: the records erasure events rewrote (see the module docstring)."""
    erased = erased or {}
    prev = start
    expected_seq: int | None = None
    count = 0

    def broken(seq: int, reason: str) -> ChainReport:
        return ChainReport(count, prev, ChainBreak(seq, reason))

    for record in records:
        if expected_seq is not None and record.seq != expected_seq:
            return broken(record.seq, f"sequence gap: record {expected_seq} is missing")
        if record.prev_hash != prev:
            return broken(record.seq, "prev_hash does not match the previous record's hash")
        erasure = erased.get(record.seq)
        if erasure is None or link(record.prev_hash, record.body) == record.hash:
            if link(record.prev_hash, record.body) != record.hash:
                return broken(record.seq, "hash does not match the record's body")
        else:
            problem = erasure_problem(record, erasure)
            if problem is not None:
                return broken(record.seq, problem)
        if check_canonical and not (
            erasure is not None and erasure.archived_in and not record.body
        ):
            try:
                value, canonical = parse_canonical(record.body)
                if canonical is None:
                    canonical = canonical_json(value)
            except Exception as exc:  # a body that no longer parses is itself the finding
                return broken(record.seq, f"body is not valid JSON ({exc})")
            if canonical != record.body:
                return broken(record.seq, "body is not in canonical form")
        count += 1
        prev = record.hash
        expected_seq = record.seq + 1
    return ChainReport(count, prev, None)


def erasure_problem(record: ChainRecord, erasure: Erasure) -> str | None:
    """Why an erased or archived record does not hold to what its erasure or archive event
    committed, or None."""
    if erasure.by <= record.seq:
        return f"erasure record {erasure.by} cannot rewrite record {record.seq}, which follows it"
    if erasure.hash != record.hash:
        return f"hash differs from the one record {erasure.by} (erasure or archive) committed to"
    if erasure.archived_in is not None:
        if record.body:
            return (
                f"body is neither the one appended nor empty, as archive record {erasure.by} "
                f"left it (the body is in {erasure.archived_in})"
            )
        return None
    if blake3.blake3(record.body).digest() != erasure.body_digest:
        return (
            f"body was changed after erasure record {erasure.by} rewrote it (its BLAKE3 is "
            "not the one the erasure committed to)"
        )
    return None


@dataclass(frozen=True, slots=True)
class LogReport:
    """The outcome of verifying a whole log: its hash chain and its Merkle checkpoints."""

    records: int
    """Records known intact: in order, linked, and covered by every checkpoint checked."""
    head: bytes
    """The hash of the last intact record (:data:`GENESIS` when there is none)."""
    first_break: ChainBreak | None
    """The first record that fails, or None."""
    checkpoints: int
    """How many stored checkpoints matched the records."""
    root: bytes
    """The Merkle root over the first ``records`` records (see :func:`leaf`)."""
    erased: int = 0
    """How many of the records were rewritten by erasure events (and checked as such)."""

    @property
    def ok(self) -> bool:
        return self.first_break is None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``threadline verify --json``."""
        first = self.first_break
        return {
            "ok": self.ok,
            "records": self.records,
            "head": self.head.hex(),
            "first_bad": first.seq if first else None,
            "reason": first.reason if first else None,
            "checkpoints": self.checkpoints,
            "root": self.root.hex(),
            "erased": self.erased,
        }


class _RootMismatch(Exception):
    """Raised through :func:`verify_chain` when a checkpoint's root differs."""


def leaf(record: ChainRecord) -> bytes:
    """A record's Merkle leaf hash: the leaf holds the record's chain ``hash``.

    The chain hash already commits to the body and to every record before it, so the tree
    needs no other input, and a checkpoint is checked from the chain alone.
    """
    return merkle.leaf_hash(record.hash)


def verify_log(
    records: Iterable[ChainRecord],
    checkpoints: Mapping[int, bytes],
    *,
    check_canonical: bool = True,
    erased: Mapping[int, Erasure] | None = None,
) -> LogReport:
    """Verify a log from its first record: the chain (:func:`verify_chain`) and, at each
    checkpoint size, the Merkle root of the records so far against the root stored then.

    The chain alone cannot notice a cut-off tail or a log rewritten from its first record on
    (re-linked, it verifies); checkpoints can.  A root that differs names the first record
    after the last checkpoint that still matched, since any record in between may be the
    rewritten one; a checkpoint larger than the log names the first missing record.
    """
    accumulator = merkle.MerkleAccumulator()
    sizes = sorted(size for size in checkpoints if size > 0)
    pending = iter(sizes)
    next_size = next(pending, None)
    matched = 0
    # The state at the last matched checkpoint: what a later mismatch falls back to.
    certified = (0, GENESIS, accumulator.root())

    def tapped() -> Iterator[ChainRecord]:
        nonlocal matched, next_size, certified
        for record in records:
            yield record
            # verify_chain asks for the next record only once it has accepted this one.
            accumulator.append(leaf(record))
            if accumulator.size == next_size:
                root = accumulator.root()
                if root != checkpoints[next_size]:
                    raise _RootMismatch
                matched += 1
                certified = (next_size, record.hash, root)
                next_size = next(pending, None)

    try:
        chain = verify_chain(tapped(), check_canonical=check_canonical, erased=erased)
    except _RootMismatch:
        size, head, root = certified
        assert next_size is not None
        return LogReport(
            size,
            head,
            ChainBreak(
                size + 1,
                f"records {size + 1}..{next_size} do not match the Merkle root of checkpoint "
                f"{next_size}: one of them was rewritten",
            ),
            matched,
            root,
        )
    if chain.first_break is not None:
        return LogReport(chain.records, chain.head, chain.first_break, matched, accumulator.root())
    if next_size is not None:
        missing = chain.records + 1
        return LogReport(
            chain.records,
            chain.head,
            ChainBreak(
                missing,
                f"records {missing}..{sizes[-1]} are missing: checkpoint {sizes[-1]} covers "
                f"{sizes[-1]} records, the log holds {chain.records}",
            ),
            matched,
            accumulator.root(),
        )
    count = sum(1 for seq in (erased or {}) if seq <= chain.records)
    return LogReport(chain.records, chain.head, None, matched, accumulator.root(), count)


def consistency_failure(old_size: int, old_root: bytes, leaves: Sequence[bytes]) -> str | None:
    """Why the log whose leaf hashes are ``leaves`` does not extend the tree ``old_root`` of
    ``old_size`` leaves, or None when the RFC 9162 consistency proof verifies."""
    size = len(leaves)
    if old_size > size:
        return (
            f"the log was cut: the checkpoint covers {old_size} records, the log holds {size} "
            f"(records {size + 1}..{old_size} are missing)"
        )
    new_root = merkle.root(leaves)
    proof = merkle.consistency_proof(leaves, old_size)
    if merkle.verify_consistency(old_size, size, old_root, new_root, proof):
        return None
    return (
        f"the log's first {old_size} records no longer hash to the checkpoint's root "
        f"(the consistency proof from size {old_size} to {size} fails): "
        "records were rewritten, inserted or deleted"
    )
