"""kill -9 in the middle of ``threadline gc``: every batch it committed stays erased, the graph
is marked stale, and the next run finishes the job under the same pseudonym; the log verifies
and nothing of the erased dataset is left in the store's files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from threadline.lifecycle.apply import BATCH
from threadline.model.events import PRODUCER, SCHEMA_URL
from threadline.query.reproject import deep_check
from threadline.store import open_store
from threadline.store.admin import erasures
from threadline.store.rebuild import stale_since

pytestmark = pytest.mark.slow

RUNS = 40 * BATCH  # forty erasure transactions, each fsynced: long enough to be cut
SECRET = "/patients/ward-7/admissions.csv"
RULES = """
[[tool.threadline.lifecycle]]
name = "gdpr"
match = { label = "pii" }
older_than = "1d"
action = "delete"
reason = "retention of admissions ended"
"""


def event(i: int) -> dict[str, Any]:
    source = {
        "namespace": "file://h",
        "name": SECRET,
        "facets": {
            "version": {
                "_producer": PRODUCER,
                "_schemaURL": "https://x/V.json",
                "datasetVersion": "b3:01",
            },
            "threadline_classification": {
                "_producer": PRODUCER,
                "_schemaURL": "https://x/C.json",
                "labels": ["pii"],
            },
        },
    }
    out = {"namespace": "file://h", "name": f"/derived/{i}.parquet"}
    return {
        "eventType": "COMPLETE",
        "eventTime": "2026-01-02T00:00:00Z",
        "run": {
            "runId": str(uuid.UUID(int=i + 1)),
            "facets": {
                "nominalTime": {
                    "_producer": PRODUCER,
                    "_schemaURL": "https://x/N.json",
                    "nominalStartTime": "2026-01-02T00:00:00Z",
                    "note": f"read {SECRET}",
                }
            },
        },
        "job": {"namespace": "etl", "name": f"step-{i}"},
        "inputs": [source],
        "outputs": [out],
        "producer": PRODUCER,
        "schemaURL": SCHEMA_URL,
    }


def gc(folder: Path, store: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "threadline", "--store", store, "gc", "--yes", "--json"],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def erasure_events(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    sa.text("SELECT count(*) FROM tl_events WHERE job_name = 'lifecycle/erase'")
                ).scalar_one()
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "kill_after",
    [2, RUNS // BATCH],
    ids=["while-erasing", "while-rebuilding-the-graph"],
)
def test_gc_killed_half_way_is_finished_by_the_next_run(tmp_path: Path, kill_after: int) -> None:
    path = tmp_path / "lineage.db"
    url = f"sqlite:///{path}"
    store = open_store(url)
    store.append_batch([event(i) for i in range(RUNS)])
    store.close()
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent(RULES))

    first = gc(tmp_path, url)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and first.poll() is None:
        if erasure_events(url) >= kill_after:
            os.kill(first.pid, signal.SIGKILL)
            break
        time.sleep(0.005)
    first.communicate(timeout=60)
    assert first.returncode == -signal.SIGKILL, "gc finished before it could be killed"

    store = open_store(url)
    try:
        done = erasure_events(url)
        assert kill_after <= done <= RUNS // BATCH
        assert stale_since(store) is not None  # the graph still shows what was erased
        assert store.verify().ok  # committed batches are whole
    finally:
        store.close()

    second = gc(tmp_path, url)
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err.decode()
    report = orjson.loads(out)
    assert report["resumed"] is True
    assert report["records_rewritten"] == RUNS - done * BATCH

    store = open_store(url)
    try:
        assert stale_since(store) is None
        marks = store.read(erasures)
        assert sorted(marks) == list(range(1, RUNS + 1))  # each record erased exactly once
        verified = store.verify()
        assert verified.ok, verified.first_break
        assert verified.erased == RUNS
        assert deep_check(store, check_files=False).ok
        names = store.read(
            lambda c: set(
                c.execute(sa.text("SELECT name FROM tl_nodes WHERE name LIKE 'erased/%'")).scalars()
            )
        )
        assert len(names) == 1  # one pseudonym across the killed run and the one that finished
    finally:
        store.close()
    for file in tmp_path.iterdir():
        if file.name.startswith("lineage.db"):
            data = file.read_bytes()
            assert SECRET.encode() not in data, file.name
            assert b"ward-7" not in data, file.name
