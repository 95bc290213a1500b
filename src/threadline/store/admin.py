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

import blake3
import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine, Row

from threadline.errors import IntegrityError, InvalidEvent
from threadline.integrity import merkle
from threadline.integrity.chain import (
    GENESIS,
    ChainBreak,
    ChainRecord,
    LogReport,
    leaf,
    verify_log,
)
from threadline.store import schema as s
from threadline.store.base import StoredCheckpoint
from threadline.store.projection import to_micros

#: The indexed columns of ``tl_events`` that its body determines, which verify checks.
#: (``recorded_us`` is when the store took the event, in no body; ``seq``, ``prev_hash`` and
#: ``hash`` are the chain's, checked by the chain.)
INDEXED_COLUMNS = ("digest", "event_time_us", *s.EVENT_COLUMNS)


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
        for r in self._rows(("body", "prev_hash", "hash"), page):
            yield ChainRecord(
                int(r.seq), s.as_bytes(r.body), s.as_bytes(r.prev_hash), s.as_bytes(r.hash)
            )

    def _rows(self, columns: tuple[str, ...], page: int = 5000) -> Iterator[Row[Any]]:
        """``seq`` and ``columns`` of every row of the log in order, read in pages."""
        after = 0
        cols = (s.events.c.seq, *(s.events.c[name] for name in columns))
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
            yield from rows
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
        """Check every record's link and canonical body, the indexed columns the queries read
        against that body (:data:`INDEXED_COLUMNS`), and the Merkle root at every stored
        checkpoint (which catches a cut-off tail or a log rewritten from its start)."""
        return self._verify(self.checkpoints())

    def _verify(self, stored: list[StoredCheckpoint]) -> LogReport:
        # The chain alone passes a row whose indexed columns were edited, and the queries,
        # which read those columns, would answer from the forged values.  The first row whose
        # columns disagree with its body is a break too; whichever break comes first is named
        # (a Merkle mismatch names the first record it cannot vouch for, which may be earlier).
        sizes = {c.tree_size: c.root for c in stored}
        column: LogReport | None = None
        accumulator = merkle.MerkleAccumulator()
        head = GENESIS

        def checked() -> Iterator[ChainRecord]:
            nonlocal column, head
            for row in self._rows(("body", "prev_hash", "hash", *INDEXED_COLUMNS)):
                record = ChainRecord(
                    int(row.seq),
                    s.as_bytes(row.body),
                    s.as_bytes(row.prev_hash),
                    s.as_bytes(row.hash),
                )
                if column is None:
                    reason = column_mismatch(row, record.body)
                    if reason is not None:
                        matched = sum(1 for size in sizes if 0 < size < record.seq)
                        column = LogReport(
                            accumulator.size,
                            head,
                            ChainBreak(record.seq, reason),
                            matched,
                            accumulator.root(),
                        )
                    else:
                        accumulator.append(leaf(record))
                        head = record.hash
                yield record

        report = verify_log(checked(), sizes)
        if column is None or column.first_break is None:
            return report
        if report.first_break is not None and report.first_break.seq <= column.first_break.seq:
            return report
        return column

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


def column_mismatch(row: Row[Any], body: bytes) -> str | None:
    """Which indexed column of ``row`` disagrees with ``body`` (and how), or None."""
    if s.as_bytes(row.digest) != blake3.blake3(body).digest():
        return (
            f"indexed column digest ({s.as_bytes(row.digest).hex()[:16]}…) does not match "
            "the record's body"
        )
    try:
        event = orjson.loads(body)
        expected = dict(
            zip(
                ("event_time_us", *s.EVENT_COLUMNS),
                (to_micros(event["eventTime"]), *s.event_columns(event)),
                strict=True,
            )
        )
    except orjson.JSONDecodeError:
        return None  # the chain names a body that no longer parses
    except (KeyError, TypeError, ValueError, InvalidEvent) as exc:
        return f"the record's body gives no indexed columns ({exc})"
    for name, value in expected.items():
        stored = getattr(row, name)
        if stored != value:
            return (
                f"indexed column {name} ({stored!r}) does not match the record's body ({value!r})"
            )
    return None


__all__ = ["INDEXED_COLUMNS", "LogAdmin", "column_mismatch"]
