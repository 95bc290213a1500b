"""Lineage through frame operations, per operation family: the exact files upstream of what a
script writes.  A file read into a frame is upstream of an output only when its data went into
it; a table read for a printed report, or a frame whose ``len()`` is printed, never is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import joblib
import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.linear_model import LinearRegression
from tests.support.capture_session import Captured

from threadline.capture.hooks._patch import suspended


def _files(captured: Captured, label: str) -> set[str]:
    """The files (not the in-memory steps) upstream of ``label``."""
    return {n for n in captured.upstream(label) if n.startswith("dataset:")}


def _make_inputs() -> None:
    with suspended():
        pd.DataFrame({"k": [1, 2, 3, 4], "v": [1.0, 2.0, 3.0, 4.0], "g": list("xyxy")}).to_csv(
            "a.csv", index=False
        )
        pd.DataFrame({"k": [1, 2, 3, 4], "c": [7.0, 8.0, 9.0, None]}).to_csv("b.csv", index=False)
        pd.DataFrame({"g": ["x", "y"], "label": ["ex", "why"]}).to_csv("lookup.csv", index=False)


A, AB = {"dataset:a.csv"}, {"dataset:a.csv", "dataset:b.csv"}


def _set_column(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    out = a.copy()
    out["w"] = b["c"] * 2 + out["v"]
    return out


def _set_through_loc(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    out = a.copy()
    out.loc[:, "v"] = b["c"]
    return out


def _hstack_arrays(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(np.hstack([a[["v"]].to_numpy(), b[["c"]].values]))


PANDAS: dict[str, tuple[Callable[[pd.DataFrame, pd.DataFrame], Any], set[str]]] = {
    "merge": (lambda a, b: a.merge(b, on="k"), AB),
    "pd.merge": (lambda a, b: pd.merge(a, b, on="k", how="left"), AB),
    "join": (lambda a, b: a.join(b.set_index("k"), on="k"), AB),
    "concat rows": (lambda a, b: pd.concat([a, b]), AB),
    "assign": (lambda a, b: a.assign(w=b["c"]), AB),
    "column arithmetic": (_set_column, AB),
    "frame arithmetic": (lambda a, b: a[["v"]] + b[["c"]].to_numpy(), AB),
    "drop": (lambda a, b: a.drop(columns=["g"]), A),
    "fillna from another frame": (lambda a, b: b["c"].fillna(a["v"]), AB),
    "fillna scalar": (lambda a, b: b.fillna(0), {"dataset:b.csv"}),
    "pivot_table": (lambda a, b: a.pivot_table(index="g", values="v", aggfunc="sum"), A),
    "groupby agg": (lambda a, b: a.groupby("g").agg(total=("v", "sum")), A),
    "groupby transform": (lambda a, b: a.groupby("g")["v"].transform("mean"), A),
    "groupby by another frame": (lambda a, b: a.groupby(b["k"] % 2)["v"].sum(), AB),
    "boolean mask of itself": (lambda a, b: a[a["v"] > 1], A),
    "boolean mask of another": (lambda a, b: a[b["c"] > 7], AB),
    "isin another": (lambda a, b: a[~a["k"].isin(b["k"].head(2))], AB),
    "loc": (lambda a, b: a.loc[a["v"] > 1, ["k", "v"]], A),
    "iloc": (lambda a, b: a.iloc[1:, :2], A),
    "set through loc": (_set_through_loc, AB),
    "concat columns then drop one part": (
        lambda a, b: pd.concat([a, b.drop(columns=["k"])], axis=1).drop(columns=["c"]),
        A,
    ),
    "to_numpy and hstack": (_hstack_arrays, AB),
    "array arithmetic (not followed)": (lambda a, b: pd.DataFrame(a[["v"]].to_numpy() * 2), A),
    "unknown method with a frame operand": (lambda a, b: a[["v"]].mul(b[["c"]].values), AB),
}


@pytest.mark.parametrize("case", list(PANDAS))
def test_pandas_operations_derive_from_their_operands_only(captured: Captured, case: str) -> None:
    _make_inputs()
    a, b = pd.read_csv("a.csv"), pd.read_csv("b.csv")
    lookup = pd.read_csv("lookup.csv")
    print(a.merge(lookup, on="g").groupby("label")["v"].sum())  # a printed report
    operation, expected = PANDAS[case]
    result = operation(a, b)
    (result if isinstance(result, pd.DataFrame) else result.to_frame()).to_csv("out.csv")
    assert _files(captured, "dataset:out.csv") == expected


def test_report_only_lookup_is_not_upstream_of_features_or_model(captured: Captured) -> None:
    _make_inputs()
    frame = pd.read_csv("a.csv")
    lookup = pd.read_csv("lookup.csv")
    calendar = pd.read_csv("b.csv")
    print(len(calendar))
    print(frame.merge(lookup, on="g").groupby("label").size())
    features = np.log1p(frame[["k", "v"]].to_numpy())  # numpy's own function: not followed
    pd.DataFrame(features, columns=["k", "v"]).to_csv("features.csv", index=False)
    model = LinearRegression().fit(features, frame["v"].to_numpy())
    joblib.dump(model, "model.joblib")
    assert _files(captured, "dataset:features.csv") == A
    assert _files(captured, "model:model.joblib") == A


def test_values_taken_out_later_are_not_hidden_in_earlier_data(captured: Captured) -> None:
    _make_inputs()
    a, lookup = pd.read_csv("a.csv"), pd.read_csv("lookup.csv")
    early = pd.DataFrame({"v": a["v"].to_numpy().round(1)})  # unknown origin, made now
    print(lookup.set_index("g")["label"].to_dict())  # the lookup's values leave the frames
    late = pd.DataFrame({"v": a["v"].to_numpy() + len(lookup.to_numpy())})
    early.to_csv("early.csv", index=False)
    late.to_csv("late.csv", index=False)
    assert _files(captured, "dataset:early.csv") == A
    assert _files(captured, "dataset:late.csv") == {"dataset:a.csv", "dataset:lookup.csv"}


POLARS: dict[str, tuple[Callable[[pl.DataFrame, pl.DataFrame], pl.DataFrame], set[str]]] = {
    "join": (lambda a, b: a.join(b, on="k"), AB),
    "concat": (lambda a, b: pl.concat([a.select("k"), b.select("k")]), AB),
    "group_by agg": (lambda a, b: a.group_by("g").agg(pl.col("v").sum()), A),
    "with_columns": (lambda a, b: a.with_columns((pl.col("v") * 2).alias("w")), A),
    "filter": (lambda a, b: a.filter(pl.col("v") > 1), A),
    "pivot": (lambda a, b: a.pivot(on="g", index="k", values="v"), A),
    "series arithmetic": (lambda a, b: (a["v"] * b["c"]).to_frame(), AB),
    "hstack then drop": (lambda a, b: a.hstack([b["c"]]).drop("c"), A),
    "hstack": (lambda a, b: a.hstack([b["c"]]), AB),
    "lazy": (lambda a, b: a.lazy().join(b.lazy(), on="k").collect(), AB),
    "series from an array": (
        lambda a, b: a.select("k").with_columns(pl.Series("p", b["c"].to_numpy())),
        AB,
    ),
}


@pytest.mark.parametrize("case", list(POLARS))
def test_polars_operations_derive_from_their_operands_only(captured: Captured, case: str) -> None:
    _make_inputs()
    a, b = pl.read_csv("a.csv"), pl.read_csv("b.csv")
    lookup = pl.read_csv("lookup.csv")
    print(a.join(lookup, on="g").group_by("label").agg(pl.col("v").sum()))
    operation, expected = POLARS[case]
    operation(a, b).write_csv("out.csv")
    assert _files(captured, "dataset:out.csv") == expected


def test_arrays_into_fit_and_predict_keep_their_files(captured: Captured) -> None:
    _make_inputs()
    train, score = pd.read_csv("a.csv"), pd.read_csv("b.csv")
    print(pd.read_csv("lookup.csv").shape)
    X = np.column_stack([train["k"].to_numpy(), train["v"].to_numpy()])
    model = LinearRegression().fit(X, train["v"].values)
    batch = np.c_[score["k"].to_numpy(), score["c"].fillna(0).to_numpy()]
    scored = pd.DataFrame({"k": score["k"], "p": model.predict(batch)})
    scored.to_csv("scored.csv", index=False)
    assert _files(captured, "predictions:scored.csv") == AB


def test_a_value_taken_out_of_a_frame_may_hide_it_in_later_unknown_data(
    captured: Captured,
) -> None:
    _make_inputs()
    a, b, lookup = pd.read_csv("a.csv"), pd.read_csv("b.csv"), pd.read_csv("lookup.csv")
    print(lookup["g"].nunique(), len(lookup))  # counts describe it: not its values
    before = pd.DataFrame({"v": a["v"].to_numpy() * 2})
    offset = b["c"].mean()  # one value of b, no hook follows it
    after = pd.DataFrame({"v": a["v"].to_numpy() - offset})
    before.to_csv("before.csv", index=False)
    after.to_csv("after.csv", index=False)
    assert _files(captured, "dataset:before.csv") == A
    assert _files(captured, "dataset:after.csv") == AB


def test_unknown_data_cannot_hold_what_was_loaded_after_it(captured: Captured) -> None:
    _make_inputs()
    with suspended():
        joblib.dump(LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]), "model.joblib")
    frame = pd.read_csv("a.csv")
    check = frame[frame.index % 2 == 0]  # a mask computed on the index: no hook follows it
    model = joblib.load("model.joblib")
    check.assign(p=model.predict(check[["v"]].to_numpy())).to_csv("checked.csv", index=False)
    check.to_csv("check.csv", index=False)
    assert _files(captured, "dataset:check.csv") == A
