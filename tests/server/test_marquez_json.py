"""Marquez's JSON shapes of catalog rows, without a server: node ids, run states, edges."""

from __future__ import annotations

from typing import Any

import pytest

from threadline.errors import UsageError
from threadline.query.catalog import Dataset, Job, NodeLineage, NodeRow, Run, VersionRef
from threadline.server.marquez_graph_json import lineage_json
from threadline.server.marquez_json import (
    RUN_STATES,
    dataset_json,
    job_json,
    node_id_candidates,
    run_json,
)


def node(pk: int, type_: str, name: str, facets: dict[str, Any] | None = None) -> NodeRow:
    return NodeRow(pk, type_, "postgres://db:5432", name, type_, facets or {}, 1, 2)


def run(state: str, **facets: Any) -> Run:
    return Run(
        run_id="r1",
        job=VersionRef("ns", "job", ""),
        execution_id=None,
        state=state,
        state_time_us=3_000_000,
        started_us=1_000_000,
        ended_us=2_500_000,
        facets=facets,
        job_version=None,
    )


def test_a_node_id_is_read_every_way_its_colons_allow() -> None:
    kind, names = node_id_candidates("dataset:postgres://db:5432:public.t#v1")
    assert kind == "dataset"
    assert names == [("postgres", "//db:5432:public.t"), ("postgres://db", "5432:public.t"),
                     ("postgres://db:5432", "public.t")]  # fmt: skip
    assert node_id_candidates("job:ns:name") == ("job", [("ns", "name")])
    assert node_id_candidates("job:nocolon") == ("job", [])


@pytest.mark.parametrize("text", ["x", "dataset:", "table:a:b", "dataset"])
def test_what_is_not_a_node_id(text: str) -> None:
    with pytest.raises(UsageError, match="not a Marquez node id"):
        node_id_candidates(text)


@pytest.mark.parametrize(("state", "shown"), [*RUN_STATES.items(), ("SOMETHING", "NEW")])
def test_run_states_follow_marquez(state: str, shown: str) -> None:
    body = run_json(run(state))
    assert body["state"] == shown
    assert body["durationMs"] == 1500
    assert body["createdAt"] == "1970-01-01T00:00:01.000000Z"


def test_a_dataset_reads_its_facets_the_marquez_way() -> None:
    facets = {
        "schema": {"fields": [{"name": "id", "type": "INTEGER"}]},
        "tags": {"tags": [{"key": "tier", "value": "gold"}, {"key": "pii"}]},
        "threadline_classification": {"labels": ["secret"], "inherited": ["pii"]},
        "dataSource": {"name": "warehouse"},
    }
    body = dataset_json(Dataset(node(1, "dataset", "t", facets), None))
    assert body["type"] == "DB_TABLE"
    assert body["sourceName"] == "warehouse"
    assert body["tags"] == ["pii", "secret", "tier:gold"]
    assert body["fields"] == [{"name": "id", "type": "INTEGER", "tags": [], "description": None}]
    assert body["currentVersion"] is None
    assert body["columnLineage"] is None


def test_a_job_takes_its_parent_from_the_latest_run() -> None:
    parent = {"parent": {"job": {"namespace": "ns", "name": "dag"}}}
    body = job_json(Job(node(2, "job", "j"), None, [], [], [run("COMPLETE", **parent)]))
    assert body["parentJobName"] == "dag"
    assert body["latestRun"] == body["latestRuns"][0]


def test_lineage_edges_are_unique_sorted_and_skip_self_loops() -> None:
    a, b, j = node(1, "dataset", "a"), node(2, "dataset", "b"), node(3, "job", "j")
    graph = NodeLineage(
        start=a,
        datasets=[Dataset(a, None), Dataset(b, None)],
        jobs=[Job(j, None, [], [], [])],
        edges=[(1, 3, "input"), (3, 2, "output"), (1, 3, "input"), (2, 2, "derived")],
    )
    nodes = lineage_json(graph)["graph"]
    assert [n["id"] for n in nodes] == [
        "dataset:postgres://db:5432:a",
        "dataset:postgres://db:5432:b",
        "job:postgres://db:5432:j",
    ]
    job = nodes[2]
    assert job["type"] == "JOB"
    assert job["inEdges"] == [
        {"origin": "dataset:postgres://db:5432:a", "destination": "job:postgres://db:5432:j"}
    ]
    assert nodes[1]["outEdges"] == []
