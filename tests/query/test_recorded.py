"""What earlier runs recorded, as capture asks it: produced, labels, serving deployments."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from tests.support.events import uid
from tests.support.graphs import BACKENDS, NS, day, ds, pipeline_store, run_event

from threadline.model import facets as f
from threadline.model.ids import NodeId
from threadline.model.serving import Serving
from threadline.query import recorded
from threadline.store.sql import SqlStore

ENDPOINT = "/deployments/prod/risk"


def _deploy(run: int, model: str, version: str, deployment: str, when: str) -> dict[str, object]:
    window = f.deployment("risk", "prod", when, None)
    return run_event(
        "deploy",
        uid(run),
        [ds(model, version, "model")],
        [ds(ENDPOINT, deployment, "deployment", threadline_deployment=window)],
        when=when,
        execution=f"ex:d{run}",
        stage="deployment",
    )


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    with pipeline_store(request.param, tmp_path) as built:
        # model_b serves from day 8 until model_a replaces it at the same endpoint on day 10.
        built.append_batch(
            [
                _deploy(90, "/model_b", "b3:mb", "b3:d1", day(8)),
                _deploy(91, "/model_a", "b3:ma", "b3:d2", day(10)),
            ]
        )
        yield built


def test_produced_is_whether_a_run_wrote_any_version(store: SqlStore) -> None:
    keys = [(NS, "/clean"), (NS, "/raw_a"), (NS, "/never")]
    assert recorded.produced(store, keys) == [True, False, False]
    assert recorded.produced(store, []) == []


def test_labels_recorded_for_a_dataset(store: SqlStore) -> None:
    assert recorded.labels(store, NodeId("dataset", NS, "/raw_a")) == {"pii"}
    assert recorded.labels(store, NodeId("dataset", NS, "/never")) == frozenset()


def test_serving_follows_the_deployment_window(store: SqlStore) -> None:
    def at(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    model_b = NodeId("model", NS, "/model_b", "b3:mb")
    model_a = NodeId("model", NS, "/model_a", "b3:ma")
    first = Serving(NodeId("deployment", NS, ENDPOINT, "b3:d1"), day(8))
    second = Serving(NodeId("deployment", NS, ENDPOINT, "b3:d2"), day(10))
    assert recorded.serving(store, model_b, at(day(9))) == [first]
    assert recorded.serving(store, model_b, at(day(11))) == []  # replaced at its endpoint
    assert recorded.serving(store, model_a, at(day(11))) == [second]
    assert recorded.serving(store, model_a, at(day(7))) == []  # not deployed yet
    assert recorded.serving(store, model_b.with_version(None), at(day(9))) == []
