"""``SqlStore``: all the SQLAlchemy Core logic shared by SQLite and PostgreSQL.

Dialect classes override only what differs: how the chain head is locked, how a durable commit
is requested, and which ``insert`` construct provides ``ON CONFLICT``.

Append path (one transaction per batch, serialized across processes):

1. canonicalize every event and take its BLAKE3 digest (outside the lock);
2. lock the chain head, drop events whose digest is already stored (idempotency);
3. link each new record to the head (``hash = H(prev_hash ‖ body)``) and insert them;
4. project them onto the graph tables (:mod:`threadline.store.projection`);
5. commit — all of it or nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import blake3
import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from threadline.errors import InvalidEvent, SchemaTooNew, StoreUnavailable
from threadline.integrity.chain import GENESIS, ChainRecord, link
from threadline.model.canonical import canonical_json
from threadline.model.events import check_canonical
from threadline.store import schema as s
from threadline.store.base import AppendResult, Cursor, StoredEvent
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

_CHUNK = 400  # bound on IN-list / tuple-IN size, well under every dialect's parameter limit


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def now_us() -> int:
    return time.time_ns() // 1000


def dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


_CACHE_LIMIT = 500_000


@dataclass(frozen=True, slots=True)
class _Known:
    id: int
    facets: str
    kind: str


@dataclass(frozen=True, slots=True)
class _KnownVersion:
    id: int
    facets: str
    first_seen_us: int
    last_seen_us: int


@dataclass(slots=True)
class _Pending:
    """Rows this transaction touched; cached only once it commits."""

    nodes: dict[NodeKey, _Known] = field(default_factory=dict)
    versions: dict[tuple[int, str], _KnownVersion] = field(default_factory=dict)


def _merge_facets(stored: str, new: dict[str, Any]) -> str:
    if not new:
        return stored
    return dumps({**orjson.loads(stored), **new})


def _merge_kind(stored: str, new: str) -> str:
    # "dataset" is the default kind: it never overrides a more specific one.
    return stored if new == "dataset" else new


@dataclass(frozen=True, slots=True)
class _Prepared:
    digest: bytes
    body: bytes
    event: dict[str, Any]
    time_us: int


class SqlStore:
    """The lineage store on any SQLAlchemy dialect threadline supports."""

    dialect: ClassVar[str] = "generic"

    def __init__(self, url: str, read_engine: Engine, write_engine: Engine) -> None:
        self.url = url
        self._read = read_engine
        self._write = write_engine
        # One writer per process at a time; across processes the dialect's lock serializes.
        self._write_lock = threading.Lock()
        # Row ids of committed nodes and versions: ids never change, so a hit skips a lookup.
        self._node_cache: dict[NodeKey, _Known] = {}
        self._version_cache: dict[tuple[int, str], _KnownVersion] = {}
        self._compiled: dict[tuple[Any, ...], Any] = {}
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
        prepared = self._prepare(events)
        try:
            with self._write_lock:
                pending = _Pending()
                with self._write_connection(durable) as conn:
                    self._lock_chain(conn)
                    result = self._append_locked(conn, prepared, pending)
                # Committed: only now may the ids be trusted by later batches.
                self._remember(pending)
                return result
        except sa.exc.OperationalError as exc:
            raise StoreUnavailable(
                f"cannot write to store {self.safe_url}: {_reason(exc)}"
            ) from exc

    def _prepare(self, events: Sequence[dict[str, Any]]) -> list[_Prepared]:
        prepared: list[_Prepared] = []
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
            prepared.append(_Prepared(digest, body, event, time_us))
        return prepared

    def _remember(self, pending: _Pending) -> None:
        if len(self._node_cache) + len(pending.nodes) > _CACHE_LIMIT:
            self._node_cache.clear()
        if len(self._version_cache) + len(pending.versions) > _CACHE_LIMIT:
            self._version_cache.clear()
        self._node_cache.update(pending.nodes)
        self._version_cache.update(pending.versions)

    def _append_locked(
        self, conn: Connection, prepared: list[_Prepared], pending: _Pending
    ) -> AppendResult:
        existing: set[bytes] = set()
        digests = [p.digest for p in prepared]
        for chunk in _chunks(digests):
            existing.update(
                conn.execute(
                    sa.select(s.events.c.digest).where(s.events.c.digest.in_(chunk))
                ).scalars()
            )
        fresh = [p for p in prepared if p.digest not in existing]
        head = conn.execute(
            sa.select(s.events.c.seq, s.events.c.hash).order_by(s.events.c.seq.desc()).limit(1)
        ).first()
        head_seq, prev = (int(head[0]), bytes(head[1])) if head else (0, GENESIS)
        duplicates = len(prepared) - len(fresh)
        if not fresh:
            return AppendResult(0, duplicates, head_seq)

        recorded = now_us()
        rows: list[dict[str, Any]] = []
        projection = Projection()
        seq = head_seq
        for item in fresh:
            seq += 1
            digest_chain = link(prev, item.body)
            event = item.event
            run = event.get("run") or {}
            job = event.get("job") or {}
            rows.append(
                {
                    "seq": seq,
                    "digest": item.digest,
                    "event_kind": "run"
                    if "run" in event
                    else "dataset"
                    if "dataset" in event
                    else "job",
                    "event_type": event.get("eventType"),
                    "event_time_us": item.time_us,
                    "recorded_us": recorded,
                    "run_id": str(run["runId"]) if "runId" in run else None,
                    "job_namespace": job.get("namespace"),
                    "job_name": job.get("name"),
                    "body": item.body,
                    "prev_hash": prev,
                    "hash": digest_chain,
                }
            )
            prev = digest_chain
            projection.project(seq, event, item.time_us)
        self._executemany(conn, s.events.insert(), rows)
        self._write_projection(conn, projection, pending)
        return AppendResult(len(fresh), duplicates, seq)

    # --- projection writes ----------------------------------------------------------------

    def _write_projection(self, conn: Connection, proj: Projection, pending: _Pending) -> None:
        node_ids = self._upsert_nodes(conn, proj, pending)
        version_ids = self._upsert_versions(conn, proj, node_ids, pending)
        if proj.edges:
            rows = [
                {
                    "src": version_ids[src],
                    "dst": version_ids[dst],
                    "relation": relation,
                    "created_us": fact.created_us,
                    "first_seq": fact.first_seq,
                }
                for (src, dst, relation), fact in proj.edges.items()
            ]
            stmt = self._insert(s.edges).on_conflict_do_nothing(
                index_elements=["src", "dst", "relation"]
            )
            self._executemany(conn, stmt, rows)
        if proj.runs:
            self._upsert_runs(conn, proj.runs, node_ids, version_ids)

    def _executemany(self, conn: Connection, stmt: Any, rows: list[dict[str, Any]]) -> None:
        """Execute one Core statement for many rows straight through the driver.

        The SQL is compiled by SQLAlchemy for this dialect once and cached; skipping its
        per-row parameter processing is most of the cost of a large batch.
        """
        if not rows:
            return
        names = tuple(rows[0])
        key = (id(stmt.table), str(stmt), names)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = stmt.compile(dialect=conn.dialect, column_keys=list(names))
            self._compiled[key] = compiled
        sql = str(compiled)
        if compiled.positional:
            order = compiled.positiontup or ()
            conn.exec_driver_sql(sql, [tuple(row[name] for name in order) for row in rows])
        else:
            conn.exec_driver_sql(sql, rows)

    def _insert_new(
        self, conn: Connection, table: sa.Table, stmt: Any, rows: list[dict[str, Any]]
    ) -> Iterable[Any]:
        """Insert rows (conflicts skipped) and return the ones actually created.

        Appends hold the chain lock, so no other writer inserts meanwhile: every row with an
        id above the maximum before the insert is one of ours.  This avoids RETURNING, which
        would force SQLAlchemy's slow per-row path.
        """
        before = conn.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar_one()
        self._executemany(conn, stmt, rows)
        return conn.execute(sa.select(table).where(table.c.id > before))

    def _upsert_nodes(
        self, conn: Connection, proj: Projection, pending: _Pending
    ) -> dict[NodeKey, int]:
        t = s.nodes
        known: dict[NodeKey, _Known] = {}
        todo: list[NodeKey] = []
        for key in proj.nodes:
            hit = self._node_cache.get(key)
            if hit is None:
                todo.append(key)
            else:
                known[key] = hit
        if todo:
            rows = []
            for key in todo:
                fact = proj.nodes[key]
                rows.append(
                    {
                        "type": key[0],
                        "namespace": key[1],
                        "name": key[2],
                        "kind": fact.kind,
                        "facets": dumps(fact.facets),
                        "first_seen_us": fact.seen_us,
                        "updated_us": fact.seen_us,
                    }
                )
            stmt = self._insert(t).on_conflict_do_nothing(
                index_elements=["type", "namespace", "name"]
            )
            fresh: set[NodeKey] = set()
            for row in self._insert_new(conn, t, stmt, rows):
                key = (row.type, row.namespace, row.name)
                fresh.add(key)
                pending.nodes[key] = _Known(row.id, row.facets, row.kind)
            missing = [key for key in todo if key not in fresh]
            for chunk in _chunks(missing):
                stmt = sa.select(
                    t.c.id, t.c.type, t.c.namespace, t.c.name, t.c.kind, t.c.facets
                ).where(sa.tuple_(t.c.type, t.c.namespace, t.c.name).in_(chunk))
                for row in conn.execute(stmt):
                    known[(row.type, row.namespace, row.name)] = _Known(
                        row.id, row.facets, row.kind
                    )
        else:
            fresh = set()
        stale = [
            key
            for key, hit in known.items()
            if _merge_facets(hit.facets, proj.nodes[key].facets) != hit.facets
            or _merge_kind(hit.kind, proj.nodes[key].kind) != hit.kind
        ]
        if stale:
            # The cache may lag other writers: merge into the row as it is now.
            current = self._reread(conn, t, [known[key].id for key in stale], t.c.kind)
            updates = []
            for key in stale:
                row_id = known[key].id
                facets_text, kind = current[row_id]
                merged = _merge_facets(facets_text, proj.nodes[key].facets)
                new_kind = _merge_kind(kind, proj.nodes[key].kind)
                updates.append(
                    {
                        "b_id": row_id,
                        "facets": merged,
                        "kind": new_kind,
                        "updated_us": proj.nodes[key].seen_us,
                    }
                )
                known[key] = _Known(row_id, merged, new_kind)
            conn.execute(
                t.update()
                .where(t.c.id == sa.bindparam("b_id"))
                .values(
                    kind=sa.bindparam("kind"),
                    facets=sa.bindparam("facets"),
                    updated_us=sa.bindparam("updated_us"),
                ),
                updates,
            )
        for key, hit in known.items():
            pending.nodes[key] = hit
        return {key: hit.id for key, hit in pending.nodes.items() if key in proj.nodes}

    def _reread(
        self, conn: Connection, table: sa.Table, ids: list[int], extra: sa.ColumnElement[Any]
    ) -> dict[int, tuple[str, Any]]:
        out: dict[int, tuple[str, Any]] = {}
        for chunk in _chunks(ids):
            stmt = sa.select(table.c.id, table.c.facets, extra).where(table.c.id.in_(chunk))
            for row in conn.execute(stmt):
                out[row[0]] = (row[1], row[2])
        return out

    def _resolve_latest(
        self, conn: Connection, proj: Projection, node_ids: dict[NodeKey, int]
    ) -> None:
        """Rewrite every ``(node, LATEST)`` edge end to the newest known version of that node."""
        wanted = {key[0] for (src, dst, _r) in proj.edges for key in (src, dst) if key[1] == LATEST}
        if not wanted:
            return
        newest: dict[NodeKey, tuple[int, str]] = {}
        by_id = {node_ids[key]: key for key in wanted}
        inner = sa.alias(s.versions)
        for chunk in _chunks(list(by_id)):
            latest = (
                sa.select(sa.func.max(inner.c.first_seen_us))
                .where(inner.c.node_id == s.versions.c.node_id)
                .scalar_subquery()
            )
            stmt = sa.select(
                s.versions.c.node_id, s.versions.c.version, s.versions.c.first_seen_us
            ).where(s.versions.c.node_id.in_(chunk), s.versions.c.first_seen_us == latest)
            for row in conn.execute(stmt):
                newest[by_id[row.node_id]] = (row.first_seen_us, row.version)
        for (node, version), fact in proj.versions.items():
            if node in wanted and (node not in newest or fact.first_seen_us >= newest[node][0]):
                newest[node] = (fact.first_seen_us, version)
        remapped: dict[tuple[VersionKey, VersionKey, str], EdgeFact] = {}
        for (src, dst, relation), edge in proj.edges.items():
            ends: list[VersionKey] = []
            for node, version in (src, dst):
                if version == LATEST:
                    version = newest[node][1] if node in newest else UNVERSIONED
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
        facts = {(node_ids[node], version): fact for (node, version), fact in proj.versions.items()}
        known: dict[tuple[int, str], _KnownVersion] = {}
        todo: list[tuple[int, str]] = []
        for key in facts:
            hit = self._version_cache.get(key)
            if hit is None:
                todo.append(key)
            else:
                known[key] = hit
        fresh: set[tuple[int, str]] = set()
        if todo:
            rows = [
                {
                    "node_id": key[0],
                    "version": key[1],
                    "facets": dumps(facts[key].facets),
                    "first_seen_us": facts[key].first_seen_us,
                    "last_seen_us": facts[key].last_seen_us,
                    "first_seq": facts[key].first_seq,
                }
                for key in todo
            ]
            stmt = self._insert(t).on_conflict_do_nothing(index_elements=["node_id", "version"])
            for row in self._insert_new(conn, t, stmt, rows):
                key = (row.node_id, row.version)
                fresh.add(key)
                pending.versions[key] = _KnownVersion(
                    row.id, row.facets, row.first_seen_us, row.last_seen_us
                )
            missing = [key for key in todo if key not in fresh]
            for chunk in _chunks(missing):
                stmt = sa.select(
                    t.c.id,
                    t.c.node_id,
                    t.c.version,
                    t.c.facets,
                    t.c.first_seen_us,
                    t.c.last_seen_us,
                ).where(sa.tuple_(t.c.node_id, t.c.version).in_(chunk))
                for row in conn.execute(stmt):
                    known[(row.node_id, row.version)] = _KnownVersion(
                        row.id, row.facets, row.first_seen_us, row.last_seen_us
                    )
        stale = [
            key
            for key, hit in known.items()
            if _merge_facets(hit.facets, facts[key].facets) != hit.facets
            or facts[key].first_seen_us < hit.first_seen_us
            or facts[key].last_seen_us > hit.last_seen_us
        ]
        if stale:
            current = self._reread(conn, t, [known[key].id for key in stale], t.c.first_seen_us)
            updates = []
            for key in stale:
                hit, fact = known[key], facts[key]
                facets_text, first = current[hit.id]
                merged = _merge_facets(facets_text, fact.facets)
                updates.append(
                    {
                        "b_id": hit.id,
                        "facets": merged,
                        "b_first": min(first, fact.first_seen_us),
                        "b_last": fact.last_seen_us,
                    }
                )
                known[key] = _KnownVersion(
                    hit.id,
                    merged,
                    min(first, fact.first_seen_us),
                    max(hit.last_seen_us, fact.last_seen_us),
                )
            last: sa.BindParameter[int] = sa.bindparam("b_last")
            conn.execute(
                t.update()
                .where(t.c.id == sa.bindparam("b_id"))
                .values(
                    facets=sa.bindparam("facets"),
                    first_seen_us=sa.bindparam("b_first"),
                    # Monotonic even when another writer moved it further meanwhile.
                    last_seen_us=sa.case((t.c.last_seen_us < last, last), else_=t.c.last_seen_us),
                ),
                updates,
            )
        for key, hit in known.items():
            pending.versions[key] = hit
        return {
            (node, version): pending.versions[(node_ids[node], version)].id
            for (node, version) in proj.versions
        }

    def _upsert_runs(
        self,
        conn: Connection,
        runs: dict[str, RunFact],
        node_ids: dict[NodeKey, int],
        version_ids: dict[VersionKey, int],
    ) -> None:
        found: dict[str, Any] = {}
        for chunk in _chunks(list(runs)):
            for stored in conn.execute(sa.select(s.runs).where(s.runs.c.run_id.in_(chunk))):
                found[stored.run_id] = stored
        rows: list[dict[str, Any]] = []
        for run_id, fact in runs.items():
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
            old = found.get(run_id)
            if old is not None:
                row = _merge_run_rows(old, row, fact)
            row["facets"] = dumps(row["facets"])
            rows.append(row)
        stmt = self._insert(s.runs)
        stmt = stmt.on_conflict_do_update(
            index_elements=["run_id"],
            set_={c.name: stmt.excluded[c.name] for c in s.runs.columns if c.name != "run_id"},
        )
        conn.execute(stmt, rows)

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
