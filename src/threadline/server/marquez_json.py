"""Marquez's JSON shapes for the catalog rows of :mod:`threadline.query.catalog`.

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

Lineage node ids are ``dataset:{namespace}:{name}`` or ``job:{namespace}:{name}``
(:func:`node_id_candidates` reads them); edges point the way data flows (dataset → job for an
input, job → dataset for an output; threadline's own data → data ``derived`` edges appear as
dataset → dataset).
"""

from __future__ import annotations

from typing import Any, Final

from threadline.errors import UsageError
from threadline.model.times import iso
from threadline.query.catalog import (
    Dataset,
    DatasetVersion,
    Job,
    Namespace,
    NodeLineage,
    NodeRow,
    Run,
    VersionRef,
    VersionRow,
)

RUN_STATES: Final = {
    "START": "RUNNING",
    "RUNNING": "RUNNING",
    "COMPLETE": "COMPLETED",
    "FAIL": "FAILED",
    "ABORT": "ABORTED",
    "OTHER": "NEW",
}
_STREAM_SCHEMES: Final = ("kafka://", "pulsar://", "kinesis://", "pubsub://")


def _get(facets: dict[str, Any], facet: str, key: str) -> Any:
    body = facets.get(facet)
    return body.get(key) if isinstance(body, dict) else None


# --- namespaces and runs ----------------------------------------------------------------------


def namespace_json(namespace: Namespace) -> dict[str, Any]:
    """A Marquez ``Namespace``."""
    return {
        "name": namespace.name,
        "createdAt": iso(namespace.created_us),
        "updatedAt": iso(namespace.updated_us),
        "ownerName": "anonymous",
        "description": None,
        "isHidden": False,
    }


def run_json(run: Run) -> dict[str, Any]:
    """A Marquez ``Run``."""
    started, ended = run.started_us, run.ended_us
    job_version = None
    if run.job_version is not None:
        namespace, name, version = run.job_version
        job_version = {"namespace": namespace, "name": name, "version": version}
    return {
        "id": run.run_id,
        "createdAt": iso(started if started is not None else run.state_time_us),
        "updatedAt": iso(run.state_time_us),
        "nominalStartTime": _get(run.facets, "nominalTime", "nominalStartTime"),
        "nominalEndTime": _get(run.facets, "nominalTime", "nominalEndTime"),
        "state": RUN_STATES.get(run.state, "NEW"),
        "startedAt": iso(started),
        "endedAt": iso(ended),
        "durationMs": (ended - started) // 1000
        if started is not None and ended is not None
        else None,
        "args": {},
        "jobVersion": job_version,
        "inputDatasetVersions": _dataset_versions(run.inputs),
        "outputDatasetVersions": _dataset_versions(run.outputs),
        "context": {},
        "facets": run.facets,
    }


def _dataset_versions(ends: list[VersionRef]) -> list[dict[str, Any]]:
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


def dataset_json(dataset: Dataset) -> dict[str, Any]:
    """A Marquez ``Dataset``."""
    return _dataset_body(dataset.node, dataset.current)


def dataset_version_json(entry: DatasetVersion) -> dict[str, Any]:
    """A Marquez ``DatasetVersion``."""
    node, version = entry.node, entry.version
    body = _dataset_body(node, version)
    return {
        "id": {"namespace": node.namespace, "name": node.name, "version": version.version},
        "type": body["type"],
        "name": node.name,
        "physicalName": node.name,
        "createdAt": iso(version.first_seen_us),
        "version": version.version,
        "namespace": node.namespace,
        "sourceName": body["sourceName"],
        "fields": body["fields"],
        "tags": body["tags"],
        "lifecycleState": body["lastLifecycleState"],
        "description": body["description"],
        "createdByRun": run_json(entry.created_by) if entry.created_by else None,
        "columnLineage": body["columnLineage"],
        "facets": body["facets"],
    }


# --- jobs -------------------------------------------------------------------------------------


def _job_type(facets: dict[str, Any]) -> str:
    processing = _get(facets, "jobType", "processingType")
    if isinstance(processing, str) and processing.upper().startswith("STREAM"):
        return "STREAM"
    return "BATCH"


def _dataset_ids(ends: list[VersionRef]) -> list[dict[str, str]]:
    seen: dict[tuple[str, str], None] = {}
    for namespace, name, _version in ends:
        seen.setdefault((namespace, name))
    return [{"namespace": ns, "name": name} for ns, name in seen]


def job_json(job: Job) -> dict[str, Any]:
    """A Marquez ``Job``."""
    node = job.node
    runs = [run_json(run) for run in job.latest_runs]
    parent = _get(runs[0]["facets"], "parent", "job") if runs else None
    location = _get(node.facets, "sourceCodeLocation", "url")
    return {
        "id": {"namespace": node.namespace, "name": node.name},
        "type": _job_type(node.facets),
        "name": node.name,
        "simpleName": node.name,
        "parentJobName": parent.get("name") if isinstance(parent, dict) else None,
        "createdAt": iso(node.first_seen_us),
        "updatedAt": iso(node.updated_us),
        "namespace": node.namespace,
        "inputs": _dataset_ids(job.inputs),
        "outputs": _dataset_ids(job.outputs),
        "location": location if isinstance(location, str) else None,
        "context": {},
        "description": _get(node.facets, "documentation", "description"),
        "latestRun": runs[0] if runs else None,
        "latestRuns": runs,
        "facets": node.facets,
        "currentVersion": job.current.version if job.current else None,
        "labels": [],
        "tags": _tags(node.facets),
    }


# --- lineage ----------------------------------------------------------------------------------


def node_id_candidates(node_id: str) -> tuple[str, list[tuple[str, str]]]:
    """The node type and the ``(namespace, name)`` readings of a Marquez ``nodeId``, shortest
    namespace first: a namespace may hold colons (``postgres://h:5432``), so each split is a
    candidate the store decides between.  A ``#version`` suffix is dropped (the graph is
    answered at node level, like Marquez)."""
    kind, sep, rest = node_id.partition(":")
    if not sep or kind not in ("dataset", "job") or not rest:
        raise UsageError(
            f"nodeId {node_id!r} is not a Marquez node id "
            "(expected dataset:NAMESPACE:NAME or job:NAMESPACE:NAME)"
        )
    rest = rest.split("#", 1)[0]
    splits = [(rest[:i], rest[i + 1 :]) for i, ch in enumerate(rest) if ch == ":"]
    return kind, [(namespace, name) for namespace, name in splits if namespace and name]


def _marquez_id(node: NodeRow) -> str:
    return f"{node.type}:{node.namespace}:{node.name}"


def lineage_json(graph: NodeLineage) -> dict[str, Any]:
    """Marquez's ``{"graph": [Node]}``, nodes by id, each with its unique in and out edges."""
    data: dict[int, dict[str, Any]] = {}
    nodes: dict[int, NodeRow] = {}
    for dataset in graph.datasets:
        nodes[dataset.node.id] = dataset.node
        data[dataset.node.id] = dataset_json(dataset)
    for job in graph.jobs:
        nodes[job.node.id] = job.node
        data[job.node.id] = job_json(job)
    ids = {pk: _marquez_id(node) for pk, node in nodes.items()}
    incoming: dict[int, set[tuple[str, str]]] = {pk: set() for pk in nodes}
    outgoing: dict[int, set[tuple[str, str]]] = {pk: set() for pk in nodes}
    for src, dst, _relation in graph.edges:
        if src == dst:
            continue
        edge = (ids[src], ids[dst])
        outgoing[src].add(edge)
        incoming[dst].add(edge)
    graph_json = []
    for pk in sorted(nodes, key=lambda k: ids[k]):
        graph_json.append(
            {
                "id": ids[pk],
                "type": "DATASET" if nodes[pk].type == "dataset" else "JOB",
                "data": data[pk],
                "inEdges": _edges_json(incoming[pk]),
                "outEdges": _edges_json(outgoing[pk]),
            }
        )
    return {"graph": graph_json}


def _edges_json(edges: set[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"origin": origin, "destination": dest} for origin, dest in sorted(edges)]


__all__ = [
    "RUN_STATES",
    "dataset_json",
    "dataset_version_json",
    "job_json",
    "lineage_json",
    "namespace_json",
    "node_id_candidates",
    "run_json",
]
