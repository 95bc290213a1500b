"""Marquez's JSON shapes for the catalog rows of :mod:`threadline.query.catalog`.

How threadline's graph maps onto Marquez's model:

* a Marquez *namespace* is any namespace a job or dataset lives in;
* a *version* is shown as a UUID derived from threadline's version token (``b3:…`` for
  content, ``run:<runId>`` for an unversioned output, ``ex:…`` for an execution, ``v:…`` for
  a producer's ``datasetVersion``: :func:`threadline.query.catalog.version_uuid`), as Marquez
  and its typed clients expect; a dataset or job version also carries its token as
  ``threadlineVersion``, and the version routes take either;
* a *dataset* is a dataset node; its ``currentVersion`` is its newest recorded version;
  ``fields`` come from the
  ``schema`` facet (each field's ``tags`` from the ``tags`` entries naming it),
  ``description`` from ``documentation``, ``tags`` from ``tags`` and threadline's labels
  (:mod:`threadline.query.catalog.tags`), ``columnLineage`` from ``columnLineage``;
  ``facets`` are the newest version's facets overlaid with the node's (which hold the newest
  tags, documentation and ownership);
* a *job* is a job node; its ``currentVersion`` is its newest execution, whose inputs and
  outputs are the job's ``inputs``/``outputs``; ``latestRun`` is the run with the latest
  activity;
* a job *version* is an execution of the job (the same code, inputs and parameters);
* a *run*'s ``state`` follows Marquez (START/RUNNING → ``RUNNING``, COMPLETE → ``COMPLETED``,
  FAIL → ``FAILED``, ABORT → ``ABORTED``, OTHER → ``NEW``);
* a *source* is a dataset's ``dataSource`` facet, or its namespace
  (:mod:`threadline.query.catalog.sources`); its ``type`` comes from the URL's scheme.

The lineage graphs' shapes are in :mod:`threadline.server.marquez_graph_json`.
"""

from __future__ import annotations

from typing import Any, Final

from threadline.errors import UsageError
from threadline.model.times import iso
from threadline.query.catalog import (
    Dataset,
    DatasetVersion,
    Job,
    JobVersion,
    Namespace,
    NodeRow,
    Run,
    SearchHit,
    Source,
    VersionRef,
    VersionRow,
    field_inputs,
    field_tag_names,
    source_of,
    tag_names,
    version_uuid,
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


def _uuid(node: NodeRow, version: VersionRow | None) -> str | None:
    return version_uuid(node.namespace, node.name, version.version) if version else None


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
        job_version = {
            "namespace": namespace,
            "name": name,
            "version": version_uuid(namespace, name, version),
        }
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
        {
            "datasetVersionId": {
                "namespace": ns,
                "name": name,
                "version": version_uuid(ns, name, version),
            },
            "facets": {},
        }
        for ns, name, version in ends
    ]


# --- datasets ---------------------------------------------------------------------------------


def _fields(facets: dict[str, Any]) -> list[dict[str, Any]]:
    fields = _get(facets, "schema", "fields")
    if not isinstance(fields, list):
        return []
    tags = field_tag_names(facets)
    return [
        {
            "name": f.get("name"),
            "type": f.get("type"),
            "tags": tags.get(str(f.get("name")), []),
            "description": f.get("description"),
        }
        for f in fields
        if isinstance(f, dict)
    ]


def _column_lineage(facets: dict[str, Any]) -> list[dict[str, Any]] | None:
    if not isinstance(_get(facets, "columnLineage", "fields"), dict):
        return None
    return [
        {
            "name": name,
            "inputFields": [
                {
                    "namespace": item.ref.namespace,
                    "dataset": item.ref.dataset,
                    "field": item.ref.field,
                    "transformationDescription": item.description,
                    "transformationType": item.type,
                }
                for item in inputs
            ],
        }
        for name, inputs in field_inputs(facets).items()
    ]


def _dataset_type(namespace: str) -> str:
    return "STREAM" if namespace.startswith(_STREAM_SCHEMES) else "DB_TABLE"


def _dataset_body(dataset: Dataset, facets: dict[str, Any]) -> dict[str, Any]:
    node, version = dataset.node, dataset.current
    lifecycle = _get(facets, "lifecycleStateChange", "lifecycleStateChange")
    return {
        "id": {"namespace": node.namespace, "name": node.name},
        "type": _dataset_type(node.namespace),
        "name": node.name,
        "physicalName": node.name,
        "createdAt": iso(node.first_seen_us),
        "updatedAt": iso(max(node.updated_us, version.first_seen_us if version else 0)),
        "namespace": node.namespace,
        "sourceName": source_of(dataset)[0],
        "fields": _fields(facets),
        "tags": tag_names(node.facets),
        "lastModifiedAt": iso(version.first_seen_us) if version else None,
        "lastLifecycleState": lifecycle if isinstance(lifecycle, str) else None,
        "description": _get(facets, "documentation", "description"),
        "currentVersion": _uuid(node, version),
        "columnLineage": _column_lineage(facets),
        "facets": facets,
        "deleted": False,
    }


def dataset_json(dataset: Dataset) -> dict[str, Any]:
    """A Marquez ``Dataset``."""
    return _dataset_body(dataset, dataset.facets)


def dataset_version_json(entry: DatasetVersion) -> dict[str, Any]:
    """A Marquez ``DatasetVersion``."""
    node, version = entry.node, entry.version
    # This version's own facets, over what the dataset as a whole says (its tags are the
    # dataset's current ones, as in Marquez).
    body = _dataset_body(Dataset(node, version), {**node.facets, **version.facets})
    return {
        "id": {"namespace": node.namespace, "name": node.name, "version": _uuid(node, version)},
        "type": body["type"],
        "name": node.name,
        "physicalName": node.name,
        "createdAt": iso(version.first_seen_us),
        "version": _uuid(node, version),
        "threadlineVersion": version.version,
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
        "currentVersion": _uuid(node, job.current),
        "labels": [],
        "tags": tag_names(node.facets),
    }


# --- node ids --------------------------------------------------------------------------------


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


# --- job versions, sources, search -----------------------------------------------------------


def job_version_json(entry: JobVersion) -> dict[str, Any]:
    """A Marquez ``JobVersion``: one execution of the job."""
    node, version = entry.node, entry.version
    latest = run_json(entry.latest_run) if entry.latest_run else None
    location = _get(node.facets, "sourceCodeLocation", "url")
    return {
        "id": {"namespace": node.namespace, "name": node.name, "version": _uuid(node, version)},
        "name": node.name,
        "version": _uuid(node, version),
        "threadlineVersion": version.version,
        "createdAt": iso(version.first_seen_us),
        "updatedAt": latest["updatedAt"] if latest else iso(version.first_seen_us),
        "namespace": node.namespace,
        "location": location if isinstance(location, str) else None,
        "context": {},
        "inputs": _dataset_ids(entry.inputs),
        "outputs": _dataset_ids(entry.outputs),
        "latestRun": latest,
        "facets": node.facets,
    }


#: Source types by the scheme of their connection URL (Marquez's names).
_SOURCE_TYPES: Final = {
    "postgres": "POSTGRESQL",
    "postgresql": "POSTGRESQL",
    "mysql": "MYSQL",
    "redshift": "REDSHIFT",
    "snowflake": "SNOWFLAKE",
    "bigquery": "BIGQUERY",
    "kafka": "KAFKA",
    "s3": "S3",
    "s3a": "S3",
    "gs": "GCS",
    "abfss": "AZURE",
    "hdfs": "HDFS",
    "file": "FILE",
}


def source_type(connection_url: str) -> str:
    """The type of a source, from its connection URL's scheme (``jdbc:`` skipped)."""
    url = connection_url.removeprefix("jdbc:")
    scheme, sep, _rest = url.partition(":")
    if not sep or not scheme:
        return "UNKNOWN"
    return _SOURCE_TYPES.get(scheme.lower(), scheme.upper())


def source_json(source: Source) -> dict[str, Any]:
    """A Marquez ``Source``."""
    return {
        "type": source_type(source.connection_url),
        "name": source.name,
        "createdAt": iso(source.created_us),
        "updatedAt": iso(source.updated_us),
        "connectionUrl": source.connection_url,
        "description": None,
    }


def search_hit_json(hit: SearchHit) -> dict[str, Any]:
    """A Marquez ``SearchResult``."""
    return {
        "type": "DATASET" if hit.type == "dataset" else "JOB",
        "name": hit.name,
        "updatedAt": iso(hit.updated_us),
        "namespace": hit.namespace,
        "nodeId": f"{hit.type}:{hit.namespace}:{hit.name}",
    }


__all__ = [
    "RUN_STATES",
    "dataset_json",
    "dataset_version_json",
    "job_json",
    "job_version_json",
    "namespace_json",
    "node_id_candidates",
    "run_json",
    "search_hit_json",
    "source_json",
    "source_type",
]
