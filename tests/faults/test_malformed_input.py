"""A corpus of malformed input posted to a real server, single and batch, on SQLite and
PostgreSQL (issue 11, fault suite): deep nesting, invalid UTF-8, NaN and Infinity, 1e999, NUL
bytes, lone surrogates, huge facets, 200,000 outputs, odd facet types, duplicate keys and a
gzip bomb.  No answer is a 5xx, a refused request writes nothing (the log's head does not
move), and the server stays healthy after each.

The server's batch limit is lowered to 6 MB so that 200,000 outputs (6.6 MB) are refused with
a 413 by both endpoints, as they would be by a default server above 64 MiB: appending that
many datasets takes minutes on a loaded test machine.  10,000 outputs are accepted whole.
"""

from __future__ import annotations

import gzip
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest
from tests.support.backends import BACKEND_PARAMS, store_location
from tests.support.live import PRODUCER, RUN_EVENT_SCHEMA, Server, start_server

_NDJSON = {"Content-Type": "application/x-ndjson"}
#: The corpus server's batch limit (see the module docs).
BATCH_LIMIT = 6_000_000


def _event(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "eventType": "COMPLETE",
        "eventTime": "2026-06-01T00:00:00Z",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "corpus", "name": "job"},
        "inputs": [],
        "outputs": [{"namespace": "corpus", "name": "out"}],
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT_SCHEMA,
    }
    body.update(changes)
    return body


def _text(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body)


def _splice(marker: str, raw: bytes) -> bytes:
    """An event's JSON text with the string ``marker`` replaced by raw bytes (for input no
    serializer writes: invalid UTF-8, NaN, lone surrogates, duplicate keys)."""
    text = _text(_event(run={"runId": str(uuid.uuid4()), "facets": {"x": {"v": marker}}}))
    return text.replace(f'"{marker}"'.encode(), raw)


def _deep(levels: int) -> bytes:
    nested = b"[" * levels + b"]" * levels
    return _splice("DEEP", nested)


def _with_outputs(count: int) -> bytes:
    outputs = [{"namespace": "c", "name": f"o{i}"} for i in range(count)]
    return _text(_event(outputs=outputs))


#: name → (event text, whether a server may accept it).  An accepted one must be stored whole.
CORPUS: dict[str, tuple[Callable[[], bytes], bool]] = {
    "deep nesting (100,000 levels)": (lambda: _deep(100_000), False),
    "deep nesting (200 levels)": (lambda: _deep(200), False),
    "invalid UTF-8": (lambda: _splice("U", b'"\xff\xfe\xc0"'), False),
    "NaN": (lambda: _splice("N", b"NaN"), False),
    "Infinity": (lambda: _splice("I", b"-Infinity"), False),
    "1e999": (lambda: _splice("E", b"1e999"), False),
    "a 400-digit integer": (lambda: _splice("D", b"9" * 400), False),
    "NUL in the job name": (lambda: _text(_event(job={"namespace": "c", "name": "a\0b"})), False),
    "NUL in a facet string": (
        lambda: _splice("Z", b'"a\\u0000b"'),
        True,
    ),
    "a lone surrogate": (lambda: _splice("S", b'"\\ud800"'), False),
    "a lone surrogate in the job name": (
        lambda: _text(_event()).replace(b'"name":"job"', b'"name":"\\udfff"'),
        False,
    ),
    "a 4 MiB facet": (lambda: _splice("H", orjson.dumps("h" * (4 << 20))), True),
    "200,000 outputs": (lambda: _with_outputs(200_000), False),
    "10,000 outputs": (lambda: _with_outputs(10_000), True),
    "facets as a list": (
        lambda: _text(_event(run={"runId": str(uuid.uuid4()), "facets": [1, 2]})),
        True,
    ),
    "a facet as a number": (
        lambda: _text(_event(run={"runId": str(uuid.uuid4()), "facets": {"parent": 7}})),
        True,
    ),
    "dataset facets as a string": (
        lambda: _text(_event(outputs=[{"namespace": "c", "name": "o", "facets": "x"}])),
        True,
    ),
    "artifact kind as an object": (
        lambda: _text(
            _event(
                outputs=[
                    {"namespace": "c", "name": "o", "facets": {"threadline_artifact": {"kind": {}}}}
                ]
            )
        ),
        False,
    ),
    "parent run id as an object": (
        lambda: _text(
            _event(
                run={
                    "runId": str(uuid.uuid4()),
                    "facets": {"parent": {"run": {"runId": {"a": 1}}, "job": {}}},
                }
            )
        ),
        True,
    ),
    "inputs as an object": (lambda: _text(_event(inputs={"namespace": "c"})), False),
    "duplicate keys": (
        lambda: _text(_event()).replace(
            b'"eventType":"COMPLETE"', b'"eventType":"START","eventType":"COMPLETE"'
        ),
        True,
    ),
    "a 100 kB version": (
        lambda: _text(
            _event(
                outputs=[
                    {
                        "namespace": "c",
                        "name": "v",
                        "facets": {"version": {"datasetVersion": uuid.uuid4().hex * 3200}},
                    }
                ]
            )
        ),
        True,
    ),
}


@pytest.fixture(scope="module", params=BACKEND_PARAMS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("corpus")
    with store_location(request.param, tmp, "tl_corpus") as location:
        started = start_server(tmp, "--max-batch-body", str(BATCH_LIMIT), store=location)
        try:
            yield started
        finally:
            started.stop()


def _head(http: httpx.Client, after: str | None) -> tuple[str, int]:
    """The log's last cursor, and how many events follow ``after``."""
    count = 0
    cursor = after
    while True:
        params: dict[str, Any] = {"limit": 10_000}
        if cursor is not None:
            params["after"] = cursor
        page = http.get("/api/v1/events", params=params).json()
        count += len(page["events"])
        if not page["events"]:
            return page["next"], count
        cursor = page["next"]


def _post(http: httpx.Client, batch: bool, text: bytes) -> httpx.Response:
    if batch:
        return http.post("/api/v1/lineage/batch", content=text + b"\n", headers=_NDJSON)
    return http.post("/api/v1/lineage", content=text, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("batch", [False, True], ids=["single", "batch"])
@pytest.mark.parametrize("case", list(CORPUS))
def test_malformed_input_is_never_a_5xx_nor_half_written(
    server: Server, case: str, batch: bool
) -> None:
    make, acceptable = CORPUS[case]
    text = make()
    http = server.client()
    before, _ = _head(http, None)
    # A valid event before the malformed one in a batch: refusing it must drop both.
    body = _text(_event()) + b"\n" + text if batch else text
    response = _post(http, batch, body)
    assert response.status_code < 500, (case, response.text[:300])
    _after, added = _head(http, before)
    if response.status_code >= 400:
        assert added == 0, case
        assert response.json()["message"], case
    else:
        assert acceptable, (case, "accepted", response.text[:300])
        assert added == (2 if batch else 1), case
    assert http.get("/api/v1/health").status_code == 200


def test_a_gzip_bomb_is_a_413_and_the_server_stays_healthy(server: Server) -> None:
    bomb = gzip.compress(b"\0" * (128 << 20), compresslevel=9)  # 128 MiB in 130 kB
    http = server.client()
    for path in ("/api/v1/lineage", "/api/v1/lineage/batch"):
        response = http.post(
            path,
            content=bomb,
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )
        assert response.status_code == 413, response.text[:300]
    assert http.get("/api/v1/health").status_code == 200
