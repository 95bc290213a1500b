"""``threadline producers``: events and accepted schema deviations per producer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.data import DATA

from threadline.store import open_store

EVENTS = sorted((DATA / "marquez" / "events").glob("*.json"))
APPLES = sorted((DATA / "marquez" / "apples").glob("*.json"))
CLIENT = "https://github.com/OpenLineage/OpenLineage/blob/v1-0-0/client"


def _producers(store: Path, *extra: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "threadline", "--store", str(store), "producers", *extra],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_producers_counts_events_and_their_notes(tmp_path: Path) -> None:
    path = tmp_path / "lineage.db"
    store = open_store(path)
    try:
        store.append_batch([json.loads(p.read_bytes()) for p in [*EVENTS, *APPLES]])
    finally:
        store.close()
    counts = json.loads(_producers(path, "--json"))
    assert (counts["events"], counts["with_notes"]) == (23, 13)
    (only,) = counts["producers"]
    assert only["producer"] == CLIENT
    assert only["paths"]["$.schemaURL"] == 3 + 8
    table = _producers(path)
    assert CLIENT in table
    assert "$.schemaURL (11)" in table
