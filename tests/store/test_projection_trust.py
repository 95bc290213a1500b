"""A facet that breaks its own schema stays in the log but is not projected as metadata."""

from __future__ import annotations

from tests.support.fuzz import base_event
from tests.support.live import PRODUCER

from threadline.store.projection import Projection

SOURCE = {"_producer": PRODUCER, "_schemaURL": "https://openlineage.io/spec/facets/x.json"}


def test_only_the_facets_that_hold_to_their_schema_are_projected() -> None:
    event = base_event()
    event["outputs"][0]["facets"] = {
        "ownership": {**SOURCE, "owners": [{"type": "TEAM"}]},  # an owner without a name
        "documentation": {**SOURCE, "description": "orders, one row each"},
        "tags": {"tags": [{"key": "pii", "value": "no", "source": "manual"}]},  # unsourced
    }
    event["outputs"][0]["facets"]["version"] = {**SOURCE, "datasetVersion": 12}
    event["run"]["facets"] = {"parent": {**SOURCE, "run": {"runId": "r"}}}  # no job
    projection = Projection()
    projection.project(1, event, 0)

    node = projection.nodes[("dataset", "ns", "out")]
    assert sorted(node.facets) == ["documentation", "tags"]
    run = projection.runs[event["run"]["runId"]]
    assert run.parent_run_id is None
    assert "parent" not in run.facets
    # the broken version facet names no version: the output gets the per-run one
    assert [v for (node_key, v) in projection.versions if node_key[2] == "out"] == [
        f"run:{event['run']['runId']}"
    ]
