"""Projection upserts: a batch's graph facts written as rows of nodes, versions, edges and runs.

Runs in the transaction that moves the graph's watermark over a page of the log, under the
chain lock (:meth:`threadline.store.sql.SqlStore._project_page`).
Ids of nodes and versions come from a per-process cache of committed rows, or are chosen by
the store (it holds the lock) for rows it inserts; only rows that turn out to exist already are
looked up.  What is merged how:

* a node's facets merge key by key (the newer wins) and its kind only ever gets more specific;
* a version's facets merge the same way, and its first/last-seen window only widens (in SQL,
  so a writer whose cache lags another's never moves it back);
* an input that names no version links the newest version known when its event arrived;
* a run already stored is merged with this batch's view of it so that arrival order does not
  matter (:func:`merge_run_rows`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.store import schema as s
from threadline.store.bulk import RUN_COLUMNS, BulkStatements, chunks
from threadline.store.id_cache import ENTRY_OVERHEAD, BoundedCache
from threadline.store.projection import (
    LATEST,
    UNVERSIONED,
    EdgeFact,
    NodeKey,
    Projection,
    RunFact,
    VersionKey,
)

#: Memory each id cache may take (bytes, estimated; :mod:`threadline.store.id_cache`).
DEFAULT_CACHE_BYTES: Final = 32 * 1024 * 1024

# Cached rows are plain tuples of ids and strings: the collector stops tracking such tuples,
# so a large cache does not slow down every full garbage collection.
Known = tuple[int, str, str, int]  # node: (id, facets JSON, kind, updated_us)
KnownVersion = tuple[int, str, int, int]  # version: (id, facets JSON, first_seen, last_seen)


K = TypeVar("K")
V = TypeVar("V")

#: Rows of one commit the caches take at most.  The caches pay off for the rows small batches
#: name again and again; a bulk load of 100,000 new datasets would instead fill them with rows
#: that are rarely named again, and those entries, made while the batch's parsed events came and
#: went, pin the allocator's arenas: the server kept hundreds of megabytes after the batch.
CACHED_PER_COMMIT: Final = 10_000


def _first(rows: dict[K, V], limit: int) -> dict[K, V]:
    return rows if len(rows) <= limit else dict(itertools.islice(rows.items(), limit))


# What strings_size would say, spelled out: these run for every row a page projects.
def _node_size(key: NodeKey, known: Known) -> int:
    return ENTRY_OVERHEAD + len(key[0]) + len(key[1]) + len(key[2]) + len(known[1]) + len(known[2])


def _version_size(key: tuple[int, str], known: KnownVersion) -> int:
    return ENTRY_OVERHEAD + len(key[1]) + len(known[1])


def dumps(value: Any) -> str:
    """Facets as the JSON text stored in their column (keys sorted)."""
    if type(value) is dict and not value:
        return "{}"  # most facet dicts are empty: skip the serializer
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


@dataclass(slots=True)
class Pending:
    """Rows this transaction touched; cached only once it commits."""

    nodes: dict[NodeKey, Known] = field(default_factory=dict)
    versions: dict[tuple[int, str], KnownVersion] = field(default_factory=dict)


class ProjectionWriter:
    """Writes projections for one store, keeping the ids of the rows it has seen committed.

    ``ids_assigned`` is the dialect's hook, called after rows were inserted under ids the
    store chose (PostgreSQL moves its serial sequence past them).
    """

    def __init__(
        self,
        statements: BulkStatements,
        ids_assigned: Callable[[Connection, sa.Table, int], None],
        cache_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        self._statements = statements
        self._ids_assigned = ids_assigned
        # Row ids of committed nodes and versions: ids never change, so a hit skips a lookup.
        self._node_cache: BoundedCache[NodeKey, Known] = BoundedCache(cache_bytes, _node_size)
        self._version_cache: BoundedCache[tuple[int, str], KnownVersion] = BoundedCache(
            cache_bytes, _version_size
        )

    def write(self, conn: Connection, proj: Projection, pending: Pending) -> None:
        """Write every fact of ``proj``; ``pending`` collects the rows to cache on commit."""
        node_ids = self._upsert_nodes(conn, proj, pending)
        version_ids = self._upsert_versions(conn, proj, node_ids, pending)
        if proj.edges:
            self._statements.run(
                conn,
                "edges",
                [
                    (version_ids[src], version_ids[dst], relation, fact.created_us, fact.first_seq)
                    for (src, dst, relation), fact in proj.edges.items()
                ],
            )
        if proj.runs:
            self._upsert_runs(conn, proj.runs, node_ids, version_ids)

    def set_cache_budget(self, cache_bytes: int) -> None:
        for cache in (self._node_cache, self._version_cache):
            cache.budget = max(0, cache_bytes)
            cache.update({})

    def forget(self) -> None:
        """Drop every cached row id (the graph was rebuilt and its rows renumbered)."""
        self._node_cache.clear()
        self._version_cache.clear()

    def remember(self, pending: Pending) -> None:
        """Cache the ids of a committed transaction's rows (at most
        :data:`CACHED_PER_COMMIT` of each kind: see there)."""
        self._node_cache.update(_first(pending.nodes, CACHED_PER_COMMIT))
        self._version_cache.update(_first(pending.versions, CACHED_PER_COMMIT))

    def _next_id(self, conn: Connection, table: sa.Table) -> int:
        """The first free row id.  Appends hold the chain lock, so nobody else inserts until
        the commit: the store chooses ids itself instead of reading them back (RETURNING
        would force SQLAlchemy's slow per-row path)."""
        current = conn.execute(sa.select(sa.func.max(table.c.id))).scalar_one()
        return int(current or 0) + 1

    def _insert_fresh(
        self, conn: Connection, name: str, table: sa.Table, rows: list[tuple[Any, ...]]
    ) -> set[int] | None:
        """Insert rows under ids the store chose, skipping natural-key conflicts.

        Returns the ids that landed, or None when all of them did (the common case, told by
        the row count without a round trip).  Inserting first and looking up only the
        conflicts saves an index probe per new row compared with looking every key up first.
        """
        if self._statements.run(conn, name, rows) == len(rows):
            return None
        first = rows[0][0]
        landed = conn.execute(sa.select(table.c.id).where(table.c.id >= first)).scalars()
        return set(landed)

    def _upsert_nodes(
        self, conn: Connection, proj: Projection, pending: Pending
    ) -> dict[NodeKey, int]:
        t = s.nodes
        cache = self._node_cache
        facts = proj.nodes
        known: dict[NodeKey, Known] = {}
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
                rows.append(
                    (
                        next_id,
                        *key,
                        fact.kind,
                        facets,
                        fact.first_us,
                        fact.seen_us,
                        s.node_identity(*key),
                    )
                )
                next_id += 1
            landed = self._insert_fresh(conn, "nodes", t, rows)
            conflicts = []
            for key, row in zip(todo, rows, strict=True):
                if landed is None or row[0] in landed:
                    pending.nodes[key] = (row[0], row[5], row[4], row[7])
                else:
                    conflicts.append(key)
            self._ids_assigned(conn, t, next_id - 1)
            # Rows another process (or a pruned cache) already had: merge into them below.
            for row_id, type_, namespace, name, kind, facets, updated in self._statements.find(
                conn, "nodes", [s.node_identity(*key) for key in conflicts]
            ):
                known[(type_, namespace, name)] = (row_id, facets, kind, int(updated))
        # ``updated_us`` is the latest event time that names the node, whether its facets
        # changed or not: a batch of events and the same events one by one give the same row.
        stale = [
            key
            for key, (_id, facets, kind, updated) in known.items()
            if merged_facets(facets, facts[key].facets) is not None
            or merge_kind(kind, facts[key].kind) != kind
            or facts[key].seen_us > updated
        ]
        if stale:
            # The cache may lag other writers: merge into the row as it is now.
            current = {
                row[0]: (row[1], row[2], int(row[3]))
                for row in self._statements.find(
                    conn, "node_rows", [known[key][0] for key in stale]
                )
            }
            updates = []
            for key in stale:
                fact = facts[key]
                row_id = known[key][0]
                facets_text, kind, updated = current[row_id]
                merged = merged_facets(facets_text, fact.facets) or facets_text
                new_kind = merge_kind(kind, fact.kind)
                # An event older than what another writer recorded does not move it back.
                newest = max(updated, fact.seen_us)
                updates.append((row_id, new_kind, merged, newest))
                known[key] = (row_id, merged, new_kind, newest)
            self._statements.run(conn, "node_update", updates)
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
        for chunk in chunks(list(by_id)):
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
        pending: Pending,
    ) -> dict[VersionKey, int]:
        t = s.versions
        self._resolve_latest(conn, proj, node_ids)
        cache = self._version_cache
        facts = {(node_ids[node], version): fact for (node, version), fact in proj.versions.items()}
        known: dict[tuple[int, str], KnownVersion] = {}
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
                        s.version_digest(key[1]),
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
            for row_id, node_id, version, facets, first, last in self._statements.find(
                conn, "versions", [(node, s.version_digest(version)) for node, version in conflicts]
            ):
                known[(node_id, version)] = (row_id, facets, first, last)
        restate: list[tuple[int, str]] = []  # facets change: merge into the row as it is now
        touch: list[tuple[Any, ...]] = []  # only the first/last-seen window widens
        for key, (row_id, facets, first, last) in known.items():
            fact = facts[key]
            if merged_facets(facets, fact.facets) is not None:
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
                for row in self._statements.find(
                    conn, "version_rows", [known[key][0] for key in restate]
                )
            }
            updates = []
            for key in restate:
                row_id, _facets, first, last = known[key]
                fact = facts[key]
                stored = current[row_id]
                merged = merged_facets(stored, fact.facets) or stored
                updates.append((row_id, merged, fact.first_seen_us, fact.last_seen_us))
                known[key] = (
                    row_id,
                    merged,
                    min(first, fact.first_seen_us),
                    max(last, fact.last_seen_us),
                )
            self._statements.run(conn, "version_update", updates)
        self._statements.run(conn, "version_touch", touch)
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
        found = {
            stored.run_id: stored for stored in self._statements.find(conn, "runs", list(runs))
        }
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
            row = merge_run_rows(old, row, fact)
            row["facets"] = dumps(row["facets"])
            rows.append(tuple(row[c] for c in RUN_COLUMNS))
        self._statements.run(conn, "runs", rows)


def merged_facets(stored: str, new: dict[str, Any]) -> str | None:
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


def merge_kind(stored: str, new: str) -> str:
    """A node's kind after it is seen as ``new``: "dataset", the default, never overrides a
    more specific kind."""
    return stored if new == "dataset" else new


def merge_run_rows(old: Any, new: dict[str, Any], fact: RunFact) -> dict[str, Any]:
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


def _opt(pick: Callable[[int, int], int], a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else pick(a, b)


__all__ = [
    "DEFAULT_CACHE_BYTES",
    "Pending",
    "ProjectionWriter",
    "dumps",
    "merge_kind",
    "merge_run_rows",
    "merged_facets",
]
