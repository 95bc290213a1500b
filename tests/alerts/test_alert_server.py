"""Alerts from a real ``threadline serve`` (rules in its threadline.toml) to a real webhook
receiver: the event that makes a finding is alerted within 2 s, with the latency measured from
the client's POST to the receiver's arrival and logged by the server."""

from __future__ import annotations

import contextlib
import os
import queue
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from tests.alerts.conftest import Receiver
from tests.support.graphs import build_store, day, ds, run_event
from tests.support.live import free_port

from threadline.alerts import verify_signature
from threadline.fingerprint.files import fingerprint_file
from threadline.model.ids import local_host
from threadline.store import open_store

SECRET = "s3cret"


@contextlib.contextmanager
def serve(
    folder: Path, toml: str, env: dict[str, str], extra: tuple[str, ...] = ()
) -> Iterator[str]:
    """``threadline serve`` in ``folder`` (so it reads the threadline.toml there)."""
    (folder / "threadline.toml").write_text(toml)
    port = free_port()
    log = (folder / "server.log").open("wb")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "threadline",
            "serve",
            "--store",
            str(folder / "lineage.db"),
            "--port",
            str(port),
            "--log-level",
            "warning",
            *extra,
        ],
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**clean, **env},
    )
    log.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/api/v1/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    else:
        process.kill()
        raise AssertionError((folder / "server.log").read_text())
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def served(tmp_path: Path, receiver: Receiver) -> Iterator[str]:
    build_store(tmp_path / "lineage.db").close()
    toml = f"""
[[alert]]
name = "untrained"
checks = ["model_without_training_data"]
destinations = [{{ type = "webhook", url = "{receiver.url}/hook", secret_env = "TL_ALERT_SECRET" }}]
"""
    with serve(tmp_path, toml, {"TL_ALERT_SECRET": SECRET}) as url:
        yield url
    # The state file's default place.
    assert (tmp_path / ".threadline" / "alerts.db").exists()


def test_an_event_is_alerted_within_two_seconds(served: str, receiver: Receiver) -> None:
    latencies = []
    with httpx.Client(base_url=served, timeout=10) as client:
        # Let the server settle (its first follow of the change stream starts at the head).
        time.sleep(0.5)
        for n in range(5):
            name = f"/untrained-{uuid.uuid4().hex[:6]}"
            body = run_event(
                "import",
                str(uuid.uuid4()),
                [],
                [ds(name, f"b3:{n}{n}", "model")],
                when="2026-02-01T00:00:00Z",
            )
            sent = time.monotonic()
            assert client.post("/api/v1/lineage", json=body).status_code in (200, 201)
            [*_, arrived] = receiver.wait_for(n + 1, timeout=5)
            latencies.append(arrived.at - sent)
            assert verify_signature(SECRET, arrived.headers, arrived.body)
            [notice] = arrived.json()["alerts"]
            assert notice["status"] == "firing"
            assert notice["finding"]["node"] == f"model:file://h{name}"
        # The delivery is logged just after the webhook answered: wait for the last one.
        deadline = time.monotonic() + 5
        while True:
            logged = client.get("/api/v1/threadline/health/deliveries").json()["deliveries"]
            if len(logged) >= 5 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    assert len(logged) == 5
    assert all(d["ok"] for d in logged)
    print(
        f"\nalert latency POST → webhook: median {statistics.median(latencies) * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms; server-logged event → delivered: "
        f"max {max(d['latency_ms'] for d in logged):.0f} ms"
    )
    assert max(latencies) <= 2.0


def test_the_scheduled_check_alerts_a_file_changed_behind_its_back_and_its_repair(
    tmp_path: Path, receiver: Receiver
) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    recorded = fingerprint_file(data, cache=None)
    store = open_store(tmp_path / "lineage.db")
    try:
        output = {
            "namespace": f"file://{local_host()}",
            "name": str(data),
            "facets": {"version": {"datasetVersion": recorded}},
        }
        store.append_batch([run_event("write", str(uuid.uuid4()), [], [output], when=day(1))])
    finally:
        store.close()
    toml = f"""
[[alert]]
name = "files"
checks = ["fingerprints"]
destinations = [{{ type = "webhook", url = "{receiver.url}" }}]
"""
    # No event arrives: only the schedule (every second here) can see the file change.
    with serve(tmp_path, toml, {"THREADLINE_HEALTH_EVERY_SECONDS": "1"}):
        time.sleep(1.5)
        assert receiver.received == []
        data.write_text("a,b\n1,3\n")
        [changed] = receiver.wait_for(1, timeout=10)
        [notice] = changed.json()["alerts"]
        assert (notice["status"], notice["finding"]["check"]) == ("firing", "file_changed")
        data.write_text("a,b\n1,2\n")
        [_, repaired] = receiver.wait_for(2, timeout=10)
        [notice] = repaired.json()["alerts"]
        assert (notice["status"], notice["finding"]["check"]) == ("resolved", "file_changed")


def test_alerts_reach_the_sse_stream_as_their_own_event_type(tmp_path: Path) -> None:
    build_store(tmp_path / "lineage.db").close()
    toml = """
[[alert]]
name = "live"
checks = ["model_without_training_data"]
destinations = [{ type = "sse" }]
"""
    frames: queue.Queue[bytes] = queue.Queue()
    with serve(tmp_path, toml, {}) as url:

        def read() -> None:
            # The stream ends when the server stops: the end of this test, not a failure.
            with (
                contextlib.suppress(httpx.HTTPError),
                httpx.stream("GET", url + "/api/v1/threadline/health/stream", timeout=10) as r,
            ):
                for line in r.iter_lines():
                    frames.put(line.encode())

        threading.Thread(target=read, daemon=True).start()
        assert frames.get(timeout=5) == b"retry: 1000"
        body = run_event(
            "import", str(uuid.uuid4()), [], [ds("/sse-model", "b3:s1", "model")], when=day(2)
        )
        assert httpx.post(url + "/api/v1/lineage", json=body).status_code in (200, 201)
        lines = [frames.get(timeout=5) for _ in range(3)]
    assert lines[1] == b"event: threadline.alert"
    notice = orjson.loads(lines[2].removeprefix(b"data: "))
    assert (notice["status"], notice["finding"]["node"]) == ("firing", "model:file://h/sse-model")


def test_with_workers_one_delivers_and_every_worker_streams(
    tmp_path: Path, receiver: Receiver
) -> None:
    # Every worker has the rules (they travel with the settings), one holds the alert lead: each
    # finding is delivered once, and SSE listeners on any worker get its notice.
    build_store(tmp_path / "lineage.db").close()
    toml = f"""
[[alert]]
name = "untrained"
checks = ["model_without_training_data"]
destinations = [{{ type = "webhook", url = "{receiver.url}/hook" }}, {{ type = "sse" }}]
"""
    frames: list[queue.Queue[bytes]] = [queue.Queue() for _ in range(6)]
    with serve(tmp_path, toml, {}, ("--workers", "2")) as url:

        def read(into: queue.Queue[bytes]) -> None:
            with (
                contextlib.suppress(httpx.HTTPError),
                httpx.stream("GET", url + "/api/v1/threadline/health/stream", timeout=30) as r,
            ):
                for line in r.iter_lines():
                    into.put(line.encode())

        for into in frames:  # six connections: the kernel spreads them over both workers
            threading.Thread(target=read, args=(into,), daemon=True).start()
        for into in frames:
            assert into.get(timeout=10) == b"retry: 1000"
        time.sleep(1.0)  # both workers' follows have started
        names = [f"/untrained-w{n}" for n in range(3)]
        for n, name in enumerate(names):
            body = run_event(
                "import", str(uuid.uuid4()), [], [ds(name, f"b3:w{n}", "model")], when=day(2)
            )
            assert httpx.post(url + "/api/v1/lineage", json=body).status_code in (200, 201)
            receiver.wait_for(n + 1, timeout=10)
        time.sleep(3.0)  # time for a second worker to deliver, were it to
        alerted = [
            notice["finding"]["node"]
            for request in receiver.received
            for notice in request.json()["alerts"]
            if notice["status"] == "firing"
        ]
        assert sorted(alerted) == sorted(f"model:file://h{name}" for name in names)
        for into in frames:
            seen = []
            deadline = time.monotonic() + 10
            while len(seen) < len(names) and time.monotonic() < deadline:
                with contextlib.suppress(queue.Empty):
                    line = into.get(timeout=0.5)
                    if line.startswith(b"data: "):
                        seen.append(orjson.loads(line.removeprefix(b"data: "))["finding"]["node"])
            assert sorted(seen) == sorted(alerted)
