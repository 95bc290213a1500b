"""Marquez's column and run lineage graphs.

``GET /api/v1/column-lineage?nodeId=…&depth=N&withDownstream=false``
    The columns connected to a dataset (``dataset:NS:NAME``: all its columns), one column
    (``datasetField:NS:NAME:FIELD``) or a job (``job:NS:NAME``: the columns of what it
    wrote), through ``columnLineage`` facets: upstream ``depth`` hops (default 20) and, with
    ``withDownstream=true``, downstream as far.  ``{"graph": [Node]}`` with ``DATASET_FIELD``
    nodes, as Marquez answers.  A ``#version`` suffix (Marquez clients add one) is ignored:
    each dataset is described by its newest facets.
``GET /api/v1/runlineage/upstream?runId=…&depth=N``
    The run and the runs that wrote what it read, upstream ``depth`` hops (default 20),
    nearest first: ``{"runs": [{"job", "run", "inputs"}]}``.  The run credited with an input is
    the latest one that had finished when the reading run started.

The queries are :func:`threadline.query.catalog.column_lineage` and
:func:`~threadline.query.catalog.upstream_runs`; the shapes are in
:mod:`threadline.server.marquez_graph_json`.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request

from threadline.errors import NotFound
from threadline.query import catalog
from threadline.server.errors import ERROR_SCHEMA
from threadline.server.marquez_graph_json import (
    column_lineage_json,
    field_node_id,
    upstream_json,
)
from threadline.server.marquez_json import node_id_candidates
from threadline.server.marquez_params import Depth, store_of

router = APIRouter(tags=["Marquez"])

#: The node or run asked about is not recorded.
_NOT_FOUND: Final[dict[int | str, dict[str, Any]]] = {
    404: {
        "description": "Not recorded (canonical error body)",
        "content": {"application/json": {"schema": ERROR_SCHEMA}},
    }
}


@router.get(
    "/api/v1/column-lineage",
    summary="Column lineage around a dataset, column or job",
    responses=_NOT_FOUND,
)
def get_column_lineage(
    request: Request,
    node_id: Annotated[
        str,
        Query(
            alias="nodeId",
            description="dataset:NS:NAME, datasetField:NS:NAME:FIELD or job:NS:NAME",
            examples=["datasetField:food_delivery:public.delivery_7_days:order_id"],
        ),
    ],
    depth: Depth = 20,
    with_downstream: Annotated[
        bool, Query(alias="withDownstream", description="Walk downstream too")
    ] = False,
) -> dict[str, Any]:
    field: str | None = None
    if node_id.startswith("datasetField:"):
        kind = "dataset"
        names, field = field_node_id(node_id)
    else:
        kind, names = node_id_candidates(node_id)
    graph = catalog.column_lineage(
        store_of(request),
        kind,
        names,
        field=field,
        depth=depth,
        with_downstream=with_downstream,
    )
    if graph is None:
        raise NotFound(f"no node {node_id!r}")
    return column_lineage_json(graph)


@router.get(
    "/api/v1/runlineage/upstream", summary="The runs upstream of a run", responses=_NOT_FOUND
)
def get_upstream_runs(
    request: Request,
    run_id: Annotated[str, Query(alias="runId", description="The run to start from")],
    depth: Depth = 20,
) -> dict[str, Any]:
    return upstream_json(catalog.upstream_runs(store_of(request), run_id, depth))


__all__ = ["router"]
