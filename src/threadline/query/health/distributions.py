"""Distribution drift from the column statistics capture records (``threadline_column_stats``).

Numeric columns carry a small histogram (bin edges and counts); two versions' histograms rarely
share edges, so the newer one is re-binned onto the older one's edges, spreading each bin's
count evenly over its width, with the outer bins open-ended (values beyond the old range land
in the first or last bin).  The population stability index is then
``Σ (p_new - p_old) · ln(p_new / p_old)`` over the bins, each share floored at :data:`FLOOR`
so an empty bin does not make it infinite.  By the usual reading, under 0.1 is no shift,
0.1-0.2 a moderate one and over 0.2 a significant one.

Categorical columns carry the shares of their most frequent values (and ``other``); their
drift is the largest change of any value's share.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

#: The smallest share a bin counts with (avoids log(0) for an empty bin).
FLOOR: Final = 1e-4


def _below(
    edges: Sequence[float], cumulative: Sequence[float], counts: Sequence[float], x: float
) -> float:
    """How much of a histogram lies below ``x``, its counts spread evenly over each bin."""
    if x < edges[0]:
        return 0.0
    index = bisect.bisect_right(edges, x) - 1
    if index >= len(counts):
        return cumulative[-1]
    width = edges[index + 1] - edges[index]
    inside = counts[index] * (x - edges[index]) / width if width > 0 else counts[index]
    return cumulative[index] + inside


def rebin(edges: Sequence[float], counts: Sequence[float], onto: Sequence[float]) -> list[float]:
    """``counts`` over ``edges`` moved onto the bins of ``onto`` (outer bins open-ended): the
    histogram's cumulative mass read at each of ``onto``'s inner edges, O(bins log bins)."""
    cumulative = [0.0]
    for count in counts:
        cumulative.append(cumulative[-1] + count)
    marks = [_below(edges, cumulative, counts, float(x)) for x in onto[1:-1]]
    bounds = [0.0, *marks, cumulative[-1]]
    return [max(0.0, bounds[i + 1] - bounds[i]) for i in range(len(bounds) - 1)]


def _shares(counts: Sequence[float]) -> list[float]:
    total = sum(counts)
    if total <= 0:
        return [0.0] * len(counts)
    return [max(c / total, FLOOR) for c in counts]


def psi(reference: Mapping[str, Any], current: Mapping[str, Any]) -> float | None:
    """The population stability index of ``current``'s histogram against ``reference``'s
    (each ``{"edges": [...], "counts": [...]}``); None when either has no usable histogram."""
    try:
        edges = [float(e) for e in reference["edges"]]
        old = [float(c) for c in reference["counts"]]
        new = rebin(
            [float(e) for e in current["edges"]], [float(c) for c in current["counts"]], edges
        )
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    if len(edges) < 2 or len(old) != len(edges) - 1 or not sum(old) or not sum(new):
        return None
    p_old, p_new = _shares(old), _shares(new)
    return sum((n - o) * math.log(n / o) for o, n in zip(p_old, p_new, strict=True))


def share_change(
    reference: Mapping[str, float], current: Mapping[str, float]
) -> tuple[float, str | None]:
    """The largest change of one category's share between two versions, and which category."""
    worst, which = 0.0, None
    for category in sorted(set(reference) | set(current)):
        change = abs(float(current.get(category, 0.0)) - float(reference.get(category, 0.0)))
        if change > worst:
            worst, which = change, category
    return worst, which


__all__ = ["FLOOR", "psi", "rebin", "share_change"]
