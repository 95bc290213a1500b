"""The in-process lineage map and the recording side of capture."""

from __future__ import annotations

import gc
import io
from pathlib import Path

import numpy as np
import pytest

from threadline.capture.flow import Artifact, Flow, is_data, is_model, locations, row_count
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


def test_locations_of_paths_urls_globs_and_files(tmp_path: Path) -> None:
    (tmp_path / "p1.csv").write_text("x\n1\n")
    (tmp_path / "p2.csv").write_text("x\n2\n")
    (local,) = locations(tmp_path / "p1.csv")
    assert local.path == str(tmp_path / "p1.csv")
    assert local.node.namespace.startswith("file://")
    (remote,) = locations("s3://bucket/data/x.parquet")
    assert (remote.node.namespace, remote.node.name, remote.path) == (
        "s3://bucket",
        "data/x.parquet",
        None,
    )
    assert [loc.path for loc in locations(str(tmp_path / "p*.csv"))] == [
        str(tmp_path / "p1.csv"),
        str(tmp_path / "p2.csv"),
    ]
    with open(tmp_path / "p1.csv") as handle:
        (opened,) = locations(handle)
        assert opened.handle is handle
    assert locations("a,b\n1,2\n") == []  # literal data, not a path
    assert locations(io.StringIO("a\n1\n")) == []


@pytest.mark.parametrize(
    ("value", "data"),
    [(None, False), (3, False), ("x", False), ([1, 2], True), ({}, False), (np.zeros(2), True)],
)
def test_is_data(value: object, data: bool) -> None:
    assert is_data(value) is data


def test_models_and_row_counts() -> None:
    from sklearn.linear_model import LinearRegression
    from sklearn.preprocessing import StandardScaler

    assert is_model(LinearRegression())
    assert is_model(StandardScaler())
    assert not is_model(LinearRegression)
    assert row_count(np.zeros((5, 2))) == 5
    assert row_count([1, 2]) is None
