"""The whole graph, or one slice of it, as one :class:`~threadline.query.result.LineageGraph`.

:func:`graph_dump` is every vertex of the store (data versions and executions), in the order
first seen, with the edges between them: what an export of the graph (PROV, dot) writes.
``since``/``until`` keep the vertices first seen within those times; ``namespace`` keeps those
of one namespace together with the vertices one edge away (a job namespace's dump shows the
data its executions read and wrote).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.model.times import parse_moment
from threadline.query.graph import describe
from threadline.query.reading import read
from threadline.query.result import Edge, LineageGraph, Node
from threadline.store import schema as s

if TYPE_CHECKING:
    from threadline.store.base import Store

_CHUNK: Final = 500
_v, _n, _e = s.versions, s.nodes, s.edges


def graph_dump(
    store: Store,
    *,
    namespace: str | None = None,
    since: dt.datetime | str | None = None,
    until: dt.datetime | str | None = None,
) -> LineageGraph:
    """The graph, or the slice the filters keep (see the module docstring); ``root`` is empty."""
    since_us, until_us = parse_moment(since, "--since"), parse_moment(until, "--until")

    def query(conn: Connection) -> LineageGraph:
        stmt = sa.select(_v.c.id).join(_n, _n.c.id == _v.c.node_id)
        if namespace is not None:
            stmt = stmt.where(_n.c.namespace == namespace)
        if since_us is not None:
            stmt = stmt.where(_v.c.first_seen_us >= since_us)
        if until_us is not None:
            stmt = stmt.where(_v.c.first_seen_us <= until_us)
        ids = [int(row[0]) for row in conn.execute(stmt.order_by(_v.c.first_seen_us, _v.c.id))]
        if namespace is not None:
            ids += sorted(_neighbours(conn, ids) - set(ids))
        return _graph(conn, ids)

    return read(store, query)


def _neighbours(conn: Connection, ids: Sequence[int]) -> set[int]:
    """Vertices one edge away from any of ``ids``."""
    found: set[int] = set()
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for src, dst in conn.execute(
            sa.select(_e.c.src, _e.c.dst).where(sa.or_(_e.c.src.in_(chunk), _e.c.dst.in_(chunk)))
        ):
            found.update((int(src), int(dst)))
    return found


def _graph(conn: Connection, ids: Sequence[int]) -> LineageGraph:
    described: dict[int, Node] = {}
    for start in range(0, len(ids), _CHUNK):
        described.update(describe(conn, ids[start : start + _CHUNK]))
    edges: list[Edge] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        stmt = sa.select(_e.c.src, _e.c.dst, _e.c.relation).where(_e.c.src.in_(chunk))
        for src, dst, relation in conn.execute(stmt.order_by(_e.c.src, _e.c.dst, _e.c.relation)):
            if int(dst) in described:
                edges.append(
                    {
                        "from": described[int(src)]["id"],
                        "to": described[int(dst)]["id"],
                        "relation": relation,
                    }
                )
    nodes = [described[i] for i in ids if i in described]
    return LineageGraph(root="", nodes=nodes, edges=edges, truncated=False)


__all__ = ["graph_dump"]
