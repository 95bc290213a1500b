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


def test_contained_files_are_hidden_only_in_data_made_after_they_escaped() -> None:
    flow = Flow()
    data, report = artifact("data.csv"), artifact("report.csv")
    loaded = artifact("model", kind="model")
    frame, lookup = np.zeros(3), np.ones(3)  # stand-ins for frames read from the two files
    flow.track(frame, {data})
    flow.track(lookup, {report})
    flow.contain({data, report})
    seen = {data, report, loaded}
    assert flow.unfollowed(seen) == {loaded}  # never left the frames: nothing can hide them
    early = np.empty(3)
    flow.track(early, (), partial=True)  # unknown data mixed in before anything escaped
    flow.escape(frame)
    assert flow.unfollowed(seen) == {data, loaded}
    assert flow.unfollowed(seen, [early]) == {loaded}
    flow.contain({data})  # read again: it escaped once, it stays a candidate
    assert flow.unfollowed(seen) == {data, loaded}
    assert not flow.holds_contained(frame)
    assert flow.holds_contained(lookup)


def test_derive_from_all_operands_settles_what_internal_steps_marked_unknown() -> None:
    flow = Flow()
    a = artifact("a.csv")
    source, result = np.zeros(3), np.zeros(3)
    flow.track(source, {a})
    flow.track(result, {a}, partial=True)  # a library's internal step built it from its arrays
    flow.derive(result, [source], operands=True)
    assert not flow.partial(result)
    flow.derive(result, [source, np.ones(3)], operands=True)  # an operand of unknown origin
    assert flow.partial(result)


def test_columns_put_side_by_side_keep_their_own_sources() -> None:
    import pandas as pd

    flow = Flow()
    a, b = artifact("a.csv"), artifact("b.csv")
    left, right = pd.DataFrame({"x": [1, 2]}), pd.DataFrame({"y": [3, 4]})
    flow.track(left, {a})
    flow.track(right, {b})
    both = pd.DataFrame({"x": [1, 2], "y": [3, 4]})
    flow.track(both, {a, b})
    flow.set_columns(both, [(["x"], left), (["y"], right)])
    only_x = both[["x"]]
    assert flow.select_columns(only_x, both, ["x"])
    assert flow.lineage(only_x) == {a}
    assert not flow.select_columns(both.copy(), both, ["x", "z"])  # unknown column: no narrowing
    flow.merge_into(both, left, "z")  # a column replaced or added: its value's sources
    x_and_z = both[["x"]]
    assert flow.select_columns(x_and_z, both, ["x", "z"])
    assert flow.lineage(x_and_z) == {a}
    flow.merge_into(both, np.arange(2), "z")  # unknown data: the whole frame's lineage again
    assert not flow.select_columns(both[["x"]], both, ["x"])
