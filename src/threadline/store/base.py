"""The store protocols: what capture, queries, export and the server may ask of any backend.

:class:`Store` is the everyday interface, both sides of it: the write side (``append_batch``,
``sync``) and the read side (``read`` for a read transaction over the SQLAlchemy Core schema
in :mod:`threadline.store.schema`, ``read_after`` to follow the log, ``counts``,
``schema_version``).  :class:`IntegrityAdmin` holds the admin operations (walk and verify the
chain, take Merkle checkpoints), each of which reads the whole log, so they stay off the hot
interface; a caller that needs them asks for that protocol.  Both SQL backends
(:class:`~threadline.store.sqlite.SqliteStore`, :class:`~threadline.store.postgres.PostgresStore`)
implement both.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, TypeVar, runtime_checkable

from threadline.errors import UsageError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from threadline.integrity.chain import ChainRecord, LogReport
    from threadline.store.prepared import PreparedEvent

T = TypeVar("T")

#: What an append takes: a parsed event, or one a caller prepared already
#: (:func:`~threadline.store.prepared.prepare_event`).
Appendable: TypeAlias = "dict[str, Any] | PreparedEvent"


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
    #: The body was read back from an archive file (``threadline gc``'s archive rules).
    archived: bool = False


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

    @property
    def safe_url(self) -> str:
        """:attr:`url` with any password hidden: the form errors and reports show."""
        ...

    # --- write side ---------------------------------------------------------------------

    def append_batch(self, events: Sequence[Appendable], *, durable: bool = False) -> AppendResult:
        """Append events atomically (all or nothing); already-stored events are skipped."""
        ...

    def append_chunks(
        self, chunks: Iterable[Sequence[Appendable]], *, durable: bool = False
    ) -> AppendResult:
        """Append every chunk's events in one transaction, holding one chunk at a time."""
        ...

    def sync(self) -> None:
        """Make every committed append durable."""
        ...

    def settle(self) -> None:
        """Bring the derived graph up to the log's head as it is now (appends are
        acknowledged before they are projected; reads do this themselves)."""
        ...

    # --- read side ----------------------------------------------------------------------

    def read(self, fn: Callable[[Connection], T], *, graph: bool = True) -> T:
        """Run ``fn`` in a read transaction over the Core schema and return its result, the
        graph tables first brought up to the log (``graph=False``: ``fn`` reads the log
        only)."""
        ...

    def read_after(self, cursor: Cursor, limit: int = 1000) -> list[StoredEvent]:
        """Events with ``seq`` greater than the cursor, in log order."""
        ...

    def counts(self) -> dict[str, int]:
        """Rows per table: ``events``, ``nodes``, ``versions``, ``edges``, ``runs``."""
        ...

    def schema_version(self) -> int:
        """The schema revision the store is stamped with."""
        ...

    def close(self) -> None:
        """Release connections; idempotent."""
        ...


@runtime_checkable
class IntegrityAdmin(Protocol):
    """Integrity administration of a store's log: admin work that reads the whole log."""

    def iter_chain(self, page: int = 5000) -> Iterator[ChainRecord]:
        """Every record in log order."""
        ...

    def verify(self) -> LogReport:
        """Check the hash chain and the Merkle root at every stored checkpoint."""
        ...

    def checkpoint(self) -> StoredCheckpoint | None:
        """Verify the log, then record its size and Merkle root; None if the log is empty."""
        ...

    def checkpoints(self) -> list[StoredCheckpoint]:
        """The stored Merkle checkpoints, smallest tree first."""
        ...


__all__ = [
    "AppendResult",
    "Appendable",
    "Cursor",
    "IntegrityAdmin",
    "Store",
    "StoredCheckpoint",
    "StoredEvent",
]
