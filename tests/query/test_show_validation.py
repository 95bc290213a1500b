"""``show`` lists the schema deviations accepted on the events of the runs it shows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.data import DATA

from threadline.query.show import show
from threadline.spec.ingest import default_policy
from threadline.store import open_store

SPARK = sorted((DATA / "marquez" / "events").glob("spark_listener_*.json"))
JOB = "job:my-scheduler-namespace/myjob"


def test_show_names_each_noted_event_with_its_json_paths(tmp_path: Path) -> None:
    path = tmp_path / "lineage.db"
    store = open_store(path)
    try:
        store.append_batch([json.loads(p.read_bytes()) for p in SPARK])
        detail = show(store, JOB).to_dict()
    finally:
        store.close()
    noted = detail["threadline_validation"]
    assert [(e["event_type"], [n["path"] for n in e["notes"]]) for e in noted] == [
        ("RUNNING", ["$.schemaURL"]),
        ("COMPLETE", ["$.schemaURL"]),
    ]
    assert {e["run_id"] for e in noted} == {"5e58a95c-1c71-4231-8984-ac172d5566cf"}

    printed = subprocess.run(
        [sys.executable, "-m", "threadline", "--store", str(path), "show", JOB],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert printed.returncode == 0, printed.stderr
    assert "threadline_validation" in printed.stdout
    assert printed.stdout.count("$.schemaURL") == 2


def test_show_of_events_that_hold_to_the_schema_has_no_notes(tmp_path: Path) -> None:
    store = open_store(tmp_path / "lineage.db")
    try:
        event = json.loads((DATA / "marquez" / "events" / "event_simple.json").read_bytes())
        store.append_batch([event])
        job = f"job:{event['job']['namespace']}/{event['job']['name']}"
        assert show(store, job).to_dict()["threadline_validation"] == []
    finally:
        store.close()


def test_show_finds_each_shown_run_s_noted_events_among_interleaved_runs(tmp_path: Path) -> None:
    """The log has no index by run id: a run's events are looked for among its job's
    events between its first and last record, with other runs of the same job and of other
    jobs appended in between."""
    original = [json.loads(p.read_bytes()) for p in SPARK]
    runs = {
        "a": ("myjob", "5e58a95c-1c71-4231-8984-ac172d5566cf"),
        "b": ("myjob", "0d6f2a4e-6a53-4d55-9c5b-3f4a1c2d9e11"),
        "c": ("otherjob", "7c1e9a2b-1f3d-4e5a-8b6c-2d4e6f8a0b13"),
    }
    interleaved = []
    for position, event in enumerate(original):
        for name, (job, run_id) in runs.items():
            copy = json.loads(json.dumps(event))
            copy["run"]["runId"] = run_id
            copy["job"]["name"] = job
            # Distinct times, so that no two copies are the same event.
            copy["eventTime"] = f"2026-02-0{1 + position}T00:00:0{'abc'.index(name)}Z"
            interleaved.append(copy)
    store = open_store(tmp_path / "lineage.db")
    try:
        store.append_batch(interleaved)
        detail = show(store, JOB).to_dict()
    finally:
        store.close()
    shown = {run["run_id"] for run in detail["runs"]}
    assert runs["c"][1] not in shown
    assert shown & {runs["a"][1], runs["b"][1]}
    notes_of = default_policy().notes
    expected = [
        (e["run"]["runId"], e["eventType"])
        for e in interleaved
        if e["run"]["runId"] in shown and notes_of(e)
    ]
    assert len(expected) >= 2 * len(shown)
    noted = [(e["run_id"], e["event_type"]) for e in detail["threadline_validation"]]
    assert noted == expected
