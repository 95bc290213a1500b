"""Poison input on a real server over SQLite and PostgreSQL (issue 11, finding 2): a value the
store cannot hold as sent is a 400 naming its field, never a 5xx, and a poison request never
fails the valid requests committed in the same group.  Long names and versions are stored
whole."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.backends import BACKEND_PARAMS, store_location
from tests.support.live import Server

_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


def _event(
    *,
    job: str = "job",
    namespace: str = "poison",
    dataset: str = "table",
    version: str | None = None,
    artifact: Any = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    facets: dict[str, Any] = {}
    if version is not None:
        facets["version"] = {"datasetVersion": version}
    if artifact is not None:
        facets["threadline_artifact"] = artifact
    return {
        "eventTime": "2024-01-01T00:00:00Z",
        "eventType": "COMPLETE",
        "producer": "https://example.com/poison",
        "schemaURL": _SCHEMA,
        "run": {"runId": run_id or str(uuid.uuid4())},
        "job": {"namespace": namespace, "name": job},
        "outputs": [{"namespace": "poison", "name": dataset, "facets": facets}],
    }


#: Refused whatever the backend, with the JSON path the 400 names.
POISON: dict[str, tuple[dict[str, Any], str]] = {
    "NUL in a job name": (_event(job="a\0b"), "$.job.name"),
    "NUL in a namespace": (_event(namespace="a\0b"), "$.job.namespace"),
    "NUL in a dataset name": (_event(dataset="a\0b"), "$.outputs[0].name"),
    "a run id over 64 characters": (_event(run_id="r" * 65), "$.run.runId"),
    **{
        f"artifact kind {label}": (
            _event(artifact={"kind": kind}),
            "$.outputs[0].facets.threadline_artifact.kind",
        )
        for label, kind in [
            ("as an object", {"a": 1}),
            ("as a list", ["model"]),
            ("null", None),
            ("as a number", 3),
            ("of 17 characters", "k" * 17),
        ]
    },
}


@pytest.fixture(params=BACKEND_PARAMS)
def server(
    request: pytest.FixtureRequest, tmp_path: Path, server_factory: Callable[..., Server]
) -> Iterator[Server]:
    with store_location(request.param, tmp_path, "tl_poison") as location:
        yield server_factory(store=location)


def _count(http: httpx.Client) -> int:
    return len(http.get("/api/v1/events", params={"limit": 10_000}).json()["events"])


def test_poison_is_a_400_naming_its_field_and_stores_nothing(server: Server) -> None:
    http = server.client()
    for label, (event, path) in POISON.items():
        response = http.post("/api/v1/lineage", json=event)
        assert response.status_code == 400, (label, response.text)
        assert response.json()["detail"]["path"] == path, label
    assert _count(http) == 0


def test_a_nul_in_a_facet_string_is_stored_as_sent(server: Server) -> None:
    http = server.client()
    event = _event()
    event["run"]["facets"] = {"note": {"text": "a\0b"}}
    assert http.post("/api/v1/lineage", json=event).status_code == 201
    stored = http.get("/api/v1/events").json()["events"][0]["event"]
    assert stored["run"]["facets"]["note"]["text"] == "a\0b"


def test_long_names_and_versions_are_stored_whole(server: Server) -> None:
    # Random text (it does not compress): an index holding it whole refuses a few kB.
    name = "n" + uuid.uuid4().hex * 15_625
    version = "v" + uuid.uuid4().hex * 15_625
    http = server.client()
    for event in (_event(dataset=name, version=version), _event(job=name, namespace=name)):
        response = http.post("/api/v1/lineage", json=event)
        assert response.status_code == 201, response.text[:300]
        # The same identity again lands on the same node and version.
        event["run"]["runId"] = str(uuid.uuid4())
        assert http.post("/api/v1/lineage", json=event).status_code == 201
    found = http.get("/api/v1/namespaces/poison/datasets", params={"limit": 100}).json()
    assert sorted(d["name"] for d in found["datasets"]) == sorted([name, "table"])


def test_a_poison_request_never_fails_the_rest_of_its_group(server: Server) -> None:
    valid = [_event(job=f"job-{i}", dataset=f"table-{i}") for i in range(200)]
    poison = [
        POISON[label][0]
        for label in (
            "NUL in a job name",
            "a run id over 64 characters",
            "artifact kind as an object",
            "artifact kind as a list",
            "artifact kind of 17 characters",
        )
    ]
    requests = [(event, True) for event in valid] + [(event, False) for event in poison]
    random.shuffle(requests)

    def post(item: tuple[dict[str, Any], bool]) -> tuple[bool, int]:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            return item[1], http.post("/api/v1/lineage", json=item[0]).status_code

    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(post, requests))
    assert [status for ok, status in answers if ok and status != 201] == []
    assert [status for ok, status in answers if not ok] == [400] * 5
    assert _count(server.client()) == 200
