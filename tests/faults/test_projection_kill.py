"""kill -9 between an acknowledged append and its projection, and in the middle of one: the
graph is left at a page boundary of the log, never half a page, and the next reader (another
process) brings it up to the log; nothing acknowledged is missing and ``verify --deep`` agrees.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from threadline.query.reproject import deep_check
from threadline.store import open_store
from threadline.store import schema as s
from threadline.store.projector import PAGE

pytestmark = pytest.mark.slow

EVENTS = 8 * PAGE

CHILD = textwrap.dedent(
    """
    import sys, time
    from threadline.model.events import PRODUCER, SCHEMA_URL
    from threadline.store import open_store
    from threadline.store.projector import Projector

    store = open_store(sys.argv[1])
    store._projector = Projector(store._project_page, idle=3600)  # no catching up on its own
    events = [
        {
            "eventType": "COMPLETE",
            "eventTime": "2026-01-01T00:00:00Z",
            "producer": PRODUCER,
            "schemaURL": SCHEMA_URL,
            "run": {"runId": f"00000000-0000-4000-8000-{i:012d}"},
            "job": {"namespace": "kill", "name": f"job{i % 10}"},
            "outputs": [{"namespace": "file://h", "name": f"/out/{i}"}],
        }
        for i in range(int(sys.argv[2]))
    ]
    for start in range(0, len(events), 1000):
        store.append_batch(events[start : start + 1000])
    print("acknowledged", flush=True)
    if sys.argv[3] == "project":
        store.settle()
    time.sleep(600)
    """
)


def raw(path: Path) -> tuple[int, int]:
    """(watermark, runs in the graph), read without a store's catching up."""
    engine = sa.create_engine(f"sqlite:///{path}", poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            watermark = conn.execute(
                sa.select(s.meta.c.value).where(s.meta.c.key == s.GRAPH_PROJECTED)
            ).scalar_one()
            runs = conn.execute(sa.select(sa.func.count()).select_from(s.runs)).scalar_one()
    finally:
        engine.dispose()
    return int(watermark), int(runs)


@pytest.mark.parametrize("when", ["before", "project"])
def test_a_killed_writer_leaves_the_graph_at_a_page_boundary(tmp_path: Path, when: str) -> None:
    path = tmp_path / "lineage.db"
    open_store(path).close()
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(EVENTS), when],
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "acknowledged"
            if when == "project":
                # Kill it while it projects: wait for the first page to land, then cut.
                deadline = time.monotonic() + 60
                while raw(path)[0] == 0:
                    assert time.monotonic() < deadline, "the child never projected a page"
                    time.sleep(0.005)
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(30)
    watermark, runs = raw(path)
    assert watermark % PAGE == 0  # whole pages only
    assert runs == watermark
    if when == "before":
        assert watermark == 0
    else:
        assert watermark < EVENTS, "the child finished before it was cut: cut it sooner"
    with open_store(path) as store:
        assert store.counts()["runs"] == EVENTS
        assert store.verify().ok
        report = deep_check(store, check_files=False)
        assert report.ok, report
    assert raw(path) == (EVENTS, EVENTS)
