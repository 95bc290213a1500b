"""Row-level trace: where one data row of a dataset came from.

When capture writes a dataset version from row-aligned data it records ``threadline_rows``
(:func:`threadline.capture.facets.rows_facet`)::

    {"input": "<printable id>", "mapping": "positional", "rows": 120,
     "model": "<printable id>", "columns": ["prediction"]}

meaning data row *k* of this version is data row *k* of ``input``.  :func:`trace_row` runs the
usual upstream trace, then follows ``input`` hop by hop, one indexed lookup per hop: from row
17 of ``predictions.csv`` to row 17 of the predictions, of the scored features, and of the file
the features were read from.  **Rows count from 0 and a header line is not a row.**

The answer (:class:`RowTrace`) is the trace's :class:`~threadline.query.result.LineageGraph`,
whose executions also carry ``python`` and ``packages``, plus a ``row`` section::

    "row": {
      "dataset": "predictions:file://h/out/preds.csv@b3:…", "row": 17, "rows": 120,
      "columns": ["prediction"], "values": {"prediction": 1},
      "input": {"dataset": "dataset:file://h/in/batch.csv@b3:…", "row": 17, "rows": 120,
                "values": {"a": 0.12, "b": -1.3}},
      "chain": [{"dataset": "predictions:file://h/out/preds.csv@b3:…", "row": 17, …}, …],
      "model": "model:file://h/models/clf.joblib@b3:…",
      "deployment": {"id": "deployment:…", "endpoint": "churn", "environment": "production",
                     "valid_from": "…", "link": "model"},
      "features": ["features:threadline://default/score.py/features@b3:…"],
      "training_data": ["features:…", "dataset:file://h/in/raw.csv@b3:…"],
      "raw_files": ["dataset:file://h/in/batch.csv@b3:…", "dataset:file://h/in/raw.csv@b3:…"]
    }

* ``chain`` lists every dataset on the row's path, the one asked about first and ``input`` last.
* ``model`` is the model the row mapping names, else the nearest model upstream.
* ``deployment.link`` is ``"read"`` when the scoring run read the deployment, ``"model"`` when
  it is the newest deployment of that model version recorded before the rows were written.
* ``features`` are the feature sets on the row's path; ``training_data`` the data upstream of
  the model; ``raw_files`` the data nothing recorded wrote (with ``depth`` or a cut answer,
  the earliest data the answer reached).
* ``values`` appear when the file is on this host, still holds the recorded version (its
  fingerprint is checked), is at most :data:`~threadline.rowfiles.VALUE_FILE_BYTES` and is CSV, TSV or Parquet;
  otherwise ``values_unavailable`` says why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.errors import InvalidIdentifier, NotFound, UsageError
from threadline.model.ids import NodeId
from threadline.model.times import parse_moment
from threadline.query.graph import DEFAULT_LIMIT, assemble, check_bounds, describe, walk
from threadline.query.reading import outputs_of_readers, read
from threadline.query.resolve import Vertex, resolve, split_row
from threadline.query.result import LineageGraph, Node
from threadline.rowfiles import read_row
from threadline.store import schema as s

if TYPE_CHECKING:
    from threadline.store.base import Store

#: Row hops followed at most; a longer chain is cut (a loop in recorded facets cannot hang).
MAX_HOPS: Final = 64

_v, _n, _e = s.versions, s.nodes, s.edges

# --- the answer -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowRef:
    """One data row of one dataset version."""

    dataset: str
    """Printable id of the dataset version, e.g. ``dataset:file://h/raw.csv@b3:5f1c…``."""
    row: int
    """Data row, counted from 0 (a header line is not a row)."""
    rows: int | None = None
    """Data rows the version holds, when recorded."""
    values: Mapping[str, Any] | None = None
    """The row as read from the file, column → value (numbers parsed, the rest as text)."""
    values_unavailable: str | None = None
    """Why ``values`` is missing, e.g. ``"the file changed since it was recorded"``."""

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"dataset": self.dataset, "row": self.row}
        if self.rows is not None:
            body["rows"] = self.rows
        if self.values is not None:
            body["values"] = dict(self.values)
        elif self.values_unavailable:
            body["values_unavailable"] = self.values_unavailable
        return body

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> RowRef:
        return cls(
            dataset=str(body["dataset"]),
            row=int(body["row"]),
            rows=body.get("rows"),
            values=body.get("values"),
            values_unavailable=body.get("values_unavailable"),
        )


@dataclass(frozen=True, slots=True)
class RowLineage:
    """The ``row`` section of a :class:`RowTrace` (see the module docstring)."""

    at: RowRef
    """The row asked about."""
    input: RowRef
    """The earliest row it maps to: the scored input row."""
    chain: Sequence[RowRef]
    """Every row on the way, ``at`` first and ``input`` last."""
    columns: Sequence[str] = ()
    """Columns of ``at`` that hold predictions, when recorded."""
    model: str | None = None
    deployment: Mapping[str, Any] | None = None
    features: Sequence[str] = ()
    training_data: Sequence[str] = ()
    raw_files: Sequence[str] = ()

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"dataset": self.at.dataset, "row": self.at.row}
        if self.at.rows is not None:
            body["rows"] = self.at.rows
        if self.columns:
            body["columns"] = list(self.columns)
        body.update(self.at.to_dict())
        body.update(
            {
                "input": self.input.to_dict(),
                "chain": [ref.to_dict() for ref in self.chain],
                "model": self.model,
                "deployment": dict(self.deployment) if self.deployment is not None else None,
                "features": list(self.features),
                "training_data": list(self.training_data),
                "raw_files": list(self.raw_files),
            }
        )
        return body

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> RowLineage:
        return cls(
            at=RowRef.from_dict(body),
            input=RowRef.from_dict(body["input"]),
            chain=tuple(RowRef.from_dict(ref) for ref in body["chain"]),
            columns=tuple(body.get("columns", ())),
            model=body.get("model"),
            deployment=body.get("deployment"),
            features=tuple(body.get("features", ())),
            training_data=tuple(body.get("training_data", ())),
            raw_files=tuple(body.get("raw_files", ())),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class RowTrace(LineageGraph):
    """A trace of one data row: the upstream graph plus what produced that row."""

    row: RowLineage

    def to_dict(self) -> dict[str, Any]:
        # Not super(): slotted dataclasses are rebuilt, which breaks the zero-argument form.
        return {**LineageGraph.to_dict(self), "row": self.row.to_dict()}

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> RowTrace:
        graph = LineageGraph.from_dict(body)
        return cls(
            root=graph.root,
            nodes=graph.nodes,
            edges=graph.edges,
            truncated=graph.truncated,
            row=RowLineage.from_dict(body["row"]),
        )


# --- lookups ----------------------------------------------------------------------------------

_FACETS_OF: Final = (
    sa.select(_v.c.facets, _n.c.facets)
    .join(_n, _n.c.id == _v.c.node_id)
    .where(_v.c.id == sa.bindparam("vid"))
)
_VERSION_OF: Final = (
    sa.select(_v.c.id, _v.c.facets, _n.c.facets)
    .join(_n, _n.c.id == _v.c.node_id)
    .where(
        _n.c.type == "dataset",
        _n.c.namespace == sa.bindparam("namespace"),
        _n.c.name == sa.bindparam("name"),
        _v.c.version == sa.bindparam("version"),
    )
)
#: Deployments written by an execution that read the model, newest first.
_DEPLOYMENTS_OF: Final = (
    outputs_of_readers(sa.bindparam("model"), "deployment")
    .where(_v.c.first_seen_us <= sa.bindparam("before"))
    .order_by(_v.c.first_seen_us.desc(), _v.c.id.desc())
    .limit(1)
)


def _merged(version_facets: str, node_facets: str) -> dict[str, Any]:
    merged: dict[str, Any] = {**orjson.loads(node_facets), **orjson.loads(version_facets)}
    return merged


def _rows_link(facets: Mapping[str, Any]) -> dict[str, Any] | None:
    link = facets.get("threadline_rows")
    if not isinstance(link, dict) or link.get("mapping") != "positional":
        return None
    return link if isinstance(link.get("input"), str) else None


def _find_version(conn: Connection, node: NodeId) -> tuple[int, dict[str, Any]] | None:
    if node.kind == "job" or node.version is None:
        return None
    found = conn.execute(
        _VERSION_OF, {"namespace": node.namespace, "name": node.name, "version": node.version}
    ).first()
    return (int(found[0]), _merged(found[1], found[2])) if found is not None else None


def _parse(text: object) -> NodeId | None:
    if not isinstance(text, str):
        return None
    try:
        return NodeId.parse(text)
    except InvalidIdentifier:
        return None


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# --- the question -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Hop:
    vid: int | None
    """Row id of the version, or None when the facet names a version the store lacks."""
    shown: str
    rows: int | None


def trace_row(
    store: Store,
    ref: str,
    row: int | None = None,
    *,
    depth: int | None = None,
    as_of: dt.datetime | str | None = None,
    limit: int | None = DEFAULT_LIMIT,
    values: bool = True,
) -> RowTrace:
    """The lineage of data row ``row`` of ``ref`` (see the module docstring).

    ``ref`` is what :func:`~threadline.query.graph.trace` takes and may end in ``#row=N``
    instead of passing ``row``.  ``values=False`` never opens data files (the HTTP API).
    Raises :class:`NotFound` when the row is past the recorded row count or the dataset has no
    row mapping, :class:`UsageError` for a malformed or negative row.
    """
    base, wanted = split_row(ref, row)
    if wanted is None:
        raise UsageError(f"which row of {ref!r}? pass row=N or write {ref}#row=N (from 0)")
    check_bounds(depth, limit)
    as_of_us = parse_moment(as_of)

    def query(conn: Connection) -> RowTrace:
        start = resolve(conn, base, as_of_us=as_of_us)
        facets = _merged(*conn.execute(_FACETS_OF, {"vid": start.id}).one())
        link = _checked_link(start, facets, wanted, base)
        reached = walk(conn, start.id, upstream=True, depth=depth, limit=limit, as_of_us=as_of_us)
        described = describe(
            conn, reached.order, as_of_us=as_of_us, environment=True, cutoffs=reached.cutoffs
        )
        hops, model_text = _follow(conn, start, link)
        model_vid = _vertex_of(conn, model_text, described)
        if model_vid is None:
            model_vid = next((v for v in reached.order if described[v]["kind"] == "model"), None)
        deployment_vid, how = _deployment(conn, reached.order, described, model_vid, start)
        extra = [v for v in (*(h.vid for h in hops), model_vid, deployment_vid) if v is not None]
        missing = [v for v in dict.fromkeys(extra) if v not in described]
        if missing:
            described.update(describe(conn, missing, as_of_us=as_of_us, environment=True))
        graph = assemble(start.id, reached, described)
        section = _section(
            wanted,
            hops,
            described,
            link,
            model=described[model_vid]["id"] if model_vid is not None else None,
            deployment=_deployment_entry(described, deployment_vid, how),
            training=_upstream_data(model_vid, reached.edges, reached.order, described),
            raw=_sources(start.id, reached.edges, reached.order, described),
            values=values,
        )
        return RowTrace(
            root=graph.root,
            nodes=graph.nodes,
            edges=graph.edges,
            truncated=graph.truncated,
            row=section,
        )

    return read(store, query)


def _checked_link(start: Vertex, facets: Mapping[str, Any], row: int, base: str) -> dict[str, Any]:
    link = _rows_link(facets)
    if link is None:
        raise NotFound(
            f"{start} has no row mapping (it was not written row for row from recorded data), "
            f"so its rows cannot be traced one by one; threadline trace {base} gives the "
            "lineage of the whole version"
        )
    rows = _count(link.get("rows"))
    if rows is not None and row >= rows:
        last = f"0 to {rows - 1}" if rows else "none"
        raise NotFound(
            f"row {row} is past the end of {start}: it has {rows} data rows "
            f"(rows {last}; counted from 0, the header is not a row)"
        )
    return link


def _follow(conn: Connection, start: Vertex, link: dict[str, Any]) -> tuple[list[_Hop], Any]:
    """The datasets row *k* passes through, ``start`` first, and the model the mapping names."""
    hops = [_Hop(start.id, str(start), _count(link.get("rows")))]
    seen = {start.id}
    model: Any = link.get("model")
    current: dict[str, Any] | None = link
    while current is not None and len(hops) <= MAX_HOPS:
        target = _parse(current.get("input"))
        if target is None:
            break
        found = _find_version(conn, target)
        if found is None:
            hops.append(_Hop(None, str(target), None))
            break
        vid, facets = found
        if vid in seen:
            break
        seen.add(vid)
        current = _rows_link(facets)
        hops.append(_Hop(vid, str(target), _count(current.get("rows")) if current else None))
        if model is None and current is not None:
            model = current.get("model")
    return hops, model


def _vertex_of(conn: Connection, text: object, described: Mapping[int, Node]) -> int | None:
    node = _parse(text)
    if node is None:
        return None
    shown = str(node)
    # The trace has usually reached it already: no lookup then.
    for vid, entry in described.items():
        if entry["id"] == shown:
            return vid
    found = _find_version(conn, node)
    return found[0] if found is not None else None


def _deployment(
    conn: Connection,
    order: Sequence[int],
    described: Mapping[int, Node],
    model: int | None,
    start: Vertex,
) -> tuple[int | None, str]:
    read_by_run = next((v for v in order if described[v]["kind"] == "deployment"), None)
    if read_by_run is not None:
        return read_by_run, "read"
    if model is None:
        return None, ""
    found = conn.execute(
        _DEPLOYMENTS_OF, {"model": model, "before": start.first_seen_us}
    ).scalar_one_or_none()
    return (int(found), "model") if found is not None else (None, "")


def _deployment_entry(
    described: Mapping[int, Node], vid: int | None, how: str
) -> dict[str, Any] | None:
    if vid is None:
        return None
    node = described[vid]
    entry: dict[str, Any] = {"id": node["id"]}
    facet = node.get("deployment") or {}
    for key, name in (
        ("endpoint", "endpoint"),
        ("environment", "environment"),
        ("validFrom", "valid_from"),
        ("validTo", "valid_to"),
    ):
        if facet.get(key) is not None:
            entry[name] = facet[key]
    entry["link"] = how
    return entry


def _upstream_data(
    start: int | None,
    edges: Iterable[tuple[int, int, str]],
    order: Sequence[int],
    described: Mapping[int, Node],
) -> list[str]:
    """Data versions upstream of ``start`` within the answer, in the order the walk found them."""
    if start is None:
        return []
    incoming: dict[int, list[int]] = {}
    for src, dst, _ in edges:
        incoming.setdefault(dst, []).append(src)
    reached: set[int] = set()
    todo = [start]
    while todo:
        for src in incoming.get(todo.pop(), ()):
            if src not in reached:
                reached.add(src)
                todo.append(src)
    return [
        described[v]["id"]
        for v in order
        if v in reached and described[v]["kind"] not in ("job", "model")
    ]


def _sources(
    start: int,
    edges: Iterable[tuple[int, int, str]],
    order: Sequence[int],
    described: Mapping[int, Node],
) -> list[str]:
    written = {dst for _, dst, _ in edges}
    return [
        described[v]["id"]
        for v in order
        if v != start and v not in written and described[v]["kind"] != "job"
    ]


def _section(
    row: int,
    hops: Sequence[_Hop],
    described: Mapping[int, Node],
    link: Mapping[str, Any],
    *,
    model: str | None,
    deployment: dict[str, Any] | None,
    training: Sequence[str],
    raw: Sequence[str],
    values: bool,
) -> RowLineage:
    chain: list[RowRef] = []
    for index, hop in enumerate(hops):
        node = described.get(hop.vid) if hop.vid is not None else None
        shown = node["id"] if node is not None else hop.shown
        # The first and last rows are the ones people look at; the hops between are in memory.
        ends = index in (0, len(hops) - 1)
        if node is None:
            found, why = None, "this version is not in the store"
        elif not values:
            found, why = None, "row values are not read by this query"
        elif ends:
            found, why = read_row(node["namespace"], node["name"], node["version"], row)
        else:
            found, why = None, ""
        chain.append(RowRef(shown, row, hop.rows, found, why or None))
    columns = link.get("columns")
    return RowLineage(
        at=chain[0],
        input=chain[-1],
        chain=tuple(chain),
        columns=tuple(str(c) for c in columns) if isinstance(columns, list) else (),
        model=model,
        deployment=deployment,
        features=tuple(ref.dataset for ref in chain if ref.dataset.startswith("features:")),
        training_data=tuple(training),
        raw_files=tuple(raw),
    )


# --- row values -------------------------------------------------------------------------------


__all__ = [
    "MAX_HOPS",
    "RowLineage",
    "RowRef",
    "RowTrace",
    "trace_row",
]
