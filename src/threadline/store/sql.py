"""``SqlStore``: all the SQLAlchemy Core logic shared by SQLite and PostgreSQL.

Dialect classes override only what differs: how the chain head is locked, how a durable commit
is requested, which ``insert`` construct provides ``ON CONFLICT``, and how many rows one bulk
``INSERT`` carries.

Append path (one transaction per batch, serialized across processes):

1. before any lock: validate and canonicalize every event, take its BLAKE3 digest, and
   project the batch onto graph facts (:mod:`threadline.store.projection`);
2. lock the chain head, drop events whose digest is already stored (idempotency);
3. link each new record to the head (``hash = H(prev_hash ‖ body)``) and insert them;
4. write the facts: ids of nodes and versions come from a per-process cache of committed rows,
   or are chosen by the store (it holds the lock) for rows it inserts, and only rows that turn
   out to exist already are looked up;
5. commit — all of it or nothing.

Every bulk statement is a Core construct compiled once per store for its dialect and run
through the driver's ``executemany`` with plain tuples: SQLAlchemy's per-row parameter
processing was most of the cost of a batch (see ``bench/bench_ingest.py``).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

import blake3
import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from threadline.errors import IntegrityError, InvalidEvent, SchemaTooNew, StoreUnavailable
from threadline.integrity.chain import GENESIS, ChainRecord, LogReport, link, verify_log
from threadline.model.canonical import canonical_json
from threadline.model.events import check_canonical
from threadline.store import schema as s
from threadline.store.base import AppendResult, Cursor, StoredCheckpoint, StoredEvent
from threadline.store.projection import (
    LATEST,
    STATE_RANK,
    UNVERSIONED,
    EdgeFact,
    NodeKey,
    Projection,
    RunFact,
    VersionKey,
    to_micros,
)

_CHUNK = 400  # keys per lookup statement: with 3-column keys, well under any parameter limit


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def now_us() -> int:
    return time.time_ns() // 1000


def dumps(value: Any) -> str:
    if type(value) is dict and not value:
        return "{}"  # most facet dicts are empty: skip the serializer
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


_CACHE_LIMIT = 500_000


# Cached rows are plain tuples of ids and strings: the collector stops tracking such tuples,
# so a large cache does not slow down every full garbage collection.
_Known = tuple[int, str, str]  # node: (id, facets JSON, kind)
_KnownVersion = tuple[int, str, int, int]  # version: (id, facets JSON, first_seen, last_seen)


@dataclass(slots=True)
class _Pending:
    """Rows this transaction touched; cached only once it commits."""

    nodes: dict[NodeKey, _Known] = field(default_factory=dict)
    versions: dict[tuple[int, str], _KnownVersion] = field(default_factory=dict)


def _merged_facets(stored: str, new: dict[str, Any]) -> str | None:
    """``stored`` with ``new`` merged in (``new`` wins per key), or None if nothing changes.

    Re-seeing a node or version with the facets it already has is the common case; comparing
    keys avoids serializing the merge just to find it equal.
    """
    if not new:
        return None
    old = orjson.loads(stored)
    if all(key in old and old[key] == value for key, value in new.items()):
        return None
    return dumps({**old, **new})


def _merge_kind(stored: str, new: str) -> str:
    # "dataset" is the default kind: it never overrides a more specific one.
    return stored if new == "dataset" else new


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


@dataclass(frozen=True, slots=True)
class _Bulk:
    """A Core statement compiled once for the store's dialect, run through the driver."""

    sql: str
    # Positional paramstyles (sqlite3): the parameter names in the order the driver wants.
    order: tuple[str, ...]
    # Where each driver parameter comes from in our row tuples; None when already in order.
    take: tuple[int, ...] | None
    # Parameter names for named paramstyles (psycopg); None for positional ones (sqlite3).
    names: tuple[str, ...] | None

    def params(self, rows: list[tuple[Any, ...]]) -> list[Any]:
        """The driver's parameters for ``rows`` laid out as the statement's layout says."""
        if self.names is not None:
            names = self.names
            return [dict(zip(names, row, strict=True)) for row in rows]
        if self.take is not None:
            take = self.take
            return [tuple(row[i] for i in take) for row in rows]
        return rows


def _as_bulk(compiled: Any, layout: tuple[str, ...]) -> _Bulk:
    if not compiled.positional:
        return _Bulk(str(compiled), (), None, layout)
    order = tuple(compiled.positiontup or ())
    if not layout:  # a lookup: parameters are laid out by _find
        return _Bulk(str(compiled), order, None, None)
    where = {key: index for index, key in enumerate(layout)}
    take = tuple(where[key] for key in order)
    return _Bulk(str(compiled), order, None if take == tuple(range(len(layout))) else take, None)


# Row layouts of the bulk statements: every row is a tuple in exactly this order.
_EVENT_COLUMNS: Final = tuple(c.name for c in s.events.columns)
_NODE_COLUMNS: Final = tuple(c.name for c in s.nodes.columns)
_VERSION_COLUMNS: Final = tuple(c.name for c in s.versions.columns)
_EDGE_COLUMNS: Final = tuple(c.name for c in s.edges.columns)
_RUN_COLUMNS: Final = tuple(c.name for c in s.runs.columns)
#: Insert statements: row layout, and the natural key a conflict is detected on.
_INSERTS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "events": (_EVENT_COLUMNS, ()),
    "nodes": (_NODE_COLUMNS, ("type", "namespace", "name")),
    "versions": (_VERSION_COLUMNS, ("node_id", "version")),
    "edges": (_EDGE_COLUMNS, ("src", "dst", "relation")),
    "runs": (_RUN_COLUMNS, ("run_id",)),
}
_NODE_UPDATE: Final = ("b_id", "kind", "facets", "updated_us")
_VERSION_UPDATE: Final = ("b_id", "facets", "b_first", "b_last")
_VERSION_TOUCH: Final = ("b_id", "b_first", "b_last")


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
        # Row ids of committed nodes and versions: ids never change, so a hit skips a lookup.
        self._node_cache: dict[NodeKey, _Known] = {}
        self._version_cache: dict[tuple[int, str], _KnownVersion] = {}
        self._bulk_cache: dict[str, _Bulk] = {}
        self._closed = False
        self._ensure_schema()

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
        from threadline.store.migrations import ensure_schema

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
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)

    def schema_version(self) -> int:
        with self._read.connect() as conn:
            value = conn.execute(
                sa.select(s.meta.c.value).where(s.meta.c.key == "schema_version")
            ).scalar_one_or_none()
        return int(value) if value is not None else 0

    # --- append ---------------------------------------------------------------------------

    def append_batch(
        self, events: Sequence[dict[str, Any]], *, durable: bool = False
    ) -> AppendResult:
        batch = self._prepare(events)
        try:
            with self._write_lock:
                pending = _Pending()
                with self._write_connection(durable) as conn:
                    self._lock_chain(conn)
                    result = self._append_locked(conn, batch, pending)
                # Committed: only now may the ids be trusted by later batches.
                self._remember(pending)
                return result
        except sa.exc.OperationalError as exc:
            raise StoreUnavailable(
                f"cannot write to store {self.safe_url}: {_reason(exc)}"
            ) from exc

    def _prepare(self, events: Sequence[dict[str, Any]]) -> _Batch:
        """Validate, canonicalize, digest and project every event, before taking any lock:
        the per-event work stays out of the time other writers wait."""
        items: list[_Prepared] = []
        projection = Projection()
        project = projection.project
        seen: set[bytes] = set()
        for index, event in enumerate(events):
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
            items.append(_Prepared(digest, body, event, time_us, _columns(event)))
            project(len(items), event, time_us)
        return _Batch(items, len(events), projection)

    def _remember(self, pending: _Pending) -> None:
        if len(self._node_cache) + len(pending.nodes) > _CACHE_LIMIT:
            self._node_cache.clear()
        if len(self._version_cache) + len(pending.versions) > _CACHE_LIMIT:
            self._version_cache.clear()
        self._node_cache.update(pending.nodes)
        self._version_cache.update(pending.versions)

    def _append_locked(self, conn: Connection, batch: _Batch, pending: _Pending) -> AppendResult:
        items, projection = batch.items, batch.projection
        existing = {
            _raw(row[0])
            for row in self._find(conn, "digests", [(p.time_us, p.digest) for p in items])
        }
        head = conn.execute(
            sa.select(s.events.c.seq, s.events.c.hash).order_by(s.events.c.seq.desc()).limit(1)
        ).first()
        head_seq, prev = (int(head[0]), _raw(head[1])) if head else (0, GENESIS)
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

        recorded = now_us()
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
        self._bulk(conn, "events", rows)
        self._write_projection(conn, projection, pending)
        return AppendResult(len(items), duplicates, seq)

    # --- bulk statements --------------------------------------------------------------------

    def _build(self, name: str) -> tuple[Any, tuple[str, ...]]:
        """The Core statement behind each bulk operation, with the layout of its row tuples.

        Lookups (``find_*``) take ``_CHUNK`` keys as parameters ``k{i}_{j}``, compiled once;
        :meth:`_find` pads the last chunk by repeating a key.  Keys of several columns are
        joined from a ``VALUES`` list rather than matched with a row-value ``IN``, which SQLite
        answers with a scan of the whole table instead of index probes.
        """
        if name.startswith("find_"):
            return self._build_find(name[5:]), ()
        if name in _INSERTS:
            return self._build_insert(name, 1), _INSERTS[name][0]
        if name == "node_update":
            t = s.nodes
            stmt = (
                t.update()
                .where(t.c.id == sa.bindparam("b_id"))
                .values(
                    kind=sa.bindparam("kind"),
                    facets=sa.bindparam("facets"),
                    updated_us=sa.bindparam("updated_us"),
                )
            )
            return stmt, _NODE_UPDATE
        v = s.versions
        first: sa.BindParameter[int] = sa.bindparam("b_first")
        last: sa.BindParameter[int] = sa.bindparam("b_last")
        # Monotonic in SQL, so a writer whose cache lags another's never moves them back.
        times = {
            "first_seen_us": sa.case((v.c.first_seen_us > first, first), else_=v.c.first_seen_us),
            "last_seen_us": sa.case((v.c.last_seen_us < last, last), else_=v.c.last_seen_us),
        }
        where = v.c.id == sa.bindparam("b_id")
        if name == "version_update":
            return v.update().where(where).values(facets=sa.bindparam("facets"), **times), (
                _VERSION_UPDATE
            )
        if name == "version_touch":
            return v.update().where(where).values(**times), _VERSION_TOUCH
        raise KeyError(name)

    def _compile(self, conn: Connection, name: str) -> _Bulk:
        bulk = self._bulk_cache.get(name)
        if bulk is None:
            stmt, layout = self._build(name)
            compiled = stmt.compile(dialect=conn.dialect, column_keys=list(layout) or None)
            bulk = self._bulk_cache[name] = _as_bulk(compiled, layout)
        return bulk

    def _bulk(self, conn: Connection, name: str, rows: list[tuple[Any, ...]]) -> int:
        """Run bulk statement ``name`` for many row tuples straight through the driver; returns
        how many rows it changed.

        Where a round trip per row is what costs (:attr:`rows_per_statement`), inserts carry
        many rows each: full statements first, then the rest by halves, so that only a few
        distinct statements are ever compiled.
        """
        changed = 0
        if self.rows_per_statement > 1 and name in _INSERTS:
            done = 0
            while (left := len(rows) - done) > 1:
                size = self.rows_per_statement
                if left < size:
                    size = 1 << (left.bit_length() - 1)
                count = left // size if size == self.rows_per_statement else 1
                changed += self._bulk_multi(conn, name, size, rows[done : done + size * count])
                done += size * count
            rows = rows[done:]
        if not rows:
            return changed
        bulk = self._compile(conn, name)
        return changed + int(conn.exec_driver_sql(bulk.sql, bulk.params(rows)).rowcount)

    def _bulk_multi(
        self, conn: Connection, name: str, size: int, rows: list[tuple[Any, ...]]
    ) -> int:
        """Insert ``rows`` (a multiple of ``size``) with ``size``-row ``INSERT`` statements."""
        key = f"{name}*{size}"
        bulk = self._bulk_cache.get(key)
        if bulk is None:
            width = len(_INSERTS[name][0])
            layout = tuple(f"p{i}_{j}" for i in range(size) for j in range(width))
            compiled = self._build_insert(name, size).compile(dialect=conn.dialect)
            bulk = self._bulk_cache[key] = _as_bulk(compiled, layout)
        chunks = [
            tuple(itertools.chain.from_iterable(rows[i : i + size]))
            for i in range(0, len(rows), size)
        ]
        params = bulk.params(chunks)
        result = conn.exec_driver_sql(bulk.sql, params if len(params) > 1 else params[0])
        return int(result.rowcount)

    def _build_insert(self, name: str, rows: int) -> Any:
        """``INSERT`` into the table behind ``name``; with ``rows > 1``, of that many rows at
        once, from parameters ``p{row}_{column}``."""
        layout, conflict = _INSERTS[name]
        table = s.metadata.tables[f"tl_{name}"]
        stmt = self._insert(table)
        if rows > 1:
            columns = [table.c[key] for key in layout]
            stmt = stmt.values(
                [
                    {c.name: sa.bindparam(f"p{i}_{j}", type_=c.type) for j, c in enumerate(columns)}
                    for i in range(rows)
                ]
            )
        if conflict == ("run_id",):
            # A run seen again is merged in Python (see _merge_run_rows): the row replaces.
            return stmt.on_conflict_do_update(
                index_elements=list(conflict),
                set_={c: stmt.excluded[c] for c in layout if c != "run_id"},
            )
        if conflict:
            return stmt.on_conflict_do_nothing(index_elements=list(conflict))
        return stmt

    def _build_find(self, what: str) -> Any:
        def keys(*columns: sa.Column[Any]) -> list[sa.BindParameter[Any]]:
            return [sa.bindparam(f"k{i}_0", type_=columns[0].type) for i in range(_CHUNK)]

        def joined(table: sa.Table, *columns: sa.Column[Any]) -> Any:
            rows = [
                tuple(sa.bindparam(f"k{i}_{j}", type_=c.type) for j, c in enumerate(columns))
                for i in range(_CHUNK)
            ]
            k = sa.values(*(sa.column(c.name, c.type) for c in columns), name="k").data(rows)
            cte = k.cte("k")
            on = sa.and_(*(c == cte.c[c.name] for c in columns))
            return cte, on

        if what == "digests":
            ev = s.events
            cte, on = joined(ev, ev.c.event_time_us, ev.c.digest)
            return sa.select(ev.c.digest).join_from(cte, ev, on)
        if what == "runs":
            return sa.select(*s.runs.c).where(s.runs.c.run_id.in_(keys(s.runs.c.run_id)))
        if what == "nodes":
            n = s.nodes
            cte, on = joined(n, n.c.type, n.c.namespace, n.c.name)
            return sa.select(
                n.c.id, n.c.type, n.c.namespace, n.c.name, n.c.kind, n.c.facets
            ).join_from(cte, n, on)
        if what == "versions":
            v = s.versions
            cte, on = joined(v, v.c.node_id, v.c.version)
            return sa.select(
                v.c.id, v.c.node_id, v.c.version, v.c.facets, v.c.first_seen_us, v.c.last_seen_us
            ).join_from(cte, v, on)
        if what == "node_rows":
            n = s.nodes
            return sa.select(n.c.id, n.c.facets, n.c.kind).where(n.c.id.in_(keys(n.c.id)))
        if what == "version_rows":
            v = s.versions
            return sa.select(v.c.id, v.c.facets).where(v.c.id.in_(keys(v.c.id)))
        raise KeyError(what)

    def _find(self, conn: Connection, what: str, wanted: Sequence[Any]) -> list[Any]:
        """Rows matching any of ``wanted`` keys (scalars, or tuples for composite keys)."""
        found: list[Any] = []
        if not wanted:
            return found
        bulk = self._compile(conn, "find_" + what)
        composite = isinstance(wanted[0], tuple)
        for chunk in _chunks(wanted):
            padded = [*chunk, *[chunk[-1]] * (_CHUNK - len(chunk))]
            params = (
                {f"k{i}_{j}": v for i, key in enumerate(padded) for j, v in enumerate(key)}
                if composite
                else {f"k{i}_0": key for i, key in enumerate(padded)}
            )
            if bulk.names is None:
                args: Any = tuple(params[name] for name in bulk.order)
            else:
                args = params
            found.extend(conn.exec_driver_sql(bulk.sql, args).all())
        return found

    def _next_id(self, conn: Connection, table: sa.Table) -> int:
        """The first free row id.  Appends hold the chain lock, so nobody else inserts until
        the commit: the store chooses ids itself instead of reading them back (RETURNING
        would force SQLAlchemy's slow per-row path)."""
        current = conn.execute(sa.select(sa.func.max(table.c.id))).scalar_one()
        return int(current or 0) + 1

    # --- projection writes ----------------------------------------------------------------

    def _write_projection(self, conn: Connection, proj: Projection, pending: _Pending) -> None:
        node_ids = self._upsert_nodes(conn, proj, pending)
        version_ids = self._upsert_versions(conn, proj, node_ids, pending)
        if proj.edges:
            self._bulk(
                conn,
                "edges",
                [
                    (version_ids[src], version_ids[dst], relation, fact.created_us, fact.first_seq)
                    for (src, dst, relation), fact in proj.edges.items()
                ],
            )
        if proj.runs:
            self._upsert_runs(conn, proj.runs, node_ids, version_ids)

    def _insert_fresh(
        self, conn: Connection, name: str, table: sa.Table, rows: list[tuple[Any, ...]]
    ) -> set[int] | None:
        """Insert rows under ids the store chose, skipping natural-key conflicts.

        Returns the ids that landed, or None when all of them did (the common case, told by
        the row count without a round trip).  Inserting first and looking up only the
        conflicts saves an index probe per new row compared with looking every key up first.
        """
        if self._bulk(conn, name, rows) == len(rows):
            return None
        first = rows[0][0]
        landed = conn.execute(sa.select(table.c.id).where(table.c.id >= first)).scalars()
        return set(landed)

    def _upsert_nodes(
        self, conn: Connection, proj: Projection, pending: _Pending
    ) -> dict[NodeKey, int]:
        t = s.nodes
        cache = self._node_cache
        facts = proj.nodes
        known: dict[NodeKey, _Known] = {}
        todo: list[NodeKey] = []
        for key in facts:
            hit = cache.get(key)
            if hit is None:
                todo.append(key)
            else:
                known[key] = hit
        if todo:
            next_id = self._next_id(conn, t)
            rows = []
            for key in todo:
                fact = facts[key]
                facets = dumps(fact.facets)
                rows.append((next_id, *key, fact.kind, facets, fact.first_us, fact.seen_us))
                next_id += 1
            landed = self._insert_fresh(conn, "nodes", t, rows)
            conflicts = []
            for key, row in zip(todo, rows, strict=True):
                if landed is None or row[0] in landed:
                    pending.nodes[key] = (row[0], row[5], row[4])
                else:
                    conflicts.append(key)
            self._ids_assigned(conn, t, next_id - 1)
            # Rows another process (or a pruned cache) already had: merge into them below.
            for row_id, type_, namespace, name, kind, facets in self._find(
                conn, "nodes", conflicts
            ):
                known[(type_, namespace, name)] = (row_id, facets, kind)
        stale = [
            key
            for key, (_id, facets, kind) in known.items()
            if _merged_facets(facets, facts[key].facets) is not None
            or _merge_kind(kind, facts[key].kind) != kind
        ]
        if stale:
            # The cache may lag other writers: merge into the row as it is now.
            current = {
                row[0]: (row[1], row[2])
                for row in self._find(conn, "node_rows", [known[key][0] for key in stale])
            }
            updates = []
            for key in stale:
                fact = facts[key]
                row_id = known[key][0]
                facets_text, kind = current[row_id]
                merged = _merged_facets(facets_text, fact.facets) or facets_text
                new_kind = _merge_kind(kind, fact.kind)
                updates.append((row_id, new_kind, merged, fact.seen_us))
                known[key] = (row_id, merged, new_kind)
            self._bulk(conn, "node_update", updates)
        pending.nodes.update(known)
        nodes = pending.nodes
        return {key: nodes[key][0] for key in facts}

    def _resolve_latest(
        self, conn: Connection, proj: Projection, node_ids: dict[NodeKey, int]
    ) -> None:
        """Rewrite every ``(node, LATEST)`` edge end to the newest version of that node known
        when its event arrived: stored before the batch, or seen by an earlier event of it.

        An event's own outputs do not count, so a job that rewrites the table it reads links
        the version it read, not the one it wrote.  Newest means latest ``first_seen_us``.
        """
        if not proj.unresolved:
            return
        wanted = {key[0] for (src, dst, _r) in proj.edges for key in (src, dst) if key[1] == LATEST}
        if not wanted:
            return
        stored: dict[NodeKey, tuple[int, int, str]] = {}  # node → (first_seen_us, id, version)
        by_id = {node_ids[key]: key for key in wanted}
        inner = sa.alias(s.versions)
        v = s.versions
        for chunk in _chunks(list(by_id)):
            latest = (
                sa.select(sa.func.max(inner.c.first_seen_us))
                .where(inner.c.node_id == v.c.node_id)
                .scalar_subquery()
            )
            stmt = sa.select(v.c.node_id, v.c.first_seen_us, v.c.id, v.c.version).where(
                v.c.node_id.in_(chunk), v.c.first_seen_us == latest
            )
            for node_id, first_seen, row_id, version in conn.execute(stmt):
                candidate = (first_seen, row_id, version)
                node = by_id[node_id]
                stored[node] = max(stored.get(node, candidate), candidate)
        in_batch: dict[NodeKey, list[tuple[int, int, str]]] = {}  # node → (seq, seen, version)
        for (node, version), fact in proj.versions.items():
            if node in wanted:
                in_batch.setdefault(node, []).append((fact.first_seq, fact.first_seen_us, version))

        def newest(node: NodeKey, before_seq: int) -> str:
            best = stored.get(node)
            choice = (best[0], best[2]) if best else None
            for seq, seen, version in in_batch.get(node, ()):
                if seq < before_seq and (choice is None or seen >= choice[0]):
                    choice = (seen, version)
            return choice[1] if choice else UNVERSIONED

        remapped: dict[tuple[VersionKey, VersionKey, str], EdgeFact] = {}
        for (src, dst, relation), edge in proj.edges.items():
            ends: list[VersionKey] = []
            for node, version in (src, dst):
                if version == LATEST:
                    version = newest(node, edge.first_seq)
                    proj.version((node, version), {}, edge.created_us, edge.first_seq)
                ends.append((node, version))
            remapped[(ends[0], ends[1], relation)] = edge
        proj.edges = remapped

    def _upsert_versions(
        self,
        conn: Connection,
        proj: Projection,
        node_ids: dict[NodeKey, int],
        pending: _Pending,
    ) -> dict[VersionKey, int]:
        t = s.versions
        self._resolve_latest(conn, proj, node_ids)
        cache = self._version_cache
        facts = {(node_ids[node], version): fact for (node, version), fact in proj.versions.items()}
        known: dict[tuple[int, str], _KnownVersion] = {}
        todo: list[tuple[int, str]] = []
        for key in facts:
            hit = cache.get(key)
            if hit is None:
                todo.append(key)
            else:
                known[key] = hit
        if todo:
            next_id = self._next_id(conn, t)
            rows = []
            for key in todo:
                fact = facts[key]
                rows.append(
                    (
                        next_id,
                        key[0],
                        key[1],
                        dumps(fact.facets),
                        fact.first_seen_us,
                        fact.last_seen_us,
                        fact.first_seq,
                    )
                )
                next_id += 1
            landed = self._insert_fresh(conn, "versions", t, rows)
            conflicts = []
            for key, row in zip(todo, rows, strict=True):
                if landed is None or row[0] in landed:
                    pending.versions[key] = (row[0], row[3], row[4], row[5])
                else:
                    conflicts.append(key)
            self._ids_assigned(conn, t, next_id - 1)
            for row_id, node_id, version, facets, first, last in self._find(
                conn, "versions", conflicts
            ):
                known[(node_id, version)] = (row_id, facets, first, last)
        restate: list[tuple[int, str]] = []  # facets change: merge into the row as it is now
        touch: list[tuple[Any, ...]] = []  # only the first/last-seen window widens
        for key, (row_id, facets, first, last) in known.items():
            fact = facts[key]
            if _merged_facets(facets, fact.facets) is not None:
                restate.append(key)
            elif fact.first_seen_us < first or fact.last_seen_us > last:
                touch.append((row_id, fact.first_seen_us, fact.last_seen_us))
                known[key] = (
                    row_id,
                    facets,
                    min(first, fact.first_seen_us),
                    max(last, fact.last_seen_us),
                )
        if restate:
            current = {
                row[0]: row[1]
                for row in self._find(conn, "version_rows", [known[key][0] for key in restate])
            }
            updates = []
            for key in restate:
                row_id, _facets, first, last = known[key]
                fact = facts[key]
                stored = current[row_id]
                merged = _merged_facets(stored, fact.facets) or stored
                updates.append((row_id, merged, fact.first_seen_us, fact.last_seen_us))
                known[key] = (
                    row_id,
                    merged,
                    min(first, fact.first_seen_us),
                    max(last, fact.last_seen_us),
                )
            self._bulk(conn, "version_update", updates)
        self._bulk(conn, "version_touch", touch)
        pending.versions.update(known)
        versions = pending.versions
        return {
            (node, version): versions[(node_ids[node], version)][0]
            for (node, version) in proj.versions
        }

    def _upsert_runs(
        self,
        conn: Connection,
        runs: dict[str, RunFact],
        node_ids: dict[NodeKey, int],
        version_ids: dict[VersionKey, int],
    ) -> None:
        found = {stored.run_id: stored for stored in self._find(conn, "runs", list(runs))}
        rows: list[tuple[Any, ...]] = []
        for run_id, fact in runs.items():
            old = found.get(run_id)
            if old is None:  # the common case: a run this batch is the first to mention
                rows.append(
                    (
                        run_id,
                        node_ids[fact.job],
                        version_ids[fact.execution] if fact.execution else None,
                        fact.state,
                        fact.state_rank,
                        fact.state_time_us,
                        fact.started_us,
                        fact.ended_us,
                        fact.parent_run_id,
                        dumps(fact.facets),
                        fact.first_seq,
                        fact.last_seq,
                    )
                )
                continue
            row: dict[str, Any] = {
                "run_id": run_id,
                "job_node_id": node_ids[fact.job],
                "execution_id": version_ids[fact.execution] if fact.execution else None,
                "state": fact.state,
                "state_rank": fact.state_rank,
                "state_time_us": fact.state_time_us,
                "started_us": fact.started_us,
                "ended_us": fact.ended_us,
                "parent_run_id": fact.parent_run_id,
                "facets": fact.facets,
                "first_seq": fact.first_seq,
                "last_seq": fact.last_seq,
            }
            row = _merge_run_rows(old, row, fact)
            row["facets"] = dumps(row["facets"])
            rows.append(tuple(row[c] for c in _RUN_COLUMNS))
        self._bulk(conn, "runs", rows)

    # --- reads ----------------------------------------------------------------------------

    def read_after(self, cursor: Cursor, limit: int = 1000) -> list[StoredEvent]:
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
            return [
                StoredEvent(r.seq, r.event_time_us, r.recorded_us, bytes(r.body), bytes(r.hash))
                for r in conn.execute(stmt)
            ]

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
                yield ChainRecord(int(r.seq), _raw(r.body), _raw(r.prev_hash), _raw(r.hash))
            after = int(rows[-1].seq)

    # --- integrity (admin: not part of the Store protocol) ----------------------------------

    def checkpoints(self) -> list[StoredCheckpoint]:
        """The stored Merkle checkpoints, smallest tree first."""
        t = s.checkpoints
        with self._read.connect() as conn:
            rows = conn.execute(
                sa.select(t.c.tree_size, t.c.root, t.c.created_us).order_by(t.c.tree_size)
            ).all()
        return [StoredCheckpoint(int(size), _raw(root), int(at)) for size, root, at in rows]

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
        log (it is an admin operation); later :meth:`verify` calls recompute the root at this
        size and compare.  With no event appended since the last checkpoint, that one is
        returned.
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
        taken = StoredCheckpoint(report.records, report.root, now_us())
        t = s.checkpoints
        # A concurrent checkpoint of the same size has the same root (both verified it).
        stmt = self._insert(t).on_conflict_do_nothing(index_elements=["tree_size"])
        with self._write_lock, self._write.begin() as conn:
            conn.execute(
                stmt.values(tree_size=taken.tree_size, root=taken.root, created_us=taken.created_us)
            )
        return taken

    def read(self, fn: Callable[[Connection], Any]) -> Any:
        """Run ``fn`` on a read connection (used by :mod:`threadline.query`)."""
        with self._read.connect() as conn:
            return fn(conn)

    def counts(self) -> dict[str, int]:
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

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._read.dispose()
        self._write.dispose()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _merge_run_rows(old: Any, new: dict[str, Any], fact: RunFact) -> dict[str, Any]:
    """Merge a stored run with this batch's view of it (arrival order must not matter)."""
    newer = (new["state_rank"], new["state_time_us"]) >= (old.state_rank, old.state_time_us)
    old_facets = orjson.loads(old.facets)
    facets = (
        {**old_facets, **new["facets"]}
        if new["state_time_us"] >= old.state_time_us
        else {**new["facets"], **old_facets}
    )
    prefers_new_execution = fact.execution is not None and fact.execution[1].startswith("ex:")
    return {
        "run_id": new["run_id"],
        "job_node_id": old.job_node_id,
        "execution_id": new["execution_id"]
        if prefers_new_execution or old.execution_id is None
        else old.execution_id,
        "state": new["state"] if newer else old.state,
        "state_rank": max(new["state_rank"], old.state_rank),
        "state_time_us": new["state_time_us"] if newer else old.state_time_us,
        "started_us": _opt(min, old.started_us, new["started_us"]),
        "ended_us": _opt(max, old.ended_us, new["ended_us"]),
        "parent_run_id": old.parent_run_id or new["parent_run_id"],
        "facets": facets,
        "first_seq": min(old.first_seq, new["first_seq"]),
        "last_seq": max(old.last_seq, new["last_seq"]),
    }


def _columns(event: dict[str, Any]) -> tuple[Any, ...]:
    """The indexed columns of an event's row, in ``tl_events`` order."""
    run = event.get("run")
    job = event.get("job")
    if run is not None:
        kind, run_id = "run", str(run["runId"])
        event_type = event.get("eventType")  # checked against EVENT_TYPES on a RunEvent
    else:
        # The spec gives job and dataset events no eventType: one sent anyway is a custom
        # field, kept in the body whatever its type, not an indexed column.
        kind, run_id = ("dataset" if "dataset" in event else "job"), None
        event_type = None
    return (
        kind,
        event_type,
        run_id,
        job.get("namespace") if job else None,
        job.get("name") if job else None,
    )


def _raw(value: Any) -> bytes:
    """Column bytes as stored; a value someone rewrote as text is compared as its UTF-8."""
    return value.encode() if isinstance(value, str) else bytes(value)


def _opt(pick: Callable[[int, int], int], a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else pick(a, b)


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig or exc).splitlines()[0]


__all__ = ["STATE_RANK", "SqlStore", "dumps", "now_us"]


def iter_rows(rows: Iterable[Any]) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in rows]
