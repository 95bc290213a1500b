"""``POST /api/v1/lineage`` (+ ``/batch``) and ``GET /api/v1/events`` on a real server process."""

from __future__ import annotations

import gzip
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    column_lineage_dataset,
    data_quality_assertions_dataset,
    data_quality_metrics_input_dataset,
    ownership_dataset,
    ownership_job,
    schema_dataset,
)
from tests.support.live import (
    PRODUCER,
    RUN_EVENT_SCHEMA,
    Server,
    client_examples,
    dbt_streams,
    load_events,
    supply,
)

from threadline.store import open_store
from threadline.store.base import Cursor


def official_client(server: Server) -> OpenLineageClient:
    """The reference client, configured with nothing but the server's URL."""
    return OpenLineageClient(config={"transport": {"type": "http", "url": server.url}})


def rich_events(namespace: str) -> tuple[RunEvent, RunEvent]:
    """START and COMPLETE of one run with schema, column lineage, quality and ownership facets."""
    run = Run(runId=str(uuid.uuid4()))
    job = Job(
        namespace=namespace,
        name="build_orders",
        facets={
            "ownership": ownership_job.OwnershipJobFacet(owners=[ownership_job.Owner("team:data")])
        },
    )
    raw = InputDataset(
        namespace="postgres://db:5432",
        name=f"{namespace}.public.raw_orders",
        facets={
            "schema": schema_dataset.SchemaDatasetFacet(
                fields=[
                    schema_dataset.SchemaDatasetFacetFields("id", "INTEGER"),
                    schema_dataset.SchemaDatasetFacetFields("amount", "DECIMAL"),
                ]
            ),
            "dataQualityAssertions": data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
                assertions=[
                    data_quality_assertions_dataset.Assertion("not_null", True, column="id")
                ]
            ),
        },
        inputFacets={
            "dataQualityMetrics": data_quality_metrics_input_dataset.DataQualityMetricsInputDatasetFacet(
                columnMetrics={
                    "id": data_quality_metrics_input_dataset.ColumnMetrics(
                        nullCount=0, distinctCount=10
                    )
                },
                rowCount=10,
            )
        },
    )
    out = OutputDataset(
        namespace="postgres://db:5432",
        name=f"{namespace}.public.orders",
        facets={
            "schema": schema_dataset.SchemaDatasetFacet(
                fields=[schema_dataset.SchemaDatasetFacetFields("total", "DECIMAL")]
            ),
            "columnLineage": column_lineage_dataset.ColumnLineageDatasetFacet(
                fields={
                    "total": column_lineage_dataset.Fields(
                        inputFields=[
                            column_lineage_dataset.InputField(
                                namespace="postgres://db:5432",
                                name=f"{namespace}.public.raw_orders",
                                field="amount",
                            )
                        ]
                    )
                }
            ),
            "ownership": ownership_dataset.OwnershipDatasetFacet(
                owners=[ownership_dataset.Owner("team:finance", "TEAM")]
            ),
        },
    )
    start = RunEvent(
        eventType=RunState.START,
        eventTime="2026-01-05T10:00:00.000Z",
        run=run,
        job=job,
        producer=PRODUCER,
        inputs=[raw],
        outputs=[out],
    )
    complete = RunEvent(
        eventType=RunState.COMPLETE,
        eventTime="2026-01-05T10:05:00.000Z",
        run=run,
        job=job,
        producer=PRODUCER,
        inputs=[raw],
        outputs=[out],
    )
    return start, complete


def all_events(server: Server) -> list[dict[str, Any]]:
    client = server.client()
    events: list[dict[str, Any]] = []
    after = None
    while True:
        page = client.get(
            "/api/v1/events", params={"limit": 500, **({"after": after} if after else {})}
        )
        assert page.status_code == 200, page.text
        body = page.json()
        if not body["events"]:
            return events
        events.extend(item["event"] for item in body["events"])
        after = body["next"]


def test_official_client_events_are_stored_and_traceable(server: Server) -> None:
    namespace = f"ns-{uuid.uuid4().hex[:8]}"
    start, complete = rich_events(namespace)
    client = official_client(server)
    client.emit(start)
    client.emit(complete)
    client.emit(complete)  # a retry: stored once

    http = server.client()
    run = http.get(f"/api/v1/jobs/runs/{start.run.runId}").json()
    assert run["state"] == "COMPLETED"
    assert run["startedAt"].startswith("2026-01-05T10:00:00")
    assert run["durationMs"] == 300_000
    stored = [e for e in all_events(server) if e.get("run", {}).get("runId") == start.run.runId]
    assert sorted(e["eventType"] for e in stored) == ["COMPLETE", "START"]

    orders = f"dataset:postgres://db:5432/{namespace}.public.orders"
    graph = http.get("/api/v1/threadline/trace", params={"id": orders}).json()
    names = {node["name"] for node in graph["nodes"]}
    assert {f"{namespace}.public.orders", "build_orders", f"{namespace}.public.raw_orders"} <= names
    assert {e["relation"] for e in graph["edges"]} == {"input", "output"}

    dataset = http.get(
        f"/api/v1/namespaces/postgres%3A%2F%2Fdb%3A5432/datasets/{namespace}.public.orders"
    ).json()
    assert dataset["columnLineage"] == [
        {
            "name": "total",
            "inputFields": [
                {
                    "namespace": "postgres://db:5432",
                    "dataset": f"{namespace}.public.raw_orders",
                    "field": "amount",
                    "transformationDescription": None,
                    "transformationType": None,
                }
            ],
        }
    ]
    assert dataset["fields"][0]["name"] == "total"
    assert dataset["facets"]["ownership"]["owners"][0]["name"] == "team:finance"
    job = http.get(f"/api/v1/namespaces/{namespace}/jobs/build_orders").json()
    assert job["facets"]["ownership"]["owners"] == [{"name": "team:data"}]
    assert job["latestRun"]["id"] == start.run.runId


def test_gzip_bodies_from_the_official_client_are_accepted(server: Server) -> None:
    namespace = f"gz-{uuid.uuid4().hex[:8]}"
    start, _ = rich_events(namespace)
    client = OpenLineageClient(
        config={"transport": {"type": "http", "url": server.url, "compression": "gzip"}}
    )
    client.emit(start)
    assert (
        server.client().get(f"/api/v1/namespaces/{namespace}/jobs/build_orders").status_code == 200
    )


@pytest.mark.parametrize("path", client_examples(), ids=lambda p: p.stem)
def test_every_reference_client_example_is_accepted_and_in_the_graph(
    server: Server, path: Path
) -> None:
    event = json.loads(path.read_text())
    http = server.client()
    response = http.post("/api/v1/lineage", content=path.read_bytes(), headers=_json)
    assert response.status_code == 201, response.text
    assert response.json()["accepted"] == 1
    # the examples hold to the schema; some send naive times, which are read as UTC and noted
    notes = response.json().get("threadline_validation", [])
    assert [n["path"] for n in notes] == (
        [] if event["eventTime"].endswith("Z") or "+" in event["eventTime"] else ["$.eventTime"]
    )
    if "job" in event:
        job = event["job"]
        found_job = http.get(f"/api/v1/namespaces/{job['namespace']}/jobs/{job['name']}")
        assert found_job.status_code == 200
        if "run" not in event:  # a JobEvent: its static lineage shows on the Marquez job
            declared = [{"namespace": d["namespace"], "name": d["name"]} for d in event["inputs"]]
            assert found_job.json()["inputs"] == declared
    datasets = [event.get("dataset"), *event.get("inputs", []), *event.get("outputs", [])]
    for dataset in filter(None, datasets):
        found = http.get(f"/api/v1/namespaces/{dataset['namespace']}/datasets/{dataset['name']}")
        assert found.status_code == 200, found.text
    if "run" in event:
        assert http.get(f"/api/v1/jobs/runs/{event['run']['runId']}").status_code == 200


_json = {"Content-Type": "application/json"}


@pytest.mark.parametrize("path", dbt_streams(), ids=lambda p: p.stem)
def test_dbt_streams_as_they_are_are_accepted_with_their_deviations_noted(
    fresh_server: Server, path: Path
) -> None:
    events = load_events(path)
    http = fresh_server.client()
    single = http.post("/api/v1/lineage", json=events[0])
    assert single.status_code == 201, single.text
    noted = {n["path"] for n in single.json()["threadline_validation"]}
    # the fixtures' producer and schemaURL are missing, the run id is a template
    assert {"$.producer", "$.schemaURL", "$.run.runId"} <= noted

    batch = http.post("/api/v1/lineage/batch", json=events)
    assert batch.status_code == 201, batch.text
    assert batch.json()["accepted"] == len(events)
    indexes = {n["index"] for n in batch.json()["threadline_validation"]}
    assert indexes == set(range(len(events)))
    stored = all_events(fresh_server)
    assert stored == [json.loads(json.dumps(e)) for e in _unique(events)]


@pytest.mark.parametrize("path", dbt_streams(), ids=lambda p: p.stem)
def test_dbt_streams_as_they_are_are_refused_by_a_strict_server_naming_the_fields(
    server_factory: Any, path: Path
) -> None:
    events = load_events(path)
    http = server_factory("--strict").client()
    single = http.post("/api/v1/lineage", json=events[0])
    assert single.status_code == 400
    body = single.json()
    assert body["error"] == "invalid_event"
    paths = {p["path"] for p in body["detail"]["problems"]}
    assert {"$.producer", "$.schemaURL"} <= paths
    assert body["detail"]["path"] == "$.producer"
    assert "$.producer" in body["message"]

    batch = http.post("/api/v1/lineage/batch", json=events)
    assert batch.status_code == 400
    assert batch.json()["detail"]["index"] == 0


def _unique(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out = []
    for event in events:
        key = json.dumps(event, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(event)
    return out


@pytest.mark.parametrize("path", dbt_streams(), ids=lambda p: p.stem)
def test_dbt_streams_once_supplied_land_whole_in_the_graph(
    fresh_server: Server, path: Path
) -> None:
    events = supply(load_events(path), path.stem)
    http = fresh_server.client()
    ndjson = b"\n".join(json.dumps(e).encode() for e in events)
    response = http.post(
        "/api/v1/lineage/batch", content=ndjson, headers={"Content-Type": "application/x-ndjson"}
    )
    assert response.status_code == 201, response.text
    assert response.json() == {"accepted": len(events)}

    store = open_store(fresh_server.store)
    try:
        counts = store.counts()
        stored = store.read_after(Cursor(0), 10_000)
    finally:
        store.close()
    assert counts["events"] == len({json.dumps(e, sort_keys=True) for e in events})
    runs = {e["run"]["runId"] for e in events}
    jobs = {(e["job"]["namespace"], e["job"]["name"]) for e in events}
    assert counts["runs"] == len(runs)
    for namespace, name in jobs:
        job = http.get(f"/api/v1/namespaces/{namespace}/jobs/{name}")
        assert job.status_code == 200, (namespace, name)
    for event in events:
        for dataset in [*event.get("inputs", []), *event.get("outputs", [])]:
            got = http.get(
                f"/api/v1/namespaces/{_quote(dataset['namespace'])}"
                f"/datasets/{_quote(dataset['name'])}"
            )
            assert got.status_code == 200, dataset
    # parent runs: every child run names its parent, as sent
    for event in events:
        parent = event["run"].get("facets", {}).get("parent")
        if parent:
            child = http.get(f"/api/v1/jobs/runs/{event['run']['runId']}").json()
            assert child["facets"]["parent"]["run"]["runId"] == parent["run"]["runId"]
    # what was sent is what is stored, byte for byte after canonicalization
    bodies = [json.loads(r.body) for r in stored]
    assert sorted(json.dumps(b, sort_keys=True) for b in bodies) == sorted(
        {json.dumps(e, sort_keys=True) for e in events}
    )


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def _event_with_a_nameless_schema_field() -> dict[str, Any]:
    event = _event()
    event["outputs"] = [
        {
            "namespace": "s3://b",
            "name": "k",
            "facets": {
                "schema": {"_producer": PRODUCER, "_schemaURL": "x", "fields": [{"type": "x"}]}
            },
        }
    ]
    return event


def test_a_strict_server_refuses_schema_violations_naming_the_json_path_and_stores_nothing(
    server_factory: Any,
) -> None:
    strict = server_factory("--strict")
    http = strict.client()
    event = _event()
    event["run"]["runId"] = "not-a-uuid"
    response = http.post("/api/v1/lineage", json=event)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_event"
    assert body["detail"]["path"] == "$.run.runId"
    assert "not a 'uuid'" in body["detail"]["problems"][0]["message"]

    event = _event_with_a_nameless_schema_field()
    response = http.post("/api/v1/lineage", json=event)
    assert response.status_code == 400
    assert response.json()["detail"]["path"] == "$.outputs[0].facets.schema.fields[0].name"
    assert all_events(strict) == []


def test_schema_violations_lineage_survives_are_stored_with_notes(fresh_server: Server) -> None:
    http = fresh_server.client()
    event = _event_with_a_nameless_schema_field()
    event["run"]["runId"] = "not-a-uuid"
    response = http.post("/api/v1/lineage", json=event)
    assert response.status_code == 201, response.text
    notes = response.json()["threadline_validation"]
    assert [n["path"] for n in notes] == [
        "$.run.runId",
        "$.outputs[0].facets.schema.fields[0].name",
    ]
    page = http.get("/api/v1/events").json()["events"]
    assert page[0]["event"] == event  # stored as sent
    assert page[0]["threadline_validation"] == notes
    # the broken schema facet is not the dataset's schema
    dataset = http.get("/api/v1/namespaces/s3%3A%2F%2Fb/datasets/k").json()
    assert dataset["fields"] == []


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (b"{", "$"),
        (b"[]", "$"),
        (b'"text"', "$"),
        (b"{}", "$"),
        (b'{"run": {}}', "$.eventTime"),
    ],
)
def test_malformed_bodies_are_400_with_a_path(server: Server, body: bytes, path: str) -> None:
    response = server.client().post("/api/v1/lineage", content=body, headers=_json)
    assert response.status_code == 400, response.text
    assert response.json()["detail"]["path"] == path


def test_oversized_bodies_are_413_and_store_nothing(server_factory: Any) -> None:
    server = server_factory("--max-body", "2048")
    http = server.client()
    event = _event()
    event["run"]["facets"] = {"big": {"_producer": PRODUCER, "_schemaURL": "x", "blob": "x" * 4096}}
    response = http.post("/api/v1/lineage", json=event)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    # the same limit holds after decompression (a small gzip body that inflates past it)
    packed = gzip.compress(json.dumps(event).encode())
    assert len(packed) < 2048
    response = http.post(
        "/api/v1/lineage", content=packed, headers={**_json, "Content-Encoding": "gzip"}
    )
    assert response.status_code == 413
    assert all_events(server) == []


def test_large_compressed_batches_are_inflated_and_held_to_the_limit(
    server_factory: Any,
) -> None:
    """A compressed body large enough to be inflated off the event loop: accepted whole,
    refused past the limit once inflated, and a corrupt one is a 400; nothing half-stored."""
    server = server_factory(env={"THREADLINE_MAX_BATCH_BYTES": str(4 * 1024 * 1024)})
    http = server.client()
    events = [_event() for _ in range(3_000)]
    for number, event in enumerate(events):
        event["run"]["facets"] = {
            "note": {"_producer": PRODUCER, "_schemaURL": "x", "text": f"{uuid.uuid4()}" * 4}
        }
        event["eventTime"] = f"2026-02-01T00:{number // 60 % 60:02d}:{number % 60:02d}Z"
    body = b"\n".join(json.dumps(e).encode() for e in events)
    packed = gzip.compress(body)
    assert len(packed) >= 32 * 1024  # inflated in a worker thread
    assert len(body) < 4 * 1024 * 1024
    headers = {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}
    response = http.post("/api/v1/lineage/batch", content=packed, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["accepted"] == 3_000
    for bomb in (
        gzip.compress(b"\n" * (5 * 1024 * 1024)),  # small: inflated on the event loop
        gzip.compress(b"\n".join([body] * 4)),  # large: inflated in a thread
    ):
        response = http.post("/api/v1/lineage/batch", content=bomb, headers=headers)
        assert response.status_code == 413, len(bomb)
    # Cut short, even where what inflates ends at a line end: refused, not taken as shorter.
    for cut in (packed[:-4096], packed[:-8]):
        response = http.post("/api/v1/lineage/batch", content=cut, headers=headers)
        assert response.status_code == 400
        assert "cut short" in response.json()["message"]
    # Members concatenated (gzip -c a b > ab.gz): every event of both.
    more = [{**e, "run": {**e["run"], "runId": str(uuid.uuid4())}} for e in events[:40]]
    members = gzip.compress(b"\n".join(json.dumps(e).encode() for e in more[:20]) + b"\n")
    members += gzip.compress(b"\n".join(json.dumps(e).encode() for e in more[20:]))
    response = http.post("/api/v1/lineage/batch", content=members, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["accepted"] == 40
    stored = [e["run"]["runId"] for e in all_events(server)]
    assert stored == [e["run"]["runId"] for e in events + more]


def test_bodies_sent_in_chunks_are_read_whole_and_held_to_the_limit(server_factory: Any) -> None:
    """No Content-Length (chunked transfer): the body is read to its end before anything is
    decided, and one running over the limit is refused with the route's own 413."""
    server = server_factory("--max-body", "2048")
    http = server.client()
    event = _event()
    body = json.dumps(event).encode()
    pieces = [body[i : i + 100] for i in range(0, len(body), 100)]
    response = http.post("/api/v1/lineage", content=iter(pieces), headers=_json)
    assert response.status_code == 201, response.text
    assert response.json() == {"accepted": 1}
    big = _event()
    big["run"]["runId"] = str(uuid.uuid4())
    big["run"]["facets"] = {"big": {"_producer": PRODUCER, "_schemaURL": "x", "blob": "x" * 4096}}
    raw = json.dumps(big).encode()
    response = http.post(
        "/api/v1/lineage",
        content=iter([raw[i : i + 500] for i in range(0, len(raw), 500)]),
        headers=_json,
    )
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert [e["run"]["runId"] for e in all_events(server)] == [event["run"]["runId"]]


def test_batch_is_all_or_nothing_and_names_index_and_path(fresh_server: Server) -> None:
    http = fresh_server.client()
    events = [_event() for _ in range(5)]
    events[3]["eventTime"] = "yesterday"
    response = http.post("/api/v1/lineage/batch", json=events)
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert (detail["index"], detail["path"]) == (3, "$.eventTime")
    assert all_events(fresh_server) == []

    lines = b"\n".join(json.dumps(e).encode() for e in events[:3]) + b"\n{oops\n"
    response = http.post(
        "/api/v1/lineage/batch", content=lines, headers={"Content-Type": "application/x-ndjson"}
    )
    assert response.status_code == 400
    assert response.json()["detail"]["index"] == 3
    assert all_events(fresh_server) == []

    response = http.post("/api/v1/lineage/batch", json=events[:3])
    assert response.status_code == 201
    assert response.json() == {"accepted": 3}
    again = http.post("/api/v1/lineage/batch", json=events[:3])
    assert again.status_code == 201
    assert len(all_events(fresh_server)) == 3


def test_custom_facets_come_back_exactly_as_sent(fresh_server: Server) -> None:
    http = fresh_server.client()
    event = _event()
    custom = {
        "_producer": "https://example.com/my-producer",
        "_schemaURL": "https://example.com/schemas/MyFacet.json",
        "nested": {"list": [1, 2.5, "three", None, True], "unicode": "café ✓", "empty": {}},
        "big": 9007199254740991,
    }
    event["run"]["facets"] = {"myCompany_custom": custom}
    event["inputs"] = [
        {"namespace": "s3://bucket", "name": "in.csv", "facets": {"acme_quality": custom}}
    ]
    assert http.post("/api/v1/lineage", json=event).status_code == 201
    page = http.get("/api/v1/events").json()
    assert page["events"][0]["event"] == event
    assert page["events"][0]["event"]["run"]["facets"]["myCompany_custom"] == custom
    # the cursor pages on: nothing after the last event
    assert http.get("/api/v1/events", params={"after": page["next"]}).json()["events"] == []


def test_event_pages_follow_opaque_cursors(fresh_server: Server) -> None:
    http = fresh_server.client()
    events = [_event() for _ in range(7)]
    assert http.post("/api/v1/lineage/batch", json=events).status_code == 201
    seen: list[str] = []
    after = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if after:
            params["after"] = after
        page = http.get("/api/v1/events", params=params).json()
        if not page["events"]:
            break
        seen.extend(item["event"]["run"]["runId"] for item in page["events"])
        after = page["next"]
    assert seen == [e["run"]["runId"] for e in events]
    bad = http.get("/api/v1/events", params={"after": "not-a-cursor"})
    assert bad.status_code == 400
    assert bad.json()["error"] == "usage"


def _event() -> dict[str, Any]:
    return {
        "eventType": "COMPLETE",
        "eventTime": "2026-02-01T00:00:00Z",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "tests", "name": "job"},
        "inputs": [],
        "outputs": [],
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT_SCHEMA,
    }
