"""The store protocol: the few operations capture, queries and the server need.

Admin work (verify, migrate, checkpoints) lives on :class:`~threadline.store.sql.SqlStore`
itself, not on this hot interface.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from threadline.errors import UsageError


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What one batch append did: ``appended + duplicates`` is the number of events given."""

    appended: int
    duplicates: int  # already stored, or repeated within the batch
    head_seq: int


@dataclass(frozen=True, slots=True)
class StoredEvent:
    seq: int
    event_time_us: int
    recorded_us: int
    body: bytes
    hash: bytes


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A Merkle checkpoint of the log: the root over its first ``tree_size`` records."""

    tree_size: int
    root: bytes
    created_us: int


@dataclass(frozen=True, slots=True, order=True)
class Cursor:
    """An opaque position in the log: resume reading after ``seq``."""

    seq: int

    def encode(self) -> str:
        return base64.urlsafe_b64encode(f"tl1:{self.seq}".encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            padded = token + "=" * (-len(token) % 4)
            prefix, _, seq = base64.urlsafe_b64decode(padded).decode().partition(":")
            if prefix != "tl1":
                raise ValueError(prefix)
            return cls(int(seq))
        except (ValueError, UnicodeDecodeError) as exc:
            raise UsageError(f"cursor {token!r} is not a threadline cursor") from exc


@runtime_checkable
class Store(Protocol):
    """Append-only lineage log with derived graph tables."""

    url: str

    def append_batch(
        self, events: Sequence[dict[str, Any]], *, durable: bool = False
    ) -> AppendResult:
        """Append events atomically (all or nothing); already-stored events are skipped."""
        ...

    def read_after(self, cursor: Cursor, limit: int = 1000) -> list[StoredEvent]:
        """Events with ``seq`` greater than the cursor, in log order."""
        ...

    def schema_version(self) -> int:
        """The schema revision the store is stamped with."""
        ...

    def close(self) -> None:
        """Release connections; idempotent."""
        ...
