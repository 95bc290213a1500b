"""The application as a whole: OpenAPI, one error shape, workers, PostgreSQL, schemathesis."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.live import PRODUCER, RUN_EVENT_SCHEMA, Server
from tests.support.pg import fresh_database

from threadline.config import Settings
from threadline.errors import UsageError
from threadline.server.app import app_from_environ


def event(namespace: str = "app") -> dict[str, Any]:
    return {
        "eventType": "COMPLETE",
        "eventTime": "2026-06-01T00:00:00Z",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": namespace, "name": "j"},
        "outputs": [{"namespace": namespace, "name": "out"}],
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT_SCHEMA,
    }


def test_openapi_documents_every_endpoint(server: Server) -> None:
    spec = server.client().get("/openapi.json").json()
    assert spec["info"]["title"] == "threadline"
    paths = set(spec["paths"])
    assert {
        "/api/v1/lineage",
        "/api/v1/lineage/batch",
        "/api/v1/events",
        "/api/v1/stream",
        "/api/v1/namespaces",
        "/api/v1/namespaces/{namespace}/datasets/{dataset}/versions",
        "/api/v1/namespaces/{namespace}/jobs/{job}/runs",
        "/api/v1/threadline/trace",
        "/api/v1/threadline/diff",
    } <= paths
    lineage = spec["paths"]["/api/v1/lineage"]
    assert set(lineage) == {"get", "post"}
    assert {"201", "400", "413"} <= set(lineage["post"]["responses"])
    assert "422" not in str(spec)
    assert server.client().get("/docs").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/api/v1/nowhere", 404, "not_found"),
        ("DELETE", "/api/v1/lineage", 405, "method_not_allowed"),
        ("GET", "/api/v1/namespaces?limit=0", 400, "usage"),
        ("GET", "/api/v1/threadline/trace?id=datset:file://h/x", 400, "invalid_identifier"),
        ("GET", "/api/v1/threadline/trace?id=dataset:file://h/none.csv", 404, "not_found"),
        # A path is looked for on the server: one it has not recorded is not found.
        ("GET", "/api/v1/threadline/trace?id=/etc/passwd", 404, "not_found"),
        ("GET", "/api/v1/threadline/trace?id=not-an-id", 404, "not_found"),
        ("POST", "/api/v1/lineage/batch", 400, "usage"),
    ],
)
def test_every_error_has_the_canonical_body(
    server: Server, method: str, path: str, status: int, code: str
) -> None:
    response = server.client().request(method, path)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code
    assert isinstance(body["message"], str)
    assert body["message"]
    assert set(body) <= {"error", "message", "detail"}


def test_threadline_questions_answer_with_the_query_layer_json(server: Server) -> None:
    http = server.client()
    ns = f"q-{uuid.uuid4().hex[:6]}"
    body = event(ns)
    assert http.post("/api/v1/lineage", json=body).status_code == 201
    out = f"dataset:{ns}/out"
    trace = http.get("/api/v1/threadline/trace", params={"id": out}).json()
    assert set(trace) == {"root", "nodes", "edges", "truncated"}
    assert {"id", "kind", "namespace", "name", "version"} <= set(trace["nodes"][0])
    assert trace["edges"] == [
        {"from": trace["nodes"][1]["id"], "to": trace["root"], "relation": "output"}
    ]
    job = trace["nodes"][1]["id"]
    impact = http.get("/api/v1/threadline/impact", params={"id": job, "depth": 1}).json()
    assert impact["root"] == job
    shown = http.get("/api/v1/threadline/show", params={"id": out}).json()
    assert shown["node"]["id"] == trace["root"]
    diff = http.get("/api/v1/threadline/diff", params={"a": out, "b": out}).json()
    assert "A and B are the same version" in diff["notes"]
    log = http.get("/api/v1/threadline/log", params={"job": f"{ns}/j"}).json()
    assert [run["run_id"] for run in log["runs"]] == [body["run"]["runId"]]
    old = http.get("/api/v1/threadline/trace", params={"id": out, "as_of": "2020-01-01"})
    assert old.status_code == 404
    found = http.get("/api/v1/threadline/search", params={"namespace": ns, "kind": "job"})
    assert found.json() == {
        "query": {"kind": "job", "namespace": ns},
        "results": [trace["nodes"][1]],
        "truncated": False,
    }
    bad = http.get("/api/v1/threadline/search", params={"kind": "table"})
    assert bad.status_code == 400
    assert "unknown kind 'table'" in bad.json()["message"]


def test_health_reports_the_head_cursor(fresh_server: Server) -> None:
    http = fresh_server.client()
    before = http.get("/api/v1/health").json()
    assert before["status"] == "ok"
    http.post("/api/v1/lineage", json=event())
    after = http.get("/api/v1/health").json()
    assert after["head"] != before["head"]


def test_several_workers_share_one_store(server_factory: Callable[..., Server]) -> None:
    server = server_factory("--workers", "2")
    events = [event("workers") for _ in range(40)]
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for body in events:
            assert http.post("/api/v1/lineage", json=body).status_code == 201
        runs = http.get("/api/v1/namespaces/workers/jobs/j/runs", params={"limit": 100}).json()
    assert runs["totalCount"] == 40
    # Stopping the server stops its workers too: nothing is left listening, nothing orphaned.
    port = server.url.rsplit(":", 1)[1]
    server.stop()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _processes_mentioning(f"--port {port}"):
        time.sleep(0.1)
    assert _processes_mentioning(f"--port {port}") == []


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                line = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in line:
                found.append(line)
    return found


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_database("tl_server") as url:
        yield url


@pytest.mark.postgres
def test_postgresql_store(server_factory: Callable[..., Server], pg_url: str) -> None:
    server = server_factory(store=pg_url)
    with httpx.Client(base_url=server.url, timeout=30) as http:
        body = event("pg")
        assert http.post("/api/v1/lineage", json=body).status_code == 201
        assert (
            http.post("/api/v1/lineage/batch", json=[event("pg"), event("pg")]).status_code == 201
        )
        job = http.get("/api/v1/namespaces/pg/jobs/j").json()
        assert job["latestRun"]["state"] == "COMPLETED"
        graph = http.get("/api/v1/lineage", params={"nodeId": "dataset:pg:out"}).json()
        assert {n["id"] for n in graph["graph"]} == {"dataset:pg:out", "job:pg:j"}
        page = http.get("/api/v1/events").json()
        assert page["events"][0]["event"] == body


def test_settings_are_checked_and_round_trip() -> None:
    settings = Settings(store="sqlite:////tmp/x.db", max_body_bytes=10)
    assert Settings.from_json(settings.to_json()) == settings
    with pytest.raises(UsageError, match="max_body_bytes"):
        Settings(max_body_bytes=0)
    with pytest.raises(UsageError, match="THREADLINE_SERVER_SETTINGS"):
        Settings.from_json("{")
    app = app_from_environ({"THREADLINE_SERVER_SETTINGS": settings.to_json()})
    assert app.title == "threadline"


# --- schemathesis -------------------------------------------------------------------------------


def test_schemathesis_finds_no_server_errors(server: Server) -> None:
    """Every documented operation, fed generated requests: no 5xx, documented statuses and
    content types only.  (Driven by hand: schemathesis' pytest plugin does not run on this
    pytest.)"""
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    checked = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        # Streams never end by design.
        if operation.path in ("/api/v1/stream", "/api/v1/threadline/health/stream"):
            continue

        @given(case=operation.as_strategy())
        @settings(
            max_examples=int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25")),
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case: Any) -> None:
            case.call_and_validate(
                checks=[not_a_server_error, status_code_conformance, content_type_conformance]
            )

        check()
        checked += 1
    assert checked >= 15
