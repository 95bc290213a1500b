"""The graph dump (query.dump) on the hand-built pipeline of tests.support.graphs."""

from __future__ import annotations

import pytest
from tests.support.graphs import NS

from threadline.errors import UsageError
from threadline.query.dump import graph_dump
from threadline.store.sql import SqlStore


def test_the_whole_graph_in_the_order_first_seen(store: SqlStore) -> None:
    graph = graph_dump(store)
    counts = store.counts()
    assert len(graph.nodes) == counts["versions"]
    assert len(graph.edges) == counts["edges"]
    assert graph.root == ""
    assert not graph.truncated
    seen = [node["first_seen"] for node in graph.nodes]
    assert seen == sorted(seen)
    ids = {node["id"] for node in graph.nodes}
    assert all(edge["from"] in ids and edge["to"] in ids for edge in graph.edges)


def test_a_namespace_brings_the_vertices_one_edge_away(store: SqlStore) -> None:
    jobs = graph_dump(store, namespace="t")
    executions = [n for n in jobs.nodes if n["kind"] == "job"]
    assert len(executions) == len([n for n in graph_dump(store).nodes if n["kind"] == "job"])
    # Every datum an execution read or wrote comes along; only the executions are in "t".
    assert {n["namespace"] for n in jobs.nodes} == {"t", NS}
    data = graph_dump(store, namespace=NS)
    assert {n["namespace"] for n in data.nodes} == {"t", NS}


def test_times_keep_what_was_first_seen_between_them(store: SqlStore) -> None:
    day7 = graph_dump(store, since="2026-01-07")
    assert {n["name"] for n in day7.nodes} == {"/raw_a", "/clean", "/feat", "/model_c", "ingest",
                                               "features", "train"}  # fmt: skip
    assert graph_dump(store, until="2025-12-31").nodes == []
    with pytest.raises(UsageError, match="--since 'soon'"):
        graph_dump(store, since="soon")
