"""Marquez's shapes of the column and run lineage graphs, without a server."""

from __future__ import annotations

import pytest

from threadline.errors import UsageError
from threadline.query.catalog import (
    ColumnLineage,
    FieldInput,
    FieldNode,
    FieldRef,
    Run,
    UpstreamInput,
    UpstreamRun,
    VersionRef,
    version_uuid,
)
from threadline.server.marquez_graph_json import (
    column_lineage_json,
    field_node_id,
    upstream_json,
)


def test_field_node_ids_read_like_dataset_node_ids() -> None:
    assert field_node_id("datasetField:postgres://db:5432:public.t:email#v1") == (
        [
            ("postgres", "//db:5432:public.t"),
            ("postgres://db", "5432:public.t"),
            ("postgres://db:5432", "public.t"),
        ],
        "email",
    )
    assert field_node_id("datasetField:ns:t:c") == ([("ns", "t")], "c")


@pytest.mark.parametrize(
    "text", ["dataset:ns:t:c", "datasetField:ns", "datasetField:ns:t:", "datasetField"]
)
def test_a_bad_field_node_id_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="not a Marquez column node id"):
        field_node_id(text)


def test_column_lineage_nodes_and_edges() -> None:
    src, dst = FieldRef("ns", "a", "x"), FieldRef("ns", "b", "y")
    graph = ColumnLineage(
        nodes=[
            FieldNode(src, "v1", "INT", []),
            FieldNode(dst, None, None, [FieldInput(src, "v1", "copied", "DIRECT")]),
        ],
        edges=[(src, dst)],
    )
    nodes = {node["id"]: node for node in column_lineage_json(graph)["graph"]}
    edge = {"origin": "datasetField:ns:a:x", "destination": "datasetField:ns:b:y"}
    assert nodes["datasetField:ns:a:x"]["outEdges"] == [edge]
    assert nodes["datasetField:ns:b:y"]["inEdges"] == [edge]
    assert nodes["datasetField:ns:b:y"]["data"] == {
        "namespace": "ns",
        "dataset": "b",
        "datasetVersion": None,
        "field": "y",
        "fieldType": None,
        "transformationDescription": "copied",
        "transformationType": "DIRECT",
        "inputFields": [
            {
                "namespace": "ns",
                "dataset": "a",
                "datasetVersion": version_uuid("ns", "a", "v1"),
                "field": "x",
                "transformationDescription": "copied",
                "transformationType": "DIRECT",
            }
        ],
    }
    assert {node["type"] for node in nodes.values()} == {"DATASET_FIELD"}


def test_upstream_runs_shape() -> None:
    run = Run(
        run_id="r1",
        job=VersionRef("ns", "job", ""),
        execution_id=7,
        state="FAIL",
        state_time_us=2_000_000,
        started_us=1_000_000,
        ended_us=2_000_000,
        facets={},
        job_version=VersionRef("ns", "job", "ex:1"),
    )
    body = upstream_json([UpstreamRun(run, [UpstreamInput(VersionRef("ns", "d", "b3:x"), "r0")])])
    assert body == {
        "runs": [
            {
                "job": {
                    "namespace": "ns",
                    "name": "job",
                    "version": version_uuid("ns", "job", "ex:1"),
                },
                "run": {
                    "id": "r1",
                    "start": "1970-01-01T00:00:01.000000Z",
                    "end": "1970-01-01T00:00:02.000000Z",
                    "status": "FAILED",
                },
                "inputs": [
                    {
                        "namespace": "ns",
                        "name": "d",
                        "version": version_uuid("ns", "d", "b3:x"),
                        "producedByRunId": "r0",
                    }
                ],
            }
        ]
    }
