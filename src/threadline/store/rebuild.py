"""Rebuilding the derived graph from the log.

The log is the source of truth and every graph table (``tl_nodes``, ``tl_versions``,
``tl_edges``, ``tl_runs``) is derived from it.  When bodies in the log change under the
lifecycle rules (an erasure rewrites them), the graph must become what the new bodies give,
and nothing less: a graph patched row by row could keep a name the log no longer holds.

:func:`project_log` replays stored bodies, in log order and under their own sequence numbers,
through the projection the store ran at ingest, into another store's graph tables (no log is
written there): ``verify --deep`` compares against it, and :func:`rebuild_graph` swaps it in.

A rebuild projects the log into a scratch SQLite store without holding any lock, then, under
the chain lock (appends wait), projects the events that arrived meanwhile, replaces the four
graph tables with the scratch's rows in one transaction, and changes ``graph_epoch`` in
``tl_meta`` so that every writer, in this process or another, drops the row ids it cached
(rows are renumbered).  A rebuild killed at any point leaves the old graph whole; running it
again starts over.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.store import schema as s
from threadline.store.base import Cursor, Store
from threadline.store.sql import SqlStore, projected
from threadline.store.sqlite import SqliteStore
from threadline.store.upserts import Pending

#: Events projected per transaction of a replay.
REPLAY_PAGE: Final = 2_000
#: Rows copied per statement when the rebuilt tables are swapped in.
_COPY_PAGE: Final = 5_000
#: The graph tables, parents first (the order rows are inserted; deletes go the other way).
GRAPH_TABLES: Final = (s.nodes, s.versions, s.edges, s.runs)

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class RebuildReport:
    events: int
    """Events projected."""
    rows: dict[str, int]
    """Rows of each graph table after the rebuild."""


def _project(target: SqlStore, page: list[tuple[int, int, bytes]]) -> None:
    """Write ``page``'s facts (``(seq, event time, body)`` in log order) into ``target``'s
    graph, as the store's own projection does (:func:`~threadline.store.sql.projected`)."""
    with target._write_lock, target._write.begin() as conn:
        target._projections.write(conn, projected(page), Pending())


def project_log(
    source: Store, target: SqlStore, *, after: int = 0, progress: Progress | None = None
) -> int:
    """Project every event of ``source``'s log after ``after`` onto ``target``'s graph, in
    log order and under their own sequence numbers; returns the last sequence projected."""
    head = log_head(source)
    last = after
    while True:
        page = source.read_after(Cursor(last), REPLAY_PAGE)
        if not page:
            return last
        _project(target, [(e.seq, e.event_time_us, e.body) for e in page])
        last = page[-1].seq
        if progress is not None:
            progress(last, max(head, last))


def log_head(store: Store) -> int:
    """The ``seq`` of the log's last record (0 when empty)."""

    def read(conn: Connection) -> int:
        return int(conn.execute(sa.select(sa.func.max(s.events.c.seq))).scalar_one() or 0)

    return store.read(read, graph=False)


def rebuild_graph(store: SqlStore, *, progress: Progress | None = None) -> RebuildReport:
    """Replace ``store``'s graph tables with a projection of its whole log (see above)."""
    with tempfile.TemporaryDirectory(prefix="threadline-rebuild-") as folder:
        scratch = SqliteStore(f"sqlite:///{Path(folder) / 'graph.db'}")
        try:
            last = project_log(store, scratch, progress=progress)
            with store._write_lock, store._write_connection(True) as conn:
                store._lock_chain(conn)
                # Whatever arrived while the scratch was built, projected under the lock.
                tail = store._log_page(conn, last, REPLAY_PAGE)
                while tail:
                    _project(scratch, tail)
                    last = tail[-1][0]
                    tail = store._log_page(conn, last, REPLAY_PAGE)
                rows = _swap(store, scratch, conn)
                epoch = uuid.uuid4().hex
                s.set_meta(conn, s.GRAPH_EPOCH, epoch)
                s.set_meta(conn, s.GRAPH_PROJECTED, str(last))
                conn.execute(sa.delete(s.meta).where(s.meta.c.key == s.GRAPH_STALE))
            store._projections.forget()
            store._graph_epoch = epoch
        finally:
            scratch.close()
    return RebuildReport(last, rows)


def _swap(store: SqlStore, scratch: SqlStore, conn: Connection) -> dict[str, int]:
    for table in reversed(GRAPH_TABLES):
        conn.execute(sa.delete(table))
    counts: dict[str, int] = {}
    with scratch._read.connect() as source:
        for table in GRAPH_TABLES:
            copied = 0
            result = source.execution_options(yield_per=_COPY_PAGE).execute(sa.select(table))
            for chunk in result.partitions(_COPY_PAGE):
                conn.execute(sa.insert(table), [dict(row._mapping) for row in chunk])
                copied += len(chunk)
            counts[table.name] = copied
            if "id" in table.c:
                top = source.execute(sa.select(sa.func.max(table.c.id))).scalar_one()
                if top is not None:
                    store._ids_assigned(conn, table, int(top))
    return counts


def mark_stale(conn: Connection, after_seq: int) -> None:
    """Say, in the transaction that rewrites bodies, that the graph needs a rebuild."""
    current = conn.execute(
        sa.select(s.meta.c.value).where(s.meta.c.key == s.GRAPH_STALE)
    ).scalar_one_or_none()
    if current is None:
        s.set_meta(conn, s.GRAPH_STALE, str(after_seq))


def stale_since(store: Store) -> int | None:
    """The log position after which the graph is stale (a rebuild is pending), or None."""

    def read(conn: Connection) -> int | None:
        value: Any = conn.execute(
            sa.select(s.meta.c.value).where(s.meta.c.key == s.GRAPH_STALE)
        ).scalar_one_or_none()
        return None if value is None else int(value)

    return store.read(read)


__all__ = [
    "GRAPH_TABLES",
    "REPLAY_PAGE",
    "RebuildReport",
    "log_head",
    "mark_stale",
    "project_log",
    "rebuild_graph",
    "stale_since",
]
