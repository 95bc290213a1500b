"""Lineage invariants a team asserts in its own test suite (through the pytest plugin):

* :func:`untraced` — every node of a kind (models, say) in a namespace traces upstream to a raw
  source carrying a label, e.g. "every model in namespace fraud traces to a raw source labelled
  ``pii-reviewed``".  A *raw source* is a dataset no recorded run wrote; its labels are its own
  or inherited ones.

The walk goes upstream from each node's newest version through every edge (inputs of the run
that wrote a version, versions it was derived from), one statement per step for all the nodes
at once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Final

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.query.health.context import NodeRow, namespaces_of, node_rows, rows_for
from threadline.query.reading import read
from threadline.store.base import Store

#: Steps walked upstream at most (a pipeline step is two).
MAX_DEPTH: Final = 200

_ALL_OF_KIND: Final = sa.text(
    "SELECT n.id, n.kind, n.namespace, n.name FROM tl_nodes n "
    "WHERE n.type = 'dataset' AND n.kind = :kind"
)
_NEWEST: Final = """
SELECT v.node_id, MAX(v.id) FROM tl_versions v
WHERE v.node_id IN :ids AND v.first_seen_us = (
    SELECT MAX(x.first_seen_us) FROM tl_versions x WHERE x.node_id = v.node_id
)
GROUP BY v.node_id
"""
_UPSTREAM: Final = "SELECT dst, src FROM tl_edges WHERE dst IN :ids"
_SOURCES: Final = """
SELECT v.id, n.facets FROM tl_versions v JOIN tl_nodes n ON n.id = v.node_id
WHERE v.id IN :ids AND n.type = 'dataset'
AND NOT EXISTS (
    SELECT 1 FROM tl_versions w JOIN tl_edges e ON e.dst = w.id
    WHERE w.node_id = n.id AND e.relation IN ('output', 'derived')
)
"""


@dataclass(frozen=True, slots=True)
class Violation:
    node: str
    """The printable id of the node that breaks the invariant."""
    reason: str


def _labels(facets_text: str) -> set[str]:
    facets = orjson.loads(facets_text or "{}")
    facet = facets.get("threadline_classification") if isinstance(facets, dict) else None
    if not isinstance(facet, dict):
        return set()
    return {str(x) for x in [*(facet.get("labels") or []), *(facet.get("inherited") or [])]}


def untraced(
    store: Store, *, label: str, kind: str = "model", namespace: str | None = None
) -> list[Violation]:
    """The nodes of ``kind`` (in ``namespace``) with no raw source labelled ``label`` upstream."""

    def check(conn: Connection) -> list[Violation]:
        nodes: list[NodeRow] = node_rows(conn.execute(_ALL_OF_KIND, {"kind": kind}))
        if namespace is not None:
            spaces = namespaces_of(conn, nodes)
            nodes = [n for n in nodes if spaces.get(n.id) == namespace]
        newest = {int(a): int(b) for a, b in rows_for(conn, _NEWEST, [n.id for n in nodes])}
        # version id -> the nodes whose walk reached it
        reached: dict[int, set[int]] = defaultdict(set)
        for node_id, version_id in newest.items():
            reached[version_id].add(node_id)
        frontier = set(reached)
        for _ in range(MAX_DEPTH):
            if not frontier:
                break
            following: set[int] = set()
            for dst, src in rows_for(conn, _UPSTREAM, sorted(frontier)):
                owners = reached[int(dst)]
                if not owners <= reached[int(src)]:
                    reached[int(src)] |= owners
                    following.add(int(src))
            frontier = following
        satisfied: set[int] = set()
        sources = rows_for(conn, _SOURCES, sorted(reached))
        for version_id, facets in sources:
            if label in _labels(facets):
                satisfied |= reached[int(version_id)]
        return [
            Violation(
                n.printable(),
                f"no raw source labelled {label!r} upstream of this {kind}",
            )
            for n in nodes
            if n.id not in satisfied
        ]

    return read(store, check)


__all__ = ["MAX_DEPTH", "Violation", "untraced"]
