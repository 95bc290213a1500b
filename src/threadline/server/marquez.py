"""Marquez-compatible read endpoints, in Marquez's JSON shapes (API ``/api/v1``).

========================================================  ==========================================
``GET /api/v1/namespaces``                                ``{"namespaces": [Namespace]}``
``GET /api/v1/namespaces/{ns}``                           ``Namespace``
``GET /api/v1/namespaces/{ns}/datasets``                  ``{"totalCount": n, "datasets": [Dataset]}``
``GET /api/v1/namespaces/{ns}/datasets/{name}``           ``Dataset``
``GET /api/v1/namespaces/{ns}/datasets/{name}/versions``  ``{"totalCount": n, "versions": [DatasetVersion]}``
``GET /api/v1/namespaces/{ns}/jobs``                      ``{"totalCount": n, "jobs": [Job]}``
``GET /api/v1/namespaces/{ns}/jobs/{name}``               ``Job``
``GET /api/v1/namespaces/{ns}/jobs/{name}/runs``          ``{"totalCount": n, "runs": [Run]}``
``GET /api/v1/jobs/runs/{id}``                            ``Run``
``GET /api/v1/lineage?nodeId=…&depth=N``                  ``{"graph": [Node]}``
========================================================  ==========================================

Lists take ``limit`` (default 100) and ``offset``.  Namespaces and names in the path are
percent-encoded by Marquez clients (``postgres%3A%2F%2Fdb%3A5432``) and decoded here.

How threadline's graph maps onto Marquez's model:

* a Marquez *namespace* is any namespace a job or dataset lives in;
* a *dataset* is a dataset node; its ``currentVersion`` is its newest recorded version
  (threadline's version token, ``b3:…`` for content, ``run:<runId>`` for an unversioned output,
  ``v:…`` for a producer's ``datasetVersion``, rather than a UUID); ``fields`` come from the
  ``schema`` facet, ``description`` from ``documentation``, ``tags`` from ``tags`` and
  threadline's labels, ``columnLineage`` from ``columnLineage``; ``facets`` are the node's
  facets overlaid with its newest version's;
* a *job* is a job node; its ``currentVersion`` is its newest execution, whose inputs and
  outputs are the job's ``inputs``/``outputs``; ``latestRun`` is the run with the latest
  activity;
* a *run*'s ``state`` follows Marquez (START/RUNNING → ``RUNNING``, COMPLETE → ``COMPLETED``,
  FAIL → ``FAILED``, ABORT → ``ABORTED``, OTHER → ``NEW``).

Lineage: ``nodeId`` is ``dataset:{namespace}:{name}`` or ``job:{namespace}:{name}`` (a
``#version`` suffix is ignored: the graph is answered at node level, like Marquez).  The answer
holds every dataset and job connected to the node, upstream and downstream, up to ``depth`` job
hops (default 20): a walk of at most ``2 * depth + 1`` edges.  Edges point the way data flows
(dataset → job for an input, job → dataset for an output; threadline's own data → data
``derived`` edges appear as dataset → dataset).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final, TypeVar
from urllib.parse import unquote

import orjson
import sqlalchemy as sa
from fastapi import APIRouter, Path, Query, Request
from sqlalchemy.engine import Connection

from threadline.errors import NotFound, UsageError
from threadline.model.times import iso
from threadline.query.reading import read
from threadline.store import schema as s

router = APIRouter(tags=["Marquez"])

T = TypeVar("T")

_n, _v, _e, _r = s.nodes, s.versions, s.edges, s.runs
_CHUNK: Final = 500
#: Runs listed in a job's ``latestRuns``.
LATEST_RUNS: Final = 10
RUN_STATES: Final = {
    "START": "RUNNING",
    "RUNNING": "RUNNING",
    "COMPLETE": "COMPLETED",
    "FAIL": "FAILED",
    "ABORT": "ABORTED",
    "OTHER": "NEW",
}
_STREAM_SCHEMES: Final = ("kafka://", "pulsar://", "kinesis://", "pubsub://")

Limit = Annotated[int, Query(ge=1, le=10_000, description="How many to return")]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1, description="How many to skip")]
NamespacePath = Annotated[str, Path(description="Namespace (percent-encoded)")]
NamePath = Annotated[str, Path(description="Dataset or job name (percent-encoded)")]


def _read(request: Request, fn: Callable[[Connection], T]) -> T:
    return read(request.app.state.runtime.store, fn)


def _chunks(items: Sequence[T]) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _facets(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    value = orjson.loads(text)
    return value if isinstance(value, dict) else {}


def _get(facets: dict[str, Any], facet: str, key: str) -> Any:
    body = facets.get(facet)
    return body.get(key) if isinstance(body, dict) else None


# --- rows -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NodeRow:
    id: int
    type: str
    namespace: str
    name: str
    kind: str
    facets: dict[str, Any]
    first_seen_us: int
    updated_us: int


@dataclass(frozen=True, slots=True)
class VersionRow:
    id: int
    node_id: int
    version: str
    facets: dict[str, Any]
    first_seen_us: int


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


def _nodes_by_id(conn: Connection, ids: Sequence[int]) -> dict[int, NodeRow]:
    out: dict[int, NodeRow] = {}
    for chunk in _chunks(list(ids)):
        for row in conn.execute(sa.select(*_NODE_COLUMNS).where(_n.c.id.in_(chunk))):
            out[int(row.id)] = _node(row)
    return out


def _find_node(conn: Connection, type_: str, namespace: str, name: str) -> NodeRow | None:
    row = conn.execute(
        sa.select(*_NODE_COLUMNS).where(
            _n.c.type == type_, _n.c.namespace == namespace, _n.c.name == name
        )
    ).first()
    return _node(row) if row is not None else None


def _require_node(conn: Connection, type_: str, namespace: str, name: str) -> NodeRow:
    node = _find_node(conn, type_, namespace, name)
    if node is None:
        raise NotFound(f"no {type_} {name!r} in namespace {namespace!r}")
    return node


def _page(
    conn: Connection, type_: str, namespace: str, limit: int, offset: int
) -> tuple[list[NodeRow], int]:
    where = sa.and_(_n.c.type == type_, _n.c.namespace == namespace)
    total = int(conn.execute(sa.select(sa.func.count()).select_from(_n).where(where)).scalar_one())
    rows = conn.execute(
        sa.select(*_NODE_COLUMNS).where(where).order_by(_n.c.name).limit(limit).offset(offset)
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
        stmt = sa.select(
            _v.c.id, _v.c.node_id, _v.c.version, _v.c.facets, _v.c.first_seen_us
        ).where(_v.c.node_id.in_(chunk), _v.c.first_seen_us == newest)
        for row in conn.execute(stmt):
            current = out.get(int(row.node_id))
            if current is None or int(row.id) > current.id:
                out[int(row.node_id)] = VersionRow(
                    int(row.id),
                    int(row.node_id),
                    row.version,
                    _facets(row.facets),
                    int(row.first_seen_us),
                )
    return out


def _version_ends(
    conn: Connection, version_ids: Sequence[int], *, inputs: bool
) -> dict[int, list[tuple[str, str, str]]]:
    """For executions: the (namespace, name, version) of the data they read (or wrote)."""
    other = sa.alias(_v)
    out: dict[int, list[tuple[str, str, str]]] = {}
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
            out.setdefault(int(execution), []).append((namespace, name, version))
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


def _runs_json(conn: Connection, rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Marquez ``Run`` objects for rows of ``_RUN_COLUMNS``, in the same order."""
    executions = sorted({int(r.execution_id) for r in rows if r.execution_id is not None})
    versions: dict[int, tuple[str, str, str]] = {}
    for chunk in _chunks(executions):
        stmt = (
            sa.select(_v.c.id, _n.c.namespace, _n.c.name, _v.c.version)
            .join(_n, _n.c.id == _v.c.node_id)
            .where(_v.c.id.in_(chunk))
        )
        for vid, namespace, name, version in conn.execute(stmt):
            versions[int(vid)] = (namespace, name, version)
    inputs = _version_ends(conn, executions, inputs=True)
    outputs = _version_ends(conn, executions, inputs=False)
    out = []
    for row in rows:
        facets = _facets(row.facets)
        execution = int(row.execution_id) if row.execution_id is not None else None
        started, ended = row.started_us, row.ended_us
        job_version = None
        if execution is not None and execution in versions:
            namespace, name, version = versions[execution]
            job_version = {"namespace": namespace, "name": name, "version": version}
        out.append(
            {
                "id": row.run_id,
                "createdAt": iso(started if started is not None else row.state_time_us),
                "updatedAt": iso(row.state_time_us),
                "nominalStartTime": _get(facets, "nominalTime", "nominalStartTime"),
                "nominalEndTime": _get(facets, "nominalTime", "nominalEndTime"),
                "state": RUN_STATES.get(row.state, "NEW"),
                "startedAt": iso(started),
                "endedAt": iso(ended),
                "durationMs": (ended - started) // 1000
                if started is not None and ended is not None
                else None,
                "args": {},
                "jobVersion": job_version,
                "inputDatasetVersions": _dataset_versions(inputs.get(execution or -1, [])),
                "outputDatasetVersions": _dataset_versions(outputs.get(execution or -1, [])),
                "context": {},
                "facets": facets,
            }
        )
    return out


def _dataset_versions(ends: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
    return [
        {"datasetVersionId": {"namespace": ns, "name": name, "version": version}, "facets": {}}
        for ns, name, version in ends
    ]


# --- datasets ---------------------------------------------------------------------------------


def _fields(facets: dict[str, Any]) -> list[dict[str, Any]]:
    fields = _get(facets, "schema", "fields")
    if not isinstance(fields, list):
        return []
    return [
        {
            "name": f.get("name"),
            "type": f.get("type"),
            "tags": [],
            "description": f.get("description"),
        }
        for f in fields
        if isinstance(f, dict)
    ]


def _tags(facets: dict[str, Any]) -> list[str]:
    tags: set[str] = set()
    for tag in _get(facets, "tags", "tags") or []:
        if isinstance(tag, dict) and isinstance(tag.get("key"), str):
            value = tag.get("value")
            tags.add(f"{tag['key']}:{value}" if isinstance(value, str) and value else tag["key"])
    labels = facets.get("threadline_classification")
    if isinstance(labels, dict):
        for key in ("labels", "inherited"):
            tags.update(x for x in labels.get(key, []) or [] if isinstance(x, str))
    return sorted(tags)


def _column_lineage(facets: dict[str, Any]) -> list[dict[str, Any]] | None:
    fields = _get(facets, "columnLineage", "fields")
    if not isinstance(fields, dict):
        return None
    out = []
    for name, spec in sorted(fields.items()):
        if not isinstance(spec, dict):
            continue
        inputs = []
        for field in spec.get("inputFields") or []:
            if not isinstance(field, dict):
                continue
            transformations = field.get("transformations")
            first = (
                transformations[0] if isinstance(transformations, list) and transformations else {}
            )
            inputs.append(
                {
                    "namespace": field.get("namespace"),
                    "dataset": field.get("name"),
                    "field": field.get("field"),
                    "transformationDescription": spec.get("transformationDescription")
                    or (first.get("description") if isinstance(first, dict) else None),
                    "transformationType": spec.get("transformationType")
                    or (first.get("type") if isinstance(first, dict) else None),
                }
            )
        out.append({"name": name, "inputFields": inputs})
    return out


def _dataset_type(namespace: str) -> str:
    return "STREAM" if namespace.startswith(_STREAM_SCHEMES) else "DB_TABLE"


def _dataset_body(node: NodeRow, version: VersionRow | None) -> dict[str, Any]:
    facets = {**node.facets, **(version.facets if version else {})}
    source = _get(facets, "dataSource", "name")
    lifecycle = _get(facets, "lifecycleStateChange", "lifecycleStateChange")
    return {
        "id": {"namespace": node.namespace, "name": node.name},
        "type": _dataset_type(node.namespace),
        "name": node.name,
        "physicalName": node.name,
        "createdAt": iso(node.first_seen_us),
        "updatedAt": iso(max(node.updated_us, version.first_seen_us if version else 0)),
        "namespace": node.namespace,
        "sourceName": source if isinstance(source, str) and source else node.namespace,
        "fields": _fields(facets),
        "tags": _tags(facets),
        "lastModifiedAt": iso(version.first_seen_us) if version else None,
        "lastLifecycleState": lifecycle if isinstance(lifecycle, str) else None,
        "description": _get(facets, "documentation", "description"),
        "currentVersion": version.version if version else None,
        "columnLineage": _column_lineage(facets),
        "facets": facets,
        "deleted": False,
    }


def datasets_json(conn: Connection, nodes: Sequence[NodeRow]) -> list[dict[str, Any]]:
    newest = _newest_versions(conn, [n.id for n in nodes])
    return [_dataset_body(node, newest.get(node.id)) for node in nodes]


def _created_by(conn: Connection, version_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
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
    runs = _runs_json(conn, [row for _, row in ordered])
    return {version: run for (version, _row), run in zip(ordered, runs, strict=True)}


# --- jobs -------------------------------------------------------------------------------------


def _job_type(facets: dict[str, Any]) -> str:
    processing = _get(facets, "jobType", "processingType")
    if isinstance(processing, str) and processing.upper().startswith("STREAM"):
        return "STREAM"
    return "BATCH"


def jobs_json(conn: Connection, nodes: Sequence[NodeRow]) -> list[dict[str, Any]]:
    ids = [n.id for n in nodes]
    newest = _newest_versions(conn, ids)
    execution_ids = [v.id for v in newest.values()]
    inputs = _version_ends(conn, execution_ids, inputs=True)
    outputs = _version_ends(conn, execution_ids, inputs=False)
    latest: dict[int, list[Any]] = {}
    for chunk in _chunks(ids):
        rank = (
            sa.func.row_number()
            .over(partition_by=_r.c.job_node_id, order_by=(_ACTIVITY.desc(), _r.c.last_seq.desc()))
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
    static = _static_lineage(conn, [n for n in nodes if n.id not in newest])
    all_rows = [row for node in nodes for row in latest.get(node.id, [])]
    runs = iter(_runs_json(conn, all_rows))
    out = []
    for node in nodes:
        node_runs = [next(runs) for _ in latest.get(node.id, [])]
        version = newest.get(node.id)
        ends_in = inputs.get(version.id, []) if version else static.get(node.id, ([], []))[0]
        ends_out = outputs.get(version.id, []) if version else static.get(node.id, ([], []))[1]
        parent = _get(node_runs[0]["facets"], "parent", "job") if node_runs else None
        location = _get(node.facets, "sourceCodeLocation", "url")
        out.append(
            {
                "id": {"namespace": node.namespace, "name": node.name},
                "type": _job_type(node.facets),
                "name": node.name,
                "simpleName": node.name,
                "parentJobName": parent.get("name") if isinstance(parent, dict) else None,
                "createdAt": iso(node.first_seen_us),
                "updatedAt": iso(node.updated_us),
                "namespace": node.namespace,
                "inputs": _dataset_ids(ends_in),
                "outputs": _dataset_ids(ends_out),
                "location": location if isinstance(location, str) else None,
                "context": {},
                "description": _get(node.facets, "documentation", "description"),
                "latestRun": node_runs[0] if node_runs else None,
                "latestRuns": node_runs,
                "facets": node.facets,
                "currentVersion": version.version if version else None,
                "labels": [],
                "tags": _tags(node.facets),
            }
        )
    return out


_Ends = list[tuple[str, str, str]]


def _static_lineage(conn: Connection, nodes: Sequence[NodeRow]) -> dict[int, tuple[_Ends, _Ends]]:
    """Inputs and outputs a job declared in its latest JobEvent, for jobs never run (a JobEvent
    links no execution, so the graph has no edges for it)."""
    ev = s.events
    out: dict[int, tuple[_Ends, _Ends]] = {}
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
        sides = []
        for side in ("inputs", "outputs"):
            sides.append(
                [
                    (str(d.get("namespace")), str(d.get("name")), "")
                    for d in event.get(side) or []
                    if isinstance(d, dict)
                ]
            )
        out[node.id] = (sides[0], sides[1])
    return out


def _dataset_ids(ends: list[tuple[str, str, str]]) -> list[dict[str, str]]:
    seen: dict[tuple[str, str], None] = {}
    for namespace, name, _version in ends:
        seen.setdefault((namespace, name))
    return [{"namespace": ns, "name": name} for ns, name in seen]


# --- namespaces -------------------------------------------------------------------------------


def _namespace_json(name: str, created: int, updated: int) -> dict[str, Any]:
    return {
        "name": name,
        "createdAt": iso(created),
        "updatedAt": iso(updated),
        "ownerName": "anonymous",
        "description": None,
        "isHidden": False,
    }


_NAMESPACES = sa.select(
    _n.c.namespace, sa.func.min(_n.c.first_seen_us), sa.func.max(_n.c.updated_us)
).group_by(_n.c.namespace)


# --- endpoints --------------------------------------------------------------------------------


@router.get("/api/v1/namespaces", summary="List namespaces")
def list_namespaces(request: Request, limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    def query(conn: Connection) -> dict[str, Any]:
        stmt = _NAMESPACES.order_by(_n.c.namespace).limit(limit).offset(offset)
        rows = conn.execute(stmt).all()
        return {"namespaces": [_namespace_json(*row) for row in rows]}

    return _read(request, query)


@router.get("/api/v1/namespaces/{namespace}", summary="Get a namespace")
def get_namespace(request: Request, namespace: NamespacePath) -> dict[str, Any]:
    ns = unquote(namespace)

    def query(conn: Connection) -> dict[str, Any]:
        row = conn.execute(_NAMESPACES.where(_n.c.namespace == ns)).first()
        if row is None:
            raise NotFound(f"no namespace {ns!r}")
        return _namespace_json(*row)

    return _read(request, query)


@router.get("/api/v1/namespaces/{namespace}/datasets", summary="List datasets")
def list_datasets(
    request: Request, namespace: NamespacePath, limit: Limit = 100, offset: Offset = 0
) -> dict[str, Any]:
    ns = unquote(namespace)

    def query(conn: Connection) -> dict[str, Any]:
        nodes, total = _page(conn, "dataset", ns, limit, offset)
        return {"totalCount": total, "datasets": datasets_json(conn, nodes)}

    return _read(request, query)


@router.get("/api/v1/namespaces/{namespace}/datasets/{dataset}", summary="Get a dataset")
def get_dataset(request: Request, namespace: NamespacePath, dataset: NamePath) -> dict[str, Any]:
    ns, name = unquote(namespace), unquote(dataset)

    def query(conn: Connection) -> dict[str, Any]:
        return datasets_json(conn, [_require_node(conn, "dataset", ns, name)])[0]

    return _read(request, query)


@router.get(
    "/api/v1/namespaces/{namespace}/datasets/{dataset}/versions", summary="List dataset versions"
)
def list_dataset_versions(
    request: Request,
    namespace: NamespacePath,
    dataset: NamePath,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    ns, name = unquote(namespace), unquote(dataset)

    def query(conn: Connection) -> dict[str, Any]:
        node = _require_node(conn, "dataset", ns, name)
        total = int(
            conn.execute(
                sa.select(sa.func.count()).select_from(_v).where(_v.c.node_id == node.id)
            ).scalar_one()
        )
        rows = conn.execute(
            sa.select(_v.c.id, _v.c.node_id, _v.c.version, _v.c.facets, _v.c.first_seen_us)
            .where(_v.c.node_id == node.id)
            .order_by(_v.c.first_seen_us.desc(), _v.c.id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
        versions = [
            VersionRow(
                int(r.id), int(r.node_id), r.version, _facets(r.facets), int(r.first_seen_us)
            )
            for r in rows
        ]
        created = _created_by(conn, [v.id for v in versions])
        out = []
        for version in versions:
            body = _dataset_body(node, version)
            out.append(
                {
                    "id": {"namespace": ns, "name": name, "version": version.version},
                    "type": body["type"],
                    "name": name,
                    "physicalName": name,
                    "createdAt": iso(version.first_seen_us),
                    "version": version.version,
                    "namespace": ns,
                    "sourceName": body["sourceName"],
                    "fields": body["fields"],
                    "tags": body["tags"],
                    "lifecycleState": body["lastLifecycleState"],
                    "description": body["description"],
                    "createdByRun": created.get(version.id),
                    "columnLineage": body["columnLineage"],
                    "facets": body["facets"],
                }
            )
        return {"totalCount": total, "versions": out}

    return _read(request, query)


@router.get("/api/v1/namespaces/{namespace}/jobs", summary="List jobs")
def list_jobs(
    request: Request, namespace: NamespacePath, limit: Limit = 100, offset: Offset = 0
) -> dict[str, Any]:
    ns = unquote(namespace)

    def query(conn: Connection) -> dict[str, Any]:
        nodes, total = _page(conn, "job", ns, limit, offset)
        return {"totalCount": total, "jobs": jobs_json(conn, nodes)}

    return _read(request, query)


@router.get("/api/v1/namespaces/{namespace}/jobs/{job}", summary="Get a job")
def get_job(request: Request, namespace: NamespacePath, job: NamePath) -> dict[str, Any]:
    ns, name = unquote(namespace), unquote(job)

    def query(conn: Connection) -> dict[str, Any]:
        return jobs_json(conn, [_require_node(conn, "job", ns, name)])[0]

    return _read(request, query)


@router.get("/api/v1/namespaces/{namespace}/jobs/{job}/runs", summary="List a job's runs")
def list_runs(
    request: Request,
    namespace: NamespacePath,
    job: NamePath,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    ns, name = unquote(namespace), unquote(job)

    def query(conn: Connection) -> dict[str, Any]:
        node = _require_node(conn, "job", ns, name)
        where = _r.c.job_node_id == node.id
        total = int(
            conn.execute(sa.select(sa.func.count()).select_from(_r).where(where)).scalar_one()
        )
        rows = conn.execute(
            sa.select(*_RUN_COLUMNS)
            .where(where)
            .order_by(_ACTIVITY.desc(), _r.c.last_seq.desc())
            .limit(limit)
            .offset(offset)
        ).all()
        return {"totalCount": total, "runs": _runs_json(conn, rows)}

    return _read(request, query)


@router.get("/api/v1/jobs/runs/{run_id}", summary="Get a run")
def get_run(request: Request, run_id: str) -> dict[str, Any]:
    def query(conn: Connection) -> dict[str, Any]:
        row = conn.execute(sa.select(*_RUN_COLUMNS).where(_r.c.run_id == run_id)).first()
        if row is None:
            raise NotFound(f"no run {run_id!r}")
        return _runs_json(conn, [row])[0]

    return _read(request, query)


# --- lineage ----------------------------------------------------------------------------------


def parse_node_id(conn: Connection, node_id: str) -> NodeRow:
    """The node a Marquez ``nodeId`` names; the namespace may hold colons (``postgres://h:5432``),
    so every split is tried against the store."""
    kind, sep, rest = node_id.partition(":")
    if not sep or kind not in ("dataset", "job") or not rest:
        raise UsageError(
            f"nodeId {node_id!r} is not a Marquez node id "
            "(expected dataset:NAMESPACE:NAME or job:NAMESPACE:NAME)"
        )
    rest = rest.split("#", 1)[0]
    for index in [i for i, ch in enumerate(rest) if ch == ":"]:
        namespace, name = rest[:index], rest[index + 1 :]
        if namespace and name:
            node = _find_node(conn, kind, namespace, name)
            if node is not None:
                return node
    raise NotFound(f"no node {node_id!r}")


_VS, _VD = sa.alias(_v, "vs"), sa.alias(_v, "vd")


def _neighbours(conn: Connection, frontier: Sequence[int]) -> set[tuple[int, int, str]]:
    """Node-level edges ``(from node, to node, relation)`` touching any node of ``frontier``."""
    found: set[tuple[int, int, str]] = set()
    base = sa.select(_VS.c.node_id, _VD.c.node_id, _e.c.relation).select_from(
        _e.join(_VS, _VS.c.id == _e.c.src).join(_VD, _VD.c.id == _e.c.dst)
    )
    for chunk in _chunks(list(frontier)):
        for side in (_VS, _VD):
            for src, dst, relation in conn.execute(
                base.where(side.c.node_id.in_(chunk)).distinct()
            ):
                found.add((int(src), int(dst), relation))
    return found


def _marquez_id(node: NodeRow) -> str:
    return f"{node.type}:{node.namespace}:{node.name}"


def lineage_graph(conn: Connection, start: NodeRow, depth: int) -> dict[str, Any]:
    max_edges = 2 * depth + 1
    seen = {start.id}
    edges: set[tuple[int, int, str]] = set()
    frontier = [start.id]
    hops = 0
    while frontier and hops < max_edges:
        hops += 1
        found = _neighbours(conn, frontier)
        edges |= found
        frontier = sorted({n for e in found for n in e[:2]} - seen)
        seen.update(frontier)
    edges = {e for e in edges if e[0] in seen and e[1] in seen}
    nodes = _nodes_by_id(conn, sorted(seen))
    data: dict[int, dict[str, Any]] = {}
    datasets = [n for n in nodes.values() if n.type == "dataset"]
    jobs = [n for n in nodes.values() if n.type == "job"]
    for node, body in zip(datasets, datasets_json(conn, datasets), strict=True):
        data[node.id] = body
    for node, body in zip(jobs, jobs_json(conn, jobs), strict=True):
        data[node.id] = body
    ids = {pk: _marquez_id(node) for pk, node in nodes.items()}
    incoming: dict[int, list[dict[str, str]]] = {pk: [] for pk in nodes}
    outgoing: dict[int, list[dict[str, str]]] = {pk: [] for pk in nodes}
    for src, dst, _relation in sorted(edges):
        if src == dst:
            continue
        edge = {"origin": ids[src], "destination": ids[dst]}
        outgoing[src].append(edge)
        incoming[dst].append(edge)
    graph = []
    for pk in sorted(nodes, key=lambda k: ids[k]):
        node = nodes[pk]
        graph.append(
            {
                "id": ids[pk],
                "type": "DATASET" if node.type == "dataset" else "JOB",
                "data": data[pk],
                "inEdges": _unique_sorted(incoming[pk]),
                "outEdges": _unique_sorted(outgoing[pk]),
            }
        )
    return {"graph": graph}


def _unique_sorted(edges: list[dict[str, str]]) -> list[dict[str, str]]:
    unique = {(e["origin"], e["destination"]) for e in edges}
    return [{"origin": o, "destination": d} for o, d in sorted(unique)]


@router.get("/api/v1/lineage", summary="Lineage graph around a dataset or job (Marquez shape)")
def get_lineage(
    request: Request,
    node_id: Annotated[
        str,
        Query(
            alias="nodeId",
            description="dataset:NAMESPACE:NAME or job:NAMESPACE:NAME",
            examples=["dataset:food_delivery:public.delivery_7_days"],
        ),
    ],
    depth: Annotated[int, Query(ge=0, le=100, description="Job hops to follow")] = 20,
) -> dict[str, Any]:
    def query(conn: Connection) -> dict[str, Any]:
        return lineage_graph(conn, parse_node_id(conn, node_id), depth)

    return _read(request, query)


__all__ = ["RUN_STATES", "datasets_json", "jobs_json", "lineage_graph", "parse_node_id", "router"]
