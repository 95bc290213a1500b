"""Column lineage: which columns a column was computed from, read from the OpenLineage
``columnLineage`` dataset facet (:func:`column_lineage`, :func:`field_inputs`).

The graph starts at a dataset (all its columns), one column, or a job (the columns of what it
wrote), walks upstream ``depth`` hops through the columns each one names as its inputs and,
when asked, downstream through the columns that name it.  Each dataset is described by its
newest facets, as the catalog describes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.errors import NotFound
from threadline.query.catalog.reads import datasets_of, find_node, jobs_of, nodes_by_id
from threadline.query.catalog.rows import ColumnLineage, Dataset, FieldInput, FieldNode, FieldRef
from threadline.query.reading import read
from threadline.store import schema as s

if TYPE_CHECKING:
    from threadline.store.base import Store

_v = s.versions


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def field_inputs(facets: dict[str, Any]) -> dict[str, list[FieldInput]]:
    """Each column's input columns, from a dataset's ``columnLineage`` facet (by column name,
    sorted).  A transformation described once for the column applies to each input; otherwise
    an input's first ``transformations`` entry describes it."""
    facet = facets.get("columnLineage")
    fields = facet.get("fields") if isinstance(facet, dict) else None
    if not isinstance(fields, dict):
        return {}
    out: dict[str, list[FieldInput]] = {}
    for name, spec in sorted(fields.items()):
        if not isinstance(spec, dict):
            continue
        inputs = []
        for field in spec.get("inputFields") or []:
            if not isinstance(field, dict):
                continue
            steps = field.get("transformations")
            first = steps[0] if isinstance(steps, list) and steps else {}
            first = first if isinstance(first, dict) else {}
            ref = FieldRef(
                str(field.get("namespace")), str(field.get("name")), str(field.get("field"))
            )
            description = _text(spec.get("transformationDescription")) or _text(
                first.get("description")
            )
            kind = _text(spec.get("transformationType")) or _text(first.get("type"))
            inputs.append(FieldInput(ref, None, description, kind))
        out[name] = inputs
    return out


def field_types(facets: dict[str, Any]) -> dict[str, str | None]:
    """Column name → type, from the ``schema`` facet."""
    facet = facets.get("schema")
    fields = facet.get("fields") if isinstance(facet, dict) else None
    return {
        str(f["name"]): _text(f.get("type"))
        for f in fields or []
        if isinstance(f, dict) and isinstance(f.get("name"), str)
    }


class _Datasets:
    """Datasets by (namespace, name), read once each."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.known: dict[tuple[str, str], Dataset | None] = {}

    def get(self, namespace: str, name: str) -> Dataset | None:
        key = (namespace, name)
        if key not in self.known:
            node = find_node(self.conn, "dataset", namespace, name)
            self.known[key] = datasets_of(self.conn, [node])[0] if node is not None else None
        return self.known[key]

    def add(self, datasets: Iterable[Dataset]) -> None:
        for dataset in datasets:
            self.known[(dataset.node.namespace, dataset.node.name)] = dataset

    def node(self, ref: FieldRef) -> FieldNode:
        dataset = self.get(ref.namespace, ref.dataset)
        if dataset is None:
            return FieldNode(ref, None, None, [])
        facets = dataset.facets
        inputs = [
            FieldInput(i.ref, self.version(i.ref), i.description, i.type)
            for i in field_inputs(facets).get(ref.field, [])
        ]
        return FieldNode(ref, self.version(ref), field_types(facets).get(ref.field), inputs)

    def version(self, ref: FieldRef) -> str | None:
        dataset = self.get(ref.namespace, ref.dataset)
        return dataset.current.version if dataset is not None and dataset.current else None


def column_names(dataset: Dataset) -> list[str]:
    """A dataset's columns, sorted: those of its schema and those its column lineage names."""
    facets = dataset.facets
    return sorted({*field_types(facets), *field_inputs(facets)})


def _columns(dataset: Dataset) -> list[FieldRef]:
    return [FieldRef(dataset.node.namespace, dataset.node.name, n) for n in column_names(dataset)]


class _Consumers:
    """The columns computed from a dataset's columns, found per dataset when the walk reaches
    it: SQL narrows to the versions whose facet text names the dataset in column lineage (a
    ``LIKE`` over the stored JSON), and the decoded facets of those datasets' newest versions
    decide."""

    def __init__(self, conn: Connection, datasets: _Datasets) -> None:
        self.conn = conn
        self.datasets = datasets
        self.known: dict[tuple[str, str], dict[FieldRef, list[FieldRef]]] = {}

    def of(self, ref: FieldRef) -> list[FieldRef]:
        key = (ref.namespace, ref.dataset)
        if key not in self.known:
            self.known[key] = self._find(*key)
        return self.known[key].get(ref, [])

    def _find(self, namespace: str, name: str) -> dict[FieldRef, list[FieldRef]]:
        mention = _like_literal(orjson.dumps(name).decode())
        ids = [
            int(i)
            for (i,) in self.conn.execute(
                sa.select(_v.c.node_id)
                .where(
                    _v.c.facets.like('%"columnLineage"%'),
                    _v.c.facets.like(f'%"name":{mention}%', escape="\\"),
                )
                .distinct()
            )
        ]
        found = datasets_of(self.conn, list(nodes_by_id(self.conn, ids).values()))
        self.datasets.add(found)
        out: dict[FieldRef, list[FieldRef]] = {}
        for dataset in found:
            for column, inputs in field_inputs(dataset.facets).items():
                computed = FieldRef(dataset.node.namespace, dataset.node.name, column)
                for item in inputs:
                    if (item.ref.namespace, item.ref.dataset) == (namespace, name):
                        out.setdefault(item.ref, []).append(computed)
        return out


def _like_literal(text: str) -> str:
    """``text`` matched literally by ``LIKE … ESCAPE '\\'``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _starts(
    conn: Connection,
    datasets: _Datasets,
    type_: str,
    names: Iterable[tuple[str, str]],
    field: str | None,
) -> list[FieldRef] | None:
    for namespace, name in names:
        node = find_node(conn, "job" if type_ == "job" else "dataset", namespace, name)
        if node is None:
            continue
        if type_ == "job":
            job = jobs_of(conn, [node])[0]
            outputs = [datasets.get(ref.namespace, ref.name) for ref in job.outputs]
            return [ref for d in outputs if d is not None for ref in _columns(d)]
        dataset = datasets.get(namespace, name)
        assert dataset is not None  # the node was just found
        columns = _columns(dataset)
        if field is None:
            return columns
        wanted = FieldRef(namespace, name, field)
        if wanted not in columns:
            raise NotFound(f"no field {field!r} in dataset {name!r} of namespace {namespace!r}")
        return [wanted]
    return None


def _walk(
    starts: list[FieldRef],
    depth: int,
    reached: dict[FieldRef, FieldNode],
    step: Callable[[FieldRef], list[FieldRef]],
    datasets: _Datasets,
) -> None:
    """Breadth first from ``starts`` for ``depth`` hops of ``step``, adding to ``reached``."""
    frontier = list(dict.fromkeys(starts))
    walked: set[FieldRef] = set()
    for hop in range(depth + 1):
        following: list[FieldRef] = []
        for ref in frontier:
            if ref in walked:
                continue
            walked.add(ref)
            if ref not in reached:
                reached[ref] = datasets.node(ref)
            if hop < depth:
                following += step(ref)
        frontier = [ref for ref in following if ref not in walked]
        if not frontier:
            return


def column_lineage(
    store: Store,
    type_: str,
    names: Iterable[tuple[str, str]],
    *,
    field: str | None = None,
    depth: int = 20,
    with_downstream: bool = False,
) -> ColumnLineage | None:
    """The column-lineage graph around a ``dataset`` (with ``field``: one of its columns) or a
    ``job``, the first of ``names`` (``(namespace, name)`` pairs) that is recorded; ``None``
    when none is.  See the module docs."""

    def query(conn: Connection) -> ColumnLineage | None:
        datasets = _Datasets(conn)
        starts = _starts(conn, datasets, type_, list(names), field)
        if starts is None:
            return None
        reached: dict[FieldRef, FieldNode] = {}
        _walk(starts, depth, reached, lambda ref: [i.ref for i in reached[ref].inputs], datasets)
        if with_downstream:
            _walk(starts, depth, reached, _Consumers(conn, datasets).of, datasets)
        edges = sorted(
            {
                (i.ref, node.ref)
                for node in reached.values()
                for i in node.inputs
                if i.ref in reached
            }
        )
        return ColumnLineage(sorted(reached.values(), key=lambda n: n.ref), edges)

    return read(store, query)


__all__ = ["column_lineage", "column_names", "field_inputs", "field_types"]
