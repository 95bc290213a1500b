"""Canonical JSON equals the reference RFC 8785 implementation, byte for byte."""

from __future__ import annotations

import copy
import enum
import json
import math
import sys
import threading
import uuid
from collections import OrderedDict
from typing import Any

import orjson
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from threadline.errors import InvalidEvent
from threadline.model.canonical import canonical_json, parse_canonical

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


# Strings made of the very bytes that mark a float or a null outside a string, so that the
# search in orjson's output meets them where they mean nothing.
tricky_text = st.text(alphabet='":,[]{}0123456789.eE+-nul\\ ', max_size=12)
tricky = st.recursive(
    st.none() | st.booleans() | st.integers(-SAFE, SAFE) | st.floats() | tricky_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(tricky_text, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=1000)
@given(st.dictionaries(tricky_text, tricky, max_size=5))
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


# --- parsing with the canonical bytes ------------------------------------------------------


def _same(left: Any, right: Any) -> bool:
    """Equal and of the same JSON types all through (``1 == 1.0`` is not enough here)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return list(left) == list(right) and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(map(_same, left, right))
    if isinstance(left, float):
        return repr(left) == repr(right)
    return bool(left == right)


def _as_orjson_would(text: bytes) -> tuple[str, Any]:
    try:
        return "value", orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return "error", str(exc)


def _as_parsed(text: bytes) -> tuple[str, Any]:
    try:
        value, canonical = parse_canonical(text)
    except orjson.JSONDecodeError as exc:
        return "error", str(exc)
    if canonical is not None:
        assert canonical == canonical_json(value)
    return "value", value


def _check_parse(text: bytes) -> None:
    expected, got = _as_orjson_would(text), _as_parsed(text)
    assert expected[0] == got[0]
    assert _same(expected[1], got[1]) if expected[0] == "value" else expected == got


# Integers past 2**53 and past 64 bits (orjson reads the latter as floats), floats at and
# beyond a double's range, text from all of Unicode: everything a parser may read otherwise.
wide_numbers = (
    st.integers()
    | st.integers(2**53 - 2, 2**65)
    | st.integers(-(2**65), -(2**53) + 2)
    | st.floats(allow_nan=False, allow_infinity=False)
)
json_values = st.recursive(
    st.none() | st.booleans() | wide_numbers | st.text() | tricky_text,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(keys | tricky_text, inner, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=1000)
@given(json_values, st.booleans())
def test_parsing_reads_what_orjson_reads_and_gives_canonical_bytes(value: Any, ascii: bool) -> None:
    _check_parse(json.dumps(value, ensure_ascii=ascii).encode())


@settings(max_examples=1000)
@given(json_values, st.data())
def test_parsing_refuses_what_orjson_refuses_with_its_words(
    value: Any, data: st.DataObject
) -> None:
    """Text cut, spliced into or overwritten anywhere: orjson's value or orjson's error."""
    text = bytearray(json.dumps(value).encode())
    at = data.draw(st.integers(0, len(text)))
    mutation = data.draw(st.sampled_from(["cut", "insert", "overwrite"]))
    noise = data.draw(
        st.binary(min_size=1, max_size=4)
        | st.sampled_from([b"1e400", b"-1e999", b"\\ud800", b"\xed\xa0\x80", b"NaN", b","])
    )
    if mutation == "cut":
        del text[at:]
    elif mutation == "insert":
        text[at:at] = noise
    else:
        text[at : at + len(noise)] = noise
    _check_parse(bytes(text))


@pytest.mark.parametrize(
    "text",
    [
        b"18446744073709551616",  # beyond 64 bits: a float to orjson
        b'{"n": -9223372036854775809, "m": 1}',
        b'{"n": 9007199254740993}',  # an int past 2**53: refused by canonical form, later
        b"[1e400]",
        b'"\\ud800"',
        b"[" * 1100 + b"]" * 1100,
        b'{"\xf0\x9f\x98\x80": 1, "\xef\xbf\xbf": 2}',  # keys UTF-8 and UTF-16 order otherwise
        b'{"a": null, "b": [null, 1, 0.5e-7]}',
    ],
)
def test_parsing_edges(text: bytes) -> None:
    _check_parse(text)


def test_floats_seen_in_one_thread_are_not_forgotten_by_another() -> None:
    """Which text held a float is noted per thread: the batch path parses on many.  Threads
    parsing float-free text (each parse starts by forgetting) switch in while another is
    between its last float and the question whether it saw one."""
    with_floats = orjson.dumps({"tail": "x" * 200, "metrics": [0.5] * 50})
    without = b'{"a":1}'
    wrong: list[bytes] = []
    done = threading.Event()

    def parse_floats() -> None:
        for _ in range(3000):
            _value, canonical = parse_canonical(with_floats)
            if canonical is not None:
                wrong.append(canonical)
        done.set()

    def parse_plain() -> None:
        while not done.is_set():
            parse_canonical(without)

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=parse_floats)]
        threads += [threading.Thread(target=parse_plain) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch)
    assert not wrong
