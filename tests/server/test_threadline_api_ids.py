"""The /api/v1/threadline endpoints take every id threadline prints, as the command line does:
Marquez node ids from /api/v1/lineage, short ids, version prefixes, run ids, and paths the
server can see; ambiguous and missing ones get a clear canonical error."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.live import PRODUCER, RUN_EVENT_SCHEMA, Server, start_server
from tests.support.pg import fresh_database

from threadline.fingerprint import fingerprint_path
from threadline.model.ids import file_dataset

ENDPOINTS = ("trace", "impact", "show")


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("ids")
    with contextlib.ExitStack() as stack:
        url = (
            stack.enter_context(fresh_database("tl_api_ids"))
            if request.param == "postgres"
            else None
        )
        server = start_server(tmp, store=url)
        stack.callback(server.stop)
        yield server


def event(
    run: str,
    when: str,
    inputs: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
    job: tuple[str, str],
    execution: str,
) -> dict[str, Any]:
    return {
        "eventType": "COMPLETE",
        "eventTime": when,
        "run": {"runId": run, "facets": {"threadline_execution": {"executionId": execution}}},
        "job": {"namespace": job[0], "name": job[1]},
        "inputs": inputs,
        "outputs": outputs,
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT_SCHEMA,
    }


@pytest.fixture
def recorded(live: Server, tmp_path: Path) -> dict[str, Any]:
    """A PostgreSQL table loaded twice into a local file the server can see."""
    tag = uuid.uuid4().hex[:8]
    table = {
        "namespace": "postgres://db:5432",
        "name": f"public.orders_{tag}",
        "facets": {"version": {"datasetVersion": "v:1"}},
    }
    path = tmp_path / "orders.csv"
    path.write_text("id,total\n1,2\n")
    local = file_dataset(path)
    output = {
        "namespace": local.namespace,
        "name": local.name,
        "facets": {"version": {"datasetVersion": fingerprint_path(path)}},
    }
    job = (f"etl:{tag}", "load")
    runs = [str(uuid.uuid4()), str(uuid.uuid4())]
    http = live.client()
    for run, when, execution in zip(
        runs,
        ("2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z"),
        (f"ex:{tag}aa", f"ex:{tag}ab"),
        strict=True,
    ):
        response = http.post(
            "/api/v1/lineage", json=event(run, when, [table], [output], job, execution)
        )
        assert response.status_code == 201, response.text
    return {
        "tag": tag,
        "table": table,
        "path": path,
        "local": local,
        "job": job,
        "runs": runs,
        "http": http,
    }


def get(http: httpx.Client, endpoint: str, **params: str) -> httpx.Response:
    return http.get(f"/api/v1/threadline/{endpoint}", params=params)


def root(http: httpx.Client, endpoint: str, ref: str) -> str:
    response = get(http, endpoint, id=ref)
    assert response.status_code == 200, (ref, response.text)
    body = response.json()
    return str(body["node"]["id"] if endpoint == "show" else body["root"])


def test_marquez_node_ids_from_the_lineage_graph_are_accepted(recorded: dict[str, Any]) -> None:
    http, table = recorded["http"], recorded["table"]
    node_id = f"dataset:postgres://db:5432:{table['name']}"
    graph = http.get("/api/v1/lineage", params={"nodeId": node_id, "depth": 2}).json()["graph"]
    marquez_ids = {node["id"] for node in graph}
    assert node_id in marquez_ids
    assert f"job:{recorded['job'][0]}:load" in marquez_ids
    for marquez_id in marquez_ids:
        answers = {root(http, endpoint, marquez_id) for endpoint in ENDPOINTS}
        assert len(answers) == 1
        node = get(http, "show", id=marquez_id).json()["node"]
        kind = "job" if node["kind"] == "job" else "dataset"
        assert f"{kind}:{node['namespace']}:{node['name']}" == marquez_id
    full = f"dataset:postgres://db:5432/{table['name']}@v:1"
    assert {root(http, e, node_id) for e in ENDPOINTS} == {full}


def test_short_forms_run_ids_and_paths(recorded: dict[str, Any]) -> None:
    http, tag = recorded["http"], recorded["tag"]
    namespace = recorded["job"][0]
    first = f"job:{namespace}/load@ex:{tag}aa"
    for ref in (
        first,
        f"{namespace}/load@ex:{tag}aa",
        f"ex:{tag}aa",
        recorded["runs"][0],
        f"job:{namespace}:load@ex:{tag}aa",
    ):
        assert {root(http, e, ref) for e in ENDPOINTS} == {first}, ref
    # A path the server can see resolves by its current content, like the command line.
    path = str(recorded["path"])
    file_id = f"dataset:{recorded['local'].namespace}{recorded['local'].name}@{fingerprint_path(recorded['path'])}"
    assert {root(http, e, path) for e in ENDPOINTS} == {file_id}
    diff = get(
        http, "diff", a=path, b=f"dataset:{recorded['local'].namespace}:{recorded['local'].name}"
    )
    assert diff.status_code == 200, diff.text
    assert "A and B are the same version" in diff.json()["notes"]


def test_ambiguous_and_missing_ids_are_clear_errors(recorded: dict[str, Any]) -> None:
    http, tag = recorded["http"], recorded["tag"]
    namespace = recorded["job"][0]
    for endpoint in ENDPOINTS:
        response = get(http, endpoint, id=f"job:{namespace}/load@ex:{tag}a")
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["error"] == "ambiguous_identifier"
        assert sorted(body["detail"]["candidates"]) == [
            f"job:{namespace}/load@ex:{tag}aa",
            f"job:{namespace}/load@ex:{tag}ab",
        ]
        assert f"ex:{tag}ab" in body["message"]
    gone = recorded["path"].with_name("gone.csv")
    response = get(http, "trace", id=str(gone))
    assert response.status_code == 404
    assert response.json()["message"].startswith(f"no such file on the threadline server: {gone}")
    response = get(http, "trace", id="dataset:postgres://db:5432:public.nothing")
    assert response.status_code == 404
    assert (
        "dataset:postgres://db:5432:public.nothing is not in the store"
        in response.json()["message"]
    )
