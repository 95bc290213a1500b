"""Marquez-compatible read endpoints, in Marquez's JSON shapes (API ``/api/v1``).

==============================================================  ====================================
``GET /api/v1/namespaces``                                      ``{"namespaces": [Namespace]}``
``GET /api/v1/namespaces/{ns}``                                 ``Namespace``
``GET /api/v1/namespaces/{ns}/datasets``                        ``{"totalCount", "datasets"}``
``GET /api/v1/namespaces/{ns}/datasets/{name}``                 ``Dataset``
``GET /api/v1/namespaces/{ns}/datasets/{name}/versions``        ``{"totalCount", "versions"}``
``GET /api/v1/namespaces/{ns}/datasets/{name}/versions/{v}``    ``DatasetVersion``
``GET /api/v1/namespaces/{ns}/jobs``                            ``{"totalCount", "jobs"}``
``GET /api/v1/namespaces/{ns}/jobs/{name}``                     ``Job``
``GET /api/v1/namespaces/{ns}/jobs/{name}/versions``            ``{"totalCount", "versions"}``
``GET /api/v1/namespaces/{ns}/jobs/{name}/versions/{v}``        ``JobVersion``
``GET /api/v1/namespaces/{ns}/jobs/{name}/runs``                ``{"totalCount", "runs"}``
``GET /api/v1/jobs/runs/{id}``                                  ``Run``
``GET /api/v1/jobs/runs/{id}/facets?type=run|job``              ``{"runId", "facets"}``
``GET /api/v1/sources``                                         ``{"totalCount", "sources"}``
``GET /api/v1/sources/{name}``                                  ``Source``
``GET /api/v1/lineage?nodeId=…&depth=N``                        ``{"graph": [Node]}``
==============================================================  ====================================

and, in their own modules: search (:mod:`.marquez_search`), the column and run lineage graphs
(:mod:`.marquez_graphs`), tags, read and written (:mod:`.marquez_tags`), and the event log by
time (:mod:`.marquez_events`); :data:`router` includes them all.

Lists take ``limit`` (default 100) and ``offset``.  Namespaces and names in the path are
percent-encoded by Marquez clients and decoded here (:mod:`.marquez_params`).  Versions are
shown as UUIDs derived from threadline's version tokens (``b3:…``, ``run:…``, ``ex:…``); a
version in a path may be either.

How threadline's graph maps onto Marquez's model, and the JSON shapes, are in
:mod:`threadline.server.marquez_json`; the rows come from :mod:`threadline.query.catalog`.

Lineage: ``nodeId`` is ``dataset:{namespace}:{name}`` or ``job:{namespace}:{name}`` (a
``#version`` suffix is ignored: the graph is answered at node level, like Marquez).  The answer
holds every dataset and job connected to the node, upstream and downstream, up to ``depth`` job
hops (default 20): a walk of at most ``2 * depth + 1`` edges.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request

from threadline.errors import NotFound
from threadline.query import catalog
from threadline.server import marquez_events, marquez_graphs, marquez_search, marquez_tags
from threadline.server.marquez_graph_json import lineage_json
from threadline.server.marquez_json import (
    dataset_json,
    dataset_version_json,
    job_json,
    job_version_json,
    namespace_json,
    node_id_candidates,
    run_json,
    source_json,
)
from threadline.server.marquez_params import (
    Depth,
    Limit,
    NamePath,
    NamespacePath,
    Offset,
    segment,
    store_of,
)

router = APIRouter(tags=["Marquez"])

VersionPath = Annotated[str, Path(description="Version token (percent-encoded)")]


@router.get("/api/v1/namespaces", summary="List namespaces")
def list_namespaces(request: Request, limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    page = catalog.namespaces(store_of(request), limit=limit, offset=offset)
    return {"namespaces": [namespace_json(ns) for ns in page.items]}


@router.get("/api/v1/namespaces/{namespace}", summary="Get a namespace")
def get_namespace(request: Request, namespace: NamespacePath) -> dict[str, Any]:
    return namespace_json(catalog.namespace(store_of(request), segment(namespace)))


@router.get("/api/v1/namespaces/{namespace}/datasets", summary="List datasets")
def list_datasets(
    request: Request, namespace: NamespacePath, limit: Limit = 100, offset: Offset = 0
) -> dict[str, Any]:
    page = catalog.datasets(store_of(request), segment(namespace), limit=limit, offset=offset)
    return {"totalCount": page.total, "datasets": [dataset_json(d) for d in page.items]}


@router.get("/api/v1/namespaces/{namespace}/datasets/{dataset}", summary="Get a dataset")
def get_dataset(request: Request, namespace: NamespacePath, dataset: NamePath) -> dict[str, Any]:
    return dataset_json(catalog.dataset(store_of(request), segment(namespace), segment(dataset)))


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
    page = catalog.dataset_versions(
        store_of(request), segment(namespace), segment(dataset), limit=limit, offset=offset
    )
    return {"totalCount": page.total, "versions": [dataset_version_json(v) for v in page.items]}


@router.get(
    "/api/v1/namespaces/{namespace}/datasets/{dataset}/versions/{version}",
    summary="Get a dataset version",
)
def get_dataset_version(
    request: Request, namespace: NamespacePath, dataset: NamePath, version: VersionPath
) -> dict[str, Any]:
    found = catalog.dataset_version(
        store_of(request), segment(namespace), segment(dataset), segment(version)
    )
    return dataset_version_json(found)


@router.get("/api/v1/namespaces/{namespace}/jobs", summary="List jobs")
def list_jobs(
    request: Request, namespace: NamespacePath, limit: Limit = 100, offset: Offset = 0
) -> dict[str, Any]:
    page = catalog.jobs(store_of(request), segment(namespace), limit=limit, offset=offset)
    return {"totalCount": page.total, "jobs": [job_json(j) for j in page.items]}


@router.get("/api/v1/namespaces/{namespace}/jobs/{job}", summary="Get a job")
def get_job(request: Request, namespace: NamespacePath, job: NamePath) -> dict[str, Any]:
    return job_json(catalog.job(store_of(request), segment(namespace), segment(job)))


@router.get(
    "/api/v1/namespaces/{namespace}/jobs/{job}/versions",
    summary="List a job's versions (its executions)",
)
def list_job_versions(
    request: Request,
    namespace: NamespacePath,
    job: NamePath,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    page = catalog.job_versions(
        store_of(request), segment(namespace), segment(job), limit=limit, offset=offset
    )
    return {"totalCount": page.total, "versions": [job_version_json(v) for v in page.items]}


@router.get(
    "/api/v1/namespaces/{namespace}/jobs/{job}/versions/{version}", summary="Get a job version"
)
def get_job_version(
    request: Request, namespace: NamespacePath, job: NamePath, version: VersionPath
) -> dict[str, Any]:
    found = catalog.job_version(
        store_of(request), segment(namespace), segment(job), segment(version)
    )
    return job_version_json(found)


@router.get("/api/v1/namespaces/{namespace}/jobs/{job}/runs", summary="List a job's runs")
def list_runs(
    request: Request,
    namespace: NamespacePath,
    job: NamePath,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    page = catalog.runs(
        store_of(request), segment(namespace), segment(job), limit=limit, offset=offset
    )
    return {"totalCount": page.total, "runs": [run_json(r) for r in page.items]}


@router.get("/api/v1/jobs/runs/{run_id}", summary="Get a run")
def get_run(request: Request, run_id: str) -> dict[str, Any]:
    return run_json(catalog.run(store_of(request), run_id))


@router.get("/api/v1/jobs/runs/{run_id}/facets", summary="A run's facets, or its job's")
def get_run_facets(
    request: Request,
    run_id: str,
    type_: Annotated[
        Literal["run", "job"], Query(alias="type", description="The run's facets or its job's")
    ],
) -> dict[str, Any]:
    store = store_of(request)
    run = catalog.run(store, run_id)
    if type_ == "run":
        return {"runId": run.run_id, "facets": run.facets}
    job = catalog.job(store, run.job.namespace, run.job.name)
    return {"runId": run.run_id, "facets": job.node.facets}


@router.get("/api/v1/sources", summary="List sources")
def list_sources(request: Request, limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    page = catalog.sources(store_of(request), limit=limit, offset=offset)
    return {"totalCount": page.total, "sources": [source_json(s) for s in page.items]}


@router.get("/api/v1/sources/{source:path}", summary="Get a source")
def get_source(request: Request, source: str) -> dict[str, Any]:
    # A source is often named by a URL (postgres://db:5432): the path converter takes its
    # slashes, and the path arrives decoded once, as sent.
    return source_json(catalog.source(store_of(request), source))


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
    depth: Depth = 20,
) -> dict[str, Any]:
    kind, names = node_id_candidates(node_id)
    graph = catalog.node_lineage(store_of(request), kind, names, depth)
    if graph is None:
        raise NotFound(f"no node {node_id!r}")
    return lineage_json(graph)


for _module in (marquez_search, marquez_graphs, marquez_tags, marquez_events):
    router.include_router(_module.router)

__all__ = ["router"]
