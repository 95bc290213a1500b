"""The catalog: what the store holds, listed by namespace, as typed rows.

* :func:`namespaces` / :func:`namespace`: every namespace a job or dataset lives in;
* :func:`datasets` / :func:`dataset`: dataset nodes with their newest version;
* :func:`dataset_versions`: one dataset's versions, newest first, each with the run that
  wrote it;
* :func:`jobs` / :func:`job`: job nodes with their newest execution's inputs and outputs (or,
  for a job never run, those its latest JobEvent declared) and their latest runs;
* :func:`runs` / :func:`run`: runs, latest activity first, with what they read and wrote;
* :func:`node_lineage`: every dataset and job connected to one node, at node level.

Rows carry stored values (epoch microseconds, parsed facets); ``to_dict()`` gives the JSON of
``threadline ls --json``.  The Marquez API shapes the same rows its own way
(:mod:`threadline.server.marquez_json`).  Lists are ordered by name (runs by latest activity)
and paged with ``limit`` and ``offset``; each call reads one snapshot of the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Generic, NamedTuple, Protocol, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.errors import NotFound, UsageError
from threadline.model.times import iso
from threadline.query.graph import walk_nodes
from threadline.query.reading import read
from threadline.store import schema as s

if TYPE_CHECKING:
    from threadline.store.base import Store

T = TypeVar("T")


class _Row(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=_Row)

#: Runs listed in a job's :attr:`Job.latest_runs`.
LATEST_RUNS: Final = 10
#: Rows listed when no ``limit`` is given.
DEFAULT_LIMIT: Final = 100

_n, _v, _e, _r = s.nodes, s.versions, s.edges, s.runs
_CHUNK: Final = 500


# --- rows -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Namespace:
    """A namespace some job or dataset lives in."""

    name: str
    created_us: int
    """When its first node was first seen."""
    updated_us: int
    """When any of its nodes last changed."""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "created": iso(self.created_us), "updated": iso(self.updated_us)}


@dataclass(frozen=True, slots=True)
class NodeRow:
    """A dataset or job node."""

    id: int
    """Row id (internal to the store)."""
    type: str
    """``dataset`` or ``job``."""
    namespace: str
    name: str
    kind: str
    """``dataset``, ``features``, ``model``, … or ``job``."""
    facets: dict[str, Any]
    """The node's own facets (a version's facets are on :class:`VersionRow`)."""
    first_seen_us: int
    updated_us: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "namespace": self.namespace,
            "name": self.name,
            "kind": self.kind,
            "created": iso(self.first_seen_us),
            "updated": iso(self.updated_us),
            "facets": self.facets,
        }


@dataclass(frozen=True, slots=True)
class VersionRow:
    """One version of a node: a data version, or an execution of a job."""

    id: int
    node_id: int
    version: str
    facets: dict[str, Any]
    first_seen_us: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "first_seen": iso(self.first_seen_us),
            "facets": self.facets,
        }


class VersionRef(NamedTuple):
    """A version named by its node: ``version`` is ``""`` when only the node is known (the
    datasets a job that never ran declared)."""

    namespace: str
    name: str
    version: str

    def to_dict(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "name": self.name, "version": self.version or None}


@dataclass(frozen=True, slots=True)
class Run:
    """One run of a job, and the data its execution read and wrote."""

    run_id: str
    job: VersionRef
    """The job's namespace and name (``version`` empty)."""
    execution_id: int | None
    state: str
    """The OpenLineage event type of its latest event (``START``, ``COMPLETE``, ``FAIL``…)."""
    state_time_us: int
    started_us: int | None
    ended_us: int | None
    facets: dict[str, Any]
    job_version: VersionRef | None
    """The execution it ran, when one is recorded."""
    inputs: list[VersionRef] = field(default_factory=list)
    outputs: list[VersionRef] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "job": {"namespace": self.job.namespace, "name": self.job.name},
            "state": self.state,
            "started": iso(self.started_us),
            "ended": iso(self.ended_us),
            "updated": iso(self.state_time_us),
            "job_version": self.job_version.to_dict() if self.job_version else None,
            "inputs": [ref.to_dict() for ref in self.inputs],
            "outputs": [ref.to_dict() for ref in self.outputs],
            "facets": self.facets,
        }


@dataclass(frozen=True, slots=True)
class Dataset:
    """A dataset node and its newest version."""

    node: NodeRow
    current: VersionRow | None

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.node.to_dict(),
            "current_version": self.current.to_dict() if self.current else None,
        }


@dataclass(frozen=True, slots=True)
class DatasetVersion:
    """One version of a dataset and the run that wrote it (latest activity first)."""

    node: NodeRow
    version: VersionRow
    created_by: Run | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "namespace": self.node.namespace,
            "name": self.node.name,
            **self.version.to_dict(),
            "created_by": self.created_by.to_dict() if self.created_by else None,
        }


@dataclass(frozen=True, slots=True)
class Job:
    """A job node, its newest execution, what that read and wrote, and its latest runs."""

    node: NodeRow
    current: VersionRow | None
    inputs: list[VersionRef]
    """What the newest execution read; for a job never run, what its JobEvent declared."""
    outputs: list[VersionRef]
    latest_runs: list[Run]
    """At most :data:`LATEST_RUNS`, latest activity first."""

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.node.to_dict(),
            "current_version": self.current.to_dict() if self.current else None,
            "inputs": [ref.to_dict() for ref in self.inputs],
            "outputs": [ref.to_dict() for ref in self.outputs],
            "latest_runs": [run.to_dict() for run in self.latest_runs],
        }


@dataclass(frozen=True, slots=True)
class Page(Generic[R]):
    """One page of a list, and how many there are in all."""

    total: int
    items: list[R]

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "items": [item.to_dict() for item in self.items]}


@dataclass(frozen=True, slots=True)
class NodeLineage:
    """The datasets and jobs connected to a node, and the node-level edges between them."""

    start: NodeRow
    datasets: list[Dataset]
    jobs: list[Job]
    edges: list[tuple[int, int, str]]
    """``(from node id, to node id, relation)``, the way data flowed; may repeat."""


# --- lookups ----------------------------------------------------------------------------------


def _chunks(items: Sequence[T]) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _facets(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    value = orjson.loads(text)
    return value if isinstance(value, dict) else {}


_NODE_COLUMNS: Final = (
    _n.c.id,
    _n.c.type,
    _n.c.namespace,
    _n.c.name,
    _n.c.kind,
    _n.c.facets,
    _n.c.first_seen_us,
    _n.c.updated_us,
)
_VERSION_COLUMNS: Final = (_v.c.id, _v.c.node_id, _v.c.version, _v.c.facets, _v.c.first_seen_us)


def _node(row: Any) -> NodeRow:
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


def _version(row: Any) -> VersionRow:
    return VersionRow(
        int(row.id), int(row.node_id), row.version, _facets(row.facets), int(row.first_seen_us)
    )


def _nodes_by_id(conn: Connection, ids: Sequence[int]) -> dict[int, NodeRow]:
    out: dict[int, NodeRow] = {}
    for chunk in _chunks(list(ids)):
        for row in conn.execute(sa.select(*_NODE_COLUMNS).where(_n.c.id.in_(chunk))):
            out[int(row.id)] = _node(row)
    return out


def find_node(conn: Connection, type_: str, namespace: str, name: str) -> NodeRow | None:
    """The ``dataset`` or ``job`` node ``namespace``/``name``, if recorded."""
    row = conn.execute(
        sa.select(*_NODE_COLUMNS).where(
            _n.c.type == type_, _n.c.namespace == namespace, _n.c.name == name
        )
    ).first()
    return _node(row) if row is not None else None


def _require_node(conn: Connection, type_: str, namespace: str, name: str) -> NodeRow:
    node = find_node(conn, type_, namespace, name)
    if node is None:
        raise NotFound(f"no {type_} {name!r} in namespace {namespace!r}")
    return node


def _page(
    conn: Connection, type_: str, namespace: str | None, limit: int, offset: int
) -> tuple[list[NodeRow], int]:
    where = _n.c.type == type_
    if namespace is not None:
        where = sa.and_(where, _n.c.namespace == namespace)
    total = int(conn.execute(sa.select(sa.func.count()).select_from(_n).where(where)).scalar_one())
    order = (_n.c.name,) if namespace is not None else (_n.c.namespace, _n.c.name)
    rows = conn.execute(
        sa.select(*_NODE_COLUMNS).where(where).order_by(*order).limit(limit).offset(offset)
    )
    return [_node(row) for row in rows], total


def _newest_versions(conn: Connection, node_ids: Sequence[int]) -> dict[int, VersionRow]:
    """Each node's newest version (latest first seen; the higher id on a tie)."""
    inner = sa.alias(_v)
    newest = (
        sa.select(sa.func.max(inner.c.first_seen_us))
        .where(inner.c.node_id == _v.c.node_id)
        .scalar_subquery()
    )
    out: dict[int, VersionRow] = {}
    for chunk in _chunks(list(node_ids)):
        stmt = sa.select(*_VERSION_COLUMNS).where(
            _v.c.node_id.in_(chunk), _v.c.first_seen_us == newest
        )
        for row in conn.execute(stmt):
            current = out.get(int(row.node_id))
            if current is None or int(row.id) > current.id:
                out[int(row.node_id)] = _version(row)
    return out


def _version_ends(
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

_RUN_COLUMNS: Final = (
    _r.c.run_id,
    _r.c.job_node_id,
    _r.c.execution_id,
    _r.c.state,
    _r.c.state_time_us,
    _r.c.started_us,
    _r.c.ended_us,
    _r.c.facets,
)
_ACTIVITY = sa.func.coalesce(_r.c.started_us, _r.c.state_time_us)
_NEWEST_FIRST: Final = (_ACTIVITY.desc(), _r.c.last_seq.desc())


def _runs(conn: Connection, rows: Sequence[Any]) -> list[Run]:
    """:class:`Run` for rows of ``_RUN_COLUMNS``, in the same order."""
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
    jobs = _nodes_by_id(conn, sorted({int(r.job_node_id) for r in rows}))
    inputs = _version_ends(conn, executions, inputs=True)
    outputs = _version_ends(conn, executions, inputs=False)
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


def _created_by(conn: Connection, version_ids: Sequence[int]) -> dict[int, Run]:
    """The run (latest activity first) of the execution that wrote each data version."""
    writers: dict[int, list[int]] = {}
    for chunk in _chunks(list(version_ids)):
        stmt = sa.select(_e.c.dst, _e.c.src).where(_e.c.dst.in_(chunk), _e.c.relation == "output")
        for version, execution in conn.execute(stmt):
            writers.setdefault(int(execution), []).append(int(version))
    best: dict[int, Any] = {}
    for chunk in _chunks(sorted(writers)):
        stmt = sa.select(*_RUN_COLUMNS, _ACTIVITY.label("activity")).where(
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
    runs = _runs(conn, [row for _, row in ordered])
    return {version: run for (version, _row), run in zip(ordered, runs, strict=True)}


# --- datasets and jobs ------------------------------------------------------------------------


def _datasets(conn: Connection, nodes: Sequence[NodeRow]) -> list[Dataset]:
    newest = _newest_versions(conn, [n.id for n in nodes])
    return [Dataset(node, newest.get(node.id)) for node in nodes]


def _jobs(conn: Connection, nodes: Sequence[NodeRow]) -> list[Job]:
    ids = [n.id for n in nodes]
    newest = _newest_versions(conn, ids)
    execution_ids = [v.id for v in newest.values()]
    inputs = _version_ends(conn, execution_ids, inputs=True)
    outputs = _version_ends(conn, execution_ids, inputs=False)
    latest: dict[int, list[Any]] = {}
    for chunk in _chunks(ids):
        rank = (
            sa.func.row_number()
            .over(partition_by=_r.c.job_node_id, order_by=_NEWEST_FIRST)
            .label("rank")
        )
        inner = sa.select(*_RUN_COLUMNS, rank).where(_r.c.job_node_id.in_(chunk)).subquery()
        stmt = (
            sa.select(*(inner.c[c.name] for c in _RUN_COLUMNS))
            .where(inner.c.rank <= LATEST_RUNS)
            .order_by(inner.c.job_node_id, inner.c.rank)
        )
        for row in conn.execute(stmt):
            latest.setdefault(int(row.job_node_id), []).append(row)
    declared = _declared(conn, [n for n in nodes if n.id not in newest])
    runs = iter(_runs(conn, [row for node in nodes for row in latest.get(node.id, [])]))
    out = []
    for node in nodes:
        version = newest.get(node.id)
        if version is not None:
            ends_in, ends_out = inputs.get(version.id, []), outputs.get(version.id, [])
        else:
            ends_in, ends_out = declared.get(node.id, ([], []))
        node_runs = [next(runs) for _ in latest.get(node.id, [])]
        out.append(Job(node, version, ends_in, ends_out, node_runs))
    return out


def _declared(
    conn: Connection, nodes: Sequence[NodeRow]
) -> dict[int, tuple[list[VersionRef], list[VersionRef]]]:
    """Inputs and outputs a job declared in its latest JobEvent, for jobs never run (a JobEvent
    links no execution, so the graph has no edges for it)."""
    ev = s.events
    out: dict[int, tuple[list[VersionRef], list[VersionRef]]] = {}
    for node in nodes:
        body = conn.execute(
            sa.select(ev.c.body)
            .where(
                ev.c.job_namespace == node.namespace,
                ev.c.job_name == node.name,
                ev.c.event_kind == "job",
            )
            .order_by(ev.c.seq.desc())
            .limit(1)
        ).scalar()
        if body is None:
            continue
        event = orjson.loads(bytes(body))
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


# --- the questions ----------------------------------------------------------------------------

_NAMESPACES = sa.select(
    _n.c.namespace, sa.func.min(_n.c.first_seen_us), sa.func.max(_n.c.updated_us)
).group_by(_n.c.namespace)


def namespaces(store: Store, *, limit: int = DEFAULT_LIMIT, offset: int = 0) -> Page[Namespace]:
    """Namespaces by name."""

    def query(conn: Connection) -> Page[Namespace]:
        total = int(
            conn.execute(
                sa.select(sa.func.count(sa.distinct(_n.c.namespace))).select_from(_n)
            ).scalar_one()
        )
        stmt = _NAMESPACES.order_by(_n.c.namespace).limit(limit).offset(offset)
        return Page(total, [Namespace(*row) for row in conn.execute(stmt)])

    return read(store, query)


def namespace(store: Store, name: str) -> Namespace:
    """The namespace ``name``; :class:`NotFound` when no node lives in it."""

    def query(conn: Connection) -> Namespace:
        row = conn.execute(_NAMESPACES.where(_n.c.namespace == name)).first()
        if row is None:
            raise NotFound(f"no namespace {name!r}")
        return Namespace(*row)

    return read(store, query)


def datasets(
    store: Store, namespace: str | None = None, *, limit: int = DEFAULT_LIMIT, offset: int = 0
) -> Page[Dataset]:
    """Datasets of ``namespace`` by name (of every namespace, by namespace and name)."""

    def query(conn: Connection) -> Page[Dataset]:
        nodes, total = _page(conn, "dataset", namespace, limit, offset)
        return Page(total, _datasets(conn, nodes))

    return read(store, query)


def dataset(store: Store, namespace: str, name: str) -> Dataset:
    """The dataset ``name`` of ``namespace``; :class:`NotFound` if not recorded."""
    return read(
        store, lambda conn: _datasets(conn, [_require_node(conn, "dataset", namespace, name)])[0]
    )


def dataset_versions(
    store: Store, namespace: str, name: str, *, limit: int = DEFAULT_LIMIT, offset: int = 0
) -> Page[DatasetVersion]:
    """Versions of one dataset, newest first (first seen, then row id)."""

    def query(conn: Connection) -> Page[DatasetVersion]:
        node = _require_node(conn, "dataset", namespace, name)
        total = int(
            conn.execute(
                sa.select(sa.func.count()).select_from(_v).where(_v.c.node_id == node.id)
            ).scalar_one()
        )
        rows = conn.execute(
            sa.select(*_VERSION_COLUMNS)
            .where(_v.c.node_id == node.id)
            .order_by(_v.c.first_seen_us.desc(), _v.c.id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
        versions = [_version(row) for row in rows]
        created = _created_by(conn, [v.id for v in versions])
        return Page(total, [DatasetVersion(node, v, created.get(v.id)) for v in versions])

    return read(store, query)


def jobs(
    store: Store, namespace: str | None = None, *, limit: int = DEFAULT_LIMIT, offset: int = 0
) -> Page[Job]:
    """Jobs of ``namespace`` by name (of every namespace, by namespace and name)."""

    def query(conn: Connection) -> Page[Job]:
        nodes, total = _page(conn, "job", namespace, limit, offset)
        return Page(total, _jobs(conn, nodes))

    return read(store, query)


def job(store: Store, namespace: str, name: str) -> Job:
    """The job ``name`` of ``namespace``; :class:`NotFound` if not recorded."""
    return read(store, lambda conn: _jobs(conn, [_require_node(conn, "job", namespace, name)])[0])


def runs(
    store: Store,
    namespace: str | None = None,
    job: str | None = None,
    *,
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
) -> Page[Run]:
    """Runs, latest activity first: of the job ``job`` of ``namespace``, of every job of
    ``namespace``, or of every job.  :class:`NotFound` when the job is not recorded."""
    if job is not None and namespace is None:
        raise UsageError(f"which namespace is job {job!r} in? (pass the namespace too)")

    def query(conn: Connection) -> Page[Run]:
        where: sa.ColumnElement[bool] | None = None
        if job is not None and namespace is not None:
            where = _r.c.job_node_id == _require_node(conn, "job", namespace, job).id
        elif namespace is not None:
            in_namespace = sa.select(_n.c.id).where(_n.c.type == "job", _n.c.namespace == namespace)
            where = _r.c.job_node_id.in_(in_namespace)
        count = sa.select(sa.func.count()).select_from(_r)
        stmt = sa.select(*_RUN_COLUMNS)
        if where is not None:
            count, stmt = count.where(where), stmt.where(where)
        total = int(conn.execute(count).scalar_one())
        rows = conn.execute(stmt.order_by(*_NEWEST_FIRST).limit(limit).offset(offset)).all()
        return Page(total, _runs(conn, rows))

    return read(store, query)


def run(store: Store, run_id: str) -> Run:
    """The run ``run_id``; :class:`NotFound` if not recorded."""

    def query(conn: Connection) -> Run:
        row = conn.execute(sa.select(*_RUN_COLUMNS).where(_r.c.run_id == run_id)).first()
        if row is None:
            raise NotFound(f"no run {run_id!r}")
        return _runs(conn, [row])[0]

    return read(store, query)


def node_lineage(
    store: Store, type_: str, names: Iterable[tuple[str, str]], depth: int
) -> NodeLineage | None:
    """Every dataset and job connected to the node, upstream and downstream, up to ``depth``
    job hops (a walk of at most ``2 * depth + 1`` edges), at node level (all versions of a node
    are one vertex).  The node is the first of ``names`` (``(namespace, name)`` pairs) that is
    recorded as a ``type_`` node; ``None`` when none is."""

    def query(conn: Connection) -> NodeLineage | None:
        start = next(
            (
                node
                for namespace, name in names
                if (node := find_node(conn, type_, namespace, name)) is not None
            ),
            None,
        )
        if start is None:
            return None
        reached = walk_nodes(conn, start.id, depth=2 * depth + 1)
        nodes = _nodes_by_id(conn, sorted(reached.order))
        return NodeLineage(
            start=start,
            datasets=_datasets(conn, [n for n in nodes.values() if n.type == "dataset"]),
            jobs=_jobs(conn, [n for n in nodes.values() if n.type == "job"]),
            edges=reached.edges,
        )

    return read(store, query)


def newest_seq(store: Store) -> int:
    """The newest sequence number in the log (0 when it is empty)."""
    # Not through read(): the change stream polls this and logs a failure itself.
    value = store.read(lambda conn: conn.execute(sa.select(sa.func.max(s.events.c.seq))).scalar())
    return int(value or 0)


__all__ = [
    "DEFAULT_LIMIT",
    "LATEST_RUNS",
    "Dataset",
    "DatasetVersion",
    "Job",
    "Namespace",
    "NodeLineage",
    "NodeRow",
    "Page",
    "Run",
    "VersionRef",
    "VersionRow",
    "dataset",
    "dataset_versions",
    "datasets",
    "find_node",
    "job",
    "jobs",
    "namespace",
    "namespaces",
    "newest_seq",
    "node_lineage",
    "run",
    "runs",
]
