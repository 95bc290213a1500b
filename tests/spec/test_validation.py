"""The OpenLineage validator: shipped schemas, facet checks, JSON paths, and fuzzing."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from tests.support.fuzz import base_event, json_values, mutated_events
from tests.support.live import PRODUCER, SPEC, client_examples

from threadline.errors import InvalidEvent
from threadline.spec import openlineage_files
from threadline.spec.validation import EventValidator, Problem, _without_free_formats, json_path

VALIDATOR = EventValidator()
PLAIN = EventValidator(accelerate=False)
FACET_TESTS = sorted(p for p in (SPEC / "tests").iterdir() if p.is_dir())


def test_the_shipped_schemas_are_the_spec_copies() -> None:
    shipped = openlineage_files()
    core = json.loads((shipped / "OpenLineage.json").read_text())
    assert core == json.loads((SPEC / "OpenLineage.json").read_text())
    assert (shipped / "LICENSE").read_text() == (SPEC / "LICENSE").read_text()
    names = sorted(p.name for p in (shipped / "facets").iterdir())
    assert names == sorted(p.name for p in (SPEC / "facets").glob("*.json"))


def test_standard_facets_are_mapped_to_where_they_live() -> None:
    keys = VALIDATOR.facet_keys
    assert {"parent", "nominalTime", "errorMessage", "processing_engine"} <= set(keys["run"])
    assert {"ownership", "documentation", "sql", "jobType"} <= set(keys["job"])
    assert {"schema", "columnLineage", "ownership", "dataSource"} <= set(keys["dataset"])
    assert {"dataQualityMetrics", "subset"} <= set(keys["input"])
    assert {"outputStatistics", "subset"} <= set(keys["output"])


@pytest.mark.parametrize("path", client_examples(), ids=lambda p: p.stem)
def test_reference_examples_are_valid(path: Path) -> None:
    body = json.loads(path.read_text())
    assert VALIDATOR.problems(body) == []
    assert PLAIN.problems(body) == []


def _places(folder: str) -> list[tuple[str, ...]]:
    if folder.endswith("RunFacet"):
        return [("run", "facets")]
    if folder.endswith("JobFacet"):
        return [("job", "facets")]
    if folder.endswith("OutputDatasetFacet"):
        return [("outputs", "0", "outputFacets")]
    if folder.endswith("InputDatasetFacet"):
        return [("inputs", "0", "inputFacets")]
    # BaseSubset (input or output), LineageFacet (dataset or job), plain dataset facets
    return [
        ("inputs", "0", "facets"),
        ("inputs", "0", "inputFacets"),
        ("outputs", "0", "outputFacets"),
        ("job", "facets"),
    ]


def _put(event: dict[str, Any], place: tuple[str, ...], facets: dict[str, Any]) -> None:
    target: Any = event
    for step in place:
        target = target[int(step)] if step.isdigit() else target[step]
    target.update(facets)


@pytest.mark.parametrize(
    "document",
    [p for folder in FACET_TESTS for p in sorted(folder.glob("*.json"))],
    ids=lambda p: f"{p.parent.name}/{p.stem}",
)
def test_the_spec_facet_test_documents_validate_where_their_facet_lives(document: Path) -> None:
    facets = json.loads(document.read_text())
    outcomes = []
    for place in _places(document.parent.name):
        event = base_event()
        _put(event, place, facets)
        outcomes.append(VALIDATOR.problems(event))
    assert [] in outcomes, outcomes


def _provenance_variants(facets: dict[str, Any]) -> list[dict[str, Any]]:
    """The facets as given, without either or both provenance fields, with them malformed,
    and with their content broken (every other field of the first facet [[null]])."""
    variants = [facets]
    for drop in ({"_producer"}, {"_schemaURL"}, {"_producer", "_schemaURL"}):
        variants.append(
            {k: {f: v for f, v in facet.items() if f not in drop} for k, facet in facets.items()}
        )
    variants.append({k: {**facet, "_producer": 5, "_schemaURL": []} for k, facet in facets.items()})
    first = next(iter(facets))
    broken = {f: (v if f.startswith("_") else [[None]]) for f, v in facets[first].items()}
    variants.append({**facets, first: {f: v for f, v in broken.items() if f != "_producer"}})
    return variants


@pytest.mark.parametrize(
    "document",
    [p for folder in FACET_TESTS for p in sorted(folder.glob("*.json"))],
    ids=lambda p: f"{p.parent.name}/{p.stem}",
)
def test_untrusted_facets_are_the_same_with_and_without_the_accelerator(document: Path) -> None:
    """The compiled content-only check decides what the errors themselves would: a facet is
    untrusted for its content, never for missing or malformed provenance alone."""
    facets = json.loads(document.read_text())
    broken_seen: list[bool] = []
    for place in _places(document.parent.name):
        found = []
        for variant in _provenance_variants(facets):
            event = base_event()
            _put(event, place, variant)
            found.append(VALIDATOR.untrusted_facets(event))
            assert found[-1] == PLAIN.untrusted_facets(event), variant
        # Provenance alone never makes a facet untrusted; broken content does (where the
        # facet has a schema: a dataset facet among job facets is a custom one).
        assert found[1:5] == [found[0]] * 4
        broken_seen.append(len(found[5]) > len(found[0]))
    assert any(broken_seen)


def _compiled_verdict(body: dict[str, Any]) -> bool:
    # The compiled check alone (problems() falls back to jsonschema when it says no, which
    # would hide a compiled check that refuses too much).
    events = VALIDATOR._fast_events
    assert events is not None
    return VALIDATOR._fast_valid(body, events)


@pytest.mark.skipif(
    importlib.util.find_spec("jsonschema_rs") is None, reason="jsonschema_rs not installed"
)
@pytest.mark.parametrize(
    "document",
    [p for folder in FACET_TESTS for p in sorted(folder.glob("*.json"))],
    ids=lambda p: f"{p.parent.name}/{p.stem}",
)
def test_the_compiled_check_decides_each_facet_document_as_jsonschema_does(
    document: Path,
) -> None:
    facets = json.loads(document.read_text())
    for place in _places(document.parent.name):
        variants = [
            *_provenance_variants(facets),
            {key: {**facet, "_deleted": True, "x": [[None]]} for key, facet in facets.items()},
            dict.fromkeys(facets, "not an object"),
        ]
        for variant in variants:
            event = base_event()
            _put(event, place, variant)
            assert _compiled_verdict(event) == (not PLAIN.problems(event, None)), (place, variant)


@pytest.mark.skipif(
    importlib.util.find_spec("jsonschema_rs") is None, reason="jsonschema_rs not installed"
)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=mutated_events())
def test_the_compiled_check_decides_fuzzed_events_as_jsonschema_does(body: Any) -> None:
    if isinstance(body, dict):
        assert _compiled_verdict(body) == (not PLAIN.problems(body, None))


def _one_place(path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    event = base_event()
    target: Any = event
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return event


# One shape per event: in one event, one untrusted facet would hide a check that misses another.
_SHAPES = [
    (("run", "facets"), {"custom": "a string"}, [("run", "facets", "custom")]),
    (("run", "facets"), {"nominalTime": ["a list"]}, [("run", "facets", "nominalTime")]),
    (("job", "facets"), "not a map", [("job", "facets")]),
    (("inputs", 0, "facets"), None, []),
    (
        ("inputs", 0, "inputFacets"),
        {"dataQualityMetrics": {"_deleted": True, "rowCount": "many"}},
        [],
    ),
    (("outputs", 0, "outputFacets"), {"custom": {"anything": [1, "goes"]}}, []),
]


@pytest.mark.parametrize("validator", [VALIDATOR, PLAIN], ids=["compiled", "jsonschema"])
@pytest.mark.parametrize(("path", "value", "untrusted"), _SHAPES)
def test_facets_and_maps_that_are_not_objects_are_untrusted_and_nothing_else(
    validator: EventValidator,
    path: tuple[str | int, ...],
    value: Any,
    untrusted: list[tuple[str | int, ...]],
) -> None:
    assert validator.untrusted_facets(_one_place(path, value)) == untrusted


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=mutated_events())
def test_fuzzed_events_have_the_same_untrusted_facets_either_way(body: Any) -> None:
    if isinstance(body, dict):
        assert VALIDATOR.untrusted_facets(body) == PLAIN.untrusted_facets(body)


def test_facets_are_checked_against_their_own_schema_with_the_json_path() -> None:
    event = base_event()
    event["job"]["facets"]["ownership"] = {
        "_producer": PRODUCER,
        "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/OwnershipJobFacet.json",
        "owners": [{"type": "TEAM"}],
    }
    event["outputs"][0]["facets"]["columnLineage"] = {
        "_producer": PRODUCER,
        "_schemaURL": "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json",
        "fields": {"a": {"inputFields": [{"namespace": "ns", "name": "in"}]}},
    }
    problems = VALIDATOR.problems(event)
    assert Problem("$.job.facets.ownership.owners[0].name", "'name' is a required property") in (
        problems
    )
    assert (
        Problem(
            "$.outputs[0].facets.columnLineage.fields.a.inputFields[0].field",
            "'field' is a required property",
        )
        in problems
    )
    assert problems == PLAIN.problems(event)


def test_custom_facets_need_only_the_base_fields() -> None:
    event = base_event()
    event["run"]["facets"]["acme_thing"] = {"_producer": PRODUCER, "_schemaURL": "x", "any": [1]}
    assert VALIDATOR.problems(event) == []
    del event["run"]["facets"]["acme_thing"]["_schemaURL"]
    assert VALIDATOR.problems(event) == [
        Problem("$.run.facets.acme_thing._schemaURL", "'_schemaURL' is a required property")
    ]


def test_deleted_facets_are_not_checked_against_their_schema() -> None:
    event = base_event()
    event["outputs"][0]["facets"]["schema"] = {
        "_producer": PRODUCER,
        "_schemaURL": "x",
        "_deleted": True,
    }
    assert VALIDATOR.problems(event) == []


def test_formats_run_id_is_a_uuid_and_times_are_iso_8601() -> None:
    event = base_event()
    event["eventTime"] = "2021-11-03T10:53:52.427343"  # naive: the reference client sends it
    assert VALIDATOR.problems(event) == []
    event["eventTime"] = "soon"
    event["run"]["runId"] = "{{ any(result) }}"
    paths = {p.path for p in VALIDATOR.problems(event)}
    assert paths == {"$.eventTime", "$.run.runId"}


def test_validate_raises_invalid_event_naming_the_first_path() -> None:
    event = base_event()
    del event["producer"]
    with pytest.raises(InvalidEvent) as caught:
        VALIDATOR.validate(event)
    assert caught.value.detail["path"] == "$.producer"
    assert "$.producer" in caught.value.message


def test_json_paths_quote_odd_keys() -> None:
    assert json_path(["run", "facets", "my facet", 0]) == '$.run.facets["my facet"][0]'


def test_absurd_nesting_is_refused_without_recursing() -> None:
    deep: Any = "x"
    for _ in range(5000):
        deep = {"a": deep}
    event = base_event()
    event["run"]["facets"]["deep"] = {"_producer": "p", "_schemaURL": "s", "v": deep}
    problems = VALIDATOR.problems(event)
    assert len(problems) == 1
    assert problems[0].path.startswith("$.run.facets.deep.v.a.a")


# --- fuzzing ------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=mutated_events() | json_values)
def test_fuzzed_bodies_never_crash_and_both_validators_agree(body: Any) -> None:
    fast = VALIDATOR.problems(body)
    plain = PLAIN.problems(body)
    assert all(isinstance(p, Problem) and p.path.startswith("$") for p in fast)
    # Same verdict; the messages come from jsonschema either way.
    assert fast == plain


@pytest.mark.skipif(
    importlib.util.find_spec("jsonschema_rs") is None, reason="jsonschema_rs not installed"
)
def test_the_accelerated_path_is_used_when_available() -> None:
    assert VALIDATOR.accelerated
    assert not PLAIN.accelerated


@pytest.mark.skipif(
    importlib.util.find_spec("jsonschema_rs") is None, reason="the accelerator is not installed"
)
def test_jsonschema_loads_only_when_an_event_needs_it() -> None:
    """With the compiled validators, valid events never need jsonschema (importing it and
    compiling its validators cost a process's first event a tenth of a second)."""
    import subprocess
    import sys
    import textwrap

    probe = textwrap.dedent(
        """
        import json, sys
        from threadline.spec.validation import EventValidator
        event = json.loads(sys.argv[1])
        validator = EventValidator()
        assert validator.accelerated
        validator.validate(event)
        assert validator.untrusted_facets(event) == []
        print("after valid events:", "jsonschema" in sys.modules)
        event["run"]["runId"] = "not-a-uuid"
        event["run"]["facets"] = {"nominalTime": {"nominalStartTime": 3}}
        print("problems:", [p.path for p in validator.problems(event)])
        print("untrusted:", validator.untrusted_facets(event))
        print("after an invalid one:", "jsonschema" in sys.modules)
        """
    )
    event = base_event()
    event["run"]["facets"] = {
        "nominalTime": {
            "_producer": PRODUCER,
            "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/NominalTimeRunFacet.json#/$defs/NominalTimeRunFacet",
            "nominalStartTime": "2026-01-01T00:00:00Z",
        }
    }
    done = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(event)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    lines = done.stdout.splitlines()
    assert lines[0] == "after valid events: False"
    assert "$.run.runId" in lines[1]
    assert lines[2] == "untrusted: [('run', 'facets', 'nominalTime')]"
    assert lines[3] == "after an invalid one: True"


def test_the_compiled_schemas_lose_only_the_formats_every_string_passes() -> None:
    schema = {
        "properties": {
            "producer": {"type": "string", "format": "uri"},
            "runId": {"type": "string", "format": "uuid"},
            "eventTime": {"type": "string", "format": "date-time"},
            # A property named "format", and instances that merely look like the keyword.
            "format": {"type": "string", "format": "uri"},
            "kind": {"enum": [{"format": "uri"}], "default": {"format": "uri"}},
        },
        "allOf": [{"format": "uri"}],
    }
    assert _without_free_formats(schema) == {
        "properties": {
            "producer": {"type": "string"},
            "runId": {"type": "string", "format": "uuid"},
            "eventTime": {"type": "string", "format": "date-time"},
            "format": {"type": "string"},
            "kind": {"enum": [{"format": "uri"}], "default": {"format": "uri"}},
        },
        "allOf": [{}],
    }


@pytest.mark.parametrize("text", ["not a uri at all", "::", "", "http://[bad"])
def test_any_string_is_a_producer_and_schema_url_either_way(text: str) -> None:
    event = base_event()
    event["producer"] = event["schemaURL"] = text
    event["run"]["facets"]["nominalTime"] = {
        "_producer": text,
        "_schemaURL": text,
        "nominalStartTime": "2026-01-01T00:00:00Z",
    }
    assert VALIDATOR.problems(event) == PLAIN.problems(event) == []
    assert VALIDATOR.untrusted_facets(event) == PLAIN.untrusted_facets(event) == []
    if VALIDATOR.accelerated:  # decided by the compiled check itself, not by the fallback
        assert _compiled_verdict(event)
