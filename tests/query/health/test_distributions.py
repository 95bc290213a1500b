"""PSI and re-binning (hypothesis properties) and category share changes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from threadline.query.health.distributions import psi, rebin, share_change

edges_st = st.lists(
    st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=12, unique=True
).map(sorted)


@st.composite
def histograms(draw: st.DrawFn) -> dict[str, list[float]]:
    edges = draw(edges_st)
    counts = draw(st.lists(st.floats(0, 1e6), min_size=len(edges) - 1, max_size=len(edges) - 1))
    return {"edges": edges, "counts": counts}


@given(histograms(), edges_st)
def test_rebinning_keeps_every_count(histogram: dict[str, list[float]], onto: list[float]) -> None:
    moved = rebin(histogram["edges"], histogram["counts"], onto)
    assert len(moved) == len(onto) - 1
    assert all(m >= 0 for m in moved)
    assert sum(moved) == pytest.approx(sum(histogram["counts"]), rel=1e-9, abs=1e-6)


@given(histograms())
def test_a_histogram_does_not_drift_from_itself(histogram: dict[str, list[float]]) -> None:
    index = psi(histogram, histogram)
    assert index is None or index == pytest.approx(0, abs=1e-9)


@given(histograms(), histograms())
def test_psi_is_never_negative(a: dict[str, list[float]], b: dict[str, list[float]]) -> None:
    index = psi(a, b)
    assert index is None or index >= -1e-12


def test_a_shifted_distribution_has_a_large_psi_and_a_wobble_a_small_one() -> None:
    reference = {"edges": [float(i) for i in range(11)], "counts": [100.0] * 10}
    wobble = {"edges": [0.1 + i for i in range(11)], "counts": [100.0] * 10}
    shifted = {"edges": [5.0 + i for i in range(11)], "counts": [100.0] * 10}
    assert psi(reference, wobble) == pytest.approx(0.0, abs=0.05)
    shifted_index = psi(reference, shifted)
    assert shifted_index is not None
    assert shifted_index > 1.0
    assert psi(reference, {"edges": [], "counts": []}) is None
    assert psi({"edges": [0, 1]}, reference) is None


def test_share_change_names_the_category_that_moved_most() -> None:
    change, category = share_change({"a": 0.5, "b": 0.5}, {"a": 0.9, "b": 0.1})
    assert change == pytest.approx(0.4)
    assert category == "a"
    assert share_change({"a": 1.0}, {"b": 1.0}) == (1.0, "a")
    assert share_change({}, {}) == (0.0, None)
