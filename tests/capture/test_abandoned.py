"""Runs whose process and supervisor both died are ended by the next writer on their host."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.support.events import event

from threadline.capture.liveness import is_running, process_start
from threadline.capture.supervisor import Supervisor
from threadline.capture.supervisor_client import SocketSink
from threadline.model.ids import local_host
from threadline.store import open_store
from threadline.store.base import Cursor
from threadline.store.open_runs import open_runs


def dead_pid() -> int:
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    return done.pid


def started(run: int, **context: Any) -> dict[str, Any]:
    opened = event(run, "START", job=f"job-{run}")
    opened["run"]["facets"] = {
        "threadline_context": {"_producer": "t", "_schemaURL": "t", **context}
    }
    return opened


def states_after_a_supervised_write(db: Path) -> dict[str, str]:
    supervisor = Supervisor(str(db))
    supervisor.start()
    try:
        sink = SocketSink(supervisor.path)
        sink.emit_batch([event(99, job="the-next-command")], durable=True)
        sink.close(1.0)
    finally:
        supervisor.close()
    with open_store(db) as store:
        still_open = {run.job_name for run in open_runs(store)}
    return {f"job-{n}": ("open" if f"job-{n}" in still_open else "ended") for n in range(1, 6)}


def test_the_next_writer_aborts_runs_whose_process_is_gone(tmp_path: Path) -> None:
    db = tmp_path / "lineage.db"
    me, host = os.getpid(), local_host()
    with open_store(db) as store:
        store.append_batch(
            [
                started(1, host=host, pid=dead_pid(), processStart=1.0),
                started(2, host=host, pid=me, processStart=process_start(me)),
                # The same pid, but a process that started at another time: the pid was reused.
                started(3, host=host, pid=me, processStart=12.0),
                started(4, host="another-host", pid=dead_pid()),
                started(5, host=host),  # nothing to tell liveness by
            ]
        )
        assert len(open_runs(store)) == 5
    assert states_after_a_supervised_write(db) == {
        "job-1": "ended",
        "job-2": "open",
        "job-3": "ended",
        "job-4": "open",
        "job-5": "open",
    }
    with open_store(db) as store:
        bodies = [orjson.loads(stored.body) for stored in store.read_after(Cursor(0), 100)]
    aborts = [body for body in bodies if body["eventType"] == "ABORT"]
    assert sorted(a["job"]["name"] for a in aborts) == ["job-1", "job-3"]
    assert "ended without ending the run" in aborts[0]["run"]["facets"]["errorMessage"]["message"]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_liveness_tells_a_process_from_a_later_one_with_its_pid() -> None:
    me = os.getpid()
    assert is_running(me, process_start(me))
    assert is_running(me, None)
    assert not is_running(me, (process_start(me) or 0) - 3600)
    assert not is_running(dead_pid(), None)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_process_that_exited_unreaped_does_not_run() -> None:
    # A killed command whose supervisor died too is reparented; where the new parent never
    # reaps (a container's first process), it stays a zombie: its runs must still be ended.
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    start = process_start(child.pid)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with open(f"/proc/{child.pid}/stat", "rb") as handle:
                if handle.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                    break
            time.sleep(0.01)
        else:
            pytest.fail("the child never exited")
        assert not is_running(child.pid, start)
        assert not is_running(child.pid, None)
    finally:
        child.wait()


def test_a_run_whose_end_its_live_supervisor_still_holds_is_not_aborted(tmp_path: Path) -> None:
    """The command's process has exited, its run's end is still with its supervisor: a reader
    in between (which makes the writer agent look for abandoned runs) must not end it as
    ABORT; once the supervisor is gone and its end written, the run is COMPLETE."""
    db = tmp_path / "lineage.db"
    host, gone = local_host(), dead_pid()
    supervisor = Supervisor(str(db))
    supervisor.start()
    try:
        sink = SocketSink(supervisor.path)
        sink.emit_batch([started(1, host=host, pid=gone, processStart=1.0)], durable=True)
        with open_store(db) as store:  # a reader, while the supervisor is alive
            assert [run.job_name for run in open_runs(store)] == ["job-1"]
        ended = event(1, "COMPLETE", job="job-1")
        sink.emit_batch([ended], durable=False)
        sink.close(1.0)
    finally:
        supervisor.close()
    with open_store(db) as store:
        assert open_runs(store) == []
        states = [orjson.loads(e.body)["eventType"] for e in store.read_after(Cursor(0), limit=100)]
    assert "ABORT" not in states
