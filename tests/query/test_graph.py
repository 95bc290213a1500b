"""trace / impact on the hand-built pipeline of tests.support.graphs: known answers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pytest
from tests.support.graphs import COMMIT_A, COMMIT_B, execute

from threadline.errors import InvalidIdentifier, NotFound, UsageError
from threadline.query import LineageGraph, impact, trace
from threadline.store import open_store
from threadline.store.sql import SqlStore


def data(graph: LineageGraph) -> set[str]:
    """``name@version`` of every data vertex of an answer."""
    return {f"{n['name']}@{n['version']}" for n in graph.nodes if n["kind"] != "job"}


def jobs(graph: LineageGraph) -> dict[str, dict[str, object]]:
    return {f"{n['name']}@{n['version']}": n for n in graph.nodes if n["kind"] == "job"}


def test_trace_reaches_the_raw_sources_and_nothing_else(store: SqlStore) -> None:
    graph = trace(store, "predictions:file://h/preds@b3:p1")
    assert graph.root == "predictions:file://h/preds@b3:p1"
    assert graph.nodes[0]["id"] == graph.root
    assert data(graph) == {
        "/preds@b3:p1",
        "/model_b@b3:mb",
        "/unrelated@b3:u1",
        "/feat@b3:f1",
        "/holidays@b3:h1",
        "/clean@b3:c1",
        "/raw_a@b3:a1",
        "/raw_b@b3:b1",
    }
    assert set(jobs(graph)) == {"score@ex:s1", "train@ex:tb", "features@ex:f1", "ingest@ex:i1"}
    assert not graph.truncated


def test_impact_follows_the_exact_version(store: SqlStore) -> None:
    graph = impact(store, "dataset:file://h/raw_a@b3:a1")
    assert data(graph) == {
        "/raw_a@b3:a1",
        "/clean@b3:c1",
        "/feat@b3:f1",
        "/model_a@b3:ma",
        "/model_b@b3:mb",
        "/eval_a@b3:ea",
        "/eval_b@b3:eb",
        "/preds@b3:p1",
    }
    # The newest version of raw_a fed only the day-7 line.
    newest = impact(store, "dataset:file://h/raw_a")
    assert newest.root == "dataset:file://h/raw_a@b3:a2"
    assert data(newest) == {"/raw_a@b3:a2", "/clean@b3:c2", "/feat@b3:f2", "/model_c@b3:mc"}


def test_edges_point_the_way_data_flowed_and_join_returned_nodes(store: SqlStore) -> None:
    for graph in (trace(store, "dataset:file://h/preds"), impact(store, "dataset:file://h/clean")):
        kinds = {n["id"]: n["kind"] for n in graph.nodes}
        assert graph.edges
        for edge in graph.edges:
            assert edge["from"] in kinds
            assert edge["to"] in kinds
            if edge["relation"] == "input":
                assert kinds[edge["to"]] == "job"
                assert kinds[edge["from"]] != "job"
            else:
                assert edge["relation"] == "output"
                assert kinds[edge["from"]] == "job"
                assert kinds[edge["to"]] != "job"
        assert len({tuple(e.values()) for e in graph.edges}) == len(graph.edges)


def test_depth_counts_edges(store: SqlStore) -> None:
    ref = "dataset:file://h/preds"
    assert [n["name"] for n in trace(store, ref, depth=0).nodes] == ["/preds"]
    assert data(trace(store, ref, depth=1)) == {"/preds@b3:p1"}
    assert set(jobs(trace(store, ref, depth=1))) == {"score@ex:s1"}
    assert data(trace(store, ref, depth=2)) == {
        "/preds@b3:p1",
        "/model_b@b3:mb",
        "/unrelated@b3:u1",
    }
    assert not trace(store, ref, depth=2).truncated  # a depth cut is asked for, not a cap
    assert data(trace(store, ref, depth=4)) == data(trace(store, ref, depth=3)) | {
        "/feat@b3:f1",
        "/holidays@b3:h1",
    }


def test_limit_caps_the_answer_and_says_so(store: SqlStore) -> None:
    graph = trace(store, "dataset:file://h/preds", limit=3)
    assert graph.truncated
    assert len(graph.nodes) == 3
    ids = {n["id"] for n in graph.nodes}
    assert all(e["from"] in ids and e["to"] in ids for e in graph.edges)
    # BFS order: the nearest vertices are the ones kept.
    assert [n["name"] for n in graph.nodes][:2] == ["/preds", "score"]
    everything = trace(store, "dataset:file://h/preds", limit=None)
    assert not everything.truncated
    assert len(everything.nodes) == 12
    exact = trace(store, "dataset:file://h/preds", limit=12)
    assert not exact.truncated
    assert trace(store, "dataset:file://h/preds", limit=11).truncated


def test_bad_depth_or_limit_is_a_usage_error(store: SqlStore) -> None:
    with pytest.raises(UsageError, match="depth"):
        trace(store, "dataset:file://h/preds", depth=-1)
    with pytest.raises(UsageError, match="limit"):
        trace(store, "dataset:file://h/preds", limit=0)


def test_as_of_hides_later_edges_vertices_and_runs(store: SqlStore) -> None:
    noon_day_3 = dt.datetime(2026, 1, 3, 12, tzinfo=dt.UTC)
    graph = impact(store, "dataset:file://h/raw_a", as_of=noon_day_3)
    assert graph.root == "dataset:file://h/raw_a@b3:a1"  # a2 came on day 7
    assert data(graph) == {"/raw_a@b3:a1", "/clean@b3:c1", "/feat@b3:f1", "/model_a@b3:ma"}
    # Text works too, and naive means UTC.
    assert data(impact(store, "dataset:file://h/raw_a", as_of="2026-01-03T12:00")) == data(graph)
    # Runs summarised on an execution are those started by then.
    morning = trace(store, "dataset:file://h/preds", as_of="2026-01-06T06:00:00Z")
    assert jobs(morning)["score@ex:s1"]["runs"]["count"] == 1  # type: ignore[index]
    assert jobs(trace(store, "dataset:file://h/preds"))["score@ex:s1"]["runs"]["count"] == 2  # type: ignore[index]
    with pytest.raises(NotFound, match="after --as-of"):
        trace(store, "model:file://h/model_c@b3:mc", as_of=noon_day_3)
    with pytest.raises(NotFound, match="had no version at --as-of"):
        trace(store, "model:file://h/model_c", as_of=noon_day_3)
    with pytest.raises(UsageError, match="ISO 8601"):
        trace(store, "dataset:file://h/preds", as_of="last tuesday")


def test_as_of_drops_a_vertex_first_seen_later_even_through_an_old_edge(store: SqlStore) -> None:
    # An edge whose far end was (by its own clock) first seen after the moment asked about.
    execute(
        store,
        "UPDATE tl_versions SET first_seen_us = :later WHERE version = 'b3:h1'",
        later=int(dt.datetime(2026, 2, 1, tzinfo=dt.UTC).timestamp()) * 1_000_000,
    )
    graph = trace(store, "model:file://h/model_b", as_of="2026-01-20")
    assert "/holidays@b3:h1" not in data(graph)
    assert "/feat@b3:f1" in data(graph)


def test_nodes_carry_facet_summaries_and_run_summaries(store: SqlStore) -> None:
    graph = trace(store, "dataset:file://h/model_b")
    by_name = {n["name"]: n for n in graph.nodes if n["kind"] != "job"}
    assert by_name["/raw_a"]["labels"] == ["pii"]
    assert by_name["/raw_a"]["owners"] == ["team:data"]
    assert by_name["/model_b"]["kind"] == "model"
    assert by_name["/feat"]["kind"] == "features"
    assert all(n["first_seen"].endswith("Z") for n in graph.nodes)
    train = jobs(graph)["train@ex:tb"]
    assert train["job"] == "t/train"
    assert train["stage"] == "training"
    assert train["parameters"] == {"C": 1.0}
    assert train["user"] == "bo"
    assert train["host"] == "vm1"
    assert train["code"] == {
        "commit": COMMIT_B,
        "dirty": True,
        "branch": "main",
        "script": "b3:5c21",
    }
    assert train["runs"] == {
        "count": 1,
        "first_seen": "2026-01-04T00:00:00.000000Z",
        "last_seen": "2026-01-04T00:00:00.000000Z",
        "states": ["COMPLETE"],
        "ids": ["00000000-0000-7000-8000-000000000004"],
    }
    model_a = trace(store, "dataset:file://h/model_a")
    baseline = jobs(model_a)["train@ex:ta"]
    assert baseline["reason"] == "baseline"
    assert baseline["code"]["commit"] == COMMIT_A  # type: ignore[index]
    # START at 00:00, COMPLETE at 01:00: one run spanning both.
    assert baseline["runs"]["first_seen"] == "2026-01-03T00:00:00.000000Z"  # type: ignore[index]
    assert baseline["runs"]["last_seen"] == "2026-01-03T01:00:00.000000Z"  # type: ignore[index]
    score = jobs(trace(store, "dataset:file://h/preds"))["score@ex:s1"]
    assert score["runs"]["ids"][0] == "00000000-0000-7000-8000-000000000008"  # type: ignore[index]
    assert score["user"] == "cy"  # from the most recent run


def test_eval_metrics_appear_on_their_node(store: SqlStore) -> None:
    graph = impact(store, "model:file://h/model_b", depth=2)
    metrics = {n["name"]: n.get("metrics") for n in graph.nodes if n["kind"] == "evaluation"}
    assert metrics == {"/eval_b": {"auc": 0.91}}


def test_the_json_shape_is_exactly_the_shared_one(store: SqlStore) -> None:
    graph = trace(store, "dataset:file://h/preds")
    body = graph.to_dict()
    assert list(body) == ["root", "nodes", "edges", "truncated"]
    for node in body["nodes"]:
        assert list(node)[:6] == ["id", "kind", "namespace", "name", "version", "first_seen"]
    for edge in body["edges"]:
        assert set(edge) == {"from", "to", "relation"}
    again = orjson.loads(orjson.dumps(body))
    assert LineageGraph.from_dict(again).to_dict() == body
    assert graph.node(graph.root)["name"] == "/preds"
    with pytest.raises(KeyError):
        graph.node("dataset:file://h/nothing@b3:00")


def test_unknown_ids_are_clear_errors(store: SqlStore) -> None:
    with pytest.raises(NotFound, match=r"^dataset:file://h/nothing is not in the store$"):
        trace(store, "dataset:file://h/nothing")
    with pytest.raises(
        NotFound, match="no version b3:zz recorded; the newest recorded version is b3:a2"
    ):
        impact(store, "dataset:file://h/raw_a@b3:zz")
    with pytest.raises(InvalidIdentifier):
        trace(store, "dataset:file://h")
    with pytest.raises(InvalidIdentifier, match="neither an existing path nor a node id"):
        trace(store, "datset:file://h/raw_a")


def test_kind_in_the_id_need_only_agree_on_data_versus_job(store: SqlStore) -> None:
    assert trace(store, "dataset:file://h/model_b").root == "model:file://h/model_b@b3:mb"
    execution = trace(store, "job:t/score@ex:s1")
    assert execution.root == "job:t/score@ex:s1"
    assert data(execution) >= {"/model_b@b3:mb", "/unrelated@b3:u1"}
    with pytest.raises(NotFound):
        trace(store, "job:file://h/model_b")


def test_a_diamond_is_reported_once_per_edge(tmp_path: Path) -> None:
    """a → (x, y) → b: b's trace holds a once, with both paths' edges."""
    from tests.support.graphs import day, ds, run_event, uid

    with open_store(tmp_path / "d.db") as store:
        store.append_batch(
            [
                run_event("x", uid(1), [ds("/a", "b3:a")], [ds("/x", "b3:x")], when=day(1)),
                run_event("y", uid(2), [ds("/a", "b3:a")], [ds("/y", "b3:y")], when=day(1)),
                run_event(
                    "join",
                    uid(3),
                    [ds("/x", "b3:x"), ds("/y", "b3:y")],
                    [ds("/b", "b3:b")],
                    when=day(2),
                ),
            ]
        )
        graph = trace(store, "dataset:file://h/b")
    assert [n["name"] for n in graph.nodes].count("/a") == 1
    assert sum(1 for e in graph.edges if e["from"].startswith("dataset:file://h/a@")) == 2
    # Executions without a deterministic id are per-run vertices.
    assert {n["version"] for n in graph.nodes if n["kind"] == "job"} == {
        f"run:{uid(1)}",
        f"run:{uid(2)}",
        f"run:{uid(3)}",
    }
