"""Canonical JSON equals the reference RFC 8785 implementation, byte for byte."""

from __future__ import annotations

import math
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from threadline.errors import InvalidEvent
from threadline.model.canonical import canonical_json

SAFE = 2**53 - 1

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-SAFE, SAFE)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=25
)


@settings(max_examples=1500)
@given(values)
def test_equals_the_reference_implementation(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    "value",
    [
        1.0,
        -0.0,
        0.1,
        1e-7,
        1e-6,
        123456789.125,
        9007199254740991.0,
        9007199254740992.0,
        1e16,
        1e21,
        1.5e300,
        5e-324,
    ],
)
def test_number_formatting_edges(value: float) -> None:
    assert canonical_json({"x": value}) == rfc8785.dumps({"x": value})


def test_keys_sort_by_utf16_code_units() -> None:
    value = {"\U00010000": 1, "\uffff": 2, "a": 3}
    assert canonical_json(value) == rfc8785.dumps(value)


@pytest.mark.parametrize("bad", [math.nan, math.inf, 2**53, {1: "int key"}, object()])
def test_values_json_cannot_hold_are_rejected(bad: Any) -> None:
    with pytest.raises(InvalidEvent):
        canonical_json({"x": bad})
