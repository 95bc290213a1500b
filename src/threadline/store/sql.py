"""``SqlStore``: the append and read paths shared by SQLite and PostgreSQL.

Dialect classes override only what differs: how the chain head is locked, how a durable commit
is requested, which ``insert`` construct provides ``ON CONFLICT``, and how many rows one bulk
``INSERT`` carries.  Beside this module: the bulk statement compiler
(:mod:`~threadline.store.bulk`), the projection upserts (:mod:`~threadline.store.upserts`) and
the integrity admin (:mod:`~threadline.store.admin`).

Append path (one transaction per batch, serialized across processes):

1. before any lock: validate and canonicalize every event, take its BLAKE3 digest, and
   project the batch onto graph facts (:mod:`threadline.store.projection`);
2. lock the chain head, drop events whose digest is already stored (idempotency);
3. link each new record to the head (``hash = H(prev_hash ‖ body)``) and insert them;
4. write the facts (:class:`~threadline.store.upserts.ProjectionWriter`);
5. commit — all of it or nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeVar

import blake3
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from threadline.errors import InvalidEvent, SchemaTooNew, StoreUnavailable
from threadline.integrity.chain import GENESIS, ChainRecord, LogReport, link
from threadline.model.canonical import canonical_json
from threadline.model.events import check_canonical
from threadline.store import schema as s
from threadline.store.admin import LogAdmin
from threadline.store.archive import ColdReader
from threadline.store.base import (
    AppendResult,
    Cursor,
    IntegrityAdmin,
    Store,
    StoredCheckpoint,
    StoredEvent,
)
from threadline.store.bulk import BulkStatements
from threadline.store.migrations import ensure_schema
from threadline.store.projection import Projection, to_micros
from threadline.store.upserts import Pending, ProjectionWriter

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Prepared:
    digest: bytes
    body: bytes
    event: dict[str, Any]
    time_us: int
    # event_kind, event_type, run_id, job_namespace, job_name: the indexed event columns
    columns: tuple[Any, ...]


@dataclass(slots=True)
class _Batch:
    """A validated batch, ready to append: everything that does not need the chain lock."""

    items: list[_Prepared]
    received: int  # events handed in, repeats included
    # The batch's graph facts, with ``seq`` counting from 1 within the batch until the lock
    # tells where the batch lands in the log.
    projection: Projection


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

    def append_batch(
        self, events: Sequence[dict[str, Any]], *, durable: bool = False
    ) -> AppendResult:
        """Append events atomically (all or nothing); already-stored events are skipped."""
        return self._append([self._prepare(events)], durable)

    def append_chunks(
        self, chunks: Iterable[Sequence[dict[str, Any]]], *, durable: bool = False
    ) -> AppendResult:
        """Append the events of every chunk in one transaction (all or nothing), holding
        only one chunk's events and facts in memory at a time.  The rows written are those of
        :meth:`append_batch` called on each chunk in turn.

        ``chunks`` is consumed under the write lock (each chunk is validated and projected
        there, not before), so it should be cheap to produce: parsing already-checked text.
        An error names the event by its index in the whole sequence.  The ids of the rows
        written are cached on commit only up to the caches' budget.
        """

        def prepared() -> Iterator[_Batch]:
            offset = 0
            for chunk in chunks:
                yield self._prepare(chunk, offset)
                offset += len(chunk)

        return self._append(prepared(), durable)

    def _append(self, batches: Iterable[_Batch], durable: bool) -> AppendResult:
        try:
            with self._write_lock:
                pending = Pending()
                appended = duplicates = head_seq = 0
                with self._write_connection(durable) as conn:
                    self._lock_chain(conn)
                    self._check_graph_epoch(conn)
                    for batch in batches:
                        result = self._append_locked(conn, batch, pending)
                        appended += result.appended
                        duplicates += result.duplicates
                        head_seq = result.head_seq
                        # Only a cache's worth of ids is worth keeping for after the commit.
                        self._projections.trim(pending)
                # Committed: only now may the ids be trusted by later batches.
                self._projections.remember(pending)
                return AppendResult(appended, duplicates, head_seq)
        except sa.exc.OperationalError as exc:
            refused = refused_value(exc)
            if refused is not None:
                raise refused from exc
            raise StoreUnavailable(
                f"cannot write to store {self.safe_url}: {_reason(exc)}"
            ) from exc
        except (sa.exc.DataError, sa.exc.IntegrityError, sa.exc.ProgrammingError) as exc:
            # The database refused a value of the batch: the batch's fault, not the store's.
            # (A ProgrammingError here is a value the driver cannot bind; every statement of
            # the append path is compiled from the schema, so none is malformed SQL.)
            raise refused_value(exc) or _refused(_reason(exc)) from exc

    def _check_graph_epoch(self, conn: Connection) -> None:
        """Forget cached row ids if another process rebuilt the graph since this one last
        wrote (under the chain lock, so no rebuild can start until this append commits)."""
        epoch = conn.execute(
            sa.select(s.meta.c.value).where(s.meta.c.key == s.GRAPH_EPOCH)
        ).scalar_one_or_none()
        if epoch != self._graph_epoch:
            self._projections.forget()
            self._graph_epoch = epoch

    def _prepare(self, events: Sequence[dict[str, Any]], offset: int = 0) -> _Batch:
        """Validate, canonicalize, digest and project every event, before taking any lock:
        the per-event work stays out of the time other writers wait.  ``offset``: the index
        of the first event in the whole batch, for errors."""
        items: list[_Prepared] = []
        projection = Projection()
        project = projection.project
        seen: set[bytes] = set()
        for index, event in enumerate(events, start=offset):
            try:
                if not isinstance(event, dict):
                    raise InvalidEvent("an event must be a JSON object", detail={"path": "$"})
                body = canonical_json(event)
                check_canonical(event, body)
                time_us = to_micros(event["eventTime"])
            except InvalidEvent as exc:
                raise InvalidEvent(
                    f"event #{index} of the batch: {exc.message}", detail=exc.detail
                ) from exc
            digest = blake3.blake3(body).digest()
            if digest in seen:
                continue
            seen.add(digest)
            try:
                items.append(_Prepared(digest, body, event, time_us, s.event_columns(event)))
                project(len(items), event, time_us)
            except (TypeError, ValueError, KeyError, AttributeError) as exc:
                # A shape the structural check let through but the projection cannot read:
                # this event's fault, named by its index, so its group commits without it.
                raise InvalidEvent(
                    f"event #{index} of the batch cannot be projected onto the lineage graph: "
                    f"{type(exc).__name__}: {exc}",
                    detail={"path": "$"},
                ) from exc
        return _Batch(items, len(events), projection)

    def _append_locked(self, conn: Connection, batch: _Batch, pending: Pending) -> AppendResult:
        items, projection = batch.items, batch.projection
        existing = {
            s.as_bytes(row[0])
            for row in self._statements.find(
                conn, "digests", [(p.time_us, p.digest) for p in items]
            )
        }
        head = conn.execute(
            sa.select(s.events.c.seq, s.events.c.hash).order_by(s.events.c.seq.desc()).limit(1)
        ).first()
        head_seq, prev = (int(head[0]), s.as_bytes(head[1])) if head else (0, GENESIS)
        if existing:
            items = [p for p in items if p.digest not in existing]
            # Stored before: their facts are in the graph already, and projecting them again
            # could let an old event's facets override newer ones.
            projection = Projection()
            for position, item in enumerate(items, start=1):
                projection.project(position, item.event, item.time_us)
        duplicates = batch.received - len(items)
        if not items:
            return AppendResult(0, duplicates, head_seq)
        projection.shift(head_seq)

        recorded = time.time_ns() // 1000
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
        self._statements.run(conn, "events", rows)
        self._projections.write(conn, projection, pending)
        return AppendResult(len(items), duplicates, seq)

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

    def read(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` on a read connection (used by :mod:`threadline.query`)."""
        with self._read.connect() as conn:
            return fn(conn)

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
        self._closed = True
        self._read.dispose()
        self._write.dispose()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: What a value the database refused was, by the index or constraint that refused it.
_FIELDS_BY_INDEX: Final = {
    "tl_nodes": "a job or dataset namespace or name",
    "tl_versions": "a dataset version (facets.version.datasetVersion) or execution id",
    "tl_events_job": "the job namespace or name ($.job)",
    "tl_events_run": "the run id ($.run.runId)",
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

__all__ = ["SqlStore"]
