"""Column statistics of written frames (``threadline_column_stats``): exact counts, nulls,
min, max and mean; sampled quantiles, histogram and category shares; pandas and polars alike;
recorded on the version of a file a captured script writes."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import orjson
import pandas as pd
import polars as pl
import pytest
import sqlalchemy as sa
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from tests.support.capture_session import Captured

from threadline.capture import column_stats as stats_module
from threadline.capture.column_stats import BINS, FACET, SAMPLE, TOP, column_stats
from threadline.config import Settings
from threadline.query.health import run_health
from threadline.store import schema as s


def frame() -> dict[str, Any]:
    rng = np.random.default_rng(7)
    x = rng.normal(10.0, 2.0, size=250_000)
    x[::5] = np.nan
    return {
        "x": x,
        "n": np.arange(250_000) % 1000,
        "c": np.where(np.arange(250_000) % 4 == 0, "rare", "common"),
    }


@pytest.mark.parametrize("library", ["pandas", "polars"])
def test_statistics_of_a_frame(library: str) -> None:
    data = frame()
    built = pd.DataFrame(data) if library == "pandas" else pl.DataFrame(data, nan_to_null=True)
    stats = column_stats(built)
    assert stats is not None
    assert stats["rows"] == 250_000
    x, n, c = (stats["columns"][k] for k in ("x", "n", "c"))
    present = data["x"][~np.isnan(data["x"])]
    assert (x["count"], x["nulls"]) == (200_000, 50_000)
    assert x["min"] == present.min()
    assert x["max"] == present.max()
    assert x["mean"] == pytest.approx(present.mean())
    # Quantiles come from a sample of at most SAMPLE rows: close to the exact ones.
    assert x["quantiles"]["p50"] == pytest.approx(np.median(present), abs=0.05)
    assert len(x["histogram"]["counts"]) == BINS
    assert sum(x["histogram"]["counts"]) == pytest.approx(200_000, rel=0.01)
    assert (n["min"], n["max"]) == (0, 999)
    assert c["type"] == "categorical"
    assert c["top"] == pytest.approx({"common": 0.75, "rare": 0.25}, abs=0.01)
    assert c["other"] == 0


def test_many_categories_keep_the_top_ones_and_the_rest() -> None:
    values = [f"v{i % 50}" for i in range(1000)]
    stats = column_stats(pd.DataFrame({"c": values, "none": [None] * 1000}))
    assert stats is not None
    c = stats["columns"]["c"]
    assert len(c["top"]) == TOP
    assert c["other"] == pytest.approx(0.8)
    assert stats["columns"]["none"] == {"type": "categorical", "count": 0, "nulls": 1000}


def test_what_is_not_a_frame_has_no_statistics() -> None:
    assert column_stats([1, 2, 3]) is None
    assert column_stats(np.zeros(3)) is None
    assert column_stats(pd.Series([1, 2])) is None


def test_a_large_frame_is_sampled_not_read_whole() -> None:
    assert SAMPLE < 1_000_000
    big = pd.DataFrame({"x": np.arange(1_000_000, dtype=float)})
    stats = column_stats(big)
    assert stats is not None
    x = stats["columns"]["x"]
    assert (x["count"], x["min"], x["max"]) == (1_000_000, 0.0, 999_999.0)
    assert sum(x["histogram"]["counts"]) == pytest.approx(1_000_000)


def test_a_written_frame_carries_its_statistics(captured: Captured) -> None:
    pd.DataFrame({"a": [1.0, 2.0, 3.0, None], "b": ["x", "y", "x", "x"]}).to_csv("out.csv")
    captured.finish()

    def facets(conn: Any) -> list[dict[str, Any]]:
        rows = conn.execute(
            sa.select(s.versions.c.facets)
            .join(s.nodes, s.nodes.c.id == s.versions.c.node_id)
            .where(s.nodes.c.name.like("%out.csv"))
        )
        return [orjson.loads(r.facets) for r in rows]

    [stats] = [v[FACET] for v in captured.store.read(facets) if FACET in v]
    assert stats["columns"]["a"]["nulls"] == 1
    assert stats["columns"]["a"]["mean"] == 2.0
    assert stats["columns"]["b"]["top"] == {"x": 0.75, "y": 0.25}


def test_a_raw_file_read_twice_drifts(captured: Captured) -> None:
    # A raw file is never written under capture: reading it is where its statistics come from,
    # and two read versions of it are what distribution drift compares.
    rng = np.random.default_rng(7)

    def raw(mean: float, a_share: float) -> None:
        # Written as plain text, as an export from elsewhere would be: no hook sees it.
        xs = rng.normal(mean, 1, 2000)
        cs = ["a" if i < a_share * 2000 else "b" for i in range(2000)]
        Path("raw.csv").write_text(
            "x,c\n" + "".join(f"{x},{c}\n" for x, c in zip(xs, cs, strict=True))
        )

    raw(0.0, 0.5)
    first = pd.read_csv("raw.csv")
    raw(3.0, 0.9)
    second = pd.read_csv("raw.csv")
    assert len(first) == len(second) == 2000
    pd.concat([first, second]).describe().to_csv("summary.csv")  # what the reads flow into
    captured.finish()

    def facets(conn: Any) -> list[dict[str, Any]]:
        rows = conn.execute(
            sa.select(s.versions.c.facets)
            .join(s.nodes, s.nodes.c.id == s.versions.c.node_id)
            .where(s.nodes.c.name.like("%raw.csv"))
        )
        return [orjson.loads(r.facets) for r in rows]

    read = [v[FACET] for v in captured.store.read(facets) if FACET in v]
    assert len(read) == 2
    report = run_health(captured.store, Settings(), families=["drift"])
    [drift] = [f for f in report.findings if f.check == "distribution_drift"]
    columns = {c["column"] for c in drift.details["columns"]}
    assert columns == {"x", "c"}


def numpy_numeric(values: Any) -> dict[str, Any]:
    """A numeric column's statistics by numpy's own functions, one column at a time: the
    reference the module's figures must equal, bit for bit."""
    present = values[~np.isnan(values)]
    stats: dict[str, Any] = {"type": "numeric", "count": present.size}
    stats["nulls"] = values.size - present.size
    if not present.size:
        return stats
    lo, hi = float(present.min()), float(present.max())
    if present.size > stats_module.SAMPLE:
        sample = present[np.random.default_rng(0).integers(0, present.size, stats_module.SAMPLE)]
    else:
        sample = present
    stats.update(min=number(lo), max=number(hi), mean=number(present.mean()))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        sample = sample[np.isfinite(sample)]
        if not sample.size:
            return stats
    quantiles = np.quantile(sample, stats_module._QUANTILES)
    stats["quantiles"] = {
        f"p{round(q * 100):02d}": number(v)
        for q, v in zip(stats_module._QUANTILES, quantiles, strict=True)
    }
    if hi > lo:
        counts, edges = np.histogram(sample, bins=BINS, range=(sample.min(), sample.max()))
        scale = present.size / sample.size
        stats["histogram"] = {
            "edges": [float(e) for e in edges],
            "counts": [round(float(c) * scale, 1) for c in counts],
        }
    else:
        stats["histogram"] = {"edges": [lo, hi], "counts": [float(present.size)]}
    return stats


def number(value: Any) -> float | None:
    return float(value) if np.isfinite(value) else None


def column_by_column(frame: pd.DataFrame) -> dict[str, Any]:
    """Every column's statistics by :func:`numpy_numeric`."""
    columns: dict[str, Any] = {}
    for position, name in enumerate(frame.columns):
        series = frame.iloc[:, position]
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        columns[str(name)] = numpy_numeric(values)
    return {"rows": len(frame), "columns": columns}


def outcome(compute: Any, frame: pd.DataFrame) -> Any:
    try:
        with np.errstate(all="ignore"):  # as column_stats computes them
            return compute(frame)
    except ValueError as exc:  # a spread too small for ten bins: no facet, either way
        return type(exc)


FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64)
SPREADS = st.sampled_from([1e-300, 1e-12, 1.0, 1e6, 1e300])


@st.composite
def numeric_frames(draw: st.DrawFn) -> pd.DataFrame:
    rows = draw(st.integers(1, 60))
    data: dict[str, Any] = {}
    for n in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["any", "spread", "int", "constant", "nullable"]))
        if kind == "any":
            column: Any = draw(st.lists(FLOATS, min_size=rows, max_size=rows))
        elif kind == "spread":
            base, spread = draw(st.floats(-1e6, 1e6)), draw(SPREADS)
            unit = draw(st.lists(st.floats(0, 1), min_size=rows, max_size=rows))
            column = [base + spread * u for u in unit]
        elif kind == "int":
            column = draw(st.lists(st.integers(-(2**53), 2**53), min_size=rows, max_size=rows))
        elif kind == "constant":
            column = [draw(st.floats(allow_nan=False, allow_infinity=False))] * rows
        else:
            column = pd.array(
                draw(st.lists(st.none() | st.integers(-1000, 1000), min_size=rows, max_size=rows)),
                dtype="Int64",
            )
        data[f"c{n}"] = column
    return pd.DataFrame(data)


@settings(max_examples=300, deadline=None)
@given(numeric_frames())
def test_numeric_columns_in_one_block_equal_column_by_column(frame: pd.DataFrame) -> None:
    block = outcome(lambda f: stats_module._pandas(f, np), frame)
    assert block == outcome(column_by_column, frame)


@settings(max_examples=300, deadline=None)
@given(numeric_frames(), st.integers(2, 12))
def test_sampled_numeric_columns_in_one_block_equal_column_by_column(
    frame: pd.DataFrame, sample: int
) -> None:
    # A sample of a few rows makes frames of a few dozen rows take the sampled path (and the
    # positions drawn for another sample size are forgotten).
    with (
        mock.patch.object(stats_module, "SAMPLE", sample),
        mock.patch.object(stats_module, "_last_picks", (0, None)),
    ):
        block = outcome(lambda f: stats_module._pandas(f, np), frame)
        assert block == outcome(column_by_column, frame)


@pytest.mark.parametrize("seed", range(4))
def test_a_large_frame_in_one_block_equals_column_by_column(seed: int) -> None:
    # Past SAMPLE rows: exact figures over every row (numpy's pairwise sums), the rest from
    # the sample, every number as the column-by-column reference computes it.
    rng = np.random.default_rng(seed)
    rows = SAMPLE * 5 + seed
    frame = pd.DataFrame(
        {
            "store": rng.integers(0, 400, rows),
            "score": rng.random(rows),
            "amount": rng.lognormal(3.0, 2.0, rows),
            "narrow": 1e6 + rng.random(rows) * 1e-5,  # bins a few hundred ulps wide
            "flag": rng.integers(0, 2, rows),
        }
    )
    facet = column_stats(frame)
    assert facet is not None
    assert facet["columns"] == column_by_column(frame)["columns"]


ARRAYS = st.integers(1, 40).flatmap(
    lambda rows: st.lists(
        st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=rows, max_size=rows
    )
)


@settings(max_examples=500, deadline=None)
@given(st.lists(ARRAYS, min_size=1, max_size=3).filter(lambda c: len({len(x) for x in c}) == 1))
def test_quantiles_of_a_sorted_sample_are_numpys(columns: list[list[float]]) -> None:
    block = np.array(columns, dtype="float64").T
    with np.errstate(all="ignore"):
        ours = stats_module._sorted_quantiles(np.sort(block, axis=0), np)
        theirs = np.quantile(block, stats_module._QUANTILES, axis=0)
    np.testing.assert_array_equal(ours, theirs)


@settings(max_examples=500, deadline=None)
@given(
    st.floats(-1e300, 1e300),
    SPREADS | st.just(1.7e308),  # the last: a range wider than the largest float
    st.lists(st.floats(0, 1), min_size=2, max_size=50),
)
def test_histogram_of_a_sorted_sample_is_numpys(
    base: float, spread: float, unit: list[float]
) -> None:
    with np.errstate(all="ignore"):
        column = np.sort(np.array([base + spread * u for u in unit]))
    low, high = column[0], column[-1]
    assume(np.isfinite(column).all() and high > low)
    try:
        with np.errstate(all="ignore"):
            theirs = np.histogram(column, bins=BINS, range=(low, high))
    except ValueError:
        with np.errstate(all="ignore"), pytest.raises(ValueError, match="too many bins"):
            stats_module._sorted_histograms(column[:, None], low[None], high[None], np)
        return
    edges, counts = stats_module._sorted_histograms(column[:, None], low[None], high[None], np)
    np.testing.assert_array_equal(counts[0], theirs[0])
    np.testing.assert_array_equal(edges[:, 0], theirs[1])


def test_overflow_is_no_number_and_no_warning() -> None:
    huge = pd.DataFrame({"x": [1e308, 1e308, -5.0], "y": [1.0, 2.0, 3.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the user's program never sees numpy's warnings
        facet = column_stats(huge)
    assert facet is not None
    assert facet["columns"]["x"]["mean"] is None
    assert facet["columns"]["x"]["max"] == 1e308
    assert facet["columns"]["y"]["mean"] == 2.0


def test_a_wide_frame_gets_every_numeric_column_and_keeps_the_order() -> None:
    rng = np.random.default_rng(3)
    wide = pd.DataFrame({f"f{n}": rng.normal(size=500) for n in range(40)})
    wide.insert(5, "label", ["a", "b"] * 250)
    wide.loc[::7, "f9"] = np.nan  # a column with nulls is described on its own
    facet = column_stats(wide)
    assert facet is not None
    assert list(facet["columns"]) == list(wide.columns)
    assert facet["columns"]["f9"]["nulls"] == 72
    assert facet["columns"]["label"]["type"] == "categorical"
    reference = column_by_column(wide.drop(columns="label"))["columns"]
    assert {k: v for k, v in facet["columns"].items() if k != "label"} == reference


def test_a_file_version_read_again_into_the_same_frame_is_described_once(
    captured: Captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A loop over the same inputs reads them again and again; describing a large frame costs
    # more than reading it.  Another frame of the file (other rows) or another version of the
    # file is described anew.
    from threadline.capture import recorder

    described: list[int] = []

    def counted(obj: object) -> dict[str, Any] | None:
        described.append(len(obj))  # type: ignore[arg-type]
        return column_stats(obj)

    monkeypatch.setattr(recorder, "column_stats", counted)
    Path("in.csv").write_text("a,b\n1,x\n2,y\n3,x\n")
    for _ in range(3):
        pd.read_csv("in.csv")
    pd.read_csv("in.csv", nrows=2)
    Path("in.csv").write_text("a,b\n1,x\n2,y\n4,x\n")
    pd.read_csv("in.csv")
    assert described == [3, 2, 3]


@pytest.mark.parametrize(
    "column",
    [
        [1.0, 1.0 + 2.2e-16, 1.0 + 6.6e-16],  # three units in the last place for ten bins
        [-1e308, 0.0, 1e308],  # a range wider than the largest float
    ],
)
def test_a_range_too_narrow_or_too_wide_for_ten_bins_is_refused_as_numpy_refuses_it(
    column: list[float],
) -> None:
    values = np.array(column)
    with np.errstate(all="ignore"):
        with pytest.raises(ValueError, match="Too many bins"):
            np.histogram(values, bins=BINS, range=(values[0], values[-1]))
        with pytest.raises(ValueError, match="too many bins"):
            stats_module._sorted_histograms(values[:, None], values[:1], values[-1:], np)
