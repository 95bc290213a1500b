"""Canonical JSON equals the reference RFC 8785 implementation, byte for byte."""

from __future__ import annotations

import copy
import math
from collections import OrderedDict
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
# Keys from the whole of Unicode, and keys crowded where UTF-8 and UTF-16 orders disagree
# (U+E000..U+FFFF sort after astral characters in UTF-8, before them in UTF-16).
keys = st.text() | st.text(st.characters(min_codepoint=0xE000, max_codepoint=0x1F000), max_size=3)
values = st.recursive(
    scalars, lambda inner: st.lists(inner) | st.dictionaries(keys, inner), max_leaves=25
)
# Lineage-shaped: mostly strings and objects, with the odd float deep inside (metrics facets).
events = st.dictionaries(
    st.sampled_from(["run", "job", "inputs", "facets", "metrics"]),
    st.dictionaries(st.text(max_size=8), values, max_size=4),
    max_size=5,
)


@settings(max_examples=1000)
@given(values)
def test_equals_the_reference_implementation(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


@settings(max_examples=300)
@given(events)
def test_equals_the_reference_on_event_shaped_values(value: Any) -> None:
    before = copy.deepcopy(value)
    assert canonical_json(value) == rfc8785.dumps(value)
    assert value == before  # normalization copies what it changes, never the caller's object


def test_tuples_and_subclasses_are_their_plain_json_types() -> None:
    class Facets(dict[str, Any]):
        pass

    class Name(str):
        pass

    value = Facets({Name("b"): (1, 2.0, Name("x")), "a": OrderedDict(z=[0.5])})
    assert canonical_json(value) == rfc8785.dumps({"b": [1, 2, "x"], "a": {"z": [0.5]}})


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
