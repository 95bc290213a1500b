"""Column statistics of a written frame: the ``threadline_column_stats`` facet.

For each column of a pandas or polars frame: ``count`` (non-null values), ``nulls``; for a
numeric column also ``min``, ``max``, ``mean``, quantiles (``p01`` … ``p99``) and a
:data:`BINS`-bin histogram (``edges``, ``counts``) between min and max; for any other column the
shares of its :data:`TOP` most frequent values (``top``) and of the rest (``other``).  The
health checks compare two versions' statistics (PSI, changed shares).

Cost budget: count, nulls, min, max and mean are exact (one vectorised pass each); quantiles,
histogram and category shares are computed on a sample of :data:`SAMPLE` rows drawn with a
fixed seed (the same frame gives the same statistics; a stride would alias with periodic data),
so past that size only the exact passes grow with the frame.  Frames wider than
:data:`MAX_COLUMNS` get statistics for their first columns only.  Anything unexpected yields
no facet: statistics must never cost the user's program its write.
"""

from __future__ import annotations

import math
from typing import Any, Final

from threadline.model.producer import PRODUCER

FACET: Final = "threadline_column_stats"
SCHEMA_URL: Final = "https://threadline.dev/spec/facets/1-0-0/ColumnStatsDatasetFacet.json"
#: Rows the sampled statistics (quantiles, histogram, category shares) are computed on: the
#: sampling error of a quantile or a bin's share is ~1/sqrt(SAMPLE), well under what a drift
#: check flags (PSI 0.1), and a 100,000-row frame is described in a quarter of the time it
#: took whole (bench/bench_column_stats.py).
SAMPLE: Final = 20_000
#: Histogram bins of a numeric column.
BINS: Final = 10
#: Category shares kept per non-numeric column.
TOP: Final = 10
#: Columns described at most.
MAX_COLUMNS: Final = 64
_QUANTILES: Final = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def _number(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


#: (size, positions) of the last sample drawn: a frame's columns share their size.  One
#: tuple, replaced whole, so that a thread never reads one size's positions for another.
_last_picks: tuple[int, Any] = (0, None)


def _picks(size: int, np: Any) -> Any:
    """Row positions of the sample of a ``size``-row column (with a fixed seed)."""
    global _last_picks
    last_size, positions = _last_picks
    if last_size != size:
        # In ascending order: gathering them reads memory forwards; the statistics of a
        # sample do not depend on its order.
        positions = np.sort(np.random.default_rng(0).integers(0, size, SAMPLE))
        positions.flags.writeable = False
        _last_picks = (size, positions)
    return positions


def _numeric(values: Any, np: Any) -> dict[str, Any]:
    """``values``: a float ndarray with NaN for the missing.  The figures are numpy's
    (``np.quantile``, ``np.histogram`` of the sample), computed as :func:`_numeric_block`
    does."""
    missing = np.isnan(values)
    present = values[~missing] if missing.any() else values
    stats: dict[str, Any] = {"type": "numeric", "count": int(present.size)}
    stats["nulls"] = int(values.size - present.size)
    if not present.size:
        return stats
    lo, hi = float(present.min()), float(present.max())
    sample = present[_picks(present.size, np)] if present.size > SAMPLE else present
    if not (math.isfinite(lo) and math.isfinite(hi)):
        sample = sample[np.isfinite(sample)]
        if not sample.size:
            stats.update(min=_number(lo), max=_number(hi), mean=_number(present.mean()))
            return stats
    ordered = np.sort(sample)
    histogram = None
    if hi > lo and ordered[-1] > ordered[0]:
        edges, counts = _sorted_histograms(ordered[:, None], ordered[:1], ordered[-1:], np)
        histogram = (counts[0], edges[:, 0])
    elif hi > lo:  # a sample of one value: numpy widens its range to a unit around it
        histogram = np.histogram(ordered, bins=BINS, range=(float(ordered[0]), float(ordered[-1])))
    return _described(
        stats,
        lo,
        hi,
        present.mean(),
        _sorted_quantiles(ordered[:, None], np)[:, 0],
        histogram,
        present.size / sample.size,
    )


def _described(
    stats: dict[str, Any],
    lo: float,
    hi: float,
    mean: Any,
    quantiles: Any,
    histogram: tuple[Any, Any] | None,
    scale: float = 1.0,
) -> dict[str, Any]:
    """``stats`` (type, count, nulls) completed with a numeric column's figures: its
    ``histogram`` is (counts, edges) of a sample ``scale`` times smaller than the column, or
    None for a column of one value."""
    stats.update(min=_number(lo), max=_number(hi), mean=_number(mean))
    stats["quantiles"] = {
        f"p{round(q * 100):02d}": _number(v) for q, v in zip(_QUANTILES, quantiles, strict=True)
    }
    if histogram is not None:
        counts, edges = histogram
        stats["histogram"] = {
            "edges": [float(e) for e in edges],
            "counts": [round(float(c) * scale, 1) for c in counts],
        }
    else:
        stats["histogram"] = {"edges": [lo, hi], "counts": [float(stats["count"])]}
    return stats


def _categorical(values: list[Any], total: int, nulls: int) -> dict[str, Any]:
    """``values``: a sample of the non-null values (any hashable type)."""
    stats: dict[str, Any] = {"type": "categorical", "count": total - nulls, "nulls": nulls}
    if not values:
        return stats
    counts: dict[str, int] = {}
    for value in values:
        key = str(value)
        counts[key] = counts.get(key, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    size = len(values)
    stats["distinct_in_sample"] = len(counts)
    stats["top"] = {key: round(count / size, 6) for key, count in ranked[:TOP]}
    stats["other"] = round(sum(c for _, c in ranked[TOP:]) / size, 6)
    return stats


def _numeric_block(block: Any, np: Any, picks: Any = None) -> list[dict[str, Any]] | None:
    """:func:`_numeric` of every column of ``block`` (rows x columns, float64, every value
    finite), in a few passes over the whole block instead of a dozen numpy calls per column
    (a 500 x 30 frame: 1.2-2.4 ms in bench/bench_column_stats.py; 5.9 ms column by column
    when the block path was introduced).
    ``picks``: the sample's row positions when the block has more than :data:`SAMPLE` rows.

    The numbers are :func:`_numeric`'s, bit for bit (property tests hold them to it):
    reductions run along each column laid out contiguously; the sample is sorted once and
    its quantiles are read off it with numpy's own interpolation (``np.quantile`` partitions
    the sample again for every call: three times the sort's cost); the histogram counts come
    from where each bin edge falls in the sorted sample (numpy estimates each value's bin from
    its distance to the low edge, then moves it one bin to the right side of the edges
    themselves: the same place).  None when some column's sample has a single value (numpy
    widens such a range: :func:`_numeric` describes those columns)."""
    # One row per column, each contiguous: reductions and sorts run along memory.
    columns = np.ascontiguousarray(block.T)
    width, rows = columns.shape
    lows, highs, means = columns.min(axis=1), columns.max(axis=1), columns.mean(axis=1)
    # (np.take: three times as fast as indexing with the positions, ``columns[:, picks]``.)
    sample = columns if picks is None else np.take(columns, picks, axis=1)
    ordered = np.sort(sample, axis=1).T  # rows x columns again, a view
    sample_lows, sample_highs = ordered[0], ordered[-1]
    spread = np.flatnonzero(highs > lows)
    if np.any(sample_highs[spread] <= sample_lows[spread]):
        return None
    quantiles = _sorted_quantiles(ordered, np)
    edges, counts = _sorted_histograms(
        ordered[:, spread], sample_lows[spread], sample_highs[spread], np
    )
    histogram_of = {int(column): n for n, column in enumerate(spread)}
    scale = rows / ordered.shape[0]
    out: list[dict[str, Any]] = []
    for column in range(width):
        n = histogram_of.get(column)
        out.append(
            _described(
                {"type": "numeric", "count": rows, "nulls": 0},
                float(lows[column]),
                float(highs[column]),
                means[column],
                quantiles[:, column],
                None if n is None else (counts[n], edges[:, n]),
                scale,
            )
        )
    return out


def _sorted_quantiles(ordered: Any, np: Any) -> Any:
    """``np.quantile(sample, _QUANTILES, axis=0)`` of a sample sorted down each column, by
    numpy's arithmetic for its default (linear) method (numpy/lib/_function_base_impl.py)."""
    count = ordered.shape[0]
    virtual = (count - 1) * np.asarray(_QUANTILES)
    previous = np.floor(virtual)
    following = previous + 1
    previous[virtual >= count - 1] = -1
    following[virtual >= count - 1] = -1
    gamma = (virtual - previous)[:, None]
    low = ordered[previous.astype(np.intp)]
    high = ordered[following.astype(np.intp)]
    difference = high - low
    result = low + difference * gamma
    np.subtract(high, difference * (1 - gamma), out=result, where=gamma >= 0.5)
    return result


def _sorted_histograms(ordered: Any, lows: Any, highs: Any, np: Any) -> tuple[Any, Any]:
    """``np.histogram(column, bins=BINS, range=(low, high))`` of each column of ``ordered``
    (sorted down each column; ``lows``/``highs`` its first and last rows)."""
    width = ordered.shape[1]
    edges = np.linspace(lows, highs, BINS + 1, endpoint=True)
    # (A spread too wide for a float, too: its edges are then inf and NaN.)
    if width and np.any(edges[:-1] >= edges[1:]):
        raise ValueError(f"too many bins for a data range: cannot make {BINS} bins")
    counts = np.empty((width, BINS), dtype=np.intp)
    rows = ordered.shape[0]
    for column in range(width):
        starts = np.searchsorted(ordered[:, column], edges[:-1, column], side="left")
        counts[column, :-1] = np.diff(starts)
        counts[column, -1] = rows - starts[-1]
    return edges, counts


def _pandas(frame: Any, np: Any) -> dict[str, Any]:
    columns: dict[str, Any] = {}
    rows = len(frame)
    picks = _picks(rows, np) if rows > SAMPLE else None
    described = frame.columns[:MAX_COLUMNS]
    # frame.dtypes builds a new Series at every access: read it once.
    kinds = [dtype.kind for dtype in frame.dtypes.tolist()[: len(described)]]
    numeric = [position for position, kind in enumerate(kinds) if kind in "iuf"]
    blocked: dict[int, dict[str, Any]] = {}
    converted: dict[int, Any] = {}  # position -> the column as float64, NaN for the missing
    if numeric and rows:
        # Selecting columns builds a frame (~0.15 ms): an all-numeric frame converts whole.
        whole = len(numeric) == frame.shape[1]
        values = (frame if whole else frame.iloc[:, numeric]).to_numpy(
            dtype="float64", na_value=np.nan
        )
        converted = {position: values[:, n] for n, position in enumerate(numeric)}
        # A column with a missing or infinite value samples among its present values only:
        # :func:`_numeric` describes it.
        finite = np.isfinite(values).all(axis=0)
        chosen = [n for n, ok in enumerate(finite) if ok]
        if len(chosen) < len(numeric):
            values = values[:, chosen]
        stats = _numeric_block(values, np, picks) if chosen else None
        if stats is not None:
            blocked = {numeric[n]: one for n, one in zip(chosen, stats, strict=True)}
    for position, name in enumerate(described):
        if position in blocked:
            columns[str(name)] = blocked[position]
        elif position in converted:
            # Contiguous, as the column alone converts: its sums are the same, bit for bit.
            columns[str(name)] = _numeric(np.ascontiguousarray(converted[position]), np)
        else:
            series = frame.iloc[:, position]
            nulls = int(series.isna().sum())
            chosen_rows = series if picks is None else series.iloc[picks]
            sample = chosen_rows.dropna().tolist()
            columns[str(name)] = _categorical(sample, rows, nulls)
    return {"rows": rows, "columns": columns}


def _polars(frame: Any, np: Any) -> dict[str, Any]:
    columns: dict[str, Any] = {}
    rows = frame.height
    picks = _picks(rows, np) if rows > SAMPLE else None
    for series in frame.get_columns()[:MAX_COLUMNS]:
        if series.dtype.is_numeric() and not series.dtype.is_decimal():
            values = series.cast(float).to_numpy()
            columns[series.name] = _numeric(np.asarray(values, dtype="float64"), np)
        else:
            nulls = series.null_count()
            chosen = series if picks is None else series.gather(picks)
            sample = chosen.drop_nulls().to_list()
            columns[series.name] = _categorical(sample, rows, nulls)
    return {"rows": rows, "columns": columns}


def column_stats(obj: object) -> dict[str, Any] | None:
    """The ``threadline_column_stats`` facet of a pandas or polars frame, else None."""
    module = type(obj).__module__.split(".", 1)[0]
    name = type(obj).__name__
    if name != "DataFrame" or module not in ("pandas", "polars"):
        return None
    try:
        import numpy as np

        # An overflowing mean is no number (None), not a warning on the user's stderr.
        with np.errstate(all="ignore"):
            body = _pandas(obj, np) if module == "pandas" else _polars(obj, np)
    except Exception:  # an exotic column type: no statistics rather than a failed write
        return None
    return {"_producer": PRODUCER, "_schemaURL": SCHEMA_URL, **body}


__all__ = ["BINS", "FACET", "MAX_COLUMNS", "SAMPLE", "TOP", "column_stats"]
