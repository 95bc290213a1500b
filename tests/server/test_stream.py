"""``GET /api/v1/stream``: Server-Sent Events of appended events, filtered and resumable."""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from tests.support.live import PRODUCER, RUN_EVENT_SCHEMA, Server

from threadline.model.canonical import canonical_json
from threadline.store import open_store


def event(namespace: str = "stream", *, dataset: bool = False) -> dict[str, Any]:
    if dataset:
        return {
            "eventTime": "2026-05-01T00:00:00Z",
            "dataset": {"namespace": namespace, "name": f"d-{uuid.uuid4().hex[:6]}"},
            "producer": PRODUCER,
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
        }
    return {
        "eventType": "START",
        "eventTime": "2026-05-01T00:00:00Z",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": namespace, "name": "job"},
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT_SCHEMA,
    }


@contextmanager
def subscribe(
    server: Server, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> Iterator[queue.Queue[tuple[float, str, dict[str, Any]]]]:
    """Read the stream on a thread; yields a queue of (arrival time, id, event)."""
    frames: queue.Queue[tuple[float, str, dict[str, Any]]] = queue.Queue()
    ready = threading.Event()
    stop = threading.Event()
    client = httpx.Client(base_url=server.url, timeout=httpx.Timeout(30.0))
    failures: list[BaseException] = []

    def read() -> None:
        try:
            with client.stream("GET", "/api/v1/stream", params=params, headers=headers) as response:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                ready.set()
                current_id = ""
                for line in response.iter_lines():
                    if line.startswith("id: "):
                        current_id = line[4:]
                    elif line.startswith("data: "):
                        frames.put((time.monotonic(), current_id, json.loads(line[6:])))
        except Exception as exc:  # closing the client from the test thread ends the read
            if not stop.is_set():
                failures.append(exc)
                ready.set()

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    assert ready.wait(10)
    assert not failures, failures
    try:
        yield frames
    finally:
        stop.set()
        client.close()
        thread.join(0.5)  # it ends when the server closes the connection
    assert not failures, failures


def take(frames: queue.Queue[tuple[float, str, dict[str, Any]]], n: int) -> list[Any]:
    return [frames.get(timeout=10) for _ in range(n)]


def test_each_committed_event_arrives_within_a_second(fresh_server: Server) -> None:
    http = fresh_server.client()
    with subscribe(fresh_server) as frames:
        time.sleep(0.3)  # let the subscription start at the head
        sent = []
        for _ in range(5):
            body = event()
            response = http.post("/api/v1/lineage", json=body)
            committed = time.monotonic()
            assert response.status_code == 201
            sent.append((committed, body))
        got = take(frames, 5)
    for (committed, body), (arrived, _id, data) in zip(sent, got, strict=True):
        assert data == body
        assert arrived - committed < 1.0


def test_commits_by_another_process_are_seen_by_polling(fresh_server: Server) -> None:
    with subscribe(fresh_server) as frames:
        time.sleep(0.3)
        store = open_store(fresh_server.store)  # this test process writes, not the server
        try:
            body = event()
            store.append_batch([body])
            committed = time.monotonic()
        finally:
            store.close()
        arrived, _id, data = take(frames, 1)[0]
    assert data == body
    assert arrived - committed < 1.0


def test_data_is_the_stored_canonical_body(fresh_server: Server) -> None:
    http = fresh_server.client()
    body = event()
    body["run"]["facets"] = {"x_custom": {"_producer": "p", "_schemaURL": "s", "ü": [1.5, None]}}
    with (
        subscribe(fresh_server) as frames,
        httpx.Client(base_url=fresh_server.url) as raw_client,
        raw_client.stream("GET", "/api/v1/stream") as response,
    ):
        time.sleep(0.3)
        assert http.post("/api/v1/lineage", json=body).status_code == 201
        take(frames, 1)
        data_line = next(line for line in response.iter_lines() if line.startswith("data: "))
    assert data_line[len("data: ") :].encode() == canonical_json(body)


def test_filters_by_namespace_and_kind(fresh_server: Server) -> None:
    http = fresh_server.client()
    with (
        subscribe(fresh_server, params={"namespace": "wanted"}) as by_namespace,
        subscribe(fresh_server, params={"kind": "dataset"}) as by_kind,
    ):
        time.sleep(0.3)
        bodies = [event("other"), event("wanted"), event("other", dataset=True), event("wanted")]
        assert http.post("/api/v1/lineage/batch", json=bodies).status_code == 201
        namespaced = take(by_namespace, 2)
        kinded = take(by_kind, 1)
        time.sleep(0.3)
        assert by_namespace.empty()
        assert by_kind.empty()
    assert [f[2] for f in namespaced] == [bodies[1], bodies[3]]
    assert kinded[0][2] == bodies[2]
    bad = http.get("/api/v1/stream", params={"kind": "model"})
    assert bad.status_code == 400
    assert bad.json()["error"] == "usage"


def test_resume_with_last_event_id(fresh_server: Server) -> None:
    http = fresh_server.client()
    bodies = [event() for _ in range(6)]
    with subscribe(fresh_server) as frames:
        time.sleep(0.3)
        assert http.post("/api/v1/lineage/batch", json=bodies[:3]).status_code == 201
        first = take(frames, 3)
    last_id = first[1][1]  # the client saw two events, then lost the connection
    assert http.post("/api/v1/lineage/batch", json=bodies[3:]).status_code == 201
    with subscribe(fresh_server, headers={"Last-Event-ID": last_id}) as frames:
        resumed = take(frames, 4)
    assert [f[2] for f in resumed] == bodies[2:]
    with subscribe(fresh_server, params={"after": first[0][1]}) as frames:
        again = take(frames, 5)
    assert [f[2] for f in again] == bodies[1:]
