"""``SqlStore``: the append and read paths shared by SQLite and PostgreSQL.

Dialect classes override only what differs: how the chain head is locked, how a durable commit
is requested, which ``insert`` construct provides ``ON CONFLICT``, and how many rows one bulk
``INSERT`` carries.  Beside this module: the bulk statement compiler
(:mod:`~threadline.store.bulk`), the projection upserts (:mod:`~threadline.store.upserts`) and
the integrity admin (:mod:`~threadline.store.admin`).

Append path (one transaction per batch, serialized across processes):

1. before any lock: validate and canonicalize every event and take its BLAKE3 digest;
2. lock the chain head, link each record to it (``hash = H(prev_hash ‖ body)``) and insert
   them; events whose digest is already stored are dropped and the rest linked again
   (idempotency);
4. commit — all of it or nothing — and acknowledge.

The graph follows the log (:mod:`threadline.store.projector` says when): a page of records
after ``graph_projected_seq`` is projected onto graph facts (:mod:`threadline.store.projection`)
and written (:class:`~threadline.store.upserts.ProjectionWriter`) in one transaction that
moves the watermark with them.  Reads of the graph first bring it up to the log's head.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from threadline.errors import InvalidEvent, SchemaTooNew, StoreUnavailable
from threadline.integrity.chain import GENESIS, ChainRecord, LogReport, link
from threadline.store import schema as s
from threadline.store.admin import LogAdmin
from threadline.store.archive import ColdReader
from threadline.store.base import (
    Appendable,
    AppendResult,
    Cursor,
    IntegrityAdmin,
    Store,
    StoredCheckpoint,
    StoredEvent,
)
from threadline.store.bulk import BulkStatements
from threadline.store.migrations import ensure_schema
from threadline.store.prepared import PreparedEvent, prepare_batch_event
from threadline.store.projection import Projection
from threadline.store.projector import PAGE, Projector
from threadline.store.upserts import Pending, ProjectionWriter

T = TypeVar("T")

_log = logging.getLogger("threadline.store")

#: What the database raises for a value it refuses (the batch's fault, not the store's).
_REFUSED: Final = (sa.exc.DataError, sa.exc.IntegrityError, sa.exc.ProgrammingError)

# The statements run on every append, projection step and read-your-writes check, built
# once: building one and working out its cache key cost ~150 us a call (the check itself
# ~35 us), most of a writer agent's time on a short captured run.
_HEAD: Final = sa.select(s.events.c.seq, s.events.c.hash).order_by(s.events.c.seq.desc()).limit(1)
_GRAPH_EPOCH: Final = sa.select(s.meta.c.value).where(s.meta.c.key == s.GRAPH_EPOCH)
_POSITIONS: Final = sa.select(
    sa.select(sa.func.max(s.events.c.seq)).scalar_subquery(),
    sa.select(s.meta.c.value).where(s.meta.c.key == s.GRAPH_PROJECTED).scalar_subquery(),
)
_NEXT_SEQ: Final = sa.select(sa.func.min(s.events.c.seq)).where(
    s.events.c.seq > sa.bindparam("after")
)
_LOG_PAGE: Final = (
    sa.select(s.events.c.seq, s.events.c.event_time_us, s.events.c.body)
    .where(s.events.c.seq > sa.bindparam("after"))
    .order_by(s.events.c.seq)
    .limit(sa.bindparam("limit"))
)


@dataclass(slots=True)
class _Batch:
    """A validated batch, ready to append: everything that does not need the chain lock."""

    items: list[PreparedEvent]
    received: int  # events handed in, repeats included


def _linked(
    items: Sequence[PreparedEvent], head_seq: int, prev: bytes, recorded: int
) -> list[tuple[Any, ...]]:
    """The log rows of ``items`` appended after record ``head_seq`` whose hash is ``prev``,
    in the layout of :data:`~threadline.store.bulk.EVENT_COLUMNS`."""
    rows: list[tuple[Any, ...]] = []
    seq = head_seq
    for item in items:
        seq += 1
        chained = link(prev, item.body)
        kind, event_type, run_id, job_namespace, job_name = item.columns
        rows.append(
            (
                seq,
                item.digest,
                kind,
                event_type,
                item.time_us,
                recorded,
                run_id,
                job_namespace,
                job_name,
                item.body,
                prev,
                chained,
            )
        )
        prev = chained
    return rows


class SqlStore:
    """The lineage store on any SQLAlchemy dialect threadline supports."""

    dialect: ClassVar[str] = "generic"
    #: Rows per ``INSERT`` statement in bulk writes; 1 means one prepared statement run per
    #: row (``executemany``), which is fastest in-process (SQLite).
    rows_per_statement: ClassVar[int] = 1

    def __init__(self, url: str, read_engine: Engine, write_engine: Engine) -> None:
        self.url = url
        self._read = read_engine
        self._write = write_engine
        # One writer per process at a time; across processes the dialect's lock serializes.
        self._write_lock = threading.Lock()
        self._statements = BulkStatements(self._insert, self.rows_per_statement)
        self._projections = ProjectionWriter(self._statements, self._ids_assigned)
        self._admin = LogAdmin(read_engine, write_engine, self._write_lock, self._insert)
        # The derived graph's generation as this process last saw it: a rebuild
        # (:mod:`threadline.store.rebuild`) renumbers rows, so cached row ids must go.
        self._graph_epoch: str | None = None
        self._projector = Projector(self._project_page)
        #: Where archive files go and are read from (``threadline gc``'s archive rules).
        self.archive_dir: Path | None = None
        self._cold: ColdReader | None = None
        self._closed = False
        self._ensure_schema()

    def set_cache_budget(self, cache_bytes: int) -> None:
        """Bound each row-id cache to about ``cache_bytes`` of memory."""
        self._projections.set_cache_budget(cache_bytes)

    # --- dialect hooks ------------------------------------------------------------------

    def _insert(self, table: sa.Table) -> Any:
        raise NotImplementedError

    def _lock_chain(self, conn: Connection) -> None:
        """Serialize appends across processes (the transaction already began)."""

    def _write_connection(self, durable: bool) -> Any:
        """A context manager yielding a connection inside a write transaction."""
        return self._write.begin()

    def sync(self) -> None:
        """Make every committed append durable (see the dialect's own note)."""

    def _ids_assigned(self, conn: Connection, table: sa.Table, last_id: int) -> None:
        """Called after rows were inserted with ids up to ``last_id`` chosen by the store."""

    # --- schema ---------------------------------------------------------------------------

    def _ensure_schema(self) -> None:
        try:
            with self._write_lock:
                ensure_schema(self._write)
        except (SchemaTooNew, StoreUnavailable):
            self.close()
            raise
        except sa.exc.SQLAlchemyError as exc:
            self.close()
            raise StoreUnavailable(f"cannot open store {self.safe_url}: {_reason(exc)}") from exc

    @property
    def safe_url(self) -> str:
        """:attr:`url` with any password hidden: the form errors and reports show."""
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)

    def schema_version(self) -> int:
        """The schema revision the store is stamped with (0 if none)."""
        with self._read.connect() as conn:
            value = conn.execute(
                sa.select(s.meta.c.value).where(s.meta.c.key == "schema_version")
            ).scalar_one_or_none()
        return int(value) if value is not None else 0

    # --- append ---------------------------------------------------------------------------

    def append_batch(self, events: Sequence[Appendable], *, durable: bool = False) -> AppendResult:
        """Append events atomically (all or nothing); already-stored events are skipped."""
        self._projector.appending()
        return self._append([self._prepare(events)], durable)

    def append_chunks(
        self, chunks: Iterable[Sequence[Appendable]], *, durable: bool = False
    ) -> AppendResult:
        """Append the events of every chunk in one transaction (all or nothing), holding
        only one chunk's events in memory at a time.  The records written are those of
        :meth:`append_batch` called on each chunk in turn.

        ``chunks`` is consumed under the write lock (each chunk is validated there, not
        before), so it should be cheap to produce: parsing already-checked text.  An error
        names the event by its index in the whole sequence.  The graph follows in pages.
        """

        def prepared() -> Iterator[_Batch]:
            offset = 0
            for chunk in chunks:
                yield self._prepare(chunk, offset)
                offset += len(chunk)

        return self._append(prepared(), durable)

    def _append(self, batches: Iterable[_Batch], durable: bool) -> AppendResult:
        self._projector.appending()
        try:
            appended = duplicates = head_seq = 0
            with self._write_lock, self._write_connection(durable) as conn:
                self._lock_chain(conn)
                for batch in batches:
                    result = self._append_locked(conn, batch)
                    appended += result.appended
                    duplicates += result.duplicates
                    head_seq = result.head_seq
        except sa.exc.OperationalError as exc:
            refused = refused_value(exc)
            if refused is not None:
                raise refused from exc
            raise StoreUnavailable(
                f"cannot write to store {self.safe_url}: {_reason(exc)}"
            ) from exc
        except _REFUSED as exc:
            # The database refused a value of the batch: the batch's fault, not the store's.
            # (A ProgrammingError here is a value the driver cannot bind; every statement of
            # the append path is compiled from the schema, so none is malformed SQL.)
            raise refused_value(exc) or _refused(_reason(exc)) from exc
        if appended:
            self._projector.appended(head_seq)
        return AppendResult(appended, duplicates, head_seq)

    def _check_graph_epoch(self, conn: Connection) -> None:
        """Forget cached row ids if another process rebuilt the graph since this one last
        wrote (under the chain lock, so no rebuild can start until this append commits)."""
        epoch = conn.execute(_GRAPH_EPOCH).scalar_one_or_none()
        if epoch != self._graph_epoch:
            self._projections.forget()
            self._graph_epoch = epoch

    def _prepare(self, events: Sequence[Appendable], offset: int = 0) -> _Batch:
        """Validate, canonicalize and digest every event not prepared already, before taking
        any lock: the per-event work stays out of the time other writers wait.  ``offset``:
        the index of the first event in the whole batch, for errors."""
        items: list[PreparedEvent] = []
        seen: set[bytes] = set()
        for index, event in enumerate(events, start=offset):
            item = event if type(event) is PreparedEvent else prepare_batch_event(event, index)
            if item.digest in seen:
                continue
            seen.add(item.digest)
            items.append(item)
        return _Batch(items, len(events))

    def _append_locked(self, conn: Connection, batch: _Batch) -> AppendResult:
        head = conn.execute(_HEAD).first()
        head_seq, prev = (int(head[0]), s.as_bytes(head[1])) if head else (0, GENESIS)
        items = batch.items
        if not items:
            return AppendResult(0, batch.received, head_seq)
        recorded = time.time_ns() // 1000
        # Most batches hold no stored event, so they are inserted without looking first: a
        # stored one is skipped by the insert (``ON CONFLICT DO NOTHING``), which then
        # changes fewer rows than it was given.  The records after it were linked to a
        # record that is not there, so the batch's rows go and it is linked again from
        # the events the log lacks.  Everything happens under the chain lock, in the
        # append's transaction: no other writer sees the rows that went.
        rows = _linked(items, head_seq, prev, recorded)
        if self._statements.run(conn, "events", rows) == len(rows):
            return AppendResult(len(rows), batch.received - len(rows), head_seq + len(rows))
        conn.execute(sa.delete(s.events).where(s.events.c.seq > head_seq))
        existing = {
            s.as_bytes(row[0])
            for row in self._statements.find(
                conn, "digests", [(p.time_us, p.digest) for p in items]
            )
        }
        items = [p for p in items if p.digest not in existing]
        duplicates = batch.received - len(items)
        if items:
            self._statements.run(conn, "events", _linked(items, head_seq, prev, recorded))
        return AppendResult(len(items), duplicates, head_seq + len(items))

    # --- the graph follows the log --------------------------------------------------------

    def _project_page(self, limit: int = PAGE) -> tuple[int, int]:
        """Project the next ``limit`` records the graph lacks, in one transaction; returns
        the watermark and the log's head as that transaction saw them."""
        try:
            return self._project_next(limit)
        except _REFUSED as exc:
            _log.warning(
                "threadline: the store refused a projected row (%s); projecting the page one "
                "record at a time",
                _reason(exc),
            )
        done = head = 0
        for _ in range(limit):
            try:
                done, head = self._project_next(1)
            except _REFUSED as exc:
                done, head = self._skip_next(_reason(exc))
            if done >= head:
                break
        return done, head

    def _project_next(self, limit: int) -> tuple[int, int]:
        pending = Pending()
        with self._write_lock:
            with self._write_connection(False) as conn:
                self._lock_chain(conn)
                self._check_graph_epoch(conn)
                done, head = _positions(conn)
                page = self._log_page(conn, done, limit)
                if page:
                    self._projections.write(conn, projected(page), pending)
                    done = page[-1][0]
                    s.set_meta(conn, s.GRAPH_PROJECTED, str(done))
            self._projections.remember(pending)
        return done, head

    def _skip_next(self, reason: str) -> tuple[int, int]:
        """Leave the next record out of the graph: the database refuses a row it gives (it
        stays in the log; ``threadline verify --deep`` shows the difference)."""
        with self._write_lock, self._write_connection(False) as conn:
            self._lock_chain(conn)
            done, head = _positions(conn)
            seq = conn.execute(_NEXT_SEQ, {"after": done}).scalar_one()
            if seq is None:
                return done, head
            _log.error("threadline: record %s is left out of the graph: %s", seq, reason)
            s.set_meta(conn, s.GRAPH_PROJECTED, str(int(seq)))
            return int(seq), head

    def _log_page(self, conn: Connection, after: int, limit: int) -> list[tuple[int, int, bytes]]:
        """``(seq, event time, body)`` of the records after ``after``, in log order."""
        rows = conn.execute(_LOG_PAGE, {"after": after, "limit": limit}).all()
        page = [(int(r[0]), int(r[1]), s.as_bytes(r[2])) for r in rows]
        moved = [seq for seq, _time, body in page if not body]
        if moved:
            bodies = self._cold_reader().bodies(conn, moved)
            page = [(seq, time_us, bodies.get(seq, body)) for seq, time_us, body in page]
        return page

    def settle(self) -> None:
        """Bring the graph up to the log's head as it is now (read-your-writes)."""
        with self._read.connect() as conn:
            self._settled(conn)

    def _settled(self, conn: Connection) -> Connection:
        """``conn`` (a read connection) once the graph holds every record the log held when
        this was called: checked in ``conn``'s own snapshot, and only when the graph was
        behind is that snapshot ended so that the next statement sees the projection."""
        done, head = _positions(conn)
        self._projector.saw(done, head)
        if done >= head:
            return conn
        conn.rollback()
        try:
            self._projector.catch_up()
        except sa.exc.SQLAlchemyError as exc:
            # A store this process cannot write (a read-only file, a read-only role): what
            # is projected is still the truth up to its watermark.
            _log.warning(
                "threadline: reading a graph %d records behind the log (cannot project: %s)",
                head - done,
                _reason(exc),
            )
        return conn

    # --- reads ----------------------------------------------------------------------------

    def read_after(self, cursor: Cursor, limit: int = 1000) -> list[StoredEvent]:
        """Events with ``seq`` greater than the cursor, in log order; archived bodies are read
        back from the archive files (:mod:`threadline.store.archive`), marked ``archived``."""
        stmt = (
            sa.select(
                s.events.c.seq,
                s.events.c.event_time_us,
                s.events.c.recorded_us,
                s.events.c.body,
                s.events.c.hash,
            )
            .where(s.events.c.seq > cursor.seq)
            .order_by(s.events.c.seq)
            .limit(limit)
        )
        with self._read.connect() as conn:
            found = [
                StoredEvent(r.seq, r.event_time_us, r.recorded_us, bytes(r.body), bytes(r.hash))
                for r in conn.execute(stmt)
            ]
            moved = [event.seq for event in found if not event.body]
            if not moved:
                return found
            bodies = self._cold_reader().bodies(conn, moved)
        return [
            StoredEvent(e.seq, e.event_time_us, e.recorded_us, bodies[e.seq], e.hash, True)
            if e.seq in bodies
            else e
            for e in found
        ]

    def _cold_reader(self) -> ColdReader:
        if self._cold is None or self._cold.folder != self.archive_dir:
            self._cold = ColdReader(self.archive_dir)
        return self._cold

    def forget_cold_cache(self) -> None:
        """Drop the archive files the cold reader holds (they were rewritten)."""
        if self._cold is not None:
            self._cold.forget()

    def read(self, fn: Callable[[Connection], T], *, graph: bool = True) -> T:
        """Run ``fn`` on a read connection (used by :mod:`threadline.query`), once the graph
        holds every record the log held when the call began; ``graph=False`` for a read of
        the log alone, which need not wait for the graph."""
        with self._read.connect() as conn:
            return fn(self._settled(conn) if graph else conn)

    def counts(self) -> dict[str, int]:
        """Rows per table: the log and the derived graph."""
        tables = {
            "events": s.events,
            "nodes": s.nodes,
            "versions": s.versions,
            "edges": s.edges,
            "runs": s.runs,
        }
        with self._read.connect() as conn:
            self._settled(conn)
            return {
                name: int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
                for name, t in tables.items()
            }

    # --- integrity admin (not on the Store protocol: see store.base.IntegrityAdmin) ----------

    def iter_chain(self, page: int = 5000) -> Iterator[ChainRecord]:
        """Every record in log order, read in pages so memory stays bounded."""
        return self._admin.iter_chain(page)

    def checkpoints(self) -> list[StoredCheckpoint]:
        """The stored Merkle checkpoints, smallest tree first."""
        return self._admin.checkpoints()

    def verify(self) -> LogReport:
        """Check every record's link and canonical body, and the Merkle root at every stored
        checkpoint (which catches a cut-off tail or a log rewritten from its start)."""
        return self._admin.verify()

    def checkpoint(self) -> StoredCheckpoint | None:
        """Verify the log, then record its size and Merkle root; None if the log is empty
        (see :meth:`LogAdmin.checkpoint <threadline.store.admin.LogAdmin.checkpoint>`)."""
        return self._admin.checkpoint()

    # --- lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        """Release connections; idempotent."""
        if self._closed:
            return
        self._projector.close()
        self._closed = True
        self._read.dispose()
        self._write.dispose()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _positions(conn: Connection) -> tuple[int, int]:
    """(the graph's watermark, the log's head)."""
    row = conn.execute(_POSITIONS).one()
    return int(row[1] or 0), int(row[0] or 0)


def projected(page: list[tuple[int, int, bytes]]) -> Projection:
    """The graph facts of a page of the log.  A record the projection cannot read (the
    ingest checks make this unreachable for what they let in) is left out, whole."""
    projection = Projection()
    bad: set[int] = set()
    for seq, time_us, body in page:
        try:
            projection.project(seq, orjson.loads(body), time_us)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            _log.error("threadline: record %s is left out of the graph: %r", seq, exc)
            bad.add(seq)
    if not bad:
        return projection
    clean = Projection()
    for seq, time_us, body in page:
        if seq not in bad:
            clean.project(seq, orjson.loads(body), time_us)
    return clean


#: What a value the database refused was, by the index or constraint that refused it.
_FIELDS_BY_INDEX: Final = {
    "tl_nodes": "a job or dataset namespace or name",
    "tl_versions": "a dataset version (facets.version.datasetVersion) or execution id",
    "tl_events_job": "the job namespace or name ($.job)",
    "tl_runs": "a run id ($.run.runId or a parent facet's run.runId)",
}


def refused_value(exc: sa.exc.DBAPIError) -> InvalidEvent | None:
    """The 400 for a database error caused by a value of the batch, naming what the value
    was where the database says; None for an error that is the store's own (unreachable,
    out of space, …)."""
    orig = exc.orig
    state = str(getattr(orig, "sqlstate", "") or "")
    reason = _reason(exc)
    if isinstance(exc, sa.exc.OperationalError) and not state.startswith("54"):
        return None  # 54xxx, program limit exceeded: a value too large for an index or row
    field = next((f for name, f in _FIELDS_BY_INDEX.items() if name in reason), None)
    if field is None and ("0x00" in reason or "\\u0000" in reason):
        field = "a text value (it holds a NUL character, \\u0000)"
    if field is None and "character varying(64)" in reason:
        field = _FIELDS_BY_INDEX["tl_runs"]
    return _refused(reason, field)


def _refused(reason: str, field: str | None = None) -> InvalidEvent:
    return InvalidEvent(
        f"the store refused {field or 'a value of the event'}: {reason}",
        detail={"path": "$", "store_error": reason},
    )


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig or exc).splitlines()[0]


if TYPE_CHECKING:
    # Structural, so nothing says so at runtime: these lines make mypy check that the SQL
    # store keeps both protocols (tests/store/test_base.py checks the same at runtime).
    _STORE: type[Store] = SqlStore
    _ADMIN: type[IntegrityAdmin] = SqlStore

__all__ = ["SqlStore", "projected"]
