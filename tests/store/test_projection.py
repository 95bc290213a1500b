"""Projecting events onto graph facts: pure, no database."""

from __future__ import annotations

import itertools

import pytest
from tests.support.events import dataset, event, uid

from threadline.store.projection import (
    LATEST,
    Projection,
    normalize_version,
    to_micros,
)

JOB = ("job", "test", "job")


def project(*events: dict[str, object], start: int = 1) -> Projection:
    projection = Projection()
    for seq, body in enumerate(events, start=start):
        projection.project(seq, body, to_micros(str(body["eventTime"])))
    return projection


def test_event_times_become_microseconds() -> None:
    assert to_micros("1970-01-01T00:00:01.000002Z") == 1_000_002
    assert to_micros("2026-01-01T01:00:00+01:00") == to_micros("2026-01-01T00:00:00Z")


@pytest.mark.parametrize(
    ("raw", "version"),
    [
        ("b3:5f1c", "b3:5f1c"),
        ("ex:0c2e", "ex:0c2e"),
        ("git:abc-1.2", "git:abc-1.2"),
        ("2026 release", "v:2026%20release"),
        ("v1", "v:v1"),
    ],
)
def test_producer_versions_become_safe_tokens(raw: str, version: str) -> None:
    assert normalize_version(raw) == version


def test_a_run_links_its_inputs_and_outputs_through_its_execution() -> None:
    facts = project(
        event(
            1,
            inputs=[dataset("/raw.csv", "b3:01")],
            outputs=[dataset("/clean.parquet", "b3:02", kind="features")],
        )
    )
    raw, clean = ("dataset", "file://h", "/raw.csv"), ("dataset", "file://h", "/clean.parquet")
    execution = (JOB, f"run:{uid(1)}")
    assert set(facts.nodes) == {JOB, raw, clean}
    assert facts.nodes[clean].kind == "features"
    assert set(facts.versions) == {(raw, "b3:01"), (clean, "b3:02"), execution}
    assert set(facts.edges) == {
        ((raw, "b3:01"), execution, "input"),
        (execution, (clean, "b3:02"), "output"),
    }
    assert facts.runs[uid(1)].state == "COMPLETE"
    assert not facts.unresolved


def test_unversioned_inputs_wait_for_the_store_and_outputs_get_a_version_per_run() -> None:
    facts = project(event(1, inputs=[dataset("/in")], outputs=[dataset("/out")]))
    execution = (JOB, f"run:{uid(1)}")
    assert facts.unresolved
    assert (("dataset", "file://h", "/in"), LATEST) in {src for src, _dst, _r in facts.edges}
    assert (execution, (("dataset", "file://h", "/out"), f"run:{uid(1)}"), "output") in facts.edges


def test_run_state_is_the_same_in_any_arrival_order() -> None:
    events = [
        event(1, "START", when="2026-01-01T00:00:00Z"),
        event(1, "RUNNING", when="2026-01-01T00:00:01Z", run_facets={"progress": {"p": 1}}),
        event(1, "COMPLETE", when="2026-01-01T00:00:02Z", run_facets={"progress": {"p": 2}}),
    ]
    seen = set()
    for order in itertools.permutations(events):
        run = project(*order).runs[uid(1)]
        seen.add(
            (
                run.state,
                run.started_us,
                run.ended_us,
                run.first_seq <= run.last_seq,
                str(run.facets),
            )
        )
    assert len(seen) == 1
    state, started, ended, _ordered, facets = seen.pop()
    assert (state, ended - started) == ("COMPLETE", 2_000_000)
    assert facets == str({"progress": {"p": 2}})


def test_a_job_event_declares_nodes_but_no_edges() -> None:
    body = {
        "eventTime": "2026-01-01T00:00:00Z",
        "job": {"namespace": "test", "name": "job", "facets": {}},
        "inputs": [dataset("/raw.csv", "b3:01")],
        "outputs": [dataset("/unversioned")],
    }
    facts = project(body)
    assert set(facts.nodes) == {
        JOB,
        ("dataset", "file://h", "/raw.csv"),
        ("dataset", "file://h", "/unversioned"),
    }
    assert set(facts.versions) == {(("dataset", "file://h", "/raw.csv"), "b3:01")}
    assert not facts.edges
    assert not facts.runs
