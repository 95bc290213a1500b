"""``GET /api/v1/threadline/health`` on a real server: the JSON of ``threadline health
--json``, its filters, and one-line 400s for bad parameters."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.support.graphs import build_store
from tests.support.live import Server

from threadline.config import Settings
from threadline.query.health import run_health
from threadline.store import open_store


def test_health_answers_the_reports_findings(
    tmp_path: Path, server_factory: Callable[..., Server]
) -> None:
    store_path = tmp_path / "pipeline.db"
    build_store(store_path).close()
    server = server_factory(store=str(store_path))
    client = server.client()
    answer = client.get("/api/v1/threadline/health")
    assert answer.status_code == 200
    body = answer.json()
    store = open_store(store_path)
    try:
        expected = run_health(store, Settings())
    finally:
        store.close()
    assert [f["node"] for f in body["findings"]] == [f.node for f in expected.findings]
    assert body["counts"] == expected.counts()
    assert body["checks"] == ["gaps", "orphans", "staleness", "drift", "fingerprints"]
    gated = client.get(
        "/api/v1/threadline/health", params={"check": "orphans", "fail_on": "error"}
    ).json()
    assert gated["checks"] == ["orphans"]
    assert gated["failed"] is False
    assert client.get("/api/v1/threadline/health", params={"fail_on": "warn"}).json()["failed"]
    empty = client.get("/api/v1/threadline/health", params={"namespace": "nope"}).json()
    assert empty["findings"] == []
    bad = client.get("/api/v1/threadline/health", params={"check": "gap"})
    assert bad.status_code == 400
    assert "unknown health check 'gap'" in bad.json()["message"]
    assert client.get("/api/v1/threadline/health", params={"fail_on": "x"}).status_code == 400
    # No alert rules: no deliveries, and no state file written.
    assert client.get("/api/v1/threadline/health/deliveries").json() == {"deliveries": []}
