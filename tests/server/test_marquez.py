"""Marquez-compatible reads in Marquez's JSON shapes, by plain HTTP and the Marquez client."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

import pytest
from tests.support.live import PRODUCER, RUN_EVENT_SCHEMA, Server

from threadline.query.catalog import version_uuid

DB = "postgres://db:5432"


def run_event(
    namespace: str,
    job: str,
    state: str,
    run_id: str,
    inputs: list[str],
    outputs: list[str],
    minute: int,
) -> dict[str, Any]:
    return {
        "eventType": state,
        "eventTime": f"2026-04-01T10:{minute:02d}:00Z",
        "run": {"runId": run_id},
        "job": {
            "namespace": namespace,
            "name": job,
            "facets": {
                "documentation": {"_producer": PRODUCER, "_schemaURL": "x", "description": job},
                "jobType": {
                    "_producer": PRODUCER,
                    "_schemaURL": "x",
                    "processingType": "BATCH",
                    "integration": "TEST",
                    "jobType": "TASK",
                },
            },
        },
        "inputs": [{"namespace": DB, "name": name} for name in inputs],
        "outputs": [
            {
                "namespace": DB,
                "name": name,
                "facets": {
                    "schema": {
                        "_producer": PRODUCER,
                        "_schemaURL": "x",
                        "fields": [{"name": "id", "type": "INTEGER", "description": "key"}],
                    },
                    "documentation": {
                        "_producer": PRODUCER,
                        "_schemaURL": "x",
                        "description": f"table {name}",
                    },
                },
            }
            for name in outputs
        ],
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT_SCHEMA,
    }


@pytest.fixture(scope="module")
def pipeline(module_server: Server) -> dict[str, Any]:
    """raw → ingest → staged → transform → final, each run START and COMPLETE."""
    ns = f"marquez-{uuid.uuid4().hex[:8]}"
    names = {k: f"{ns}.public.{k}" for k in ("raw", "staged", "final")}
    ingest, transform = str(uuid.uuid4()), str(uuid.uuid4())
    events = []
    for state, minute in (("START", 0), ("COMPLETE", 5)):
        events.append(
            run_event(ns, "ingest", state, ingest, [names["raw"]], [names["staged"]], minute)
        )
    for state, minute in (("START", 10), ("COMPLETE", 12)):
        events.append(
            run_event(
                ns, "transform", state, transform, [names["staged"]], [names["final"]], minute
            )
        )
    client = module_server.client()
    response = client.post("/api/v1/lineage/batch", json=events)
    assert response.status_code == 201, response.text
    return {"ns": ns, "names": names, "ingest": ingest, "transform": transform}


def q(text: str) -> str:
    return quote(text, safe="")


def test_namespaces(server: Server, pipeline: dict[str, Any]) -> None:
    http = server.client()
    listed = http.get("/api/v1/namespaces").json()
    names = [n["name"] for n in listed["namespaces"]]
    assert pipeline["ns"] in names
    assert DB in names
    one = http.get(f"/api/v1/namespaces/{q(DB)}").json()
    assert set(one) == {"name", "createdAt", "updatedAt", "ownerName", "description", "isHidden"}
    assert one["name"] == DB
    missing = http.get("/api/v1/namespaces/nope-" + uuid.uuid4().hex)
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"


def test_datasets_and_versions(server: Server, pipeline: dict[str, Any]) -> None:
    http = server.client()
    staged = pipeline["names"]["staged"]
    dataset = http.get(f"/api/v1/namespaces/{q(DB)}/datasets/{q(staged)}").json()
    for key in (
        "id",
        "type",
        "name",
        "physicalName",
        "createdAt",
        "updatedAt",
        "namespace",
        "sourceName",
        "fields",
        "tags",
        "lastModifiedAt",
        "description",
        "facets",
        "currentVersion",
    ):
        assert key in dataset, key
    assert dataset["id"] == {"namespace": DB, "name": staged}
    assert dataset["type"] == "DB_TABLE"
    assert dataset["fields"] == [
        {"name": "id", "type": "INTEGER", "tags": [], "description": "key"}
    ]
    assert dataset["description"] == f"table {staged}"
    assert dataset["currentVersion"] == version_uuid(DB, staged, f"run:{pipeline['ingest']}")

    listed = http.get(f"/api/v1/namespaces/{q(DB)}/datasets", params={"limit": 1000}).json()
    assert listed["totalCount"] >= 3
    assert staged in [d["name"] for d in listed["datasets"]]
    page = http.get(f"/api/v1/namespaces/{q(DB)}/datasets", params={"limit": 1, "offset": 1}).json()
    assert len(page["datasets"]) == 1
    assert page["datasets"][0]["name"] == sorted(d["name"] for d in listed["datasets"])[1]

    versions = http.get(f"/api/v1/namespaces/{q(DB)}/datasets/{q(staged)}/versions").json()
    assert versions["totalCount"] == 1
    version = versions["versions"][0]
    assert version["id"] == {
        "namespace": DB,
        "name": staged,
        "version": version_uuid(DB, staged, f"run:{pipeline['ingest']}"),
    }
    assert version["threadlineVersion"] == f"run:{pipeline['ingest']}"
    # The version route takes the UUID the answers show, or threadline's token.
    for name in (version["version"], version["threadlineVersion"]):
        one = http.get(f"/api/v1/namespaces/{q(DB)}/datasets/{q(staged)}/versions/{q(name)}")
        assert one.json() == version
    other = version_uuid(DB, pipeline["names"]["raw"], f"run:{pipeline['ingest']}")
    wrong = http.get(f"/api/v1/namespaces/{q(DB)}/datasets/{q(staged)}/versions/{other}")
    assert wrong.status_code == 404
    assert version["createdByRun"]["id"] == pipeline["ingest"]
    assert version["createdByRun"]["state"] == "COMPLETED"


def test_jobs_and_runs(server: Server, pipeline: dict[str, Any]) -> None:
    http = server.client()
    ns = pipeline["ns"]
    jobs = http.get(f"/api/v1/namespaces/{ns}/jobs").json()
    assert jobs["totalCount"] == 2
    job = http.get(f"/api/v1/namespaces/{ns}/jobs/transform").json()
    assert job["id"] == {"namespace": ns, "name": "transform"}
    assert job["type"] == "BATCH"
    assert job["inputs"] == [{"namespace": DB, "name": pipeline["names"]["staged"]}]
    assert job["outputs"] == [{"namespace": DB, "name": pipeline["names"]["final"]}]
    assert job["description"] == "transform"
    latest = job["latestRun"]
    assert latest["id"] == pipeline["transform"]
    assert latest["state"] == "COMPLETED"
    assert latest["durationMs"] == 120_000
    assert latest["jobVersion"]["name"] == "transform"
    assert [v["datasetVersionId"]["name"] for v in latest["outputDatasetVersions"]] == [
        pipeline["names"]["final"]
    ]
    runs = http.get(f"/api/v1/namespaces/{ns}/jobs/ingest/runs").json()
    assert runs["totalCount"] == 1
    assert runs["runs"][0]["id"] == pipeline["ingest"]
    assert http.get(f"/api/v1/jobs/runs/{pipeline['ingest']}").json()["state"] == "COMPLETED"
    assert http.get(f"/api/v1/jobs/runs/{uuid.uuid4()}").status_code == 404


def test_lineage_graph_in_marquez_shape(server: Server, pipeline: dict[str, Any]) -> None:
    http = server.client()
    ns, names = pipeline["ns"], pipeline["names"]
    graph = http.get("/api/v1/lineage", params={"nodeId": f"dataset:{DB}:{names['staged']}"}).json()
    nodes = {node["id"]: node for node in graph["graph"]}
    assert set(nodes) == {
        f"dataset:{DB}:{names['raw']}",
        f"dataset:{DB}:{names['staged']}",
        f"dataset:{DB}:{names['final']}",
        f"job:{ns}:ingest",
        f"job:{ns}:transform",
    }
    staged = nodes[f"dataset:{DB}:{names['staged']}"]
    assert set(staged) == {"id", "type", "data", "inEdges", "outEdges"}
    assert staged["type"] == "DATASET"
    assert staged["inEdges"] == [
        {"origin": f"job:{ns}:ingest", "destination": f"dataset:{DB}:{names['staged']}"}
    ]
    assert staged["outEdges"] == [
        {"origin": f"dataset:{DB}:{names['staged']}", "destination": f"job:{ns}:transform"}
    ]
    assert nodes[f"job:{ns}:ingest"]["type"] == "JOB"
    assert nodes[f"job:{ns}:ingest"]["data"]["latestRun"]["id"] == pipeline["ingest"]

    shallow = http.get("/api/v1/lineage", params={"nodeId": f"job:{ns}:ingest", "depth": 0}).json()
    assert {n["id"] for n in shallow["graph"]} == {
        f"job:{ns}:ingest",
        f"dataset:{DB}:{names['raw']}",
        f"dataset:{DB}:{names['staged']}",
    }


@pytest.mark.parametrize(
    ("node_id", "status"),
    [("dataset:nowhere:nothing", 404), ("table:x:y", 400), ("dataset", 400)],
)
def test_lineage_errors(server: Server, node_id: str, status: int) -> None:
    response = server.client().get("/api/v1/lineage", params={"nodeId": node_id})
    assert response.status_code == status
    assert set(response.json()) >= {"error", "message"}


def test_the_marquez_python_client_reads_the_same(server: Server, pipeline: dict[str, Any]) -> None:
    marquez_client = pytest.importorskip("marquez_client")
    client = marquez_client.MarquezClient(url=server.url)
    ns, names = pipeline["ns"], pipeline["names"]
    assert ns in [n["name"] for n in client.list_namespaces()["namespaces"]]
    assert client.get_namespace(DB)["name"] == DB
    dataset = client.get_dataset(DB, names["final"])
    assert dataset["id"] == {"namespace": DB, "name": names["final"]}
    assert (
        client.list_dataset_versions(DB, names["final"])["versions"][0]["createdByRun"]["id"]
        == (pipeline["transform"])
    )
    assert {d["name"] for d in client.list_datasets(DB, limit=1000)["datasets"]} >= set(
        names.values()
    )
    assert client.get_job(ns, "ingest")["latestRun"]["id"] == pipeline["ingest"]
    assert [j["name"] for j in client.list_jobs(ns)["jobs"]] == ["ingest", "transform"]
    assert client.list_job_runs(ns, "transform")["runs"][0]["id"] == pipeline["transform"]
    assert client.get_job_run(pipeline["ingest"])["state"] == "COMPLETED"
