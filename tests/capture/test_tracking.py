"""The in-process lineage map: entries live as long as their objects, views and derived objects
inherit lineage."""

from __future__ import annotations

import gc

import numpy as np

from threadline.capture.tracking import Artifact, Flow
from threadline.model.ids import NodeId


def artifact(name: str, rows: int | None = 3, kind: str = "dataset") -> Artifact:
    return Artifact(
        node=NodeId(kind, "file://h", f"/{name}", "b3:" + "a" * 64), origin="read", rows=rows
    )


def test_entries_die_with_their_objects() -> None:
    flow = Flow()
    a = artifact("a.csv")
    array = np.arange(3)
    assert flow.track(array, {a}, exact=a)
    assert flow.lineage(array) == {a}
    assert flow.exact(array) is a
    del array
    gc.collect()
    assert len(flow) == 0


def test_untrackable_objects_are_refused_not_kept() -> None:
    flow = Flow()
    assert not flow.track([1, 2, 3], {artifact("a.csv")})
    assert flow.lineage([1, 2, 3]) is None


def test_numpy_views_share_their_base_lineage() -> None:
    flow = Flow()
    a = artifact("a.csv")
    array = np.arange(12).reshape(4, 3)
    flow.track(array, {a}, rowlink=a)
    view = array[:, :2]
    assert flow.lineage(view) == {a}
    assert flow.lineage(view.T.copy()) is None  # a copy is new data with no known origin


def test_derive_unions_parents_and_merge_prefers_predictions_rows() -> None:
    flow = Flow()
    a, b = artifact("a.csv"), artifact("b.csv")
    left, right, out = np.zeros(3), np.ones(3), np.empty(3)
    flow.track(left, {a}, rowlink=a)
    flow.track(right, {b}, rowlink=b)
    flow.derive(out, (left, right), rows_kept=True)
    assert flow.lineage(out) == {a, b}
    assert flow.rowlink(out) == (a, ())
    predictions = artifact("p", kind="predictions")
    scores = np.zeros(3)
    flow.track(scores, {predictions}, exact=predictions, rowlink=predictions)
    flow.merge_into(out, scores, "score")
    assert flow.lineage(out) == {a, b, predictions}
    assert flow.rowlink(out) == (predictions, ("score",))
    assert flow.exact(out) is None
