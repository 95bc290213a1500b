"""Events threadline writes validate against the official OpenLineage schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource
from tests.support.data import OPENLINEAGE

from threadline.capture.api import RunRecorder
from threadline.model import facets as f
from threadline.model.events import event_from_dict, event_to_dict
from threadline.model.ids import NodeId

SPEC = OPENLINEAGE


def registry() -> tuple[Registry, dict[str, Any], dict[str, str]]:
    resources = []
    core = json.loads((SPEC / "OpenLineage.json").read_text())
    resources.append((core["$id"], Resource.from_contents(core)))
    facet_schema_by_key: dict[str, str] = {}
    for path in (SPEC / "facets").glob("*.json"):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema)))
        for key in schema.get("properties", {}):
            facet_schema_by_key[key] = schema["$id"]
    return Registry().with_resources(resources), core, facet_schema_by_key


@pytest.fixture(scope="module")
def validate() -> Any:
    if not SPEC.exists():
        pytest.fail(f"OpenLineage spec not found at {SPEC}")
    reg, core, by_key = registry()

    def check(body: dict[str, Any]) -> None:
        jsonschema.Draft202012Validator(
            core, registry=reg, format_checker=jsonschema.FormatChecker()
        ).validate(body)
        for section in ("run", "job"):
            for key, facet in (body.get(section, {}).get("facets") or {}).items():
                if key in by_key:
                    wrapper = {"$ref": f"{by_key[key]}#/properties/{key}"}
                    jsonschema.Draft202012Validator(wrapper, registry=reg).validate(facet)
        for dataset in [*body.get("inputs", []), *body.get("outputs", [])]:
            for key, facet in (dataset.get("facets") or {}).items():
                if key in by_key:
                    wrapper = {"$ref": f"{by_key[key]}#/properties/{key}"}
                    jsonschema.Draft202012Validator(wrapper, registry=reg).validate(facet)

    return check


def test_recorded_run_events_are_valid_openlineage(validate: Any, tmp_path: Path) -> None:
    recorder = RunRecorder(
        "train", stage="training", params={"C": 1.0}, reason="why", owners=["team:ml"]
    )
    recorder.read(NodeId("dataset", "file://h", "/data/in.csv", "b3:" + "a" * 64))
    recorder.wrote(NodeId("model", "file://h", "/m.joblib", "b3:" + "b" * 64), metrics={"auc": 0.9})
    facets = recorder._run_facets()
    execution, parts = recorder.execution_id()
    facets["threadline_execution"] = f.execution(execution, parts)
    for event_type in ("START", "COMPLETE"):
        body = event_to_dict(recorder._event(event_type, facets, data=event_type == "COMPLETE"))
        validate(body)
        assert event_from_dict(body) is not None


def test_every_standard_facet_builder_validates(validate: Any) -> None:
    body = event_to_dict(
        RunRecorder("j")._event(
            "COMPLETE",
            {
                "parent": f.parent("01a2b3c4-0000-7000-8000-000000000000", "ns", "p"),
                "processing_engine": f.processing_engine(),
            },
            data=False,
        )
    )
    body["job"]["facets"] = {
        "ownership": f.ownership(["user:a"], job=True),
        "sourceCodeLocation": f.source_code_location(
            "https://example.com/r.git", "p.py", "abc", "main"
        ),
    }
    body["outputs"] = [
        {
            "namespace": "file://h",
            "name": "/x",
            "facets": {
                "version": f.version("b3:" + "c" * 64),
                "schema": f.schema([("a", "int64")]),
                "ownership": f.ownership(["team:x"]),
            },
        }
    ]
    validate(body)
