"""Detail of one vertex (:func:`show`) and the recent runs, newest first (:func:`log`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.errors import NotFound, UsageError
from threadline.model.times import iso, parse_moment
from threadline.query.graph import code_version, describe
from threadline.query.reading import printable, read
from threadline.query.resolve import job_names, resolve
from threadline.query.result import Node
from threadline.spec.ingest import default_policy
from threadline.store import schema as s

if TYPE_CHECKING:
    from threadline.store.base import Store

#: Runs listed by :func:`show`, newest first.
RUNS_SHOWN: Final = 20
#: Other versions of the node listed by :func:`show`, newest first.
VERSIONS_SHOWN: Final = 10

_e, _v, _n, _r, _ev = s.edges, s.versions, s.nodes, s.runs, s.events
_STARTED = sa.func.coalesce(_r.c.started_us, _r.c.state_time_us)


@dataclass(frozen=True, slots=True)
class VersionDetail:
    """Everything recorded about one version of a node."""

    node: Node
    """The vertex as every answer describes it (:mod:`threadline.query.result`)."""
    facets: dict[str, Any]
    """All its facets as recorded: the node's, overlaid with this version's."""
    runs: Sequence[dict[str, Any]]
    """Runs of this execution, or the runs that wrote this data version; newest first."""
    upstream: int
    """Edges into this vertex (its inputs, or the executions that wrote it)."""
    downstream: int
    """Edges out of this vertex (the executions that read it, or what it wrote)."""
    versions: Sequence[dict[str, Any]]
    """The node's most recent versions, newest first."""
    version_count: int
    """How many versions of the node are recorded."""
    validation: Sequence[dict[str, Any]] = ()
    """The events of the runs listed that were accepted with schema deviations, each with its
    ``threadline_validation`` notes (``path`` and ``message``); see
    :mod:`threadline.spec.ingest`."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "facets": self.facets,
            "runs": list(self.runs),
            "upstream": self.upstream,
            "downstream": self.downstream,
            "versions": {"count": self.version_count, "recent": list(self.versions)},
            "threadline_validation": list(self.validation),
        }


@dataclass(frozen=True, slots=True)
class RunLog:
    """Recent runs, most recent activity first."""

    runs: Sequence[dict[str, Any]]
    """One entry per run: ``run_id``, ``job``, ``execution``, ``state``, ``started``,
    ``ended``, ``user``, ``host``, ``commit``, ``dirty``, ``reason``."""

    def to_dict(self) -> dict[str, Any]:
        return {"runs": list(self.runs)}


# --- runs -------------------------------------------------------------------------------------

_RUN_COLUMNS: Final = (
    _r.c.run_id,
    _r.c.state,
    _r.c.started_us,
    _r.c.ended_us,
    _r.c.state_time_us,
    _r.c.facets,
    _n.c.namespace,
    _n.c.name,
    _v.c.version,
)


def _runs_select() -> sa.Select[Any]:
    return (
        sa.select(*_RUN_COLUMNS)
        .join(_n, _n.c.id == _r.c.job_node_id)
        .outerjoin(_v, _v.c.id == _r.c.execution_id)
    )


def _run_entry(row: Any) -> dict[str, Any]:
    facets = orjson.loads(row.facets)
    context = facets.get("threadline_context")
    context = context if isinstance(context, dict) else {}
    code = code_version(context)
    reason = facets.get("threadline_reason")
    error = facets.get("errorMessage")
    job = printable("job", row.namespace, row.name)
    return {
        "run_id": row.run_id,
        "job": job[len("job:") :],
        "execution": f"{job}@{row.version}" if row.version else None,
        "state": row.state,
        "started": iso(row.started_us),
        "ended": iso(row.ended_us),
        "updated": iso(row.state_time_us),
        "user": context.get("user"),
        "host": context.get("host"),
        "commit": code.get("commit"),
        "dirty": code.get("dirty"),
        "reason": reason.get("reason") if isinstance(reason, dict) else None,
        "error": error.get("message") if isinstance(error, dict) else None,
    }


# --- show -------------------------------------------------------------------------------------


#: The events of one run: the log has no index by run id (see :mod:`threadline.store.schema`),
#: so they are looked for among its job's events between the run's first and last records.
_RUN_EVENTS: Final = (
    sa.select(_ev.c.seq, _ev.c.run_id, _ev.c.body)
    .join_from(_r, _n, _n.c.id == _r.c.job_node_id)
    .join(
        _ev,
        sa.and_(
            _ev.c.job_name == _n.c.name,
            _ev.c.seq.between(_r.c.first_seq, _r.c.last_seq),
            _ev.c.run_id == _r.c.run_id,
        ),
    )
    .where(_r.c.run_id == sa.bindparam("run_id"))
)


def _noted_events(conn: Connection, run_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The events of ``run_ids`` that carry ingest notes, in log order."""
    if not run_ids:
        return []
    notes_of = default_policy().notes
    found: list[dict[str, Any]] = []
    rows = sorted(
        (
            row
            for run_id in dict.fromkeys(run_ids)
            for row in conn.execute(_RUN_EVENTS, {"run_id": run_id})
        ),
        key=lambda row: row.seq,
    )
    for row in rows:
        body = orjson.loads(s.as_bytes(row.body))
        notes = notes_of(body)
        if notes:
            found.append(
                {
                    "run_id": row.run_id,
                    "event_type": body.get("eventType"),
                    "event_time": body.get("eventTime"),
                    "producer": body.get("producer"),
                    "notes": [note.to_dict() for note in notes],
                }
            )
    return found


def show(store: Store, ref: str, *, as_of: dt.datetime | str | None = None) -> VersionDetail:
    """Everything recorded about one version: facets, runs, neighbour counts, other versions."""
    as_of_us = parse_moment(as_of)

    def query(conn: Connection) -> VersionDetail:
        vertex = resolve(conn, ref, as_of_us=as_of_us)
        node = describe(conn, [vertex.id], as_of_us=as_of_us)[vertex.id]
        node_facets, version_facets = conn.execute(
            sa.select(_n.c.facets, _v.c.facets)
            .join(_n, _n.c.id == _v.c.node_id)
            .where(_v.c.id == vertex.id)
        ).one()

        def degree(near: sa.ColumnElement[Any]) -> int:
            stmt = sa.select(sa.func.count()).select_from(_e).where(near == vertex.id)
            if as_of_us is not None:
                stmt = stmt.where(_e.c.created_us <= as_of_us)
            return int(conn.execute(stmt).scalar_one())

        runs = _runs_select()
        if vertex.kind == "job":
            runs = runs.where(_r.c.execution_id == vertex.id)
        else:
            writers = sa.select(_e.c.src).where(_e.c.dst == vertex.id, _e.c.relation == "output")
            runs = runs.where(_r.c.execution_id.in_(writers))
        if as_of_us is not None:
            runs = runs.where(as_of_us >= _STARTED)
        runs = runs.order_by(_STARTED.desc(), _r.c.last_seq.desc()).limit(RUNS_SHOWN)

        versions = sa.select(_v.c.version, _v.c.first_seen_us).where(_v.c.node_id == vertex.node_pk)
        count = sa.select(sa.func.count()).select_from(_v).where(_v.c.node_id == vertex.node_pk)
        if as_of_us is not None:
            versions = versions.where(_v.c.first_seen_us <= as_of_us)
            count = count.where(_v.c.first_seen_us <= as_of_us)
        recent = conn.execute(
            versions.order_by(_v.c.first_seen_us.desc(), _v.c.id.desc()).limit(VERSIONS_SHOWN)
        ).all()
        run_entries = [_run_entry(row) for row in conn.execute(runs)]
        return VersionDetail(
            node=node,
            facets={**orjson.loads(node_facets), **orjson.loads(version_facets)},
            runs=run_entries,
            upstream=degree(_e.c.dst),
            downstream=degree(_e.c.src),
            versions=[
                {
                    "version": row.version,
                    "id": printable(vertex.kind, vertex.namespace, vertex.name, row.version),
                    "first_seen": iso(row.first_seen_us),
                    "current": row.version == vertex.version,
                }
                for row in recent
            ],
            version_count=int(conn.execute(count).scalar_one()),
            validation=_noted_events(conn, [entry["run_id"] for entry in run_entries]),
        )

    return read(store, query)


# --- log --------------------------------------------------------------------------------------


def _job_filter(conn: Connection, job: str) -> sa.ColumnElement[bool]:
    """Events of the job ``job`` names (its name, ``namespace/name`` or any job id); NotFound
    if none."""
    found = job_names(conn, job)
    if not found:
        raise NotFound(f"no job named {job!r} in the store (threadline log lists the jobs)")
    return sa.or_(*(sa.and_(_ev.c.job_namespace == ns, _ev.c.job_name == nm) for ns, nm in found))


def log(
    store: Store,
    limit: int = 20,
    *,
    job: str | None = None,
    since: dt.datetime | str | None = None,
) -> RunLog:
    """The ``limit`` runs with the most recent activity, newest first.

    ``job`` keeps runs of one job (its name or ``namespace/name``); ``since`` keeps runs with
    an event at or after that time.  The log is read backwards by sequence number (the primary
    key), so the cost follows ``limit``, not the size of the store.
    """
    if limit < 1:
        raise UsageError(f"limit must be 1 or more, not {limit}")
    since_us = parse_moment(since, "--since")

    def query(conn: Connection) -> RunLog:
        stmt = sa.select(_ev.c.seq, _ev.c.run_id).where(_ev.c.run_id.is_not(None))
        if job is not None:
            stmt = stmt.where(_job_filter(conn, job))
        if since_us is not None:
            stmt = stmt.where(_ev.c.event_time_us >= since_us)
        page = max(4 * limit, 100)
        wanted: dict[str, None] = {}
        before: int | None = None
        while len(wanted) < limit:
            paged = stmt if before is None else stmt.where(_ev.c.seq < before)
            rows = conn.execute(paged.order_by(_ev.c.seq.desc()).limit(page)).all()
            for _seq, run_id in rows:
                wanted.setdefault(run_id)
                if len(wanted) == limit:
                    break
            if len(rows) < page:
                break
            before = rows[-1].seq
        found: dict[str, dict[str, Any]] = {}
        ids = list(wanted)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for row in conn.execute(_runs_select().where(_r.c.run_id.in_(chunk))):
                found[row.run_id] = _run_entry(row)
        return RunLog([found[run_id] for run_id in ids if run_id in found])

    return read(store, query)


__all__ = ["RUNS_SHOWN", "VERSIONS_SHOWN", "RunLog", "VersionDetail", "log", "show"]
