"""Remote capture through ``HttpSink`` against a real server: delivery, spooling, replay."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.support.live import PRODUCER, RUN_EVENT_SCHEMA, Server, free_port

from threadline.capture.emitter import Emitter
from threadline.capture.http_sink import HttpSink, resolve_url
from threadline.capture.spool import Spool
from threadline.config import resolve
from threadline.errors import UsageError
from threadline.store import open_store


def event(job: str = "remote") -> dict[str, Any]:
    return {
        "eventType": "COMPLETE",
        "eventTime": "2026-03-01T00:00:00Z",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "http-sink", "name": job},
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT_SCHEMA,
    }


def stored_run_ids(server: Server) -> list[str]:
    store = open_store(server.store)
    try:
        from threadline.store.base import Cursor

        return [json.loads(r.body)["run"]["runId"] for r in store.read_after(Cursor(0), 100_000)]
    finally:
        store.close()


def wait_until(check: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def test_batches_reach_the_server(fresh_server: Server, tmp_path: Path) -> None:
    sink = HttpSink(fresh_server.url, spool_dir=tmp_path / "spool")
    events = [event() for _ in range(50)]
    sink.emit_batch(events[:25], durable=False)
    sink.emit_batch(events[25:], durable=True)
    assert sink.close(5.0)
    assert stored_run_ids(fresh_server) == [e["run"]["runId"] for e in events]
    assert Spool(tmp_path / "spool").segments() == []


def test_the_emitter_delivers_through_the_sink(fresh_server: Server, tmp_path: Path) -> None:
    emitter = Emitter(HttpSink(fresh_server.url, spool_dir=tmp_path / "spool"), batch_window=0.01)
    events = [event() for _ in range(300)]
    for item in events:
        emitter.emit(item)
    assert emitter.close(10.0)
    assert sorted(stored_run_ids(fresh_server)) == sorted(e["run"]["runId"] for e in events)


def test_a_refused_event_is_quarantined_alone_and_the_rest_delivered(
    fresh_server: Server, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    sink = HttpSink(fresh_server.url, spool_dir=tmp_path / "spool")
    good = [event() for _ in range(4)]
    bad = event()
    del bad["job"]["name"]
    sink.emit_batch([good[0], good[1], bad, good[2], good[3]], durable=False)
    sink.emit_batch([event()], durable=False)  # later batches are not held up
    sink.close(1.0)
    assert Spool(tmp_path / "spool").segments() == []
    assert len(stored_run_ids(fresh_server)) == 5
    [kept] = Spool(tmp_path / "spool").quarantine.entries()
    assert json.loads(kept.event) == bad
    assert kept.status == 400
    assert "job" in kept.reason
    assert "sync --rejected" in capfd.readouterr().err


def test_while_the_server_is_down_batches_spool_and_replay_when_it_is_back(
    server_factory: Callable[..., Server], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    spool = tmp_path / "spool"
    sink = HttpSink(f"http://127.0.0.1:{port}", spool_dir=spool, retries=1, backoff=0.01)
    events = [event() for _ in range(30)]
    started = time.monotonic()
    for start in range(0, 30, 10):
        sink.emit_batch(events[start : start + 10], durable=False)
    assert time.monotonic() - started < 5
    assert len(Spool(spool).segments()) == 3
    assert "spooled" in capfd.readouterr().err

    server = server_factory(port=port)
    # the background replayer probes every second (backing off): it sends the spool by itself
    assert wait_until(lambda: not Spool(spool).segments(), timeout=30)
    assert sink.close(5.0)
    assert stored_run_ids(server) == [e["run"]["runId"] for e in events]


def test_threadline_sync_replays_on_demand_and_replays_are_idempotent(
    server_factory: Callable[..., Server], tmp_path: Path
) -> None:
    port = free_port()
    spool = tmp_path / "spool"
    sink = HttpSink(
        f"http://127.0.0.1:{port}",
        spool_dir=spool,
        retries=0,
        replay_in_background=False,
    )
    events = [event() for _ in range(20)]
    sink.emit_batch(events[:10], durable=False)
    sink.emit_batch(events[10:], durable=False)
    sink.close(0.1)
    segments = Spool(spool).segments()
    assert len(segments) == 2
    # a segment sent twice (a crash between the answer and the delete) must change nothing
    shutil.copy(segments[0], spool / ("9" + segments[0].name))

    server = server_factory(port=port)
    result = subprocess.run(
        [sys.executable, "-m", "threadline", "sync", "--url", server.url, "--spool", str(spool)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report == {
        "sent_segments": 3,
        "sent_events": 30,
        "remaining": 0,
        "rejected": 0,
        "quarantined": 0,
    }
    assert stored_run_ids(server) == [e["run"]["runId"] for e in events]
    assert Spool(spool).segments() == []


def test_sync_reports_what_is_left_when_the_server_is_still_down(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.append([event()])
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "threadline",
            "sync",
            "--url",
            f"http://127.0.0.1:{free_port()}",
            "--spool",
            str(spool.folder),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert json.loads(result.stdout)["remaining"] == 1


def test_the_url_comes_from_the_argument_or_the_url_setting(tmp_path: Path) -> None:
    from_env = resolve(environ={"THREADLINE_URL": "http://h:1/"}, cwd=tmp_path)
    unset = resolve(environ={}, cwd=tmp_path)
    assert resolve_url(None, from_env) == "http://h:1"
    assert resolve_url("https://x", unset) == "https://x"
    with pytest.raises(UsageError, match="THREADLINE_URL"):
        resolve_url(None, unset)
    with pytest.raises(UsageError, match="not an http"):
        resolve_url("ftp://x", unset)


def test_spool_segments_are_whole_and_ordered(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s")
    first = spool.append([event("a"), event("b")])
    second = spool.append([event("c")])
    assert spool.segments() == [first, second]
    lines = Spool.read(first).splitlines()
    assert [json.loads(line)["job"]["name"] for line in lines] == ["a", "b"]
    assert not list((tmp_path / "s").glob("*.tmp"))
