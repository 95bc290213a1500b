"""What every health check is given (:class:`HealthContext`) and the plumbing they share.

The checks are set-based: each asks the store a few statements whose cost grows with the size
of the tables, never one statement per node.  Where a check needs rows for a set of nodes it
found (their namespaces, say) it asks for them in chunks of :data:`CHUNK` ids.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.query.reading import printable

#: Ids per statement when a check reads rows for the nodes it found.
CHUNK: Final = 500


@dataclass(frozen=True, slots=True)
class HealthContext:
    """The moment the checks run at and their thresholds (from the settings)."""

    now_us: int
    stale_run_us: int
    """A run open longer than this after its last event never ended."""
    psi_threshold: float
    share_threshold: float
    memo: dict[str, Any] = field(default_factory=dict)
    """Results several checks of one run share (the live deployments, say), computed once."""


@dataclass(frozen=True, slots=True)
class NodeRow:
    id: int
    kind: str
    namespace: str
    name: str

    def printable(self, version: str | None = None) -> str:
        return printable(self.kind, self.namespace, self.name, version)


@dataclass(frozen=True, slots=True)
class Draft:
    """A finding before the runner gives it its family and namespace."""

    node: NodeRow
    check: str
    severity: str
    message: str
    hint: str
    version: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def chunks(ids: Iterable[int], size: int = CHUNK) -> Iterator[list[int]]:
    batch: list[int] = []
    for item in ids:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def rows_for(conn: Connection, sql: str, ids: Iterable[int], **params: Any) -> list[Any]:
    """Run ``sql`` (which filters on ``IN :ids``) for every chunk of ``ids``."""
    statement = sa.text(sql).bindparams(sa.bindparam("ids", expanding=True))
    found: list[Any] = []
    for batch in chunks(ids):
        found.extend(conn.execute(statement, {"ids": batch, **params}).all())
    return found


def _namespaces_through(relation: str, version_end: str, execution_end: str) -> str:
    """For each node, the smallest namespace of the jobs linked to its versions by ``relation``
    edges (the version at ``version_end`` of the edge, the execution at ``execution_end``)."""
    return f"""
SELECT v.node_id, MIN(jn.namespace)
FROM tl_versions v
JOIN tl_edges e ON e.{version_end} = v.id AND e.relation = '{relation}'
JOIN tl_versions ev ON ev.id = e.{execution_end}
JOIN tl_nodes jn ON jn.id = ev.node_id
WHERE v.node_id IN :ids
GROUP BY v.node_id
"""


_PRODUCER_NAMESPACES: Final = _namespaces_through("output", "dst", "src")
_READER_NAMESPACES: Final = _namespaces_through("input", "src", "dst")


def namespaces_of(conn: Connection, nodes: Sequence[NodeRow]) -> dict[int, str]:
    """The namespace each node belongs to: a job's own; for a dataset, the namespace of the
    jobs that wrote it, else of those that read it, else its own (``threadline://NS`` → NS)."""
    found: dict[int, str] = {}
    datasets = [n.id for n in nodes if n.kind != "job"]
    for sql in (_PRODUCER_NAMESPACES, _READER_NAMESPACES):
        wanted = [i for i in datasets if i not in found]
        for node_id, namespace in rows_for(conn, sql, wanted):
            found[int(node_id)] = str(namespace)
    for node in nodes:
        if node.id not in found:
            own = node.namespace
            if own.startswith("threadline://"):
                own = own.removeprefix("threadline://").split("/", 1)[0]
            found[node.id] = own
    return found


def node_rows(rows: Iterable[Any]) -> list[NodeRow]:
    """Rows of ``(id, kind, namespace, name)`` as :class:`NodeRow`."""
    return [NodeRow(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]


def days(micros: int) -> float:
    return round(micros / 86_400_000_000, 2)


def iso(micros: int) -> str:
    """A time in microseconds as ISO 8601 UTC to the second (stable text for messages)."""
    moment = datetime.datetime.fromtimestamp(micros / 1_000_000, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


__all__ = [
    "CHUNK",
    "Draft",
    "HealthContext",
    "NodeRow",
    "chunks",
    "days",
    "iso",
    "namespaces_of",
    "node_rows",
    "rows_for",
]
