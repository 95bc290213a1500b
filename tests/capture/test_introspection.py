"""What a live object is: data worth tracing, models, row counts."""

from __future__ import annotations

import numpy as np
import pytest

from threadline.capture.introspection import is_data, is_model, row_count


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
