"""What real producers send, on a real server over SQLite and PostgreSQL: Marquez's own test
events and its "apples" scenario are accepted with their deviations noted; ``--strict``
refuses the ones that break the schema."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.backends import BACKEND_PARAMS, store_location
from tests.support.data import DATA
from tests.support.live import Server

MARQUEZ = DATA / "marquez"
EVENTS = sorted((MARQUEZ / "events").glob("*.json"))
APPLES = sorted((MARQUEZ / "apples").glob("*.json"))
#: The deviations of each Marquez test event (the others hold to the schema).
NOTED = {
    "event_full": ["$.inputs[0].inputFacets.dataQualityMetrics.columnMetrics"],
    "event_required_no_timezone": ["$.eventTime"],
    "event_without_schema_url": ["$.schemaURL"],
    "spark_listener_1": ["$.schemaURL"],
    "spark_listener_2": ["$.schemaURL"],
}
#: What a strict server refuses: schema violations (a naive time is read as UTC either way).
STRICTLY_REFUSED = {stem: paths[0] for stem, paths in NOTED.items() if paths != ["$.eventTime"]}
_json = {"Content-Type": "application/json"}


@pytest.fixture(params=BACKEND_PARAMS)
def store_for(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh store location on each backend."""
    with store_location(request.param, tmp_path, "tl_ingest") as location:
        yield location


def test_every_marquez_test_event_is_accepted_with_the_right_notes(
    server_factory: Callable[..., Server], store_for: str
) -> None:
    server = server_factory(store=store_for)
    http = server.client()
    tally = {"accepted without notes": 0, "accepted with notes": 0, "refused": 0}
    for path in EVENTS:
        response = http.post("/api/v1/lineage", content=path.read_bytes(), headers=_json)
        assert response.status_code == 201, (path.name, response.text)
        notes = [n["path"] for n in response.json().get("threadline_validation", [])]
        assert notes == NOTED.get(path.stem, []), path.name
        tally["accepted with notes" if notes else "accepted without notes"] += 1
    print(f"\nMarquez test events on {_backend(store_for)}: {tally}")

    stored = _all(http)
    assert len(stored) == len(EVENTS)
    # stored as sent: the body comes back equal to what was posted
    sent = {json.dumps(json.loads(p.read_bytes()), sort_keys=True) for p in EVENTS}
    assert {json.dumps(item["event"], sort_keys=True) for item in stored} == sent
    annotated = sorted(
        note["path"] for item in stored for note in item.get("threadline_validation", [])
    )
    assert annotated == sorted(path for paths in NOTED.values() for path in paths)

    producers = http.get("/api/v1/threadline/producers").json()
    assert (producers["events"], producers["with_notes"]) == (len(EVENTS), len(NOTED))
    (only,) = producers["producers"]
    assert only["producer"] == "https://github.com/OpenLineage/OpenLineage/blob/v1-0-0/client"
    assert only["paths"]["$.schemaURL"] == 3
    assert only["paths"]["$.inputs[*].inputFacets.dataQualityMetrics.columnMetrics"] == 1


def test_a_strict_server_refuses_the_schema_violations_naming_the_path(
    server_factory: Callable[..., Server], store_for: str
) -> None:
    server = server_factory("--strict", store=store_for)
    http = server.client()
    refused: dict[str, str] = {}
    for path in EVENTS:
        response = http.post("/api/v1/lineage", content=path.read_bytes(), headers=_json)
        if response.status_code == 400:
            body = response.json()
            assert body["detail"]["path"] in body["message"]
            refused[path.stem] = body["detail"]["path"]
        else:
            assert response.status_code == 201, response.text
    print(f"\nstrict on {_backend(store_for)}: {len(refused)} refused of {len(EVENTS)}")
    assert refused == STRICTLY_REFUSED
    assert len(_all(http)) == len(EVENTS) - len(STRICTLY_REFUSED)


def test_marquez_apples_scenario_without_schema_url_lands_whole(
    server_factory: Callable[..., Server], store_for: str
) -> None:
    server = server_factory(store=store_for)
    http = server.client()
    events = [json.loads(path.read_bytes()) for path in APPLES]
    response = http.post("/api/v1/lineage/batch", json=events)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["accepted"] == len(APPLES) == 8
    assert [(n["index"], n["path"]) for n in answer["threadline_validation"]] == [
        (index, "$.schemaURL") for index in range(len(APPLES))
    ]
    pie = http.get(
        "/api/v1/threadline/trace", params={"id": "dataset:grandmas.kitchen/apple.pie"}
    ).json()
    names = {node["name"] for node in pie["nodes"]}
    # the pie that tasted off: its filling was made from the second picking, the crab apples
    assert {"crab.apples", "apples", "apple.filling", "cinnamon", "sugar"} <= names
    assert "red.delicious" not in names
    vinegar = http.get("/api/v1/namespaces/cupboard/datasets/apple.vinegar")
    assert vinegar.status_code == 200, vinegar.text


def test_an_event_lineage_cannot_use_is_refused_naming_the_field(
    server_factory: Callable[..., Server], store_for: str
) -> None:
    http = server_factory(store=store_for).client()
    event = json.loads((MARQUEZ / "events" / "event_simple.json").read_bytes())
    del event["job"]["name"]
    response = http.post("/api/v1/lineage", json=event)
    assert response.status_code == 400
    body = response.json()
    assert body["detail"]["path"] == "$.job.name"
    assert body["message"].startswith("event cannot be recorded as lineage: $.job.name: ")
    assert _all(http) == []


def _all(http: Any) -> list[dict[str, Any]]:
    page = http.get("/api/v1/events", params={"limit": 1000}).json()
    events: list[dict[str, Any]] = page["events"]
    return events


def _backend(url: str) -> str:
    return "PostgreSQL" if url.startswith("postgresql") else "SQLite"
