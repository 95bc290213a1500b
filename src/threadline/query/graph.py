"""Upstream trace and downstream impact: breadth-first, level by level, capped.

Each level is one indexed ``IN`` query on ``tl_edges`` (``(dst, src)`` for upstream, the
primary key for downstream), so cost grows with the answer, not with the store.  Answers are
capped at ``limit`` vertices (``truncated`` says so) so no question turns into an unbounded
walk by default; ``depth`` counts edges, and an execution sits between data versions, so one
pipeline step is two edges.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, Final

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.query.resolve import resolve, to_micros
from threadline.query.result import LineageGraph
from threadline.store import schema as s
from threadline.store.sql import SqlStore

DEFAULT_LIMIT: Final = 1000
_CHUNK: Final = 500


def walk(
    conn: Connection,
    start: int,
    *,
    upstream: bool,
    depth: int | None,
    limit: int | None,
    as_of_us: int | None,
) -> tuple[list[int], list[tuple[int, int, str]], bool]:
    """Vertex ids reached from ``start`` (in discovery order), the edges among them, and
    whether the cap cut the answer short."""
    e = s.edges
    near, far = (e.c.dst, e.c.src) if upstream else (e.c.src, e.c.dst)
    order = [start]
    seen = {start}
    edges: list[tuple[int, int, str]] = []
    truncated = False
    frontier = [start]
    level = 0
    while frontier and (depth is None or level < depth):
        level += 1
        found: list[int] = []
        for index in range(0, len(frontier), _CHUNK):
            stmt = sa.select(e.c.src, e.c.dst, e.c.relation).where(
                near.in_(frontier[index : index + _CHUNK])
            )
            if as_of_us is not None:
                stmt = stmt.where(e.c.created_us <= as_of_us)
            for src, dst, relation in conn.execute(stmt):
                other = src if upstream else dst
                if other not in seen:
                    if limit is not None and len(seen) >= limit:
                        truncated = True
                        continue
                    seen.add(other)
                    order.append(other)
                    found.append(other)
                edges.append((src, dst, relation))
        frontier = found
    del far
    return order, edges, truncated


def describe(conn: Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    """The JSON description of each vertex, executions with their runs summarised."""
    v, n, r = s.versions, s.nodes, s.runs
    out: dict[int, dict[str, Any]] = {}
    columns = (
        v.c.id,
        v.c.version,
        v.c.facets,
        v.c.first_seen_us,
        v.c.last_seen_us,
        n.c.namespace,
        n.c.name,
        n.c.kind,
        n.c.facets,
    )
    for index in range(0, len(ids), _CHUNK):
        chunk = ids[index : index + _CHUNK]
        stmt = sa.select(*columns).join(n, n.c.id == v.c.node_id).where(v.c.id.in_(chunk))
        # Positional tuples: this loop runs once per node of every answer.
        for (
            vid,
            version,
            facets_text,
            first,
            last,
            namespace,
            name,
            kind,
            node_facets,
        ) in conn.execute(stmt):
            joiner = "" if name.startswith("/") or namespace.endswith("/") else "/"
            entry: dict[str, Any] = {
                "id": f"{kind}:{namespace}{joiner}{name}@{version}",
                "kind": kind,
                "namespace": namespace,
                "name": name,
                "version": version,
                "first_seen": _iso(first),
                "last_seen": _iso(last),
            }
            if facets_text != "{}" or node_facets != "{}":
                entry.update(
                    summarize_facets({**orjson.loads(node_facets), **orjson.loads(facets_text)})
                )
            out[vid] = entry
        runs: dict[int, list[Any]] = {}
        executions = [i for i in chunk if out.get(i, {}).get("kind") == "job"]
        if executions:
            stmt2 = sa.select(r).where(r.c.execution_id.in_(executions)).order_by(r.c.started_us)
            for row in conn.execute(stmt2):
                runs.setdefault(row.execution_id, []).append(row)
        for execution_id, rows in runs.items():
            out[execution_id].update(summarize_runs(rows))
    return out


def summarize_facets(facets: dict[str, Any]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    owners = facets.get("ownership", {}).get("owners")
    if owners:
        extra["owners"] = [o.get("name") for o in owners]
    labels = facets.get("threadline_classification")
    if labels:
        extra["labels"] = sorted({*labels.get("labels", []), *labels.get("inherited", [])})
    quality = facets.get("threadline_quality")
    if quality:
        extra["metrics"] = quality.get("metrics", {})
    stage = facets.get("threadline_stage")
    if stage:
        extra["stage"] = stage.get("stage")
    schema = facets.get("schema")
    if schema:
        extra["columns"] = [f.get("name") for f in schema.get("fields", [])]
    deployment = facets.get("threadline_deployment")
    if deployment:
        extra["deployment"] = {k: v for k, v in deployment.items() if not k.startswith("_")}
    return extra


def summarize_runs(rows: list[Any]) -> dict[str, Any]:
    latest = rows[-1]
    facets = orjson.loads(latest.facets)
    context = facets.get("threadline_context", {})
    git = context.get("git", {})
    summary: dict[str, Any] = {
        "runs": {
            "count": len(rows),
            "first": _iso(min((r.started_us or r.state_time_us) for r in rows)),
            "last": _iso(max((r.ended_us or r.state_time_us) for r in rows)),
            "states": sorted({r.state for r in rows}),
            "ids": [r.run_id for r in rows][-5:],
        },
    }
    if context:
        summary["user"] = context.get("user")
        summary["host"] = context.get("host")
        summary["packages"] = context.get("packages")
        if context.get("script"):
            summary["script"] = context["script"]
    if git:
        summary["code"] = {k: git[k] for k in ("commit", "dirty", "branch") if k in git}
    parameters = facets.get("threadline_parameters", {}).get("parameters")
    if parameters:
        summary["parameters"] = parameters
    reason = facets.get("threadline_reason", {}).get("reason")
    if reason:
        summary["reason"] = reason
    return summary


def _iso(us: int | None) -> str | None:
    if us is None:
        return None
    seconds, micros = divmod(us, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micros:06d}Z"


def _graph(
    store: SqlStore,
    ref: str,
    *,
    upstream: bool,
    depth: int | None,
    as_of: dt.datetime | str | None,
    limit: int | None,
) -> LineageGraph:
    as_of_us = to_micros(as_of)

    def query(conn: Connection) -> LineageGraph:
        start = resolve(conn, ref, as_of_us=as_of_us)
        order, edges, truncated = walk(
            conn, start.id, upstream=upstream, depth=depth, limit=limit, as_of_us=as_of_us
        )
        described = describe(conn, order)
        return LineageGraph(
            root=described[start.id]["id"],
            direction="upstream" if upstream else "downstream",
            nodes=[described[i] for i in order if i in described],
            edges=[
                {"from": described[a]["id"], "to": described[b]["id"], "relation": rel}
                for a, b, rel in dict.fromkeys(edges)
            ],
            truncated=truncated,
        )

    result: LineageGraph = store.read(query)
    return result


def trace(
    store: SqlStore,
    ref: str,
    *,
    depth: int | None = None,
    as_of: dt.datetime | str | None = None,
    limit: int | None = DEFAULT_LIMIT,
) -> LineageGraph:
    """Everything upstream of ``ref``: the runs, code and data that produced it."""
    return _graph(store, ref, upstream=True, depth=depth, as_of=as_of, limit=limit)


def impact(
    store: SqlStore,
    ref: str,
    *,
    depth: int | None = None,
    as_of: dt.datetime | str | None = None,
    limit: int | None = DEFAULT_LIMIT,
) -> LineageGraph:
    """Everything downstream of ``ref``: features, models, deployments, predictions."""
    return _graph(store, ref, upstream=False, depth=depth, as_of=as_of, limit=limit)
