"""What differs between two model versions (or any two versions).

For each side: the executions that wrote it (its *producers*), their most recent run's facets,
and everything upstream.  Compared, in order of how often they explain a difference:

* **inputs**: what the producers read directly, node by node (same node in another version,
  or read by only one side);
* **parameters**: key by key (``threadline_parameters``);
* **code**: git commit, dirty flag, branch, diff digest and entry-script digest
  (``threadline_context``);
* **upstream**: the raw sources (upstream vertices nothing else produced), node by node;
* **metrics**: ``threadline_quality`` of the ``evaluation`` outputs of executions that read the
  version, plus the version's own; an evaluation's metric wins over the version's own of the
  same name, and a metric reported by several evaluation nodes is keyed ``name (file)``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal

from sqlalchemy.engine import Connection

from threadline.query.graph import describe, walk
from threadline.query.reading import outputs_of_readers, printable, read
from threadline.query.resolve import Vertex, resolve
from threadline.query.result import Node
from threadline.store import schema as s

if TYPE_CHECKING:
    from threadline.store.base import Store

#: Cap on each side's upstream walk; a diff past it says its sources may be incomplete.
DIFF_LIMIT: Final = 10_000

ChangeKind = Literal["changed", "only_a", "only_b"]


@dataclass(frozen=True, slots=True)
class Change:
    """One key whose value differs between A and B."""

    key: str
    """A parameter or metric name, a code field, or a node id without version."""
    change: ChangeKind
    """``changed``: both have it, with different values; ``only_a`` / ``only_b``: one has it."""
    a: Any
    """A's value (``None`` when ``only_b``); versions are sorted lists."""
    b: Any
    """B's value (``None`` when ``only_a``)."""

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "change": self.change, "a": self.a, "b": self.b}


@dataclass(frozen=True, slots=True)
class DiffSide:
    """One of the two versions compared."""

    id: str
    """Its printable id."""
    executions: Sequence[str]
    """Printable ids of the executions that wrote it."""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "executions": list(self.executions)}


@dataclass(frozen=True, slots=True)
class ModelDiff:
    """The differences between versions A and B (see the module docstring)."""

    a: DiffSide
    b: DiffSide
    inputs: Sequence[Change]
    parameters: Sequence[Change]
    code: Sequence[Change]
    upstream: Sequence[Change]
    metrics: Sequence[Change]
    truncated: bool = False
    """True when an upstream walk hit :data:`DIFF_LIMIT` (upstream sources may be incomplete)."""
    notes: Sequence[str] = ()
    """Caveats worth reading next to the result (e.g. a side with no recorded producer)."""

    ASPECTS: ClassVar[tuple[str, ...]] = ("inputs", "parameters", "code", "upstream", "metrics")

    @property
    def identical(self) -> bool:
        return not any(getattr(self, aspect) for aspect in self.ASPECTS)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "a": self.a.to_dict(),
            "b": self.b.to_dict(),
            "identical": self.identical,
        }
        for aspect in self.ASPECTS:
            body[aspect] = [change.to_dict() for change in getattr(self, aspect)]
        body["truncated"] = self.truncated
        body["notes"] = list(self.notes)
        return body


@dataclass(frozen=True, slots=True)
class _Side:
    vertex: Vertex
    root: Node
    producers: list[Node]
    inputs: dict[str, set[str]]
    sources: dict[str, set[str]]
    metrics: dict[str, Any]
    truncated: bool


_e, _v, _n = s.edges, s.versions, s.nodes


def _key(node: Node) -> str:
    return printable(node["kind"], node["namespace"], node["name"])


def _by_node(nodes: list[Node]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for node in nodes:
        out.setdefault(_key(node), set()).add(node["version"])
    return out


def _evaluations(conn: Connection, vertex_id: int) -> list[int]:
    """``evaluation`` versions written by executions that read ``vertex_id``."""
    stmt = outputs_of_readers(vertex_id, "evaluation")
    return sorted({int(i) for i in conn.execute(stmt).scalars()})


def _metrics(conn: Connection, root: Node, vertex_id: int) -> dict[str, Any]:
    evaluations = list(describe(conn, _evaluations(conn, vertex_id)).values())
    newest: dict[str, Node] = {}
    for node in sorted(evaluations, key=lambda n: (n["first_seen"], n["version"])):
        if node.get("metrics"):
            newest[_key(node)] = node
    reported_by: dict[str, int] = {}
    for node in newest.values():
        for metric in node["metrics"]:
            reported_by[metric] = reported_by.get(metric, 0) + 1
    merged: dict[str, Any] = dict(root.get("metrics") or {})
    for key, node in sorted(newest.items()):
        for metric, value in node["metrics"].items():
            label = metric
            if reported_by[metric] > 1:
                label = f"{metric} ({posixpath.basename(node['name'].rstrip('/')) or key})"
            merged[label] = value
    return merged


def _side(conn: Connection, vertex: Vertex, limit: int | None) -> _Side:
    reached = walk(conn, vertex.id, upstream=True, limit=limit)
    described = describe(conn, reached.order, cutoffs=reached.cutoffs)
    if vertex.kind == "job":
        # An execution is compared as its own producer: what it read and how it ran.
        producers = [vertex.id]
    else:
        producers = sorted(
            {src for src, dst, rel in reached.edges if dst == vertex.id and rel == "output"}
        )
    producer_set = set(producers)
    inputs = sorted(
        {src for src, dst, rel in reached.edges if dst in producer_set and rel == "input"}
    )
    has_parent = {dst for _src, dst, _rel in reached.edges}
    sources = [
        described[vid]
        for vid in reached.order
        if vid not in has_parent and vid != vertex.id and described[vid]["kind"] != "job"
    ]
    root = described[vertex.id]
    return _Side(
        vertex=vertex,
        root=root,
        producers=[described[p] for p in producers],
        inputs=_by_node([described[i] for i in inputs]),
        sources=_by_node(sources),
        metrics=_metrics(conn, root, vertex.id),
        truncated=reached.truncated,
    )


def _merged(producers: list[Node], field: str) -> dict[str, Any]:
    """``field`` of every producer, the most recently run last (so it wins)."""
    merged: dict[str, Any] = {}
    for node in sorted(producers, key=lambda n: (n.get("runs") or {}).get("last_seen") or ""):
        merged.update(node.get(field) or {})
    return merged


def compare(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[Change]:
    """Key-wise differences; sets of versions come out as sorted lists."""
    changes: list[Change] = []
    for key in sorted(set(a) | set(b)):
        in_a, in_b = key in a, key in b
        va, vb = a.get(key), b.get(key)
        if in_a and in_b and va == vb:
            continue
        kind: ChangeKind = "changed" if in_a and in_b else "only_a" if in_a else "only_b"
        changes.append(
            Change(key, kind, _plain(va) if in_a else None, _plain(vb) if in_b else None)
        )
    return changes


def _plain(value: Any) -> Any:
    return sorted(value) if isinstance(value, set) else value


def diff(store: Store, a: str, b: str, *, limit: int | None = DIFF_LIMIT) -> ModelDiff:
    """What differs between versions ``a`` and ``b`` (ids or paths, as for ``trace``)."""

    def query(conn: Connection) -> ModelDiff:
        side_a = _side(conn, resolve(conn, a), limit)
        side_b = _side(conn, resolve(conn, b), limit)
        notes: list[str] = []
        if side_a.vertex.id == side_b.vertex.id:
            notes.append("A and B are the same version")
        for name, side in (("A", side_a), ("B", side_b)):
            if not side.producers and side.vertex.kind != "job":
                notes.append(f"{name} has no recorded execution that wrote it")
            if side.truncated:
                notes.append(
                    f"the upstream of {name} has more than {limit} vertices; "
                    "upstream sources past that were not compared"
                )
        return ModelDiff(
            a=DiffSide(side_a.root["id"], [p["id"] for p in side_a.producers]),
            b=DiffSide(side_b.root["id"], [p["id"] for p in side_b.producers]),
            inputs=compare(side_a.inputs, side_b.inputs),
            parameters=compare(
                _merged(side_a.producers, "parameters"), _merged(side_b.producers, "parameters")
            ),
            code=compare(_merged(side_a.producers, "code"), _merged(side_b.producers, "code")),
            upstream=compare(side_a.sources, side_b.sources),
            metrics=compare(side_a.metrics, side_b.metrics),
            truncated=side_a.truncated or side_b.truncated,
            notes=notes,
        )

    return read(store, query)


__all__ = ["DIFF_LIMIT", "Change", "ChangeKind", "DiffSide", "ModelDiff", "compare", "diff"]
