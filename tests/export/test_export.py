"""Export (OpenLineage NDJSON, PROV-JSON, PROV-O, dot) and import, through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from threadline.export.graph import collect
from threadline.store import open_store

PRODUCER = "https://github.com/threadline-dev/threadline/tests"
SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
NS = "file://host"


def dataset(name: str, version: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"namespace": NS, "name": name}
    if version:
        body["facets"] = {
            "version": {"_producer": PRODUCER, "_schemaURL": "x", "datasetVersion": version}
        }
    return body


def run(
    job: str,
    inputs: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
    minute: int,
    namespace: str = "pipeline",
    user: str | None = None,
) -> list[dict[str, Any]]:
    run_id = str(uuid.uuid4())
    facets: dict[str, Any] = {}
    if user:
        facets["threadline_context"] = {"_producer": PRODUCER, "_schemaURL": "x", "user": user}
    return [
        {
            "eventType": state,
            "eventTime": f"2026-07-01T10:{minute + offset:02d}:00Z",
            "run": {"runId": run_id, "facets": facets},
            "job": {"namespace": namespace, "name": job},
            "inputs": inputs,
            "outputs": outputs,
            "producer": PRODUCER,
            "schemaURL": SCHEMA,
        }
        for state, offset in (("START", 0), ("COMPLETE", 1))
    ]


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """raw → clean → features → train → model, plus an unrelated job in another namespace."""
    path = tmp_path / "a.db"
    events = [
        *run(
            "clean",
            [dataset("/raw.csv", "b3:" + "1" * 64)],
            [dataset("/clean.parquet", "b3:" + "2" * 64)],
            0,
            user="ana",
        ),
        *run(
            "features",
            [dataset("/clean.parquet", "b3:" + "2" * 64)],
            [dataset("/features.parquet", "b3:" + "3" * 64)],
            10,
        ),
        *run(
            "train",
            [dataset("/features.parquet", "b3:" + "3" * 64)],
            [dataset("/model.pkl", "b3:" + "4" * 64)],
            20,
        ),
        *run("other", [dataset("/x.csv")], [dataset("/y.csv")], 30, namespace="elsewhere"),
    ]
    store = open_store(path)
    try:
        store.append_batch(events)
    finally:
        store.close()
    return path


def cli(store: Path, *args: str, stdin: bytes | None = None) -> bytes:
    result = subprocess.run(
        [sys.executable, "-m", "threadline", "--store", str(store), *args],
        capture_output=True,
        input=stdin,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def graph_facts(path: Path) -> tuple[set[Any], set[Any]]:
    store = open_store(path)
    try:
        graph = collect(store)
    finally:
        store.close()
    nodes = {(n["kind"], n["namespace"], n["name"], n["version"]) for n in graph.nodes}
    edges = {(e["from"], e["to"], e["relation"]) for e in graph.edges}
    return nodes, edges


def test_export_then_import_into_a_fresh_store_gives_the_same_graph(
    store_path: Path, tmp_path: Path
) -> None:
    exported = cli(store_path, "export", "--format", "openlineage")
    lines = exported.splitlines()
    assert len(lines) == 8
    (tmp_path / "ol.ndjson").write_bytes(exported)
    fresh = tmp_path / "b.db"
    report = json.loads(cli(fresh, "import", str(tmp_path / "ol.ndjson"), "--json"))
    assert report == {"read": 8, "appended": 8, "duplicates": 0}
    assert graph_facts(fresh) == graph_facts(store_path)
    # same log, byte for byte, and importing again changes nothing
    assert cli(fresh, "export") == exported
    again = json.loads(cli(fresh, "import", "-", "--json", stdin=exported))
    assert again == {"read": 8, "appended": 0, "duplicates": 8}
    a, b = open_store(store_path), open_store(fresh)
    try:
        assert a.counts() == b.counts()
    finally:
        a.close()
        b.close()


def test_import_refuses_invalid_events_naming_the_line(store_path: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.ndjson"
    good = run("j", [], [dataset("/o")], 0)
    broken = dict(good[1], run={"facets": {}})  # no run id: lineage cannot use it
    bad.write_text(json.dumps(good[0]) + "\n" + json.dumps(broken) + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "threadline", "--store", str(tmp_path / "c.db"), "import", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "line 2" in result.stderr
    assert "$.run.runId" in result.stderr


def test_export_filters(store_path: Path) -> None:
    by_namespace = cli(store_path, "export", "--namespace", "elsewhere").splitlines()
    assert len(by_namespace) == 2
    assert {json.loads(line)["job"]["name"] for line in by_namespace} == {"other"}
    model = f"dataset:{NS}/model.pkl"
    upstream = cli(store_path, "export", "--id", model).splitlines()
    assert {json.loads(line)["job"]["name"] for line in upstream} == {"clean", "features", "train"}
    window = cli(
        store_path, "export", "--since", "2026-07-01T10:10:00Z", "--until", "2026-07-01T10:21:00Z"
    )
    assert {json.loads(line)["job"]["name"] for line in window.splitlines()} == {
        "features",
        "train",
    }
    dot = cli(store_path, "export", "--format", "dot", "--namespace", "elsewhere").decode()
    assert "pipeline" not in dot
    assert "/y.csv" in dot


def test_prov_json_has_entities_activities_agents_and_relations(store_path: Path) -> None:
    from prov.model import ProvDocument

    text = cli(store_path, "export", "--format", "prov-json", "--id", f"dataset:{NS}/model.pkl")
    body = json.loads(text)
    assert {
        "entity",
        "activity",
        "agent",
        "used",
        "wasGeneratedBy",
        "wasDerivedFrom",
        "wasAssociatedWith",
    } <= set(body)
    entities = {v["tl:name"] for v in body["entity"].values()}
    assert entities == {"/raw.csv", "/clean.parquet", "/features.parquet", "/model.pkl"}
    assert len(body["activity"]) == 3
    agents = {v["tl:name"] for v in body["agent"].values()}
    assert agents == {"clean", "features", "train", "ana"}
    assert len(body["used"]) == 3
    assert len(body["wasGeneratedBy"]) == 3
    # the document reads back with the prov package
    document = ProvDocument.deserialize(content=text.decode(), format="json")
    assert len(document.get_records()) == len(
        ProvDocument.deserialize(content=text.decode(), format="json").get_records()
    )


def test_prov_o_is_rdf_with_the_prov_ontology(store_path: Path) -> None:
    rdflib = pytest.importorskip("rdflib")
    text = cli(store_path, "export", "--format", "prov-o").decode()
    graph = rdflib.Graph().parse(data=text, format="turtle")
    prov = rdflib.Namespace("http://www.w3.org/ns/prov#")
    entities = set(graph.subjects(rdflib.RDF.type, prov.Entity))
    activities = set(graph.subjects(rdflib.RDF.type, prov.Activity))
    nodes, _edges = graph_facts(store_path)
    assert len(entities) == sum(1 for n in nodes if n[0] != "job") == 6
    assert len(activities) == sum(1 for n in nodes if n[0] == "job") == 4
    assert len(set(graph.subject_objects(prov.used))) == 4
    assert len(set(graph.subject_objects(prov.wasGeneratedBy))) == 4
    assert set(graph.subjects(rdflib.RDF.type, prov.SoftwareAgent))


def test_dot_is_a_digraph_of_every_vertex(store_path: Path) -> None:
    text = cli(store_path, "export", "--format", "dot").decode()
    assert text.startswith('digraph "lineage" {')
    nodes, edges = graph_facts(store_path)
    assert text.count(" -> ") == len(edges)
    assert text.count("shape=box") == sum(1 for n in nodes if n[0] == "job")
