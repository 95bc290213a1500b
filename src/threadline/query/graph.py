"""Upstream trace and downstream impact: breadth-first, level by level, capped.

Each level is one indexed ``IN`` query on ``tl_edges`` (the ``(dst, src)`` index going
upstream, the ``(src, dst, relation)`` primary key going downstream), so the cost grows with the
answer, not with the store.  ``depth`` counts edges: an execution sits between the data it read
and the data it wrote, so one pipeline step is two edges.  Answers stop at ``limit`` vertices
and say so (``truncated``); ``limit=None`` walks everything reachable.

``as_of`` answers as the graph stood at that moment: edges created later, and vertices first
seen later, are left out, and the runs summarised on each execution are those started by then.

:func:`walk_nodes` is the same walk at node level and both ways at once (the Marquez lineage
graph, :func:`threadline.query.catalog.node_lineage`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.errors import UsageError
from threadline.model.times import iso, parse_moment
from threadline.query.causal import ENDED, Walk, causal_upstream
from threadline.query.reading import Ids, InList, printable, read
from threadline.query.resolve import resolve, split_row
from threadline.query.result import Edge, LineageGraph, Node
from threadline.store import schema as s
from threadline.store.admin import archived_records

if TYPE_CHECKING:
    from threadline.store.base import Store

#: Default cap on the vertices of one answer.
DEFAULT_LIMIT: Final = 1000
#: Run ids listed per execution (the most recent ones).
RUN_IDS_SHOWN: Final = 5

Direction = Literal["upstream", "downstream"]

# --- statements -------------------------------------------------------------------------------

_e, _v, _n, _r = s.edges, s.versions, s.nodes, s.runs
_AS_OF = sa.bindparam("as_of", type_=sa.BigInteger)


def _edge_query(upstream: bool, as_of: bool) -> InList:
    near, far = (_e.c.dst, _e.c.src) if upstream else (_e.c.src, _e.c.dst)

    def build(ids: Ids) -> sa.Select[Any]:
        stmt = sa.select(_e.c.src, _e.c.dst, _e.c.relation).where(ids.match(near))
        if as_of:
            # Neither an edge nor a vertex that appeared after the moment asked about.
            stmt = stmt.join(_v, _v.c.id == far).where(
                _e.c.created_us <= _AS_OF, _v.c.first_seen_us <= _AS_OF
            )
        return stmt

    return InList(build)


#: Downstream edges (the upstream walk is query.causal's), without and with ``as_of``.
_DOWNSTREAM: Final = {at: _edge_query(False, at) for at in (True, False)}


_DESCRIBE: Final = InList(
    lambda ids: (
        sa.select(
            _v.c.id,
            _v.c.version,
            _v.c.facets,
            _v.c.first_seen_us,
            _n.c.namespace,
            _n.c.name,
            _n.c.kind,
            _n.c.facets,
            _v.c.first_seq,
        )
        .join(_n, _n.c.id == _v.c.node_id)
        .where(ids.match(_v.c.id))
    )
)

_STARTED = sa.func.coalesce(_r.c.started_us, _r.c.state_time_us)
_ENDED = ENDED


def _run_stats(as_of: bool) -> InList:
    def build(ids: Ids) -> sa.Select[Any]:
        stmt = sa.select(
            _r.c.execution_id,
            _r.c.state,
            sa.func.count(),
            sa.func.min(_STARTED),
            sa.func.max(_ENDED),
        ).where(ids.match(_r.c.execution_id))
        if as_of:
            stmt = stmt.where(_STARTED <= _AS_OF)
        return stmt.group_by(_r.c.execution_id, _r.c.state)

    return InList(build)


def _recent_runs(as_of: bool) -> InList:
    def build(ids: Ids) -> sa.Select[Any]:
        rank = (
            sa.func.row_number()
            .over(
                partition_by=_r.c.execution_id,
                order_by=(_STARTED.desc(), _r.c.last_seq.desc()),
            )
            .label("rank")
        )
        inner = sa.select(_r.c.execution_id, _r.c.run_id, _r.c.facets, rank).where(
            ids.match(_r.c.execution_id)
        )
        if as_of:
            inner = inner.where(_STARTED <= _AS_OF)
        sub = inner.subquery()
        return (
            sa.select(sub.c.execution_id, sub.c.run_id, sub.c.facets)
            .where(sub.c.rank <= RUN_IDS_SHOWN)
            .order_by(sub.c.execution_id, sub.c.rank)
        )

    return InList(build)


_RUN_STATS: Final = {at: _run_stats(at) for at in (True, False)}
_RECENT_RUNS: Final = {at: _recent_runs(at) for at in (True, False)}


def _each_run(as_of: bool) -> InList:
    """Every run of the listed executions, one row each (for those a walk cut off in time)."""

    def build(ids: Ids) -> sa.Select[Any]:
        stmt = sa.select(
            _r.c.execution_id, _r.c.run_id, _r.c.state, _STARTED, _ENDED, _r.c.last_seq, _r.c.facets
        ).where(ids.match(_r.c.execution_id))
        return stmt.where(_STARTED <= _AS_OF) if as_of else stmt

    return InList(build)


_EACH_RUN: Final = {at: _each_run(at) for at in (True, False)}

_VS, _VD = sa.alias(_v, "vs"), sa.alias(_v, "vd")


def _node_edges(near: sa.ColumnElement[Any]) -> InList:
    """Node-level edges ``(from node, to node, relation)`` whose ``near`` end is listed."""
    return InList(
        lambda ids: (
            sa.select(_VS.c.node_id, _VD.c.node_id, _e.c.relation)
            .select_from(_e.join(_VS, _VS.c.id == _e.c.src).join(_VD, _VD.c.id == _e.c.dst))
            .where(ids.match(near))
            .distinct()
        )
    )


class _BothWays:
    """The node-level edges leaving or entering the listed nodes."""

    def __init__(self) -> None:
        self._sides = (_node_edges(_VS.c.node_id), _node_edges(_VD.c.node_id))

    def fetch(
        self, conn: Connection, ids: Sequence[int], extra: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        return [row for side in self._sides for row in side.fetch(conn, ids, extra)]


_NODE_EDGES: Final = _BothWays()


# --- the walk ---------------------------------------------------------------------------------


class _Step(Protocol):
    """One level of a walk: the edges ``(src, dst, relation)`` at the vertices of a frontier."""

    def fetch(
        self, conn: Connection, ids: Sequence[int], extra: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]: ...


def walk(
    conn: Connection,
    start: int,
    *,
    upstream: bool,
    depth: int | None = None,
    limit: int | None = DEFAULT_LIMIT,
    as_of_us: int | None = None,
) -> Walk:
    """Breadth-first from ``start``: one ``IN`` query per level (and per 512 vertices).

    Upstream, the walk is causal (:func:`~threadline.query.causal.causal_upstream`): past the start, a version's
    producers are only those that finished before the run that read it."""
    extra = {"as_of": as_of_us} if as_of_us is not None else None
    if upstream:
        return causal_upstream(conn, start, extra, depth=depth, limit=limit)
    query = _DOWNSTREAM[as_of_us is not None]
    return _breadth_first(conn, start, query, extra, upstream=False, depth=depth, limit=limit)


def walk_nodes(conn: Connection, start: int, *, depth: int | None = None) -> Walk:
    """Breadth-first from the node ``start`` both ways at once, at node level: every version of
    a node is one vertex, and an edge between any of their versions links two nodes.  No cap
    on the vertices; ``depth`` counts edges as in :func:`walk`.  Edges found from both ends
    come back twice."""
    return _breadth_first(conn, start, _NODE_EDGES, None, upstream=None, depth=depth, limit=None)


def _breadth_first(
    conn: Connection,
    start: int,
    step: _Step,
    extra: Mapping[str, Any] | None,
    *,
    upstream: bool | None,
    depth: int | None,
    limit: int | None,
) -> Walk:
    seen = {start}
    order = [start]
    edges: list[tuple[int, int, str]] = []
    truncated = False
    frontier = [start]
    level = 0
    while frontier and (depth is None or level < depth):
        level += 1
        found: list[int] = []
        # Sorted so that which vertices a cap keeps does not depend on the dialect's row order.
        for src, dst, relation in sorted(step.fetch(conn, frontier, extra)):
            # Both ways (upstream None): one end is on the frontier, the other is to visit.
            other = (
                (src if upstream else dst)
                if upstream is not None
                else (dst if src in seen else src)
            )
            if other not in seen:
                if limit is not None and len(order) >= limit:
                    truncated = True
                    continue
                seen.add(other)
                order.append(other)
                found.append(other)
            edges.append((src, dst, relation))
        frontier = found
    return Walk(order, edges, truncated)


# --- describing vertices ----------------------------------------------------------------------


def describe(
    conn: Connection,
    ids: Sequence[int],
    *,
    as_of_us: int | None = None,
    environment: bool = False,
    cutoffs: Mapping[int, int] | None = None,
) -> dict[int, Node]:
    """The JSON description of each vertex (:mod:`threadline.query.result`), by row id.

    ``environment`` adds ``python`` and ``packages`` to executions: a row trace shows them, a
    plain trace leaves them out to keep wide answers small.  ``cutoffs`` (a causal walk's,
    :attr:`Walk.cutoffs`) leaves out the runs of those executions that ended after their moment.
    """
    out: dict[int, Node] = {}
    executions: list[int] = []
    archived = archived_records(conn)
    for row in _DESCRIBE.fetch(conn, ids):
        vid, version, facets, first, namespace, name, kind, node_facets, first_seq = row
        node: Node = {
            "id": printable(kind, namespace, name, version),
            "kind": kind,
            "namespace": namespace,
            "name": name,
            "version": version,
            "first_seen": iso(first),
        }
        if facets != "{}" or node_facets != "{}":
            node.update(summarize_facets({**orjson.loads(node_facets), **orjson.loads(facets)}))
        if kind == "job":
            node["job"] = printable(kind, namespace, name)[len("job:") :]
            executions.append(vid)
        if archived and first_seq in archived:
            # The record that made this version is read from this file now (cold storage).
            node["archived"] = archived[first_seq]
        out[vid] = node
    if executions:
        _add_runs(conn, out, executions, as_of_us, environment, cutoffs or {})
    return out


def _add_runs(
    conn: Connection,
    out: dict[int, Node],
    executions: list[int],
    as_of_us: int | None,
    environment: bool,
    cutoffs: Mapping[int, int],
) -> None:
    at = as_of_us is not None
    extra = {"as_of": as_of_us} if at else None
    if cutoffs:
        _add_runs_before(conn, out, cutoffs, extra, environment)
        executions = [e for e in executions if e not in cutoffs]
    stats: dict[int, dict[str, Any]] = {}
    for execution, state, count, first, last in _RUN_STATS[at].fetch(conn, executions, extra):
        entry = stats.setdefault(
            execution, {"count": 0, "first_seen": first, "last_seen": last, "states": []}
        )
        entry["count"] += count
        entry["first_seen"] = min(entry["first_seen"], first)
        entry["last_seen"] = max(entry["last_seen"], last)
        entry["states"].append(state)
    recent: dict[int, list[tuple[str, str]]] = {}
    for execution, run_id, facets in _RECENT_RUNS[at].fetch(conn, executions, extra):
        recent.setdefault(execution, []).append((run_id, facets))
    for execution, entry in stats.items():
        node = out[execution]
        runs = recent.get(execution, [])
        node["runs"] = {
            "count": entry["count"],
            "first_seen": iso(entry["first_seen"]),
            "last_seen": iso(entry["last_seen"]),
            "states": sorted(entry["states"]),
            "ids": [run_id for run_id, _ in runs],
        }
        if runs:
            node.update(summarize_run(orjson.loads(runs[0][1]), environment=environment))


def _add_runs_before(
    conn: Connection,
    out: dict[int, Node],
    cutoffs: Mapping[int, int],
    extra: Mapping[str, Any] | None,
    environment: bool,
) -> None:
    """The runs summary of executions cut off in time: only their runs that ended by then."""
    runs: dict[int, list[tuple[Any, ...]]] = {}
    ids = [execution for execution in cutoffs if execution in out]
    for row in _EACH_RUN[extra is not None].fetch(conn, ids, extra):
        if row[4] <= cutoffs[row[0]]:
            runs.setdefault(row[0], []).append(row)
    for execution, rows in runs.items():
        # Newest first, as the batched summary orders them.
        rows.sort(key=lambda r: (r[3], r[5]), reverse=True)
        out[execution]["runs"] = {
            "count": len(rows),
            "first_seen": iso(min(r[3] for r in rows)),
            "last_seen": iso(max(r[4] for r in rows)),
            "states": sorted({r[2] for r in rows}),
            "ids": [r[1] for r in rows[:RUN_IDS_SHOWN]],
        }
        out[execution].update(summarize_run(orjson.loads(rows[0][6]), environment=environment))


def summarize_facets(facets: dict[str, Any]) -> dict[str, Any]:
    """The few facets every answer shows: owners, labels, metrics, stage, columns, deployment."""
    extra: dict[str, Any] = {}
    owners = _get(facets, "ownership", "owners")
    if isinstance(owners, list) and owners:
        extra["owners"] = [o.get("name") for o in owners if isinstance(o, dict)]
    labels = facets.get("threadline_classification")
    if isinstance(labels, dict):
        merged = sorted({*labels.get("labels", []), *labels.get("inherited", [])})
        if merged:
            extra["labels"] = merged
    metrics = _get(facets, "threadline_quality", "metrics")
    if isinstance(metrics, dict) and metrics:
        extra["metrics"] = metrics
    stage = _get(facets, "threadline_stage", "stage")
    if stage:
        extra["stage"] = stage
    fields = _get(facets, "schema", "fields")
    if isinstance(fields, list) and fields:
        extra["columns"] = [f.get("name") for f in fields if isinstance(f, dict)]
    deployment = facets.get("threadline_deployment")
    if isinstance(deployment, dict):
        extra["deployment"] = {k: v for k, v in deployment.items() if not k.startswith("_")}
    erased = _get(facets, "threadline_erased", "rule")
    if erased:
        extra["erased"] = erased  # the lifecycle rule that erased what this version held
    return extra


def summarize_run(facets: dict[str, Any], *, environment: bool = False) -> dict[str, Any]:
    """Who ran it, where, with which code and parameters, and why (from a run's facets);
    ``environment`` adds the Python version and the package versions."""
    out: dict[str, Any] = {}
    context = facets.get("threadline_context")
    if isinstance(context, dict):
        for key in ("user", "host"):
            if context.get(key):
                out[key] = context[key]
        code = code_version(context)
        if code:
            out["code"] = code
        if environment:
            if context.get("python"):
                out["python"] = context["python"]
            if isinstance(context.get("packages"), dict) and context["packages"]:
                out["packages"] = context["packages"]
    parameters = _get(facets, "threadline_parameters", "parameters")
    if isinstance(parameters, dict) and parameters:
        out["parameters"] = parameters
    reason = _get(facets, "threadline_reason", "reason")
    if reason:
        out["reason"] = reason
    return out


def code_version(context: dict[str, Any]) -> dict[str, Any]:
    """Git commit, dirty flag, branch, diff digest and entry-script digest of a run context."""
    code: dict[str, Any] = {}
    git = context.get("git")
    if isinstance(git, dict):
        for key, name in (
            ("commit", "commit"),
            ("dirty", "dirty"),
            ("branch", "branch"),
            ("diffDigest", "diff"),
        ):
            if git.get(key) is not None:
                code[name] = git[key]
    script = context.get("script")
    if isinstance(script, dict) and script.get("digest"):
        code["script"] = script["digest"]
    return code


def _get(facets: dict[str, Any], facet: str, key: str) -> Any:
    body = facets.get(facet)
    return body.get(key) if isinstance(body, dict) else None


# --- the questions ----------------------------------------------------------------------------


def check_bounds(depth: int | None, limit: int | None) -> None:
    """Refuse a negative ``depth`` or a ``limit`` below 1 before touching the store."""
    if depth is not None and depth < 0:
        raise UsageError(f"depth must be 0 or more, not {depth}")
    if limit is not None and limit < 1:
        raise UsageError(f"limit must be 1 or more (or None for no cap), not {limit}")


def lineage(
    store: Store,
    ref: str,
    *,
    direction: Direction,
    depth: int | None = None,
    as_of: dt.datetime | str | None = None,
    limit: int | None = DEFAULT_LIMIT,
) -> LineageGraph:
    """:func:`trace` (``"upstream"``) or :func:`impact` (``"downstream"``)."""
    check_bounds(depth, limit)
    as_of_us = parse_moment(as_of)
    upstream = direction == "upstream"

    def query(conn: Connection) -> LineageGraph:
        start = resolve(conn, ref, as_of_us=as_of_us)
        reached = walk(
            conn, start.id, upstream=upstream, depth=depth, limit=limit, as_of_us=as_of_us
        )
        described = describe(conn, reached.order, as_of_us=as_of_us, cutoffs=reached.cutoffs)
        return assemble(start.id, reached, described)

    return read(store, query)


def assemble(start: int, reached: Walk, described: dict[int, Node]) -> LineageGraph:
    """The answer of a walk from ``start`` once its vertices are described."""
    ids = {vid: node["id"] for vid, node in described.items()}
    edges: list[Edge] = [
        {"from": ids[src], "to": ids[dst], "relation": relation}
        for src, dst, relation in reached.edges
    ]
    return LineageGraph(
        root=ids[start],
        nodes=[described[vid] for vid in reached.order],
        edges=edges,
        truncated=reached.truncated,
    )


def impact(
    store: Store,
    ref: str,
    *,
    depth: int | None = None,
    as_of: dt.datetime | str | None = None,
    limit: int | None = DEFAULT_LIMIT,
) -> LineageGraph:
    """Everything downstream of ``ref``: feature sets, models, evaluations, deployments and
    prediction batches that depend on it.  Arguments as for :func:`trace`."""
    base, row = split_row(ref)
    if row is not None:
        raise UsageError(
            f"{ref!r}: a row can only be traced upstream (threadline trace {ref}); "
            f"threadline impact {base} gives what depends on the whole dataset"
        )
    return lineage(store, ref, direction="downstream", depth=depth, as_of=as_of, limit=limit)


__all__ = [
    "DEFAULT_LIMIT",
    "Direction",
    "Walk",
    "assemble",
    "check_bounds",
    "code_version",
    "describe",
    "impact",
    "lineage",
    "summarize_facets",
    "summarize_run",
    "walk",
    "walk_nodes",
]
