"""The causal upstream walk: a trace never shows a producer that finished after the run that
read the version it explains (content addressing lets several runs produce one version)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.events import uid
from tests.support.graphs import BACKENDS, day, ds, run_event
from tests.support.pg import fresh_database

from threadline.query import LineageGraph, trace
from threadline.store import open_store
from threadline.store.sql import SqlStore

Record = Callable[[list[dict[str, Any]]], SqlStore]


@pytest.fixture(params=BACKENDS)
def record(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Record]:
    """Record events into a fresh store (SQLite file or PostgreSQL database) and hand it back."""
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = str(tmp_path / "lineage.db")
        else:
            url = stack.enter_context(fresh_database("tl_causal"))

        def append(events: list[dict[str, Any]]) -> SqlStore:
            store = stack.enter_context(open_store(url))
            store.append_batch(events)
            return store

        yield append


V = ds("/shared.csv", "b3:5a5a")


def made(job: str, run: int, raw: str, when: str, execution: str) -> dict[str, Any]:
    """A run of ``job`` that writes ``V`` from its own raw file."""
    return run_event(
        job, uid(run), [ds(raw, "b3:0" + raw[-1])], [V], when=when, execution=execution
    )


def read_between() -> list[dict[str, Any]]:
    """``V`` made on day 1, read on day 2 (into ``/out.csv``), made again on day 3."""
    return [
        made("make", 1, "/raw1", day(1), "ex:m1"),
        run_event("use", uid(2), [V], [ds("/out.csv", "b3:0u")], when=day(2), execution="ex:u"),
        made("remake", 3, "/raw3", day(3), "ex:m3"),
    ]


def jobs(graph: LineageGraph) -> set[str]:
    return {
        n["id"].partition("@")[0] + "@" + n["version"] for n in graph.nodes if n["kind"] == "job"
    }


def names(graph: LineageGraph) -> set[str]:
    return {str(n["name"]) for n in graph.nodes}


def test_a_producer_that_finished_after_the_read_is_not_upstream(record: Record) -> None:
    store = record(read_between())
    graph = trace(store, "dataset:file://h/out.csv")
    assert jobs(graph) == {"job:t/use@ex:u", "job:t/make@ex:m1"}
    assert "/raw1" in names(graph)
    assert "/raw3" not in names(graph)
    assert not any("remake" in edge["from"] or "remake" in edge["to"] for edge in graph.edges)
    # The version itself was produced by both: at the root every producer counts.
    root = trace(store, "dataset:file://h/shared.csv")
    assert jobs(root) == {"job:t/make@ex:m1", "job:t/remake@ex:m3"}
    assert {"/raw1", "/raw3"} <= names(root)


def test_a_later_run_of_the_reader_sees_the_later_producer(record: Record) -> None:
    # The reader ran again (same execution) after the second producer: both may have fed it.
    again = run_event("use", uid(4), [V], [ds("/out.csv", "b3:0u")], when=day(4), execution="ex:u")
    store = record([*read_between(), again])
    graph = trace(store, "dataset:file://h/out.csv")
    assert jobs(graph) == {"job:t/use@ex:u", "job:t/make@ex:m1", "job:t/remake@ex:m3"}


def test_the_later_runs_of_a_repeated_producer_are_not_shown(record: Record) -> None:
    # One execution ran before and after the read: it fed the reader, its later run did not.
    store = record(
        [
            made("make", 1, "/raw1", day(1), "ex:m1"),
            run_event("use", uid(2), [V], [ds("/out.csv", "b3:0u")], when=day(2), execution="ex:u"),
            made("make", 3, "/raw1", day(3), "ex:m1"),
        ]
    )
    graph = trace(store, "dataset:file://h/out.csv")
    make = next(n for n in graph.nodes if n["kind"] == "job" and n["name"] == "make")
    assert make["runs"]["ids"] == [uid(1)]
    assert make["runs"]["count"] == 1
    assert make["runs"]["last_seen"].startswith("2026-01-01")
    root = trace(store, "dataset:file://h/shared.csv")
    both = next(n for n in root.nodes if n["kind"] == "job")
    assert both["runs"]["ids"] == [uid(3), uid(1)]


def test_a_version_met_first_by_an_early_reader_is_walked_again_for_a_later_one(
    record: Record,
) -> None:
    # X <- join(day 6) <- W1 <- use1(day 2) <- V   and   X <- join <- W3 <- copy(day 5) <- W2
    # <- use2(day 4) <- V: the walk meets V through use1 (bound day 2) before use2 (day 4).
    w1, w2, w3 = ds("/w1", "b3:01"), ds("/w2", "b3:02"), ds("/w3", "b3:03")
    store = record(
        [
            made("make", 1, "/raw1", day(1), "ex:m1"),
            run_event("use1", uid(2), [V], [w1], when=day(2), execution="ex:a"),
            made("remake", 3, "/raw3", day(3), "ex:m3"),
            run_event("use2", uid(4), [V], [w2], when=day(4), execution="ex:b"),
            run_event("copy", uid(5), [w2], [w3], when=day(5), execution="ex:c"),
            run_event("join", uid(6), [w1, w3], [ds("/x", "b3:0x")], when=day(6), execution="ex:j"),
            made("rerun", 7, "/raw7", day(7), "ex:m7"),
        ]
    )
    graph = trace(store, "dataset:file://h/x")
    assert "job:t/remake@ex:m3" in jobs(graph)
    assert "job:t/rerun@ex:m7" not in jobs(graph)
    assert {"/raw1", "/raw3"} <= names(graph)
    pairs = [(e["from"], e["to"], e["relation"]) for e in graph.edges]
    assert len(pairs) == len(set(pairs))
    # Every edge joins two nodes of the answer.
    ids = {n["id"] for n in graph.nodes}
    assert all(e["from"] in ids and e["to"] in ids for e in graph.edges)


def test_a_trace_of_an_execution_bounds_its_inputs_by_its_own_runs(record: Record) -> None:
    store = record(read_between())
    graph = trace(store, "job:t/use@ex:u")
    assert jobs(graph) == {"job:t/use@ex:u", "job:t/make@ex:m1"}
