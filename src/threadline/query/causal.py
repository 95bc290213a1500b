"""The upstream walk that never goes past the moment a version was read.

Content addressing lets several executions produce one version (the same bytes written again),
and some of them may finish after a consumer read it: those did not feed that consumer, and a
trace that listed them would explain a result by something that happened after it.  The walk
here is :mod:`threadline.query.graph`'s breadth-first walk with a clock: see
:func:`causal_upstream` for the rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.query.reading import Ids, InList
from threadline.store import schema as s

_e, _v, _n, _r = s.edges, s.versions, s.nodes, s.runs
_AS_OF = sa.bindparam("as_of", type_=sa.BigInteger)
#: A run's end: its last state change when no end was recorded.
ENDED: Final = sa.func.coalesce(_r.c.ended_us, _r.c.state_time_us)


@dataclass(frozen=True, slots=True)
class Walk:
    """What a walk reached, as row ids."""

    order: list[int]
    """Vertices in discovery order, the start first."""
    edges: list[tuple[int, int, str]]
    """``(src, dst, relation)`` between reached vertices."""
    truncated: bool
    cutoffs: Mapping[int, int] = field(default_factory=dict)
    """Executions some of whose runs ended after the moment that bounds them, with that
    moment: their later runs did not feed this answer (:func:`causal_upstream`)."""


def _edges_into(readers: bool, as_of: bool) -> InList:
    """Upstream edges with when each was first recorded (the causal walk's clock), into
    versions, or into executions (``readers``) with the execution's latest activity."""

    def build(ids: Ids) -> sa.Select[Any]:
        columns = (_e.c.src, _e.c.dst, _e.c.relation, _e.c.created_us)
        if readers:
            reader = sa.alias(_v, "reader")
            stmt = sa.select(*columns, reader.c.last_seen_us).join(reader, reader.c.id == _e.c.dst)
        else:
            stmt = sa.select(*columns, sa.null())
        stmt = stmt.where(ids.match(_e.c.dst))
        if as_of:
            stmt = stmt.join(_v, _v.c.id == _e.c.src).where(
                _e.c.created_us <= _AS_OF, _v.c.first_seen_us <= _AS_OF
            )
        return stmt

    return InList(build)


#: By (into executions, as of a moment): one statement per kind of frontier vertex, so the
#: executions' clocks come with their edges and cost no query of their own.
_EDGES_INTO: Final = {(r, at): _edges_into(r, at) for r in (True, False) for at in (True, False)}
#: When each run of the listed executions ended (its last state change when it has no end).
_RUN_ENDS: Final = InList(
    lambda ids: sa.select(_r.c.execution_id, ENDED).where(ids.match(_r.c.execution_id))
)


#: No bound: every producer counts (the start's own, and everything upstream of a version
#: whose readers are not known).
_OPEN: Final = None


def causal_upstream(
    conn: Connection,
    start: int,
    extra: Mapping[str, Any] | None,
    *,
    depth: int | None,
    limit: int | None,
) -> Walk:
    """Upstream breadth-first, never past the moment each version was read.

    Content addressing lets several executions produce one version, and some of them may run
    after a consumer read it: those did not feed that consumer.  Each reached vertex carries a
    *bound*, the latest moment its producers may have finished (``None``: no bound):

    * the start has none: all its producers count;
    * an execution reached from a version it wrote inherits that version's bound;
    * the versions an execution read are bounded by when it read them: the end of its last run
      that ended within its own bound (lenient, as a run reads any time before it ends);
    * an edge into a bounded version counts only when it was first recorded by then (an
      execution's ``output`` edge is recorded when its run completes).

    A version reached again with a looser bound (a later reader) is walked again, so the answer
    does not depend on which reader the breadth-first order met first.
    """
    head = conn.execute(
        sa.select(_n.c.type).join(_v, _v.c.node_id == _n.c.id).where(_v.c.id == start)
    ).scalar()
    executions = {start} if head == "job" else set()
    at = extra is not None
    bound: dict[int, int | None] = {start: _OPEN}
    order = [start]
    edges: list[tuple[int, int, str]] = []
    truncated = False
    frontier = [start]
    # Vertices walked again, with the bound of their previous walk: the edges that bound
    # admitted are in the answer already.
    again: dict[int, int | None] = {}
    cutoffs: dict[int, int] = {}
    level = 0
    while frontier and (depth is None or level < depth):
        level += 1
        readers = [v for v in frontier if v in executions]
        rows = _EDGES_INTO[(True, at)].fetch(conn, readers, extra) if readers else []
        if len(readers) < len(frontier):
            versions = [v for v in frontier if v not in executions] if readers else frontier
            rows += _EDGES_INTO[(False, at)].fetch(conn, versions, extra)
        read_by = _read_bounds(conn, rows, bound, cutoffs) if readers else {}
        found: list[int] = []
        fresh: set[int] = set()
        requeued: dict[int, int | None] = {}
        # Sorted so that which vertices a cap keeps does not depend on the dialect's row order.
        for src, dst, relation, created_us, _ in sorted(rows):
            limit_us = bound[dst]
            if relation == "input":
                far_bound = read_by.get(dst, limit_us)
            else:
                if limit_us is not None and created_us > limit_us:
                    continue  # recorded after the reader read this version
                far_bound = limit_us
                if relation == "output":
                    executions.add(src)
            if src not in bound:
                if limit is not None and len(order) >= limit:
                    truncated = True
                    continue
                bound[src] = far_bound
                order.append(src)
                found.append(src)
                fresh.add(src)
            else:
                previous = bound[src]
                # A looser bound (a later reader): walk src again with it.
                if previous is not None and (far_bound is None or far_bound > previous):
                    if src not in requeued and src not in fresh:
                        requeued[src] = previous
                        found.append(src)
                    bound[src] = far_bound
            if dst in again:
                before = again[dst]
                if relation == "input" or (before is None or created_us <= before):
                    continue  # this edge came with the earlier walk of dst
            edges.append((src, dst, relation))
        frontier = found
        again = requeued
    return Walk(order, edges, truncated, cutoffs)


def _read_bounds(
    conn: Connection,
    rows: Sequence[tuple[Any, ...]],
    bound: Mapping[int, int | None],
    cutoffs: dict[int, int],
) -> dict[int, int | None]:
    """For each execution whose inputs are among ``rows``, the latest moment it read them
    within its bound: its last activity, or, when runs of it came after the bound, the end of
    its last run before it (and ``cutoffs`` records the bound, so those runs are not shown)."""
    out: dict[int, int | None] = {}
    straddling: list[int] = []
    done: set[int] = set()
    for _src, execution, _relation, _created, seen in rows:
        if seen is None or execution in done:
            continue
        done.add(execution)
        limit_us = bound[execution]
        if limit_us is None or seen <= limit_us:
            out[execution] = seen
            cutoffs.pop(execution, None)
        else:
            straddling.append(execution)
            cutoffs[execution] = limit_us
    if straddling:
        ends: dict[int, int] = {}
        for execution, ended in _RUN_ENDS.fetch(conn, straddling):
            limit_us = bound[execution]
            if ended is not None and (limit_us is None or ended <= limit_us):
                ends[execution] = max(ends.get(execution, ended), ended)
        for execution in straddling:
            out[execution] = ends.get(execution, bound[execution])
    return out


__all__ = ["ENDED", "Walk", "causal_upstream"]
