"""A large NDJSON batch is reviewed whole, then appended a chunk at a time in one transaction
(issue 11, finding 7): on a real server whose chunk is 10 events, a 96-event batch lands whole
and in order, and a bad last line writes nothing (the store's own chunk tests are in
``tests/store/contract.py``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from tests.support.backends import BACKEND_PARAMS, store_location
from tests.support.live import PRODUCER, RUN_EVENT_SCHEMA, Server

_NDJSON = {"Content-Type": "application/x-ndjson"}
CHUNK = 10


def _event(index: int) -> dict[str, Any]:
    return {
        "eventType": "COMPLETE",
        "eventTime": f"2026-06-01T00:{index // 60:02d}:{index % 60:02d}Z",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "chunks", "name": f"job-{index % 7}"},
        "inputs": [{"namespace": "chunks", "name": f"table-{(index + 1) % 13}"}],
        "outputs": [{"namespace": "chunks", "name": f"table-{index % 13}"}],
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT_SCHEMA,
    }


def _ndjson(events: list[Any]) -> bytes:
    return b"\n".join(orjson.dumps(e) for e in events) + b"\n"


@pytest.fixture(params=BACKEND_PARAMS)
def server(
    request: pytest.FixtureRequest, tmp_path: Path, server_factory: Callable[..., Server]
) -> Iterator[Server]:
    with store_location(request.param, tmp_path, "tl_chunks") as location:
        yield server_factory(store=location, env={"THREADLINE_BATCH_CHUNK_EVENTS": str(CHUNK)})


def _stored(http: httpx.Client) -> list[dict[str, Any]]:
    page = http.get("/api/v1/events", params={"limit": 10_000}).json()
    return [entry["event"] for entry in page["events"]]


def test_a_batch_of_many_chunks_lands_whole_and_in_order(server: Server) -> None:
    http = server.client()
    events = [_event(i) for i in range(95)]
    events.insert(50, events[3])  # a repeat in a later chunk is stored once
    response = http.post("/api/v1/lineage/batch", content=_ndjson(events), headers=_NDJSON)
    assert response.status_code == 201, response.text
    assert response.json() == {"accepted": 96}
    assert [e["run"]["runId"] for e in _stored(http)] == [
        e["run"]["runId"] for i, e in enumerate(events) if i != 50
    ]


def test_a_bad_last_line_writes_nothing(server: Server) -> None:
    http = server.client()
    body = _ndjson([_event(i) for i in range(45)]) + b'{"eventTime": "2026-06-01T00:00:00Z"}\n'
    response = http.post("/api/v1/lineage/batch", content=body, headers=_NDJSON)
    assert response.status_code == 400
    assert response.json()["detail"]["index"] == 45
    assert _stored(http) == []
