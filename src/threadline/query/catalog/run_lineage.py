"""The runs upstream of a run (:func:`upstream_runs`): the run, the runs that wrote what it
read, the runs that wrote what those read, and so on, up to ``depth`` hops.

A data version can be written by several runs (content addressing makes that legitimate: the
same bytes produced twice).  The run credited with a version a run read is the latest one that
had finished when the reading run started; a run that wrote the version only afterwards cannot
have fed it, so when no run had, the input names no producer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.errors import NotFound
from threadline.query.catalog.reads import ACTIVITY, RUN_COLUMNS, runs_of
from threadline.query.catalog.rows import UpstreamInput, UpstreamRun, VersionRef
from threadline.query.reading import read
from threadline.store import schema as s

if TYPE_CHECKING:
    from threadline.store.base import Store

_n, _v, _e, _r = s.nodes, s.versions, s.edges, s.runs


def _inputs(conn: Connection, executions: Sequence[int]) -> dict[int, list[tuple[int, VersionRef]]]:
    """For executions: the data versions they read, as (version id, reference)."""
    out: dict[int, list[tuple[int, VersionRef]]] = {}
    if not executions:
        return out
    stmt = (
        sa.select(_e.c.dst, _v.c.id, _n.c.namespace, _n.c.name, _v.c.version)
        .select_from(_e)
        .join(_v, _v.c.id == _e.c.src)
        .join(_n, _n.c.id == _v.c.node_id)
        .where(_e.c.dst.in_(list(executions)), _e.c.relation == "input")
        .order_by(_n.c.namespace, _n.c.name, _v.c.version)
    )
    for execution, vid, namespace, name, version in conn.execute(stmt):
        out.setdefault(int(execution), []).append((int(vid), VersionRef(namespace, name, version)))
    return out


def _writers(conn: Connection, version_ids: Sequence[int]) -> dict[int, list[Any]]:
    """For data versions: the runs (rows of ``RUN_COLUMNS`` plus ``finished``) of the
    executions that wrote them."""
    out: dict[int, list[Any]] = {}
    if not version_ids:
        return out
    finished = sa.func.coalesce(_r.c.ended_us, ACTIVITY).label("finished")
    stmt = (
        sa.select(_e.c.dst.label("written"), *RUN_COLUMNS, finished)
        .select_from(_e)
        .join(_r, _r.c.execution_id == _e.c.src)
        .where(_e.c.dst.in_(list(version_ids)), _e.c.relation == "output")
    )
    for row in conn.execute(stmt):
        out.setdefault(int(row.written), []).append(row)
    return out


def upstream_runs(store: Store, run_id: str, depth: int = 20) -> list[UpstreamRun]:
    """The run ``run_id`` and the runs upstream of it, nearest first (breadth first), each
    with what it read and which run wrote that (see the module docs).  :class:`NotFound` when
    the run is not recorded."""

    def query(conn: Connection) -> list[UpstreamRun]:
        row = conn.execute(sa.select(*RUN_COLUMNS).where(_r.c.run_id == run_id)).first()
        if row is None:
            raise NotFound(f"no run {run_id!r}")
        order: list[Any] = [row]
        inputs_of: dict[str, list[UpstreamInput]] = {}
        seen = {row.run_id}
        frontier = [row]
        for _hop in range(depth + 1):
            if not frontier:
                break
            executions = [int(r.execution_id) for r in frontier if r.execution_id is not None]
            read_by = _inputs(conn, executions)
            writers = _writers(conn, [vid for ends in read_by.values() for vid, _ in ends])
            following = []
            for reader in frontier:
                # A run recorded only by its last event read its inputs before that.
                started = (
                    reader.started_us if reader.started_us is not None else reader.state_time_us
                )
                ends = read_by.get(int(reader.execution_id), []) if reader.execution_id else []
                credited = []
                for vid, ref in ends:
                    producer = _producer(writers.get(vid, []), started, reader.run_id)
                    credited.append(UpstreamInput(ref, producer.run_id if producer else None))
                    if producer is not None and producer.run_id not in seen:
                        seen.add(producer.run_id)
                        following.append(producer)
                inputs_of[reader.run_id] = credited
            if _hop < depth:
                order.extend(following)
                frontier = following
            else:
                frontier = []
        runs = runs_of(conn, order)
        return [UpstreamRun(run, inputs_of.get(run.run_id, [])) for run in runs]

    return read(store, query)


def _producer(candidates: list[Any], started: int, reader: str) -> Any:
    """The latest candidate run that had finished by ``started``; never the reading run."""
    best = None
    for row in candidates:
        if row.run_id == reader:
            continue
        if int(row.finished) > started:
            continue
        if best is None or (int(row.finished), row.run_id) > (int(best.finished), best.run_id):
            best = row
    return best


__all__ = ["upstream_runs"]
