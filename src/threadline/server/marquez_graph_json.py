"""Marquez's JSON shapes for lineage graphs: the dataset/job graph (:func:`lineage_json`), the
column graph (:func:`column_lineage_json`) and a run's upstream runs (:func:`upstream_json`).

Node ids are ``dataset:{namespace}:{name}``, ``job:{namespace}:{name}`` and, for columns,
``datasetField:{namespace}:{name}:{field}`` (:func:`field_node_id` reads one).  Edges point the
way data flows: dataset → job for an input, job → dataset for an output (threadline's own
data → data ``derived`` edges appear as dataset → dataset), input column → computed column.
"""

from __future__ import annotations

from typing import Any

from threadline.errors import UsageError
from threadline.model.times import iso
from threadline.query.catalog import (
    ColumnLineage,
    FieldNode,
    FieldRef,
    NodeLineage,
    NodeRow,
    UpstreamRun,
    version_uuid,
)
from threadline.server.marquez_json import (
    RUN_STATES,
    dataset_json,
    job_json,
    node_id_candidates,
)


def field_node_id(node_id: str) -> tuple[list[tuple[str, str]], str]:
    """The ``(namespace, name)`` readings and the field of ``datasetField:NS:NAME:FIELD`` (the
    field is what follows the last colon; the rest reads as a dataset node id; a ``#version``
    suffix is dropped)."""
    kind, sep, rest = node_id.partition(":")
    # Marquez clients append a dataset version as "#VERSION"; the graph is answered at the
    # dataset's newest facets, like a dataset node id's suffix.
    head, colon, field = rest.split("#", 1)[0].rpartition(":")
    if kind != "datasetField" or not sep or not colon or not field:
        raise UsageError(
            f"nodeId {node_id!r} is not a Marquez column node id "
            "(expected datasetField:NAMESPACE:NAME:FIELD)"
        )
    return node_id_candidates(f"dataset:{head}")[1], field


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


def _field_id(ref: FieldRef) -> str:
    return f"datasetField:{ref.namespace}:{ref.dataset}:{ref.field}"


def _field_version(ref: FieldRef, version: str | None) -> str | None:
    return version_uuid(ref.namespace, ref.dataset, version) if version else None


def _field_data(node: FieldNode) -> dict[str, Any]:
    # Marquez's column node (ColumnLineageNodeData): a column-level transformation is given
    # per input; a column computed from a single input carries it on the node too.
    single = node.inputs[0] if len(node.inputs) == 1 else None
    return {
        "namespace": node.ref.namespace,
        "dataset": node.ref.dataset,
        "datasetVersion": _field_version(node.ref, node.version),
        "field": node.ref.field,
        "fieldType": node.field_type,
        "transformationDescription": single.description if single else None,
        "transformationType": single.type if single else None,
        "inputFields": [
            {
                "namespace": item.ref.namespace,
                "dataset": item.ref.dataset,
                "datasetVersion": _field_version(item.ref, item.version),
                "field": item.ref.field,
                "transformationDescription": item.description,
                "transformationType": item.type,
            }
            for item in node.inputs
        ],
    }


def column_lineage_json(graph: ColumnLineage) -> dict[str, Any]:
    """Marquez's column-lineage ``{"graph": [Node]}``: one ``DATASET_FIELD`` node per column."""
    incoming: dict[FieldRef, set[tuple[str, str]]] = {n.ref: set() for n in graph.nodes}
    outgoing: dict[FieldRef, set[tuple[str, str]]] = {n.ref: set() for n in graph.nodes}
    for src, dst in graph.edges:
        edge = (_field_id(src), _field_id(dst))
        outgoing[src].add(edge)
        incoming[dst].add(edge)
    return {
        "graph": [
            {
                "id": _field_id(node.ref),
                "type": "DATASET_FIELD",
                "data": _field_data(node),
                "inEdges": _edges_json(incoming[node.ref]),
                "outEdges": _edges_json(outgoing[node.ref]),
            }
            for node in graph.nodes
        ]
    }


def upstream_json(runs: list[UpstreamRun]) -> dict[str, Any]:
    """Marquez's ``UpstreamRunLineage``: each run with its job version and what it read."""
    out = []
    for entry in runs:
        run = entry.run
        out.append(
            {
                "job": {
                    "namespace": run.job.namespace,
                    "name": run.job.name,
                    "version": version_uuid(*run.job_version) if run.job_version else None,
                },
                "run": {
                    "id": run.run_id,
                    "start": iso(run.started_us),
                    "end": iso(run.ended_us),
                    "status": RUN_STATES.get(run.state, "NEW"),
                },
                "inputs": [
                    {
                        "namespace": item.version.namespace,
                        "name": item.version.name,
                        "version": version_uuid(*item.version),
                        "producedByRunId": item.produced_by,
                    }
                    for item in entry.inputs
                ],
            }
        )
    return {"runs": out}


__all__ = ["column_lineage_json", "field_node_id", "lineage_json", "upstream_json"]
