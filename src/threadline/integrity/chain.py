"""The hash chain over the event log.

Each record carries ``prev_hash`` (the previous record's ``hash``; 32 zero bytes for the first)
and ``hash = BLAKE3(prev_hash ‖ body)`` where ``body`` is the record's canonical JSON.  Editing a
body, deleting or reordering records, or editing a stored hash breaks the chain at the first
affected record, which :func:`verify_chain` names.  Truncating the tail keeps the chain valid by
construction; signed Merkle checkpoints (:mod:`threadline.integrity.merkle`) catch that.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import blake3
import orjson

from threadline.model.canonical import canonical_json

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
    records: Iterable[ChainRecord], *, check_canonical: bool = True, start: bytes = GENESIS
) -> ChainReport:
    """Walk records in ``seq`` order and report the first one that breaks the chain."""
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
        if link(record.prev_hash, record.body) != record.hash:
            return broken(record.seq, "hash does not match the record's body")
        if check_canonical:
            try:
                canonical = canonical_json(orjson.loads(record.body))
            except Exception as exc:  # a body that no longer parses is itself the finding
                return broken(record.seq, f"body is not valid JSON ({exc})")
            if canonical != record.body:
                return broken(record.seq, "body is not in canonical form")
        count += 1
        prev = record.hash
        expected_seq = record.seq + 1
    return ChainReport(count, prev, None)
