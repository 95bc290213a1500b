"""Canonical JSON equals the reference RFC 8785 implementation, byte for byte."""

from __future__ import annotations

import copy
import enum
import math
import uuid
from collections import OrderedDict
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.model.json_text import awkward_keys, token_text

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
    scalars, lambda inner: st.lists(inner) | st.dictionaries(awkward_keys, inner), max_leaves=25
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
        -3.0e-05,
        9.999999e-07,
        1.2345e20,
        1e20,
        -7e22,
        2.0**70,
    ],
)
def test_number_formatting_edges(value: float) -> None:
    assert canonical_json({"x": value}) == rfc8785.dumps({"x": value})
    assert canonical_json({"x": ["a", value]}) == rfc8785.dumps({"x": ["a", value]})


def test_floats_orjson_prints_otherwise_are_printed_without_the_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A probability of 3e-05 or a large count is common in column statistics: the event is
    serialized in one pass, not walked by the reference implementation in Python."""
    value = {"p": [3e-05, -1e-7, 0.5], "n": 1.2345e20, "big": 2.0**60, "q": 0.25}
    expected = rfc8785.dumps(value)
    monkeypatch.setattr(rfc8785, "dumps", lambda _value: pytest.fail("the reference was used"))
    assert canonical_json(value) == expected


def test_keys_sort_by_utf16_code_units() -> None:
    value = {"\U00010000": 1, "\uffff": 2, "a": 3}
    assert canonical_json(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    "bad",
    [math.nan, math.inf, 2**53, {1: "int key"}, object(), [math.nan], ["x", -math.inf], [[2**60]]],
)
def test_values_json_cannot_hold_are_rejected(bad: Any) -> None:
    with pytest.raises(InvalidEvent):
        canonical_json({"x": bad})


tricky = st.recursive(
    st.none() | st.booleans() | st.integers(-SAFE, SAFE) | st.floats() | token_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(token_text, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=1000)
@given(st.dictionaries(token_text, tricky, max_size=5))
def test_floats_and_nulls_are_found_wherever_strings_look_like_them(value: Any) -> None:
    try:
        expected = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, ValueError):
        with pytest.raises(InvalidEvent):
            canonical_json(value)
        return
    assert canonical_json(value) == expected


# A str mix-in, not StrEnum: its str() is "Colour.RED", which must never be what is stored.
class Colour(str, enum.Enum):  # noqa: UP042
    RED = "red"


class Level(enum.Enum):
    HIGH = 3


RUN = uuid.UUID(int=7)


@pytest.mark.parametrize(
    "extra",
    [{}, {"metric": 0.5}, {"\U00010000": 1e300}],
    ids=["as-is", "walked", "reference"],
)
def test_uuids_and_enum_members_are_their_json_forms_on_every_path(extra: dict[str, Any]) -> None:
    value = {"run": RUN, "tags": [Colour.RED, Level.HIGH], Colour.RED: {"id": RUN}, **extra}
    plain = {"run": str(RUN), "tags": ["red", 3], "red": {"id": str(RUN)}, **extra}
    assert canonical_json(value) == rfc8785.dumps(plain)
