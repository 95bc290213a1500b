"""Which part of the graph an export covers, as a :class:`~threadline.query.result.LineageGraph`.

Without ``ref`` it is the graph dump of :func:`threadline.query.dump.graph_dump`: every vertex
of the store (data versions and executions), optionally only those first seen within
``[since, until]`` and those in one ``namespace`` together with the vertices one edge away (a
job namespace's export shows the data its executions read and wrote), with the edges between
them.  With ``ref`` it is the upstream trace of that version (everything that produced it),
under the same filters.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from threadline.model.times import parse_moment
from threadline.query import LineageGraph, trace
from threadline.query.dump import graph_dump

if TYPE_CHECKING:
    from threadline.store.base import Store


def collect(
    store: Store,
    *,
    ref: str | None = None,
    namespace: str | None = None,
    since: dt.datetime | str | None = None,
    until: dt.datetime | str | None = None,
) -> LineageGraph:
    """The graph an export covers (see the module docstring)."""
    if ref is None:
        return graph_dump(store, namespace=namespace, since=since, until=until)
    since_us, until_us = parse_moment(since, "--since"), parse_moment(until, "--until")
    return _filtered(trace(store, ref, limit=None), namespace, since_us, until_us)


def _filtered(
    graph: LineageGraph, namespace: str | None, since_us: int | None, until_us: int | None
) -> LineageGraph:
    if namespace is None and since_us is None and until_us is None:
        return graph
    keep = set()
    for node in graph.nodes:
        if namespace is not None and node["namespace"] != namespace:
            continue
        seen = parse_moment(node.get("first_seen"), "first_seen")
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


__all__ = ["collect"]
