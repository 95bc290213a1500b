"""The reads behind the catalog listings: nodes, newest versions, what executions read and
wrote, runs, the run that wrote each version, and the lineage a job that never ran declared.

Each takes an open connection and many ids at once (in chunks of 500), so a listing costs a
few statements whatever its length.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.errors import NotFound
from threadline.query.catalog.rows import Dataset, Job, NodeRow, Run, VersionRef, VersionRow
from threadline.query.catalog.version_ids import as_uuid, version_uuid
from threadline.store import schema as s
from threadline.store.projection import UNVERSIONED

T = TypeVar("T")

#: Runs listed in a job's :attr:`~threadline.query.catalog.rows.Job.latest_runs`.
LATEST_RUNS: Final = 10

_n, _v, _e, _r = s.nodes, s.versions, s.edges, s.runs
_CHUNK: Final = 500


def _chunks(items: Sequence[T]) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _facets(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    value = orjson.loads(text)
    return value if isinstance(value, dict) else {}


NODE_COLUMNS: Final = (
    _n.c.id,
    _n.c.type,
    _n.c.namespace,
    _n.c.name,
    _n.c.kind,
    _n.c.facets,
    _n.c.first_seen_us,
    _n.c.updated_us,
)
VERSION_COLUMNS: Final = (_v.c.id, _v.c.node_id, _v.c.version, _v.c.facets, _v.c.first_seen_us)


def node_row(row: Any) -> NodeRow:
    """A :class:`NodeRow` from a row of :data:`NODE_COLUMNS`."""
    return NodeRow(
        int(row.id),
        row.type,
        row.namespace,
        row.name,
        row.kind,
        _facets(row.facets),
        int(row.first_seen_us),
        int(row.updated_us),
    )


def version_row(row: Any) -> VersionRow:
    """A :class:`VersionRow` from a row of :data:`VERSION_COLUMNS`."""
    return VersionRow(
        int(row.id), int(row.node_id), row.version, _facets(row.facets), int(row.first_seen_us)
    )


def nodes_by_id(conn: Connection, ids: Sequence[int]) -> dict[int, NodeRow]:
    """The nodes of ``ids`` (row ids), by row id."""
    out: dict[int, NodeRow] = {}
    for chunk in _chunks(list(ids)):
        for row in conn.execute(sa.select(*NODE_COLUMNS).where(_n.c.id.in_(chunk))):
            out[int(row.id)] = node_row(row)
    return out


def find_node(conn: Connection, type_: str, namespace: str, name: str) -> NodeRow | None:
    """The ``dataset`` or ``job`` node ``namespace``/``name``, if recorded."""
    row = conn.execute(
        sa.select(*NODE_COLUMNS).where(
            _n.c.type == type_, _n.c.namespace == namespace, _n.c.name == name
        )
    ).first()
    return node_row(row) if row is not None else None


def require_node(conn: Connection, type_: str, namespace: str, name: str) -> NodeRow:
    """:func:`find_node`, or :class:`NotFound` naming what is missing."""
    node = find_node(conn, type_, namespace, name)
    if node is None:
        raise NotFound(f"no {type_} {name!r} in namespace {namespace!r}")
    return node


def page_of_nodes(
    conn: Connection, type_: str, namespace: str | None, limit: int, offset: int
) -> tuple[list[NodeRow], int]:
    """One page of the ``type_`` nodes of ``namespace`` (of all, when ``None``) by name, and
    how many there are."""
    where = _n.c.type == type_
    if namespace is not None:
        where = sa.and_(where, _n.c.namespace == namespace)
    total = int(conn.execute(sa.select(sa.func.count()).select_from(_n).where(where)).scalar_one())
    order = (_n.c.name,) if namespace is not None else (_n.c.namespace, _n.c.name)
    rows = conn.execute(
        sa.select(*NODE_COLUMNS).where(where).order_by(*order).limit(limit).offset(offset)
    )
    return [node_row(row) for row in rows], total


def page_of_versions(
    conn: Connection, node: NodeRow, limit: int, offset: int
) -> tuple[list[VersionRow], int]:
    """One page of a node's versions, newest first (first seen, then row id), and how many
    there are."""
    where = _v.c.node_id == node.id
    total = int(conn.execute(sa.select(sa.func.count()).select_from(_v).where(where)).scalar_one())
    rows = conn.execute(
        sa.select(*VERSION_COLUMNS)
        .where(where)
        .order_by(_v.c.first_seen_us.desc(), _v.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [version_row(row) for row in rows], total


def require_version(conn: Connection, node: NodeRow, version: str) -> VersionRow:
    """The version of ``node`` named ``version``: its token, or the UUID Marquez's API shows
    for it (:func:`~threadline.query.catalog.version_ids.version_uuid`); :class:`NotFound`
    otherwise."""
    row = conn.execute(
        sa.select(*VERSION_COLUMNS).where(_v.c.node_id == node.id, _v.c.version == version)
    ).first()
    if row is not None:
        return version_row(row)
    wanted = as_uuid(version)
    if wanted is not None:
        # UUIDs are derived, not stored: derive each version's and compare.
        for row in conn.execute(sa.select(*VERSION_COLUMNS).where(_v.c.node_id == node.id)):
            if version_uuid(node.namespace, node.name, row.version) == wanted:
                return version_row(row)
    raise NotFound(
        f"no version {version!r} of {node.type} {node.name!r} in namespace {node.namespace!r}"
    )


def newest_versions(conn: Connection, node_ids: Sequence[int]) -> dict[int, VersionRow]:
    """Each node's newest version (latest first seen; the higher id on a tie).  The placeholder
    an input that named no version was linked to (:data:`UNVERSIONED`) is newest only when the
    node has no other version: it stands for "some version nobody recorded", and a producer's
    recorded version, with its schema and source, describes the dataset better however the
    events' times and arrival order fall."""
    inner = sa.alias(_v)
    newest = (
        sa.select(sa.func.max(inner.c.first_seen_us))
        .where(inner.c.node_id == _v.c.node_id, inner.c.version != UNVERSIONED)
        .scalar_subquery()
    )
    out: dict[int, VersionRow] = {}
    for chunk in _chunks(list(node_ids)):
        stmt = sa.select(*VERSION_COLUMNS).where(
            _v.c.node_id.in_(chunk), _v.c.version != UNVERSIONED, _v.c.first_seen_us == newest
        )
        for row in conn.execute(stmt):
            current = out.get(int(row.node_id))
            if current is None or int(row.id) > current.id:
                out[int(row.node_id)] = version_row(row)
    placeholders = [i for i in node_ids if i not in out]
    for chunk in _chunks(placeholders):
        stmt = sa.select(*VERSION_COLUMNS).where(
            _v.c.node_id.in_(chunk), _v.c.version == UNVERSIONED
        )
        for row in conn.execute(stmt):
            out[int(row.node_id)] = version_row(row)
    return out


def version_ends(
    conn: Connection, version_ids: Sequence[int], *, inputs: bool
) -> dict[int, list[VersionRef]]:
    """For executions: the data versions they read (or wrote), by namespace and name."""
    other = sa.alias(_v)
    out: dict[int, list[VersionRef]] = {}
    near, far = (_e.c.dst, _e.c.src) if inputs else (_e.c.src, _e.c.dst)
    relation = "input" if inputs else "output"
    for chunk in _chunks(list(version_ids)):
        stmt = (
            sa.select(near, _n.c.namespace, _n.c.name, other.c.version)
            .select_from(_e)
            .join(other, other.c.id == far)
            .join(_n, _n.c.id == other.c.node_id)
            .where(near.in_(chunk), _e.c.relation == relation)
            .order_by(_n.c.namespace, _n.c.name)
        )
        for execution, namespace, name, version in conn.execute(stmt):
            out.setdefault(int(execution), []).append(VersionRef(namespace, name, version))
    return out


# --- runs -------------------------------------------------------------------------------------

RUN_COLUMNS: Final = (
    _r.c.run_id,
    _r.c.job_node_id,
    _r.c.execution_id,
    _r.c.state,
    _r.c.state_time_us,
    _r.c.started_us,
    _r.c.ended_us,
    _r.c.facets,
)
ACTIVITY = sa.func.coalesce(_r.c.started_us, _r.c.state_time_us)
NEWEST_FIRST: Final = (ACTIVITY.desc(), _r.c.last_seq.desc())


def runs_of(conn: Connection, rows: Sequence[Any]) -> list[Run]:
    """:class:`Run` for rows of ``RUN_COLUMNS``, in the same order."""
    executions = sorted({int(r.execution_id) for r in rows if r.execution_id is not None})
    versions: dict[int, VersionRef] = {}
    for chunk in _chunks(executions):
        stmt = (
            sa.select(_v.c.id, _n.c.namespace, _n.c.name, _v.c.version)
            .join(_n, _n.c.id == _v.c.node_id)
            .where(_v.c.id.in_(chunk))
        )
        for vid, namespace, name, version in conn.execute(stmt):
            versions[int(vid)] = VersionRef(namespace, name, version)
    jobs = nodes_by_id(conn, sorted({int(r.job_node_id) for r in rows}))
    inputs = version_ends(conn, executions, inputs=True)
    outputs = version_ends(conn, executions, inputs=False)
    out = []
    for row in rows:
        execution = int(row.execution_id) if row.execution_id is not None else None
        job = jobs[int(row.job_node_id)]
        out.append(
            Run(
                run_id=row.run_id,
                job=VersionRef(job.namespace, job.name, ""),
                execution_id=execution,
                state=row.state,
                state_time_us=int(row.state_time_us),
                started_us=row.started_us,
                ended_us=row.ended_us,
                facets=_facets(row.facets),
                job_version=versions.get(execution) if execution is not None else None,
                inputs=inputs.get(execution, []) if execution is not None else [],
                outputs=outputs.get(execution, []) if execution is not None else [],
            )
        )
    return out


def created_by(conn: Connection, version_ids: Sequence[int]) -> dict[int, Run]:
    """The run (latest activity first) of the execution that wrote each data version."""
    writers: dict[int, list[int]] = {}
    for chunk in _chunks(list(version_ids)):
        stmt = sa.select(_e.c.dst, _e.c.src).where(_e.c.dst.in_(chunk), _e.c.relation == "output")
        for version, execution in conn.execute(stmt):
            writers.setdefault(int(execution), []).append(int(version))
    best: dict[int, Any] = {}
    for chunk in _chunks(sorted(writers)):
        stmt = sa.select(*RUN_COLUMNS, ACTIVITY.label("activity")).where(
            _r.c.execution_id.in_(chunk)
        )
        for row in conn.execute(stmt):
            for version in writers[int(row.execution_id)]:
                current = best.get(version)
                if current is None or (row.activity, row.run_id) > (
                    current.activity,
                    current.run_id,
                ):
                    best[version] = row
    ordered = list(best.items())
    runs = runs_of(conn, [row for _, row in ordered])
    return {version: run for (version, _row), run in zip(ordered, runs, strict=True)}


# --- datasets and jobs ------------------------------------------------------------------------


def datasets_of(conn: Connection, nodes: Sequence[NodeRow]) -> list[Dataset]:
    """Each dataset node with its newest version, in the order given."""
    newest = newest_versions(conn, [n.id for n in nodes])
    return [Dataset(node, newest.get(node.id)) for node in nodes]


def jobs_of(conn: Connection, nodes: Sequence[NodeRow]) -> list[Job]:
    """Each job node with its newest execution, what it read and wrote, and its latest runs,
    in the order given."""
    ids = [n.id for n in nodes]
    newest = newest_versions(conn, ids)
    execution_ids = [v.id for v in newest.values()]
    inputs = version_ends(conn, execution_ids, inputs=True)
    outputs = version_ends(conn, execution_ids, inputs=False)
    latest: dict[int, list[Any]] = {}
    for chunk in _chunks(ids):
        rank = (
            sa.func.row_number()
            .over(partition_by=_r.c.job_node_id, order_by=NEWEST_FIRST)
            .label("rank")
        )
        inner = sa.select(*RUN_COLUMNS, rank).where(_r.c.job_node_id.in_(chunk)).subquery()
        stmt = (
            sa.select(*(inner.c[c.name] for c in RUN_COLUMNS))
            .where(inner.c.rank <= LATEST_RUNS)
            .order_by(inner.c.job_node_id, inner.c.rank)
        )
        for row in conn.execute(stmt):
            latest.setdefault(int(row.job_node_id), []).append(row)
    declared_ends = declared_lineage(conn, [n for n in nodes if n.id not in newest])
    runs = iter(runs_of(conn, [row for node in nodes for row in latest.get(node.id, [])]))
    out = []
    for node in nodes:
        version = newest.get(node.id)
        if version is not None:
            ends_in, ends_out = inputs.get(version.id, []), outputs.get(version.id, [])
        else:
            ends_in, ends_out = declared_ends.get(node.id, ([], []))
        node_runs = [next(runs) for _ in latest.get(node.id, [])]
        out.append(Job(node, version, ends_in, ends_out, node_runs))
    return out


def declared_lineage(
    conn: Connection, nodes: Sequence[NodeRow]
) -> dict[int, tuple[list[VersionRef], list[VersionRef]]]:
    """Inputs and outputs a job declared in its latest JobEvent that declares some, for jobs
    never run (a JobEvent links no execution, so the graph has no edges for it).  A JobEvent
    without ``inputs`` and ``outputs`` (one that only changes the job's facets, such as its
    tags) leaves the declaration as it was."""
    ev = s.events
    out: dict[int, tuple[list[VersionRef], list[VersionRef]]] = {}
    for node in nodes:
        bodies = conn.execute(
            sa.select(ev.c.body)
            .where(
                ev.c.job_namespace == node.namespace,
                ev.c.job_name == node.name,
                ev.c.event_kind == "job",
            )
            .order_by(ev.c.seq.desc())
        ).scalars()
        event = next(
            (
                parsed
                for body in bodies
                if "inputs" in (parsed := orjson.loads(bytes(body))) or "outputs" in parsed
            ),
            None,
        )
        if event is None:
            continue
        sides = [
            [
                VersionRef(str(d.get("namespace")), str(d.get("name")), "")
                for d in event.get(side) or []
                if isinstance(d, dict)
            ]
            for side in ("inputs", "outputs")
        ]
        out[node.id] = (sides[0], sides[1])
    return out


__all__ = [
    "ACTIVITY",
    "LATEST_RUNS",
    "NEWEST_FIRST",
    "NODE_COLUMNS",
    "RUN_COLUMNS",
    "VERSION_COLUMNS",
    "created_by",
    "datasets_of",
    "declared_lineage",
    "find_node",
    "jobs_of",
    "newest_versions",
    "node_row",
    "nodes_by_id",
    "page_of_nodes",
    "page_of_versions",
    "require_node",
    "require_version",
    "runs_of",
    "version_ends",
    "version_row",
]
