"""The server is down for a whole ``threadline run``, then comes up: the spool delivers every
event exactly once, whether the next command or ``threadline sync`` sends it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import orjson
from tests.support.live import free_port, start_server

from threadline.capture.spool import Spool
from threadline.store import open_store
from threadline.store.base import Cursor

SCRIPT = """
import threadline
for n in range(25):
    with threadline.run(f"step-{n}") as step:
        with open(f"out-{n}.txt", "w") as handle:
            handle.write(str(n))
        step.wrote(f"out-{n}.txt")
"""


def sync(folder: Path, env: dict[str, str]) -> dict[str, int]:
    synced = subprocess.run(
        [sys.executable, "-m", "threadline", "sync"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert synced.returncode == 0, synced.stderr
    report: dict[str, int] = json.loads(synced.stdout)
    return report


def test_everything_spooled_while_the_server_was_down_arrives_once(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    (tmp_path / "steps.py").write_text(SCRIPT)
    env = {**os.environ, "THREADLINE_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "threadline", "run", "--", sys.executable, "steps.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "spooled" in done.stderr
    spooled = len(Spool(tmp_path / ".threadline" / "spool"))
    assert spooled > 0

    server = start_server(tmp_path, port=port)
    try:
        synced = [sync(tmp_path, env) for _ in range(2)]
    finally:
        server.stop()
    # A second sync finds nothing left and sends nothing twice.
    assert [report["remaining"] for report in synced] == [0, 0]
    assert synced[1]["sent_events"] == 0
    with open_store(server.store) as store:
        bodies = [orjson.loads(r.body) for r in store.read_after(Cursor(0), 100_000)]
        assert store.verify().ok
    runs = Counter((b["run"]["runId"], b["eventType"]) for b in bodies)
    assert max(runs.values()) == 1, "an event arrived twice"
    steps = {b["job"]["name"].rsplit(".", 1)[-1] for b in bodies}
    assert {f"step-{n}" for n in range(25)} <= steps
