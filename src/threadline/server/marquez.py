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

How threadline's graph maps onto Marquez's model, and the JSON shapes, are in
:mod:`threadline.server.marquez_json`; the rows come from :mod:`threadline.query.catalog`.

Lineage: ``nodeId`` is ``dataset:{namespace}:{name}`` or ``job:{namespace}:{name}`` (a
``#version`` suffix is ignored: the graph is answered at node level, like Marquez).  The answer
holds every dataset and job connected to the node, upstream and downstream, up to ``depth`` job
hops (default 20): a walk of at most ``2 * depth + 1`` edges.  Edges point the way data flows
(dataset → job for an input, job → dataset for an output; threadline's own data → data
``derived`` edges appear as dataset → dataset).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Path, Query, Request

from threadline.errors import NotFound
from threadline.query import catalog
from threadline.server.marquez_json import (
    dataset_json,
    dataset_version_json,
    job_json,
    lineage_json,
    namespace_json,
    node_id_candidates,
    run_json,
)
from threadline.store.base import Store

router = APIRouter(tags=["Marquez"])

Limit = Annotated[int, Query(ge=1, le=10_000, description="How many to return")]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1, description="How many to skip")]
NamespacePath = Annotated[str, Path(description="Namespace (percent-encoded)")]
NamePath = Annotated[str, Path(description="Dataset or job name (percent-encoded)")]


def _store(request: Request) -> Store:
    store: Store = request.app.state.runtime.store
    return store


@router.get("/api/v1/namespaces", summary="List namespaces")
def list_namespaces(request: Request, limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    page = catalog.namespaces(_store(request), limit=limit, offset=offset)
    return {"namespaces": [namespace_json(ns) for ns in page.items]}


@router.get("/api/v1/namespaces/{namespace}", summary="Get a namespace")
def get_namespace(request: Request, namespace: NamespacePath) -> dict[str, Any]:
    return namespace_json(catalog.namespace(_store(request), unquote(namespace)))


@router.get("/api/v1/namespaces/{namespace}/datasets", summary="List datasets")
def list_datasets(
    request: Request, namespace: NamespacePath, limit: Limit = 100, offset: Offset = 0
) -> dict[str, Any]:
    page = catalog.datasets(_store(request), unquote(namespace), limit=limit, offset=offset)
    return {"totalCount": page.total, "datasets": [dataset_json(d) for d in page.items]}


@router.get("/api/v1/namespaces/{namespace}/datasets/{dataset}", summary="Get a dataset")
def get_dataset(request: Request, namespace: NamespacePath, dataset: NamePath) -> dict[str, Any]:
    return dataset_json(catalog.dataset(_store(request), unquote(namespace), unquote(dataset)))


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
        _store(request), unquote(namespace), unquote(dataset), limit=limit, offset=offset
    )
    return {"totalCount": page.total, "versions": [dataset_version_json(v) for v in page.items]}


@router.get("/api/v1/namespaces/{namespace}/jobs", summary="List jobs")
def list_jobs(
    request: Request, namespace: NamespacePath, limit: Limit = 100, offset: Offset = 0
) -> dict[str, Any]:
    page = catalog.jobs(_store(request), unquote(namespace), limit=limit, offset=offset)
    return {"totalCount": page.total, "jobs": [job_json(j) for j in page.items]}


@router.get("/api/v1/namespaces/{namespace}/jobs/{job}", summary="Get a job")
def get_job(request: Request, namespace: NamespacePath, job: NamePath) -> dict[str, Any]:
    return job_json(catalog.job(_store(request), unquote(namespace), unquote(job)))


@router.get("/api/v1/namespaces/{namespace}/jobs/{job}/runs", summary="List a job's runs")
def list_runs(
    request: Request,
    namespace: NamespacePath,
    job: NamePath,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    page = catalog.runs(
        _store(request), unquote(namespace), unquote(job), limit=limit, offset=offset
    )
    return {"totalCount": page.total, "runs": [run_json(r) for r in page.items]}


@router.get("/api/v1/jobs/runs/{run_id}", summary="Get a run")
def get_run(request: Request, run_id: str) -> dict[str, Any]:
    return run_json(catalog.run(_store(request), run_id))


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
    kind, names = node_id_candidates(node_id)
    graph = catalog.node_lineage(_store(request), kind, names, depth)
    if graph is None:
        raise NotFound(f"no node {node_id!r}")
    return lineage_json(graph)


__all__ = ["router"]
