"""show (one version in detail) and log (recent runs, newest first)."""

from __future__ import annotations

import orjson
import pytest
from tests.support.graphs import uid

from threadline.errors import NotFound, UsageError
from threadline.query import log, show
from threadline.store.sql import SqlStore


def test_show_a_model_version(store: SqlStore) -> None:
    detail = show(store, "model:file://h/model_b")
    body = detail.to_dict()
    assert list(body) == [
        "node",
        "facets",
        "runs",
        "upstream",
        "downstream",
        "versions",
        "threadline_validation",
    ]
    assert body["node"]["id"] == "model:file://h/model_b@b3:mb"
    assert body["facets"]["threadline_artifact"] == {"kind": "model"}
    assert body["facets"]["version"] == {"datasetVersion": "b3:mb"}
    assert body["upstream"] == 1  # written by train ex:tb
    assert body["downstream"] == 2  # read by evaluate ex:eb and score ex:s1
    assert [r["run_id"] for r in body["runs"]] == [uid(4)]
    run = body["runs"][0]
    assert run["job"] == "t/train"
    assert run["execution"] == "job:t/train@ex:tb"
    assert (run["user"], run["host"], run["dirty"]) == ("bo", "vm1", True)
    assert body["versions"] == {
        "count": 1,
        "recent": [
            {
                "version": "b3:mb",
                "id": "model:file://h/model_b@b3:mb",
                "first_seen": "2026-01-04T00:00:00.000000Z",
                "current": True,
            }
        ],
    }
    orjson.dumps(body)


def test_show_an_execution_lists_its_runs_newest_first(store: SqlStore) -> None:
    detail = show(store, "job:t/score@ex:s1")
    assert detail.node["runs"]["count"] == 2
    assert [r["run_id"] for r in detail.runs] == [uid(8), uid(7)]
    assert [r["user"] for r in detail.runs] == ["cy", "ana"]
    assert (detail.upstream, detail.downstream) == (2, 1)
    as_of = show(store, "job:t/score@ex:s1", as_of="2026-01-06T06:00Z")
    assert [r["run_id"] for r in as_of.runs] == [uid(7)]


def test_show_lists_other_versions_and_marks_the_current(store: SqlStore) -> None:
    detail = show(store, "dataset:file://h/raw_a@b3:a1")
    assert detail.version_count == 2
    assert [(v["version"], v["current"]) for v in detail.versions] == [
        ("b3:a2", False),
        ("b3:a1", True),
    ]
    assert detail.node["labels"] == ["pii"]
    assert detail.runs == []  # raw data: nothing wrote it


def test_show_unknown_is_not_found(store: SqlStore) -> None:
    with pytest.raises(NotFound):
        show(store, "model:file://h/nope")


def test_log_is_newest_first(store: SqlStore) -> None:
    entries = log(store, limit=3).runs
    assert [e["run_id"] for e in entries] == [uid(12), uid(11), uid(10)]
    assert entries[0]["job"] == "t/train"
    assert entries[0]["execution"] == "job:t/train@ex:tc"
    assert entries[0]["state"] == "COMPLETE"
    everything = log(store, limit=100).runs
    assert len(everything) == 12  # 12 distinct runs (run 3 has two events)
    assert len({e["run_id"] for e in everything}) == 12


def test_log_of_one_job_includes_failures(store: SqlStore) -> None:
    train = log(store, job="train").runs
    assert [e["run_id"] for e in train] == [uid(12), uid(9), uid(4), uid(3)]
    failed = next(e for e in train if e["run_id"] == uid(9))
    assert failed["state"] == "FAIL"
    assert failed["execution"] is None
    assert [e["run_id"] for e in log(store, job="t/train").runs] == [e["run_id"] for e in train]
    with pytest.raises(NotFound, match="no job named 'trian'"):
        log(store, job="trian")


def test_log_since(store: SqlStore) -> None:
    recent = log(store, since="2026-01-06T06:00:00Z").runs
    assert [e["run_id"] for e in recent] == [uid(12), uid(11), uid(10), uid(8)]
    with pytest.raises(UsageError, match="--since"):
        log(store, since="yesterday-ish")
    with pytest.raises(UsageError, match="limit"):
        log(store, limit=0)


def test_log_pages_through_many_events(store: SqlStore) -> None:
    # limit 1 reads pages of 100 events; run 3's two events must not count twice.
    assert [e["run_id"] for e in log(store, limit=1, job="train").runs] == [uid(12)]
    assert log(store, limit=2).to_dict()["runs"][1]["run_id"] == uid(11)
