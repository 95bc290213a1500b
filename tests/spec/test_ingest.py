"""The ingest policy: refuse only what lineage cannot use, note every other deviation."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from tests.support.data import DATA
from tests.support.fuzz import base_event, json_values, mutated_events
from tests.support.live import PRODUCER

from threadline.errors import InvalidEvent
from threadline.spec.ingest import IngestPolicy, default_policy, lineage_problems
from threadline.spec.validation import EventValidator

POLICY = default_policy()
STRICT = IngestPolicy(EventValidator(), strict=True)
MARQUEZ = DATA / "marquez"
STATES = {"START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"}


def breaks_lineage(body: Any) -> bool:
    """The policy's refusals, written out once more from the issue's rule, as the oracle."""

    def text(holder: Any, key: str, most: int | None = None) -> bool:
        value = holder.get(key) if isinstance(holder, dict) else None
        return isinstance(value, str) and value != "" and (most is None or len(value) <= most)

    def named(value: Any) -> bool:
        return isinstance(value, dict) and text(value, "namespace") and text(value, "name")

    def datasets(event: dict[str, Any]) -> bool:
        for side in ("inputs", "outputs"):
            items = event.get(side)
            if items is not None and not (
                isinstance(items, list) and all(named(item) for item in items)
            ):
                return False
        return True

    if not isinstance(body, dict) or not isinstance(body.get("eventTime"), str):
        return True
    try:
        moment = dt.datetime.fromisoformat(body["eventTime"])
        (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp()
    except (ValueError, OverflowError):
        return True
    if "run" in body:
        return not (
            text(body["run"], "runId", 64)
            and named(body.get("job"))
            and (body.get("eventType") is None or body["eventType"] in sorted(STATES))
            and datasets(body)
        )
    if "dataset" in body:
        return not named(body["dataset"])
    if "job" in body:
        return not (named(body["job"]) and datasets(body))
    return True


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=mutated_events() | json_values)
def test_the_refused_events_are_exactly_those_lineage_cannot_use(body: Any) -> None:
    review = POLICY.review(body)
    assert review.accepted is not breaks_lineage(body), review
    if review.refused:
        assert all(p.path.startswith("$") for p in review.refused)
        assert review.notes == []
    else:
        # Every schema deviation is noted, none is lost.
        schema = {(p.path, p.message) for p in POLICY.validator.problems(body, None)}
        assert schema <= {(n.path, n.message) for n in review.notes}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=mutated_events())
def test_strict_refuses_every_schema_deviation(body: Any) -> None:
    review = STRICT.review(body)
    deviates = bool(STRICT.validator.problems(body)) or breaks_lineage(body)
    assert review.accepted is not deviates


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda e: e.pop("eventTime"), "$.eventTime"),
        (lambda e: e.update(eventTime="yesterday"), "$.eventTime"),
        (lambda e: e.update(eventTime=1700000000), "$.eventTime"),
        (lambda e: e["run"].pop("runId"), "$.run.runId"),
        (lambda e: e["run"].update(runId=7), "$.run.runId"),
        (lambda e: e["run"].update(runId=""), "$.run.runId"),
        (lambda e: e["run"].update(runId="x" * 65), "$.run.runId"),
        (lambda e: e.pop("job"), "$.job"),
        (lambda e: e["job"].pop("namespace"), "$.job.namespace"),
        (lambda e: e["job"].update(name=["a"]), "$.job.name"),
        (lambda e: e.update(eventType="FINISHED"), "$.eventType"),
        (lambda e: e.update(inputs={"namespace": "n", "name": "x"}), "$.inputs"),
        (lambda e: e["outputs"][0].pop("name"), "$.outputs[0].name"),
        (lambda e: e["inputs"].append("s3://b/k"), "$.inputs[1]"),
    ],
)
def test_a_refusal_names_the_json_path(mutate: Any, path: str) -> None:
    event = base_event()
    mutate(event)
    with pytest.raises(InvalidEvent) as caught:
        POLICY.admit(event)
    assert caught.value.detail["path"] == path
    assert caught.value.message.startswith(f"event cannot be recorded as lineage: {path}: ")


def test_dataset_and_job_events_need_their_own_names() -> None:
    dataset_event = {"eventTime": "2026-01-01T00:00:00Z", "dataset": {"namespace": "s3://b"}}
    assert [p.path for p in lineage_problems(dataset_event)] == ["$.dataset.name"]
    job_event: dict[str, Any] = {
        "eventTime": "2026-01-01T00:00:00Z",
        "job": {"namespace": "n", "name": "j"},
    }
    assert lineage_problems(job_event) == []
    job_event["outputs"] = [{"name": "t"}]
    assert [p.path for p in lineage_problems(job_event)] == ["$.outputs[0].namespace"]


def test_deviations_lineage_survives_are_notes() -> None:
    event = base_event()
    del event["schemaURL"], event["producer"]
    event["eventTime"] = "2026-01-01T10:00:00.123456789"
    event["run"]["runId"] = "{{ any(result) }}"
    event["outputs"][0]["facets"]["schema"] = {
        "_producer": PRODUCER,
        "_schemaURL": "x",
        "fields": [{"type": "INT"}],
    }
    notes = {(n.path, n.message) for n in POLICY.admit(event)}
    assert {path for path, _ in notes} == {
        "$.eventTime",
        "$.producer",
        "$.schemaURL",
        "$.run.runId",
        "$.outputs[0].facets.schema.fields[0].name",
    }
    assert ("$.eventTime", f"{event['eventTime']!r} has no time zone; read as UTC") in notes
    assert (
        "$.eventTime",
        f"{event['eventTime']!r} is finer than a microsecond; stored to the microsecond",
    ) in notes
    with pytest.raises(InvalidEvent, match=r"strict ingest\): \$\.producer"):
        STRICT.admit(event)


def test_a_facet_that_breaks_its_schema_is_left_out_of_the_trusted_view() -> None:
    event = base_event()
    bad_schema = {"_producer": PRODUCER, "_schemaURL": "x", "fields": [{"type": "INT"}]}
    unsourced_owner = {"owners": [{"name": "team:data"}]}  # no _producer: provenance only
    event["outputs"][0]["facets"] = {"schema": bad_schema, "ownership": unsourced_owner}
    event["job"]["facets"] = ["not", "a", "map"]
    event["run"]["facets"] = {"parent": "not an object"}
    sent = copy.deepcopy(event)

    view = POLICY.trusted_view(event)
    assert view["outputs"][0]["facets"] == {"ownership": unsourced_owner}
    assert "facets" not in view["job"]
    assert view["run"]["facets"] == {}
    assert event == sent  # the body itself is never touched
    whole = base_event()
    assert POLICY.trusted_view(whole) is whole


MARQUEZ_NOTES = {
    "event_full": {"$.inputs[0].inputFacets.dataQualityMetrics.columnMetrics"},
    "event_required_no_timezone": {"$.eventTime"},
    "event_without_schema_url": {"$.schemaURL"},
    "spark_listener_1": {"$.schemaURL"},
    "spark_listener_2": {"$.schemaURL"},
}


@pytest.mark.parametrize("path", sorted((MARQUEZ / "events").glob("*.json")), ids=lambda p: p.stem)
def test_every_marquez_test_event_is_accepted_with_the_right_notes(path: Path) -> None:
    review = POLICY.review(json.loads(path.read_bytes()), raw=path.read_bytes())
    assert review.accepted, review.refused
    assert {n.path for n in review.notes} == MARQUEZ_NOTES.get(path.stem, set())
    strict = STRICT.review(json.loads(path.read_bytes()))
    schema_paths = MARQUEZ_NOTES.get(path.stem, set()) - {"$.eventTime"}
    assert strict.accepted is (not schema_paths)


def test_the_marquez_data_is_all_there() -> None:
    assert len(list((MARQUEZ / "events").glob("*.json"))) == 15
    assert len(list((MARQUEZ / "apples").glob("*.json"))) == 8
    assert "Apache License" in (MARQUEZ / "LICENSE").read_text()
