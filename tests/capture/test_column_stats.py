"""Column statistics of written frames (``threadline_column_stats``): exact counts, nulls,
min, max and mean; sampled quantiles, histogram and category shares; pandas and polars alike;
recorded on the version of a file a captured script writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import polars as pl
import pytest
import sqlalchemy as sa
from tests.support.capture_session import Captured

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
