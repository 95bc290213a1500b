"""Which part of the graph an export covers, as a :class:`~threadline.query.result.LineageGraph`.

Without ``ref`` it is every vertex of the store (data versions and executions), optionally only
those first seen within ``[since, until]`` and those in one ``namespace`` together with the
vertices one edge away (a job namespace's export shows the data its executions read and
wrote), with the edges between them.  With ``ref`` it is the upstream trace of that version (everything that produced it),
under the same filters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.model.times import parse_moment
from threadline.query import LineageGraph, trace
from threadline.query.graph import describe
from threadline.query.reading import read
from threadline.store import schema as s

if TYPE_CHECKING:
    from threadline.store.base import Store

_CHUNK = 500


def moment(value: dt.datetime | str | None, option: str) -> int | None:
    """A user's time (``datetime`` or ISO 8601 text; naive means UTC) in epoch microseconds."""
    return parse_moment(value, option)


def collect(
    store: Store,
    *,
    ref: str | None = None,
    namespace: str | None = None,
    since: dt.datetime | str | None = None,
    until: dt.datetime | str | None = None,
) -> LineageGraph:
    """The graph an export covers (see the module docstring)."""
    since_us, until_us = moment(since, "--since"), moment(until, "--until")
    if ref is not None:
        graph = trace(store, ref, limit=None)
        return _filtered(graph, namespace, since_us, until_us)

    def query(conn: Connection) -> LineageGraph:
        v, n = s.versions, s.nodes
        stmt = sa.select(v.c.id).join(n, n.c.id == v.c.node_id)
        if namespace is not None:
            stmt = stmt.where(n.c.namespace == namespace)
        if since_us is not None:
            stmt = stmt.where(v.c.first_seen_us >= since_us)
        if until_us is not None:
            stmt = stmt.where(v.c.first_seen_us <= until_us)
        ids = [int(row[0]) for row in conn.execute(stmt.order_by(v.c.first_seen_us, v.c.id))]
        if namespace is not None:
            ids += sorted(_neighbours(conn, ids) - set(ids))
        return _graph(conn, ids)

    return read(store, query)


def _neighbours(conn: Connection, ids: Sequence[int]) -> set[int]:
    """Vertices one edge away from any of ``ids``."""
    e = s.edges
    found: set[int] = set()
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for src, dst in conn.execute(
            sa.select(e.c.src, e.c.dst).where(sa.or_(e.c.src.in_(chunk), e.c.dst.in_(chunk)))
        ):
            found.update((int(src), int(dst)))
    return found


def _graph(conn: Connection, ids: Sequence[int]) -> LineageGraph:
    described: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), _CHUNK):
        described.update(describe(conn, ids[start : start + _CHUNK]))
    wanted = set(described)
    edges = []
    e = s.edges
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        stmt = sa.select(e.c.src, e.c.dst, e.c.relation).where(e.c.src.in_(chunk))
        for src, dst, relation in conn.execute(stmt.order_by(e.c.src, e.c.dst, e.c.relation)):
            if int(dst) in wanted:
                edges.append(
                    {
                        "from": described[int(src)]["id"],
                        "to": described[int(dst)]["id"],
                        "relation": relation,
                    }
                )
    nodes = [described[i] for i in ids if i in described]
    return LineageGraph(root="", nodes=nodes, edges=edges, truncated=False)


def _filtered(
    graph: LineageGraph, namespace: str | None, since_us: int | None, until_us: int | None
) -> LineageGraph:
    if namespace is None and since_us is None and until_us is None:
        return graph
    keep = set()
    for node in graph.nodes:
        if namespace is not None and node["namespace"] != namespace:
            continue
        seen = moment(node.get("first_seen"), "first_seen")
        if since_us is not None and (seen is None or seen < since_us):
            continue
        if until_us is not None and (seen is None or seen > until_us):
            continue
        keep.add(node["id"])
    return LineageGraph(
        root=graph.root if graph.root in keep else "",
        nodes=[n for n in graph.nodes if n["id"] in keep],
        edges=[e for e in graph.edges if e["from"] in keep and e["to"] in keep],
        truncated=graph.truncated,
    )


__all__ = ["collect", "moment"]
