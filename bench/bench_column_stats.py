"""What column statistics cost at capture: a 1,000,000 x 10 frame (7 numeric, 3 categorical
columns), pandas and polars, a 100,000 x 3 frame of scores (the shape bench_long_script.py
writes every iteration) and a 500 x 30 numeric feature table (the demo's shape), against the
frame's content fingerprint that capture takes anyway.

Column statistics (count, nulls, min/max/mean, quantiles, a histogram, top categories) are
computed on a sample of ``SAMPLE`` rows (:mod:`threadline.capture.column_stats`), so their cost
stays flat past that size while the fingerprint reads every value.

Run: ``python bench/bench_column_stats.py``  (env ``BENCH_ROWS``, default 1000000)
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import polars as pl

from threadline.capture.column_stats import SAMPLE, column_stats
from threadline.fingerprint.objects import fingerprint_object

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
REPEATS = 15


def median_ms(fn: Callable[[object], object], frame: object) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        fn(frame)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    rng = np.random.default_rng(1)
    columns = {f"n{i}": rng.normal(size=ROWS) for i in range(7)}
    columns |= {f"c{i}": rng.choice(["a", "b", "c", "d"], ROWS) for i in range(3)}
    frames = {"pandas": pd.DataFrame(columns), "polars": pl.DataFrame(columns)}
    print(f"column statistics vs frame fingerprint, {ROWS:,} x 10 (sample {SAMPLE:,} rows)")
    for library, frame in frames.items():
        stats = median_ms(column_stats, frame)
        digest = median_ms(fingerprint_object, frame)
        print(
            f"  {library:<7} statistics {stats:7.1f} ms   fingerprint {digest:7.1f} ms   "
            f"ratio x{stats / digest:.2f}"
        )
    scores = pd.DataFrame(
        {"store": rng.integers(0, 400, 100_000), "day": rng.integers(0, 365, 100_000)}
    )
    scores["score"] = rng.random(100_000)
    table = pd.DataFrame({f"f{i}": rng.normal(size=500) for i in range(30)})
    for label, frame in (("100,000 x 3 scores", scores), ("500 x 30 features", table)):
        stats = median_ms(column_stats, frame)
        digest = median_ms(fingerprint_object, frame)
        print(
            f"  pandas {label:<19} statistics {stats:5.2f} ms   fingerprint {digest:5.2f} ms"
            f"   ratio x{stats / digest:.2f}"
        )


if __name__ == "__main__":
    main()
