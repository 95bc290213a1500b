"""Integrity administration of a SQL store: read the chain, verify it, take Merkle checkpoints.

These are admin operations (each reads the whole log), kept off the hot :class:`Store`
interface: :class:`~threadline.store.base.IntegrityAdmin` is their protocol, and
:class:`~threadline.store.sql.SqlStore` delegates to :class:`LogAdmin`.  The checks themselves
are pure functions over records (:mod:`threadline.integrity.chain`); this module only feeds
them from the tables.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from threadline.errors import IntegrityError
from threadline.integrity.chain import ChainRecord, LogReport, verify_log
from threadline.store import schema as s
from threadline.store.base import StoredCheckpoint


class LogAdmin:
    """Integrity operations over one store's tables.

    ``write_lock`` is the store's in-process writer lock and ``insert`` its dialect's
    ``insert`` construct (for ``ON CONFLICT``).
    """

    def __init__(
        self,
        read_engine: Engine,
        write_engine: Engine,
        write_lock: threading.Lock,
        insert: Callable[[sa.Table], Any],
    ) -> None:
        self._read = read_engine
        self._write = write_engine
        self._write_lock = write_lock
        self._insert = insert

    def iter_chain(self, page: int = 5000) -> Iterator[ChainRecord]:
        """Every record in log order, read in pages so memory stays bounded."""
        after = 0
        cols = (s.events.c.seq, s.events.c.body, s.events.c.prev_hash, s.events.c.hash)
        while True:
            with self._read.connect() as conn:
                rows = conn.execute(
                    sa.select(*cols)
                    .where(s.events.c.seq > after)
                    .order_by(s.events.c.seq)
                    .limit(page)
                ).all()
            if not rows:
                return
            for r in rows:
                yield ChainRecord(
                    int(r.seq), s.as_bytes(r.body), s.as_bytes(r.prev_hash), s.as_bytes(r.hash)
                )
            after = int(rows[-1].seq)

    def checkpoints(self) -> list[StoredCheckpoint]:
        """The stored Merkle checkpoints, smallest tree first."""
        t = s.checkpoints
        with self._read.connect() as conn:
            rows = conn.execute(
                sa.select(t.c.tree_size, t.c.root, t.c.created_us).order_by(t.c.tree_size)
            ).all()
        return [StoredCheckpoint(int(size), s.as_bytes(root), int(at)) for size, root, at in rows]

    def verify(self) -> LogReport:
        """Check every record's link and canonical body, and the Merkle root at every stored
        checkpoint (which catches a cut-off tail or a log rewritten from its start)."""
        return self._verify(self.checkpoints())

    def _verify(self, stored: list[StoredCheckpoint]) -> LogReport:
        return verify_log(self.iter_chain(), {c.tree_size: c.root for c in stored})

    def checkpoint(self) -> StoredCheckpoint | None:
        """Verify the log, then record its size and Merkle root; None if the log is empty.

        A checkpoint vouches only for a log that verifies, so a failure raises
        :class:`~threadline.errors.IntegrityError` and stores nothing.  This reads the whole
        log; later :meth:`verify` calls recompute the root at this size and compare.  With no
        event appended since the last checkpoint, that one is returned.
        """
        stored = self.checkpoints()
        report = self._verify(stored)
        if not report.ok:
            assert report.first_break is not None
            raise IntegrityError(
                f"the log fails verification at record {report.first_break.seq}: "
                f"{report.first_break.reason}; no checkpoint taken (run threadline verify)"
            )
        if report.records == 0:
            return None
        for known in stored:
            if known.tree_size == report.records:
                return known
        taken = StoredCheckpoint(report.records, report.root, time.time_ns() // 1000)
        t = s.checkpoints
        # A concurrent checkpoint of the same size has the same root (both verified it).
        stmt = self._insert(t).on_conflict_do_nothing(index_elements=["tree_size"])
        with self._write_lock, self._write.begin() as conn:
            conn.execute(
                stmt.values(tree_size=taken.tree_size, root=taken.root, created_us=taken.created_us)
            )
        return taken


__all__ = ["LogAdmin"]
