"""trace / impact / diff / show on hand-built graphs with known answers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from threadline.cli import app
from threadline.errors import InvalidIdentifier, NotFound
from threadline.model.events import PRODUCER, SCHEMA_URL
from threadline.query import diff, impact, show, trace
from threadline.store import open_store
from threadline.store.sql import SqlStore

NS = "file://h"


def ds(name: str, version: str, kind: str = "dataset", **facets: Any) -> dict[str, Any]:
    return {
        "namespace": NS,
        "name": name,
        "facets": {
            "version": {"datasetVersion": version},
            "threadline_artifact": {"kind": kind},
            **facets,
        },
    }


def run_event(
    job: str,
    run: str,
    inputs: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
    *,
    when: str = "2026-01-01T00:00:00Z",
    execution: str | None = None,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    facets: dict[str, Any] = {}
    if execution:
        facets["threadline_execution"] = {"executionId": execution}
    if params:
        facets["threadline_parameters"] = {"parameters": params}
    return {
        "eventType": "COMPLETE",
        "eventTime": when,
        "producer": PRODUCER,
        "schemaURL": SCHEMA_URL,
        "run": {"runId": run, "facets": facets},
        "job": {"namespace": "t", "name": job},
        "inputs": inputs,
        "outputs": outputs,
    }


def uid(n: int) -> str:
    return f"00000000-0000-7000-8000-{n:012d}"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    """raw_a, raw_b → clean → features → model_a (C=0.1), model_b (C=1) → preds(model_b)."""
    s = open_store(tmp_path / "g.db")
    s.append_batch(
        [
            run_event(
                "ingest",
                uid(1),
                [ds("/raw_a", "b3:a1"), ds("/raw_b", "b3:b1")],
                [ds("/clean", "b3:c1")],
                when="2026-01-01T00:00:00Z",
                execution="ex:i1",
            ),
            run_event(
                "features",
                uid(2),
                [ds("/clean", "b3:c1")],
                [ds("/feat", "b3:f1", "features")],
                when="2026-01-02T00:00:00Z",
                execution="ex:f1",
            ),
            run_event(
                "train",
                uid(3),
                [ds("/feat", "b3:f1", "features")],
                [ds("/model_a", "b3:ma", "model")],
                when="2026-01-03T00:00:00Z",
                execution="ex:ta",
                params={"C": 0.1},
            ),
            run_event(
                "train",
                uid(4),
                [ds("/feat", "b3:f1", "features")],
                [ds("/model_b", "b3:mb", "model")],
                when="2026-01-04T00:00:00Z",
                execution="ex:tb",
                params={"C": 1.0},
            ),
            run_event(
                "eval",
                uid(5),
                [ds("/model_b", "b3:mb", "model")],
                [
                    ds(
                        "/eval_b",
                        "b3:eb",
                        "evaluation",
                        threadline_quality={"metrics": {"auc": 0.91}},
                    )
                ],
                when="2026-01-05T00:00:00Z",
                execution="ex:eb",
            ),
            run_event(
                "score",
                uid(6),
                [ds("/model_b", "b3:mb", "model"), ds("/unrelated", "b3:u1")],
                [ds("/preds", "b3:p1", "predictions")],
                when="2026-01-06T00:00:00Z",
                execution="ex:s1",
            ),
        ]
    )
    yield s
    s.close()


def names(graph: Any) -> set[str]:
    return {n["name"] for n in graph.to_dict()["nodes"] if n["kind"] != "job"}


def test_trace_reaches_the_raw_sources(store: SqlStore) -> None:
    graph = trace(store, "predictions:file://h/preds@b3:p1")
    assert names(graph) == {
        "/preds",
        "/model_b",
        "/feat",
        "/clean",
        "/raw_a",
        "/raw_b",
        "/unrelated",
    }
    assert "/model_a" not in names(graph)
    assert not graph.truncated
    jobs = {n["name"]: n for n in graph.nodes if n["kind"] == "job"}
    assert jobs["train"]["parameters"] == {"C": 1.0}
    assert jobs["train"]["runs"]["count"] == 1


def test_impact_of_a_raw_file_reaches_every_model_and_prediction(store: SqlStore) -> None:
    graph = impact(store, "dataset:file://h/raw_a")
    assert names(graph) == {
        "/raw_a",
        "/clean",
        "/feat",
        "/model_a",
        "/model_b",
        "/eval_b",
        "/preds",
    }
    assert "/raw_b" not in names(graph)


def test_depth_counts_edges(store: SqlStore) -> None:
    # preds ← score ← model_b: two edges.
    assert names(trace(store, "dataset:file://h/preds", depth=2)) == {
        "/preds",
        "/model_b",
        "/unrelated",
    }
    assert names(trace(store, "dataset:file://h/preds", depth=1)) == {"/preds"}


def test_limit_truncates_and_says_so(store: SqlStore) -> None:
    graph = trace(store, "dataset:file://h/preds", limit=3)
    assert graph.truncated
    assert len(graph.nodes) == 3


def test_as_of_hides_what_came_later(store: SqlStore) -> None:
    graph = impact(
        store, "dataset:file://h/raw_a", as_of=dt.datetime(2026, 1, 3, 12, tzinfo=dt.UTC)
    )
    assert names(graph) == {"/raw_a", "/clean", "/feat", "/model_a"}


def test_edges_are_reported_between_returned_nodes(store: SqlStore) -> None:
    graph = trace(store, "dataset:file://h/model_a").to_dict()
    ids = {n["id"] for n in graph["nodes"]}
    assert graph["edges"]
    assert all(e["from"] in ids and e["to"] in ids for e in graph["edges"])
    assert {e["relation"] for e in graph["edges"]} == {"input", "output"}


def test_diff_of_two_models(store: SqlStore) -> None:
    result = diff(store, "model:file://h/model_a", "model:file://h/model_b").to_dict()
    assert result["parameters"] == {"C": {"a": 0.1, "b": 1.0}}
    assert result["inputs"] == {}
    assert result["metrics"] == {"auc": {"a": None, "b": 0.91}}
    assert not result["identical"]


def test_show_lists_versions_and_neighbours(store: SqlStore) -> None:
    entry = show(store, "model:file://h/model_b")
    assert entry["version"] == "b3:mb"
    assert entry["upstream"] == 1
    assert entry["downstream"] == 2


def test_unknown_ids_and_paths_are_clear_errors(store: SqlStore, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="not in the store"):
        trace(store, "dataset:file://h/nothing")
    with pytest.raises(NotFound, match="no version b3:zz"):
        trace(store, "dataset:file://h/raw_a@b3:zz")
    with pytest.raises(NotFound, match="no such file"):
        trace(store, str(tmp_path / "missing.csv"))
    with pytest.raises(InvalidIdentifier):
        trace(store, "dataset:file://h")


def test_cli_json_shape_and_exit_codes(store: SqlStore) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["--store", store.url, "trace", "dataset:file://h/preds", "--json"])
    assert result.exit_code == 0, result.output
    import orjson

    body = orjson.loads(result.stdout)
    assert set(body) >= {"root", "nodes", "edges"}
    assert set(body["nodes"][0]) >= {"id", "kind", "namespace", "name", "version"}
    assert set(body["edges"][0]) == {"from", "to", "relation"}
    missing = runner.invoke(app, ["--store", store.url, "trace", "dataset:file://h/none"])
    assert missing.exit_code == NotFound.exit_code
    ok = runner.invoke(app, ["--store", store.url, "verify"])
    assert ok.exit_code == 0
    assert "verified" in ok.stdout


def test_every_command_has_help() -> None:
    runner = CliRunner()
    for command in app.registered_commands:
        assert command.callback is not None
        assert command.callback.__doc__, command.name
        name = command.name or command.callback.__name__
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, name
