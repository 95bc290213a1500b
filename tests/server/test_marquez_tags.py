"""Tagging datasets and columns through Marquez's API records DatasetEvents in the log; the
rest of the newer read endpoints answer their parameters as Marquez does, and refuse bad ones
with one clear 400."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from tests.support.live import Server, start_server
from tests.support.marquez_data import ENRICH, REPORT, STREAMS, WAREHOUSE, catalog_events

from threadline.model.events import (
    DATASET_EVENT_SCHEMA_URL,
    JOB_EVENT_SCHEMA_URL,
    PRODUCER,
    SCHEMA_URL,
)
from threadline.store import open_store

ORDERS = f"/api/v1/namespaces/{quote(WAREHOUSE, safe='')}/datasets/public.orders"
FACTS = f"/api/v1/namespaces/{quote(WAREHOUSE, safe='')}/datasets/public.order_facts"
CUSTOMERS = f"/api/v1/namespaces/{quote(WAREHOUSE, safe='')}/datasets/public.customers"


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, httpx.Client]]:
    """A server on the catalog of tests.support.marquez_data, shared by the module: the tests
    that tag each change a dataset of their own."""
    tmp = tmp_path_factory.mktemp("tags")
    url = str(tmp / "lineage.db")
    with open_store(url) as store:
        store.append_batch(catalog_events())
    server = start_server(tmp, store=url)
    try:
        yield server, server.client()
    finally:
        server.stop()


def _log(http: httpx.Client) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    after = None
    while True:
        page = http.get(
            "/api/v1/events", params={"limit": 1000, **({"after": after} if after else {})}
        )
        found = page.json()["events"]
        if not found:
            return events
        events += [item["event"] for item in found]
        after = page.json()["next"]


def test_tagging_a_dataset_is_a_recorded_event(catalog: tuple[Server, httpx.Client]) -> None:
    server, http = catalog
    before = len(_log(http))
    tagged = http.post(f"{ORDERS}/tags/SENSITIVE")
    assert tagged.status_code == 200, tagged.text
    assert tagged.json()["tags"] == ["SENSITIVE", "tier:gold"]
    log = _log(http)
    assert len(log) == before + 1
    event = log[-1]
    assert event["schemaURL"] == DATASET_EVENT_SCHEMA_URL
    assert event["producer"] == PRODUCER
    assert event["dataset"]["namespace"] == WAREHOUSE
    assert event["dataset"]["name"] == "public.orders"
    assert event["dataset"]["facets"]["tags"]["tags"] == [
        {"key": "tier", "value": "gold", "source": "USER"},
        {"key": "PII", "value": "true", "source": "USER", "field": "email"},
        {"key": "SENSITIVE", "value": "true", "source": "USER"},
    ]
    # The same tag again records nothing; PUT (as newer Marquez clients send) is the same.
    assert http.put(f"{ORDERS}/tags/SENSITIVE").json()["tags"] == ["SENSITIVE", "tier:gold"]
    assert len(_log(http)) == before + 1
    # Removing records the list without it; removing what is absent records nothing.
    removed = http.delete(f"{ORDERS}/tags/tier:gold")
    assert removed.json()["tags"] == ["SENSITIVE"]
    assert http.delete(f"{ORDERS}/tags/tier:gold").status_code == 200
    assert len(_log(http)) == before + 2
    assert http.get(ORDERS).json()["tags"] == ["SENSITIVE"]
    assert {"name": "SENSITIVE", "description": None} in http.get("/api/v1/tags").json()["tags"]
    with open_store(server.store) as store:  # the chain covers the tag events
        assert store.verify().ok


def test_tagging_a_column(catalog: tuple[Server, httpx.Client]) -> None:
    _server, http = catalog
    tagged = http.post(f"{FACTS}/fields/total/tags/FINANCE").json()
    assert {f["name"]: f["tags"] for f in tagged["fields"]} == {
        "order_id": [],
        "customer": [],
        "total": ["FINANCE"],
    }
    assert tagged["tags"] == []  # a column's tag is not the table's
    http.post(f"{FACTS}/fields/customer/tags/PII")
    untagged = http.delete(f"{FACTS}/fields/total/tags/FINANCE").json()
    assert {f["name"]: f["tags"] for f in untagged["fields"]} == {
        "order_id": [],
        "customer": ["PII"],
        "total": [],
    }
    missing = http.post(f"{FACTS}/fields/nope/tags/PII")
    assert missing.status_code == 404
    assert "no field 'nope'" in missing.json()["message"]


def test_a_tag_outlives_later_events_and_wins_over_a_clock_ahead(
    catalog: tuple[Server, httpx.Client],
) -> None:
    _server, http = catalog
    ahead = {
        "eventType": "COMPLETE",
        "eventTime": "2031-01-01T00:00:00Z",
        "producer": PRODUCER,
        "schemaURL": SCHEMA_URL,
        "run": {"runId": "01900000-0000-7000-8000-00000000b001"},
        "job": {"namespace": "shop", "name": "touch"},
        "outputs": [{"namespace": WAREHOUSE, "name": "public.customers"}],
    }
    assert http.post("/api/v1/lineage", json=ahead).status_code == 201
    assert "GOLDEN" in http.post(f"{CUSTOMERS}/tags/GOLDEN").json()["tags"]
    ahead["run"] = {"runId": "01900000-0000-7000-8000-00000000b002"}
    ahead["eventTime"] = "2031-01-02T00:00:00Z"
    assert http.post("/api/v1/lineage", json=ahead).status_code == 201
    assert "GOLDEN" in http.get(CUSTOMERS).json()["tags"]


def test_tagging_a_job_is_a_job_event_that_keeps_its_declared_lineage(
    catalog: tuple[Server, httpx.Client],
) -> None:
    _server, http = catalog
    declared = {
        "eventTime": "2026-03-05T00:00:00Z",
        "producer": PRODUCER,
        "schemaURL": JOB_EVENT_SCHEMA_URL,
        "job": {"namespace": "shop", "name": "planned"},
        "inputs": [{"namespace": WAREHOUSE, "name": "public.orders"}],
        "outputs": [{"namespace": WAREHOUSE, "name": "public.forecast"}],
    }
    assert http.post("/api/v1/lineage", json=declared).status_code == 201
    before = len(_log(http))
    tagged = http.post("/api/v1/namespaces/shop/jobs/planned/tags/NIGHTLY")
    assert tagged.status_code == 200, tagged.text
    job = tagged.json()
    assert job["tags"] == ["NIGHTLY"]
    assert job["inputs"] == [{"namespace": WAREHOUSE, "name": "public.orders"}]
    assert job["outputs"] == [{"namespace": WAREHOUSE, "name": "public.forecast"}]
    log = _log(http)
    assert len(log) == before + 1
    assert log[-1]["schemaURL"] == JOB_EVENT_SCHEMA_URL
    assert log[-1]["job"]["facets"]["tags"]["tags"] == [
        {"key": "NIGHTLY", "value": "true", "source": "USER"}
    ]
    assert "inputs" not in log[-1]
    ran = http.put("/api/v1/namespaces/shop/jobs/report/tags/DAILY").json()
    assert ran["tags"] == ["DAILY"]
    assert ran["latestRun"]["id"] == REPORT
    assert http.delete("/api/v1/namespaces/shop/jobs/report/tags/DAILY").json()["tags"] == []
    assert http.delete("/api/v1/namespaces/shop/jobs/nope/tags/DAILY").status_code == 404


@pytest.mark.parametrize(
    ("method", "url", "status", "message"),
    [
        ("POST", "/api/v1/namespaces/nowhere/datasets/nothing/tags/PII", 404, "no dataset"),
        ("POST", f"{ORDERS}/tags/%20", 400, "not blank"),
        ("POST", f"{ORDERS}/tags/{'x' * 256}", 400, "1 to 255"),
        ("GET", "/api/v1/search?q=order&sort=size", 400, "sort 'size'"),
        ("GET", "/api/v1/search?q=order&filter=table", 400, "dataset, job"),
        ("GET", "/api/v1/search?q=order&before=yesterday", 400, "before 'yesterday'"),
        ("GET", "/api/v1/events/lineage?sortDirection=up", 400, "sortDirection 'up'"),
        ("GET", "/api/v1/events/lineage?after=soon", 400, "after"),
        ("GET", "/api/v1/column-lineage?nodeId=datasetField:x", 400, "column node id"),
        ("GET", "/api/v1/column-lineage?nodeId=dataset:no:where", 404, "no node"),
        ("GET", "/api/v1/runlineage/upstream?runId=nope", 404, "no run"),
        ("GET", "/api/v1/sources/nope", 404, "no source"),
        ("GET", f"{ORDERS}/versions/b3:nope", 404, "no version"),
        ("GET", "/api/v1/namespaces/shop/jobs/enrich/versions/ex:nope", 404, "no version"),
        ("GET", f"/api/v1/jobs/runs/{ENRICH}/facets?type=dataset", 400, "type"),
    ],
)
def test_bad_requests_get_one_clear_error(
    catalog: tuple[Server, httpx.Client], method: str, url: str, status: int, message: str
) -> None:
    _server, http = catalog
    response = http.request(method, url)
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"error", "message"}
    assert message in response.text


def test_reads_answer_their_parameters(catalog: tuple[Server, httpx.Client]) -> None:
    _server, http = catalog
    jobs = http.get("/api/v1/search", params={"q": "ORDER", "filter": "DATASET"}).json()
    assert [r["nodeId"] for r in jobs["results"]] == [
        f"dataset:{WAREHOUSE}:public.order_facts",
        f"dataset:{WAREHOUSE}:public.orders",
    ]
    assert jobs["totalCount"] == 2
    # Marquez's web UI asks with a trailing slash and upper-case sort and filter.
    ui = http.get("/api/v1/search/", params={"q": "ORDER", "sort": "NAME", "filter": "DATASET"})
    assert ui.status_code == 200
    assert ui.json() == jobs
    both = http.get("/api/v1/search", params={"q": "enrich", "filter": "ALL"}).json()
    assert [r["type"] for r in both["results"]] == ["JOB"]
    newest = http.get("/api/v1/search", params={"q": "o", "sort": "UPDATE_AT", "limit": 3}).json()
    stamps = [r["updatedAt"] for r in newest["results"]]
    assert len(stamps) == 3
    assert stamps == sorted(stamps, reverse=True)

    events = http.get(
        "/api/v1/events/lineage",
        params={"after": "2026-03-03T00:00:00Z", "before": "2026-03-05T00:00:00Z"},
    ).json()
    # The web UI sends empty bounds when none is chosen: no bound.
    unbounded = http.get("/api/v1/events/lineage?limit=1&before=&after=&sortDirection=asc")
    assert unbounded.json()["totalCount"] >= len(catalog_events())
    assert [e["run"]["runId"] for e in events["events"]] == [
        "01900000-0000-7000-8000-00000000a003",
        REPORT,
    ]
    assert events["totalCount"] == 2

    field = f"datasetField:{WAREHOUSE}:public.order_facts:customer"
    graph = http.get("/api/v1/column-lineage", params={"nodeId": field, "depth": 1}).json()
    customer = next(n for n in graph["graph"] if n["id"] == field)
    assert customer["type"] == "DATASET_FIELD"
    assert customer["data"]["fieldType"] == "VARCHAR"
    assert [i["field"] for i in customer["data"]["inputFields"]] == ["name", "email"]
    assert sorted(e["origin"] for e in customer["inEdges"]) == [
        f"datasetField:{WAREHOUSE}:public.customers:name",
        f"datasetField:{WAREHOUSE}:public.orders:email",
    ]

    upstream = http.get("/api/v1/runlineage/upstream", params={"runId": REPORT}).json()
    assert [r["run"]["id"] for r in upstream["runs"]][:2] == [REPORT, ENRICH]
    assert upstream["runs"][0]["inputs"][0]["producedByRunId"] == ENRICH

    stream = http.get(f"/api/v1/sources/{quote(STREAMS, safe='')}").json()
    assert stream["type"] == "KAFKA"
    assert stream["connectionUrl"] == STREAMS
    assert http.get("/api/v1/sources/warehouse").json()["type"] == "POSTGRESQL"

    version = http.get("/api/v1/namespaces/shop/jobs/enrich/versions").json()["versions"][0]
    one = http.get(f"/api/v1/namespaces/shop/jobs/enrich/versions/{quote(version['version'])}")
    assert one.json() == version
    job_facets = http.get(f"/api/v1/jobs/runs/{ENRICH}/facets", params={"type": "job"}).json()
    assert job_facets["runId"] == ENRICH
    assert set(job_facets["facets"]) == {"documentation", "jobType", "sourceCodeLocation"}
    run_facets = http.get(f"/api/v1/jobs/runs/{ENRICH}/facets", params={"type": "run"}).json()
    assert set(run_facets["facets"]) == {"nominalTime"}


def test_the_marquez_python_client_reads_and_tags(catalog: tuple[Server, httpx.Client]) -> None:
    marquez_client = pytest.importorskip("marquez_client")
    server, _http = catalog
    client = marquez_client.MarquezClient(url=server.url)
    assert "warehouse" in [s["name"] for s in client.list_sources()["sources"]]
    assert client.get_source("warehouse")["connectionUrl"] == "postgresql://warehouse:5432/shop"
    assert "PII" in [t["name"] for t in client.list_tags()["tags"]]
    version = client.list_dataset_versions(WAREHOUSE, "public.order_facts")["versions"][0]
    found = client.get_dataset_version(WAREHOUSE, "public.order_facts", version["version"])
    assert found["createdByRun"]["id"] == ENRICH
    graph = client.get_column_lineage_by_dataset_field(
        WAREHOUSE, "public.daily_report", "total", depth=1, version=version["version"]
    )
    assert {n["id"] for n in graph["graph"]} == {
        f"datasetField:{WAREHOUSE}:public.daily_report:total",
        f"datasetField:{WAREHOUSE}:public.order_facts:total",
    }
    by_job = client.get_column_lineage_by_job("shop", "report", depth=0)
    assert {n["data"]["field"] for n in by_job["graph"]} == {"day", "total"}
    assert "CLIENT" in client.tag_dataset(WAREHOUSE, "public.daily_report", "CLIENT")["tags"]
    tagged = client.tag_dataset_field(WAREHOUSE, "public.daily_report", "day", "CLIENT_FIELD")
    assert {f["name"]: f["tags"] for f in tagged["fields"]}["day"] == ["CLIENT_FIELD"]
