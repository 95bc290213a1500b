"""``show`` lists the schema deviations accepted on the events of the runs it shows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.data import DATA

from threadline.query.show import show
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
